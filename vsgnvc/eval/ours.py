"""Measure our codec on a clip the same way the baselines are measured: real bytes, decoded frames."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ffmpeg_bridge.video import Frame

from ..api import encode_file
from ..codec.decoder import Decoder
from ..codec.encoder import EncodeSettings
from ..codec.presets import DEFAULT_PRESET, SymbolSearch, preset_search
from ..models.bundle import GnvcModel
from .clips import Clip
from .flicker import reference_flows, warping_error
from .frames import save_y4m, yuv420_to_rgb
from .metrics import ms_ssim_rgb, psnr_rgb, psnr_yuv, vmaf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QualityPoint:
    """Quality of one decoded version of a clip."""

    psnr_yuv: float
    psnr_rgb: float
    ms_ssim: float
    vmaf: float
    warping_error: float


@dataclass(frozen=True)
class GnvcPoint:
    clip: str
    rate: int
    bpp: float
    num_bytes: int
    frames: int
    encode_fps: float
    decode_fps: float
    refine_decode_fps: float | None
    plain: QualityPoint
    refined: QualityPoint | None
    peak_rss_mb: float

    def to_dict(self) -> dict:
        return asdict(self)


def quality(clip: Clip, decoded: Sequence[Frame], flows=None, with_vmaf: bool = True) -> QualityPoint:
    ref_rgb = clip.rgb()
    out_rgb = yuv420_to_rgb(decoded)
    flows = flows if flows is not None else reference_flows(ref_rgb)
    return QualityPoint(
        psnr_yuv=psnr_yuv(clip.frames, decoded).yuv,
        psnr_rgb=psnr_rgb(ref_rgb, out_rgb),
        ms_ssim=ms_ssim_rgb(ref_rgb, out_rgb) if min(ref_rgb.shape[1:3]) >= 161 else float("nan"),
        vmaf=vmaf(clip.frames, decoded).mean if with_vmaf else float("nan"),
        warping_error=warping_error(flows, out_rgb),
    )


def evaluate_gnvc(
    model: GnvcModel,
    clip: Clip,
    rate: int,
    workdir: Path,
    *,
    refine: bool = True,
    with_vmaf: bool = True,
    keep_decoded: bool = False,
    search: SymbolSearch = preset_search(DEFAULT_PRESET),
) -> GnvcPoint:
    """Encode ``clip`` at ``rate``, decode with and without refinement, and score both.

    With ``keep_decoded`` the decoded (and refined) frames stay in ``workdir`` as y4m files.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    src = clip.to_y4m(workdir / f"{clip.name}.y4m")
    out = workdir / f"{clip.name}.r{rate}.gnvc"
    t0 = time.perf_counter()
    result = encode_file(src, out, model, EncodeSettings(rate=rate, search=search), device="cpu", overwrite=True, progress=False)
    encode_s = time.perf_counter() - t0
    with Decoder(out, model, "cpu", refine=False) as dec:
        t0 = time.perf_counter()
        plain = list(dec.frames(refine=False))
        decode_s = time.perf_counter() - t0
    flows = reference_flows(clip.rgb())
    refined_q, refine_fps = None, None
    if refine and model.refiner is not None:
        with Decoder(out, model, "cpu", refine=True) as dec:
            t0 = time.perf_counter()
            refined = list(dec.frames(refine=True))
            refine_fps = clip.num_frames / (time.perf_counter() - t0)
        refined_q = quality(clip, refined, flows, with_vmaf)
        if keep_decoded:
            save_y4m(workdir / f"{clip.name}.r{rate}.refined.y4m", refined, clip.fps)
    if keep_decoded:
        save_y4m(workdir / f"{clip.name}.r{rate}.decoded.y4m", plain, clip.fps)
    return GnvcPoint(
        clip=clip.name, rate=rate, bpp=result.bpp, num_bytes=result.num_bytes, frames=clip.num_frames,
        encode_fps=clip.num_frames / encode_s, decode_fps=clip.num_frames / decode_s, refine_decode_fps=refine_fps,
        plain=quality(clip, plain, flows, with_vmaf), refined=refined_q,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )  # fmt: skip
