"""Context adapter: turns the codec's context sequence into per-block residuals for the frozen Wan prior.

::

    [context | x_c]  --patchify (like the prior)-->  tokens --ResBlock3d x n--> features      (once per window)
    features, sigma*1000 --FiLM(timestep embedding)--> features_t                              (once per step)
    features_t --block_proj[i] (zero-initialised output)--> residual added to Wan block i's output tokens

The output projections start at zero, so an untrained adapter leaves the prior's velocity exactly unchanged; the
adapter learns the *correction* part of the GNVC-VD velocity, ``t_N / (1 - t_N) * (x_c - x_1)`` in ``d x / d sigma``
terms. The decoded latent ``x_c`` itself is fed alongside the context (``latent_channels``): it is known exactly at
the decoder, and the correction is a function of it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from diffusers import ConfigMixin, ModelMixin, WanTransformer3DModel
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from vsgnvc.models.prior import inner_dim

logger = logging.getLogger(__name__)


class _ResBlock3d(nn.Module):
    """Pre-activation residual 3x3x3 convolution block on the token grid (mixes space and time cheaply)."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1, padding_mode="replicate")
        self.norm2 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1, padding_mode="replicate")
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        return x + h


class WanContextAdapter(ModelMixin, ConfigMixin):
    """Timestep-aware adapter injecting a residual into every block of an unmodified ``WanTransformer3DModel``.

    Args:
        context_channels (`int`, *optional*, defaults to 32): channels ``C_ctx`` of the codec's context features.
        latent_channels (`int`, *optional*, defaults to 16): channels of the decoded latent ``x_c`` concatenated to
            the context; 0 feeds the context alone.
        patch_size (`tuple[int, int, int]`, *optional*, defaults to `(1, 2, 2)`): must equal the prior's, so that
            adapter tokens line up with the prior's tokens.
        prior_dim (`int`, *optional*, defaults to 64): token width of the prior's blocks.
        num_blocks (`int`, *optional*, defaults to 4): number of prior blocks (one residual each).
        hidden_dim (`int`, *optional*, defaults to 64): adapter feature width.
        num_res_blocks (`int`, *optional*, defaults to 2): 3D residual conv blocks over the token grid.
        freq_dim (`int`, *optional*, defaults to 64): sinusoidal timestep embedding size.
        norm_groups (`int`, *optional*, defaults to 8): GroupNorm groups (must divide ``hidden_dim``).
    """

    @register_to_config
    def __init__(
        self,
        context_channels: int = 32,
        latent_channels: int = 16,
        patch_size: tuple[int, ...] = (1, 2, 2),
        prior_dim: int = 64,
        num_blocks: int = 4,
        hidden_dim: int = 64,
        num_res_blocks: int = 2,
        freq_dim: int = 64,
        norm_groups: int = 8,
    ) -> None:
        super().__init__()
        if len(patch_size) != 3:
            raise ValueError(f"patch_size must have 3 entries, got {patch_size}")
        if context_channels < 1 or latent_channels < 0 or num_blocks < 1 or hidden_dim < 1:
            raise ValueError("context_channels, num_blocks and hidden_dim must be positive, latent_channels >= 0")
        if hidden_dim % norm_groups:
            raise ValueError(f"norm_groups {norm_groups} must divide hidden_dim {hidden_dim}")
        patch = tuple(patch_size)
        self.patch_embedding = nn.Conv3d(context_channels + latent_channels, hidden_dim, patch, stride=patch)
        self.res_blocks = nn.ModuleList(_ResBlock3d(hidden_dim, norm_groups) for _ in range(num_res_blocks))
        self.time_proj = Timesteps(freq_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(freq_dim, hidden_dim)
        self.time_modulation = nn.Linear(hidden_dim, 2 * hidden_dim)
        self.feature_norm = nn.LayerNorm(hidden_dim, elementwise_affine=False)
        self.act = nn.SiLU()
        self.block_proj = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, prior_dim))
            for _ in range(num_blocks)
        )
        self.reset_output()

    @classmethod
    def for_prior(cls, transformer: WanTransformer3DModel, **kwargs: Any) -> WanContextAdapter:
        """An adapter shaped for ``transformer`` (patch size, block count and width taken from its config)."""
        return cls(
            patch_size=tuple(transformer.config.patch_size),
            prior_dim=inner_dim(transformer),
            num_blocks=transformer.config.num_layers,
            **kwargs,
        )

    def reset_output(self) -> None:
        """Zero the output projections (and the FiLM), so the adapter adds exactly nothing."""
        nn.init.zeros_(self.time_modulation.weight)
        nn.init.zeros_(self.time_modulation.bias)
        for proj in self.block_proj:
            nn.init.zeros_(proj[-1].weight)
            nn.init.zeros_(proj[-1].bias)

    def check_compatible(self, transformer: WanTransformer3DModel) -> None:
        """Raise ``ValueError`` if this adapter was not built for a prior shaped like ``transformer``."""
        cfg = self.config
        want = (tuple(cfg.patch_size), cfg.prior_dim, cfg.num_blocks)
        have = (tuple(transformer.config.patch_size), inner_dim(transformer), transformer.config.num_layers)
        if want != have:
            raise ValueError(f"adapter expects prior (patch, dim, blocks) = {want}, prior has {have}")

    def encode(self, context: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        """Timestep-independent features ``[B, N, hidden_dim]``, token order as the prior's patch embedding.

        Args:
            context (`torch.Tensor` of shape `[B, C_ctx, T, h, w]`): codec context sequence.
            latent (`torch.Tensor` of shape `[B, 16, T, h, w]`, *optional*): decoded latent ``x_c``; required iff
                ``latent_channels > 0``.
        """
        cfg = self.config
        if context.ndim != 5 or context.shape[1] != cfg.context_channels:
            raise ValueError(f"context must be [B, {cfg.context_channels}, T, h, w], got {list(context.shape)}")
        if cfg.latent_channels:
            if latent is None or latent.shape[1] != cfg.latent_channels or latent.shape[2:] != context.shape[2:]:
                got = None if latent is None else list(latent.shape)
                raise ValueError(f"adapter needs the decoded latent [B, {cfg.latent_channels}, T, h, w], got {got}")
            context = torch.cat([context, latent.to(context.dtype)], dim=1)
        grid = self.patch_embedding(context)
        for block in self.res_blocks:
            grid = block(grid)
        return grid.flatten(2).transpose(1, 2)

    def modulate(self, features: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        """FiLM ``features`` by the timestep (``sigma * 1000``, shape ``[B]``)."""
        emb = self.time_proj(timestep).to(features.dtype)
        scale, shift = self.time_modulation(self.act(self.time_embedding(emb))).unsqueeze(1).chunk(2, dim=-1)
        return self.feature_norm(features) * (1 + scale) + shift

    def block_residual(self, index: int, features_t: torch.Tensor) -> torch.Tensor:
        """Residual ``[B, N, prior_dim]`` for prior block ``index``."""
        return self.block_proj[index](features_t)

    def forward(
        self, context: torch.Tensor, timestep: torch.Tensor, latent: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``modulate(encode(context, latent), timestep)``: the features ``block_residual`` consumes."""
        return self.modulate(self.encode(context, latent), timestep)
