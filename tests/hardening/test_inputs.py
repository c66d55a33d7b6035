"""Awkward inputs through ``gnvc encode`` + ``gnvc decode``: each works correctly or fails with one clear line.

The table of these cases is in docs/robustness.md.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge import read_y4m
from vsgnvc.bitstream import GnvcReader, PixelFormatCode


def run_cli(main, capfd, *args: str) -> tuple[int, list[str]]:
    code = main(["-q", *args])
    return code, [ln for ln in capfd.readouterr().err.splitlines() if ln.strip() and not ln.startswith("Warning: ")]


def round_trip(main, capfd, source: Path, folder: Path, model_dir: Path):
    """Encode then decode to y4m; returns the header, the decoded stream's info and frames, and stderr lines."""
    out, decoded = folder / "out.gnvc", folder / "out.y4m"
    code, lines = run_cli(main, capfd, "encode", str(source), str(out), "--model", str(model_dir))
    assert code == 0, lines
    with GnvcReader(out) as reader:
        header = reader.header
    code, more = run_cli(main, capfd, "decode", str(out), "-o", str(decoded), "--model", str(model_dir))
    assert code == 0, more
    with open(decoded, "rb") as f:
        info, frames = read_y4m(f)
        frames = list(frames)
    return header, info, frames, lines + more


@pytest.mark.parametrize(("frames", "size"), [(3, "322x182"), (1, "64x48"), (2, "64x48")])
def test_odd_sizes_and_very_short_clips_round_trip(
    frames, size, clip_factory, tiny_model_dir, tmp_path, capfd, one_thread, gnvc_main
):
    source = clip_factory(frames, size, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-qp", "10", suffix=".mkv")
    with one_thread():
        header, info, decoded, _ = round_trip(gnvc_main, capfd, source, tmp_path, tiny_model_dir)
    w, h = (int(v) for v in size.split("x"))
    assert (header.width, header.height, header.num_frames) == (w, h, frames)
    assert (info.width, info.height, len(decoded)) == (w, h, frames)
    assert [p.shape for p in decoded[0]] == [(h, w), (-(-h // 2), -(-w // 2)), (-(-h // 2), -(-w // 2))]


def test_ten_bit_full_range_source(clip_factory, tiny_model_dir, tmp_path, capfd, one_thread, gnvc_main):
    source = clip_factory(5, "64x48", "-pix_fmt", "yuv420p10le", "-color_range", "pc", "-colorspace", "bt709",
                          "-c:v", "libx264", "-qp", "10", suffix=".mkv")  # fmt: skip
    with one_thread():
        header, info, decoded, _ = round_trip(gnvc_main, capfd, source, tmp_path, tiny_model_dir)
    assert (header.pix_fmt, header.color_range, header.matrix) == (PixelFormatCode.YUV420P10, 1, 1)
    assert info.pix_fmt.value == "yuv420p10le" and len(decoded) == 5
    y = decoded[0][0]
    assert y.dtype == np.uint16 and y.max() <= 1023 and y.max() > 255  # really 10-bit, not 8-bit scaled


def test_variable_frame_rate_is_retimed_with_a_warning(
    ffmpeg_exe, bikes_clip, tiny_model_dir, tmp_path, capfd, one_thread, gnvc_main
):
    # 5 frames at 25 fps, then 5 at 10 fps, in one Matroska stream
    source = tmp_path / "vfr.mkv"
    subprocess.run(
        [ffmpeg_exe, "-v", "error", "-i", str(bikes_clip), "-frames:v", "10",
         "-vf", "scale=64:48,setpts='if(lt(N,5),N/25/TB,(5/25+(N-5)/10)/TB)'", "-fps_mode", "vfr",
         "-c:v", "libx264", "-qp", "10", str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    out = tmp_path / "vfr.gnvc"
    with one_thread():
        code = gnvc_main(["encode", str(source), str(out), "--model", str(tiny_model_dir)])
    err = capfd.readouterr().err
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if "variable frame rate" in ln]
    assert len(warnings) == 1 and "frame 6 comes" in warnings[0], err
    with GnvcReader(out) as reader:
        assert reader.header.num_frames == 10  # every frame kept, in order


def test_too_small_is_one_line(clip_factory, tiny_model_dir, tmp_path, capfd, gnvc_main):
    source = clip_factory(2, "1x1", "-pix_fmt", "yuv444p", "-c:v", "libx264", "-qp", "0", suffix=".mkv")
    code, lines = run_cli(
        gnvc_main, capfd, "encode", str(source), str(tmp_path / "x.gnvc"), "--model", str(tiny_model_dir)
    )
    assert code == 2 and lines == ["gnvc: error: frame size 1x1 is too small: the model needs at least 8x8 pixels"]
    assert list(tmp_path.iterdir()) == []


def test_audio_only_file_is_one_line(ffmpeg_exe, tiny_model_dir, tmp_path, capfd, gnvc_main):
    audio = tmp_path / "sine.m4a"
    subprocess.run([ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(audio)],
                   check=True, capture_output=True)  # fmt: skip
    for args in (["encode", str(audio), str(tmp_path / "x.gnvc")], ["enhance", str(audio), str(tmp_path / "x.y4m")]):
        code, lines = run_cli(gnvc_main, capfd, *args, "--model", str(tiny_model_dir))
        assert code == 2 and len(lines) == 1 and lines[0].endswith("has no video stream (audio)"), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sine.m4a"]
