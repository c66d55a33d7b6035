"""The blocks around the payloads: preamble, header block, chunk framing, index and trailer.

Every function here works on ``bytes``; file handling lives in :mod:`vsgnvc.bitstream.container`.
CRC32s after the header are seeded with the header's CRC32 (``zlib.crc32(data, header_crc)``), so
a chunk, index or trailer copied from a file with a different header fails its check.
"""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.header import max_header_payload, min_header_payload
from vsgnvc.bitstream.layout import (
    CHUNK_AT,
    CHUNK_HEADER,
    CRC32,
    FILE_MAGIC,
    FILE_PREAMBLE,
    FILE_RESERVED,
    FORMAT_VERSION,
    GOP_FIXED_FIELDS,
    HEADER_LENGTH,
    INDEX_ENTRY,
    INDEX_ENTRY_V1,
    INDEX_HEADER,
    MAX_CHUNK_PAYLOAD,
    NUM_STRINGS,
    PREAMBLE_AT,
    READABLE_VERSIONS,
    TRAILER,
    TRAILER_AT,
    TRAILER_CRC_SPAN,
    BlockTag,
    index_entry,
    index_size,
)

logger = logging.getLogger(__name__)

HEADER_BLOCK_OVERHEAD = HEADER_LENGTH.size + CRC32.size
"""Bytes a header block adds around its payload (length prefix, CRC32)."""

MIN_CHUNK_SIZE = CHUNK_HEADER.size + sum(s.size for _, s in GOP_FIXED_FIELDS) + NUM_STRINGS.size + 1
"""Smallest valid chunk: its header, the fixed GOP fields and one latent frame with one empty string."""

MAX_CHUNK_SIZE = CHUNK_HEADER.size + MAX_CHUNK_PAYLOAD


def encode_preamble() -> bytes:
    return FILE_PREAMBLE.pack(FILE_MAGIC, FORMAT_VERSION, FILE_RESERVED)


def check_preamble(data: bytes, *, path: Path | None = None) -> int:
    """Check magic, version and the reserved bytes of the first ``FILE_PREAMBLE.size`` bytes; returns the version."""
    if len(data) < FILE_PREAMBLE.size:
        raise GNVCFormatError(f"file is {len(data)} bytes, too small to be a .gnvc file", path=path, offset=0)
    magic, version, reserved = FILE_PREAMBLE.unpack_from(data, 0)
    if magic != FILE_MAGIC:
        raise GNVCFormatError(
            f"not a .gnvc file: magic is {magic!r}, expected {FILE_MAGIC!r}", path=path, offset=0, field="file_magic"
        )
    if version not in READABLE_VERSIONS:
        raise GNVCFormatError(
            f"unsupported format version {version}; this reader supports {', '.join(map(str, READABLE_VERSIONS))}",
            path=path,
            offset=PREAMBLE_AT["version"],
            field="version",
        )
    if reserved != FILE_RESERVED:
        raise GNVCFormatError(
            f"reserved preamble bytes are {reserved.hex()}, expected zeros",
            path=path,
            offset=PREAMBLE_AT["reserved"],
            field="reserved",
        )
    return version


def encode_header_block(payload: bytes) -> tuple[bytes, int]:
    """Frame a header payload; returns the block and the header CRC32 that seeds later CRCs."""
    crc = zlib.crc32(payload)
    return HEADER_LENGTH.pack(len(payload)) + payload + CRC32.pack(crc), crc


def check_header_length(
    length: int, available: int, *, offset: int, version: int = FORMAT_VERSION, path: Path | None = None
) -> None:
    """Reject a ``header_length`` outside the valid range or larger than what the file holds."""
    lo, hi = min_header_payload(version), max_header_payload(version)
    if not lo <= length <= hi:
        raise GNVCFormatError(
            f"header_length {length} is outside {lo}..{hi}",
            path=path,
            offset=offset,
            field="header_length",
        )
    if length + CRC32.size > available:
        raise GNVCFormatError(
            f"header_length {length} runs past the end of the file ({available} bytes left)",
            path=path,
            offset=offset,
            field="header_length",
        )


def check_crc(
    expected: int,
    data: bytes,
    seed: int,
    what: str,
    *,
    offset: int,
    field: str,
    path: Path | None = None,
    gop: int | None = None,
) -> None:
    actual = zlib.crc32(data, seed)
    if actual != expected:
        raise GNVCFormatError(
            f"{what} CRC32 mismatch (stored {expected:08x}, computed {actual:08x})",
            path=path,
            offset=offset,
            gop=gop,
            field=field,
        )


def encode_chunk(payload: bytes, header_crc: int) -> bytes:
    return CHUNK_HEADER.pack(BlockTag.CHUNK, len(payload), zlib.crc32(payload, header_crc)) + payload


def split_chunk(chunk: bytes, offset: int, header_crc: int, *, gop: int, path: Path | None = None) -> bytes:
    """Check a whole chunk's framing and CRC; returns its payload.

    Args:
        chunk (`bytes`): exactly the bytes the index assigns to this GOP.
        offset (`int`): absolute offset of the chunk.
    """
    if len(chunk) < CHUNK_HEADER.size:
        raise GNVCFormatError(
            f"chunk is {len(chunk)} bytes, shorter than its header", path=path, offset=offset, gop=gop
        )
    tag, length, crc = CHUNK_HEADER.unpack_from(chunk, 0)
    if tag != BlockTag.CHUNK:
        raise GNVCFormatError(
            f"chunk tag is {tag!r}, expected {BlockTag.CHUNK.value!r}",
            path=path,
            offset=offset,
            gop=gop,
            field="chunk_tag",
        )
    if length != len(chunk) - CHUNK_HEADER.size:
        raise GNVCFormatError(
            f"payload_length {length} disagrees with the index "
            f"({len(chunk) - CHUNK_HEADER.size} bytes between this chunk and the next)",
            path=path,
            offset=offset + CHUNK_AT["payload_length"],
            gop=gop,
            field="payload_length",
        )
    payload = chunk[CHUNK_HEADER.size :]
    check_crc(
        crc,
        payload,
        header_crc,
        "chunk",
        offset=offset + CHUNK_AT["payload_crc32"],
        field="payload_crc32",
        path=path,
        gop=gop,
    )
    return payload


def encode_index(offsets: Sequence[int], first_frames: Sequence[int], header_crc: int) -> bytes:
    entries = b"".join(INDEX_ENTRY.pack(o, f) for o, f in zip(offsets, first_frames, strict=True))
    body = INDEX_HEADER.pack(BlockTag.INDEX, len(offsets)) + entries
    return body + CRC32.pack(zlib.crc32(body, header_crc))


def decode_index(
    data: bytes,
    offset: int,
    header_crc: int,
    *,
    num_gops: int,
    first_chunk: int,
    index_offset: int,
    num_frames: int,
    gop_size: int,
    version: int = FORMAT_VERSION,
    path: Path | None = None,
) -> tuple[tuple[int, ...], tuple[range, ...]]:
    """Check the index block; returns the chunk offsets and the frames of each GOP.

    The offsets must start right after the header, grow by at least ``MIN_CHUNK_SIZE`` and at most
    ``MAX_CHUNK_SIZE``, and leave room for the last chunk before the index. The first frames must
    start at 0 and give every GOP 1..``gop_size`` frames up to ``num_frames``. Version 1 entries hold
    only the offset: its GOPs are ``gop_size`` frames each (``grid_spans``).
    """
    entry = index_entry(version)
    if len(data) != index_size(num_gops, version):
        raise GNVCFormatError(
            f"index is {len(data)} bytes, {num_gops} GOPs need {index_size(num_gops, version)}",
            path=path,
            offset=offset,
        )
    body, (crc,) = data[: -CRC32.size], CRC32.unpack_from(data, len(data) - CRC32.size)
    check_crc(crc, body, header_crc, "index", offset=offset + len(body), field="index_crc32", path=path)
    tag, count = INDEX_HEADER.unpack_from(body, 0)
    if tag != BlockTag.INDEX:
        raise GNVCFormatError(
            f"index tag is {tag!r}, expected {BlockTag.INDEX.value!r}", path=path, offset=offset, field="index_tag"
        )
    if count != num_gops:
        raise GNVCFormatError(
            f"index lists {count} GOPs, the trailer says {num_gops}",
            path=path,
            offset=offset + len(BlockTag.INDEX.value),
            field="num_entries",
        )
    entries = list(entry.iter_unpack(memoryview(body)[INDEX_HEADER.size :]))
    offsets = tuple(e[0] for e in entries)
    first_frames = tuple(e[1] for e in entries) if version > 1 else tuple(range(0, num_frames, gop_size))
    entry_at = [offset + INDEX_HEADER.size + k * entry.size for k in range(count)]
    bounds = (*offsets, index_offset)
    if offsets[0] != first_chunk:
        raise GNVCFormatError(
            f"first chunk_offset is {offsets[0]}, the header ends at {first_chunk}",
            path=path,
            offset=entry_at[0],
            gop=0,
            field="chunk_offset",
        )
    for k in range(count):
        size = bounds[k + 1] - bounds[k]
        if not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
            raise GNVCFormatError(
                f"chunk_offset entries give GOP {k} {size} bytes (valid: {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}, "
                f"offsets must increase and stay before the index at {index_offset})",
                path=path,
                offset=entry_at[k],
                gop=k,
                field="chunk_offset",
            )
    frame_bounds = (*first_frames, num_frames)
    first_frame_at = INDEX_ENTRY_V1.size  # after chunk_offset
    if first_frames[0] != 0:
        raise GNVCFormatError(
            f"GOP 0 starts at frame {first_frames[0]}, expected 0",
            path=path,
            offset=entry_at[0] + first_frame_at,
            gop=0,
            field="first_frame",
        )
    for k in range(count):
        length = frame_bounds[k + 1] - frame_bounds[k]
        if not 1 <= length <= gop_size:
            raise GNVCFormatError(
                f"first_frame entries give GOP {k} {length} frames (valid: 1..{gop_size}, "
                f"first frames must increase and stay below num_frames {num_frames})",
                path=path,
                offset=entry_at[k] + first_frame_at,
                gop=k,
                field="first_frame",
            )
    return offsets, tuple(range(a, b) for a, b in itertools.pairwise(frame_bounds))


def encode_trailer(index_offset: int, num_gops: int, header_crc: int) -> bytes:
    head = TRAILER.pack(index_offset, num_gops, 0, BlockTag.END)[:TRAILER_CRC_SPAN]
    return TRAILER.pack(index_offset, num_gops, zlib.crc32(head, header_crc), BlockTag.END)


def decode_trailer(data: bytes, offset: int, header_crc: int, *, path: Path | None = None) -> tuple[int, int]:
    """Check the trailer (end tag, CRC32); returns ``(index_offset, num_gops)``."""
    if len(data) != TRAILER.size:
        raise GNVCFormatError(f"trailer is {len(data)} bytes, expected {TRAILER.size}", path=path, offset=offset)
    index_offset, num_gops, crc, end = TRAILER.unpack(data)
    if end != BlockTag.END:
        raise GNVCFormatError(
            f"end tag is {end!r}, expected {BlockTag.END.value!r} (file truncated or extended?)",
            path=path,
            offset=offset + TRAILER_AT["end_tag"],
            field="end_tag",
        )
    check_crc(
        crc,
        data[:TRAILER_CRC_SPAN],
        header_crc,
        "trailer",
        offset=offset + TRAILER_AT["trailer_crc32"],
        field="trailer_crc32",
        path=path,
    )
    return index_offset, num_gops
