"""The interface every latent autoencoder of a model provides (video VAE or per-frame autoencoder).

The codec, the refiner, training, the filters and the tools only use this interface; which network
stands behind it is decided by the model folder (``vae/config.json``). Latents are normalised per
channel (``latents_mean`` / ``latents_std``, recorded in the component's config), so every network
above the autoencoder sees roughly zero-mean, unit-variance latents.
"""

from __future__ import annotations

import threading

import torch
from torch import nn

from .io import WeightsError

__all__ = ["LatentAutoencoder", "WeightsError"]


class LatentAutoencoder(nn.Module):
    """Frames ``[B, 3, T, H, W]`` in [-1, 1] <-> normalised latents ``[B, C, T', H/s, W/s]``.

    Subclasses set ``spatial_factor`` / ``temporal_factor`` and implement ``encode_raw``, ``decode_raw``,
    ``save_pretrained``, ``from_pretrained``, ``encoder_modules`` and ``decoder_modules``. A clip of ``1 + k * temporal_factor``
    frames has ``1 + k`` latent frames.
    """

    spatial_factor: int = 8
    temporal_factor: int = 1

    def __init__(self, channels: int, mean: list[float] | None = None, std: list[float] | None = None) -> None:
        super().__init__()
        self._channels = channels
        shape = (1, channels, 1, 1, 1)
        mean_t = torch.tensor(mean if mean is not None else [0.0] * channels, dtype=torch.float32).view(shape)
        std_t = torch.tensor(std if std is not None else [1.0] * channels, dtype=torch.float32).view(shape)
        # Statistics are data of the config, not weights: they stay out of state dicts.
        self.register_buffer("latents_mean", mean_t, persistent=False)
        self.register_buffer("latents_std", std_t, persistent=False)
        # One coding call at a time: the causal VAE keeps its feature cache on the module.
        self._lock = threading.Lock()

    @property
    def z_channels(self) -> int:
        return self._channels

    @property
    def device(self) -> torch.device:
        return self.latents_mean.device

    def latent_frames(self, num_frames: int) -> int:
        """Latent frames for a clip of ``1 + k * temporal_factor`` frames."""
        if num_frames < 1 or (num_frames - 1) % self.temporal_factor:
            raise ValueError(f"clip length must be 1 + {self.temporal_factor}k frames, got {num_frames}")
        return 1 + (num_frames - 1) // self.temporal_factor

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Record per-channel statistics of the raw latents (subclasses also write them to their config)."""
        self.latents_mean.copy_(mean.view_as(self.latents_mean))
        self.latents_std.copy_(std.view_as(self.latents_std))

    def normalize(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.latents_mean.to(raw)) / self.latents_std.to(raw)

    def denormalize(self, latents: torch.Tensor) -> torch.Tensor:
        return latents * self.latents_std.to(latents) + self.latents_mean.to(latents)

    def encode_raw(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames -> un-normalised latents (for statistics)."""
        raise NotImplementedError

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames in [-1, 1] -> normalised latents."""
        with self._lock:
            return self.normalize(self.encode_raw(frames))

    def decode(self, latents: torch.Tensor, rate: int | None = None) -> torch.Tensor:
        """Normalised latents -> frames in [-1, 1].

        :param rate: the codec rate point the latents were coded at (``None``: clean or refined latents); an
            autoencoder with decoders tuned per rate uses it, others ignore it.
        """
        with self._lock:
            return self.decode_raw(self.denormalize(latents), rate).clamp(-1.0, 1.0)

    def decode_raw(self, raw: torch.Tensor, rate: int | None = None) -> torch.Tensor:
        """Un-normalised latents -> frames, not clamped (training keeps the gradient of out-of-range pixels)."""
        raise NotImplementedError

    def encoder_modules(self) -> list[nn.Module]:
        """The modules up to the latent (frozen after the vae stage: what a latent pool depends on)."""
        raise NotImplementedError

    def decoder_modules(self) -> list[nn.Module]:
        """The modules after the latent that stage II may fine-tune."""
        raise NotImplementedError
