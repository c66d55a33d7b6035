"""The contextual latent codec of GNVC-VD (spatio-temporal latent compression).

::

    intra (first latent frame of a GOP)      inter (every later latent frame)
    l_0 -> g_a -> y_0                        l_t, f_{t-1} -> g_a' -> y_t
           h_a -> z_0 -> EB                         h_a -> z_t -> EB
    z^ -> h_s ----------> (s, mu) -> GC      z^ -> h_s --+
                                             y^_{t-1} ---+-> (s, mu) -> GC
    y^_0 -> g_s -> l^_0                      l^_t = l^_{t-1} + g_s'(y^_t, f_{t-1})
    f_0 = ctx(l^_0)                          f_t = ctx(l^_t)

That is the ``"learned"`` transform. The ``"patch"`` one (for pretrained latent spaces such as TAEF2's) cuts the
latent into 2x2 or 4x4 patches (``patch_size``), rotates each patch into an orthonormal basis measured on the data
(PCA) and codes those coefficients ``c_t`` (intra) or ``c_t - T(l^_{t-1})`` (inter), plus learned corrections
that start at zero; its quantisation steps start from the decoder's measured sensitivity to each coefficient, so
it starts as a perceptually weighted transform coder with white errors (:class:`PatchTransform`).
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
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from safetensors.torch import load_file
from torch import nn

from ..entropy.exact import (
    ACT_FRACTION_BITS,
    MAX_FAN_IN,
    WEIGHT_FRACTION_BITS,
    ExactConv2d,
    ExactNet,
    ExactUpsample,
    to_grid,
)
from ..entropy.factorized import EntropyBottleneck
from ..entropy.gaussian import GaussianConditional, ScaleTable
from ..entropy.ops import deadzone_round, deadzone_ste, quantize_ste
from ..entropy.range_coder import to_symbols
from .io import is_compressai_state, load_state_dict_resizing, save_config_and_weights
from .latent_motion import MOTION_BLOCKS, compress_vectors, decompress_vectors, field_shape, search_vectors, warp

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
    """A small residual network whose output starts at zero (the patch transform's learned part)."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(cin, hidden), nn.LeakyReLU(0.1), _conv(hidden, hidden), nn.LeakyReLU(0.1), _conv(hidden, cout))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchTransform(nn.Module):
    """``patch`` x ``patch`` latent patches <-> coefficients in an orthonormal basis (identity until
    :meth:`set_basis`).

    Analysis and synthesis bases are separate parameters that start as each other's transpose; the mean is a
    buffer. ``inverse(..., with_mean=False)`` maps a coefficient *difference* back to a latent difference.
    """

    def __init__(self, latent_channels: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        m = latent_channels * patch**2
        self.register_buffer("mean", torch.zeros(m))
        self.analysis = nn.Parameter(torch.eye(m))
        self.synthesis = nn.Parameter(torch.eye(m))

    @torch.no_grad()
    def set_basis(self, mean: torch.Tensor, basis: torch.Tensor) -> None:
        """``basis``: ``[m, m]`` orthonormal, one basis vector per row (coefficient k = basis[k] . patch)."""
        self.mean.copy_(mean)
        self.analysis.copy_(basis)
        self.synthesis.copy_(basis.T)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(latent, self.patch) - self.mean.view(1, -1, 1, 1)
        return F.conv2d(x, self.analysis[:, :, None, None])

    def inverse(self, coefficients: torch.Tensor, with_mean: bool = True) -> torch.Tensor:
        x = F.conv2d(coefficients, self.synthesis[:, :, None, None])
        if with_mean:
            x = x + self.mean.view(1, -1, 1, 1)
        return F.pixel_shuffle(x, self.patch)


TRANSFORMS = ("learned", "patch")
PATCH_SIZES = (2, 4)
PIXEL_COPY_BLOCKS = (0, 8, 16, 32)
# The per-rate coding tables update() derives from the learned gains; inter frames get their own
# ("inter_" + name) when their steps differ from the intra frame's.
GAIN_TABLES = ("gain", "inv_gain", "index_offset")


@dataclass
class FrameCode:
    """One coded latent frame: entropy-coded strings and what the decoder needs next."""

    strings: tuple[bytes, ...]  # (y, z), and the motion vectors' for inter frames of a codec with motion
    latent: torch.Tensor  # decoded l^_t, [1, C, h, w]
    symbols: torch.Tensor  # y^_t in the unit domain, float64 on the grid (next frame's entropy context)
    context: torch.Tensor  # f_t


@dataclass
class FramePlan:
    """One latent frame's coding decided up to its ``y`` symbols (:meth:`ContextualLatentCodec.plan_frame`)."""

    rate: int
    values: torch.Tensor  # y in the gained domain minus the means, before rounding (float64)
    symbols: torch.Tensor  # the plain encoder's integers (float64): values rounded, inter frames with a dead zone
    means: torch.Tensor  # mu_s, float64 on the grid
    index: torch.Tensor  # each symbol's scale index
    reference: tuple[torch.Tensor, torch.Tensor] | None  # the inter frame's (latent, context) it corrects
    side_strings: tuple[bytes, ...]  # z, and the motion vectors' when the codec moves the reference


class ContextualLatentCodec(nn.Module, ConfigMixin):
    """Intra + conditional inter coding of VAE latent frames with learned entropy models.

    :param latent_channels: VAE latent channels (16 for the Wan2.1 layout).
    :param hidden_channels: width of analysis/synthesis networks.
    :param y_channels: channels of the quantised representation ``y``.
    :param z_channels: channels of the hyper-latent ``z``.
    :param context_channels: channels of the temporal context feature ``f_t`` (also fed to the refiner).
    :param num_rates: number of rate points (gain vectors).
    :param transform: ``"learned"``: ``y`` at half the latent resolution from learned analysis/synthesis
        networks. ``"patch"``: ``y`` is the patch coefficient frame of the latent (intra) or its difference
        from the previous decoded latent's (inter), plus learned corrections that start at zero
        (``y_channels`` = ``patch_size``² x ``latent_channels``, at 1/``patch_size`` of the latent resolution).
        Its basis, step sizes and the
        training distortion come from :meth:`set_patch_statistics`. Why not a down-projecting transform: a
        pretrained decoder tolerates white latent errors far better than the smooth errors such a transform
        makes (TAEF2 on his_girl_friday, 35.4 dB clean: uniform noise one latent std wide 28.3 dB; the 16 main
        components only 21.6 dB; a 2x2 latent average 17.8 dB).
    :param inter_deadzone: inter frames round ``|v|`` down when its fraction is below ``0.5 + inter_deadzone``
        (a wider zero bin, as in classical encoders): a closed loop otherwise re-codes the previous frame's
        quantisation error whenever noise pushes it past half a step. Only the encoder and training use it; the
        decoder reads symbols. Measured on naive 2x2-patch coding of bikes (25 frames, zero-order rates): a zero
        bin of ``|v| < 1`` at step 1 gave P-frames of 0.17 bpp at 33.5 dB, a 1.5x coarser step without it 0.28 bpp
        at 33.2 dB.
    :param inter_step_scale: inter frames quantise with steps this many times the intra frame's (the same rate).
        A closed loop refines what the previous frames left, so coarse inter steps cost less quality than coarse
        intra ones; the intra frame is the reference every later frame leans on.
    :param motion_block: inter frames predict from the previous decoded latent warped by one vector per
        ``motion_block`` x ``motion_block`` latent cell (:mod:`.latent_motion`; a third string per inter frame);
        0: no motion, the previous decoded latent as it is. Needs the patch transform (the vector search weighs
        prediction errors with its measured distortion weights and the rate's lambda).
    :param motion_search: the search range in latent pixels either way.
    :param pixel_copy_block: inter frames carry a copy field (:mod:`vsgnvc.codec.block_copy`, one more string):
        cells of this many pixels a side shown as blocks of the previous output frame moved by whole-pixel
        vectors; 0: none. The codec only declares it (the strings per inter frame); the GOP coder does it.
    :param pixel_copy_search: the copy vectors' range in pixels either way.
    :param patch_size: side of the patch transform's latent patches (2 or 4). Larger patches decorrelate wider
        neighbourhoods: in a 25-frame closed-loop probe (bikes, 320x180) 4x4 patches coded 0.034 bpp at 27.4 dB
        where 2x2 ones gave 25.9 dB at the same rate.
    """

    config_name = "config.json"

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
        inter_deadzone: float = 0.0,
        patch_size: int = 2,
        inter_step_scale: float = 1.0,
        motion_block: int = 0,
        motion_search: int = 3,
        pixel_copy_block: int = 0,
        pixel_copy_search: int = 8,
    ) -> None:
        super().__init__()
        if pixel_copy_block not in PIXEL_COPY_BLOCKS:
            raise ValueError(f"codec pixel_copy_block must be one of {PIXEL_COPY_BLOCKS}, got {pixel_copy_block}")
        if not 1 <= pixel_copy_search <= 32:
            raise ValueError(f"codec pixel_copy_search must be in 1..32, got {pixel_copy_search}")
        if pixel_copy_block and not rate_lambdas:
            raise ValueError("codec pixel_copy_block needs rate_lambdas (copy decisions weigh bits against distortion)")
        c, n, m, zc, fc = latent_channels, hidden_channels, y_channels, z_channels, context_channels
        if not 0.0 <= inter_deadzone < 0.5:
            raise ValueError(f"codec inter_deadzone must be in [0, 0.5), got {inter_deadzone}")
        if not 0.25 <= inter_step_scale <= 4.0:
            raise ValueError(f"codec inter_step_scale must be in [0.25, 4], got {inter_step_scale}")
        if transform not in TRANSFORMS:
            raise ValueError(f"codec transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
        self.patch = transform == "patch"
        if patch_size not in PATCH_SIZES:
            raise ValueError(f"codec patch_size must be one of {', '.join(map(str, PATCH_SIZES))}, got {patch_size}")
        if self.patch and m != c * patch_size**2:
            raise ValueError(
                f"the patch transform codes {patch_size}x{patch_size} latent patches: y_channels ({m}) must be "
                f"{patch_size**2} x latent_channels ({c})"
            )
        # y at 1/2 (learned) or 1/patch_size (patch) of the latent resolution, z at half of y's.
        self.y_factor = patch_size if self.patch else 2
        self.latent_multiple = 2 * self.y_factor
        if motion_block:
            if not self.patch:
                raise ValueError("codec motion_block needs the patch transform (its distortion weights drive the search)")
            if motion_block not in MOTION_BLOCKS or motion_block % self.y_factor:
                raise ValueError(
                    f"codec motion_block must be one of {', '.join(map(str, MOTION_BLOCKS))} and a multiple of "
                    f"patch_size ({patch_size}), or 0; got {motion_block}"
                )
            if not 1 <= motion_search <= 8:
                raise ValueError(f"codec motion_search must be in 1..8 latent pixels, got {motion_search}")
        self.motion_block = int(motion_block)
        self.table = ScaleTable(scale_min, scale_max, scale_levels)
        self.context_net = nn.Sequential(_conv(c, n), nn.LeakyReLU(0.1), _conv(n, fc))
        if self.patch:
            self.patch_transform = PatchTransform(c, patch_size)
            fy = fc * patch_size**2  # the context at y's resolution
            self.intra_analysis = Correction(m, n, m)
            self.intra_synthesis = Correction(m, n, m)
            self.inter_analysis = Correction(m + fy, n, m)
            self.inter_synthesis = Correction(m + fy, n, m)
            # The distortion training minimises: sum_k weight_k * (error of coefficient k in the measured basis)^2,
            # about the MSE of the decoded RGB in [0, 1] (set_patch_statistics); fixed, so no transform can game it.
            self.register_buffer("distortion_basis", torch.eye(m))
            self.register_buffer("distortion_weights", torch.full((m,), 1.0 / m))
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
        # 4x4 patches give y 512 channels: a 3x3 first layer would pass the exact-arithmetic fan-in limit.
        prior_kernel = 3 if m * 9 <= MAX_FAN_IN else 1
        self.temporal_prior = ExactNet([ExactConv2d(m, n, prior_kernel), ExactConv2d(n, n)])
        self.intra_params = ExactNet([ExactConv2d(n, n), ExactConv2d(n, 2 * m, 1)])
        self.inter_params = ExactNet([ExactConv2d(2 * n, n), ExactConv2d(n, 2 * m, 1)])
        # Per-rate quantisation gains (log domain for training), snapped to dyadic values by update().
        self.log_gain = nn.Parameter(torch.linspace(-1.5, 1.0, num_rates).view(num_rates, 1).repeat(1, m))
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
        self.inter_step_scale = float(inter_step_scale)
        self.has_inter_tables = self.inter_step_scale != 1.0  # without them inter frames share the intra ones
        if self.has_inter_tables:
            for name in GAIN_TABLES:
                self.register_buffer("inter_" + name, torch.zeros(num_rates, m, dtype=torch.float64))

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
        self._update_gain_tables("", 1.0)
        if self.has_inter_tables:
            self._update_gain_tables("inter_", self.inter_step_scale)
        self.hyper_gain.copy_(to_grid(self.log_hyper_gain.exp(), WEIGHT_FRACTION_BITS, 2**10))
        self.inv_hyper_gain.copy_(to_grid(1.0 / self.hyper_gain, WEIGHT_FRACTION_BITS + 8, 2**10))
        self.entropy_bottleneck.update()
        self.gaussian_conditional.update()

    def _update_gain_tables(self, prefix: str, step_scale: float) -> None:
        gain, inv_gain, index_offset = (getattr(self, prefix + name) for name in GAIN_TABLES)
        gain.copy_(to_grid(self.log_gain.exp() / step_scale, WEIGHT_FRACTION_BITS, 2**10))
        inv_gain.copy_(to_grid(1.0 / gain, WEIGHT_FRACTION_BITS + 8, 2**10))
        index_offset.copy_(to_grid(torch.log(gain) / self.table.log_step, ACT_FRACTION_BITS, 2**10))

    # Options that change how frames are coded, not what was learned: a trained codec takes them at export.
    CODING_OPTIONS = ("inter_step_scale", "motion_block", "motion_search", "pixel_copy_block", "pixel_copy_search")

    def with_coding_options(self, **options: float) -> ContextualLatentCodec:
        """A copy of this codec with other :data:`CODING_OPTIONS`, tables rebuilt.

        Measured (session 11): an inter step scale set on a codec trained with scale 1 beat training with it."""
        unknown = set(options) - set(self.CODING_OPTIONS)
        if unknown:
            raise ValueError(f"not coding options: {', '.join(sorted(unknown))} (they are {', '.join(self.CODING_OPTIONS)})")
        # The constructor, not from_config: diffusers drops keys it records as defaulted (older config files).
        config = {k: v for k, v in self.config.items() if not k.startswith("_")}
        codec = type(self)(**{**config, **options})
        inter_tables = {"inter_" + name for name in GAIN_TABLES}

        def is_derived(key: str) -> bool:  # update() rebuilds these
            return ".table_" in key or key in inter_tables

        learned = {k: v for k, v in self.state_dict().items() if not is_derived(k)}
        missing, unexpected = codec.load_state_dict(learned, strict=False)
        if unexpected or not all(is_derived(k) for k in missing):
            raise ValueError(f"codec state does not fit its own config: missing {missing}, unexpected {unexpected}")
        codec.update()
        return codec.eval()

    def syntax_identity(self) -> bytes:
        """Coding options that change the strings but not the weights, for the model's identity in bitstreams:
        copy blocks (empty without them, so files written before they existed keep their models' identity)."""
        block = int(self.config.get("pixel_copy_block", 0))
        return f"pixel_copy_block={block};pixel_copy_search={self.config.pixel_copy_search}".encode() if block else b""

    def entropy_bottleneck_density(self) -> list[nn.Parameter]:
        """The factorised density's own parameters (not its quantiles, which the aux loss fits)."""
        return [p for n, p in self.entropy_bottleneck.named_parameters() if not n.endswith("quantiles")]

    def entropy_parameters(self) -> list[nn.Parameter]:
        """What only changes the bits, not the decoded latents (up to the predicted means): hyperprior, entropy
        parameter networks, the hyper-latent's gains and density (its quantiles are the aux loss's)."""
        nets = (self.hyper_analysis, self.hyper_synthesis, self.temporal_prior, self.intra_params, self.inter_params)
        return [p for net in nets for p in net.parameters()] + [self.log_hyper_gain, *self.entropy_bottleneck_density()]

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.loss()

    # ------------------------------------------------------------------ patch statistics
    @torch.no_grad()
    def set_patch_statistics(
        self, mean: torch.Tensor, basis: torch.Tensor, sensitivity: torch.Tensor, lambdas: list[float] | None = None
    ) -> None:
        """Start the patch transform from measured data (training calls this before its first step).

        :param mean: ``[m]`` mean of the latent's patches (``F.pixel_unshuffle`` order).
        :param basis: ``[m, m]`` orthonormal basis, one vector per row (e.g. the patches' principal axes).
        :param sensitivity: ``[m]`` decoded-RGB MSE (in [0, 1]) per unit variance of each coefficient.
        :param lambdas: distortion weight per rate (default: the config's ``rate_lambdas``). Each rate's steps
            start where rate + lambda x distortion is minimal at high rate for a uniform quantiser,
            ``step_k = sqrt(6 / (P ln 2 x lambda x sensitivity_k))`` (P pixels per coefficient: 256 for 2x2 patches
            of an 8x latent, in bpp).
        """
        if not self.patch:
            raise ValueError("set_patch_statistics needs the patch transform")
        lambdas = lambdas or self.config.rate_lambdas
        if not lambdas or len(lambdas) != self.num_rates:
            raise ValueError(f"set_patch_statistics needs {self.num_rates} rate lambdas")
        self.patch_transform.set_basis(mean, basis)
        self.distortion_basis.copy_(basis)
        self.distortion_weights.copy_(sensitivity)
        pixels = (8 * self.y_factor) ** 2  # the autoencoders with a patch codec are 8x spatial
        lam = torch.tensor([float(v) for v in lambdas]).view(-1, 1)
        steps = torch.sqrt(6.0 / (pixels * math.log(2) * lam * sensitivity.clamp_min(1e-12).view(1, -1)))
        self.log_gain.copy_(-torch.log(steps))

    def distortion(self, latent_hat: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Per-sample training distortion of latents ``[B, C, T, h, w]``: the sensitivity-weighted coefficient
        error (patch transform; about the decoded RGB MSE in [0, 1]) or the plain latent MSE."""
        if not self.patch:
            return (latent_hat - latent).pow(2).flatten(1).mean(1)
        b, c, t, h, w = latent.shape
        err = (latent_hat - latent).permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        coef = F.conv2d(F.pixel_unshuffle(err, self.y_factor), self.distortion_basis[:, :, None, None])
        weighted = coef.pow(2) * self.distortion_weights.view(1, -1, 1, 1)
        return weighted.sum(1).view(b, -1).mean(1)

    # ------------------------------------------------------------------ transforms
    def _context_at_y(self, context: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(context, self.y_factor)

    def _analyse(self, latent: torch.Tensor, prev_latent: torch.Tensor | None, prev_context: torch.Tensor | None) -> torch.Tensor:
        """``y`` of one latent frame (intra when ``prev_latent`` is None)."""
        if self.patch:
            coef = self.patch_transform(latent)
            if prev_latent is None:
                return coef + self.intra_analysis(coef)
            diff = coef - self.patch_transform(prev_latent)
            return diff + self.inter_analysis(torch.cat([diff, self._context_at_y(prev_context)], dim=1))
        if prev_latent is None:
            return self.intra_analysis(latent)
        return self.inter_analysis(torch.cat([latent, prev_context], dim=1))

    def _synthesise(self, y_hat: torch.Tensor, prev_latent: torch.Tensor | None, prev_context: torch.Tensor | None) -> torch.Tensor:
        """The decoded latent from ``y^`` (inter frames correct the previous decoded latent)."""
        if self.patch:
            if prev_latent is None:
                return self.patch_transform.inverse(y_hat + self.intra_synthesis(y_hat))
            diff = y_hat + self.inter_synthesis(torch.cat([y_hat, self._context_at_y(prev_context)], dim=1))
            return prev_latent + self.patch_transform.inverse(diff, with_mean=False)
        if prev_latent is None:
            return self.intra_synthesis(y_hat)
        return prev_latent + self.inter_synthesis(y_hat, prev_context)

    # ------------------------------------------------------------------ training path
    def _deadzone(self, inter: bool) -> float:
        return float(self.config.inter_deadzone) if inter else 0.0

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
        if prev is not None:
            gain = gain / self.inter_step_scale
        hgain = self.log_hyper_gain[rate].exp()[:, :, None, None]
        y = self._analyse(latent, None if prev is None else prev[2], None if prev is None else prev[1])
        z_s = self.hyper_analysis(y) * hgain
        _, z_lik = self.entropy_bottleneck(z_s)
        medians = self.entropy_bottleneck.medians()
        z_hat = (quantize_ste(z_s - medians) + medians) / hgain
        s, mu = self._params(self.hyper_synthesis(z_hat), None if prev is None else prev[0])
        y_s, mu_s = y * gain, mu * gain
        scale_s = self.table.continuous(s + torch.log(gain) / self.table.log_step)
        deadzone = self._deadzone(prev is not None)
        if deadzone:
            # The inter frame's real symbols (wider zero bin), their probability, straight-through gradients.
            symbols = deadzone_ste(y_s - mu_s, deadzone)
            y_lik = self.gaussian_conditional.likelihood(symbols + mu_s, scale_s, mu_s)
        else:
            _, y_lik = self.gaussian_conditional(y_s, scale_s, means=mu_s)
            symbols = quantize_ste(y_s - mu_s)
        y_hat = (symbols + mu_s) / gain
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

    def _tables(self, rate: int, inter: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(gain, inverse gain, scale-index offset) of ``rate``, each ``[1, m, 1, 1]``, for an intra or inter frame."""
        prefix = "inter_" if inter and self.has_inter_tables else ""
        return tuple(getattr(self, prefix + name)[rate].view(1, -1, 1, 1) for name in GAIN_TABLES)  # type: ignore[return-value]

    def _entropy_params(
        self, z_hat_s: torch.Tensor, prev_symbols: torch.Tensor | None, rate: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact (index, mean in the gained domain) from decoded z and previous symbols."""
        gain, _, index_offset = self._tables(rate, prev_symbols is not None)
        z_hat = to_grid(z_hat_s.double() * self.inv_hyper_gain[rate].view(1, -1, 1, 1))
        h = self.hyper_synthesis.forward_exact(z_hat)
        if prev_symbols is None:
            out = self.intra_params.forward_exact(h)
        else:
            out = self.inter_params.forward_exact(torch.cat([h, self.temporal_prior.forward_exact(prev_symbols)], dim=1))
        s, mu = out.chunk(2, dim=1)
        index = self.table.indexes(s + index_offset)
        mu_s = to_grid(mu, 8) * gain
        return index, mu_s

    def _reconstruct(
        self,
        symbols_s: torch.Tensor,
        mu_s: torch.Tensor,
        reference: tuple[torch.Tensor, torch.Tensor] | None,
        rate: int,
        strings: tuple[bytes, ...],
    ) -> FrameCode:
        # Contiguous: the encoder's symbols carry its input's memory layout, and a convolution's float sums
        # depend on the layout; the decoder's are contiguous.
        y_hat_s = symbols_s.double().contiguous() + mu_s
        y_unit = to_grid(y_hat_s * self._tables(rate, reference is not None)[1])
        y_float = y_unit.float()
        latent = self._synthesise(y_float, *(reference or (None, None)))
        return FrameCode(strings, latent, y_unit, self.context_net(latent))

    def _moved(self, prev: FrameCode, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The inter frame's reference: the previous decoded latent and its context, moved by ``vectors``."""
        return warp(prev.latent, vectors, self.motion_block), warp(prev.context, vectors, self.motion_block)

    def _motion_cost(self, error: torch.Tensor, rate: int) -> torch.Tensor:
        """Prediction errors ``[K, C, h, w]`` -> bits per motion cell ``[K, bh, bw]``: lambda x the distortion an
        uncoded error would leave (the sensitivity-weighted coefficient energy, in bpp units x pixels)."""
        coef = F.conv2d(F.pixel_unshuffle(error, self.y_factor), self.distortion_basis[:, :, None, None].to(error.dtype))
        energy = (coef.pow(2) * self.distortion_weights.view(1, -1, 1, 1).to(error.dtype)).sum(1, keepdim=True)
        k = self.motion_block // self.y_factor
        cells = F.avg_pool2d(energy, k, ceil_mode=True, divisor_override=1)[:, 0]
        lambdas = self.config.rate_lambdas or [1.0] * self.num_rates
        return cells * (float(lambdas[rate]) * (8 * self.y_factor) ** 2)

    @torch.no_grad()
    def plan_frame(self, latent: torch.Tensor, prev: FrameCode | None, rate: int) -> FramePlan:
        """Everything of one latent frame ``[1, C, h, w]``'s coding but its ``y`` symbols: the motion vectors, the
        hyper-latent and, from it, each symbol's mean and scale (what an encoder may still choose is which
        integers it sends; :meth:`finish_frame` codes them)."""
        self._check_coding(latent, rate)
        reference, motion = None, ()
        if prev is not None:
            reference = (prev.latent, prev.context)
            if self.motion_block:
                vectors = search_vectors(
                    latent, prev.latent, lambda e: self._motion_cost(e, rate), self.motion_block, self.config.motion_search
                )
                motion = (compress_vectors(vectors, self.gaussian_conditional),)
                reference = self._moved(prev, vectors)
        y = self._analyse(latent, *(reference or (None, None)))
        z_s = self.hyper_analysis(y) * self.hyper_gain[rate].view(1, -1, 1, 1).float()
        z_symbols = self.entropy_bottleneck.quantize(z_s)
        z_string = self.entropy_bottleneck.compress(z_symbols)
        z_hat_s = self.entropy_bottleneck.dequantize(z_symbols)
        index, mu_s = self._entropy_params(z_hat_s, None if prev is None else prev.symbols, rate)
        values = y.double() * self._tables(rate, prev is not None)[0] - mu_s
        deadzone = self._deadzone(prev is not None)
        symbols = to_symbols(deadzone_round(values, deadzone) if deadzone else values)
        return FramePlan(rate, values, symbols, mu_s, index, reference, (z_string, *motion))

    def plan_scales(self, plan: FramePlan) -> torch.Tensor:
        """The Gaussian scale of each of ``plan``'s symbols (float32; what their bits are estimated with)."""
        return self.table.values().to(plan.means.device)[plan.index.long()]

    def plan_latent(self, plan: FramePlan, symbols: torch.Tensor) -> torch.Tensor:
        """The decoded latent ``plan`` gives for float ``symbols``, differentiably (within the fixed-point grid of
        :meth:`finish_frame`'s exact reconstruction): what an encoder searching the symbols optimises."""
        inv_gain = self._tables(plan.rate, plan.reference is not None)[1]
        y_hat = ((symbols.double() + plan.means) * inv_gain).float()
        return self._synthesise(y_hat, *(plan.reference or (None, None)))

    @torch.no_grad()
    def finish_frame(self, plan: FramePlan, symbols: torch.Tensor | None = None) -> FrameCode:
        """Code ``plan`` with ``symbols`` (integers; default: the plan's own rounding)."""
        symbols_s = plan.symbols if symbols is None else to_symbols(symbols.double())
        y_string = self.gaussian_conditional.compress(symbols_s, plan.index)
        return self._reconstruct(symbols_s, plan.means, plan.reference, plan.rate, (y_string, *plan.side_strings))

    def compress_frame(self, latent: torch.Tensor, prev: FrameCode | None, rate: int) -> FrameCode:
        """Code one latent frame ``[1, C, h, w]``; the result also holds the decoder's reconstruction."""
        return self.finish_frame(self.plan_frame(latent, prev, rate))

    @torch.no_grad()
    def decompress_frame(
        self, strings: tuple[bytes, ...], latent_size: tuple[int, int], prev: FrameCode | None, rate: int
    ) -> FrameCode:
        """Decode one latent frame of spatial size ``latent_size`` from ``(y, z)`` strings (plus the motion
        vectors' for an inter frame of a codec with motion).

        A damaged string decodes to other symbols or raises ``ValueError``; it never reads past its end.
        """
        moves = prev is not None and self.motion_block > 0
        expected = 3 if moves else 2
        if len(strings) != expected:
            names = "(y, z, motion)" if moves else "(y, z)"
            raise ValueError(f"expected {expected} strings {names} per {'inter' if prev else 'intra'} frame, got {len(strings)}")
        h, w = latent_size
        self._check_coding(torch.empty(1, 1, h, w), rate)
        reference = None
        if prev is not None:
            reference = (prev.latent, prev.context)
            if moves:
                vectors = decompress_vectors(strings[2], field_shape(latent_size, self.motion_block), self.gaussian_conditional)
                reference = self._moved(prev, vectors.to(prev.latent.device))
        z_size = (h // self.latent_multiple, w // self.latent_multiple)
        z_hat_s = self.entropy_bottleneck.dequantize(self.entropy_bottleneck.decompress(strings[1], z_size))
        index, mu_s = self._entropy_params(z_hat_s, None if prev is None else prev.symbols, rate)
        symbols_s = self.gaussian_conditional.decompress(strings[0], index)
        return self._reconstruct(symbols_s, mu_s, reference, rate, tuple(strings))

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
