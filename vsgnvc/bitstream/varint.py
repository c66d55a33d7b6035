"""Unsigned LEB128 varints, the length prefix of every string in a ``.gnvc`` file.

Seven value bits per byte, least significant group first, high bit set on every byte but the
last. Only the shortest encoding of a value is valid, so every value has exactly one spelling.
"""

from __future__ import annotations

import logging

from vsgnvc.bitstream.layout import MAX_U64, MAX_VARINT_BYTES

logger = logging.getLogger(__name__)

_CONTINUE = 0x80
_PAYLOAD = 0x7F
_BITS = 7


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative integer below 2**64."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"varint value must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_U64:
        raise ValueError(f"varint value must be in 0..2**64-1, got {value}")
    out = bytearray()
    while value > _PAYLOAD:
        out.append((value & _PAYLOAD) | _CONTINUE)
        value >>= _BITS
    out.append(value)
    return bytes(out)


def decode_uvarint(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode one varint from ``data[pos:end]``.

    Returns:
        `tuple[int, int]`: the value and the position just after it.

    Raises:
        ValueError: the varint runs past ``end``, is longer than 10 bytes, is not the shortest
            encoding, or exceeds 2**64-1. Callers turn this into ``GNVCFormatError`` with a location.
    """
    value = 0
    shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise ValueError("varint runs past the end of its block")
        byte = data[pos + i]
        value |= (byte & _PAYLOAD) << shift
        if not byte & _CONTINUE:
            if byte == 0 and i > 0:
                raise ValueError("varint is not in its shortest form")
            if value > MAX_U64:
                raise ValueError("varint exceeds 2**64-1")
            return value, pos + i + 1
        shift += _BITS
    raise ValueError(f"varint longer than {MAX_VARINT_BYTES} bytes")
