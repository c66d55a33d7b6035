"""Refined output is bit-identical run to run, across processes and torch thread counts.

Decoding is covered elsewhere:

- tests/codec/test_roundtrip.py::test_decode_in_other_process_and_thread_count_is_bit_identical decodes
  (refined, as the bitstream asks) in separate processes with 1 and 2 threads;
- tests/codec/test_refined_decode.py::test_refinement_changes_output_and_is_deterministic repeats a refined
  decode in one process.

This adds enhance-only refinement through the CLI: one run here on one thread, one in another process on two
threads, same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys


def test_enhance_is_bit_identical_across_processes_and_threads(
    small_clip_y4m, tiny_model_dir, tmp_path, one_thread, gnvc_main
):
    here, there = tmp_path / "here.y4m", tmp_path / "there.y4m"
    args = ["-q", "enhance", str(small_clip_y4m), "--frames", "9", "--model", str(tiny_model_dir)]
    with one_thread():
        assert gnvc_main([*args[:3], str(here), *args[3:]]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-m", "vsgnvc.cli.main", *args[:3], str(there), *args[3:]],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = here.read_bytes()
    assert len(data) > 9 * 96 * 40 and data == there.read_bytes()
