"""Y4M writer and reader: round trips, what ffmpeg and vspipe write, and bad streams."""

from __future__ import annotations

import io
import logging
import subprocess
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo
from ffmpeg_bridge.y4m import Y4MError, Y4MWriter, format_header, parse_header, read_y4m, write_y4m


def _stream(header: bytes, *frames: bytes) -> io.BytesIO:
    return io.BytesIO(header + b"".join(frames))


def _read_all(data: bytes) -> list:
    _, frames = read_y4m(io.BytesIO(data))
    return list(frames)


# --------------------------------------------------------------------------- header


def test_header_for_10bit_ntsc_full_range() -> None:
    info = VideoInfo(64, 48, Fraction(30000, 1001), PixelFormat.YUV420P10, ColorRange.FULL, sar=Fraction(4, 3))
    assert format_header(info) == b"YUV4MPEG2 W64 H48 F30000:1001 Ip A4:3 C420p10 XCOLORRANGE=FULL\n"


@pytest.mark.parametrize(
    ("pix_fmt", "tag"),
    [
        (PixelFormat.YUV420P, b"C420jpeg"),
        (PixelFormat.YUV420P10, b"C420p10"),
        (PixelFormat.YUV444P, b"C444 "),
        (PixelFormat.YUV444P10, b"C444p10"),
    ],
)
def test_header_chroma_tags(pix_fmt: PixelFormat, tag: bytes) -> None:
    header = format_header(VideoInfo(16, 16, Fraction(25), pix_fmt))
    assert tag in header
    assert parse_header(header).pix_fmt is pix_fmt


@pytest.mark.parametrize("chroma", ["420jpeg", "420", "420mpeg2", "420paldv"])
def test_all_420_8bit_siting_tags_read_as_yuv420p(chroma: str) -> None:
    info = parse_header(f"YUV4MPEG2 W8 H6 F25:1 Ip A1:1 C{chroma}\n".encode())
    assert info.pix_fmt is PixelFormat.YUV420P


def test_header_defaults_and_extensions() -> None:
    info = parse_header(b"YUV4MPEG2 W8 H6 F24000:1001 A0:0 XYSCSS=420JPEG XLENGTH=7 XCOLORRANGE=FULL Zfoo\n")
    assert (info.width, info.height, info.fps) == (8, 6, Fraction(24000, 1001))
    assert info.pix_fmt is PixelFormat.YUV420P  # no C tag: the spec's 4:2:0 default
    assert info.sar == 1  # A0:0 = unknown
    assert info.color_range is ColorRange.FULL
    assert info.num_frames == 7


def test_unknown_frame_rate_falls_back_to_25_like_ffmpeg(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        info = parse_header(b"YUV4MPEG2 W8 H6 F0:0 C420\n")
    assert info.fps == 25
    assert "unknown frame rate" in caplog.text


def test_interlaced_stream_is_read_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        info = parse_header(b"YUV4MPEG2 W8 H6 F25:1 It C420\n")
    assert info.width == 8
    assert "interlaced" in caplog.text


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("pix_fmt", list(PixelFormat))
@pytest.mark.parametrize(("width", "height"), [(64, 48), (33, 17)])
def test_round_trip_is_exact(pix_fmt: PixelFormat, width: int, height: int, random_frames) -> None:
    info = VideoInfo(width, height, Fraction(30000, 1001), pix_fmt, ColorRange.FULL, sar=Fraction(16, 15))
    frames = random_frames(info, 3)
    buf = io.BytesIO()
    assert write_y4m(buf, info, frames) == 3
    assert len(buf.getvalue()) == len(format_header(info)) + 3 * (6 + info.frame_bytes)
    buf.seek(0)
    info_back, frames_back = read_y4m(buf)
    back = list(frames_back)
    assert info_back == info
    assert len(back) == 3
    for f, g in zip(frames, back, strict=True):
        for a, b in zip(f, g, strict=True):
            assert b.dtype == pix_fmt.dtype
            np.testing.assert_array_equal(a, b)


def test_10bit_samples_are_little_endian_16bit_words() -> None:
    info = VideoInfo(2, 2, Fraction(25), PixelFormat.YUV420P10)
    frame = (np.array([[1, 2], [3, 1023]], np.uint16), np.array([[512]], np.uint16), np.array([[64]], np.uint16))
    buf = io.BytesIO()
    write_y4m(buf, info, [frame])
    payload = buf.getvalue().split(b"FRAME\n", 1)[1]
    assert payload == bytes([1, 0, 2, 0, 3, 0, 0xFF, 0x03, 0x00, 0x02, 0x40, 0x00])


def test_header_and_first_frame_go_out_in_one_write() -> None:
    class RecordingFile(io.BytesIO):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def write(self, data) -> int:  # type: ignore[override]
            self.sizes.append(memoryview(data).nbytes)
            return super().write(data)

    info = VideoInfo(16, 8, Fraction(25))
    out = RecordingFile()
    writer = Y4MWriter(out, info)
    writer.write(info.blank_frame())
    assert out.sizes == [len(format_header(info)) + 6 + info.frame_bytes]
    writer.write(info.blank_frame())
    assert sum(out.sizes) == len(format_header(info)) + 2 * (6 + info.frame_bytes)


def test_frames_stay_valid_after_the_next_read(random_frames) -> None:
    info = VideoInfo(8, 4, Fraction(25))
    frames = random_frames(info, 2)
    buf = io.BytesIO()
    write_y4m(buf, info, frames)
    buf.seek(0)
    _, it = read_y4m(buf)
    first = next(it)
    next(it)
    np.testing.assert_array_equal(first[0], frames[0][0])


def test_frame_parameters_are_skipped() -> None:
    y, u, v = b"\x10" * 4, b"\x80", b"\x81"
    data = b"YUV4MPEG2 W2 H2 F25:1 C420jpeg\n" + b"FRAME Ixyz XFOO=1\n" + y + u + v + b"FRAME\n" + y + u + v
    frames = _read_all(data)
    assert len(frames) == 2
    assert frames[0][2][0, 0] == 0x81


# --------------------------------------------------------------------------- writer checks


@pytest.mark.parametrize(
    ("frame_fn", "match"),
    [
        (lambda i: i.blank_frame()[:2], "expected 3 planes"),
        (lambda i: (np.zeros((6, 8), np.uint16), *i.blank_frame()[1:]), "plane 0: expected shape"),
        (lambda i: (i.blank_frame()[0].astype(np.float32), *i.blank_frame()[1:]), "expected dtype uint16"),
        (lambda i: (i.blank_frame()[0] + 1024, *i.blank_frame()[1:]), "exceeds 1023"),
    ],
)
def test_writer_rejects_frames_that_do_not_match(frame_fn, match: str) -> None:
    info = VideoInfo(8, 4, Fraction(25), PixelFormat.YUV420P10)
    buf = io.BytesIO()
    with pytest.raises(ValueError, match=match):
        Y4MWriter(buf, info).write(frame_fn(info))
    assert buf.getvalue() == b""  # nothing half-written


# --------------------------------------------------------------------------- malformed input

GOOD_HEADER = b"YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg\n"
GOOD_FRAME = b"FRAME\n" + bytes(4 * 2 + 2 * 2)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty input"),
        (b"RIFF....WAVEfmt \n", "not a Y4M stream"),
        (b"YUV4MPEG3 W4 H2\n", "not a Y4M stream"),
        (b"YUV4MPEG2 W4 H2 F25:1", "truncated Y4M header"),
        (b"YUV4MPEG2 W4 " + b"X" * 5000, "no end of line within its first 4096 bytes"),
        (b"YUV4MPEG2 H2 F25:1\n", "lacks the width"),
        (b"YUV4MPEG2 W4 F25:1\n", "lacks the height"),
        (b"YUV4MPEG2 W-4 H2\n", "invalid width"),
        (b"YUV4MPEG2 W0 H2\n", "invalid width"),
        (b"YUV4MPEG2 W4 Habc\n", "invalid height"),
        (b"YUV4MPEG2 W4 H2 F25\n", "invalid frame rate"),
        (b"YUV4MPEG2 W4 H2 F25:0\n", "zero denominator"),
        (b"YUV4MPEG2 W4 H2 F25:1 A1\n", "invalid sample aspect ratio"),
        (b"YUV4MPEG2 W4 H2 F25:1 Ix\n", "invalid interlace"),
        (b"YUV4MPEG2 W4 H2 F25:1 C422\n", "C422 is not supported"),
        (b"YUV4MPEG2 W4 H2 F25:1 Cmono\n", "Cmono is not supported"),
        (b"YUV4MPEG2 W4 H2 F25:1 C420p16\n", "C420p16 is not supported"),
        (b"YUV4MPEG2 W4 H2 F25:1 XCOLORRANGE=HALF\n", "invalid XCOLORRANGE"),
        (b"YUV4MPEG2 W4 H2 F25:1 XLENGTH=x\n", "invalid XLENGTH"),
        (b"YUV4MPEG2 W4 H2 F25:1 C420 \xff\n", "non-ASCII"),
    ],
)
def test_reader_rejects_bad_headers(data: bytes, match: str) -> None:
    with pytest.raises(Y4MError, match=match):
        read_y4m(io.BytesIO(data))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (GOOD_HEADER + GOOD_FRAME + GOOD_FRAME[:-3], r"truncated Y4M frame 1: got 9 of 12 bytes .* at byte 63"),
        (GOOD_HEADER + GOOD_FRAME + b"FRA", r"truncated Y4M frame 1: input ended inside the FRAME marker at byte 57"),
        (GOOD_HEADER + b"FRAME", r"truncated Y4M frame 0: input ended inside the FRAME marker"),
        (GOOD_HEADER + b"FRAME Ixx", r"truncated Y4M frame 0: input ended inside the FRAME line"),
        (GOOD_HEADER + GOOD_FRAME + b"GARBAGE" + bytes(12), r"malformed Y4M frame 1: expected 'FRAME' at byte 57"),
        (GOOD_HEADER + GOOD_FRAME + bytes(3) + GOOD_FRAME, r"malformed Y4M frame 1"),  # frame longer than W*H says
        (GOOD_HEADER + b"FRAME " + b"x" * 2000 + b"\n", r"FRAME line at byte 39 has no end of line"),
        (GOOD_HEADER.replace(b"\n", b" XLENGTH=3\n") + GOOD_FRAME * 2, r"ended after 2 frames .* XLENGTH=3"),
    ],
)
def test_reader_rejects_truncated_and_malformed_frames(data: bytes, match: str) -> None:
    info, frames = read_y4m(io.BytesIO(data))
    assert info.width == 4
    with pytest.raises(Y4MError, match=match):
        list(frames)


def test_y4m_error_is_a_value_error() -> None:
    assert issubclass(Y4MError, ValueError)


# --------------------------------------------------------------------------- real producers


def test_reads_what_ffmpeg_writes(run_ffmpeg) -> None:
    src = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "5"]
    y4m = run_ffmpeg(*src, "-f", "yuv4mpegpipe", "-")
    raw = run_ffmpeg(*src, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
    info, frames = read_y4m(io.BytesIO(y4m))
    frames = list(frames)
    assert (info.width, info.height, info.fps, info.pix_fmt) == (64, 48, 25, PixelFormat.YUV420P)
    assert len(frames) == 5
    assert b"".join(p.tobytes() for f in frames for p in f) == raw


@pytest.mark.parametrize(
    ("pix_fmt", "extra", "expected_range"),
    [
        ("yuv420p10le", ["-color_range", "pc"], ColorRange.FULL),
        ("yuv444p10le", [], ColorRange.LIMITED),
        ("yuv444p", ["-color_range", "tv"], ColorRange.LIMITED),
        ("yuvj420p", [], ColorRange.FULL),
    ],
)
def test_reads_ffmpeg_10bit_444_and_range(run_ffmpeg, pix_fmt: str, extra: list[str], expected_range) -> None:
    src = ["-f", "lavfi", "-i", "testsrc2=size=34x18:rate=30000/1001", "-frames:v", "3", "-pix_fmt", pix_fmt, *extra]
    y4m = run_ffmpeg(*src, "-strict", "-1", "-f", "yuv4mpegpipe", "-")
    raw = run_ffmpeg(*src, "-f", "rawvideo", "-")
    info, frames = read_y4m(io.BytesIO(y4m))
    frames = list(frames)
    assert info.fps == Fraction(30000, 1001)
    assert info.pix_fmt.value == pix_fmt.replace("yuvj", "yuv")
    assert info.color_range is expected_range
    assert len(frames) == 3
    assert b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for f in frames for p in f) == raw


def test_ffmpeg_reads_what_we_write(tmp_path: Path, run_ffmpeg, random_frames) -> None:
    info = VideoInfo(34, 18, Fraction(24000, 1001), PixelFormat.YUV420P10, ColorRange.FULL)
    frames = random_frames(info, 4)
    path = tmp_path / "in.y4m"
    with path.open("wb") as f:
        write_y4m(f, info, frames)
    raw = run_ffmpeg("-f", "yuv4mpegpipe", "-i", str(path), "-f", "rawvideo", "-")
    assert np.array_equal(np.frombuffer(raw, "<u2"), np.concatenate([p.ravel() for f in frames for p in f]))


def _vspipe_y4m(vspipe: Path, script: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(vspipe), "-c", "y4m", str(script), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_reads_vspipe_blankclip_from_a_pipe(tmp_path: Path, vspipe: Path) -> None:
    script = tmp_path / "blank.vpy"
    script.write_text(
        textwrap.dedent(
            """
            import vapoursynth as vs
            clip = vs.core.std.BlankClip(format=vs.YUV420P10, width=66, height=38, length=4,
                                         fpsnum=30000, fpsden=1001, color=[700, 100, 900])
            clip.set_output()
            """
        )
    )
    proc = _vspipe_y4m(vspipe, script)
    assert proc.stdout is not None
    info, frames = read_y4m(proc.stdout)  # straight from the pipe
    frames = list(frames)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert (info.width, info.height, info.fps, info.pix_fmt) == (66, 38, Fraction(30000, 1001), PixelFormat.YUV420P10)
    assert info.num_frames == 4  # vspipe's XLENGTH
    assert len(frames) == 4
    assert [int(p[0, 0]) for p in frames[-1]] == [700, 100, 900]
    assert all((p == p[0, 0]).all() for f in frames for p in f)


def test_reads_vspipe_real_clip(tmp_path: Path, vspipe: Path, bikes_clip: Path) -> None:
    """Frames of a real clip, pushed through a VapourSynth script and vspipe, come back unchanged."""
    from ffmpeg_bridge.sources import open_video

    script = tmp_path / "real.vpy"
    script.write_text(
        textwrap.dedent(
            f"""
            import numpy as np
            import vapoursynth as vs
            from ffmpeg_bridge.sources import open_video

            info, frames = open_video({str(bikes_clip)!r}, max_frames=3)
            frames = list(frames)
            blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=info.width, height=info.height,
                                          length=len(frames), fpsnum=25, fpsden=1)

            def put(n, f):
                out = f.copy()
                for p in range(3):
                    np.copyto(np.asarray(out[p]), frames[n][p])
                return out

            blank.std.ModifyFrame(blank, put).set_output()
            """
        )
    )
    proc = _vspipe_y4m(vspipe, script)
    assert proc.stdout is not None
    info, frames = read_y4m(proc.stdout)
    frames = list(frames)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")
    _, expected = open_video(bikes_clip, max_frames=3)
    expected = list(expected)
    assert (info.width, info.height) == (640, 272)
    assert len(frames) == 3
    for f, g in zip(frames, expected, strict=True):
        for a, b in zip(f, g, strict=True):
            np.testing.assert_array_equal(a, b)
    assert frames[0][0].std() > 10  # real picture content, not a flat clip
