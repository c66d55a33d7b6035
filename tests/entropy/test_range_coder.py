"""The range coder on integer tables: exact round trips, escapes, a pinned byte format, damaged strings."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import pytest
import torch

from vsgnvc.entropy.range_coder import (
    PRECISION,
    SYMBOL_LIMIT,
    CategoricalTables,
    frequencies_from_pmf,
    to_symbols,
)


def gaussian_like_tables(num_tables: int = 5) -> CategoricalTables:
    pmfs, minima = [], []
    for t in range(num_tables):
        half = 1 + 3 * t
        x = torch.arange(-half, half + 1, dtype=torch.float64)
        p = torch.exp(-0.5 * (x / (0.4 + t)) ** 2)
        pmfs.append(torch.cat([p / p.sum() * (1 - 1e-6), torch.tensor([1e-6], dtype=torch.float64)]))
        minima.append(-half)
    width = max(len(p) for p in pmfs)
    freqs = torch.zeros(num_tables, width, dtype=torch.int32)
    for t, p in enumerate(pmfs):
        freqs[t, : len(p)] = frequencies_from_pmf(p).int()
    return CategoricalTables(freqs, torch.tensor(minima), torch.tensor([len(p) - 1 for p in pmfs]))


def test_frequencies_are_positive_exact_and_close_to_the_pmf():
    pmf = torch.tensor([0.7, 0.2, 0.0999, 1e-9, 1e-4], dtype=torch.float64)
    freqs = frequencies_from_pmf(pmf)
    assert freqs.sum() == 1 << PRECISION and freqs.min() >= 1
    q = freqs.double() / (1 << PRECISION)
    assert torch.allclose(q[:3], pmf[:3], atol=1e-4)
    with pytest.raises(ValueError, match="does not fit"):
        frequencies_from_pmf(torch.ones(1 << PRECISION))


def test_round_trip_with_escapes_and_table_grouping():
    tables = gaussian_like_tables()
    torch.manual_seed(0)
    table = torch.randint(0, 5, (3, 17, 11))
    values = torch.round(torch.randn(3, 17, 11) * (table + 0.5).double())
    # far outside every table, in both directions, up to the clamp limit
    values.view(-1)[:6] = torch.tensor([40.0, -40.0, SYMBOL_LIMIT, -SYMBOL_LIMIT, 16.0, -17.0])
    data = tables.encode(values, table)
    assert len(data) % 4 == 0
    decoded = tables.decode(data, table)
    assert decoded.dtype == torch.int64 and decoded.shape == table.shape
    assert torch.equal(decoded.double(), values)


def test_empty_input_and_bad_arguments():
    tables = gaussian_like_tables()
    empty = torch.zeros(0, dtype=torch.int64)
    assert tables.decode(tables.encode(empty, empty), empty).numel() == 0
    with pytest.raises(ValueError, match="table index out of range"):
        tables.encode(torch.zeros(3), torch.tensor([0, 1, 5]))
    with pytest.raises(ValueError, match="within"):
        tables.encode(torch.tensor([SYMBOL_LIMIT + 1.0]), torch.tensor([0]))
    assert torch.equal(to_symbols(torch.tensor([float("nan"), 1e30, -2.6])), torch.tensor([0.0, SYMBOL_LIMIT, -3.0]))


def test_tables_are_checked():
    freqs = torch.tensor([[1 << 15, 1 << 15, 0]], dtype=torch.int32)
    CategoricalTables(freqs, torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="not a 16-bit frequency table"):
        CategoricalTables(freqs - 1, torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="missing"):
        CategoricalTables(torch.zeros(0, 0, dtype=torch.int32), torch.zeros(0), torch.zeros(0))


# The byte format is part of the .gnvc specification (docs/bitstream.md): an update of the range coder
# that changed it would make old files decode to garbage, so the exact bytes are pinned here, for
# integer tables and symbols (no float maths that could differ between machines).
PINNED_FREQS = ([2000, 61000, 2535, 1], [100, 1500, 12000, 38000, 12000, 1500, 430, 6], [65000, 535, 1])
PINNED_MINIMA = (-1, -3, 0)
PINNED_SHA256 = "74a2bafc59b00c0ddc3698928fdbac55b94514e408f57db61005b2f234a93389"


def pinned_tables() -> CategoricalTables:
    freqs = torch.zeros(3, 8, dtype=torch.int32)
    for t, row in enumerate(PINNED_FREQS):
        freqs[t, : len(row)] = torch.tensor(row)
    return CategoricalTables(freqs, torch.tensor(PINNED_MINIMA), torch.tensor([len(r) - 1 for r in PINNED_FREQS]))


def pinned_message() -> tuple[torch.Tensor, torch.Tensor]:
    """4000 symbols drawn from the pinned tables (escapes beyond them), integer arithmetic only."""
    rng = random.Random(7)
    table, values = [], []
    for _ in range(4000):
        t = rng.randrange(3)
        u, i = rng.randrange(1 << PRECISION), 0
        while u >= PINNED_FREQS[t][i]:
            u -= PINNED_FREQS[t][i]
            i += 1
        escaped = i == len(PINNED_FREQS[t]) - 1 or rng.randrange(100) == 0
        table.append(t)
        values.append(rng.choice([-1, 1]) * rng.randrange(10, 5000) if escaped else PINNED_MINIMA[t] + i)
    return torch.tensor(values), torch.tensor(table)


def test_bytes_are_pinned():
    values, table = pinned_message()
    data = pinned_tables().encode(values, table)
    assert torch.equal(pinned_tables().decode(data, table), values)
    assert hashlib.sha256(data).hexdigest() == PINNED_SHA256, (len(data), hashlib.sha256(data).hexdigest())


def test_damaged_strings_decode_or_raise_value_error_deterministically():
    tables = gaussian_like_tables()
    table = torch.randint(0, 5, (20000,), generator=torch.Generator().manual_seed(1))
    rng = random.Random(5)
    outcomes = set()
    for _ in range(200):
        n = rng.choice([0, 1, 2, 5, 64, 1000])
        data = rng.choice([bytes(4 * n), b"\xff" * 4 * n, rng.randbytes(4 * n), rng.randbytes(4 * n + 3)])
        try:
            first = tables.decode(data, table)
        except ValueError:
            outcomes.add("error")
            with pytest.raises(ValueError):
                tables.decode(data, table)
            continue
        outcomes.add("decoded")
        assert first.abs().max() <= 2 * SYMBOL_LIMIT
        assert torch.equal(first, tables.decode(data, table))
    assert outcomes == {"error", "decoded"}


def test_same_bytes_in_other_processes_and_thread_counts(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, hashlib, torch\n"
        "torch.set_num_threads(int(sys.argv[1]))\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})\n"
        "from test_range_coder import pinned_message, pinned_tables\n"
        "values, table = pinned_message()\n"
        "print(hashlib.sha256(pinned_tables().encode(values, table)).hexdigest())\n"
    )
    runs = [subprocess.run([sys.executable, str(script), t], capture_output=True, text=True, check=True) for t in "12"]
    assert {r.stdout for r in runs} == {PINNED_SHA256 + "\n"}
