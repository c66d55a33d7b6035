"""gnvc decode/enhance into real ffmpeg outputs, read back with PyAV."""

import subprocess
import sys

import av
import pytest


def frames_of(path) -> tuple[int, int, int, object]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return n, s.codec_context.width, s.codec_context.height, s.average_rate


@pytest.fixture(scope="module")
def gnvc_file(small_clip_y4m, tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "c.gnvc"
    cmd = [sys.executable, "-m", "vsgnvc.cli.main", "-q", "encode", str(small_clip_y4m), str(out), "--model", str(tiny_model_dir)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def test_decode_one_process_ffmpeg_form(gnvc_file, tiny_model_dir, tmp_path):
    mp4 = tmp_path / "out.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "vsgnvc.cli.main", "-q", "decode", str(gnvc_file), "--model", str(tiny_model_dir),
         "--ffmpeg", "-c:v", "libx264", "-crf", "18", str(mp4)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert frames_of(mp4)[:3] == (13, 96, 40)


def test_decode_ffmpeg_bad_arguments_is_clear(gnvc_file, tiny_model_dir, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vsgnvc.cli.main", "-q", "decode", str(gnvc_file), "--model", str(tiny_model_dir),
         "--ffmpeg", "-c:v", "no_such_codec", str(tmp_path / "x.mp4")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "gnvc: error:" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_enhance_keeps_count_size_fps(small_clip_y4m, tiny_model_dir, tmp_path):
    out = tmp_path / "enh.mkv"
    proc = subprocess.run(
        [sys.executable, "-m", "vsgnvc.cli.main", "-q", "enhance", str(small_clip_y4m), str(out),
         "--model", str(tiny_model_dir), "--ffmpeg", "-c:v", "ffv1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    n, w, h, fps = frames_of(out)
    assert (n, w, h, fps) == (13, 96, 40, 25)
