"""A fixed pool of VAE latents for the stages that train on latents (codec, prior, refine).

The frozen VAE encoder costs ~8x more than a codec training step on CPU. Encoding a pool of
random crops once and drawing batches from it (with random latent sub-crops) makes those stages
several times faster at the price of fewer distinct crops.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..models.vae import VideoVAE
from .data import VideoCrops

logger = logging.getLogger(__name__)

# (id(vae), frames, crop, count, seed) -> pool; the codec and refine stages share one pool.
_POOLS: dict[tuple[int, int, int, int, int], "LatentPool"] = {}


class LatentPool:
    """``count`` latents ``[C, T, h, w]`` of random crops, encoded once.

    :param latents: ``[N, C, T, h, w]`` normalised latents (CPU).
    """

    def __init__(self, latents: torch.Tensor) -> None:
        self.latents = latents

    @classmethod
    @torch.no_grad()
    def build(cls, vae: VideoVAE, crops: VideoCrops, count: int, seed: int, chunk: int = 8) -> LatentPool:
        key = (id(vae), crops.frames, crops.crop, count, seed)
        if key in _POOLS:
            return _POOLS[key]
        rng = np.random.default_rng([seed, 7919])
        device = vae.latents_mean.device
        parts = []
        for start in range(0, count, chunk):
            x = torch.stack([crops.sample(rng) for _ in range(min(chunk, count - start))])
            parts.append(vae.encode(x.to(device)).cpu())
            if start // chunk % 16 == 0:
                logger.info("latent pool: %d/%d crops encoded", start + len(x), count)
        pool = _POOLS[key] = cls(torch.cat(parts))
        return pool

    def sample(self, rng: np.random.Generator, batch: int, size: int | None = None) -> torch.Tensor:
        """``batch`` random pool entries, each cut to a random ``size x size`` latent window."""
        n, _, _, h, w = self.latents.shape
        size = min(size or h, h, w)
        out = []
        for i in rng.integers(0, n, batch):
            y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            out.append(self.latents[int(i), :, :, y0 : y0 + size, x0 : x0 + size])
        return torch.stack(out)
