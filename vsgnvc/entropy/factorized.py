"""The factorised density of the hyper-latent ``z`` (Ballé et al. 2018, "entropy bottleneck").

One learned, non-parametric density per channel: a small monotone network maps ``x`` to the logit
of its CDF. Training uses its likelihoods; ``update()`` turns it into one integer frequency table
per channel, which the range coder uses. Parameter names and initialisation follow compressai's
``EntropyBottleneck``, so weights trained with it load unchanged (see ``vsgnvc.models.io``).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .ops import lower_bound
from .range_coder import TABLE_LIMIT, TabledEntropyModel, to_symbols


class EntropyBottleneck(TabledEntropyModel):
    """Per-channel learned density for ``[B, C, H, W]`` tensors, coded around each channel's median.

    :param channels: number of channels ``C``.
    :param init_scale: initial width of the density (and of its quantile range).
    :param filters: hidden widths of the per-channel CDF network.
    :param tail_mass: probability left outside the table range (coded as escapes).
    :param likelihood_bound: lower bound on training likelihoods.
    """

    def __init__(
        self,
        channels: int,
        init_scale: float = 10.0,
        filters: tuple[int, ...] = (3, 3, 3, 3),
        tail_mass: float = 1e-9,
        likelihood_bound: float = 1e-9,
    ) -> None:
        super().__init__()
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.likelihood_bound = float(likelihood_bound)
        widths = (1, *self.filters, 1)
        scale = init_scale ** (1 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(self.filters) + 1):
            init = math.log(math.expm1(1 / scale / widths[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, widths[i + 1], widths[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, widths[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(self.filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[i + 1], 1)))
        # Per channel: the tail_mass/2 quantile, the median and the 1 - tail_mass/2 quantile, fitted by loss().
        self.quantiles = nn.Parameter(torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))
        target = math.log(2 / tail_mass - 1)
        self.register_buffer("target", torch.tensor([-target, 0.0, target]))

    def medians(self) -> torch.Tensor:
        """``[C, 1, 1]``: the value each channel's symbols are coded around."""
        return self.quantiles[:, :, 1:2]

    def _logits_cumulative(self, inputs: torch.Tensor, stop_gradient: bool) -> torch.Tensor:
        """``[C, 1, N]`` -> logits of the per-channel CDF at ``inputs``."""
        logits = inputs
        for i in range(len(self.filters) + 1):
            matrix, bias = self.matrices[i], self.biases[i]
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            logits = torch.matmul(F.softplus(matrix), logits) + bias
            if i < len(self.filters):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                logits = logits + torch.tanh(factor) * torch.tanh(logits)
        return logits

    def _likelihood(
        self, inputs: torch.Tensor, stop_gradient: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lower = self._logits_cumulative(inputs - 0.5, stop_gradient)
        upper = self._logits_cumulative(inputs + 0.5, stop_gradient)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: ``x`` plus uniform noise (eval: rounded around the medians), and its likelihood."""
        perm = (1, 0, *range(2, x.dim()))
        values = x.permute(*perm).contiguous()
        shape = values.shape
        values = values.reshape(shape[0], 1, -1)
        if self.training:
            outputs = values + torch.empty_like(values).uniform_(-0.5, 0.5)
        else:
            medians = self.medians()
            outputs = torch.round(values - medians) + medians
        likelihood = lower_bound(self._likelihood(outputs)[0], self.likelihood_bound)
        outputs = outputs.reshape(shape).permute(*perm).contiguous()
        return outputs, likelihood.reshape(shape).permute(*perm).contiguous()

    def loss(self) -> torch.Tensor:
        """Auxiliary loss that moves ``quantiles`` onto the density's tail and median quantiles."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    @torch.no_grad()
    def update(self) -> None:
        """Build the integer tables from the density, one per channel around its median (in float64)."""
        density = copy.deepcopy(self).double()
        q = density.quantiles[:, 0, :]
        medians = q[:, 1]
        minima = torch.ceil(medians - q[:, 0]).clamp(0, TABLE_LIMIT // 2 - 1).long()
        maxima = torch.ceil(q[:, 2] - medians).clamp(0, TABLE_LIMIT // 2 - 1).long()
        lengths = minima + maxima + 1
        steps = torch.arange(int(lengths.max()), dtype=torch.float64, device=q.device)
        pmf, lower, upper = density._likelihood((medians - minima)[:, None, None] + steps, stop_gradient=True)
        pmfs = []
        for c, n in enumerate(lengths.tolist()):
            tail = torch.sigmoid(lower[c, 0, :1]) + torch.sigmoid(-upper[c, 0, n - 1 : n])
            pmfs.append(torch.cat([pmf[c, 0, :n], tail]).cpu())
        self._set_tables(pmfs, -minima)

    # ------------------------------------------------------------------ coding
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """``[1, C, H, W]`` -> integer symbols around the medians (float, clamped into the coder's range)."""
        return to_symbols(x - self.medians().detach())

    def dequantize(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols.float() + self.medians().detach()

    def compress(self, symbols: torch.Tensor) -> bytes:
        """One string for the symbols ``[1, C, H, W]`` of ``quantize``."""
        return self.coder.encode(symbols, self._channel_index(symbols.shape))

    def decompress(self, string: bytes, size: tuple[int, int]) -> torch.Tensor:
        """Symbols ``[1, C, H, W]`` (float) from a string; ``ValueError`` for strings no encoder writes."""
        shape = (1, self.channels, *size)
        return self.coder.decode(string, self._channel_index(shape)).float().to(self.quantiles.device)

    def _channel_index(self, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
        if len(shape) != 4 or shape[0] != 1 or shape[1] != self.channels:
            raise ValueError(f"expected symbols of shape [1, {self.channels}, H, W], got {list(shape)}")
        return torch.arange(self.channels).view(1, -1, 1, 1).expand(*shape)
