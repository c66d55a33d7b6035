"""``python -m ffmpeg_bridge`` as users run it: real subprocesses, real ffmpeg."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from ffmpeg_bridge.__main__ import main
from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo
from ffmpeg_bridge.y4m import write_y4m

TIMEOUT = 60


def _cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ffmpeg_bridge", *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def y4m_file(tmp_path: Path, random_frames) -> tuple[Path, VideoInfo, list]:
    info = VideoInfo(48, 32, Fraction(30000, 1001), PixelFormat.YUV420P10, ColorRange.LIMITED, matrix=1, primaries=1,
                     transfer=1)  # fmt: skip
    frames = random_frames(info, 6)
    path = tmp_path / "in.y4m"
    with path.open("wb") as f:
        write_y4m(f, info, frames)
    return path, info, frames


def test_y4m_file_to_ffv1(tmp_path: Path, y4m_file, read_back) -> None:
    src, info, frames = y4m_file
    out = tmp_path / "out.mkv"
    proc = _cli(str(src), "--", "-c:v", "ffv1", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""  # stdout stays free for video
    got = read_back(out)
    assert (got.width, got.height, got.fps, len(got.frames)) == (48, 32, info.fps, 6)
    assert got.color_range == 1  # Y4M carries the range (XCOLORRANGE), not the matrix
    assert all((a == b).all() for f, g in zip(frames, got.frames, strict=True) for a, b in zip(f, g, strict=True))


def test_y4m_on_stdin_from_real_ffmpeg(tmp_path: Path, ffmpeg_exe: str, read_back) -> None:
    out = tmp_path / "piped.mkv"
    producer = subprocess.Popen(
        [ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "5",
         "-f", "yuv4mpegpipe", "-"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    consumer = subprocess.run(
        [sys.executable, "-m", "ffmpeg_bridge", "-", "--", "-c:v", "ffv1", str(out)],
        stdin=producer.stdout,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert producer.stdout is not None
    producer.stdout.close()
    assert producer.wait(TIMEOUT) == 0
    assert consumer.returncode == 0, consumer.stderr.decode()
    got = read_back(out)
    assert (got.width, got.height, got.fps, len(got.frames)) == (64, 48, 25, 5)


def test_video_file_with_audio_to_x264(tmp_path: Path, bikes_clip: Path, run_ffmpeg, read_back) -> None:
    tone = tmp_path / "tone.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", str(tone))
    out = tmp_path / "bikes.mp4"
    proc = _cli(str(bikes_clip), "--max-frames", "10", "--audio-from", str(tone), "--",
                "-c:v", "libx264", "-preset", "ultrafast", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    got = read_back(out)
    assert (got.width, got.height, got.fps, len(got.frames)) == (640, 272, 25, 10)
    assert got.stream_types == ["video", "audio"]


def test_colour_tags_of_a_video_file_reach_the_output(tmp_path: Path, run_ffmpeg, read_back) -> None:
    # 64x48: this build's libx265 aborts (SIGABRT in free()) on frames as small as 48x32.
    src = tmp_path / "tagged.mkv"  # x264: ffmpeg 9 turns full range into limited for ffv1
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "3",
               "-vf", "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=pc",
               "-pix_fmt", "yuv420p10le", "-c:v", "libx264", "-qp", "0", str(src))  # fmt: skip
    out = tmp_path / "out.mp4"
    proc = _cli(str(src), "--", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    got = read_back(out)
    assert (got.colorspace, got.color_primaries, got.color_trc, got.color_range) == (9, 9, 16, 2)
    assert got.pix_fmt == "yuv420p10le"


def test_output_on_stdout(y4m_file, tmp_path: Path, read_back) -> None:
    src, _, _ = y4m_file
    proc = _cli(str(src), "--", "-c:v", "ffv1", "-f", "matroska", "-")
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "from_stdout.mkv"
    out.write_bytes(proc.stdout)
    assert len(read_back(out).frames) == 6


def test_ffmpeg_failure_passes_exit_code_and_message(y4m_file, tmp_path: Path) -> None:
    src, _, _ = y4m_file
    proc = _cli(str(src), "--", "-bogus", "1", str(tmp_path / "bad.mkv"))
    err = proc.stderr.decode()
    assert proc.returncode == 8  # ffmpeg's own exit code for an unknown option
    assert "Unrecognized option 'bogus'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "bad.mkv").exists()


def test_frames_limit_is_success(y4m_file, tmp_path: Path, read_back) -> None:
    src, _, _ = y4m_file
    out = tmp_path / "two.mkv"
    proc = _cli(str(src), "--", "-frames:v", "2", "-c:v", "ffv1", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(read_back(out).frames) == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["missing.y4m", "--", "out.mkv"], None, "input file missing.y4m does not exist"),
        (["-", "--", "out.mkv"], b"YUV4MPEG2 W4 H2 F25:1 C420jpeg\nFRAME\n\x00\x00", "truncated Y4M frame 0"),
        (["-", "--", "out.mkv"], b"not a video", "not a Y4M stream"),
        (["in.y4m"], None, "missing ffmpeg output arguments"),
    ],
)
def test_bridge_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], stdin: bytes | None, message: str) -> None:
    (tmp_path / "in.y4m").write_bytes(b"YUV4MPEG2 W4 H2 F25:1\n")
    proc = _cli(*args, stdin=stdin, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 2
    assert message in err
    assert "Traceback" not in err
    assert len([ln for ln in err.splitlines() if "ffmpeg_bridge" in ln]) == 1
    assert not (tmp_path / "out.mkv").exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_registered_sources_read_vpy_and_gnvc(tmp_path: Path, read_back) -> None:
    # vsgnvc registers .vpy and .gnvc (entry points ffmpeg_bridge.sources); the bridge imports nothing of it.
    script = tmp_path / "grey.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "vs.core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=5, color=[90, 128, 128]).set_output()\n"
    )
    proc = _cli(str(script), "--max-frames", "3", "--", "-c:v", "ffv1", str(tmp_path / "out.mkv"))
    assert proc.returncode == 0, proc.stderr.decode()
    frames = read_back(tmp_path / "out.mkv").frames
    assert len(frames) == 3 and frames[0][0].shape == (48, 64) and (frames[0][0] == 90).all()
    empty = tmp_path / "empty.vpy"
    empty.write_text("import vapoursynth as vs\n")
    junk = tmp_path / "junk.gnvc"
    junk.write_bytes(b"GNVC junk")
    for bad, message in ((empty, "empty.vpy sets no output 0"), (junk, "junk.gnvc")):
        proc = _cli(str(bad), "--", "-c:v", "ffv1", str(tmp_path / "bad.mkv"))
        err = proc.stderr.decode()
        assert proc.returncode == 2 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "bad.mkv").exists()


def test_version(ffmpeg_exe: str) -> None:
    proc = _cli("--version")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    assert text.startswith("ffmpeg ") and str(Path(ffmpeg_exe).resolve()) in text


def test_main_in_process_with_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bad-flag"]) == 2
    assert main([]) == 2
    assert "missing INPUT" in capsys.readouterr().err
