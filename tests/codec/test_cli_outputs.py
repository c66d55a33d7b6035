"""What the real ``gnvc`` leaves behind and prints: file modes, a closed stdout, log level, ``gnvc ffmpeg``."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ffmpeg_bridge import open_video

UMASK = 0o027  # a new file gets 0o640


@pytest.fixture(scope="module")
def encoded(
    gnvc_cli: list[str], tmp_path_factory: pytest.TempPathFactory, small_clip_y4m: Path, tiny_model_dir: Path
) -> Path:
    out = tmp_path_factory.mktemp("outputs") / "clip.gnvc"
    proc = subprocess.run([*gnvc_cli, "-q", "encode", str(small_clip_y4m), str(out), "--model", str(tiny_model_dir)],
                          capture_output=True, text=True, umask=UMASK, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_get_the_mode_the_umask_gives(
    gnvc_cli: list[str], encoded: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    y4m = tmp_path / "decoded.y4m"
    proc = subprocess.run([*gnvc_cli, "decode", str(encoded), "-o", str(y4m), "--no-refine", "--model",
                           str(tiny_model_dir)], capture_output=True, text=True, umask=UMASK, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # written under a temporary name and renamed: the rename must not carry mkstemp's 0o600
    assert (oct(_mode(encoded)), oct(_mode(y4m))) == (oct(0o640), oct(0o640))
    # the default log level says nothing about loading the model's parts
    assert "loaded Wan prior" not in proc.stderr and proc.stderr.strip() == "", proc.stderr


def _closed_stdout(gnvc_cli: list[str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run gnvc with a stdout whose reader is already gone (as after ``| head -1``)."""
    proc = subprocess.Popen([*gnvc_cli, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=300), b"", err)


def test_a_closed_stdout_ends_quietly_with_sigpipe_status(
    gnvc_cli: list[str], encoded: Path, tiny_model_dir: Path
) -> None:
    info = _closed_stdout(gnvc_cli, "info", "--json", str(encoded))
    assert (info.returncode, info.stderr.decode()) == (141, "")
    decode = _closed_stdout(gnvc_cli, "-v", "decode", str(encoded), "-o", "-", "--no-refine", "--model", str(tiny_model_dir))
    err = decode.stderr.decode()
    assert decode.returncode == 141, err
    assert "error" not in err.lower() and "Traceback" not in err and "Broken pipe" not in err, err
    assert "loaded Wan prior" in err  # debug logging (-v) still reports the model's parts


def _env_without_ffmpeg() -> dict[str, str]:
    """This environment with no ffmpeg on PATH and no GNVC_FFMPEG: gnvc falls back to imageio-ffmpeg's binary."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "ffmpeg").exists()]
    env = {k: v for k, v in os.environ.items() if k != "GNVC_FFMPEG"}
    env["PATH"] = os.pathsep.join(dirs)
    assert shutil.which("ffmpeg", path=env["PATH"]) is None
    return env


def test_gnvc_ffmpeg_runs_the_bundled_ffmpeg_in_a_pipe(
    gnvc_cli: list[str], small_clip_y4m: Path, tmp_path: Path
) -> None:
    # `gnvc decode clip.gnvc -o - | gnvc ffmpeg -i - out.mkv` on a machine without ffmpeg on PATH (y4m from a file
    # here: the decoder's side of that pipe is tested above)
    env = _env_without_ffmpeg()
    out = tmp_path / "out.mkv"
    with small_clip_y4m.open("rb") as y4m:
        ffmpeg = subprocess.run([*gnvc_cli, "ffmpeg", "-v", "error", "-i", "-", "-c:v", "ffv1", str(out)],
                                stdin=y4m, capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert ffmpeg.returncode == 0, ffmpeg.stderr
    info, frames = open_video(out)
    assert (info.width, info.height, len(list(frames))) == (96, 40, 13)


def test_gnvc_ffmpeg_passes_arguments_and_exit_status_through(
    gnvc_cli: list[str], tmp_path: Path, ffmpeg_exe: str
) -> None:
    env = _env_without_ffmpeg()
    missing = str(tmp_path / "missing.mp4")
    args = ["-hide_banner", "-i", missing, "-f", "null", "-"]
    direct = subprocess.run([ffmpeg_exe, *args], capture_output=True, text=True, timeout=60)
    through = subprocess.run([*gnvc_cli, "ffmpeg", *args], capture_output=True, text=True, env=env, timeout=60)
    assert direct.returncode != 0
    # the same binary: the same exit status and message (the log prefix holds a pointer that differs)
    assert (through.returncode, _no_pointers(through.stderr)) == (direct.returncode, _no_pointers(direct.stderr))
    assert missing in through.stderr


def _no_pointers(text: str) -> str:
    return re.sub(r"@ 0x[0-9a-f]+", "@ 0x", text)
