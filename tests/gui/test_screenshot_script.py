"""``gui/screenshot.sh``: writes where it is told, and never installs packages without asking.

The installer is never really run here: ``apt-get`` and ``sudo`` on the test's PATH are stand-ins that
only record that they were called (and succeed), so the tests see whether the script would have installed.
"""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "gui" / "screenshot.sh"
INSTALL_LINE = "apt-get install -y xvfb"


@pytest.fixture
def env_without_xvfb(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment where Xvfb is missing, with recording stand-ins for apt-get and sudo first on PATH."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "installer-called"
    bin_dir.mkdir()
    for name in ("apt-get", "sudo"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\n')
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "XVFB": str(tmp_path / "no-such-Xvfb")}  # fmt: skip
    return env, marker


def test_missing_tools_print_the_command_and_install_nothing(env_without_xvfb, tmp_path: Path) -> None:
    env, marker = env_without_xvfb
    out = tmp_path / "shots"
    proc = subprocess.run(["bash", str(SCRIPT), "--out", str(out)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert INSTALL_LINE in proc.stderr and f"screenshots go to {out}" in proc.stderr
    assert not marker.exists(), marker.read_text()
    assert not out.exists()


def _run_at_terminal(cmd: list[str], env: dict[str, str], cwd: Path, answer: bytes) -> tuple[int, str]:
    """Run ``cmd`` with a pseudo-terminal as stdin and stderr; type ``answer`` once it asks."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.DEVNULL, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the script ended
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer)
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    return proc.wait(timeout=60), seen.decode(errors="replace")


def test_at_a_terminal_it_asks_first(env_without_xvfb, tmp_path: Path) -> None:
    env, marker = env_without_xvfb
    cmd = ["bash", str(SCRIPT), "--out", str(tmp_path / "shots")]
    code, text = _run_at_terminal(cmd, env, tmp_path, b"n\n")
    assert code == 1 and "Run this now? [y/N]" in text and INSTALL_LINE in text, text
    assert not marker.exists()
    # yes: the printed command runs (then the missing XVFB stops the script)
    code, text = _run_at_terminal(cmd, env, tmp_path, b"y\n")
    assert code == 1, text
    assert INSTALL_LINE in marker.read_text()


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


@pytest.mark.slow
def test_screenshots_go_to_the_out_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The real app under Xvfb (needs xvfb and Qt's xcb libraries installed)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    tracked = _digests(REPO / "docs" / "img")
    proc = subprocess.run(["bash", str(SCRIPT), "--out", "shots", "--model", str(tiny_model_dir)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=tmp_path, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "shots").glob("*.png")) == [
        "preview_error.png", "preview_refined.png", "preview_split_source_decoded.png", "preview_vpy_split.png",
        "preview_zoom_refined_6x.png",
    ]  # fmt: skip
    assert _digests(REPO / "docs" / "img") == tracked
