"""The blocks around the payloads: preamble, header block, chunk framing, index and trailer.

Every function here works on ``bytes``; file handling lives in :mod:`vsgnvc.bitstream.container`.
CRC32s after the header are seeded with the header's CRC32 (``zlib.crc32(data, header_crc)``), so
a chunk, index or trailer copied from a file with a different header fails its check.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.header import HEADER_FIXED_SIZE, HEADER_TEXT_FIELDS, MAX_HEADER_PAYLOAD
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
    INDEX_HEADER,
    MAX_CHUNK_PAYLOAD,
    NUM_STRINGS,
    PREAMBLE_AT,
    TRAILER,
    TRAILER_AT,
    TRAILER_CRC_SPAN,
    BlockTag,
    index_size,
)

logger = logging.getLogger(__name__)

MIN_HEADER_PAYLOAD = HEADER_FIXED_SIZE + len(HEADER_TEXT_FIELDS)
"""Fixed fields plus one zero-length varint per text field."""

HEADER_BLOCK_OVERHEAD = HEADER_LENGTH.size + CRC32.size
"""Bytes a header block adds around its payload (length prefix, CRC32)."""

MIN_CHUNK_SIZE = CHUNK_HEADER.size + sum(s.size for _, s in GOP_FIXED_FIELDS) + NUM_STRINGS.size + 1
"""Smallest valid chunk: its header, the fixed GOP fields and one latent frame with one empty string."""

MAX_CHUNK_SIZE = CHUNK_HEADER.size + MAX_CHUNK_PAYLOAD


def encode_preamble() -> bytes:
    return FILE_PREAMBLE.pack(FILE_MAGIC, FORMAT_VERSION, FILE_RESERVED)


def check_preamble(data: bytes, *, path: Path | None = None) -> None:
    """Check magic, version and the reserved bytes of the first ``FILE_PREAMBLE.size`` bytes."""
    if len(data) < FILE_PREAMBLE.size:
        raise GNVCFormatError(f"file is {len(data)} bytes, too small to be a .gnvc file", path=path, offset=0)
    magic, version, reserved = FILE_PREAMBLE.unpack_from(data, 0)
    if magic != FILE_MAGIC:
        raise GNVCFormatError(
            f"not a .gnvc file: magic is {magic!r}, expected {FILE_MAGIC!r}", path=path, offset=0, field="file_magic"
        )
    if version != FORMAT_VERSION:
        raise GNVCFormatError(
            f"unsupported format version {version}; this reader supports {FORMAT_VERSION}",
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


def encode_header_block(payload: bytes) -> tuple[bytes, int]:
    """Frame a header payload; returns the block and the header CRC32 that seeds later CRCs."""
    crc = zlib.crc32(payload)
    return HEADER_LENGTH.pack(len(payload)) + payload + CRC32.pack(crc), crc


def check_header_length(length: int, available: int, *, offset: int, path: Path | None = None) -> None:
    """Reject a ``header_length`` outside the valid range or larger than what the file holds."""
    if not MIN_HEADER_PAYLOAD <= length <= MAX_HEADER_PAYLOAD:
        raise GNVCFormatError(
            f"header_length {length} is outside {MIN_HEADER_PAYLOAD}..{MAX_HEADER_PAYLOAD}",
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


def encode_index(offsets: Sequence[int], header_crc: int) -> bytes:
    body = INDEX_HEADER.pack(BlockTag.INDEX, len(offsets)) + b"".join(INDEX_ENTRY.pack(o) for o in offsets)
    return body + CRC32.pack(zlib.crc32(body, header_crc))


def decode_index(
    data: bytes,
    offset: int,
    header_crc: int,
    *,
    num_gops: int,
    first_chunk: int,
    index_offset: int,
    path: Path | None = None,
) -> tuple[int, ...]:
    """Check the index block and return the chunk offsets.

    The offsets must start right after the header, grow by at least ``MIN_CHUNK_SIZE`` and at most
    ``MAX_CHUNK_SIZE``, and leave room for the last chunk before the index.
    """
    if len(data) != index_size(num_gops):
        raise GNVCFormatError(
            f"index is {len(data)} bytes, {num_gops} GOPs need {index_size(num_gops)}", path=path, offset=offset
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
            f"index lists {count} GOPs, the header implies {num_gops}",
            path=path,
            offset=offset + len(BlockTag.INDEX.value),
            field="num_entries",
        )
    offsets = tuple(value for (value,) in INDEX_ENTRY.iter_unpack(memoryview(body)[INDEX_HEADER.size :]))
    bounds = (*offsets, index_offset)
    if offsets[0] != first_chunk:
        raise GNVCFormatError(
            f"first chunk_offset is {offsets[0]}, the header ends at {first_chunk}",
            path=path,
            offset=offset + INDEX_HEADER.size,
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
                offset=offset + INDEX_HEADER.size + k * INDEX_ENTRY.size,
                gop=k,
                field="chunk_offset",
            )
    return offsets


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
