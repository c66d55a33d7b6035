"""YUV <-> RGB conversion with the clip's matrix and range (H.273 codes), on torch tensors.

The networks see RGB in [-1, 1]. Inputs are planar YUV 4:2:0 / 4:4:4 at 8 or 10 bits; chroma is
upsampled bilinearly (centre-sited, as ``C420jpeg``) and downsampled by 2x2 averaging.
Unspecified matrices are treated as BT.709 (with a log note), as VSPreview does.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from ffmpeg_bridge.video import ColorRange, Frame, PixelFormat

logger = logging.getLogger(__name__)

# Kr, Kb per H.273 matrix code.
_MATRIX_COEFFS = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
BT709 = 1


def matrix_coefficients(matrix: int) -> tuple[float, float]:
    if matrix not in _MATRIX_COEFFS:
        if matrix != 2:
            logger.warning("matrix %d is not supported; converting as BT.709", matrix)
        matrix = BT709
    return _MATRIX_COEFFS[matrix]


def _levels(bit_depth: int, color_range: ColorRange) -> tuple[float, float, float, float]:
    """(luma offset, luma span, chroma centre, chroma span) in code values."""
    scale = float(1 << (bit_depth - 8))
    if color_range == ColorRange.FULL:
        peak = float((1 << bit_depth) - 1)
        return 0.0, peak, 128.0 * scale, peak
    return 16.0 * scale, 219.0 * scale, 128.0 * scale, 224.0 * scale


def yuv_to_rgb(frame: Frame, pix_fmt: PixelFormat, color_range: ColorRange, matrix: int) -> torch.Tensor:
    """Planar YUV -> RGB ``[3, H, W]`` float32 in [-1, 1]."""
    kr, kb = matrix_coefficients(matrix)
    y_off, y_span, c_mid, c_span = _levels(pix_fmt.bit_depth, color_range)
    y = (torch.from_numpy(frame[0].astype(np.float32)) - y_off) / y_span
    uv = torch.from_numpy(np.stack([frame[1], frame[2]]).astype(np.float32))
    uv = (uv - c_mid) / c_span
    h, w = y.shape
    if uv.shape[-2:] != (h, w):
        uv = F.interpolate(uv[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    u, v = uv[0], uv[1]
    kg = 1.0 - kr - kb
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / kg
    return (torch.stack([r, g, b]).clamp(0, 1) * 2 - 1).contiguous()


def rgb_to_yuv(rgb: torch.Tensor, pix_fmt: PixelFormat, color_range: ColorRange, matrix: int) -> Frame:
    """RGB ``[3, H, W]`` in [-1, 1] -> planar YUV code values of ``pix_fmt`` (rounded, clipped)."""
    kr, kb = matrix_coefficients(matrix)
    y_off, y_span, c_mid, c_span = _levels(pix_fmt.bit_depth, color_range)
    rgb = ((rgb.float() + 1) * 0.5).clamp(0, 1)
    r, g, b = rgb[0], rgb[1], rgb[2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    u = (b - y) / (2 * (1 - kb))
    v = (r - y) / (2 * (1 - kr))
    uv = torch.stack([u, v])
    sx, sy = pix_fmt.chroma_shift
    if sx or sy:
        h, w = y.shape
        uv = F.pad(uv[None], (0, w % 2, 0, h % 2), mode="replicate")
        uv = F.avg_pool2d(uv, kernel_size=(1 << sy, 1 << sx))[0]
    peak = (1 << pix_fmt.bit_depth) - 1
    dtype = pix_fmt.dtype
    y_code = (y * y_span + y_off).round().clamp(0, peak)
    uv_code = (uv * c_span + c_mid).round().clamp(0, peak)
    return (
        y_code.numpy().astype(dtype),
        uv_code[0].numpy().astype(dtype),
        uv_code[1].numpy().astype(dtype),
    )
