"""Training data: random spatio-temporal crops from a folder of real videos.

Clips are decoded once with PyAV, downscaled so their height is ``decode_height`` and cached as
``.npy`` (uint8 RGB ``[N, H, W, 3]``) so that a run re-starts in seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import torch

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".y4m")


def list_videos(folders: Sequence[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Every video file in ``folders`` (sorted, so splits are reproducible) except names in ``exclude``."""
    found = []
    for folder in folders:
        found += [p for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES]
    return [p for p in found if p.name not in set(exclude)]


def decode_rgb(path: Path, height: int, max_frames: int) -> np.ndarray:
    """First ``max_frames`` frames of ``path`` as uint8 RGB, resized to ``height`` (even width)."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        src_w, src_h = stream.codec_context.width, stream.codec_context.height
        width = max(2, round(src_w * height / src_h / 2) * 2)
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA"))
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"{path}: no video frames decoded")
    return np.stack(frames)


def load_cached(path: Path, height: int, max_frames: int, cache_dir: Path) -> np.ndarray:
    key = hashlib.sha256(f"{path.resolve()}:{path.stat().st_size}:{height}:{max_frames}".encode()).hexdigest()[:16]
    cache = cache_dir / f"{path.stem}.{key}.npy"
    if cache.is_file():
        return np.load(cache, mmap_mode="r")
    arr = decode_rgb(path, height, max_frames)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # One temp name per process: ranks of a distributed run fill the same cache at once.
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npy")
    np.save(tmp, arr)
    tmp.replace(cache)
    return arr


class VideoCrops(torch.utils.data.IterableDataset):
    """Endless random crops ``[3, frames, crop, crop]`` in [-1, 1] with random stride and flips.

    :param clips: decoded clips, uint8 ``[N, H, W, 3]``.
    :param frames: frames per sample (``1 + 4k`` for the VAE).
    :param crop: square crop size in pixels.
    :param max_stride: temporal stride drawn from ``1..max_stride``.
    :param seed: base seed; each worker/rank offsets it.
    """

    def __init__(self, clips: Sequence[np.ndarray], frames: int, crop: int, max_stride: int = 2, seed: int = 0) -> None:
        super().__init__()
        usable = [c for c in clips if c.shape[0] >= frames and min(c.shape[1:3]) >= crop]
        if not usable:
            raise ValueError(f"no clip has {frames} frames of at least {crop}x{crop}")
        self.clips = usable
        self.frames, self.crop, self.max_stride, self.seed = frames, crop, max_stride, seed
        weights = np.array([c.shape[0] for c in usable], dtype=np.float64)
        self.weights = weights / weights.sum()

    def sample(self, rng: np.random.Generator) -> torch.Tensor:
        clip = self.clips[rng.choice(len(self.clips), p=self.weights)]
        n, h, w, _ = clip.shape
        stride = int(rng.integers(1, self.max_stride + 1))
        while (self.frames - 1) * stride >= n:
            stride -= 1
        t0 = int(rng.integers(0, n - (self.frames - 1) * stride))
        y0 = int(rng.integers(0, h - self.crop + 1))
        x0 = int(rng.integers(0, w - self.crop + 1))
        arr = np.asarray(clip[t0 : t0 + (self.frames - 1) * stride + 1 : stride, y0 : y0 + self.crop, x0 : x0 + self.crop])
        if rng.random() < 0.5:
            arr = arr[:, :, ::-1]
        if rng.random() < 0.25:
            arr = arr[::-1]
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(3, 0, 1, 2).float()
        return x / 127.5 - 1.0

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        rng = np.random.default_rng([self.seed, rank, info.id if info else 0])
        while True:
            yield self.sample(rng)


def fixed_batch(clips: Sequence[np.ndarray], count: int, frames: int, crop: int, seed: int = 1234) -> torch.Tensor:
    """A deterministic validation batch (same crops every call)."""
    ds = VideoCrops(clips, frames, crop, max_stride=1, seed=seed)
    rng = np.random.default_rng(seed)
    return torch.stack([ds.sample(rng) for _ in range(count)])
