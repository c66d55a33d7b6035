"""Encoder presets: how hard the encoder searches each frame's symbols (:mod:`.symbol_search`).

Plain data, free of torch, so option parsing and the benchmark's job files can name presets cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SymbolSearch:
    """How hard the encoder searches: gradient steps per intra frame and per inter frame (0: plain rounding)."""

    intra_iterations: int = 80
    inter_iterations: int = 20
    learning_rate: float = 0.1

    def __post_init__(self) -> None:
        if self.intra_iterations < 0 or self.inter_iterations < 0:
            raise ValueError(f"symbol search iterations must be >= 0, got {self.intra_iterations}, {self.inter_iterations}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"symbol search learning rate must be in (0, 1], got {self.learning_rate}")

    def iterations(self, inter: bool) -> int:
        return self.inter_iterations if inter else self.intra_iterations


NO_SEARCH = SymbolSearch(0, 0)

# Encoder presets, named as x264's: slower searches longer for a lower bits + lambda x distortion. Decoding is the
# same for every preset; only models that are ``searchable`` search at all.
PRESETS: dict[str, SymbolSearch] = {
    "fast": NO_SEARCH,
    "medium": SymbolSearch(intra_iterations=20, inter_iterations=5),
    "slow": SymbolSearch(),
}
DEFAULT_PRESET = "slow"


def preset_search(name: str) -> SymbolSearch:
    """The search of preset ``name``.

    :raises ValueError: for an unknown name, listing the presets.
    """
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}") from None
