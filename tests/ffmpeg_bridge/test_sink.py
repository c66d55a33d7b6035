"""FfmpegSink against the real ffmpeg binary: outputs, exact round trips, failures, no hangs."""

from __future__ import annotations

import io
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge.errors import FfmpegError
from ffmpeg_bridge.sink import FfmpegSink
from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo

SMALL = VideoInfo(64, 48, Fraction(30000, 1001))
# Bigger frames so that ffmpeg stops reading long before we run out of them.
MEDIUM = VideoInfo(320, 180, Fraction(25))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def test_pipe_to_file_with_colour_tags(tmp_path: Path, random_frames, read_back) -> None:
    info = VideoInfo(
        64, 48, Fraction(30000, 1001), PixelFormat.YUV420P, ColorRange.FULL, matrix=1, transfer=1, primaries=1
    )
    frames = random_frames(info, 7)
    out = tmp_path / "out.mkv"
    with FfmpegSink(info, ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(out)]) as sink:
        assert sink.write_all(frames) == 7
    assert sink.returncode == 0 and not sink.stopped_early
    got = read_back(out)
    assert (got.width, got.height, got.fps, len(got.frames)) == (64, 48, Fraction(30000, 1001), 7)
    # AVCOL_RANGE_JPEG = 2; BT.709 = 1 for matrix, primaries and transfer
    assert (got.color_range, got.colorspace, got.color_primaries, got.color_trc) == (2, 1, 1, 1)
    for f, g in zip(frames, got.frames, strict=True):  # lossless x264 keeps full range values
        for a, b in zip(f, g, strict=True):
            np.testing.assert_array_equal(a, b)
    assert _leftovers(tmp_path) == []


def test_bt2020_pq_tags_reach_the_file(tmp_path: Path, random_frames, read_back) -> None:
    info = VideoInfo(32, 16, Fraction(50), PixelFormat.YUV420P10, matrix=9, transfer=16, primaries=9)
    out = tmp_path / "hdr.mkv"
    with FfmpegSink(info, ["-c:v", "ffv1", str(out)]) as sink:
        sink.write_all(random_frames(info, 2))
    got = read_back(out)
    assert (got.colorspace, got.color_primaries, got.color_trc, got.color_range) == (9, 9, 16, 1)
    assert got.fps == 50


@pytest.mark.parametrize("pix_fmt", [PixelFormat.YUV420P10, PixelFormat.YUV444P10, PixelFormat.YUV444P])
def test_lossless_round_trip_through_ffv1(pix_fmt: PixelFormat, tmp_path: Path, random_frames, read_back) -> None:
    # Limited range: ffmpeg 9 converts full-range input to limited range for ffv1.
    info = VideoInfo(34, 18, Fraction(25), pix_fmt)
    frames = random_frames(info, 4)
    out = tmp_path / "out.mkv"
    with FfmpegSink(info, ["-c:v", "ffv1", str(out)]) as sink:
        sink.write_all(frames)
    got = read_back(out)
    assert got.pix_fmt == pix_fmt.value
    assert len(got.frames) == 4
    for f, g in zip(frames, got.frames, strict=True):
        for a, b in zip(f, g, strict=True):
            np.testing.assert_array_equal(a, b)


def test_10bit_full_range_round_trip_through_rawvideo(tmp_path: Path, random_frames) -> None:
    info = VideoInfo(34, 18, Fraction(25), PixelFormat.YUV420P10, ColorRange.FULL)
    frames = random_frames(info, 3)
    out = tmp_path / "out.yuv"
    with FfmpegSink(info, ["-f", "rawvideo", "-pix_fmt", "yuv420p10le", str(out)]) as sink:
        sink.write_all(frames)
    expected = np.concatenate([p.ravel() for f in frames for p in f])
    np.testing.assert_array_equal(np.fromfile(out, "<u2"), expected)


def test_output_to_stdout(tmp_path: Path, random_frames, read_back) -> None:
    frames = random_frames(SMALL, 3)
    out = tmp_path / "stdout.nut"
    with out.open("wb") as f, FfmpegSink(SMALL, ["-c:v", "ffv1", "-f", "nut", "-"], stdout=f) as sink:
        sink.write_all(frames)
    assert len(read_back(out).frames) == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-bogus", "1"], 8, "Unrecognized option 'bogus'"),
        (["-c:v", "no_such_encoder"], None, "Unknown encoder 'no_such_encoder'"),
    ],
)
def test_bad_arguments_raise_with_ffmpeg_message(
    args: list[str], code: int | None, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "bad.mkv"
    start = time.monotonic()
    with pytest.raises(FfmpegError) as err, FfmpegSink(MEDIUM, [*args, str(out)]) as sink:
        sink.write_all(MEDIUM.blank_frame() for _ in range(500))  # ~43 MB: far more than a pipe buffer
    assert time.monotonic() - start < 20
    assert err.value.returncode != 0
    if code is not None:
        assert err.value.returncode == code
    assert message in str(err.value)
    assert message in err.value.stderr_tail
    assert not out.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.timeout(60)
def test_frames_limit_stops_early_without_error(tmp_path: Path, read_back) -> None:
    out = tmp_path / "three.mkv"
    frame = MEDIUM.blank_frame()
    with FfmpegSink(MEDIUM, ["-frames:v", "3", "-c:v", "ffv1", str(out)]) as sink:
        for _ in range(5000):  # 430 MB if ffmpeg kept reading; it stops after 3 frames
            if not sink.write(frame):
                break
    assert sink.stopped_early
    assert sink.returncode == 0
    assert 3 <= sink.frames_written < 5000
    assert sink.write(frame) is False  # later frames are dropped, not an error
    assert len(read_back(out).frames) == 3


@pytest.mark.timeout(60)
def test_disk_full_raises(tmp_path: Path) -> None:
    with (
        pytest.raises(FfmpegError, match="No space left on device") as err,
        FfmpegSink(MEDIUM, ["-f", "rawvideo", "-y", "/dev/full"]) as sink,
    ):
        sink.write_all(MEDIUM.blank_frame() for _ in range(50))
    assert err.value.returncode != 0


def test_existing_output_needs_y(tmp_path: Path, random_frames, read_back) -> None:
    out = tmp_path / "exists.mkv"
    out.write_bytes(b"keep me")
    with pytest.raises(FfmpegError, match="already exists") as err, FfmpegSink(SMALL, ["-c:v", "ffv1", str(out)]):
        pass
    assert err.value.returncode == 1
    assert out.read_bytes() == b"keep me"
    with FfmpegSink(SMALL, ["-c:v", "ffv1", "-y", str(out)]) as sink:
        sink.write_all(random_frames(SMALL, 2))
    assert len(read_back(out).frames) == 2


def test_output_appears_only_when_complete(tmp_path: Path, random_frames) -> None:
    out = tmp_path / "atomic.mkv"
    with FfmpegSink(SMALL, ["-c:v", "ffv1", str(out)]) as sink:
        sink.write_all(random_frames(SMALL, 3))
        assert not out.exists()
        assert sink.output_path == out
    assert out.exists()
    assert _leftovers(tmp_path) == []


def test_source_failure_aborts_ffmpeg_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "aborted.mkv"

    def failing_frames():
        yield SMALL.blank_frame()
        raise RuntimeError("decoder failed")

    with pytest.raises(RuntimeError, match="decoder failed"), FfmpegSink(SMALL, ["-c:v", "ffv1", str(out)]) as sink:
        sink.write_all(failing_frames())
    assert sink.returncode is not None  # ffmpeg is gone
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_wrong_frame_is_rejected_before_reaching_ffmpeg(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="expected shape"),
        FfmpegSink(SMALL, ["-c:v", "ffv1", str(tmp_path / "x.mkv")]) as sink,
    ):
        sink.write(VideoInfo(32, 16, Fraction(25)).blank_frame())
    assert not (tmp_path / "x.mkv").exists()


def test_audio_from_original_file(tmp_path: Path, run_ffmpeg, random_frames, read_back) -> None:
    audio = tmp_path / "tone.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=5", "-c:a", "aac", str(audio))
    info = VideoInfo(64, 48, Fraction(25))
    out = tmp_path / "with_audio.mkv"
    with FfmpegSink(info, ["-c:v", "ffv1", str(out)], audio_from=audio) as sink:
        sink.write_all(random_frames(info, 25))  # 1 s of video against 5 s of audio
    got = read_back(out)
    assert got.stream_types == ["video", "audio"]
    assert len(got.frames) == 25
    import av

    with av.open(str(out)) as c:
        assert c.duration is not None and c.duration / 1e6 < 1.5  # -shortest: ends with the video


def test_audio_from_file_without_audio_is_fine(tmp_path: Path, bikes_clip: Path, random_frames, read_back) -> None:
    out = tmp_path / "no_audio.mkv"
    with FfmpegSink(SMALL, ["-c:v", "ffv1", str(out)], audio_from=bikes_clip) as sink:
        sink.write_all(random_frames(SMALL, 2))
    assert read_back(out).stream_types == ["video"]


def test_stderr_is_echoed_and_kept(tmp_path: Path) -> None:
    echo = io.BytesIO()
    with FfmpegSink(SMALL, ["-c:v", "ffv1", str(tmp_path / "o.mkv")], echo_stderr=echo) as sink:
        sink.write(SMALL.blank_frame())
    assert b"yuv4mpegpipe" in echo.getvalue()
    assert "yuv4mpegpipe" in sink.stderr_tail


def test_empty_output_args_are_refused() -> None:
    with pytest.raises(ValueError, match="output arguments are empty"):
        FfmpegSink(SMALL, [])


@pytest.mark.timeout(60)
def test_bad_arguments_with_input_that_fits_the_pipe_fail_at_close(tmp_path: Path) -> None:
    sink = FfmpegSink(SMALL, ["-bogus", "1", str(tmp_path / "bad.mkv")])
    sink.start()
    sink.write(SMALL.blank_frame())  # 4.6 kB: may be buffered before ffmpeg is gone
    with pytest.raises(FfmpegError, match="Unrecognized option 'bogus'") as err:
        sink.close()
    assert err.value.returncode == 8


def test_second_output_that_exists_is_an_error_not_a_silent_success(tmp_path: Path) -> None:
    # ffmpeg 9 refuses the existing second output but exits with 0; the sink must not report success.
    (tmp_path / "b.mkv").write_bytes(b"old")
    args = ["-c:v", "ffv1", str(tmp_path / "a.mkv"), "-c:v", "ffv1", str(tmp_path / "b.mkv")]
    with pytest.raises(FfmpegError, match="already exists") as err, FfmpegSink(SMALL, args) as sink:
        sink.write(SMALL.blank_frame())
    assert err.value.returncode == 1
    assert (tmp_path / "b.mkv").read_bytes() == b"old"


@pytest.mark.timeout(60)
def test_close_timeout_kills_a_slow_ffmpeg(tmp_path: Path) -> None:
    out = tmp_path / "slow.mkv"
    sink = FfmpegSink(SMALL, ["-vf", "realtime", "-c:v", "ffv1", str(out)])  # 25 frames take ~0.8 s
    sink.start()
    sink.write_all(SMALL.blank_frame() for _ in range(25))
    start = time.monotonic()
    with pytest.raises(FfmpegError, match=r"did not finish within 0\.2 s"):
        sink.close(timeout=0.2)
    assert time.monotonic() - start < 5
    assert not out.exists()
    assert _leftovers(tmp_path) == []
    with pytest.raises(FfmpegError):  # the failure sticks
        sink.close()
