"""Interrupted runs of real ``gnvc`` processes: nothing at the output path, existing files kept, Ctrl-C exits 130."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# One torch thread: the CI machine has 2 loaded cores, and spinning OpenMP threads make every run slower.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
WAIT_S = 120.0


def gnvc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vsgnvc.cli.main", "-q", *args]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def wait_for(predicate, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(
                f"process ended (code {proc.returncode}) before {what}: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def default_sigint() -> None:
    # A background job of a non-interactive shell starts with SIGINT ignored, and children inherit that;
    # a terminal's Ctrl-C reaches processes whose SIGINT disposition is the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def hidden_temp(folder: Path) -> bool:
    return any(p.name.startswith(".") for p in folder.iterdir())


@pytest.fixture(scope="module")
def long_clip(clip_factory) -> Path:
    return clip_factory(150, "64x48")


@pytest.fixture(scope="module")
def long_gnvc(long_clip: Path, tiny_model, tmp_path_factory, one_thread) -> Path:
    from vsgnvc.api import encode_file

    out = tmp_path_factory.mktemp("long") / "long.gnvc"
    with one_thread():
        encode_file(long_clip, out, tiny_model, device="cpu", progress=False)
    return out


def test_sigkill_during_encode_leaves_nothing_at_the_output(long_clip, tiny_model_dir, tmp_path):
    """SIGKILL at random points (before and while GOPs are written): no file at the path, only hidden temp files."""
    rng = random.Random(11)
    for attempt in range(2):
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        out = folder / "out.gnvc"
        proc = subprocess.Popen(
            gnvc_cmd("encode", str(long_clip), str(out), "--model", str(tiny_model_dir)),
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if attempt > 0:  # 0: during start-up; then while the hidden temporary files exist
            wait_for(lambda f=folder: hidden_temp(f), proc, "the temporary file")
        time.sleep(rng.uniform(0.0, 0.5))
        proc.kill()
        proc.wait(30)
        assert not out.exists()
        for name in leftovers(folder, set()):
            # clearly named, hidden temporaries: the writer's and the spool of a y4m input of unknown length
            assert name.startswith((".out.gnvc.", ".gnvc-spool.")) and name.endswith((".partial", ".y4m")), name


@pytest.mark.parametrize("command", ["encode", "decode-y4m", "decode-ffmpeg"])
def test_ctrl_c_exits_130_with_one_line_and_no_output(command, long_clip, long_gnvc, tiny_model_dir, tmp_path):
    """SIGINT to the whole process group (what a terminal's Ctrl-C does; ffmpeg gets it too)."""
    model = ["--model", str(tiny_model_dir)]
    if command == "encode":
        out = tmp_path / "out.gnvc"
        args = ["encode", str(long_clip), str(out), *model]
    elif command == "decode-y4m":
        out = tmp_path / "out.y4m"
        args = ["decode", str(long_gnvc), "-o", str(out), *model]
    else:
        out = tmp_path / "out.mp4"
        args = ["decode", str(long_gnvc), *model, "--ffmpeg", "-c:v", "libx264", "-preset", "ultrafast", str(out)]
    proc = subprocess.Popen(
        gnvc_cmd(*args), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint,
    )  # fmt: skip
    wait_for(lambda: hidden_temp(tmp_path), proc, "the temporary output")
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("gnvc did not end after SIGINT")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert proc.returncode == 130, stderr
    assert lines == ["gnvc: interrupted"], stderr
    assert not out.exists()
    assert leftovers(tmp_path, set()) == []  # temporaries removed on the way out


@pytest.mark.parametrize("command", ["decode-y4m", "decode-ffmpeg", "enhance"])
def test_existing_output_is_kept_without_overwrite(
    command, long_gnvc, small_clip_y4m, tiny_model_dir, tmp_path, capfd, gnvc_main
):
    """The check runs before any work.

    ``gnvc encode`` is covered by tests/codec/test_cli.py::test_existing_output_is_not_overwritten.
    """

    model = ["--model", str(tiny_model_dir)]
    out = tmp_path / ("out.mp4" if command == "decode-ffmpeg" else "out.y4m")
    out.write_bytes(b"precious")
    if command == "decode-y4m":
        args = ["decode", str(long_gnvc), "-o", str(out), *model]
    elif command == "decode-ffmpeg":
        args = ["decode", str(long_gnvc), *model, "--ffmpeg", "-c:v", "libx264", str(out)]
    else:
        args = ["enhance", str(small_clip_y4m), str(out), *model]
    assert gnvc_main(["-q", *args]) == 2
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gnvc: error:") and "--overwrite" in lines[0], lines
    assert out.read_bytes() == b"precious"


def test_vspipe_render_of_vsgnvc_encode_interrupted(clip_factory, tiny_model_dir, tmp_path):
    """``vspipe`` rendering ``vsgnvc.encode`` (the filter writes the .gnvc) stopped by Ctrl-C: nothing at the path.

    vspipe ends on SIGINT with its own exit code and without running Python's cleanup, so the writer's
    hidden temporary file stays; it is never at, or renamed to, the output path.
    """
    vspipe = Path(sys.executable).with_name("vspipe")
    if not vspipe.exists():
        pytest.skip("vspipe is not installed next to this Python")
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "out.gnvc"
    script = tmp_path / "encode.vpy"
    script.write_text(
        "from vsgnvc.vs import encode, load_video\n"
        f"encode(load_video({str(clip_factory(300, '64x48'))!r}), {str(out)!r}, "
        f"model_path={str(tiny_model_dir)!r}).set_output()\n"
    )
    proc = subprocess.Popen(
        [str(vspipe), str(script), "-"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint,
    )  # fmt: skip
    wait_for(lambda: hidden_temp(folder), proc, "the temporary output")
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("vspipe did not end after SIGINT")
    assert not out.exists()  # vspipe's exit code is its own (0 and 1 observed with R81)
    assert all(name.startswith(".out.gnvc.") and name.endswith(".partial") for name in leftovers(folder, set()))
