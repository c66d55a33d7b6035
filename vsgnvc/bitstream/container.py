"""Writing and reading whole ``.gnvc`` files.

File layout (``docs/bitstream.md`` is normative)::

    preamble        file_magic "GNVC" | version u8 | 3 reserved zero bytes
    header block    header_length u32 | header payload | header_crc32 u32
    GOP chunk x N   chunk_tag "GGOP" | payload_length u32 | payload_crc32 u32 | payload
    index           index_tag "GIDX" | num_entries u32 | N x (chunk_offset u64, first_frame u32) | index_crc32 u32
    trailer         index_offset u64 | num_gops u32 | trailer_crc32 u32 | end_tag "GEND"

The writer streams GOPs to a hidden temporary file next to the target and renames it into place
only when the index and trailer are written, so an interrupted encode never leaves a file at the
target path. The reader checks the framing of the whole file when it opens it, then reads GOP
chunks on demand through the index. A salvaging reader (``salvage=True``) instead walks the chunks
one by one from the header and keeps every GOP up to the first one that is not whole, so a file cut
short (a partial download, a full disk) still gives back its complete GOPs.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.framing import (
    HEADER_BLOCK_OVERHEAD,
    MIN_CHUNK_SIZE,
    check_crc,
    check_header_length,
    check_preamble,
    decode_index,
    decode_trailer,
    encode_chunk,
    encode_header_block,
    encode_index,
    encode_preamble,
    encode_trailer,
    split_chunk,
)
from vsgnvc.bitstream.gop import GopRecord, decode_gop_payload, encode_gop_payload, grid_spans
from vsgnvc.bitstream.header import SequenceHeader, decode_header, encode_header
from vsgnvc.bitstream.layout import (
    CHUNK_AT,
    CHUNK_HEADER,
    CRC32,
    FILE_PREAMBLE,
    HEADER_LENGTH,
    TRAILER,
    TRAILER_AT,
    BlockTag,
    index_size,
)

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".partial"
_TEMP_NAME_TRIES = 16
_BINARY = getattr(os, "O_BINARY", 0)  # Windows needs it, POSIX has no such flag


def _create_temp(target: Path) -> tuple[Path, int]:
    """Create ``.<name>.<random>.partial`` next to ``target``; mode 0o666 minus the umask."""
    for _ in range(_TEMP_NAME_TRIES):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
        except FileExistsError:
            continue
        return tmp, fd
    raise FileExistsError(f"could not create a temporary file next to {target}")


def _discard(file: BinaryIO, tmp: Path) -> None:
    # also the weakref finalizer: a writer dropped without close() must not leave its temp file
    try:
        file.close()
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    # makes the rename durable on POSIX; directories cannot be opened this way on Windows
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class GnvcWriter:
    """Write a ``.gnvc`` file GOP by GOP; use it as a context manager.

    The preamble and header are written at once to ``.<name>.<random>.partial`` in the target's
    directory. :meth:`close` appends the index and trailer, fsyncs and renames the file into place.
    Leaving the ``with`` block through an exception, calling :meth:`abort`, or calling :meth:`close`
    before every frame was written deletes the temporary file; nothing is ever left at ``path`` then,
    and an existing file there is untouched until the final rename.

    GOPs may have any length from 1 to ``header.gop_size`` frames; each starts at the frame after
    the previous one, and together they must cover the header's ``num_frames``.

    Args:
        path (`Path`): the file to create.
        header (`SequenceHeader`): the stream's header; fixes how many frames must follow.
        overwrite (`bool`, *optional*, defaults to `False`): replace an existing file at ``path``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        FileNotFoundError: the directory of ``path`` does not exist.
    """

    def __init__(self, path: Path, header: SequenceHeader, *, overwrite: bool = False) -> None:
        if not isinstance(header, SequenceHeader):
            raise TypeError(f"header must be a SequenceHeader, got {type(header).__name__}")
        self.path = Path(path)
        self.header = header
        self._overwrite = overwrite
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory, not a .gnvc file path")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} already exists; pass overwrite=True to replace it")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"output directory {self.path.parent} does not exist")
        self.bytes_written = 0
        self._next_gop = 0
        self._frames_written = 0
        self._offsets: list[int] = []
        self._first_frames: list[int] = []
        self._final: Path | None = None  # set once renamed into place
        self._aborted = False
        self._tmp_path, fd = _create_temp(self.path)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._finalizer = weakref.finalize(self, _discard, self._file, self._tmp_path)
        header_block, self._header_crc = encode_header_block(encode_header(header))
        self._write(encode_preamble() + header_block)
        logger.debug("writing %s via %s (%d frames expected)", self.path, self._tmp_path.name, header.num_frames)

    @property
    def temp_path(self) -> Path:
        """The temporary file being written (gone after close/abort)."""
        return self._tmp_path

    @property
    def gops_written(self) -> int:
        return self._next_gop

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except BaseException:
            self.abort()
            raise
        self.bytes_written += len(data)

    def _check_open(self) -> None:
        if self._aborted:
            raise ValueError(f"GnvcWriter for {self.path} was aborted; nothing was written")
        if self._final is not None:
            raise ValueError(f"GnvcWriter for {self.path} is already closed")

    def write_gop(self, gop: GopRecord) -> int:
        """Append GOP ``gop.index``; GOPs must come in order 0, 1, 2, ...

        Returns:
            `int`: bytes written for this GOP's chunk (chunk header included), the same number
            ``GnvcReader.gop_size_bytes`` reports.

        Raises:
            ValueError: the writer is closed, the GOP is out of order, does not start at the frame
                after the previous GOP, is longer than ``gop_size`` or runs past ``num_frames``.
                The writer stays usable after such an error.
        """
        self._check_open()
        if not isinstance(gop, GopRecord):
            raise TypeError(f"write_gop expects a GopRecord, got {type(gop).__name__}")
        if gop.index != self._next_gop:
            raise ValueError(f"GOP {gop.index} written out of order: expected GOP {self._next_gop}")
        if gop.first_frame != self._frames_written:
            raise ValueError(
                f"GOP {gop.index} starts at frame {gop.first_frame}, expected frame {self._frames_written}"
            )
        if gop.num_frames > self.header.gop_size:
            raise ValueError(f"GOP {gop.index} has {gop.num_frames} frames, the header allows {self.header.gop_size}")
        if gop.first_frame + gop.num_frames > self.header.num_frames:
            raise ValueError(
                f"GOP {gop.index} covers frames {gop.first_frame}..{gop.first_frame + gop.num_frames - 1}, "
                f"the header announces {self.header.num_frames} frames"
            )
        chunk = encode_chunk(encode_gop_payload(gop), self._header_crc)
        offset = self.bytes_written
        self._write(chunk)
        self._offsets.append(offset)
        self._first_frames.append(gop.first_frame)
        self._next_gop += 1
        self._frames_written += gop.num_frames
        return len(chunk)

    def close(self) -> Path:
        """Finish the file: index, trailer, fsync, rename into place.

        Returns:
            `Path`: the final path. Calling ``close`` again returns it again.

        Raises:
            ValueError: the GOPs written cover fewer than ``header.num_frames`` frames (the temporary
                file is deleted and nothing is written at ``path``), or the writer was aborted.
            FileExistsError: ``path`` appeared meanwhile and ``overwrite`` is false.
        """
        if self._final is not None:
            return self._final
        self._check_open()
        if self._frames_written != self.header.num_frames:
            self.abort()
            raise ValueError(
                f"{self.path}: only {self._frames_written} of {self.header.num_frames} frames were written; "
                "the incomplete file was discarded"
            )
        try:
            index_offset = self.bytes_written
            self._write(encode_index(self._offsets, self._first_frames, self._header_crc))
            self._write(encode_trailer(index_offset, len(self._offsets), self._header_crc))
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if not self._overwrite and self.path.exists():
                raise FileExistsError(f"{self.path} appeared while encoding; pass overwrite=True to replace it")
            os.replace(self._tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._final = self.path
        self._finalizer.detach()
        _fsync_directory(self.path.parent)
        logger.debug("wrote %s: %d GOPs, %d bytes", self.path, len(self._offsets), self.bytes_written)
        return self.path

    def abort(self) -> None:
        """Discard everything written: close and delete the temporary file. Safe to call twice."""
        if self._final is None:
            self._aborted = True
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


@dataclass(frozen=True)
class Damage:
    """What a salvaging :class:`GnvcReader` found wrong with a file, and what it kept.

    Args:
        path (`Path`): the file.
        problem (`GNVCFormatError`): the first thing found wrong.
        gops (`int`): complete GOPs kept (GOPs ``0..gops-1``).
        frames (`int`): frames those GOPs hold (frames ``0..frames-1``).
        total_frames (`int`): frames the header announces.
    """

    path: Path
    problem: GNVCFormatError
    gops: int
    frames: int
    total_frames: int

    @property
    def lost_frames(self) -> range:
        return range(self.frames, self.total_frames)

    def summary(self) -> str:
        """One line: how many frames were recovered, which were lost, and why."""
        if not self.lost_frames:
            kept = f"all {self.total_frames} frames recovered"
        else:
            lost = self.lost_frames
            span = f"frame {lost.start}" if len(lost) == 1 else f"frames {lost.start}-{lost.stop - 1}"
            gops = f"{self.gops} complete GOP{'' if self.gops == 1 else 's'}"
            kept = f"{self.frames} of {self.total_frames} frames recovered ({gops}), {span} lost"
        return f"{self.path} is damaged: {kept}; first problem: {self.problem.detail}"


class GnvcReader:
    """Read a ``.gnvc`` file; a context manager, or a plain object closed with :meth:`close`.

    Opening checks the preamble, the header (CRC32 and every field), the trailer and the index
    (CRC32, one entry per GOP, offsets increasing and inside the file, GOP lengths) and that the file
    is exactly preamble + header + chunks + index + trailer. GOP chunks are read on demand;
    :meth:`read_gop` is safe to call from several threads.

    With ``salvage=True`` the chunks are instead read one after the other from the end of the header
    (each checked completely: tag, length, CRC32, fields, and that it continues the frames of the one
    before), then the index and trailer are checked against them. Reading stops at the first chunk
    that is not whole; the reader then holds the GOPs before it and :attr:`damage` says what was
    lost. The header must be intact (without it nothing can be decoded).

    Args:
        path (`Path`): the file.
        salvage (`bool`, *optional*, defaults to `False`): keep the complete GOPs of a damaged file
            instead of raising.

    Attributes:
        header (`SequenceHeader`): the sequence header.
        version (`int`): the file's format version (1 or 2).
        spans (`tuple[range, ...]`): the frames of each GOP that can be read.
        num_gops (`int`): GOPs that can be read.
        num_frames (`int`): frames they hold (the header's ``num_frames`` unless damaged).
        damage (`Damage | None`): what a salvaging reader lost; always ``None`` without ``salvage``.

    Raises:
        GNVCFormatError: the file is not a valid ``.gnvc`` file (with ``salvage``: its header is not
            valid); the message says what and where.
        OSError: the file cannot be opened or read (missing, permissions, I/O error).
    """

    def __init__(self, path: Path, *, salvage: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = self._open(self.path)
        self.damage: Damage | None = None
        try:
            self.file_size = os.fstat(self._file.fileno()).st_size
            self.version, self.header, self._header_crc, first_chunk = self._read_header()
            if salvage:
                self._offsets, self.spans, self._chunks_end, self.damage = self._scan(first_chunk)
            else:
                self._offsets, self.spans, self._chunks_end = self._read_index(first_chunk)
        except BaseException:
            self._file.close()
            raise
        self.num_gops = len(self.spans)
        self.num_frames = self.spans[-1].stop if self.spans else 0

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        # O_NONBLOCK: opening a FIFO by mistake must fail below, not block forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _BINARY)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise GNVCFormatError("not a regular file", path=path)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _read_at(self, offset: int, size: int, what: str) -> bytes:
        with self._lock:
            self._file.seek(offset)
            data = self._file.read(size)
        if len(data) != size:
            raise GNVCFormatError(
                f"{what}: file ended after {len(data)} of {size} bytes (truncated while open?)",
                path=self.path,
                offset=offset,
            )
        return data

    def _read_header(self) -> tuple[int, SequenceHeader, int, int]:
        """Preamble and header block; returns the version, the header, its CRC32 and where the chunks start."""
        path, size = self.path, self.file_size
        head_len_at = FILE_PREAMBLE.size
        if size < head_len_at + HEADER_LENGTH.size:
            raise GNVCFormatError(f"file is {size} bytes, too small to be a .gnvc file", path=path)
        version = check_preamble(self._read_at(0, FILE_PREAMBLE.size, "preamble"), path=path)
        (length,) = HEADER_LENGTH.unpack(self._read_at(head_len_at, HEADER_LENGTH.size, "header_length"))
        payload_at = head_len_at + HEADER_LENGTH.size
        check_header_length(length, size - payload_at, offset=head_len_at, version=version, path=path)
        block = self._read_at(payload_at, length + CRC32.size, "sequence header")
        payload, (crc,) = block[:length], CRC32.unpack_from(block, length)
        check_crc(crc, payload, 0, "sequence header", offset=payload_at + length, field="header_crc32", path=path)
        header = decode_header(payload, payload_at, version=version, path=path)
        return version, header, crc, FILE_PREAMBLE.size + HEADER_BLOCK_OVERHEAD + length

    def _read_index(self, first_chunk: int) -> tuple[tuple[int, ...], tuple[range, ...], int]:
        """Trailer and index; returns the chunk offsets, the GOPs' frames and where the index starts."""
        path, size, header, version = self.path, self.file_size, self.header, self.version
        trailer_at = size - TRAILER.size
        if trailer_at < first_chunk + MIN_CHUNK_SIZE + index_size(1, version):
            raise GNVCFormatError(
                f"file is {size} bytes, too small for a GOP plus index and trailer (truncated?)", path=path, offset=size
            )
        index_offset, num_gops = decode_trailer(
            self._read_at(trailer_at, TRAILER.size, "trailer"), trailer_at, self._header_crc, path=path
        )
        gops_at = trailer_at + TRAILER_AT["num_gops"]
        grid = len(grid_spans(header.num_frames, header.gop_size))
        if version == 1 and num_gops != grid:
            raise GNVCFormatError(
                f"trailer says {num_gops} GOPs, the header implies {grid}",
                path=path,
                offset=gops_at,
                field="num_gops",
            )
        if not 1 <= num_gops <= header.num_frames:
            raise GNVCFormatError(
                f"trailer says {num_gops} GOPs; {header.num_frames} frames make 1..{header.num_frames} GOPs",
                path=path,
                offset=gops_at,
                field="num_gops",
            )
        if trailer_at < first_chunk + num_gops * MIN_CHUNK_SIZE + index_size(num_gops, version):
            raise GNVCFormatError(
                f"file is {size} bytes, too small for {num_gops} GOPs plus index and trailer (truncated?)",
                path=path,
                offset=size,
            )
        if index_offset != trailer_at - index_size(num_gops, version):
            raise GNVCFormatError(
                f"index_offset {index_offset} does not leave exactly {index_size(num_gops, version)} index bytes "
                f"before the trailer at {trailer_at}",
                path=path,
                offset=trailer_at + TRAILER_AT["index_offset"],
                field="index_offset",
            )
        index = self._read_at(index_offset, index_size(num_gops, version), "index")
        offsets, spans = decode_index(
            index, index_offset, self._header_crc, num_gops=num_gops, first_chunk=first_chunk,
            index_offset=index_offset, num_frames=header.num_frames, gop_size=header.gop_size, version=version,
            path=path,
        )  # fmt: skip
        return offsets, spans, index_offset

    def _frame_counts(self, first_frame: int) -> range:
        """``num_frames`` values a chunk starting at ``first_frame`` may have, when no index says which."""
        limit = min(self.header.gop_size, self.header.num_frames - first_frame)
        return range(limit, limit + 1) if self.version == 1 else range(1, limit + 1)

    def _scan(self, first_chunk: int) -> tuple[tuple[int, ...], tuple[range, ...], int, Damage | None]:
        """Read the chunks in order without the index; stop at the first one that is not whole."""
        offsets: list[int] = []
        spans: list[range] = []
        pos, frame = first_chunk, 0
        problem: GNVCFormatError | None = None
        while frame < self.header.num_frames:
            try:
                size, record = self._scan_chunk(pos, len(spans), frame)
            except GNVCFormatError as exc:
                problem = exc
                break
            offsets.append(pos)
            spans.append(range(frame, frame + record.num_frames))
            pos += size
            frame += record.num_frames
        if problem is None:
            try:
                if self._read_index(first_chunk) != (tuple(offsets), tuple(spans), pos):
                    raise GNVCFormatError("the index disagrees with the chunks", path=self.path, offset=pos)
            except GNVCFormatError as exc:
                problem = exc
        damage = None
        if problem is not None:
            damage = Damage(self.path, problem, len(spans), frame, self.header.num_frames)
            logger.debug("salvaged %s: %s", self.path, damage.summary())
        return tuple(offsets), tuple(spans), pos, damage

    def _scan_chunk(self, offset: int, k: int, first_frame: int) -> tuple[int, GopRecord]:
        """GOP ``k``'s chunk at ``offset``, found by its own length field; returns its size and record."""
        left = self.file_size - offset
        if left < CHUNK_HEADER.size:
            raise GNVCFormatError(
                f"the file ends {left} bytes into GOP {k}'s chunk header (truncated?)",
                path=self.path,
                offset=offset,
                gop=k,
            )
        tag, length, _ = CHUNK_HEADER.unpack(self._read_at(offset, CHUNK_HEADER.size, f"GOP {k} chunk header"))
        if tag != BlockTag.CHUNK:
            raise GNVCFormatError(
                f"chunk tag is {tag!r}, expected {BlockTag.CHUNK.value!r}",
                path=self.path,
                offset=offset,
                gop=k,
                field="chunk_tag",
            )
        size = CHUNK_HEADER.size + length
        if not MIN_CHUNK_SIZE <= size <= left:
            raise GNVCFormatError(
                f"payload_length {length} makes a {size}-byte chunk; {left} bytes are left in the file"
                + (" (truncated?)" if size > left else f", a chunk has at least {MIN_CHUNK_SIZE}"),
                path=self.path,
                offset=offset + CHUNK_AT["payload_length"],
                gop=k,
                field="payload_length",
            )
        chunk = self._read_at(offset, size, f"GOP {k} chunk")
        return size, self._parse_chunk(chunk, offset, k, first_frame, self._frame_counts(first_frame))

    def _parse_chunk(self, chunk: bytes, offset: int, k: int, first_frame: int, frame_counts: range) -> GopRecord:
        payload = split_chunk(chunk, offset, self._header_crc, gop=k, path=self.path)
        return decode_gop_payload(
            payload,
            offset + len(chunk) - len(payload),
            expected_index=k,
            first_frame=first_frame,
            frame_counts=frame_counts,
            path=self.path,
        )

    def _check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"GOP index must be an int, got {type(k).__name__}")
        if not 0 <= k < self.num_gops:
            raise IndexError(f"GOP {k} out of range: {self.path} has {self.num_gops} GOPs")

    def _chunk_end(self, k: int) -> int:
        return self._offsets[k + 1] if k + 1 < self.num_gops else self._chunks_end

    def gop_size_bytes(self, k: int) -> int:
        """Bytes of GOP ``k``'s chunk, chunk header included (for bits-per-GOP statistics)."""
        self._check_k(k)
        return self._chunk_end(k) - self._offsets[k]

    def read_gop(self, k: int) -> GopRecord:
        """Read GOP ``k`` through the index (or where the salvaging scan found it).

        Raises:
            GNVCFormatError: the chunk's tag, length, CRC32 or fields are wrong.
            IndexError: ``k`` is not in ``0..num_gops-1``.
        """
        self._check_k(k)
        if self._file.closed:
            raise ValueError(f"GnvcReader for {self.path} is closed")
        offset, span = self._offsets[k], self.spans[k]
        chunk = self._read_at(offset, self._chunk_end(k) - offset, f"GOP {k} chunk")
        return self._parse_chunk(chunk, offset, k, span.start, range(len(span), len(span) + 1))

    def __iter__(self) -> Iterator[GopRecord]:
        for k in range(self.num_gops):
            yield self.read_gop(k)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_header(path: Path) -> SequenceHeader:
    """Open ``path``, check its structure and return its header.

    Raises:
        GNVCFormatError: the file is not a valid ``.gnvc`` file.
    """
    with GnvcReader(path) as reader:
        return reader.header
