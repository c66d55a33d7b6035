"""Exact fixed-point layers for the networks that drive the range coder.

The decoder must rebuild the encoder's scale indexes bit for bit, in another process, with another
thread count or on another device. Float convolutions do not promise that (summation order,
TF32, Winograd). Here weights live on a 2^-12 grid, activations on a 2^-10 grid, and the
convolution runs as unfold + matmul in float64: every product and partial sum is a dyadic number
well inside float64's 53-bit mantissa, so no rounding happens at all and any summation order gives
the same bits. Training uses the ordinary float32 path with the same parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACT_FRACTION_BITS = 10
WEIGHT_FRACTION_BITS = 12
# |activation| <= 2^10 and |weight| <= 2^3 keep every partial sum of <= 2^12 terms below 2^25,
# i.e. 25 + 22 fraction bits = 47 < 53 mantissa bits.
ACT_LIMIT = 1024.0
WEIGHT_LIMIT = 8.0
MAX_FAN_IN = 4096


def to_grid(x: torch.Tensor, fraction_bits: int = ACT_FRACTION_BITS, limit: float = ACT_LIMIT) -> torch.Tensor:
    """Round to the dyadic grid ``2^-fraction_bits`` in float64 (exact, device independent)."""
    scale = float(2**fraction_bits)
    return torch.round(x.double().clamp(-limit, limit) * scale) / scale


class ExactConv2d(nn.Conv2d):
    """A stride-1 ``Conv2d`` with 'same' padding that is bit-exact in eval mode after ``quantize_()``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd")
        if in_channels * kernel_size * kernel_size > MAX_FAN_IN:
            raise ValueError(f"fan-in {in_channels * kernel_size**2} exceeds the exact-arithmetic limit {MAX_FAN_IN}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    @torch.no_grad()
    def quantize_(self) -> None:
        """Snap weights and bias onto their grids (done once, before the CDF tables are built)."""
        self.weight.copy_(to_grid(self.weight, WEIGHT_FRACTION_BITS, WEIGHT_LIMIT).float())
        self.bias.copy_(to_grid(self.bias, WEIGHT_FRACTION_BITS + ACT_FRACTION_BITS, ACT_LIMIT).float())

    @torch.no_grad()
    def forward_exact(self, x: torch.Tensor) -> torch.Tensor:
        """float64 in (on the activation grid), float64 out (on the product grid)."""
        b, _, h, w = x.shape
        k = self.kernel_size[0]
        cols = F.unfold(x, k, padding=k // 2)  # [B, C*k*k, H*W]
        weight = self.weight.double().reshape(self.out_channels, -1)
        out = torch.matmul(weight, cols) + self.bias.double().view(1, -1, 1)
        return out.view(b, self.out_channels, h, w)


class ExactUpsample(nn.Module):
    """Nearest-neighbour x2 upsampling: a copy, so exact by construction."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)


class ExactNet(nn.Module):
    """A chain of ``ExactConv2d`` / ``ExactUpsample`` with ReLU between convolutions.

    ``forward`` is the float32 training path; ``forward_exact`` takes grid-aligned float64 input and
    returns grid-aligned float64 output, identical on every device.
    """

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self._last_conv = max(i for i, m in enumerate(layers) if isinstance(m, ExactConv2d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same clamps as forward_exact: a network trained without them can leave the grid's range
        # and then the coder's entropy parameters no longer match the ones it was trained with.
        x = x.clamp(-ACT_LIMIT, ACT_LIMIT)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if isinstance(layer, ExactConv2d):
                x = (F.relu(x) if i != self._last_conv else x).clamp(-ACT_LIMIT, ACT_LIMIT)
        return x

    @torch.no_grad()
    def forward_exact(self, x: torch.Tensor) -> torch.Tensor:
        x = to_grid(x)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ExactConv2d):
                x = layer.forward_exact(x)
                if i != self._last_conv:
                    x = x.clamp_min(0.0)
                x = to_grid(x)
            else:
                x = layer(x)
        return x

    @torch.no_grad()
    def quantize_(self) -> None:
        for layer in self.layers:
            if isinstance(layer, ExactConv2d):
                layer.quantize_()
