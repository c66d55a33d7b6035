"""The video VAE: diffusers' ``AutoencoderKLWan`` in the Wan2.1 latent layout.

Clips of ``1 + 4k`` frames map to ``1 + k`` latent frames of ``16 x H/8 x W/8``. Latents leave
``encode`` normalised by the config's ``latents_mean``/``latents_std`` (roughly zero-mean,
unit-variance per channel) and ``decode`` undoes that, so every other network sees one scale.
A diffusers-format Wan2.1 VAE folder loads unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan
from torch import nn

from .autoencoder import LatentAutoencoder

logger = logging.getLogger(__name__)

# Our small default: about 0.67M parameters, ~4x faster than base_dim=16 on a CPU.
SMALL_VAE_CONFIG: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 1,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "latents_mean": [0.0] * 16,
    "latents_std": [1.0] * 16,
}


class VideoVAE(LatentAutoencoder):
    """Causal 3D VAE with normalised latents.

    :param model: a diffusers ``AutoencoderKLWan``.
    """

    def __init__(self, model: AutoencoderKLWan) -> None:
        cfg = model.config
        super().__init__(int(cfg.z_dim), list(cfg.latents_mean), list(cfg.latents_std))
        self.model = model

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> VideoVAE:
        return cls(AutoencoderKLWan(**(config or SMALL_VAE_CONFIG)))

    @classmethod
    def from_pretrained(cls, path: Path | str, subfolder: str | None = None) -> VideoVAE:
        """Load a diffusers-format folder (ours or a Wan2.1 ``vae/`` folder)."""
        path = Path(path)
        if subfolder is None and not (path / "config.json").is_file() and (path / "vae" / "config.json").is_file():
            subfolder = "vae"
        model = AutoencoderKLWan.from_pretrained(path, subfolder=subfolder, local_files_only=True, low_cpu_mem_usage=False)
        return cls(model.eval())

    def save_pretrained(self, path: Path | str) -> None:
        self.model.save_pretrained(path, safe_serialization=True)

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Record per-channel latent statistics (after training) in the config and buffers."""
        self.model.register_to_config(latents_mean=[float(v) for v in mean], latents_std=[float(v) for v in std])
        super().set_latent_stats(mean, std)

    @property
    def spatial_factor(self) -> int:
        return int(self.model.config.scale_factor_spatial or 8)

    @property
    def temporal_factor(self) -> int:
        return int(self.model.config.scale_factor_temporal or 4)

    def encode_distribution(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``(mean, logvar)`` of the raw (un-normalised) latents, for training."""
        dist = self.model.encode(frames).latent_dist
        return dist.mean, dist.logvar

    def encode_raw(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encode_distribution(frames)[0]

    def decode_raw(self, raw: torch.Tensor, rate: int | None = None) -> torch.Tensor:
        return self.model.decode(raw).sample  # one decoder for every rate

    def encoder_modules(self) -> list[nn.Module]:
        return [self.model.encoder, self.model.quant_conv]

    def decoder_modules(self) -> list[nn.Module]:
        return [self.model.post_quant_conv, self.model.decoder]
