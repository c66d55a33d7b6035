"""Scene cuts: detected on luma thumbnails, and where they make the encoder start a new GOP.

A GOP is coded on its own (its first latent frame is intra-coded and the causal VAE starts afresh),
so starting a GOP at every cut keeps the previous shot from smearing into the new one, and the
refinement windows, which never span a GOP flagged as a cut, do not blend two shots either.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection

import numpy as np

from ffmpeg_bridge.video import Frame

from ..bitstream.gop import grid_spans


class SceneCutDetector:
    """Flags a frame as a cut when its luma thumbnail differs strongly from the previous one.

    :param threshold: mean absolute difference of normalised 32x18 thumbnails (0..1) above which
        a frame starts a new shot; 0.25 misses fades and catches hard cuts.
    """

    def __init__(self, threshold: float = 0.25) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"scene-cut threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self._prev: np.ndarray | None = None

    @staticmethod
    def thumbnail(luma: np.ndarray, peak: float) -> np.ndarray:
        h, w = luma.shape
        ys = np.linspace(0, h - 1, 18).astype(int)
        xs = np.linspace(0, w - 1, 32).astype(int)
        return luma[np.ix_(ys, xs)].astype(np.float32) / peak

    def __call__(self, frame: Frame, peak: float) -> bool:
        thumb = self.thumbnail(frame[0], peak)
        cut = self._prev is not None and float(np.abs(thumb - self._prev).mean()) > self.threshold
        self._prev = thumb
        return cut


def gop_slots(num_frames: int, gop_size: int) -> tuple[range, ...]:
    """Runs of ``gop_size`` frames; each is one GOP, or several where scene cuts split it (:func:`split_slot`).

    Slots do not depend on the cuts, so a slot can be coded knowing only its own frames and the one before.
    """
    return grid_spans(num_frames, gop_size)


def split_slot(slot: range, cuts: Collection[int]) -> list[tuple[range, bool]]:
    """The GOPs of one slot: a new GOP starts at every cut inside it.

    Returns ``(frames, starts_at_cut)`` per GOP; ``cuts`` are frame numbers that start a shot (cuts
    outside the slot are ignored; one at the slot's first frame only flags the slot's first GOP).
    """
    bounds = [slot.start, *sorted(c for c in set(cuts) if slot.start < c < slot.stop), slot.stop]
    return [(range(a, b), a in cuts) for a, b in itertools.pairwise(bounds)]
