"""Range coding of integer symbols with integer frequency tables (constriction's range coder).

Every table is a list of frequencies at ``PRECISION`` bits: one per symbol value ``minimum ..
minimum + length - 1`` and one for the escape, each at least 1, summing to ``2**PRECISION``. The
tables are built once (``update()`` of the entropy layers) and stored with the weights, so the
decoder never evaluates a float density: what it decodes depends on integers only, the same in
every process, on every thread count and device. ``docs/bitstream.md`` specifies the strings.
"""

from __future__ import annotations

import constriction
import numpy as np
import torch
from torch import nn

PRECISION = 16
"""Bits of the stored frequency tables (they sum to ``2**PRECISION``)."""

SYMBOL_LIMIT = 1 << 20
"""Symbols are clamped to ``-SYMBOL_LIMIT .. SYMBOL_LIMIT`` before coding (far beyond any trained range)."""

TABLE_LIMIT = 1 << 15
"""Table minima lie in ``-TABLE_LIMIT .. 0`` and lengths in ``1 .. TABLE_LIMIT``."""

ESCAPE_CLASSES = 23
"""An escaped symbol's code ``u`` (below ``2**22`` given the limits above) is sent as its class
``c = bit_length(u + 1) - 1`` (``0 .. ESCAPE_CLASSES - 1``) and the ``c`` low bits of ``u + 1``."""

# Frequencies of the escape classes: class c costs about c + 1 bits (an Elias-gamma code), so the
# common small overflows of a table stay cheap.
ESCAPE_CLASS_FREQS = (
    (1 << 15) - 6, *(1 << (15 - c) for c in range(1, 16)), *(1 for _ in range(16, ESCAPE_CLASSES))
)
assert sum(ESCAPE_CLASS_FREQS) == 1 << PRECISION and len(ESCAPE_CLASS_FREQS) == ESCAPE_CLASSES

_ESCAPE_CLASS_MODEL = constriction.stream.model.Categorical(np.array(ESCAPE_CLASS_FREQS, np.float64), perfect=False)
_ESCAPE_BITS_MODELS = [None, *(constriction.stream.model.Uniform(1 << c) for c in range(1, ESCAPE_CLASSES))]


def to_symbols(x: torch.Tensor) -> torch.Tensor:
    """Round to integers (same dtype) and clamp into the coder's range; NaN codes as 0."""
    return torch.nan_to_num(torch.round(x), nan=0.0).clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)


def frequencies_from_pmf(pmf: torch.Tensor, precision: int = PRECISION) -> torch.Tensor:
    """Integer frequencies (int64, each >= 1, summing to ``2**precision``) from probabilities ``[n]``.

    Every symbol gets 1, the rest ``2**precision - n`` is shared in proportion to ``pmf`` by largest remainders.
    """
    n = pmf.shape[-1]
    total = 1 << precision
    if pmf.dim() != 1 or n >= total:
        raise ValueError(f"a table of {n} symbols does not fit {precision}-bit frequencies")
    p = pmf.double().clamp_min(0)
    share = p / p.sum() * (total - n)
    freqs = 1 + torch.floor(share).long()
    remainder = int(total - freqs.sum())
    order = torch.sort(share - torch.floor(share), descending=True, stable=True).indices
    freqs[order[:remainder]] += 1
    return freqs


class CategoricalTables:
    """The range coder for one set of tables: table ``t`` codes ``minimum[t] .. minimum[t] + length[t] - 1``.

    Symbols are coded grouped by table, tables in increasing order, each group in the order given
    (flattened tensor order); a value outside its table codes as the table's escape entry. Then, for
    the escaped values in the same order, ``u = 2 * (minimum - v) - 1`` below the table and
    ``2 * (v - end)`` from ``end = minimum + length`` on: first every class ``c = bit_length(u + 1) - 1``
    (``ESCAPE_CLASS_FREQS``), then the low bits ``u + 1 - 2**c``, grouped by class in increasing
    order, each uniform over ``2**c`` values. A string is the coder's 32-bit words, little-endian.
    """

    def __init__(self, freqs: torch.Tensor, minima: torch.Tensor, lengths: torch.Tensor) -> None:
        freqs_np = freqs.detach().cpu().numpy().astype(np.int64)
        self.minima = minima.detach().cpu().numpy().astype(np.int64)
        self.lengths = lengths.detach().cpu().numpy().astype(np.int64)
        if freqs_np.ndim != 2 or len(freqs_np) == 0 or not len(self.minima) == len(self.lengths) == len(freqs_np):
            raise ValueError("range coder tables are missing or inconsistent; call update() or load updated weights")
        if (self.lengths < 1).any() or (self.lengths >= freqs_np.shape[1]).any():
            raise ValueError("range coder table lengths out of range")
        if (self.minima < -TABLE_LIMIT).any() or (self.minima > 0).any() or (self.lengths > TABLE_LIMIT).any():
            raise ValueError(f"range coder tables exceed the coder's limit of {TABLE_LIMIT} values")
        self.models = []
        for t, n in enumerate(self.lengths):
            row = freqs_np[t, : n + 1]
            if (row < 1).any() or row.sum() != 1 << PRECISION:
                raise ValueError(f"range coder table {t} is not a {PRECISION}-bit frequency table")
            # Integer frequencies as float64: constriction's fixed-point conversion of exact
            # dyadic inputs is exact, so the coder's model is a function of these integers alone.
            self.models.append(constriction.stream.model.Categorical(row.astype(np.float64), perfect=False))

    @property
    def num_tables(self) -> int:
        return len(self.models)

    def _layout(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if table.size and (table.min() < 0 or table.max() >= self.num_tables):
            raise ValueError(f"table index out of range 0..{self.num_tables - 1}")
        # a stable sort of 16-bit keys is a radix sort: 15x faster than on int64
        keys = table.astype(np.int16) if self.num_tables <= 1 << 15 else table
        return np.argsort(keys, kind="stable"), np.bincount(table, minlength=self.num_tables)

    def encode(self, values: torch.Tensor, table: torch.Tensor) -> bytes:
        """``values`` (integer valued, within ``SYMBOL_LIMIT``) coded with the tables ``table`` selects."""
        v = values.detach().cpu().reshape(-1).numpy().astype(np.int64)
        t = table.detach().cpu().reshape(-1).numpy().astype(np.int64)
        if v.shape != t.shape:
            raise ValueError(f"{v.size} symbols but {t.size} table indexes")
        if v.size and np.abs(v).max() > SYMBOL_LIMIT:
            raise ValueError(f"symbols must lie within +-{SYMBOL_LIMIT} (use to_symbols)")
        order, counts = self._layout(t)
        v, t = v[order], t[order]
        lo, n = self.minima[t], self.lengths[t]
        index = v - lo
        escaped = (index < 0) | (index >= n)
        index[escaped] = n[escaped]
        encoder = constriction.stream.queue.RangeEncoder()
        index32 = index.astype(np.int32)
        start = 0
        for k in np.flatnonzero(counts):
            encoder.encode(index32[start : start + counts[k]], self.models[k])
            start += counts[k]
        if escaped.any():
            ve, le, ee = v[escaped], lo[escaped], (lo + n)[escaped]
            u1 = np.where(ve < le, 2 * (le - ve) - 1, 2 * (ve - ee)) + 1
            classes = np.frexp(u1.astype(np.float64))[1] - 1  # exact: u1 < 2**23
            encoder.encode(classes.astype(np.int32), _ESCAPE_CLASS_MODEL)
            for c in range(1, ESCAPE_CLASSES):
                low = u1[classes == c] - (1 << c)
                if low.size:
                    encoder.encode(low.astype(np.int32), _ESCAPE_BITS_MODELS[c])
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, data: bytes, table: torch.Tensor) -> torch.Tensor:
        """Symbols (int64, shaped like ``table``) from a string; ``ValueError`` if no encoder could have written it."""
        if len(data) % 4:
            raise ValueError(f"a range-coded string is whole 32-bit words; got {len(data)} bytes")
        t = table.detach().cpu().reshape(-1).numpy().astype(np.int64)
        order, counts = self._layout(t)
        t = t[order]
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
        index = np.empty(t.size, dtype=np.int64)
        lo, n = self.minima[t], self.lengths[t]
        try:
            start = 0
            for k in np.flatnonzero(counts):
                index[start : start + counts[k]] = decoder.decode(self.models[k], int(counts[k]))
                start += counts[k]
            escaped = index == n
            u = None
            if escaped.any():
                classes = decoder.decode(_ESCAPE_CLASS_MODEL, int(escaped.sum())).astype(np.int64)
                u = np.left_shift(1, classes) - 1
                for c in range(1, ESCAPE_CLASSES):
                    in_class = classes == c
                    if in_class.any():
                        u[in_class] += decoder.decode(_ESCAPE_BITS_MODELS[c], int(in_class.sum()))
        except AssertionError as exc:  # constriction's answer to words that no encoder writes
            raise ValueError(f"damaged range-coded string: {exc}") from None
        values = lo + index
        if u is not None:
            le, ee = lo[escaped], (lo + n)[escaped]
            # a damaged string can name values beyond the clamp; no encoder writes them
            values[escaped] = np.clip(np.where(u % 2 == 1, le - (u + 1) // 2, ee + u // 2), -SYMBOL_LIMIT, SYMBOL_LIMIT)
        out = np.empty_like(values)
        out[order] = values
        return torch.from_numpy(out).view(table.shape)


class TabledEntropyModel(nn.Module):
    """Base of the entropy layers: the integer table buffers and the range coder built from them."""

    def __init__(self) -> None:
        super().__init__()
        # Empty until update() (or loading updated weights) fills them; models.io resizes them at load.
        self.register_buffer("table_freqs", torch.zeros(0, 0, dtype=torch.int32))
        self.register_buffer("table_minima", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("table_lengths", torch.zeros(0, dtype=torch.int32))
        self._coder: CategoricalTables | None = None

    @property
    def is_updated(self) -> bool:
        return self.table_lengths.numel() > 0

    @property
    def coder(self) -> CategoricalTables:
        """The range coder of the current tables (built once; concurrent first calls build the same)."""
        coder = self._coder
        if coder is None:
            if not self.is_updated:
                raise RuntimeError(f"{type(self).__name__}: call update() (or load updated weights) before coding")
            coder = self._coder = CategoricalTables(self.table_freqs, self.table_minima, self.table_lengths)
        return coder

    def _set_tables(self, pmfs: list[torch.Tensor], minima: torch.Tensor) -> None:
        """Store one table per ``pmfs`` row (probabilities of the values, then of the escape)."""
        width = max(len(p) for p in pmfs)
        freqs = torch.zeros(len(pmfs), width, dtype=torch.int32)
        for t, p in enumerate(pmfs):
            freqs[t, : len(p)] = frequencies_from_pmf(p).int()
        device = self.table_freqs.device
        self.table_freqs = freqs.to(device)
        self.table_minima = minima.int().to(device)
        self.table_lengths = torch.tensor([len(p) - 1 for p in pmfs], dtype=torch.int32, device=device)
        self._coder = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super()._load_from_state_dict(*args, **kwargs)
        self._coder = None

    def __getstate__(self) -> dict:
        # constriction's models do not pickle or deep-copy; they are rebuilt on first use.
        return {**self.__dict__, "_coder": None}
