"""Entropy modelling: compressai's coders plus the exact arithmetic that keeps their parameters portable."""

from .exact import ACT_FRACTION_BITS, ExactConv2d, ExactUpsample, to_grid
from .gaussian import ScaleTable

__all__ = ["ACT_FRACTION_BITS", "ExactConv2d", "ExactUpsample", "ScaleTable", "to_grid"]
