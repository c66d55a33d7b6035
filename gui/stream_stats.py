"""Rate and structure of a ``.gnvc`` stream as the timeline and the info panel show them.

Bits come from the bytes in the file (``Decoder.gop_bytes`` for whole chunks, the entropy-coded strings of
each latent frame for per-frame numbers), never from model estimates. A latent frame codes one frame (the
first of a GOP) or ``temporal_factor`` frames; its bits are shared evenly among the frames it covers.
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import dataclass

from vsgnvc.codec.decoder import Decoder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameBits:
    """What frame ``n`` costs.

    :param gop: its GOP index.
    :param gop_frames: the GOP's frames.
    :param gop_bits: bits of the GOP's whole chunk (framing included).
    :param latent: index of the latent frame coding it, within the GOP.
    :param latent_frames: the frames that latent frame codes.
    :param latent_bits: bits of that latent frame's entropy-coded strings.
    """

    gop: int
    gop_frames: range
    gop_bits: int
    latent: int
    latent_frames: range
    latent_bits: int

    @property
    def bits(self) -> float:
        """Bits attributed to the frame (its latent frame's bits shared by the frames it codes)."""
        return self.latent_bits / len(self.latent_frames)


class StreamStats:
    """Per-GOP and per-frame numbers of an open :class:`Decoder` (reads chunks lazily, thread-safe)."""

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self.spans: list[range] = list(decoder.sequence.spans)
        self.gop_bytes: list[int] = [decoder.gop_bytes(k) for k in range(decoder.num_gops)]
        self.cuts: list[int] = [self.spans[k].start for k, cut in enumerate(decoder.gop_cuts) if cut and k > 0]
        self.temporal_factor: int = decoder.model.vae.temporal_factor
        self.window_starts: list[int] = self._window_starts()
        self._latent_bytes: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    @property
    def gop_starts(self) -> list[int]:
        return [s.start for s in self.spans]

    def gop_of(self, n: int) -> int:
        return bisect.bisect_right(self.gop_starts, n) - 1

    def latent_range(self, k: int, j: int) -> range:
        """Frames coded by latent frame ``j`` of GOP ``k``."""
        span = self.spans[k]
        if j == 0:
            return range(span.start, span.start + 1)
        first = span.start + 1 + (j - 1) * self.temporal_factor
        return range(first, min(first + self.temporal_factor, span.stop))

    def _latent_of(self, offset: int) -> int:
        return 0 if offset == 0 else 1 + (offset - 1) // self.temporal_factor

    def latent_bytes(self, k: int) -> list[int]:
        with self._lock:
            sizes = self._latent_bytes.get(k)
        if sizes is None:
            record = self._decoder.read_gop(k)
            sizes = [sum(len(s) for s in strings) for strings in record.latent_frames]
            with self._lock:
                self._latent_bytes[k] = sizes
        return sizes

    def frame_bits(self, n: int) -> FrameBits:
        k = self.gop_of(n)
        j = self._latent_of(n - self.spans[k].start)
        sizes = self.latent_bytes(k)
        return FrameBits(k, self.spans[k], self.gop_bytes[k] * 8, j, self.latent_range(k, j), sizes[j] * 8)

    def _window_starts(self) -> list[int]:
        """First frames of the refinement windows (empty when the decoder does not refine)."""
        windowed = self._decoder.sequence.windowed
        if windowed is None:
            return []
        starts = self._decoder.sequence.latent_starts
        out = []
        for window in windowed.plan.windows:
            k = bisect.bisect_right(starts, window.start) - 1
            out.append(self.latent_range(k, window.start - starts[k]).start)
        return out
