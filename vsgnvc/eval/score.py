"""Score decoded videos against one reference clip with every benchmark metric.

A :class:`Reference` computes what does not depend on the codec once (RGB frames, optical flow and occlusion
masks, the lossless y4m handed to ``libvmaf``) and scores any number of decoded versions with
:meth:`Reference.score`, identically for our codec and for the baselines.

Metric keys (see :data:`METRICS` for direction and units): ``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr_yuv``
(6:1:1), ``psnr_rgb``, ``ms_ssim`` (RGB, standard 5 scales; ``None`` below 161 px), ``vmaf`` (v0.6.1 mean),
``warping_error`` (0-255 squared units), ``tof`` (pixels), ``lpips`` and ``dists`` (``None`` unless available
offline, see :mod:`vsgnvc.eval.perceptual`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ffmpeg_bridge.video import Frame
from vsgnvc.eval.clips import Clip
from vsgnvc.eval.flicker import reference_flows, tof, warping_error
from vsgnvc.eval.frames import yuv420_to_rgb
from vsgnvc.eval.metrics import ms_ssim_min_side, ms_ssim_rgb, psnr_rgb, psnr_yuv, vmaf
from vsgnvc.eval.perceptual import FrameMetric, load_perceptual

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricInfo:
    """How to read one metric.

    :param key: key in score dicts and result rows.
    :param label: axis / column label.
    :param higher_is_better: direction (for BD-rate and plots).
    :param rd: drawn as an RD curve and summarised with BD-rate.
    """

    key: str
    label: str
    higher_is_better: bool
    rd: bool = True


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("psnr_yuv", "PSNR-YUV 6:1:1 (dB)", True),
    MetricInfo("psnr_rgb", "PSNR-RGB (dB)", True),
    MetricInfo("ms_ssim", "MS-SSIM (RGB)", True),
    MetricInfo("vmaf", "VMAF v0.6.1", True),
    MetricInfo("warping_error", "warping error (0-255 sq.)", False),
    MetricInfo("tof", "tOF (px)", False),
    MetricInfo("lpips", "LPIPS (alex)", False),
    MetricInfo("dists", "DISTS", False),
    MetricInfo("psnr_y", "PSNR-Y (dB)", True, rd=False),
    MetricInfo("psnr_u", "PSNR-U (dB)", True, rd=False),
    MetricInfo("psnr_v", "PSNR-V (dB)", True, rd=False),
)
"""Every metric a score dict holds, RD metrics first."""

METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)


def metric_info(key: str) -> MetricInfo:
    """Look up a metric by key."""
    for m in METRICS:
        if m.key == key:
            return m
    raise ValueError(f"unknown metric {key!r}; use one of {', '.join(METRIC_KEYS)}")


def _finite(x: float) -> float | None:
    """JSON-safe value: non-finite (an exactly coded plane's infinite PSNR) becomes ``None``."""
    return float(x) if math.isfinite(x) else None


class Reference:
    """One source clip prepared for scoring.

    :param clip: the source.
    :param y4m: lossless y4m of ``clip`` (what the encoders read and ``libvmaf`` compares against).
    :param with_vmaf: run libvmaf (the slowest metric after flow).
    :param perceptual: LPIPS / DISTS callables from :func:`~vsgnvc.eval.perceptual.load_perceptual`;
        ``None`` loads whatever is available offline.
    """

    def __init__(
        self,
        clip: Clip,
        y4m: Path,
        *,
        with_vmaf: bool = True,
        perceptual: dict[str, FrameMetric] | None = None,
    ) -> None:
        self.clip = clip
        self.y4m = Path(y4m)
        self.with_vmaf = with_vmaf
        self.notes: list[str] = []
        if perceptual is None:
            perceptual, notes = load_perceptual()
            self.notes += notes
        self.perceptual = perceptual
        self.rgb = clip.rgb()
        self.flows = reference_flows(self.rgb)
        self.ms_ssim_ok = min(clip.width, clip.height) >= ms_ssim_min_side()
        if not self.ms_ssim_ok:
            self.notes.append(
                f"MS-SSIM skipped at {clip.width}x{clip.height}: the standard 5-scale metric needs sides >= "
                f"{ms_ssim_min_side()} px"
            )
        if not with_vmaf:
            self.notes.append("VMAF not computed (disabled)")

    @property
    def warping_error_floor(self) -> float:
        """Warping error of the source itself (flow and interpolation errors): the best any codec can get."""
        return warping_error(self.flows, self.rgb)

    @property
    def cut_pairs(self) -> list[int]:
        """Frame pairs skipped as scene cuts by the temporal metrics."""
        return [int(i) for i in np.flatnonzero(self.flows.cut)]

    def score(self, decoded: Sequence[Frame], decoded_y4m: Path | None = None) -> dict[str, float | None]:
        """Every metric of ``decoded`` (same size and frame count as the clip).

        :param decoded: decoded ``(Y, U, V)`` frames.
        :param decoded_y4m: the same frames as a y4m file, if one exists (saves rewriting it for VMAF).
        :raises ValueError: on a shape mismatch.
        """
        p = psnr_yuv(self.clip.frames, decoded)
        out_rgb = yuv420_to_rgb(decoded)
        scores: dict[str, float | None] = {
            "psnr_y": _finite(p.y),
            "psnr_u": _finite(p.u),
            "psnr_v": _finite(p.v),
            "psnr_yuv": _finite(p.yuv),
            "psnr_rgb": _finite(psnr_rgb(self.rgb, out_rgb)),
            "ms_ssim": ms_ssim_rgb(self.rgb, out_rgb) if self.ms_ssim_ok else None,
            "vmaf": None,
            "warping_error": warping_error(self.flows, out_rgb),
            "tof": tof(self.flows, out_rgb),
            "lpips": None,
            "dists": None,
        }
        if self.with_vmaf:
            scores["vmaf"] = vmaf(self.y4m, decoded_y4m if decoded_y4m is not None else decoded).mean
        for name, metric in self.perceptual.items():
            scores[name] = metric(self.rgb, out_rgb)
        return scores
