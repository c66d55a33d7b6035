"""Display conversion and PSNR on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ffmpeg_bridge import open_source
from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo
from gui.convert import display_matrix, frame_psnr, frame_to_rgb8, psnr, qimage_to_rgb8, rgb8_to_qimage
from vsgnvc.codec.color import yuv_to_rgb


def test_rgb8_matches_codec_colour_conversion(small_clip_y4m: Path) -> None:
    info, frames = open_source(small_clip_y4m)
    frame = next(frames)
    rgb = frame_to_rgb8(frame, info)
    assert rgb.shape == (info.height, info.width, 3) and rgb.dtype == np.uint8
    ref = yuv_to_rgb(frame, info.pix_fmt, info.color_range, 1)  # unspecified matrix -> BT.709
    expected = ((ref + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(rgb, expected)
    assert rgb.std() > 10  # a real picture, not a flat colour


def test_matrix_notes() -> None:
    assert display_matrix(1) == (1, None)
    assert display_matrix(5) == (5, None)
    assert display_matrix(2) == (1, "matrix unspecified: BT.709 assumed")
    assert display_matrix(7)[0] == 1 and "not supported" in (display_matrix(7)[1] or "")


def test_bt601_and_709_differ_on_real_frame(small_clip_y4m: Path) -> None:
    info, frames = open_source(small_clip_y4m)
    frame = next(frames)
    a = frame_to_rgb8(frame, VideoInfo(info.width, info.height, info.fps, matrix=1))
    b = frame_to_rgb8(frame, VideoInfo(info.width, info.height, info.fps, matrix=6))
    full = frame_to_rgb8(frame, VideoInfo(info.width, info.height, info.fps, matrix=1, color_range=ColorRange.FULL))
    assert np.abs(a.astype(int) - b.astype(int)).max() > 2
    assert np.abs(a.astype(int) - full.astype(int)).max() > 5


def test_ten_bit_frame_converts() -> None:
    info = VideoInfo(8, 4, 25, pix_fmt=PixelFormat.YUV444P10, matrix=1)  # type: ignore[arg-type]
    white = (np.full((4, 8), 940, np.uint16), np.full((4, 8), 512, np.uint16), np.full((4, 8), 512, np.uint16))
    assert (frame_to_rgb8(white, info) == 255).all()


def test_qimage_round_trip_keeps_pixels(qapp) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)  # odd width: rows are padded in the QImage
    image = rgb8_to_qimage(rgb)
    del rgb  # the image must own its pixels
    assert (image.width(), image.height()) == (53, 37)
    back = qimage_to_rgb8(image)
    np.testing.assert_array_equal(back, np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        rgb8_to_qimage(np.zeros((4, 4, 3), np.float32))


def test_psnr_values() -> None:
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    assert psnr(a, b, 255) == float("inf")
    b[0, 0] = 16  # mse = 256 / 16 = 16
    assert psnr(a, b, 255) == pytest.approx(10 * np.log10(255**2 / 16))
    frame = (a, a[:2, :2], a[:2, :2])
    other = (b, a[:2, :2], a[:2, :2])
    y, yuv = frame_psnr(other, frame, 8)
    assert y == pytest.approx(psnr(a, b, 255)) and yuv == float("inf")
