"""RGB <-> YUV 4:2:0 converters, 10-bit mapping and the y4m reader/writer."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vsgnvc.eval import (
    Clip,
    check_yuv420,
    psnr_rgb,
    read_y4m,
    rgb_to_yuv420,
    to_8bit,
    write_y4m,
    y4m_info,
    yuv420_to_rgb,
)


def test_grey_maps_to_neutral_chroma_and_limited_luma() -> None:
    levels = np.array([0, 64, 128, 255], dtype=np.uint8)
    rgb = np.broadcast_to(levels[:, None, None, None], (4, 4, 6, 3)).copy()
    y, u, v = rgb_to_yuv420(rgb)
    assert y[:, 0, 0].tolist() == [16, 71, 126, 235]  # 16 + 219 * level / 255, rounded
    assert (u == 128).all() and (v == 128).all()
    assert (yuv420_to_rgb((y, u, v)) == rgb).all()


def test_real_frames_survive_a_round_trip(tiny_clip: Clip) -> None:
    rgb = tiny_clip.rgb()
    assert rgb.shape == (11, 48, 96, 3) and rgb.dtype == np.uint8
    back = yuv420_to_rgb(rgb_to_yuv420(rgb))
    # Only chroma subsampling and rounding are lost.
    assert psnr_rgb(rgb, back) > 30.0


def test_bt601_differs_from_bt709(tiny_clip: Clip) -> None:
    assert not np.array_equal(tiny_clip.rgb("bt601"), tiny_clip.rgb("bt709"))
    with pytest.raises(ValueError, match="unknown matrix"):
        tiny_clip.rgb("bt2020")  # type: ignore[arg-type]


def test_to_8bit_inverts_ffmpegs_left_shift() -> None:
    x = np.arange(256, dtype=np.uint16)
    assert (to_8bit(x << 2) == x).all()
    assert to_8bit(np.array([1023], dtype=np.uint16))[0] == 255


def test_check_yuv420_rejects_bad_planes() -> None:
    y = np.zeros((2, 4, 6), np.uint8)
    c = np.zeros((2, 2, 3), np.uint8)
    check_yuv420((y, c, c))
    with pytest.raises(ValueError, match="chroma planes"):
        check_yuv420((y, c[:, :1], c))
    with pytest.raises(ValueError, match="uint8"):
        check_yuv420((y.astype(np.float32), c, c))
    with pytest.raises(ValueError, match="even size"):
        check_yuv420((np.zeros((2, 5, 6), np.uint8), c, c))


def test_y4m_round_trip_is_lossless(tiny_clip: Clip, tmp_path: Path) -> None:
    path = write_y4m(tmp_path / "a.y4m", tiny_clip.yuv, Fraction(30000, 1001))
    (y, u, v), fps = read_y4m(path)
    assert fps == Fraction(30000, 1001)
    for a, b in zip((y, u, v), tiny_clip.yuv, strict=True):
        assert np.array_equal(a, b)
    info = y4m_info(path)
    assert (info.width, info.height, info.frames) == (96, 48, 11)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary name was renamed away


def test_y4m_rejects_truncated_and_unsupported_files(tiny_clip: Clip, tmp_path: Path) -> None:
    path = write_y4m(tmp_path / "a.y4m", tiny_clip.yuv, Fraction(25))
    cut = tmp_path / "cut.y4m"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        read_y4m(cut)
    with pytest.raises(ValueError, match="truncated"):
        y4m_info(cut)
    ten = tmp_path / "ten.y4m"
    ten.write_bytes(b"YUV4MPEG2 W8 H8 F25:1 Ip C420p10\nFRAME\n" + bytes(8 * 8 * 3))
    with pytest.raises(ValueError, match="only 8-bit 4:2:0"):
        read_y4m(ten)
    with pytest.raises(ValueError, match="not a y4m"):
        (tmp_path / "x.y4m").write_bytes(b"RIFF....")
        read_y4m(tmp_path / "x.y4m")
    with pytest.raises(ValueError, match="not found"):
        read_y4m(tmp_path / "missing.y4m")
