"""The Gaussian conditional of ``y`` and its geometric scale table, shared by training (continuous scales)
and coding (integer scale indexes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .ops import lower_bound
from .range_coder import TABLE_LIMIT, TabledEntropyModel


@dataclass(frozen=True)
class ScaleTable:
    """``scale(i) = minimum * exp(i * log_step)`` for ``i`` in ``0 .. levels - 1``.

    Networks predict ``s``, a position in this table: training uses ``scale(s)`` continuously and
    coding uses ``round(s)``, so the coder's CDF index is an integer computed exactly.
    """

    minimum: float = 0.11
    maximum: float = 256.0
    levels: int = 64

    def __post_init__(self) -> None:
        if not (0 < self.minimum < self.maximum) or self.levels < 2:
            raise ValueError("scale table needs 0 < minimum < maximum and at least 2 levels")

    @property
    def log_step(self) -> float:
        return math.log(self.maximum / self.minimum) / (self.levels - 1)

    def values(self) -> torch.Tensor:
        return torch.tensor([self.minimum * math.exp(i * self.log_step) for i in range(self.levels)])

    def continuous(self, s: torch.Tensor) -> torch.Tensor:
        """Scale at fractional position ``s`` (clamped with a straight-through gradient)."""
        clamped = s + (s.clamp(0, self.levels - 1) - s).detach()
        return self.minimum * torch.exp(clamped * self.log_step)

    def indexes(self, s: torch.Tensor) -> torch.Tensor:
        """Integer CDF index for exact ``s`` (float64 on the grid)."""
        return torch.round(s).clamp(0, self.levels - 1).to(torch.int32)


class GaussianConditional(TabledEntropyModel):
    """Gaussian density of ``y`` given its mean and scale (Ballé et al. 2018), one coding table per scale level.

    Training uses the likelihood of ``y`` at any continuous scale; coding uses the integer table of
    the scale level ``ScaleTable.indexes`` picks. Symbols are ``round(y - mean)``.

    :param table: the scale levels (``minimum`` also bounds training scales from below).
    :param tail_mass: probability left outside each table's range (coded as escapes).
    :param likelihood_bound: lower bound on training likelihoods.
    """

    def __init__(self, table: ScaleTable, tail_mass: float = 1e-9, likelihood_bound: float = 1e-9) -> None:
        super().__init__()
        self.table = table
        self.tail_mass = float(tail_mass)
        self.likelihood_bound = float(likelihood_bound)

    @staticmethod
    def _standardized_cumulative(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.erfc(-(2**-0.5) * x)  # erfc keeps precision in the lower tail

    def likelihood(self, inputs: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        values = torch.abs(inputs if means is None else inputs - means)
        scales = lower_bound(scales, self.table.minimum)
        upper = self._standardized_cumulative((0.5 - values) / scales)
        lower = self._standardized_cumulative((-0.5 - values) / scales)
        return lower_bound(upper - lower, self.likelihood_bound)

    def forward(
        self, inputs: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: ``inputs`` plus uniform noise (eval: rounded around ``means``), and its likelihood."""
        if self.training:
            outputs = inputs + torch.empty_like(inputs).uniform_(-0.5, 0.5)
        elif means is None:
            outputs = torch.round(inputs)
        else:
            outputs = torch.round(inputs - means) + means
        return outputs, self.likelihood(outputs, scales, means)

    @torch.no_grad()
    def update(self) -> None:
        """Build one integer table per scale level (float64): symbols within the ``tail_mass`` quantiles."""
        multiplier = -float(torch.special.ndtri(torch.tensor(self.tail_mass / 2, dtype=torch.float64)))
        pmfs, minima = [], []
        for scale in self.table.values().double():
            center = min(math.ceil(float(scale) * multiplier), TABLE_LIMIT // 2 - 1)
            values = torch.arange(-center, center + 1, dtype=torch.float64).abs()
            upper = self._standardized_cumulative((0.5 - values) / scale)
            pmf = upper - self._standardized_cumulative((-0.5 - values) / scale)
            tail = 2 * self._standardized_cumulative(torch.tensor(-0.5 - center, dtype=torch.float64) / scale)
            pmfs.append(torch.cat([pmf, tail.view(1)]))
            minima.append(-center)
        self._set_tables(pmfs, torch.tensor(minima))

    def compress(self, symbols: torch.Tensor, indexes: torch.Tensor) -> bytes:
        """One string for integer ``symbols`` (see ``to_symbols``), each coded with the table of its scale index."""
        return self.coder.encode(symbols, indexes)

    def decompress(self, string: bytes, indexes: torch.Tensor) -> torch.Tensor:
        """Symbols (float64, shaped like ``indexes``); ``ValueError`` for strings no encoder writes."""
        return self.coder.decode(string, indexes).double().to(indexes.device)
