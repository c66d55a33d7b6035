"""Constants of the ``.gnvc`` byte layout: magics, version, fixed structs and limits.

Every integer is little-endian. ``docs/bitstream.md`` is the normative description; the names
here match its tables. Changing anything in this module changes the file format: bump
:data:`FORMAT_VERSION` when you do.
"""

from __future__ import annotations

import logging
import struct
from enum import Enum, IntEnum

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""The only version this package writes and reads."""

FILE_MAGIC = b"GNVC"
"""First four bytes of every file."""


class BlockTag(bytes, Enum):
    """Four-byte tags that open the GOP chunks and the index, and close the trailer."""

    CHUNK = b"GGOP"
    INDEX = b"GIDX"
    END = b"GEND"


def _named_struct(fields: tuple[tuple[str, str], ...]) -> tuple[struct.Struct, dict[str, int]]:
    """A little-endian struct of named fields, and each field's byte offset inside it."""
    offsets = {name: struct.calcsize("<" + "".join(f for _, f in fields[:i])) for i, (name, _) in enumerate(fields)}
    return struct.Struct("<" + "".join(f for _, f in fields)), offsets


FILE_PREAMBLE, PREAMBLE_AT = _named_struct((("file_magic", "4s"), ("version", "B"), ("reserved", "3s")))
FILE_RESERVED = bytes(3)

# header_length(u32): bytes of the header payload that follows; then payload, then header_crc32(u32)
HEADER_LENGTH = struct.Struct("<I")
CRC32 = struct.Struct("<I")

# the payload follows the chunk header
CHUNK_HEADER, CHUNK_AT = _named_struct((("chunk_tag", "4s"), ("payload_length", "I"), ("payload_crc32", "I")))

# (field name, struct) of the fixed start of a chunk payload, in order
GOP_FIXED_FIELDS: tuple[tuple[str, struct.Struct], ...] = (
    ("gop_index", struct.Struct("<I")),
    ("first_frame", struct.Struct("<I")),
    ("num_frames", struct.Struct("<H")),
    ("gop_flags", struct.Struct("<B")),
    ("num_latent_frames", struct.Struct("<H")),
)
# num_strings(u8), once per latent frame, followed by that many varint lengths
NUM_STRINGS = struct.Struct("<B")

# index_tag(4s) num_entries(u32); then num_entries x chunk_offset(u64); then index_crc32(u32)
INDEX_HEADER = struct.Struct("<4sI")
INDEX_ENTRY = struct.Struct("<Q")

TRAILER, TRAILER_AT = _named_struct(
    (("index_offset", "Q"), ("num_gops", "I"), ("trailer_crc32", "I"), ("end_tag", "4s"))
)
TRAILER_CRC_SPAN = TRAILER_AT["trailer_crc32"]
"""The trailer CRC covers the fields before it (index_offset, num_gops)."""


class GopFlag(IntEnum):
    """Bits of the chunk's ``gop_flags`` byte; all other bits must be zero."""

    SCENE_CUT = 0x01


class RefineFlag(IntEnum):
    """Bits of the header's ``refine_flags`` byte; all other bits must be zero."""

    ENABLED = 0x01


# --- value ranges (inclusive) shared by the writer-side dataclasses and the reader ---
MAX_DIMENSION = 16384
MAX_NUM_FRAMES = 10_000_000
MAX_GOP_SIZE = 4096
MAX_LATENT_FRAMES = 1024
MAX_STRINGS_PER_LATENT = 8
MAX_REFINE_STEPS = 100
MAX_REFINE_WINDOW = 256
MAX_U8 = 0xFF
MAX_U32 = 0xFFFF_FFFF
MAX_U64 = 0xFFFF_FFFF_FFFF_FFFF
WEIGHTS_HASH_BYTES = 16
MAX_MODEL_NAME_BYTES = 255
MAX_SOURCE_PATH_BYTES = 4096
MAX_ENCODER_BYTES = 255
MAX_CHUNK_PAYLOAD = MAX_U32
"""A chunk's payload length is a u32."""

MAX_VARINT_BYTES = 10
"""Unsigned LEB128 of a u64 needs at most 10 bytes."""


def index_size(num_gops: int) -> int:
    """Bytes of the index block for ``num_gops`` entries (tag, count, offsets, CRC)."""
    return INDEX_HEADER.size + num_gops * INDEX_ENTRY.size + CRC32.size
