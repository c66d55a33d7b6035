"""A clip as GOPs of latents, with optional sliding-window refinement across GOP borders.

Both the decoder (latents from a bitstream) and enhance-only mode (latents from the VAE encoder)
are a ``GopSequence``: GOP k's latents come from a callback, the refiner sees the concatenation of
all GOPs' latent frames through ``WindowedRefiner`` (windows fixed by latent frame numbers and
scene cuts, never by request order), and each GOP is VAE-decoded on its own (the VAE is causal
per GOP). Everything is cached in LRUs, so memory is bounded by a few GOPs and windows.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ffmpeg_bridge.video import Frame, VideoInfo

from ..models.bundle import GnvcModel
from .cache import OnceLRU
from .color import rgb_to_yuv
from .gop_codec import DecodedLatents, latents_to_rgb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineOptions:
    """Sampler and window settings for one sequence (from the bitstream or the user)."""

    t_start: float = 0.7
    steps: int = 5
    window: int = 7
    overlap: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.t_start < 1.0:
            raise ValueError(f"t_start (strength) must be in (0, 1), got {self.t_start}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.window < 1 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need window >= 1 and 0 <= overlap < window, got {self.window}/{self.overlap}")


def latent_count(num_frames: int, temporal_factor: int) -> int:
    return 1 + -(-(num_frames - 1) // temporal_factor)


class GopSequence:
    """Frames of a GOP-structured latent sequence, refined or not.

    :param model: the loaded model (its refiner is used when ``refine`` is given).
    :param spans: displayed frame numbers of each GOP.
    :param cuts: per GOP, whether a new shot starts at its first frame.
    :param latents_fn: GOP index -> its (unrefined) latents and context features.
    :param rate: the rate point the latents were coded at (``None``: encoded, not coded).
    :param info: output format.
    :param refine: refinement settings, or ``None`` for none.
    :param cache_gops: GOPs of latents / frames kept in memory.
    """

    def __init__(
        self,
        model: GnvcModel,
        spans: Sequence[range],
        cuts: Sequence[bool],
        latents_fn: Callable[[int], DecodedLatents],
        rate: int | None,
        info: VideoInfo,
        refine: RefineOptions | None,
        cache_gops: int = 4,
    ) -> None:
        self.model = model
        self.rate = rate
        self.spans = list(spans)
        self._starts = [s.start for s in self.spans]
        self.info = info
        self._latents = OnceLRU[int, DecodedLatents](max(2, cache_gops))
        self._latents_fn = latents_fn
        self._frames = OnceLRU[tuple[int, bool], list[Frame]](max(1, cache_gops))
        counts = [latent_count(len(s), model.vae.temporal_factor) for s in self.spans]
        self.latent_starts = [0]
        for c in counts:
            self.latent_starts.append(self.latent_starts[-1] + c)
        self.refine_options = refine
        self.windowed = None
        if refine is not None:
            if model.refiner is None:
                logger.warning("model %s has no refiner; output is not refined", model.name)
                self.refine_options = None
            else:
                from ..refine import WindowedRefiner, plan_windows

                latent_cuts = [self.latent_starts[k] for k, cut in enumerate(cuts) if cut and k > 0]
                plan = plan_windows(self.latent_starts[-1], refine.window, refine.overlap, latent_cuts)
                self.windowed = WindowedRefiner(
                    model.refiner, self._source, plan, seed=refine.seed, t_start=refine.t_start, steps=refine.steps,
                    cache_size=max(2, cache_gops),
                )  # fmt: skip

    @property
    def num_frames(self) -> int:
        return self.spans[-1].stop if self.spans else 0

    def gop_of(self, n: int) -> int:
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} out of range 0..{self.num_frames - 1}")
        return bisect.bisect_right(self._starts, n) - 1

    def gop_latents(self, k: int) -> DecodedLatents:
        return self._latents.get(k, lambda: self._latents_fn(k))

    def _source(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents and context of global latent frames ``[start, stop)`` (for the refiner)."""
        first = bisect.bisect_right(self.latent_starts, start) - 1
        xs, cs = [], []
        k = first
        while k < len(self.spans) and self.latent_starts[k] < stop:
            lat = self.gop_latents(k)
            lo = max(start, self.latent_starts[k]) - self.latent_starts[k]
            hi = min(stop, self.latent_starts[k + 1]) - self.latent_starts[k]
            xs.append(lat.latents[:, :, lo:hi])
            cs.append(lat.context[:, :, lo:hi])
            k += 1
        return torch.cat(xs, dim=2), torch.cat(cs, dim=2)

    def gop_output_latents(self, k: int, refine: bool) -> torch.Tensor:
        if refine and self.windowed is not None:
            refined = self.windowed.frames(self.latent_starts[k], self.latent_starts[k + 1])
            return refined.to(self.model.vae.device)
        return self.gop_latents(k).latents

    def gop_frames(self, k: int, refine: bool = True) -> list[Frame]:
        """Output frames of GOP ``k`` (cached)."""
        refine = refine and self.windowed is not None

        def compute() -> list[Frame]:
            rgb = latents_to_rgb(self.model, self.gop_output_latents(k, refine), self.rate, self.gop_latents(k).copies).cpu()
            info = self.info
            return [
                rgb_to_yuv(rgb[:, i, : info.height, : info.width], info.pix_fmt, info.color_range, info.matrix)
                for i in range(len(self.spans[k]))
            ]

        return self._frames.get((k, refine), compute)

    def get_frame(self, n: int, refine: bool = True) -> Frame:
        k = self.gop_of(n)
        return self.gop_frames(k, refine)[n - self.spans[k].start]
