"""RGB <-> YUV 4:2:0 converters, 10-bit mapping, and y4m files through ffmpeg_bridge's reader and writer."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge.y4m import read_y4m
from vsgnvc.eval import (
    Clip,
    check_yuv420,
    load_y4m,
    psnr_rgb,
    rgb_to_yuv420,
    save_y4m,
    to_8bit,
    y4m_info,
    yuv420_to_rgb,
)
from vsgnvc.eval.frames import planes


def test_grey_maps_to_neutral_chroma_and_limited_luma() -> None:
    levels = np.array([0, 64, 128, 255], dtype=np.uint8)
    rgb = np.broadcast_to(levels[:, None, None, None], (4, 4, 6, 3)).copy()
    frames = rgb_to_yuv420(rgb)
    y, u, v = planes(frames)
    assert y[:, 0, 0].tolist() == [16, 71, 126, 235]  # 16 + 219 * level / 255, rounded
    assert (u == 128).all() and (v == 128).all()
    assert (yuv420_to_rgb(frames) == rgb).all()


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
    y = np.zeros((4, 6), np.uint8)
    c = np.zeros((2, 3), np.uint8)
    check_yuv420([(y, c, c)] * 2)
    with pytest.raises(ValueError, match="chroma planes"):
        check_yuv420([(y, c, c), (y, c[:1], c)])
    with pytest.raises(ValueError, match="uint8"):
        check_yuv420([(y.astype(np.float32), c, c)])
    with pytest.raises(ValueError, match="even size"):
        check_yuv420([(np.zeros((5, 6), np.uint8), c, c)])
    with pytest.raises(ValueError, match="frame 1 is 8x4, frame 0 is 6x4"):
        check_yuv420([(y, c, c), (np.zeros((4, 8), np.uint8), c, c)])
    with pytest.raises(ValueError, match="no frames"):
        check_yuv420([])
    with pytest.raises(ValueError, match="sequence of"):
        check_yuv420(np.zeros((2, 4, 6), np.uint8))  # type: ignore[arg-type]


def test_y4m_round_trip_is_lossless(tiny_clip: Clip, tmp_path: Path) -> None:
    path = save_y4m(tmp_path / "a.y4m", tiny_clip.frames, Fraction(30000, 1001))
    info, frames = load_y4m(path)
    assert (info.fps, info.num_frames, len(frames)) == (Fraction(30000, 1001), 11, 11)
    for a, b in zip(planes(frames), planes(tiny_clip.frames), strict=True):
        assert np.array_equal(a, b)
    info = y4m_info(path)
    assert (info.width, info.height, info.num_frames) == (96, 48, 11)
    assert [p.name for p in tmp_path.iterdir()] == ["a.y4m"]  # the temporary name was renamed away
    with path.open("rb") as f:  # the one y4m implementation: ffmpeg_bridge's, limited range stated
        bridge_info, _ = read_y4m(f)
    assert (bridge_info.color_range.value, bridge_info.pix_fmt.value) == ("tv", "yuv420p")


def test_y4m_rejects_truncated_and_unsupported_files(tiny_clip: Clip, tmp_path: Path) -> None:
    path = save_y4m(tmp_path / "a.y4m", tiny_clip.frames, Fraction(25))
    cut = tmp_path / "cut.y4m"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_y4m(cut)
    with pytest.raises(ValueError, match="truncated"):
        y4m_info(cut)
    ten = tmp_path / "ten.y4m"
    ten.write_bytes(b"YUV4MPEG2 W8 H8 F25:1 Ip C420p10\nFRAME\n" + bytes(8 * 8 * 3))
    with pytest.raises(ValueError, match="only 8-bit 4:2:0"):
        load_y4m(ten)
    empty = tmp_path / "empty.y4m"
    empty.write_bytes(b"YUV4MPEG2 W8 H8 F25:1 Ip C420jpeg\n")
    with pytest.raises(ValueError, match="no frames"):
        load_y4m(empty)
    with pytest.raises(ValueError, match="not a Y4M stream"):
        (tmp_path / "x.y4m").write_bytes(b"RIFF....")
        load_y4m(tmp_path / "x.y4m")
    with pytest.raises(ValueError, match="not found"):
        load_y4m(tmp_path / "missing.y4m")
    with pytest.raises(ValueError, match="uint8"):  # nothing is written for bad frames
        save_y4m(tmp_path / "bad.y4m", [tuple(p.astype(np.uint16) for p in tiny_clip.frames[0])], Fraction(25))
    assert not (tmp_path / "bad.y4m").exists()
