"""Entropy modelling: the density layers, their integer coding tables, the range coder, and the exact
arithmetic that keeps the coder's parameters portable."""

from .exact import ACT_FRACTION_BITS, ExactConv2d, ExactUpsample, to_grid
from .factorized import EntropyBottleneck
from .gaussian import GaussianConditional, ScaleTable
from .range_coder import CategoricalTables, to_symbols

__all__ = [
    "ACT_FRACTION_BITS",
    "CategoricalTables",
    "EntropyBottleneck",
    "ExactConv2d",
    "ExactUpsample",
    "GaussianConditional",
    "ScaleTable",
    "to_grid",
    "to_symbols",
]
