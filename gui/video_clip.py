"""Random access to a video file through ``ffmpeg_bridge``'s forward-only readers.

The frames are exactly those the encoder read (``open_source``: y4m or PyAV, same conversions, same
numbering), which keeps PSNR against a ``.gnvc`` honest; seeking by timestamp could land on other frames.
A reader stays positioned after the last frame it produced, so playing and stepping forward cost one frame
each; every frame read is kept in a byte-bounded LRU, and a request behind the reader re-opens the file
and reads forward (``benchmarks/bench_gui.py`` measures that cost).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ffmpeg_bridge import SourceError, open_source
from ffmpeg_bridge.video import Frame, VideoInfo

logger = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 768 * 1024 * 1024


class VideoFileClip:
    """A video file (anything PyAV opens, or y4m) as a random-access clip.

    :param path: the file.
    :param name: label shown in the window; defaults to the file name.
    :param cache_bytes: decoded frames kept in memory.
    :raises SourceError: the file cannot be read as video.
    """

    def __init__(self, path: Path, name: str | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.path = Path(path)
        self.name = name or self.path.name
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, Frame] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._frames: Iterator[Frame] | None = None
        self._pos = 0
        self.reopened = 0  # how often a backward request re-read the file (for the benchmark)
        info, frames = self._open()
        self._frames = frames
        if info.num_frames is None:
            # Length unknown to the container: count by reading once (frames land in the cache).
            count = self._read_to_end()
            info = replace(info, num_frames=count)
        self.info: VideoInfo = info
        if not info.num_frames:
            raise SourceError(f"{self.path}: no frames")

    def _open(self) -> tuple[VideoInfo, Iterator[Frame]]:
        if self.path.suffix.lower() == ".gnvc":
            raise SourceError(f"{self.path} is a .gnvc bitstream, not a video file")
        info, frames = open_source(self.path)
        self._pos = 0
        return info, frames

    def _read_to_end(self) -> int:
        while self._advance() is not None:
            pass
        return self._pos

    @property
    def num_frames(self) -> int:
        assert self.info.num_frames is not None
        return self.info.num_frames

    def _advance(self) -> Frame | None:
        """Read the next frame from the reader (caching it); ``None`` at the end of the file."""
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is None:
            return None
        self._put(self._pos, frame)
        self._pos += 1
        return frame

    def _put(self, n: int, frame: Frame) -> None:
        self._cache[n] = frame
        self._cache.move_to_end(n)
        frame_bytes = sum(p.nbytes for p in frame)
        while len(self._cache) > 1 and len(self._cache) * frame_bytes > self._cache_bytes:
            self._cache.popitem(last=False)

    def get_frame(self, n: int) -> Frame:
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} out of range 0..{self.num_frames - 1}")
        with self._lock:
            cached = self._cache.get(n)
            if cached is not None:
                self._cache.move_to_end(n)
                return cached
            if n < self._pos:
                self._close_reader()
                _, self._frames = self._open()
                self.reopened += 1
            while self._pos <= n:
                if self._advance() is None:
                    raise SourceError(f"{self.path}: the file ends after {self._pos} frames, frame {n} does not exist")
            return self._cache[n]

    def _close_reader(self) -> None:
        frames, self._frames = self._frames, None
        close = getattr(frames, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        with self._lock:
            self._close_reader()
            self._cache.clear()
