"""The writer produces exactly the bytes docs/bitstream.md describes, and the reader still reads version 1.

The expected files are assembled here with plain ``struct``/``zlib`` from the tables of the
document, independently of the package's layout constants, so an accidental format change (a
field moved, widened or reordered) fails this test even if reader and writer change together.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from vsgnvc.bitstream import (
    FORMAT_VERSION,
    GNVCFormatError,
    GnvcReader,
    GnvcWriter,
    GopRecord,
    PixelFormatCode,
    RefineSettings,
    SequenceHeader,
)

WEIGHTS = hashlib.sha256(b"weights").digest()[:16]
HEADER = SequenceHeader(
    width=1920, height=1080, coded_width=1920, coded_height=1088, fps_num=30000, fps_den=1001,
    num_frames=5, pix_fmt=PixelFormatCode.YUV420P10, color_range=0, matrix=1, transfer=1, primaries=1,
    sar_num=1, sar_den=1, gop_size=3, rate_index=7, model_name="gnvc-vd", weights_hash=WEIGHTS,
    refine=RefineSettings(enabled=True, t_start=0.7, steps=5, window=7, overlap=2, seed=123456789),
    encoder="vsgnvc 0.1.0",
)  # fmt: skip
LONG_STRING = bytes(range(256)) * 2  # 512 bytes: a two-byte varint (0x80 0x04)


def text(s: str) -> bytes:
    data = s.encode("utf-8")
    assert len(data) < 128  # one-byte varint keeps this hand-built file simple
    return bytes([len(data)]) + data


def fixed_header_fields() -> bytes:
    payload = (
        struct.pack("<HHHH", 1920, 1080, 1920, 1088)
        + struct.pack("<III", 30000, 1001, 5)
        + struct.pack("<BBBBB", 1, 0, 1, 1, 1)
        + struct.pack("<IIHB", 1, 1, 3, 7)
        + WEIGHTS
        + struct.pack("<BdBHHQ", 1, 0.7, 5, 7, 2, 123456789)
    )
    assert len(payload) == 74  # fixed part 74 bytes, as documented
    return payload


def build(version: int, header_payload: bytes, chunk_payloads: list[bytes], entry) -> bytes:
    """Preamble, header block, chunks, index (``entry(k, offset)`` packs one entry) and trailer."""
    h = zlib.crc32(header_payload)
    out = b"GNVC" + bytes([version, 0, 0, 0]) + struct.pack("<I", len(header_payload)) + header_payload
    out += struct.pack("<I", h)
    entries = b""
    for k, p in enumerate(chunk_payloads):
        entries += entry(k, len(out))
        out += b"GGOP" + struct.pack("<II", len(p), zlib.crc32(p, h)) + p
    index_offset = len(out)
    index_body = b"GIDX" + struct.pack("<I", len(chunk_payloads)) + entries
    out += index_body + struct.pack("<I", zlib.crc32(index_body, h))
    trailer_head = struct.pack("<QI", index_offset, len(chunk_payloads))
    return out + trailer_head + struct.pack("<I", zlib.crc32(trailer_head, h)) + b"GEND"


def test_writer_matches_the_document(tmp_path: Path) -> None:
    assert FORMAT_VERSION == 2
    # 5 frames in GOPs of at most 3: a scene cut at frame 2 ends GOP 0 early
    gops = [
        GopRecord(0, 0, 2, False, ((b"y0", b"z0"), (b"",))),
        GopRecord(1, 2, 3, True, ((LONG_STRING, b"\x01"), (b"only",))),
    ]
    path = tmp_path / "spec.gnvc"
    with GnvcWriter(path, HEADER) as writer:
        for gop in gops:
            writer.write_gop(gop)

    payload = fixed_header_fields() + text("gnvc-vd") + text("vsgnvc 0.1.0")
    chunk_payloads = [
        struct.pack("<IIHBH", 0, 0, 2, 0, 2) + bytes([2, 2, 2]) + b"y0z0" + bytes([1, 0]),
        struct.pack("<IIHBH", 1, 2, 3, 1, 2)
        + bytes([2, 0x80, 0x04, 1]) + LONG_STRING + b"\x01"
        + bytes([1, 4]) + b"only",
    ]  # fmt: skip
    first_frames = [0, 2]
    expected = build(2, payload, chunk_payloads, lambda k, offset: struct.pack("<QI", offset, first_frames[k]))

    assert path.read_bytes() == expected
    with GnvcReader(path) as reader:
        assert reader.header == HEADER and list(reader) == gops
        assert reader.spans == (range(0, 2), range(2, 5))


def test_version_1_files_still_read(tmp_path: Path) -> None:
    """Version 1: a source_path text field in the header, fixed GOPs of gop_size frames, 8-byte index entries."""
    payload = fixed_header_fields() + text("gnvc-vd") + text("/home/someone/a.y4m") + text("vsgnvc 0.1.0")
    chunk_payloads = [
        struct.pack("<IIHBH", 0, 0, 3, 1, 2) + bytes([2, 2, 2]) + b"y0z0" + bytes([1, 0]),
        struct.pack("<IIHBH", 1, 3, 2, 0, 1) + bytes([1, 4]) + b"only",
    ]
    data = build(1, payload, chunk_payloads, lambda k, offset: struct.pack("<Q", offset))
    path = tmp_path / "v1.gnvc"
    path.write_bytes(data)
    gops = [GopRecord(0, 0, 3, True, ((b"y0", b"z0"), (b"",))), GopRecord(1, 3, 2, False, ((b"only",),))]
    for salvage in (False, True):
        with GnvcReader(path, salvage=salvage) as reader:
            assert reader.version == 1 and reader.damage is None
            assert reader.header == HEADER  # the source path is read, checked and dropped
            assert reader.spans == (range(0, 3), range(3, 5)) and list(reader) == gops
    # a truncated version 1 file is salvaged like a version 2 one
    cut = tmp_path / "v1_cut.gnvc"
    cut.write_bytes(data[: len(data) - 30])
    with GnvcReader(cut, salvage=True) as reader:
        assert reader.spans == (range(0, 3), range(3, 5)) and list(reader) == gops
        assert reader.damage is not None and reader.damage.frames == 5


def test_the_decoder_refuses_version_1_strings_in_one_line(tmp_path: Path) -> None:
    # Version 1 strings were coded by compressai's rANS coder; decoding them with ours would give garbage.
    import pytest

    from vsgnvc.codec.decoder import Decoder

    payload = fixed_header_fields() + text("gnvc-vd") + text("/x/a.y4m") + text("vsgnvc 0.1.0")
    chunks = [
        struct.pack("<IIHBH", 0, 0, 3, 1, 2) + bytes([2, 2, 2]) + b"y0z0" + bytes([1, 0]),
        struct.pack("<IIHBH", 1, 3, 2, 0, 1) + bytes([1, 4]) + b"only",
    ]
    path = tmp_path / "v1.gnvc"
    path.write_bytes(build(1, payload, chunks, lambda k, offset: struct.pack("<Q", offset)))
    with pytest.raises(GNVCFormatError, match=r"format version 1 cannot be decoded by this vsgnvc .*re-encode") as info:
        Decoder(path, object(), "cpu")  # refused before any model is needed
    assert "\n" not in str(info.value)
