"""Frame sources: video files through PyAV, VapourSynth clips, Y4M, and the CLI dispatch."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge.errors import SourceError
from ffmpeg_bridge.sources import from_vs_node, open_source, open_video, open_y4m
from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo
from ffmpeg_bridge.y4m import write_y4m

TESTSRC = ["-f", "lavfi", "-i", "testsrc2=size=48x32:rate=24000/1001", "-frames:v", "3"]


def _planes_bytes(frames) -> bytes:
    return b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for f in frames for p in f)


# --------------------------------------------------------------------------- PyAV files


def test_open_video_on_real_clip(bikes_clip: Path, run_ffmpeg) -> None:
    info, frames = open_video(bikes_clip, max_frames=5)
    frames = list(frames)
    assert (info.width, info.height, info.fps, info.pix_fmt) == (640, 272, Fraction(25), PixelFormat.YUV420P)
    assert info.num_frames == 5
    assert len(frames) == 5
    assert [p.shape for p in frames[0]] == [(272, 640), (136, 320), (136, 320)]
    assert all(p.flags.c_contiguous for p in frames[0])
    # Same pixels as the ffmpeg binary's own decode.
    raw = run_ffmpeg("-i", str(bikes_clip), "-frames:v", "5", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
    assert _planes_bytes(frames) == raw


def test_open_video_whole_clip_count(bikes_clip: Path) -> None:
    info, frames = open_video(bikes_clip)
    assert info.num_frames == sum(1 for _ in frames)


@pytest.mark.parametrize(
    ("pix_fmt", "expected"),
    [
        ("yuv420p10le", PixelFormat.YUV420P10),
        ("yuv444p10le", PixelFormat.YUV444P10),
        ("yuv444p", PixelFormat.YUV444P),
    ],
)
def test_open_video_keeps_supported_layouts_exactly(tmp_path: Path, run_ffmpeg, pix_fmt: str, expected) -> None:
    path = tmp_path / f"{pix_fmt}.mkv"
    run_ffmpeg(*TESTSRC, "-pix_fmt", pix_fmt, "-c:v", "ffv1", str(path))
    info, frames = open_video(path)
    frames = list(frames)
    assert info.pix_fmt is expected
    assert info.fps == Fraction(24000, 1001)
    assert _planes_bytes(frames) == run_ffmpeg("-i", str(path), "-f", "rawvideo", "-")


@pytest.mark.parametrize(
    ("pix_fmt", "expected"),
    [
        ("yuv422p", PixelFormat.YUV420P),
        ("yuv420p12le", PixelFormat.YUV420P10),
        ("gray", PixelFormat.YUV420P),
    ],
)
def test_open_video_converts_other_layouts(tmp_path: Path, run_ffmpeg, pix_fmt: str, expected) -> None:
    path = tmp_path / f"{pix_fmt}.mkv"
    run_ffmpeg(*TESTSRC, "-pix_fmt", pix_fmt, "-c:v", "ffv1", str(path))
    info, frames = open_video(path)
    frames = list(frames)
    assert info.pix_fmt is expected
    assert len(frames) == 3
    assert [p.shape for p in frames[0]] == [(32, 48), (16, 24), (16, 24)]
    assert all(p.dtype == expected.dtype for f in frames for p in f)


def test_open_video_full_range_jpeg(tmp_path: Path, run_ffmpeg) -> None:
    path = tmp_path / "mjpeg.avi"
    run_ffmpeg(*TESTSRC, "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", str(path))
    info, frames = open_video(path)
    assert info.pix_fmt is PixelFormat.YUV420P
    assert info.color_range is ColorRange.FULL
    frames = list(frames)
    assert _planes_bytes(frames) == run_ffmpeg("-i", str(path), "-f", "rawvideo", "-")  # values untouched


def test_open_video_rgb_becomes_bt709_limited_444(tmp_path: Path, run_ffmpeg) -> None:
    path = tmp_path / "rgb.mkv"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=0xFFFFFF:size=16x8:rate=25", "-frames:v", "2",
               "-pix_fmt", "rgb24", "-c:v", "png", str(path))  # fmt: skip
    info, frames = open_video(path)
    frames = list(frames)
    assert (info.pix_fmt, info.matrix, info.color_range) == (PixelFormat.YUV444P, 1, ColorRange.LIMITED)
    y, u, v = frames[0]
    assert abs(int(y.mean()) - 235) <= 1 and abs(int(u.mean()) - 128) <= 1 and abs(int(v.mean()) - 128) <= 1


def test_open_video_reads_colour_tags(tmp_path: Path, run_ffmpeg) -> None:
    path = tmp_path / "tagged.mkv"
    run_ffmpeg(*TESTSRC, "-vf", "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=pc",
               "-c:v", "ffv1", "-pix_fmt", "yuv444p", str(path))  # fmt: skip
    info, _ = open_video(path)
    assert (info.matrix, info.primaries, info.transfer) == (1, 1, 1)


def test_open_video_without_video_stream(tmp_path: Path, run_ffmpeg) -> None:
    path = tmp_path / "tone.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(path))
    with pytest.raises(SourceError, match=r"has no video stream \(audio\)"):
        open_video(path)


def test_open_video_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match=r"junk\.mp4"):
        open_video(junk)


# --------------------------------------------------------------------------- VapourSynth


def test_from_vs_node_reads_props_and_planes() -> None:
    import vapoursynth as vs

    clip = vs.core.std.BlankClip(format=vs.YUV420P10, width=34, height=18, length=3, fpsnum=30000, fpsden=1001,
                                 color=[600, 300, 800])  # fmt: skip
    clip = clip.std.SetFrameProps(_Matrix=9, _Transfer=16, _Primaries=9, _Range=1, _SARNum=4, _SARDen=3)
    info, frames = from_vs_node(clip)
    frames = list(frames)
    assert info == VideoInfo(34, 18, Fraction(30000, 1001), PixelFormat.YUV420P10, ColorRange.FULL,
                             matrix=9, transfer=16, primaries=9, sar=Fraction(4, 3), num_frames=3)  # fmt: skip
    assert len(frames) == 3
    assert [p.shape for p in frames[0]] == [(18, 34), (9, 17), (9, 17)]
    assert [int(p[0, 0]) for p in frames[2]] == [600, 300, 800]
    assert all(p.dtype == np.uint16 and p.flags.writeable for f in frames for p in f)


def test_from_vs_node_real_frames_in_order(bikes_clip: Path) -> None:
    import vapoursynth as vs

    _, src = open_video(bikes_clip, max_frames=4)
    src = list(src)
    blank = vs.core.std.BlankClip(format=vs.YUV444P8, width=640, height=272, length=4, fpsnum=25, fpsden=1)

    def put(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        np.copyto(np.asarray(out[0]), src[n][0])  # luma of frame n
        return out

    info, frames = from_vs_node(blank.std.ModifyFrame(blank, put))
    assert info.pix_fmt is PixelFormat.YUV444P
    assert info.color_range is ColorRange.LIMITED  # no _Range prop
    for n, frame in enumerate(frames):
        np.testing.assert_array_equal(frame[0], src[n][0])


def test_from_vs_node_rejects_unsupported_clips() -> None:
    import vapoursynth as vs

    with pytest.raises(SourceError, match="RGB24 is not supported"):
        from_vs_node(vs.core.std.BlankClip(format=vs.RGB24, width=8, height=8))
    with pytest.raises(SourceError, match="variable frame rate"):
        from_vs_node(vs.core.std.BlankClip(format=vs.YUV420P8, width=8, height=8, fpsnum=0, fpsden=1))
    with pytest.raises(SourceError, match=r"expected a vapoursynth\.VideoNode"):
        from_vs_node("clip.vpy")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Y4M and dispatch


def _write_y4m(path: Path, frames: int = 4) -> VideoInfo:
    info = VideoInfo(16, 8, Fraction(25), PixelFormat.YUV444P)
    with path.open("wb") as f:
        write_y4m(f, info, [info.blank_frame()] * frames)
    return info


def test_open_y4m_path_stream_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "clip.y4m"
    info = _write_y4m(path)
    got, frames = open_y4m(path, max_frames=2)
    assert got.pix_fmt is info.pix_fmt
    assert len(list(frames)) == 2
    got, frames = open_y4m(io.BytesIO(path.read_bytes()))
    assert len(list(frames)) == 4


def test_open_source_dispatch(tmp_path: Path, bikes_clip: Path) -> None:
    y4m = tmp_path / "clip.dat"  # sniffed by content, not by name
    _write_y4m(y4m)
    info, frames = open_source(y4m)
    assert info.pix_fmt is PixelFormat.YUV444P and len(list(frames)) == 4
    info, _ = open_source(bikes_clip, max_frames=2)
    assert (info.width, info.num_frames) == (640, 2)
    with pytest.raises(SourceError, match="does not exist"):
        open_source(tmp_path / "nothing.y4m")
    gnvc = tmp_path / "clip.gnvc"
    gnvc.write_bytes(b"GNVC")
    with pytest.raises(SourceError, match=r"cannot open .*clip\.gnvc as video"):
        open_source(gnvc)  # not the bridge's to read: vsgnvc.api.open_input opens .gnvc (and .vpy)


def test_package_works_without_vapoursynth_and_vsgnvc(bikes_clip: Path) -> None:
    import subprocess
    import sys

    # vapoursynth and vsgnvc made unimportable: the bridge (CLI included) and its non-VapourSynth sources work.
    code = (
        "import sys; sys.modules['vapoursynth'] = None; sys.modules['vsgnvc'] = None\n"
        "import ffmpeg_bridge, ffmpeg_bridge.__main__\n"
        f"info, frames = ffmpeg_bridge.open_video({str(bikes_clip)!r}, max_frames=1)\n"
        "assert len(list(frames)) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
