"""Frames (planar YUV, the pipe contract) to 8-bit RGB for display, and RGB arrays to ``QImage``.

Every clip the previewer shows goes through :func:`frame_to_rgb8`, so the source, the decoded and the
refined frames are converted identically and differences on screen are differences in the frames.
Unspecified or unsupported matrices are shown as BT.709, with a note the window displays (as VSPreview does).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from PyQt6.QtGui import QImage

from ffmpeg_bridge.video import Frame, VideoInfo
from vsgnvc.codec.color import yuv_to_rgb

logger = logging.getLogger(__name__)

BT709 = 1
# H.273 matrix codes that vsgnvc.codec.color converts exactly.
SUPPORTED_MATRICES = {1: "BT.709", 5: "BT.601 (470BG)", 6: "BT.601 (SMPTE 170M)", 9: "BT.2020 NCL", 10: "BT.2020 CL"}


def display_matrix(matrix: int) -> tuple[int, str | None]:
    """Matrix used for display and the note to show when it is assumed rather than tagged."""
    if matrix in SUPPORTED_MATRICES:
        return matrix, None
    if matrix == 2:
        return BT709, "matrix unspecified: BT.709 assumed"
    return BT709, f"matrix {matrix} not supported: shown as BT.709"


def matrix_name(matrix: int) -> str:
    return SUPPORTED_MATRICES.get(matrix, "unspecified" if matrix == 2 else f"code {matrix}")


def frame_to_rgb8(frame: Frame, info: VideoInfo) -> np.ndarray:
    """Planar YUV frame of ``info``'s format -> ``uint8`` RGB ``[H, W, 3]`` (C-contiguous)."""
    matrix, _ = display_matrix(info.matrix)
    rgb = yuv_to_rgb(frame, info.pix_fmt, info.color_range, matrix)
    return ((rgb + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def rgb8_to_qimage(rgb: np.ndarray) -> QImage:
    """``uint8`` ``[H, W, 3]`` -> a ``QImage`` that owns its pixels (safe after ``rgb`` is freed)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}")
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # type: ignore[call-overload]


def qimage_to_rgb8(image: QImage) -> np.ndarray:
    """The pixels of a ``QImage`` as ``uint8`` RGB ``[H, W, 3]`` (for tests and screenshots)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    ptr = image.constBits()
    assert ptr is not None
    ptr.setsize(h * stride)
    rows = np.frombuffer(ptr, np.uint8).reshape(h, stride)  # type: ignore[call-overload]
    return rows[:, : 3 * w].reshape(h, w, 3).copy()


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    """PSNR in dB of two same-shape planes; ``inf`` when identical."""
    if a.shape != b.shape:
        raise ValueError(f"planes differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * np.log10(peak * peak / mse)


def frame_psnr(test: Frame, reference: Frame, bit_depth: int) -> tuple[float, float]:
    """(PSNR-Y, PSNR-YUV) of ``test`` against ``reference`` in dB; YUV is the usual 6:1:1 weighting of the planes."""
    peak = float((1 << bit_depth) - 1)
    y, u, v = (psnr(t, r, peak) for t, r in zip(test, reference, strict=True))
    return y, (6 * y + u + v) / 8
