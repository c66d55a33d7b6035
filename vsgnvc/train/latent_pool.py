"""A fixed pool of VAE latents for the stages that train on latents (codec, prior, refine).

The frozen VAE encoder costs ~8x more than a codec training step on CPU. Encoding a pool of
random crops once and drawing batches from it (with random latent sub-crops) makes those stages
several times faster at the price of fewer distinct crops. With a ``cache_dir`` the pool is kept on
disk as raw (un-normalised) float16 latents keyed by the autoencoder's weights, the clips and the crop
settings, so a resumed run, the next stage or the next session does not encode it again; the latent
statistics are applied on load (they are recomputed by every run and need not match to the bit).
A pool built ``with_frames`` also keeps its crops' pixels (uint8) for stages with a pixel term.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

from ..models.autoencoder import LatentAutoencoder
from .data import VideoCrops

logger = logging.getLogger(__name__)

# (id(vae), frames, crop, count, seed, with_frames) -> pool; the codec and refine stages share one pool.
_POOLS: dict[tuple[int, int, int, int, int, bool], LatentPool] = {}


class LatentPool:
    """``count`` latents ``[C, T, h, w]`` of random crops, encoded once.

    :param latents: ``[N, C, T, h, w]`` normalised latents (CPU).
    :param frames: ``[N, 3, T, H, W]`` uint8 pixels of the same crops, or None.
    """

    def __init__(self, latents: torch.Tensor, frames: torch.Tensor | None = None) -> None:
        self.latents = latents
        self.frames = frames

    @classmethod
    @torch.no_grad()
    def build(
        cls,
        vae: LatentAutoencoder,
        crops: VideoCrops,
        count: int,
        seed: int,
        chunk: int = 8,
        cache_dir: Path | None = None,
        with_frames: bool = False,
    ) -> LatentPool:
        key = (id(vae), crops.frames, crops.crop, count, seed, with_frames)
        if key in _POOLS:
            return _POOLS[key]
        cache = None
        if cache_dir is not None:
            name = _pool_key(vae, crops, count, seed) + (".frames" if with_frames else "")
            cache = Path(cache_dir) / f"latent_pool.{name}.pt"
            if cache.is_file():
                logger.info("latent pool: loading %s", cache)
                stored = torch.load(cache, weights_only=True)
                raw, frames = (stored["latents"], stored["frames"]) if with_frames else (stored, None)
                pool = _POOLS[key] = cls(vae.normalize(raw.float().to(vae.device)).cpu(), frames)
                return pool
        rng = np.random.default_rng([seed, 7919])
        device = vae.device
        parts, pixels = [], []
        for start in range(0, count, chunk):
            x = torch.stack([crops.sample(rng) for _ in range(min(chunk, count - start))])
            parts.append(vae.encode_raw(x.to(device)).cpu())
            if with_frames:
                pixels.append(((x + 1.0) * 127.5).round().to(torch.uint8))
            if start // chunk % 16 == 0:
                logger.info("latent pool: %d/%d crops encoded", start + len(x), count)
        raw = torch.cat(parts)
        frames = torch.cat(pixels) if with_frames else None
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
            torch.save({"latents": raw.half(), "frames": frames} if with_frames else raw.half(), tmp)
            tmp.replace(cache)
        pool = _POOLS[key] = cls(vae.normalize(raw.to(device)).cpu(), frames)
        return pool

    def sample(
        self, rng: np.random.Generator, batch: int, size: int | None = None, chain: int | None = None
    ) -> torch.Tensor:
        """``batch`` random pool entries, each cut to a random ``size x size`` window of ``chain`` latent frames."""
        return torch.stack([self.latents[(i, slice(None), *window)] for i, window, _ in self._draw(rng, batch, size, chain)])

    def sample_with_frames(
        self, rng: np.random.Generator, batch: int, size: int | None = None, chain: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`sample`, plus the matching pixels ``[B, 3, T, H, W]`` in [-1, 1]."""
        if self.frames is None:
            raise ValueError("this latent pool was built without its frames")
        latents, frames = [], []
        for i, window, pixel_window in self._draw(rng, batch, size, chain):
            latents.append(self.latents[(i, slice(None), *window)])
            frames.append(self.frames[(i, slice(None), *pixel_window)])
        return torch.stack(latents), torch.stack(frames).float() / 127.5 - 1.0

    def _draw(self, rng: np.random.Generator, batch: int, size: int | None, chain: int | None):
        """(entry, latent window slices, pixel window slices) of ``batch`` random draws."""
        n, _, t, h, w = self.latents.shape
        scale = 1 if self.frames is None else self.frames.shape[-1] // w
        size = min(size or h, h, w)
        chain = min(chain or t, t)
        for i in rng.integers(0, n, batch):
            y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            t0 = int(rng.integers(0, t - chain + 1))
            frames = slice(t0, t0 + chain)
            window = (frames, slice(y0, y0 + size), slice(x0, x0 + size))
            pixels = (frames, slice(y0 * scale, (y0 + size) * scale), slice(x0 * scale, (x0 + size) * scale))
            yield int(i), window, pixels


def _pool_key(vae: LatentAutoencoder, crops: VideoCrops, count: int, seed: int) -> str:
    """Identity of a pool: the autoencoder's encoder weights, the clips and the crop settings."""
    h = hashlib.sha256()
    for i, module in enumerate(vae.encoder_modules()):
        for name, tensor in sorted(module.state_dict().items()):
            h.update(f"{i}.{name}".encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(repr([c.shape for c in crops.clips]).encode())
    h.update(repr((crops.frames, crops.crop, crops.max_stride, count, seed)).encode())
    return h.hexdigest()[:16]
