"""Differentiable rounding and bounding used by the entropy layers in training."""

from __future__ import annotations

import torch


def quantize_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` whose gradient is the identity (straight-through estimator)."""
    return (torch.round(x) - x).detach() + x


def deadzone_round(x: torch.Tensor, deadzone: float) -> torch.Tensor:
    """Round to integers with a zero bin widened to ``|x| < 0.5 + deadzone`` (every other bin shifts with it)."""
    return torch.sign(x) * torch.floor((x.abs() + 0.5 - deadzone).clamp_min(0.0))


def deadzone_ste(x: torch.Tensor, deadzone: float) -> torch.Tensor:
    """``deadzone_round`` with an identity gradient."""
    return (deadzone_round(x, deadzone) - x).detach() + x


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # Below the bound, pass gradients that push x up (towards the bound) and drop the rest.
        return grad * ((x >= ctx.bound) | (grad < 0)), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(x, bound)``, with a gradient that can still lift ``x`` when it sits below ``bound``."""
    return _LowerBound.apply(x, bound)
