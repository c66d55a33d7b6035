"""Damaged files: every truncation and every single-bit flip is a GNVCFormatError, and rewritten
fields are reported by name and byte offset."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import pytest

from tests.support.fuzz_bitstream import FileMap, fix_crcs, map_file, read_everything
from vsgnvc.bitstream import GNVCFormatError, GnvcReader, GnvcWriter, GopRecord, RefineSettings, SequenceHeader
from vsgnvc.bitstream.gop import grid_spans
from vsgnvc.bitstream.layout import CHUNK_AT, CHUNK_HEADER, INDEX_ENTRY, INDEX_HEADER, TRAILER_AT


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileMap, Path]:
    """A 3-GOP file of a few hundred bytes, so every byte and every bit can be damaged."""
    header = SequenceHeader(
        width=64, height=48, coded_width=64, coded_height=48, fps_num=25, fps_den=1, num_frames=7,
        pix_fmt=0, color_range=0, matrix=1, transfer=1, primaries=1, gop_size=3, rate_index=1,
        model_name="tiny", weights_hash=bytes(range(16)), refine=RefineSettings(seed=99), encoder="t",
    )  # fmt: skip
    rng = random.Random(11)
    path = tmp_path_factory.mktemp("small") / "small.gnvc"
    with GnvcWriter(path, header) as writer:
        for k, frames in enumerate(grid_spans(header.num_frames, header.gop_size)):
            # GOP 1 also has a 130-byte string, whose length is a 2-byte varint
            latents = ((rng.randbytes(9), rng.randbytes(3)), (rng.randbytes(130 if k == 1 else 5),))
            writer.write_gop(GopRecord(k, frames.start, len(frames), k == 0, latents))
    return map_file(path.read_bytes()), path


def read_damaged(data: bytes, scratch: Path, *, with_read_header: bool = True) -> GNVCFormatError:
    """Read a damaged file completely; it must raise GNVCFormatError and nothing else."""
    scratch.unlink(missing_ok=True)  # a fresh inode is much faster than truncating on ext4
    scratch.write_bytes(data)
    with pytest.raises(GNVCFormatError) as info:
        if with_read_header:
            read_everything(scratch)
        else:
            with GnvcReader(scratch) as reader:
                list(reader)
    return info.value


def test_the_fixture_is_valid(small_file: tuple[FileMap, Path]) -> None:
    fmap, path = small_file
    _, gops, _ = read_everything(path)
    assert len(gops) == 3 and 300 < len(fmap.data) < 600


def test_every_truncation(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    for n in range(len(fmap.data)):
        read_damaged(fmap.data[:n], tmp_path / "t.gnvc")


def test_every_single_bit_flip(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    scratch = tmp_path / "f.gnvc"
    for bit in range(8 * len(fmap.data)):
        buf = bytearray(fmap.data)
        buf[bit // 8] ^= 1 << (bit % 8)
        read_damaged(bytes(buf), scratch, with_read_header=False)


def test_appended_and_prepended_bytes(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    assert "end tag" in str(read_damaged(fmap.data + b"\x00", tmp_path / "a.gnvc"))
    assert "magic" in str(read_damaged(b"\x00" + fmap.data, tmp_path / "a.gnvc"))


def rewrite(fmap: FileMap, offset: int, fmt: str, value: object, *, fix: bool = True) -> bytes:
    buf = bytearray(fmap.data)
    struct.pack_into("<" + fmt, buf, offset, value)
    if fix:
        fix_crcs(buf, fmap)
    return bytes(buf)


HEADER_ABSURD = [
    ("width", 0),
    ("width", 65535),
    ("height", 20000),
    ("coded_width", 63),
    ("coded_height", 16385),
    ("fps_num", 0),
    ("fps_den", 0),
    ("num_frames", 0),
    ("num_frames", 0xFFFFFFFF),
    ("pix_fmt", 200),
    ("color_range", 2),
    ("sar_num", 0),
    ("sar_den", 0),
    ("gop_size", 0),
    ("gop_size", 60000),
    ("refine_flags", 0x80),
    ("refine_t_start", math.nan),
    ("refine_t_start", -math.inf),
    ("refine_t_start", 1.0),
    ("refine_steps", 0),
    ("refine_steps", 255),
    ("refine_window", 0),
    ("refine_window", 65535),
    ("refine_overlap", 7),
]


@pytest.mark.parametrize(("field", "value"), HEADER_ABSURD)
def test_absurd_header_field_is_named(
    small_file: tuple[FileMap, Path], tmp_path: Path, field: str, value: object
) -> None:
    fmap, _ = small_file
    offset, fmt = fmap.header_fields[field]
    error = read_damaged(rewrite(fmap, offset, fmt.format[1:], value), tmp_path / "h.gnvc")
    assert error.field == field and error.offset == offset
    assert field in str(error) and f"byte {offset}" in str(error)


def test_huge_frames_are_rejected_before_anything_else(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    buf = bytearray(fmap.data)
    for name in ("width", "height", "coded_width", "coded_height"):
        offset, fmt = fmap.header_fields[name]
        fmt.pack_into(buf, offset, 100_000 & 0xFFFF)  # u16: what a 100000 written into the field becomes
    fix_crcs(buf, fmap)
    assert read_damaged(bytes(buf), tmp_path / "x.gnvc").field == "width"


def test_header_crc_is_checked_before_the_fields(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    offset, _ = fmap.header_fields["width"]
    error = read_damaged(rewrite(fmap, offset, "H", 0, fix=False), tmp_path / "c.gnvc")
    assert error.field == "header_crc32" and "CRC32 mismatch" in str(error)


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "header_length 0 is outside 76..588"), (0xFFFFFFFF, "is outside"), (580, "runs past the end of the file")],
)
def test_header_length(small_file: tuple[FileMap, Path], tmp_path: Path, value: int, message: str) -> None:
    fmap, _ = small_file
    error = read_damaged(rewrite(fmap, 8, "I", value, fix=False), tmp_path / "l.gnvc")
    assert error.field == "header_length" and message in str(error)


def test_text_length_past_the_header(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    error = read_damaged(rewrite(fmap, fmap.text_length_at[1], "B", 0x7F), tmp_path / "s.gnvc")
    assert error.field == "encoder" and "runs past the end" in str(error)


def test_invalid_utf8_in_a_text_field(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    error = read_damaged(rewrite(fmap, fmap.text_length_at[0] + 1, "B", 0xFF), tmp_path / "u.gnvc")
    assert error.field == "model_name" and "UTF-8" in str(error)


@pytest.mark.parametrize(
    ("field", "fmt", "relative", "value"),
    [
        ("gop_index", "I", 0, 2),
        ("gop_index", "I", 0, 0xFFFFFFFF),
        ("first_frame", "I", 4, 0),
        ("num_frames", "H", 8, 4),
        ("gop_flags", "B", 10, 0x03),
        ("num_latent_frames", "H", 11, 0),
        ("num_latent_frames", "H", 11, 0xFFFF),
        ("num_strings[0]", "B", 13, 0),
        ("num_strings[0]", "B", 13, 9),
        ("string_length[0][0]", "H", 14, 0x7FFF),  # spells the varint ff 7f = 16383
        ("string_length[0][0]", "B", 14, 0x80),
    ],
)
def test_absurd_chunk_field_is_named(
    small_file: tuple[FileMap, Path], tmp_path: Path, field: str, fmt: str, relative: int, value: int
) -> None:
    fmap, _ = small_file
    chunk_at, _ = fmap.chunks[1]
    error = read_damaged(rewrite(fmap, chunk_at + CHUNK_HEADER.size + relative, fmt, value), tmp_path / "g.gnvc")
    assert error.gop == 1 and error.field is not None and error.field.startswith(field.split("[")[0])
    assert "GOP 1" in str(error)


@pytest.mark.parametrize("value", [0, 26, 0xFFFFFFFF])
def test_payload_length_disagreeing_with_the_index(
    small_file: tuple[FileMap, Path], tmp_path: Path, value: int
) -> None:
    fmap, _ = small_file
    chunk_at, _ = fmap.chunks[2]
    error = read_damaged(rewrite(fmap, chunk_at + CHUNK_AT["payload_length"], "I", value), tmp_path / "p.gnvc")
    assert (error.field, error.gop) == ("payload_length", 2)


def test_index_count_and_offsets(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    count_at = fmap.index_at + INDEX_HEADER.size - 4
    assert read_damaged(rewrite(fmap, count_at, "I", 1_000_000), tmp_path / "i.gnvc").field == "num_entries"
    first = fmap.index_at + INDEX_HEADER.size
    for k, value in [(0, 0), (1, 2**64 - 1), (1, fmap.chunks[0][0]), (2, fmap.index_at), (2, fmap.chunks[1][0] + 3)]:
        error = read_damaged(rewrite(fmap, first + INDEX_ENTRY.size * k, "Q", value), tmp_path / "i.gnvc")
        assert error.field == "chunk_offset" and error.gop in (k - 1, k), str(error)
    # first frames 0, 3, 6 of 7 frames in GOPs of at most 3
    for k, value in [(0, 1), (1, 0), (1, 2), (1, 7), (2, 3), (2, 2**32 - 1), (2, 3 + 3 + 1)]:
        error = read_damaged(rewrite(fmap, first + INDEX_ENTRY.size * k + 8, "I", value), tmp_path / "i.gnvc")
        assert error.field == "first_frame" and error.gop in (k - 1, k), str(error)


def test_trailer_fields(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    at = fmap.trailer_at
    for value in (0, 2**64 - 1, fmap.index_at - 8):
        error = read_damaged(rewrite(fmap, at + TRAILER_AT["index_offset"], "Q", value), tmp_path / "r.gnvc")
        assert error.field == "index_offset"
    error = read_damaged(rewrite(fmap, at + TRAILER_AT["num_gops"], "I", 0xFFFFFFFF), tmp_path / "r.gnvc")
    assert error.field == "num_gops"
    error = read_damaged(rewrite(fmap, at + TRAILER_AT["index_offset"], "Q", 0, fix=False), tmp_path / "r.gnvc")
    assert error.field == "trailer_crc32"


def test_chunk_from_another_stream_fails_its_crc(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, path = small_file
    other = tmp_path / "other.gnvc"
    header, gops, _ = read_everything(path)
    header2 = SequenceHeader(**{**header.__dict__, "rate_index": 2})
    with GnvcWriter(other, header2) as writer:
        for gop in gops:
            writer.write_gop(gop)
    omap = map_file(other.read_bytes())
    (a, n), (b, m) = fmap.chunks[1], omap.chunks[1]
    assert n == m and fmap.data[a + 12 : a + n] == omap.data[b + 12 : b + m]  # same payload, other header
    error = read_damaged(fmap.data[:a] + omap.data[b : b + m] + fmap.data[a + n :], tmp_path / "x.gnvc")
    assert (error.field, error.gop) == ("payload_crc32", 1)


def test_file_truncated_while_open(small_file: tuple[FileMap, Path], tmp_path: Path) -> None:
    fmap, _ = small_file
    path = tmp_path / "shrinks.gnvc"
    path.write_bytes(fmap.data)
    with GnvcReader(path) as reader:
        with path.open("r+b") as f:
            f.truncate(fmap.chunks[1][0] + 5)
        assert reader.read_gop(0).index == 0
        with pytest.raises(GNVCFormatError, match="truncated while open"):
            reader.read_gop(2)
