"""Encode slots of GOPs in whatever order a frame server asks for them; write the file in order.

A slot is ``gop_size`` frames: one GOP, or several where a scene cut inside it starts a new GOP
(``codec.scenecut.split_slot``). Slots depend only on their own frames (and the frame before, for the
scene-cut test), so slot j is coded as soon as one of its frames is requested. Its records (a few
kilobytes) wait in memory until slots 0..j-1 are written, and get their GOP numbers then; the ``.gnvc``
is renamed into place when the last slot is written. Until then it is a hidden temporary file that
``GnvcWriter`` deletes if the job is dropped, so a partial render never leaves a file at the target path.

Each step is the same call as in ``Encoder.encode`` (same scene-cut test, GOP split, ``Encoder.code_gop``
and reconstruction), so the file is byte-identical to an in-order encode of the same frames.
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ffmpeg_bridge.video import Frame, VideoInfo

from ..bitstream import GnvcWriter, GopRecord, SequenceHeader
from ..bitstream.gop import encode_gop_payload
from ..bitstream.layout import CHUNK_HEADER
from ..codec.cache import OnceLRU
from ..codec.encoder import Encoder, EncodeResult
from ..codec.scenecut import SceneCutDetector, gop_slots, split_slot
from ..codec.presets import NO_SEARCH, SymbolSearch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodedGop:
    """One GOP of a coded slot: its frames, whether it starts a new shot, and its chunk's size."""

    span: range
    scene_cut: bool
    chunk_bytes: int  # as ``GnvcReader.gop_size_bytes`` will report it


@dataclass(frozen=True)
class CodedSlot:
    """What a frame of slot j needs: the slot's reconstruction and its GOPs."""

    frames: list[Frame]
    gops: tuple[CodedGop, ...]

    def gop_at(self, n: int) -> int:
        """Index, within the slot, of the GOP holding frame ``n``."""
        return bisect.bisect_right([g.span.start for g in self.gops], n) - 1


class OutOfOrderEncode:
    """One ``.gnvc`` being written from slots coded in any order, from several threads.

    :param encoder: model and device.
    :param header: from ``Encoder.make_header``.
    :param info: format of the frames handed to :meth:`slot`.
    :param scene_cut_threshold: as ``EncodeSettings.scene_cut_threshold``.
    :param search: as ``EncodeSettings.search``.
    :param cache_gops: slot reconstructions kept; an evicted slot is coded again (same bits) if asked for.
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
        search: SymbolSearch = NO_SEARCH,
        cache_gops: int = 4,
    ) -> None:
        self.encoder = encoder
        self.header = header
        self.info = info
        self.path = path
        self.overwrite = overwrite
        self.threshold = scene_cut_threshold
        self.search = search
        self.slots = gop_slots(header.num_frames, header.gop_size)
        self._peak = float((1 << info.pix_fmt.bit_depth) - 1)
        self._coded = OnceLRU[int, CodedSlot](max(1, cache_gops))
        self._lock = threading.Lock()
        self._writer: GnvcWriter | None = None
        self._cuts: dict[int, frozenset[int]] = {}  # slot -> its scene cuts, once detected
        self._pending: dict[int, list[tuple[range, bool, tuple[tuple[bytes, ...], ...]]]] = {}
        self._produced: set[int] = set()
        self._next_slot = 0
        self._next_gop = 0
        self.result = EncodeResult(path, header.num_frames, 0, info.width, info.height, header.rate_index)
        self.finished = False

    @property
    def num_slots(self) -> int:
        return len(self.slots)

    def slot_of(self, n: int) -> int:
        return n // self.header.gop_size

    def source_frames(self, j: int) -> range:
        """Frames slot ``j`` is coded from: its own and, for the scene-cut test, the one before."""
        slot = self.slots[j]
        return range(max(0, slot.start - 1), slot.stop)

    def detect_cuts(self, j: int, source: dict[int, Frame]) -> frozenset[int]:
        """Scene cuts inside slot ``j`` (frames that start a shot), from :meth:`source_frames`; cheap, no lock held."""
        known = self._cuts.get(j)
        if known is not None:
            return known
        detector = SceneCutDetector(self.threshold)
        cuts = frozenset(n for n in self.source_frames(j) if detector(source[n], self._peak) and n in self.slots[j])
        with self._lock:
            self._cuts[j] = cuts
        return cuts

    def undetected_slots(self, j: int) -> list[int]:
        """Slots before ``j`` whose scene cuts are not known yet (needed to number slot ``j``'s GOPs)."""
        with self._lock:
            return [i for i in range(j) if i not in self._cuts]

    def gops_before(self, j: int) -> int:
        """GOPs in slots ``0..j-1``; their scene cuts must be known (see :meth:`undetected_slots`)."""
        with self._lock:
            return sum(len(split_slot(self.slots[i], self._cuts[i])) for i in range(j))

    def slot(self, j: int, source: dict[int, Frame]) -> CodedSlot:
        """Slot ``j`` coded from ``source`` (frames :meth:`source_frames`), once while cached.

        Its records are written as soon as slots 0..j-1 are.
        """
        return self._coded.get(j, lambda: self._code(j, source))

    def _code(self, j: int, source: dict[int, Frame]) -> CodedSlot:
        slot = self.slots[j]
        frames: list[Frame] = []
        gops, records = [], []
        for span, cut in split_slot(slot, self.detect_cuts(j, source)):
            strings, decoded = self.encoder.code_gop([source[n] for n in span], self.info, self.header, self.search)
            frames += self.encoder.to_frames(decoded.latents, self.header.rate_index, self.info, len(span), decoded.copies)
            # the GOP number is only known when the slots before are written; its u32 does not change the size
            size = CHUNK_HEADER.size + len(encode_gop_payload(GopRecord(0, span.start, len(span), cut, strings)))
            gops.append(CodedGop(span, cut, size))
            records.append((span, cut, strings))
        self._submit(j, records)
        return CodedSlot(frames, tuple(gops))

    def _submit(self, j: int, records: list[tuple[range, bool, tuple[tuple[bytes, ...], ...]]]) -> None:
        with self._lock:
            if j in self._produced:
                return  # coded again after eviction: already written or queued
            self._produced.add(j)
            self._pending[j] = records
            try:
                if self._writer is None:
                    self._writer = GnvcWriter(self.path, self.header, overwrite=self.overwrite)
                while self._next_slot in self._pending:
                    for span, cut, strings in self._pending.pop(self._next_slot):
                        record = GopRecord(self._next_gop, span.start, len(span), cut, strings)
                        self.result.gop_bytes.append(self._writer.write_gop(record))
                        self._next_gop += 1
                    self._next_slot += 1
                    logger.info("encode: slot %d/%d written (%d GOPs)", self._next_slot, self.num_slots, self._next_gop)
                if self._next_slot == self.num_slots:
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
