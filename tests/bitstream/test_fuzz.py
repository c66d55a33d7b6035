"""500 seeded fuzz cases: a damaged file reads cleanly or raises GNVCFormatError, within a time limit."""

from __future__ import annotations

from pathlib import Path

from tests.support.fuzz_bitstream import DETERMINISTIC_REJECTS, MUTATORS, Outcome, run_fuzz, synthetic_files

CASES = 500
TIME_LIMIT_S = 1.0


def test_fuzz(tmp_path: Path) -> None:
    files = [p.read_bytes() for p in synthetic_files(tmp_path, seed=2024)]
    report = run_fuzz(files, CASES, seed=2024, scratch=tmp_path / "case.gnvc", time_limit=TIME_LIMIT_S)
    bugs = "\n\n".join(f"[{r.kind}] {r.outcome}: {r.detail}" for r, _ in report.bugs[:3])
    assert not report.bugs, bugs
    assert report.cases == CASES
    assert set(report.by_kind) == set(MUTATORS)  # every mutation kind ran
    assert report.outcomes[Outcome.FORMAT_ERROR] > 0.8 * CASES
    for kind in DETERMINISTIC_REJECTS:
        assert set(report.by_kind[kind]) == {Outcome.FORMAT_ERROR}, kind
    # a valid-but-different file can only come from a rewritten in-range field or a same-header splice
    changed = {kind for kind, counts in report.by_kind.items() if counts[Outcome.CLEAN_CHANGED]}
    assert changed <= {"rewrite_field", "splice_chunk"}
    assert report.slowest is not None and report.slowest.seconds < TIME_LIMIT_S
    # every case was also read by the salvaging reader, which kept only original GOPs (else a bug above),
    # and it recovered GOPs from damaged files of the kinds that leave whole chunks in place
    assert {"truncate", "bitflip", "append", "delete"} <= set(report.salvaged)
