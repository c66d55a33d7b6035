"""500 mutated real .gnvc files, each decoded to frames in a worker: clean or GNVCFormatError, nothing else.

Extends ``tests/bitstream/test_fuzz.py`` (the container reader alone) to the whole decoder; the 10,000-case
run is ``benchmarks/fuzz_gnvc.py``.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.fuzz_bitstream import Outcome
from tests.support.fuzz_codec import ALL_KINDS, CODEC_MUTATORS, WorkerConfig, run_codec_fuzz

CASES = 500
TIME_LIMIT_S = 10.0  # per case; a case takes ~0.1 s on one thread, the CI machine is loaded
PEAK_RSS_LIMIT_MB = 4096  # the worker idles at ~0.9 GB; 4096x48 size rewrites reach ~1.4 GB


def test_decoder_fuzz(fuzz_inputs: list[Path], tiny_model_dir: Path, tmp_path: Path) -> None:
    config = WorkerConfig(tiny_model_dir, time_limit=TIME_LIMIT_S)
    report = run_codec_fuzz(fuzz_inputs, CASES, seed=2025, scratch=tmp_path / "case.gnvc", config=config)
    bugs = "\n\n".join(f"[{r.kind}] {r.outcome}: {r.detail[-3000:]}" for r, _ in report.bugs[:3])
    assert not report.bugs, bugs
    assert report.cases == CASES and report.restarts == 0
    assert set(report.by_kind) == set(ALL_KINDS)  # every mutation kind ran
    # the codec-level mutations keep the container valid: many reach the entropy decoder and the VAE
    codec_decoded = sum(
        c[Outcome.CLEAN_SAME] + c[Outcome.CLEAN_CHANGED] for k, c in report.by_kind.items() if k in CODEC_MUTATORS
    )
    assert codec_decoded > 0.3 * sum(sum(report.by_kind[k].values()) for k in CODEC_MUTATORS)
    assert report.outcomes[Outcome.FORMAT_ERROR] > 0.4 * CASES
    # damaged strings must actually change what comes out (the decoder does not ignore them)
    assert report.by_kind["string_replace"][Outcome.CLEAN_CHANGED] > 0
    assert report.peak_rss_kb < PEAK_RSS_LIMIT_MB * 1024
