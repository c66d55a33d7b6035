"""A geometric scale table shared by training (continuous) and coding (integer indexes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


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
