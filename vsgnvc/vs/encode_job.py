"""Encode GOPs in whatever order a frame server asks for them; write the file in order.

GOPs are independent, so GOP k is coded as soon as one of its frames is requested. Its record (a few
kilobytes) waits in memory until GOPs 0..k-1 are written; the ``.gnvc`` is renamed into place when
the last GOP is written. Until then it is a hidden temporary file that ``GnvcWriter`` deletes if the
job is dropped, so a partial render never leaves a file at the target path.

Each step is the same call as in ``Encoder.encode`` (same scene-cut test, padding, ``encode_gop`` and
reconstruction), so the file is byte-identical to an in-order encode of the same frames.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ffmpeg_bridge.video import Frame, VideoInfo

from ..bitstream import GnvcWriter, GopRecord, SequenceHeader
from ..bitstream.gop import encode_gop_payload
from ..bitstream.layout import CHUNK_HEADER
from ..codec.cache import OnceLRU
from ..codec.color import yuv_to_rgb
from ..codec.encoder import Encoder, EncodeResult
from ..codec.scenecut import SceneCutDetector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodedGop:
    """What a frame of GOP k needs: its reconstruction and stats."""

    frames: list[Frame]
    scene_cut: bool
    chunk_bytes: int  # as ``GnvcReader.gop_size_bytes`` will report it


class OutOfOrderEncode:
    """One ``.gnvc`` being written from GOPs coded in any order, from several threads.

    :param encoder: model and device.
    :param header: from ``Encoder.make_header``.
    :param info: format of the frames handed to :meth:`gop`.
    :param scene_cut_threshold: as ``EncodeSettings.scene_cut_threshold``.
    :param cache_gops: reconstructions kept; an evicted GOP is coded again (same bits) if asked for.
    """

    def __init__(
        self,
        encoder: Encoder,
        header: SequenceHeader,
        info: VideoInfo,
        path: Path,
        *,
        overwrite: bool = False,
        scene_cut_threshold: float = 0.25,
        cache_gops: int = 4,
    ) -> None:
        self.encoder = encoder
        self.header = header
        self.info = info
        self.path = path
        self.overwrite = overwrite
        self.threshold = scene_cut_threshold
        self._peak = float((1 << info.pix_fmt.bit_depth) - 1)
        self._coded = OnceLRU[int, CodedGop](max(1, cache_gops))
        self._lock = threading.Lock()
        self._writer: GnvcWriter | None = None
        self._pending: dict[int, GopRecord] = {}
        self._produced: set[int] = set()
        self._next = 0
        self.result = EncodeResult(path, header.num_frames, 0, info.width, info.height, header.rate_index)
        self.finished = False

    @property
    def num_gops(self) -> int:
        return self.header.num_gops

    def gop_of(self, n: int) -> int:
        return n // self.header.gop_size

    def source_frames(self, k: int) -> range:
        """Frames GOP ``k`` is coded from: its own and, for the scene-cut test, the one before."""
        span = self.header.gop_frames(k)
        return range(max(0, span.start - 1), span.stop)

    def gop(self, k: int, source: dict[int, Frame]) -> CodedGop:
        """GOP ``k`` coded from ``source`` (frames :meth:`source_frames`), once while cached.

        Its record is written as soon as GOPs 0..k-1 are.
        """
        return self._coded.get(k, lambda: self._code(k, source))

    def _code(self, k: int, source: dict[int, Frame]) -> CodedGop:
        span = self.header.gop_frames(k)
        cut = False
        if k > 0:
            detector = SceneCutDetector(self.threshold)
            detector(source[span.start - 1], self._peak)
            cut = detector(source[span.start], self._peak)
        info = self.info
        rgb = [yuv_to_rgb(source[n], info.pix_fmt, info.color_range, info.matrix) for n in span]
        strings, decoded = self.encoder.code_gop(rgb, self.header)
        record = GopRecord(k, span.start, len(span), cut, strings)
        frames = self.encoder.to_frames(decoded.latents, info, len(span))
        self._submit(record)
        return CodedGop(frames, cut, CHUNK_HEADER.size + len(encode_gop_payload(record)))

    def _submit(self, record: GopRecord) -> None:
        with self._lock:
            if record.index in self._produced:
                return  # coded again after eviction: already written or queued
            self._produced.add(record.index)
            self._pending[record.index] = record
            try:
                if self._writer is None:
                    self._writer = GnvcWriter(self.path, self.header, overwrite=self.overwrite)
                while self._next in self._pending:
                    nbytes = self._writer.write_gop(self._pending.pop(self._next))
                    self.result.gop_bytes.append(nbytes)
                    self._next += 1
                    logger.info("encode: GOP %d/%d written", self._next, self.num_gops)
                if self._next == self.num_gops:
                    self._writer.close()
                    self.result.num_bytes = self.path.stat().st_size
                    self.finished = True
                    logger.info(
                        "encode: wrote %s (%d bytes, %.4f bpp)", self.path, self.result.num_bytes, self.result.bpp
                    )
            except BaseException:
                self.abort()
                raise

    def abort(self) -> None:
        """Discard the temporary file (nothing is left at the target)."""
        if self._writer is not None and not self.finished:
            self._writer.abort()
