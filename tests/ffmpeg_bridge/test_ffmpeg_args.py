"""Command-line building: colour tags, audio mapping, and finding the output file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from ffmpeg_bridge.ffmpeg_args import audio_args, can_write_atomically, color_args, find_output_file
from ffmpeg_bridge.video import ColorRange, VideoInfo


def test_color_args_map_h273_codes_to_ffmpeg_names() -> None:
    info = VideoInfo(8, 8, Fraction(25), color_range=ColorRange.FULL, matrix=9, transfer=18, primaries=9)
    assert color_args(info, []) == [
        "-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-color_range", "pc",
    ]  # fmt: skip


def test_color_args_skip_unspecified_unknown_and_user_given(caplog: pytest.LogCaptureFixture) -> None:
    info = VideoInfo(8, 8, Fraction(25), matrix=2, transfer=99, primaries=6)
    assert color_args(info, []) == ["-color_primaries", "smpte170m", "-color_range", "tv"]
    assert "99" in caplog.text
    assert color_args(info, ["-color_primaries:v", "bt709", "-color_range", "pc", "o.mkv"]) == []


def test_audio_args_default_and_user_overrides() -> None:
    assert audio_args(["o.mkv"]) == ["-map", "0:v:0", "-map", "1:a?", "-c:a", "copy", "-shortest"]
    assert audio_args(["-map", "0:v", "-map", "1:a:1", "-c:a", "aac", "-shortest", "o.mkv"]) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["out.mkv"], "out.mkv"),
        (["-c:v", "libx264", "-crf", "18", "-y", "-an", "sub/out.mp4"], "sub/out.mp4"),
        (["-c:v", "ffv1", "file:odd.mkv"], "odd.mkv"),
        (["-f", "null", "-"], None),
        (["-f", "nut", "pipe:1"], None),
        (["-f", "mpegts", "udp://127.0.0.1:1234"], None),
        (["frame_%04d.png"], None),
        (["-f", "segment", "seg.mkv"], None),
        (["-f", "hls", "out.m3u8"], None),
        (["out.m3u8"], None),
        (["a.mkv", "-c:v", "ffv1", "b.mkv"], None),  # two outputs
        (["out.mkv", "-c:v", "ffv1"], None),  # trailing options: unclear
    ],
)
def test_find_output_file(args: list[str], expected: str | None) -> None:
    found = find_output_file(args)
    assert (str(found) if found is not None else None) == expected


def test_atomic_writes_only_for_regular_files_in_existing_folders(tmp_path: Path) -> None:
    assert can_write_atomically(tmp_path / "new.mkv")
    (tmp_path / "old.mkv").write_bytes(b"x")
    assert can_write_atomically(tmp_path / "old.mkv")
    assert not can_write_atomically(Path("/dev/null"))
    assert not can_write_atomically(tmp_path)
    assert not can_write_atomically(tmp_path / "missing" / "x.mkv")
