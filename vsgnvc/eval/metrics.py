"""Distortion metrics and rate: PSNR (YUV 6:1:1 and RGB), MS-SSIM (RGB), VMAF (ffmpeg ``libvmaf``), bpp.

Conventions:

* PSNR is computed per frame (peak 255) and the per-frame dB values are averaged over frames, as in the
  DCVC / CompressAI video evaluation scripts. A frame with zero error has infinite PSNR, so identical videos
  give ``inf``.
* YUV PSNR is the 6:1:1 weighted mean of the per-plane (frame-averaged) PSNRs: ``(6 Y + U + V) / 8``.
* MS-SSIM is ``pytorch_msssim.ms_ssim`` on RGB with ``data_range=255``, the standard 5 scales and weights,
  computed per frame (mean over R, G, B) then averaged over frames.
* VMAF is the real Netflix model built into the ffmpeg binary (``vmaf_v0.6.1`` by default), pooled mean.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ffmpeg_bridge.video import Frame
from vsgnvc.eval._ffmpeg import has_filter, run_ffmpeg
from vsgnvc.eval.errors import EvalError
from vsgnvc.eval.frames import check_rgb, check_yuv420, planes, save_y4m, y4m_info

logger = logging.getLogger(__name__)

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Per-scale exponents of Wang et al. 2003 (the ``pytorch_msssim`` default)."""


def bits_per_pixel(num_bytes: int, width: int, height: int, frames: int) -> float:
    """Bits per pixel of a coded video: ``8 * num_bytes / (width * height * frames)``.

    ``num_bytes`` must be the size of what was actually written (bitstream file), never an estimate.
    """
    if num_bytes < 0:
        raise ValueError(f"bits_per_pixel: num_bytes must be >= 0, got {num_bytes}")
    if width <= 0 or height <= 0 or frames <= 0:
        raise ValueError(f"bits_per_pixel: width, height and frames must be > 0, got {width}x{height}x{frames}")
    return 8.0 * num_bytes / (width * height * frames)


def _frame_psnr(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """PSNR in dB of each frame (axis 0) of two same-shape uint8 arrays."""
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    mse = np.mean(diff.reshape(diff.shape[0], -1) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0**2 / mse)


def _mean_db(values: np.ndarray) -> float:
    return math.inf if np.isinf(values).any() else float(values.mean())


@dataclass(frozen=True)
class YuvPsnr:
    """Frame-averaged PSNR per plane and the 6:1:1 weighted value (all in dB)."""

    y: float
    u: float
    v: float

    @property
    def yuv(self) -> float:
        """``(6 Y + U + V) / 8``."""
        return (6.0 * self.y + self.u + self.v) / 8.0


def psnr_yuv(ref: Sequence[Frame], dist: Sequence[Frame]) -> YuvPsnr:
    """PSNR of a 4:2:0 video against its reference, per plane; ``.yuv`` is the 6:1:1 weighted value.

    :param ref: reference ``(Y, U, V)`` frames.
    :param dist: distorted frames of the same size and count.
    """
    ref_planes = planes(check_yuv420(ref, "psnr_yuv reference"))
    dist_planes = planes(check_yuv420(dist, "psnr_yuv distorted"))
    if ref_planes[0].shape != dist_planes[0].shape:
        raise ValueError(f"psnr_yuv: shapes differ: {list(ref_planes[0].shape)} vs {list(dist_planes[0].shape)}")
    y, u, v = (_mean_db(_frame_psnr(r, d)) for r, d in zip(ref_planes, dist_planes, strict=True))
    return YuvPsnr(y, u, v)


def psnr_rgb(ref: np.ndarray, dist: np.ndarray) -> float:
    """PSNR (dB) over R, G and B jointly, per frame, averaged over frames.

    :param ref: reference RGB ``[N, H, W, 3]`` ``uint8``.
    :param dist: distorted RGB of the same shape.
    """
    check_rgb(ref, "psnr_rgb reference")
    check_rgb(dist, "psnr_rgb distorted")
    if ref.shape != dist.shape:
        raise ValueError(f"psnr_rgb: shapes differ: {list(ref.shape)} vs {list(dist.shape)}")
    return _mean_db(_frame_psnr(ref, dist))


def ms_ssim_min_side(win_size: int = 11) -> int:
    """Smallest image side ``pytorch_msssim`` accepts with window ``win_size``: ``(win_size - 1) * 16 + 1``.

    At the default window (11) that is 161 px, so 320x180 runs the standard 5-scale MS-SSIM unchanged.
    """
    return (win_size - 1) * 16 + 1


def ms_ssim_rgb(ref: np.ndarray, dist: np.ndarray, *, win_size: int = 11, batch: int = 8) -> float:
    """MS-SSIM of RGB videos, per frame, averaged over frames (1.0 for identical inputs).

    :param ref: reference RGB ``[N, H, W, 3]`` ``uint8``.
    :param dist: distorted RGB of the same shape.
    :param win_size: Gaussian window (odd). The standard metric uses 11, which needs both sides >= 161 px.
        Smaller images need a smaller window (e.g. 3 for sides >= 33 px); such scores are *not* comparable
        with standard MS-SSIM and must be labelled.
    :param batch: frames per forward pass (memory bound).
    :raises ValueError: if the frames are smaller than :func:`ms_ssim_min_side` for ``win_size``.
    """
    import torch
    from pytorch_msssim import ms_ssim

    check_rgb(ref, "ms_ssim reference")
    check_rgb(dist, "ms_ssim distorted")
    if ref.shape != dist.shape:
        raise ValueError(f"ms_ssim_rgb: shapes differ: {list(ref.shape)} vs {list(dist.shape)}")
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"ms_ssim_rgb: win_size must be odd and >= 3, got {win_size}")
    side = min(ref.shape[1:3])
    if side < ms_ssim_min_side(win_size):
        raise ValueError(
            f"ms_ssim_rgb: frames of {ref.shape[2]}x{ref.shape[1]} are too small for 5-scale MS-SSIM with "
            f"win_size={win_size} (needs sides >= {ms_ssim_min_side(win_size)}); pass a smaller odd win_size"
        )
    scores: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, ref.shape[0], batch):
            x = torch.from_numpy(ref[start : start + batch]).permute(0, 3, 1, 2).to(torch.float32)
            y = torch.from_numpy(dist[start : start + batch]).permute(0, 3, 1, 2).to(torch.float32)
            scores.append(
                ms_ssim(x, y, data_range=255.0, size_average=False, win_size=win_size, weights=list(MS_SSIM_WEIGHTS))
            )
    return float(torch.cat(scores).mean())


@dataclass(frozen=True)
class VmafScore:
    """VMAF pooled over frames, as reported by libvmaf.

    :param mean: arithmetic mean of per-frame scores (the usual headline number).
    :param harmonic_mean: libvmaf's harmonic mean.
    :param minimum: worst frame.
    :param per_frame: per-frame scores in display order.
    :param model: libvmaf model option used.
    """

    mean: float
    harmonic_mean: float
    minimum: float
    per_frame: tuple[float, ...]
    model: str


def _as_y4m(video: Path | Sequence[Frame], fps: Fraction, tmpdir: Path, name: str) -> Path:
    if isinstance(video, str | os.PathLike):
        return Path(video)
    return save_y4m(tmpdir / f"{name}.y4m", video, fps)


def vmaf(
    reference: Path | Sequence[Frame],
    distorted: Path | Sequence[Frame],
    *,
    model: str = "version=vmaf_v0.6.1",
    threads: int | None = None,
) -> VmafScore:
    """VMAF of ``distorted`` against ``reference`` with ffmpeg's ``libvmaf`` filter.

    Both inputs are 8-bit 4:2:0 y4m files (or in-memory ``(Y, U, V)`` frames, written to temporary y4m
    files first) of the same size and frame count; this is checked before running. Both streams are
    normalised with ``setpts=PTS-STARTPTS`` and ``format=yuv420p`` so a late-starting stream cannot shift
    frames, and the number of frames libvmaf scored is checked against the inputs.

    :param reference: reference video (y4m path or frames).
    :param distorted: distorted video (y4m path or frames).
    :param model: libvmaf ``model`` option; the default uses the model compiled into the binary, so no
        network or model file is needed. ``"version=vmaf_v0.6.1neg"`` is the no-enhancement-gain variant.
    :param threads: libvmaf worker threads (default: CPU count).
    :raises ValueError: on mismatched sizes or frame counts.
    :raises EvalError: if ffmpeg lacks libvmaf or fails, or libvmaf scores a different number of frames.
    """
    if "'" in model or "\\" in model:
        raise ValueError(f"vmaf: model option must not contain quotes or backslashes: {model!r}")
    if not has_filter("libvmaf"):
        raise EvalError("vmaf: this ffmpeg binary has no libvmaf filter")
    with tempfile.TemporaryDirectory(prefix="vsgnvc-vmaf-") as tmp:
        tmpdir = Path(tmp)
        ref_path = _as_y4m(reference, Fraction(25), tmpdir, "reference")
        dist_path = _as_y4m(distorted, Fraction(25), tmpdir, "distorted")
        ref_info, dist_info = y4m_info(ref_path), y4m_info(dist_path)
        if (ref_info.width, ref_info.height) != (dist_info.width, dist_info.height):
            raise ValueError(
                f"vmaf: sizes differ: reference {ref_info.width}x{ref_info.height}, "
                f"distorted {dist_info.width}x{dist_info.height}"
            )
        if ref_info.num_frames != dist_info.num_frames:
            raise ValueError(
                f"vmaf: frame counts differ: reference {ref_info.num_frames}, distorted {dist_info.num_frames}"
            )
        n_threads = threads or os.cpu_count() or 1
        # libvmaf's first input is the distorted ("main") stream, the second the reference.
        graph = (
            "[0:v]setpts=PTS-STARTPTS,format=yuv420p[dist];"
            "[1:v]setpts=PTS-STARTPTS,format=yuv420p[ref];"
            f"[dist][ref]libvmaf=model='{model}':log_fmt=json:log_path=vmaf.json:n_threads={n_threads}"
        )
        # Relative log path (cwd=tmpdir) avoids escaping arbitrary paths inside the filter graph.
        run_ffmpeg(
            ["-i", str(dist_path.resolve()), "-i", str(ref_path.resolve()), "-lavfi", graph, "-f", "null", "-"],
            what="vmaf",
            cwd=tmpdir,
        )
        try:
            log = json.loads((tmpdir / "vmaf.json").read_text())
            frames = log["frames"]
            pooled = log["pooled_metrics"]["vmaf"]
            per_frame = tuple(float(f["metrics"]["vmaf"]) for f in frames)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"vmaf: unreadable libvmaf JSON log: {exc}") from exc
    if len(per_frame) != ref_info.num_frames:
        raise EvalError(f"vmaf: libvmaf scored {len(per_frame)} frames, inputs have {ref_info.num_frames}")
    return VmafScore(
        mean=float(pooled["mean"]),
        harmonic_mean=float(pooled["harmonic_mean"]),
        minimum=float(pooled["min"]),
        per_frame=per_frame,
        model=model,
    )
