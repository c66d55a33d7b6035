"""The contextual latent codec of GNVC-VD (spatio-temporal latent compression).

::

    intra (first latent frame of a GOP)      inter (every later latent frame)
    l_0 -> g_a -> y_0                        l_t, f_{t-1} -> g_a' -> y_t
           h_a -> z_0 -> EB                         h_a -> z_t -> EB
    z^ -> h_s ----------> (s, mu) -> GC      z^ -> h_s --+
                                             y^_{t-1} ---+-> (s, mu) -> GC
    y^_0 -> g_s -> l^_0                      l^_t = l^_{t-1} + g_s'(y^_t, f_{t-1})
    f_0 = ctx(l^_0)                          f_t = ctx(l^_t)

That is the ``"learned"`` transform; the ``"residual"`` one codes ``y_t = l_t - l^_{t-1}`` (``l_0`` for intra)
plus a learned correction, at the latent resolution, and synthesises ``l^_t = l^_{t-1} + y^_t + correction``.
Analysis/synthesis are conditioned on ``f_{t-1}``, the context feature of the previous *decoded*
latent (DCVC-style conditional coding). Inter synthesis predicts a correction to the previous
decoded latent, so an inter frame that spends no bits repeats its predecessor instead of running
a free recurrence through the context (which drifted and blew up at low rates). The entropy parameters come from the hyperprior and the
previous decoded symbols ``y^_{t-1}`` through exact fixed-point networks (``vsgnvc.entropy.exact``),
so a stream decodes on any device. One model serves every rate point through per-channel gains
(quantisation step sizes) selected by a rate index.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from safetensors.torch import load_file
from torch import nn

from ..entropy.exact import ACT_FRACTION_BITS, WEIGHT_FRACTION_BITS, ExactConv2d, ExactNet, ExactUpsample, to_grid
from ..entropy.factorized import EntropyBottleneck
from ..entropy.gaussian import GaussianConditional, ScaleTable
from ..entropy.ops import quantize_ste
from ..entropy.range_coder import to_symbols
from .io import is_compressai_state, load_state_dict_resizing, save_config_and_weights

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class Analysis(nn.Module):
    """Latent (+ optional context) -> y at half the latent resolution."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv(cin, hidden), nn.LeakyReLU(0.1), _conv(hidden, hidden, 2), nn.LeakyReLU(0.1),
            _conv(hidden, hidden), nn.LeakyReLU(0.1), _conv(hidden, cout),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Synthesis(nn.Module):
    """y (+ optional context at latent resolution) -> latent."""

    def __init__(self, cin: int, hidden: int, context: int, cout: int) -> None:
        super().__init__()
        self.up = nn.Sequential(_conv(cin, hidden * 4), nn.PixelShuffle(2), nn.LeakyReLU(0.1))
        self.out = nn.Sequential(
            _conv(hidden + context, hidden), nn.LeakyReLU(0.1), _conv(hidden, hidden), nn.LeakyReLU(0.1), _conv(hidden, cout)
        )

    def forward(self, y: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.up(y)
        if context is not None:
            x = torch.cat([x, context], dim=1)
        return self.out(x)


class Correction(nn.Module):
    """A small residual network whose output starts at zero (the residual transform's learned part)."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(cin, hidden), nn.LeakyReLU(0.1), _conv(hidden, hidden), nn.LeakyReLU(0.1), _conv(hidden, cout))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


TRANSFORMS = ("learned", "residual")


@dataclass
class FrameCode:
    """One coded latent frame: entropy-coded strings and what the decoder needs next."""

    strings: tuple[bytes, bytes]  # (y, z)
    latent: torch.Tensor  # decoded l^_t, [1, C, h, w]
    symbols: torch.Tensor  # y^_t in the unit domain, float64 on the grid (next frame's entropy context)
    context: torch.Tensor  # f_t


class ContextualLatentCodec(nn.Module, ConfigMixin):
    """Intra + conditional inter coding of VAE latent frames with learned entropy models.

    :param latent_channels: VAE latent channels (16 for the Wan2.1 layout).
    :param hidden_channels: width of analysis/synthesis networks.
    :param y_channels: channels of the quantised representation ``y``.
    :param z_channels: channels of the hyper-latent ``z``.
    :param context_channels: channels of the temporal context feature ``f_t`` (also fed to the refiner).
    :param num_rates: number of rate points (gain vectors).
    :param transform: ``"learned"``: ``y`` at half the latent resolution from learned analysis/synthesis
        networks. ``"residual"``: ``y`` is the latent itself (intra) or its difference from the previous
        decoded latent (inter), plus learned corrections that start at zero, at the latent resolution
        (``y_channels`` = ``latent_channels``). The residual codec starts as plain closed-loop
        quantisation, whose errors are white: a pretrained decoder tolerates those far better than the
        smooth errors of a down-projecting transform (TAEF2 on his_girl_friday, 35.4 dB clean: uniform
        noise one latent std wide 28.3 dB; the 16 main components only 21.6 dB; a 2x2 latent average 17.8 dB).
    """

    config_name = "config.json"
    # y at 1/2 and z at 1/4 of the latent resolution.
    latent_multiple = 4

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 16,
        hidden_channels: int = 64,
        y_channels: int = 64,
        z_channels: int = 32,
        context_channels: int = 32,
        num_rates: int = 5,
        scale_min: float = 0.11,
        scale_max: float = 256.0,
        scale_levels: int = 64,
        rate_lambdas: list[float] | None = None,
        transform: str = "learned",
    ) -> None:
        super().__init__()
        c, n, m, zc, fc = latent_channels, hidden_channels, y_channels, z_channels, context_channels
        if transform not in TRANSFORMS:
            raise ValueError(f"codec transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
        self.residual = transform == "residual"
        if self.residual and m != c:
            raise ValueError(f"the residual transform codes the latent itself: y_channels ({m}) must equal latent_channels ({c})")
        self.table = ScaleTable(scale_min, scale_max, scale_levels)
        self.context_net = nn.Sequential(_conv(c, n), nn.LeakyReLU(0.1), _conv(n, fc))
        if self.residual:
            self.intra_analysis = Correction(c, n, m)
            self.intra_synthesis = Correction(m, n, c)
            self.inter_analysis = Correction(c + fc, n, m)
            self.inter_synthesis = Correction(m + fc, n, c)
            # y at the latent resolution: two strides down to z at 1/4, two exact upsamplings back.
            self.hyper_analysis = nn.Sequential(
                _conv(m, n), nn.LeakyReLU(0.1), _conv(n, n, 2), nn.LeakyReLU(0.1), _conv(n, n, 2), nn.LeakyReLU(0.1),
                _conv(n, zc),
            )  # fmt: skip
            self.hyper_synthesis = ExactNet(
                [ExactUpsample(), ExactConv2d(zc, n), ExactUpsample(), ExactConv2d(n, n), ExactConv2d(n, n)]
            )
        else:
            self.intra_analysis = Analysis(c, n, m)
            self.intra_synthesis = Synthesis(m, n, 0, c)
            self.inter_analysis = Analysis(c + fc, n, m)
            self.inter_synthesis = Synthesis(m, n, fc, c)
            self.hyper_analysis = nn.Sequential(
                _conv(m, n), nn.LeakyReLU(0.1), _conv(n, n, 2), nn.LeakyReLU(0.1), _conv(n, zc)
            )
            # Exact networks: everything that decides CDF indexes.
            self.hyper_synthesis = ExactNet([ExactUpsample(), ExactConv2d(zc, n), ExactConv2d(n, n)])
        self.temporal_prior = ExactNet([ExactConv2d(m, n), ExactConv2d(n, n)])
        self.intra_params = ExactNet([ExactConv2d(n, n), ExactConv2d(n, 2 * m, 1)])
        self.inter_params = ExactNet([ExactConv2d(2 * n, n), ExactConv2d(n, 2 * m, 1)])
        # Per-rate quantisation gains (log domain for training), snapped to dyadic values by update().
        # (Residual: y is in latent standard deviations, so rate 0 starts at a step of 4 and the last at 0.5.)
        low, high = (-1.4, 0.7) if self.residual else (-1.5, 1.0)
        self.log_gain = nn.Parameter(torch.linspace(low, high, num_rates).view(num_rates, 1).repeat(1, m))
        self.log_hyper_gain = nn.Parameter(torch.linspace(-0.5, 0.5, num_rates).view(num_rates, 1).repeat(1, zc))
        # The usual init_scale (10) starts z's density ~10 bins wide: ~3 bits per element that
        # short trainings never win back. Our z values are of unit scale.
        self.entropy_bottleneck = EntropyBottleneck(zc, init_scale=1.0)
        self.gaussian_conditional = GaussianConditional(self.table)
        self.register_buffer("gain", torch.zeros(num_rates, m, dtype=torch.float64))
        self.register_buffer("inv_gain", torch.zeros(num_rates, m, dtype=torch.float64))
        self.register_buffer("hyper_gain", torch.zeros(num_rates, zc, dtype=torch.float64))
        self.register_buffer("inv_hyper_gain", torch.zeros(num_rates, zc, dtype=torch.float64))
        self.register_buffer("index_offset", torch.zeros(num_rates, m, dtype=torch.float64))

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, folder: Path | str) -> None:
        save_config_and_weights(self, folder, WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, folder: Path | str) -> ContextualLatentCodec:
        folder = Path(folder)
        config = json.loads((folder / cls.config_name).read_text())
        model = cls.from_config(config)
        state = load_file(str(folder / WEIGHTS_NAME))
        if is_compressai_state(state):
            raise ValueError(
                f"{folder}: codec weights carry compressai's entropy tables (bitstream format 1); "
                f"convert them once with: python -m vsgnvc.models.convert {folder}"
            )
        load_state_dict_resizing(model, state)
        if not model.is_updated:
            raise ValueError(f"{folder}: codec weights were saved before update(); they cannot code bitstreams")
        return model.eval()

    # ------------------------------------------------------------------ coding tables
    @property
    def num_rates(self) -> int:
        return int(self.config.num_rates)

    @property
    def is_updated(self) -> bool:
        return (
            bool(self.gain.abs().sum() > 0) and self.gaussian_conditional.is_updated and self.entropy_bottleneck.is_updated
        )

    @torch.no_grad()
    def update(self) -> None:
        """Freeze everything the range coder depends on: exact weights, dyadic gains, CDF tables."""
        for net in (self.hyper_synthesis, self.temporal_prior, self.intra_params, self.inter_params):
            net.quantize_()
        self.gain.copy_(to_grid(self.log_gain.exp(), WEIGHT_FRACTION_BITS, 2**10))
        self.inv_gain.copy_(to_grid(1.0 / self.gain, WEIGHT_FRACTION_BITS + 8, 2**10))
        self.hyper_gain.copy_(to_grid(self.log_hyper_gain.exp(), WEIGHT_FRACTION_BITS, 2**10))
        self.inv_hyper_gain.copy_(to_grid(1.0 / self.hyper_gain, WEIGHT_FRACTION_BITS + 8, 2**10))
        self.index_offset.copy_(to_grid(torch.log(self.gain) / self.table.log_step, ACT_FRACTION_BITS, 2**10))
        self.entropy_bottleneck.update()
        self.gaussian_conditional.update()

    def entropy_bottleneck_density(self) -> list[nn.Parameter]:
        """The factorised density's own parameters (not its quantiles, which the aux loss fits)."""
        return [p for n, p in self.entropy_bottleneck.named_parameters() if not n.endswith("quantiles")]

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.loss()

    # ------------------------------------------------------------------ transforms
    def _analyse(self, latent: torch.Tensor, prev_latent: torch.Tensor | None, prev_context: torch.Tensor | None) -> torch.Tensor:
        """``y`` of one latent frame (intra when ``prev_latent`` is None)."""
        if self.residual:
            if prev_latent is None:
                return latent + self.intra_analysis(latent)
            diff = latent - prev_latent
            return diff + self.inter_analysis(torch.cat([diff, prev_context], dim=1))
        if prev_latent is None:
            return self.intra_analysis(latent)
        return self.inter_analysis(torch.cat([latent, prev_context], dim=1))

    def _synthesise(self, y_hat: torch.Tensor, prev_latent: torch.Tensor | None, prev_context: torch.Tensor | None) -> torch.Tensor:
        """The decoded latent from ``y^`` (inter frames correct the previous decoded latent)."""
        if self.residual:
            if prev_latent is None:
                return y_hat + self.intra_synthesis(y_hat)
            return prev_latent + y_hat + self.inter_synthesis(torch.cat([y_hat, prev_context], dim=1))
        if prev_latent is None:
            return self.intra_synthesis(y_hat)
        return prev_latent + self.inter_synthesis(y_hat, prev_context)

    # ------------------------------------------------------------------ training path
    def _params(self, h: torch.Tensor, prev_y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if prev_y is None:
            out = self.intra_params(h)
        else:
            out = self.inter_params(torch.cat([h, self.temporal_prior(prev_y)], dim=1))
        s, mu = out.chunk(2, dim=1)
        return s, mu

    def forward_frame(
        self, latent: torch.Tensor, prev: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None, rate: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Training step for one latent frame ``[B, C, h, w]``; ``prev`` = (y^_{t-1}, f_{t-1}, l^_{t-1}) or None.

        ``rate``: ``[B]`` integer rate indexes. Returns ``latent_hat``, ``y_hat``, ``context`` and
        ``likelihoods_y`` / ``likelihoods_z``.
        """
        gain = self.log_gain[rate].exp()[:, :, None, None]
        hgain = self.log_hyper_gain[rate].exp()[:, :, None, None]
        y = self._analyse(latent, None if prev is None else prev[2], None if prev is None else prev[1])
        z_s = self.hyper_analysis(y) * hgain
        _, z_lik = self.entropy_bottleneck(z_s)
        medians = self.entropy_bottleneck.medians()
        z_hat = (quantize_ste(z_s - medians) + medians) / hgain
        s, mu = self._params(self.hyper_synthesis(z_hat), None if prev is None else prev[0])
        y_s, mu_s = y * gain, mu * gain
        scale_s = self.table.continuous(s + torch.log(gain) / self.table.log_step)
        _, y_lik = self.gaussian_conditional(y_s, scale_s, means=mu_s)
        y_hat = (quantize_ste(y_s - mu_s) + mu_s) / gain
        latent_hat = self._synthesise(y_hat, None if prev is None else prev[2], None if prev is None else prev[1])
        return {
            "latent_hat": latent_hat,
            "y_hat": y_hat,
            "context": self.context_net(latent_hat),
            "likelihoods_y": y_lik,
            "likelihoods_z": z_lik,
        }

    # ------------------------------------------------------------------ coding path
    def _check_coding(self, latent: torch.Tensor, rate: int) -> None:
        if not self.is_updated:
            raise RuntimeError("call update() (or load updated weights) before coding")
        if not 0 <= rate < self.num_rates:
            raise ValueError(f"rate index {rate} out of range 0..{self.num_rates - 1}")
        h, w = latent.shape[-2:]
        if h % self.latent_multiple or w % self.latent_multiple:
            raise ValueError(f"latent size {h}x{w} must be a multiple of {self.latent_multiple}")

    def _entropy_params(
        self, z_hat_s: torch.Tensor, prev_symbols: torch.Tensor | None, rate: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact (index, mean in the gained domain) from decoded z and previous symbols."""
        z_hat = to_grid(z_hat_s.double() * self.inv_hyper_gain[rate].view(1, -1, 1, 1))
        h = self.hyper_synthesis.forward_exact(z_hat)
        if prev_symbols is None:
            out = self.intra_params.forward_exact(h)
        else:
            out = self.inter_params.forward_exact(torch.cat([h, self.temporal_prior.forward_exact(prev_symbols)], dim=1))
        s, mu = out.chunk(2, dim=1)
        index = self.table.indexes(s + self.index_offset[rate].view(1, -1, 1, 1))
        mu_s = to_grid(mu, 8) * self.gain[rate].view(1, -1, 1, 1)
        return index, mu_s

    def _reconstruct(
        self, symbols_s: torch.Tensor, mu_s: torch.Tensor, prev: FrameCode | None, rate: int, strings: tuple[bytes, bytes]
    ) -> FrameCode:
        y_hat_s = symbols_s.double() + mu_s
        y_unit = to_grid(y_hat_s * self.inv_gain[rate].view(1, -1, 1, 1))
        y_float = y_unit.float()
        latent = self._synthesise(y_float, None if prev is None else prev.latent, None if prev is None else prev.context)
        return FrameCode(strings, latent, y_unit, self.context_net(latent))

    @torch.no_grad()
    def compress_frame(self, latent: torch.Tensor, prev: FrameCode | None, rate: int) -> FrameCode:
        """Code one latent frame ``[1, C, h, w]``; the result also holds the decoder's reconstruction."""
        self._check_coding(latent, rate)
        y = self._analyse(latent, None if prev is None else prev.latent, None if prev is None else prev.context)
        z_s = self.hyper_analysis(y) * self.hyper_gain[rate].view(1, -1, 1, 1).float()
        z_symbols = self.entropy_bottleneck.quantize(z_s)
        z_string = self.entropy_bottleneck.compress(z_symbols)
        z_hat_s = self.entropy_bottleneck.dequantize(z_symbols)
        index, mu_s = self._entropy_params(z_hat_s, None if prev is None else prev.symbols, rate)
        y_s = y.double() * self.gain[rate].view(1, -1, 1, 1)
        symbols_s = to_symbols(y_s - mu_s)
        y_string = self.gaussian_conditional.compress(symbols_s, index)
        return self._reconstruct(symbols_s, mu_s, prev, rate, (y_string, z_string))

    @torch.no_grad()
    def decompress_frame(
        self, strings: tuple[bytes, ...], latent_size: tuple[int, int], prev: FrameCode | None, rate: int
    ) -> FrameCode:
        """Decode one latent frame of spatial size ``latent_size`` from ``(y, z)`` strings.

        A damaged string decodes to other symbols or raises ``ValueError``; it never reads past its end.
        """
        if len(strings) != 2:
            raise ValueError(f"expected 2 strings (y, z) per latent frame, got {len(strings)}")
        h, w = latent_size
        self._check_coding(torch.empty(1, 1, h, w), rate)
        z_hat_s = self.entropy_bottleneck.dequantize(self.entropy_bottleneck.decompress(strings[1], (h // 4, w // 4)))
        index, mu_s = self._entropy_params(z_hat_s, None if prev is None else prev.symbols, rate)
        symbols_s = self.gaussian_conditional.decompress(strings[0], index)
        return self._reconstruct(symbols_s, mu_s, prev, rate, (strings[0], strings[1]))

    def context(self, latents: torch.Tensor) -> torch.Tensor:
        """Context features ``[B, C_ctx, T, h, w]`` of a latent sequence ``[B, C, T, h, w]`` (enhance mode)."""
        b, c, t, h, w = latents.shape
        flat = latents.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        f = self.context_net(flat)
        return f.view(b, t, -1, h, w).permute(0, 2, 1, 3, 4)


def frame_bits(likelihoods: torch.Tensor) -> torch.Tensor:
    """Estimated bits per batch item from likelihoods (training only; real rates come from bytes)."""
    return -torch.log2(likelihoods).flatten(1).sum(1)


def pad_latent(latent: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = latent.shape[-2:]
    return F.pad(latent, (0, -w % multiple, 0, -h % multiple), mode="replicate")
