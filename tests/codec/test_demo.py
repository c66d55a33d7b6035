"""``gnvc demo``'s speed figures: a median over repeated runs, with what they include said next to them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from vsgnvc.cli.demo import SPEED_RUNS, Speed, measure_speed
from vsgnvc.codec.presets import preset_search


def test_speed_is_the_median_of_the_runs() -> None:
    # one slow outlier run (the machine was busy) does not move the figure
    speed = Speed.median_of([(5.0, 0.4), (0.7, 2.9), (5.4, 0.38)])
    assert (speed.fps, speed.cpu_s_per_frame, speed.runs) == (5.0, 0.4, 3)


def test_measure_speed_times_every_phase_on_real_files(
    tiny_model, small_clip_y4m: Path, ffmpeg_exe: str, tmp_path: Path
) -> None:
    five = tmp_path / "five.y4m"
    subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(small_clip_y4m), "-frames:v", "5", "-f", "yuv4mpegpipe",
                    str(five)], check=True)  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    speeds = measure_speed(tiny_model, five, 1, work, preset_search("slow"), runs=SPEED_RUNS)
    assert list(speeds) == ["encode", "decode", "decode+refine"]
    for name, speed in speeds.items():
        assert speed.runs == (1 if name == "encode" else SPEED_RUNS) and speed.fps > 0 and speed.cpu_s_per_frame > 0
    assert list(work.iterdir()) == []  # the timed runs' .gnvc is removed


@pytest.mark.slow
def test_demo_prints_the_steady_figures(gnvc_cli: list[str], tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run([*gnvc_cli, "-q", "demo", "--out", str(out), "--frames", "9", "--size", "64x48", "--model",
                           str(tiny_model_dir)], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"on 9 frames, decodes the median of {SPEED_RUNS} runs" in proc.stdout and "preset slow" in proc.stdout
    assert "process start-up and model loading not" in proc.stdout
    speed = json.loads((out / "summary.json").read_text())["speed"]
    assert sorted(speed) == ["decode", "decode+refine", "encode"] and speed["decode"]["runs"] == SPEED_RUNS
