"""Argument and path errors of the real ``gnvc`` command: one clear line, exit 2, and no torch imported.

Torch and the model take seconds to load; these errors must not wait for them. The check is what the
process imported, not a timing (benchmarks/bench_startup.py measures the time).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY_MODULES = ("torch", "diffusers", "vapoursynth", "av")


def run_gnvc(gnvc_cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gnvc_cli, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, small_clip_y4m: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fast_errors")
    existing = folder / "existing.gnvc"
    existing.write_bytes(b"precious")
    return {"dir": folder, "existing": existing, "clip": small_clip_y4m, "missing": folder / "missing.mp4"}


def _cases(f: dict[str, Path], model: Path) -> list[tuple[list[str], str]]:
    missing, clip, out = str(f["missing"]), str(f["clip"]), str(f["dir"] / "out.gnvc")
    m = ["--model", str(model)]
    return [
        # the same missing-file message from every command
        (["info", missing], f"input file {missing} does not exist"),
        (["decode", missing, "-o", str(f["dir"] / "o.y4m")], f"input file {missing} does not exist"),
        (["encode", missing, out], f"input file {missing} does not exist"),
        (["enhance", missing, str(f["dir"] / "o.y4m")], f"input file {missing} does not exist"),
        (["info", str(f["dir"])], f"input {f['dir']} is not a file"),
        (["encode", clip, out, "--rate", "99", *m], "--rate must be in 0..3 for this model, got 99"),
        (["encode", clip, out, "--rate", "-1", *m], "--rate must be in 0..3"),
        (["demo", "--rate", "7", "--model", str(model)], "--rate must be in 0..3"),
        (["encode", clip, out, "--gop", "10", *m], "1 + 4k"),
        (["encode", clip, out, "--frames", "0", *m], "--frames must be >= 1"),
        (["encode", clip, out, "--resize", "320by180", *m], "size must look like 320x180"),
        (["encode", clip, out, "--matrix", "nonsense", *m], "--matrix 'nonsense'"),
        (["encode", clip, out, "--target-bpp", "-1", *m], "--target-bpp must be positive"),
        (["encode", clip, out, "--preset", "placebo", *m], "--preset must be one of fast, medium, slow, got 'placebo'"),
        (["encode", clip, str(f["existing"]), *m], "exists; pass --overwrite"),
        (["encode", clip, str(f["dir"] / "no" / "out.gnvc"), *m], f"output folder {f['dir'] / 'no'} does not exist"),
        (["encode", clip, out, "--model", str(f["dir"])], "is not a vsgnvc model folder"),
        (["encode", clip, out, "--prior", str(f["missing"]), *m], "--prior"),
        (["decode", clip, "-o", str(f["dir"] / "o.y4m"), "--strength", "1.5", *m], "--strength must be in (0, 1)"),
        (["decode", clip], "give an output"),
        (["enhance", clip, str(f["dir"] / "o.y4m"), "--steps", "0", *m], "--steps must be >= 1"),
        (["train", missing, "--run", str(f["dir"] / "run")], f"config {missing} does not exist"),
    ]


def test_bad_arguments_and_paths_fail_with_one_line(
    gnvc_cli: list[str], files: dict[str, Path], tiny_model_dir: Path
) -> None:
    for args, message in _cases(files, tiny_model_dir):
        proc = run_gnvc(gnvc_cli, *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (args, proc.stderr)
        assert lines == [f"gnvc: error: {lines[0].removeprefix('gnvc: error: ')}"], (args, proc.stderr)
        assert message in lines[0], (args, lines[0])
        assert "Errno" not in lines[0] and proc.stdout == ""
    assert files["existing"].read_bytes() == b"precious"
    assert sorted(p.name for p in files["dir"].iterdir()) == ["existing.gnvc"]  # nothing written


def test_argument_errors_do_not_import_torch(files: dict[str, Path], tiny_model_dir: Path) -> None:
    # In one subprocess: run main() on every bad case, then report which heavy modules were imported.
    cases = [args for args, _ in _cases(files, tiny_model_dir)]
    code = (
        "import json, sys\n"
        "from vsgnvc.cli.main import main\n"
        f"codes = [main(args) for args in {cases!r}]\n"
        f"print(json.dumps([codes, [m for m in {HEAVY_MODULES!r} if m in sys.modules]]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    codes, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert codes == [2] * len(cases)
    assert imported == [], f"argument errors imported {imported}"
