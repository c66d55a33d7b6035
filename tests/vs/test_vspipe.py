"""The example scripts through the real pipeline: ``vspipe -c y4m script.vpy - | ffmpeg -i - out.mkv``."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from ffmpeg_bridge import open_video, open_y4m


def pipe(vspipe: str, ffmpeg: str, repo: Path, script: str, args: dict[str, object], out: Path) -> str:
    """Run vspipe into ffmpeg (lossless FFV1, so frames can be compared exactly); returns vspipe's stderr."""
    cmd = [vspipe, "-c", "y4m"]
    for key, value in args.items():
        cmd += ["-a", f"{key}={value}"]
    vsp = subprocess.Popen(
        [*cmd, str(repo / "examples" / script), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo
    )
    ff = subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", "-", "-c:v", "ffv1", str(out)],
        stdin=vsp.stdout,
        capture_output=True,
        timeout=180,
    )
    vsp.stdout.close()  # type: ignore[union-attr]
    err = vsp.stderr.read().decode()  # type: ignore[union-attr]
    assert vsp.wait(timeout=60) == 0, err
    assert ff.returncode == 0, ff.stderr.decode()
    return err


def read_back(path: Path):
    info, frames = open_video(path)
    return info, list(frames)


def check_video(path: Path, frames: int = 13, size: tuple[int, int] = (96, 40)):
    info, got = read_back(path)
    assert len(got) == frames
    assert (info.width, info.height) == size
    assert info.fps == Fraction(25)
    return got


def test_decode_script(vspipe, ffmpeg_exe, repo, encoded, model_dir, tmp_path):
    out = tmp_path / "decoded.mkv"
    err = pipe(vspipe, ffmpeg_exe, repo, "decode.vpy", {"src": encoded, "model": model_dir}, out)
    assert "refined" in err
    check_video(out)


def test_decode_script_on_a_truncated_file(vspipe, ffmpeg_exe, repo, encoded, model_dir, tmp_path):
    """A partial download through vspipe: the complete GOPs come out, and stderr says what was lost."""
    data = encoded.read_bytes()
    truncated = tmp_path / "partial.gnvc"
    truncated.write_bytes(data[: len(data) - 100])  # GOP 1's chunk, the index and trailer are cut
    out = tmp_path / "decoded.mkv"
    err = pipe(vspipe, ffmpeg_exe, repo, "decode.vpy", {"src": truncated, "model": model_dir, "refine": 0}, out)
    assert f"Warning: gnvc.decode: {truncated} is damaged: 9 of 13 frames recovered" in err
    check_video(out, frames=9)


def test_encode_script_then_cli_decode(vspipe, ffmpeg_exe, repo, small_clip_y4m, model_dir, tmp_path):
    gnvc, recon = tmp_path / "clip.gnvc", tmp_path / "recon.mkv"
    pipe(vspipe, ffmpeg_exe, repo, "encode.vpy", {"src": small_clip_y4m, "out": gnvc, "model": model_dir}, recon)
    assert gnvc.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gnvc", "recon.mkv"]  # no temporary file left
    from_filter = check_video(recon)
    y4m = tmp_path / "cli.y4m"
    cli = [
        sys.executable,
        "-m",
        "vsgnvc.cli.main",
        "-q",
        "decode",
        str(gnvc),
        "-o",
        str(y4m),
        "--model",
        str(model_dir),
    ]
    subprocess.run([*cli, "--no-refine"], check=True, capture_output=True, timeout=180)
    _, frames = open_y4m(y4m)
    from_cli = list(frames)
    assert len(from_cli) == 13
    assert same(from_filter, from_cli), "gnvc decode --no-refine differs from the encode filter's reconstruction"


def same(a, b) -> bool:
    return all(all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)) for fa, fb in zip(a, b, strict=True))


def test_partial_vspipe_render_leaves_nothing(vspipe, repo, small_clip_y4m, model_dir, tmp_path):
    gnvc = tmp_path / "partial.gnvc"
    cmd = [vspipe, "-e", "5", "-a", f"src={small_clip_y4m}", "-a", f"out={gnvc}", "-a", f"model={model_dir}"]
    run = subprocess.run(
        [*cmd, str(repo / "examples" / "encode.vpy"), "--"], capture_output=True, timeout=180, cwd=repo
    )
    assert run.returncode == 0, run.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_enhance_script(vspipe, ffmpeg_exe, repo, small_clip_y4m, model_dir, tmp_path):
    out = tmp_path / "enhanced.mkv"
    pipe(vspipe, ffmpeg_exe, repo, "enhance.vpy", {"src": small_clip_y4m, "model": model_dir, "frames": 11}, out)
    check_video(out, frames=11)
