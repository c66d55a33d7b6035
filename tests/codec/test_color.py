import numpy as np
import pytest
import torch

from ffmpeg_bridge.video import ColorRange, PixelFormat
from vsgnvc.codec.color import rgb_to_yuv, yuv_to_rgb


def smooth_rgb(h: int = 48, w: int = 64) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xx, yy, (xx + yy) / 2]) * 1.6 - 0.8


@pytest.mark.parametrize("pix_fmt", [PixelFormat.YUV420P, PixelFormat.YUV420P10, PixelFormat.YUV444P])
@pytest.mark.parametrize("color_range", list(ColorRange))
@pytest.mark.parametrize("matrix", [1, 6])
def test_round_trip_is_within_quantisation(pix_fmt, color_range, matrix):
    rgb = smooth_rgb()
    yuv = rgb_to_yuv(rgb, pix_fmt, color_range, matrix)
    assert [p.dtype for p in yuv] == [pix_fmt.dtype] * 3
    assert [p.shape for p in yuv] == list(pix_fmt.plane_shapes(64, 48))
    back = yuv_to_rgb(yuv, pix_fmt, color_range, matrix)
    tol = 2.5 / 255 * 2 if pix_fmt.bit_depth == 8 else 1.0 / 255 * 2
    assert float((back - rgb).abs().mean()) < tol


def test_matrix_and_range_matter():
    rgb = smooth_rgb()
    a = rgb_to_yuv(rgb, PixelFormat.YUV444P, ColorRange.LIMITED, 1)
    b = rgb_to_yuv(rgb, PixelFormat.YUV444P, ColorRange.LIMITED, 6)
    assert not np.array_equal(a[0], b[0])
    assert a[0].min() >= 16 and a[0].max() <= 235
    white_limited = rgb_to_yuv(torch.ones(3, 2, 2), PixelFormat.YUV444P, ColorRange.LIMITED, 1)
    white_full = rgb_to_yuv(torch.ones(3, 2, 2), PixelFormat.YUV444P, ColorRange.FULL, 1)
    assert white_limited[0].max() == 235 and white_full[0].max() == 255


def test_known_values_bt709_limited():
    white = torch.ones(3, 2, 2)
    black = -torch.ones(3, 2, 2)
    y, u, v = rgb_to_yuv(white, PixelFormat.YUV420P, ColorRange.LIMITED, 1)
    assert y.max() == 235 and u.max() == 128 and v.max() == 128
    y, u, v = rgb_to_yuv(black, PixelFormat.YUV420P10, ColorRange.LIMITED, 1)
    assert y.max() == 64 and u.max() == 512
