"""The video VAE: diffusers' ``AutoencoderKLWan`` in the Wan2.1 latent layout.

Clips of ``1 + 4k`` frames map to ``1 + k`` latent frames of ``16 x H/8 x W/8``. Latents leave
``encode`` normalised by the config's ``latents_mean``/``latents_std`` (roughly zero-mean,
unit-variance per channel) and ``decode`` undoes that, so every other network sees one scale.
A diffusers-format Wan2.1 VAE folder loads unchanged.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan
from torch import nn

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


class VideoVAE(nn.Module):
    """Causal 3D VAE with normalised latents.

    :param model: a diffusers ``AutoencoderKLWan``.
    """

    def __init__(self, model: AutoencoderKLWan) -> None:
        super().__init__()
        self.model = model
        # AutoencoderKLWan keeps its causal feature cache on the module: one call at a time.
        self._lock = threading.Lock()
        cfg = model.config
        z = cfg.z_dim
        self.register_buffer("latents_mean", torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, z, 1, 1, 1))
        self.register_buffer("latents_std", torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, z, 1, 1, 1))

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
        self.latents_mean.copy_(mean.view_as(self.latents_mean))
        self.latents_std.copy_(std.view_as(self.latents_std))

    @property
    def z_channels(self) -> int:
        return int(self.model.config.z_dim)

    @property
    def spatial_factor(self) -> int:
        return int(self.model.config.scale_factor_spatial or 8)

    @property
    def temporal_factor(self) -> int:
        return int(self.model.config.scale_factor_temporal or 4)

    def latent_frames(self, num_frames: int) -> int:
        """Latent frames for a clip of ``1 + k * temporal_factor`` frames."""
        if (num_frames - 1) % self.temporal_factor:
            raise ValueError(f"clip length must be 1 + {self.temporal_factor}k frames, got {num_frames}")
        return 1 + (num_frames - 1) // self.temporal_factor

    def normalize(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.latents_mean.to(raw)) / self.latents_std.to(raw)

    def denormalize(self, latents: torch.Tensor) -> torch.Tensor:
        return latents * self.latents_std.to(latents) + self.latents_mean.to(latents)

    def encode_distribution(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``(mean, logvar)`` of the raw (un-normalised) latents, for training."""
        dist = self.model.encode(frames).latent_dist
        return dist.mean, dist.logvar

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 1+4k, H, W]`` in [-1, 1] -> normalised latents ``[B, 16, 1+k, H/8, W/8]``."""
        with self._lock:
            mean, _ = self.encode_distribution(frames)
        return self.normalize(mean)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> frames in [-1, 1]."""
        with self._lock:
            return self.model.decode(self.denormalize(latents)).sample.clamp(-1.0, 1.0)
