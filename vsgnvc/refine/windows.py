"""Temporal windows over a latent sequence: fixed by ``(T, W, O, cuts)`` alone, never by request order.

Each shot (the frames between scene cuts) is covered by the fewest windows of at most ``W`` latent frames that
overlap their neighbour by exactly ``O`` frames; window lengths inside a shot differ by at most one frame. No window
spans a cut. A frame lies in one or two windows, three only where windows had to shrink below ``2 * O`` frames
(large overlaps such as ``W = 11, O = 5``; never for the default ``W = 7, O = 2``). Overlaps are blended with
complementary raised-cosine ramps, normalised so the weights of every frame sum to one. Pure Python (no torch):
the VapourSynth layer can plan windows without loading a model.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

logger = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Window:
    """Latent frames ``[start, stop)``; ``overlap_before``/``overlap_after`` frames are shared with neighbours."""

    start: int
    stop: int
    overlap_before: int = 0
    overlap_after: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"window [{self.start}, {self.stop}) is empty or negative")
        if (
            self.overlap_before < 0
            or self.overlap_after < 0
            or max(self.overlap_before, self.overlap_after) > len(self)
        ):
            raise ValueError(f"window [{self.start}, {self.stop}) has invalid overlaps")

    def __len__(self) -> int:
        return self.stop - self.start

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.start <= frame < self.stop

    def weight(self, frame: int) -> float:
        """Unnormalised blending weight at ``frame``: raised-cosine ramps over the overlaps, 1 elsewhere."""
        if frame not in self:
            return 0.0
        j = frame - self.start
        w = 1.0
        if j < self.overlap_before:
            w *= _ramp(j, self.overlap_before)
        back = self.stop - 1 - frame
        if back < self.overlap_after:
            w *= _ramp(back, self.overlap_after)
        return w


def _ramp(j: int, n: int) -> float:
    """Raised cosine rising over ``n`` frames; ``_ramp(j, n) + _ramp(n - 1 - j, n) == 1``."""
    return 0.5 - 0.5 * math.cos(math.pi * (j + 1) / (n + 1))


@dataclass(frozen=True)
class WindowPlan:
    """Windows of a sequence of ``num_frames`` latent frames (build it with :func:`plan_windows`).

    Args:
        num_frames (`int`): latent frames ``T``.
        window (`int`): maximal window length ``W``.
        overlap (`int`): overlap ``O`` between consecutive windows of a shot.
        cuts (`tuple[int, ...]`): sorted latent frame indices where a new shot starts (0 and ``T`` excluded).
        windows (`tuple[Window, ...]`): the windows, sorted by start.
    """

    num_frames: int
    window: int
    overlap: int
    cuts: tuple[int, ...]
    windows: tuple[Window, ...]

    @cached_property
    def _by_frame(self) -> tuple[tuple[int, ...], ...]:
        cover: list[list[int]] = [[] for _ in range(self.num_frames)]
        for k, win in enumerate(self.windows):
            for frame in range(win.start, win.stop):
                cover[frame].append(k)
        return tuple(tuple(c) for c in cover)

    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < self.num_frames:
            raise IndexError(f"latent frame {frame} is outside [0, {self.num_frames})")

    def windows_for_frame(self, frame: int) -> tuple[Window, ...]:
        """The windows covering latent ``frame``, sorted by start."""
        self._check_frame(frame)
        return tuple(self.windows[k] for k in self._by_frame[frame])

    def blend_weights(self, frame: int) -> tuple[tuple[Window, float], ...]:
        """``(window, weight)`` pairs for latent ``frame``; the weights sum to 1."""
        wins = self.windows_for_frame(frame)
        raw = [win.weight(frame) for win in wins]
        total = math.fsum(raw)
        return tuple((win, w / total) for win, w in zip(wins, raw, strict=True))

    def shots(self) -> list[tuple[int, int]]:
        """``[start, stop)`` of every shot."""
        bounds = [0, *self.cuts, self.num_frames]
        return list(itertools.pairwise(bounds))


def _normalise_cuts(num_frames: int, cuts: Iterable[int]) -> tuple[int, ...]:
    out: set[int] = set()
    for cut in cuts:
        if isinstance(cut, bool) or not isinstance(cut, int):
            raise TypeError(f"scene cut {cut!r} is not an integer latent frame index")
        if not 0 <= cut <= num_frames:
            raise ValueError(f"scene cut {cut} is outside [0, {num_frames}]")
        if 0 < cut < num_frames:
            out.add(cut)
    return tuple(sorted(out))


def _shot_windows(start: int, stop: int, window: int, overlap: int) -> list[Window]:
    length = stop - start
    if length <= window:
        return [Window(start, stop)]
    count = math.ceil((length - overlap) / (window - overlap))
    # Spread the frames evenly: lengths q or q + 1 with exactly `overlap` shared frames between neighbours.
    total = length + (count - 1) * overlap
    base, extra = divmod(total, count)
    out: list[Window] = []
    pos = start
    for k in range(count):
        size = base + (1 if k < extra else 0)
        before = overlap if k > 0 else 0
        after = overlap if k < count - 1 else 0
        out.append(Window(pos, pos + size, before, after))
        pos += size - overlap
    if out[-1].stop != stop:  # pragma: no cover - arithmetic invariant
        raise AssertionError(f"window plan of shot [{start}, {stop}) ends at {out[-1].stop}")
    return out


def plan_windows(num_frames: int, window: int, overlap: int, cuts: Iterable[int] = ()) -> WindowPlan:
    """Plan the refinement windows of a sequence.

    Args:
        num_frames (`int`): latent frames ``T`` (>= 1).
        window (`int`): maximal window length ``W`` (>= 1).
        overlap (`int`): frames shared by consecutive windows of a shot, ``0 <= O < W``.
        cuts (`Iterable[int]`): latent frame indices where a new shot starts; 0 and ``T`` are allowed and ignored.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if window < 1:
        raise ValueError(f"window must be >= 1 latent frame, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window) = [0, {window}), got {overlap}")
    norm_cuts = _normalise_cuts(num_frames, cuts)
    bounds = [0, *norm_cuts, num_frames]
    windows: list[Window] = []
    for start, stop in itertools.pairwise(bounds):
        windows.extend(_shot_windows(start, stop, window, overlap))
    return WindowPlan(num_frames, window, overlap, norm_cuts, tuple(windows))
