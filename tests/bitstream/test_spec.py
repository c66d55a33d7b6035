"""The writer produces exactly the bytes docs/bitstream.md describes.

The expected file is assembled here with plain ``struct``/``zlib`` from the tables of the
document, independently of the package's layout constants, so an accidental format change (a
field moved, widened or reordered) fails this test even if reader and writer change together.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from vsgnvc.bitstream import GnvcReader, GnvcWriter, GopRecord, PixelFormatCode, RefineSettings, SequenceHeader


def text(s: str) -> bytes:
    data = s.encode("utf-8")
    assert len(data) < 128  # one-byte varint keeps this hand-built file simple
    return bytes([len(data)]) + data


def test_writer_matches_the_document(tmp_path: Path) -> None:
    weights = hashlib.sha256(b"weights").digest()[:16]
    header = SequenceHeader(
        width=1920, height=1080, coded_width=1920, coded_height=1088, fps_num=30000, fps_den=1001,
        num_frames=5, pix_fmt=PixelFormatCode.YUV420P10, color_range=0, matrix=1, transfer=1, primaries=1,
        sar_num=1, sar_den=1, gop_size=3, rate_index=7, model_name="gnvc-vd", weights_hash=weights,
        refine=RefineSettings(enabled=True, t_start=0.7, steps=5, window=7, overlap=2, seed=123456789),
        source_path="/v/a.y4m", encoder="vsgnvc 0.1.0",
    )  # fmt: skip
    long_string = bytes(range(256)) * 2  # 512 bytes: a two-byte varint (0x80 0x04)
    gops = [
        GopRecord(0, 0, 3, True, ((b"y0", b"z0"), (b"",), (long_string, b"\x01"))),
        GopRecord(1, 3, 2, False, ((b"only",),)),
    ]
    path = tmp_path / "spec.gnvc"
    with GnvcWriter(path, header) as writer:
        for gop in gops:
            writer.write_gop(gop)

    payload = (
        struct.pack("<HHHH", 1920, 1080, 1920, 1088)
        + struct.pack("<III", 30000, 1001, 5)
        + struct.pack("<BBBBB", 1, 0, 1, 1, 1)
        + struct.pack("<IIHB", 1, 1, 3, 7)
        + weights
        + struct.pack("<BdBHHQ", 1, 0.7, 5, 7, 2, 123456789)
        + text("gnvc-vd")
        + text("/v/a.y4m")
        + text("vsgnvc 0.1.0")
    )
    assert len(payload) == 74 + 8 + 9 + 13  # fixed part 74 bytes, as documented
    h = zlib.crc32(payload)
    expected = b"GNVC" + bytes([2, 0, 0, 0]) + struct.pack("<I", len(payload)) + payload + struct.pack("<I", h)

    chunk_payloads = [
        struct.pack("<IIHBH", 0, 0, 3, 1, 3)
        + bytes([2, 2, 2]) + b"y0z0"
        + bytes([1, 0])
        + bytes([2, 0x80, 0x04, 1]) + long_string + b"\x01",
        struct.pack("<IIHBH", 1, 3, 2, 0, 1) + bytes([1, 4]) + b"only",
    ]  # fmt: skip
    offsets = []
    for p in chunk_payloads:
        offsets.append(len(expected))
        expected += b"GGOP" + struct.pack("<II", len(p), zlib.crc32(p, h)) + p
    index_offset = len(expected)
    index_body = b"GIDX" + struct.pack("<I", 2) + b"".join(struct.pack("<Q", o) for o in offsets)
    expected += index_body + struct.pack("<I", zlib.crc32(index_body, h))
    trailer_head = struct.pack("<QI", index_offset, 2)
    expected += trailer_head + struct.pack("<I", zlib.crc32(trailer_head, h)) + b"GEND"

    assert path.read_bytes() == expected
    with GnvcReader(path) as reader:
        assert reader.header == header and list(reader) == gops
