"""Relative paths given to the example scripts through the real ``vspipe`` mean what the user meant.

vspipe changes into the script's folder before running it, so ``-a src=clips/clip.gnvc`` used to be read
from ``examples/clips/clip.gnvc``. Every example resolves its path arguments against the folder vspipe was
started in (``vsgnvc.vs.script_args``), and a missing file is reported with the absolute path tried.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def work(tmp_path: Path, encoded: Path, small_clip_y4m: Path, model_dir: Path, repo: Path) -> Path:
    """A user's folder: clips/ with a .gnvc and a video, models/tiny, and a copy of examples/."""
    (tmp_path / "clips").mkdir()
    shutil.copy(encoded, tmp_path / "clips" / "clip.gnvc")
    shutil.copy(small_clip_y4m, tmp_path / "clips" / "in.y4m")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny").symlink_to(model_dir)
    shutil.copytree(repo / "examples", tmp_path / "examples")
    return tmp_path


def _vspipe_args(vspipe: str, args: dict[str, str], script: str, output: str) -> list[str]:
    cmd = [vspipe, *(["-i"] if output == "-i" else ["-c", "y4m"])]
    for key, value in args.items():
        cmd += ["-a", f"{key}={value}"]
    return [*cmd, script, *([] if output == "-i" else [output])]


def in_shell(vspipe: str, folder: Path, args: dict[str, str], script: str, output: str = "-i"):
    """``cd folder && vspipe ...`` in bash, as a user types it (bash sets PWD)."""
    line = f"cd {shlex.quote(str(folder))} && {shlex.join(_vspipe_args(vspipe, args, script, output))}"
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=300)


REL = {"model": "models/tiny"}


def test_compare_example_reads_relative_paths_from_where_vspipe_started(vspipe, repo, work):
    # absolute script path, started from a shell in `work`
    args = {"src": "clips/in.y4m", "gnvc": "clips/clip.gnvc", **REL}
    proc = in_shell(vspipe, work, args, str(repo / "examples" / "compare.vpy"))
    assert proc.returncode == 0, proc.stderr
    assert "Frames: 13" in proc.stdout and "Height: 120" in proc.stdout


def test_encode_example_writes_a_relative_out_where_vspipe_started(vspipe, repo, work):
    # relative script path (a copy of examples/ in the user's folder)
    args = {"src": "clips/in.y4m", "out": "clips/new.gnvc", "frames": "5", **REL}
    proc = in_shell(vspipe, work, args, "examples/encode.vpy", output="/dev/null")
    assert proc.returncode == 0, proc.stderr
    assert (work / "clips" / "new.gnvc").stat().st_size > 0
    assert not (work / "examples" / "clips").exists()


def test_enhance_example_run_from_its_own_folder(vspipe, work):
    args = {"src": "../clips/in.y4m", "frames": "5", "model": "../models/tiny"}
    proc = in_shell(vspipe, work / "examples", args, "enhance.vpy")
    assert proc.returncode == 0, proc.stderr
    assert "Frames: 5" in proc.stdout


def test_decode_example_names_the_path_it_tried_without_a_shell(vspipe, work):
    # Started by another program in `work`, whose PWD is stale: the script path as typed tells the folder.
    env = {**os.environ, "PWD": "/"}
    cmd = _vspipe_args(vspipe, {"src": "clips/missing.gnvc", **REL}, "examples/decode.vpy", "-i")
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"gnvc.decode: {work / 'clips' / 'missing.gnvc'} does not exist" in proc.stderr, proc.stderr
