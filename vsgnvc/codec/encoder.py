"""Stream encoder: frames in, a ``.gnvc`` file out, one slot of ``gop_size`` frames in memory at a time.

Each slot is one GOP, or several where a scene cut inside it starts a new GOP (``scenecut.split_slot``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ffmpeg_bridge.video import Frame, VideoInfo

from .._version import __version__
from ..bitstream import GnvcWriter, GopRecord, RefineSettings, SequenceHeader
from ..device import resolve_device
from ..models.bundle import GnvcModel
from .block_copy import CopyField
from .color import rgb_to_yuv, yuv_to_rgb
from .formats import check_frame_size, pixel_format_code
from .gop_codec import DecodedLatents, encode_gop, latents_to_rgb, pad_frames, padded_length
from .presets import DEFAULT_PRESET, NO_SEARCH, SymbolSearch, preset_search
from .scenecut import SceneCutDetector, gop_slots, split_slot

logger = logging.getLogger(__name__)

# Called with (gop index, first frame, reconstructed frames) when reconstruct=True.
ReconCallback = Callable[[int, int, list[Frame]], None]


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder choices; ``None`` takes the model's default."""

    rate: int | None = None
    gop_size: int | None = None
    refine: RefineSettings | None = None
    scene_cut_threshold: float = 0.25
    search: SymbolSearch = preset_search(DEFAULT_PRESET)  # the symbol search through the decoder (:mod:`.symbol_search`)

    def __post_init__(self) -> None:
        if self.gop_size is not None and self.gop_size < 1:
            raise ValueError(f"GOP size must be positive, got {self.gop_size}")


@dataclass
class EncodeResult:
    path: Path
    num_frames: int
    num_bytes: int
    width: int
    height: int
    rate: int
    gop_bytes: list[int] = field(default_factory=list)

    @property
    def bpp(self) -> float:
        return self.num_bytes * 8 / (self.num_frames * self.width * self.height)


class Encoder:
    """Encodes frame streams with one model on one device."""

    def __init__(self, model: GnvcModel, device: str | int | torch.device | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()

    def coded_size(self, width: int, height: int) -> tuple[int, int]:
        m = self.model.pixel_multiple
        return -(-width // m) * m, -(-height // m) * m

    def make_header(self, info: VideoInfo, num_frames: int, settings: EncodeSettings) -> SequenceHeader:
        index = self.model.index
        rate = index.default_rate if settings.rate is None else settings.rate
        if not 0 <= rate < len(index.rates):
            raise ValueError(f"rate must be in 0..{len(index.rates) - 1}, got {rate}")
        refine = settings.refine or RefineSettings(
            True, index.refine_t_start, index.refine_steps, index.refine_window, index.refine_overlap, 0
        )
        check_frame_size(info.width, info.height, self.model.vae.spatial_factor)
        index.check_gop_size(settings.gop_size or index.gop_size)
        cw, ch = self.coded_size(info.width, info.height)
        return SequenceHeader(
            width=info.width, height=info.height, coded_width=cw, coded_height=ch,
            fps_num=info.fps.numerator, fps_den=info.fps.denominator, num_frames=num_frames,
            pix_fmt=pixel_format_code(info.pix_fmt), color_range=int(info.color_range.value == "pc"),
            matrix=info.matrix, transfer=info.transfer, primaries=info.primaries,
            sar_num=info.sar.numerator, sar_den=info.sar.denominator,
            gop_size=settings.gop_size or index.gop_size, rate_index=rate,
            model_name=self.model.name, weights_hash=self.model.weights_hash, refine=refine,
            encoder=f"vsgnvc {__version__}",
        )  # fmt: skip

    def encode(
        self,
        info: VideoInfo,
        frames: Iterable[Frame],
        path: Path,
        num_frames: int,
        settings: EncodeSettings = EncodeSettings(),
        *,
        overwrite: bool = False,
        on_reconstruction: ReconCallback | None = None,
        progress: bool = True,
    ) -> EncodeResult:
        """Encode exactly ``num_frames`` frames; fewer from ``frames`` is an error (nothing is written).

        A GOP starts every ``gop_size`` frames and at every detected scene cut (flagged in its record).
        """
        header = self.make_header(info, num_frames, settings)
        detector = SceneCutDetector(settings.scene_cut_threshold)
        peak = float((1 << info.pix_fmt.bit_depth) - 1)
        result = EncodeResult(Path(path), num_frames, 0, info.width, info.height, header.rate_index)
        it = iter(frames)
        bar = tqdm(total=num_frames, desc="encode", unit="f", disable=not progress, dynamic_ncols=True)
        k = 0
        with GnvcWriter(Path(path), header, overwrite=overwrite) as writer:
            for slot in gop_slots(num_frames, header.gop_size):
                source, cuts = [], set()
                for n in slot:
                    try:
                        frame = next(it)
                    except StopIteration:
                        raise ValueError(f"input ended after {n} frames, expected {num_frames}") from None
                    if detector(frame, peak):
                        cuts.add(n)
                    source.append(frame)
                for span, cut in split_slot(slot, cuts):
                    gop_frames = source[span.start - slot.start : span.stop - slot.start]
                    strings, decoded = self.code_gop(gop_frames, info, header, settings.search)
                    nbytes = writer.write_gop(GopRecord(k, span.start, len(span), cut, strings))
                    result.gop_bytes.append(nbytes)
                    if on_reconstruction is not None:
                        on_reconstruction(k, span.start, self.to_frames(decoded.latents, header.rate_index, info, len(span), decoded.copies))
                    k += 1
                bar.update(len(slot))
            writer.close()
        bar.close()
        result.num_bytes = Path(path).stat().st_size
        return result

    def code_gop(
        self, frames: list[Frame], info: VideoInfo, header: SequenceHeader, search: SymbolSearch = NO_SEARCH
    ) -> tuple[tuple[tuple[bytes, ...], ...], DecodedLatents]:
        """One GOP's frames (in ``info``'s format) -> its entropy-coded strings and decoded latents."""
        rgb = torch.stack([yuv_to_rgb(f, info.pix_fmt, info.color_range, info.matrix) for f in frames], 1)
        length = padded_length(len(frames), self.model.vae.temporal_factor)
        clip = pad_frames(rgb, header.coded_height, header.coded_width, length)
        return encode_gop(self.model, clip.to(self.device), header.rate_index, search)

    def to_frames(
        self, latents: torch.Tensor, rate: int | None, info: VideoInfo, count: int, copies: tuple[CopyField | None, ...] = ()
    ) -> list[Frame]:
        """The first ``count`` frames of ``latents`` as the decoder shows them (``rate``: the rate they were coded
        at, or ``None``; ``copies``: their GOP's copy fields, :class:`~.gop_codec.DecodedLatents`)."""
        rgb = latents_to_rgb(self.model, latents, rate, copies).cpu()
        return [
            rgb_to_yuv(rgb[:, i, : info.height, : info.width], info.pix_fmt, info.color_range, info.matrix)
            for i in range(count)
        ]
