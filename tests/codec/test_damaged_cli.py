"""Real ``gnvc`` processes on real files: a cut-short ``.gnvc`` gives back its complete GOPs, and no file
records where it was made.

A two-GOP file (13 real frames, GOPs of 9 + 4) is cut inside the header, inside GOP 1, exactly after
GOP 1, inside GOP 2, inside the index and inside the trailer. ``gnvc info`` and ``gnvc decode`` keep
what is whole, say in one line what was recovered and lost, and exit 3; a file with nothing
recoverable is an error (exit 2) and leaves no output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge import read_y4m
from tests.support.fuzz_bitstream import map_file
from vsgnvc.codec.decoder import Decoder

EXIT_DAMAGED = 3


def start(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vsgnvc.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
    )


def finish(proc: subprocess.Popen) -> tuple[int, bytes, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err.decode()


def run_all(commands: dict[str, list[str]], cwd: dict[str, Path] | None = None) -> dict[str, tuple[int, bytes, str]]:
    """Start every command at once (each pays the CLI's start-up), then collect them."""
    procs = {name: start(*args, cwd=(cwd or {}).get(name)) for name, args in commands.items()}
    return {name: finish(proc) for name, proc in procs.items()}


def frames_of(y4m: bytes) -> list:
    import io

    _, frames = read_y4m(io.BytesIO(y4m))
    return list(frames)


@pytest.fixture(scope="module")
def encodes(small_clip_y4m: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same clip encoded from two folders, by relative paths from different working directories."""
    root = tmp_path_factory.mktemp("places")
    places = {"a": root / "home" / "alice" / "footage", "b": root / "srv" / "x"}
    commands, cwd = {}, {}
    for name, folder in places.items():
        folder.mkdir(parents=True)
        shutil.copy(small_clip_y4m, folder / f"{name}_clip.y4m")
        commands[name] = ["-q", "encode", f"{name}_clip.y4m", "out.gnvc", "--model", str(tiny_model_dir)]
        cwd[name] = folder
    results = run_all(commands, cwd)
    for name, (code, _, err) in results.items():
        assert code == 0, err
    return {name: folder / "out.gnvc" for name, folder in places.items()}


def test_the_same_clip_encodes_to_the_same_bytes_from_any_folder(encodes: dict[str, Path]) -> None:
    a, b = encodes["a"].read_bytes(), encodes["b"].read_bytes()
    assert a == b
    for secret in (b"alice", b"footage", b"srv", b"clip.y4m", str(encodes["a"].parent.parent).encode()):
        assert secret not in a


CUTS = {  # where to cut: (offset from the file map, frames recovered)
    "inside the header": (lambda m: m.header_payload_at + 20, None),
    "inside GOP 1": (lambda m: m.chunks[0][0] + m.chunks[0][1] // 2, 0),
    "exactly after GOP 1": (lambda m: m.chunks[1][0], 9),
    "inside GOP 2": (lambda m: m.chunks[1][0] + m.chunks[1][1] // 2, 9),
    "inside the index": (lambda m: m.index_at + 10, 13),
    "inside the trailer": (lambda m: m.trailer_at + 10, 13),
}


@pytest.fixture(scope="module")
def cut_files(encodes: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    data = encodes["a"].read_bytes()
    fmap = map_file(data)
    assert [size for _, size in fmap.chunks] and len(fmap.chunks) == 2
    folder = tmp_path_factory.mktemp("cut")
    out = {}
    for name, (offset, _) in CUTS.items():
        out[name] = folder / f"{name.replace(' ', '_')}.gnvc"
        out[name].write_bytes(data[: offset(fmap)])
    return out


def test_info_reports_the_damage(cut_files: dict[str, Path], encodes: dict[str, Path]) -> None:
    commands = {name: ["info", "--json", str(path)] for name, path in cut_files.items()}
    commands["intact"] = ["info", "--json", str(encodes["a"])]
    results = run_all(commands)
    code, out, err = results.pop("intact")
    assert code == 0 and json.loads(out)["damage"] is None and err == ""
    for name, (code, out, err) in results.items():
        recovered = CUTS[name][1]
        lines = err.strip().splitlines()
        assert "Traceback" not in err and len(lines) == 1, (name, err)
        if recovered is None:  # no header: nothing to report but the error
            assert code == 2 and lines[0].startswith("gnvc: error: ") and out == b"", name
            continue
        assert code == EXIT_DAMAGED, (name, err)
        report = json.loads(out)
        assert report["damage"]["frames_recovered"] == recovered, name
        assert sum(g["frames"] for g in report["gops"]) == recovered and report["frames"] == 13
        summary = f"gnvc: error: {cut_files[name]} is damaged: "
        summary += "all 13 frames recovered; " if recovered == 13 else f"{recovered} of 13 frames recovered ("
        assert lines[0].startswith(summary), (name, lines[0])
        if recovered < 13:
            assert f"frames {recovered}-12 lost; first problem: " in lines[0]


def test_decode_keeps_every_complete_gop(
    cut_files: dict[str, Path], encodes: dict[str, Path], tiny_model_dir, tiny_model, tmp_path
) -> None:
    model = ["--model", str(tiny_model_dir), "--no-refine"]
    outputs = {name: tmp_path / f"{name.replace(' ', '_')}.y4m" for name in ("inside GOP 1", "inside the index")}
    commands = {name: ["decode", str(cut_files[name]), "-o", str(out), *model] for name, out in outputs.items()}
    commands["inside GOP 2"] = ["decode", str(cut_files["inside GOP 2"]), "-o", "-", *model]  # y4m on stdout
    procs = {name: start(*args) for name, args in commands.items()}
    with Decoder(encodes["a"], tiny_model, "cpu", refine=False) as decoder:
        intact = list(decoder.frames())
    results = {name: finish(proc) for name, proc in procs.items()}
    assert len(intact) == 13

    code, _, err = results["inside GOP 1"]  # no complete GOP: an error, and no output file
    assert code == 2 and "0 of 13 frames recovered" in err and "nothing to decode" in err
    assert not outputs["inside GOP 1"].exists()

    code, out, err = results["inside GOP 2"]
    summary = f"{cut_files['inside GOP 2']} is damaged: 9 of 13 frames recovered (1 complete GOP), frames 9-12 lost"
    assert code == EXIT_DAMAGED and err.strip().splitlines()[-1].startswith(f"gnvc: error: {summary}"), err
    got = frames_of(out)
    assert len(got) == 9
    assert all(np.array_equal(a, b) for f, g in zip(got, intact[:9], strict=True) for a, b in zip(f, g, strict=True))

    code, _, err = results["inside the index"]  # every frame is whole; the file is still reported
    assert code == EXIT_DAMAGED and "is damaged: all 13 frames recovered" in err
    got = frames_of(outputs["inside the index"].read_bytes())
    assert all(np.array_equal(a, b) for f, g in zip(got, intact, strict=True) for a, b in zip(f, g, strict=True))
