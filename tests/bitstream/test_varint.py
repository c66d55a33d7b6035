"""Varints: round trip at the byte boundaries, and every malformed spelling rejected."""

from __future__ import annotations

import pytest

from vsgnvc.bitstream.varint import decode_uvarint, encode_uvarint

BOUNDARIES = [0, 1, 127, 128, 255, 16383, 16384, 2**21 - 1, 2**21, 2**32 - 1, 2**32, 2**63, 2**64 - 1]


@pytest.mark.parametrize("value", BOUNDARIES)
def test_round_trip(value: int) -> None:
    data = encode_uvarint(value)
    assert len(data) == max(1, -(-value.bit_length() // 7))
    assert decode_uvarint(b"\xaa" + data + b"\x55", 1, 1 + len(data)) == (value, 1 + len(data))


def test_known_spellings() -> None:
    assert encode_uvarint(0) == b"\x00"
    assert encode_uvarint(300) == b"\xac\x02"
    assert encode_uvarint(2**64 - 1) == b"\xff" * 9 + b"\x01"


@pytest.mark.parametrize("value", [-1, 2**64])
def test_encode_range(value: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.2"):
        encode_uvarint(value)


def test_encode_type() -> None:
    with pytest.raises(TypeError):
        encode_uvarint(True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "past the end"),
        (b"\x80", "past the end"),
        (b"\xff\xff", "past the end"),
        (b"\x80\x00", "shortest"),
        (b"\xac\x82\x00", "shortest"),
        (b"\xff" * 9 + b"\x02", "exceeds"),
        (b"\x80" * 10 + b"\x01", "longer than 10"),
    ],
)
def test_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_uvarint(data, 0, len(data))


def test_end_bound_is_respected() -> None:
    # the second byte exists in the buffer but lies past the block end
    with pytest.raises(ValueError, match="past the end"):
        decode_uvarint(b"\x81\x01", 0, 1)
