"""Enhance-only mode: refine any video (e.g. a low-bitrate x264 encode) through the VAE latent space.

Frames -> GOPs (split at scene cuts) -> VAE latents -> codec context features -> windowed
refinement -> VAE decode. Random access, like the decoder; a sequential reader for streams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import torch

from ffmpeg_bridge.video import Frame, VideoInfo

from ..device import resolve_device
from ..models.bundle import GnvcModel
from .color import yuv_to_rgb
from .formats import check_frame_size
from .gop_codec import DecodedLatents, pad_frames, padded_length
from .sequence import GopSequence, RefineOptions

# (start, stop) -> source frames [start, stop)
FrameRange = Callable[[int, int], list[Frame]]


def strength_to_t_start(strength: float) -> float:
    """``strength`` is the share of noise mixed in: ``t_N = 1 - strength`` (0.3 gives the paper's 0.7)."""
    if not 0.0 < strength < 1.0:
        raise ValueError(f"strength must be in (0, 1), got {strength}")
    return 1.0 - strength


def split_gops(num_frames: int, gop_size: int, cuts: Sequence[int] = ()) -> tuple[list[range], list[bool]]:
    """GOPs of ``gop_size`` frames that restart at every scene cut (frame numbers starting a shot)."""
    if gop_size < 1:
        raise ValueError(f"gop size must be >= 1, got {gop_size}")
    cut_set = {c for c in cuts if 0 < c < num_frames}
    spans, flags = [], []
    start = 0
    while start < num_frames:
        stop = min(start + gop_size, num_frames)
        inner = [c for c in sorted(cut_set) if start < c < stop]
        if inner:
            stop = inner[0]
        spans.append(range(start, stop))
        flags.append(start in cut_set)
        start = stop
    return spans, flags


class Enhancer:
    """Refined frames of any clip, computed GOP by GOP on demand.

    :param model: model with a refiner.
    :param info: format of the source frames (and of the output).
    :param num_frames: source length.
    :param get_frames: returns source frames ``[start, stop)``.
    :param strength: noise share, ``1 - t_N`` (default 0.3).
    :param cuts: frame numbers that start a new shot; no window or GOP spans one.
    """

    def __init__(
        self,
        model: GnvcModel,
        info: VideoInfo,
        num_frames: int,
        get_frames: FrameRange,
        *,
        strength: float = 0.3,
        steps: int | None = None,
        window: int | None = None,
        overlap: int | None = None,
        cuts: Sequence[int] = (),
        seed: int = 0,
        device: str | int | torch.device | None = None,
        cache_gops: int = 4,
    ) -> None:
        if model.refiner is None:
            raise ValueError(f"model {model.name} has no refiner; enhance needs one")
        if num_frames < 1:
            raise ValueError("nothing to enhance: the clip has no frames")
        check_frame_size(info.width, info.height, model.vae.spatial_factor)
        idx = model.index
        options = RefineOptions(
            strength_to_t_start(strength),
            idx.refine_steps if steps is None else steps,
            idx.refine_window if window is None else window,
            idx.refine_overlap if overlap is None else overlap,
            seed,
        )
        self.device = resolve_device(device)
        self.model = model.place(self.device)
        self.info = info
        self.get_frames = get_frames
        m = model.pixel_multiple
        self.coded = (-(-info.height // m) * m, -(-info.width // m) * m)
        spans, flags = split_gops(num_frames, idx.gop_size, cuts)
        self.sequence = GopSequence(model, spans, flags, self._latents, None, info, options, max(3, cache_gops))

    @property
    def num_frames(self) -> int:
        return self.sequence.num_frames

    @torch.inference_mode()
    def _latents(self, k: int) -> DecodedLatents:
        span = self.sequence.spans[k]
        frames = self.get_frames(span.start, span.stop)
        rgb = torch.stack([yuv_to_rgb(f, self.info.pix_fmt, self.info.color_range, self.info.matrix) for f in frames], 1)
        clip = pad_frames(rgb, *self.coded, padded_length(len(span), self.model.vae.temporal_factor))
        latents = self.model.vae.encode(clip[None].to(self.device))
        return DecodedLatents(latents, self.model.codec.context(latents))

    def get_frame(self, n: int) -> Frame:
        return self.sequence.get_frame(n)

    def frames(self) -> Iterator[Frame]:
        for k in range(len(self.sequence.spans)):
            yield from self.sequence.gop_frames(k)


class SequentialFrames:
    """Random access over a forward-only frame iterator, keeping only the recent frames.

    Serves the access pattern of ``Enhancer.frames()`` (a GOP and its neighbours) without holding a
    whole clip in memory.
    """

    def __init__(self, frames: Iterator[Frame], keep: int) -> None:
        self._it = frames
        self._buf: dict[int, Frame] = {}
        self._next = 0
        self._keep = keep
        self._lock = threading.Lock()

    def __call__(self, start: int, stop: int) -> list[Frame]:
        with self._lock:
            while self._next < stop:
                try:
                    self._buf[self._next] = next(self._it)
                except StopIteration:
                    raise ValueError(f"input ended after {self._next} frames") from None
                self._next += 1
            for old in [n for n in self._buf if n < self._next - self._keep]:
                del self._buf[old]
            missing = [n for n in range(start, stop) if n not in self._buf]
            if missing:
                raise RuntimeError(f"frame {missing[0]} was already released by the sequential reader")
            return [self._buf[n] for n in range(start, stop)]
