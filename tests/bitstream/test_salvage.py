"""The salvaging reader: a damaged file gives back exactly its whole GOPs before the damage, never altered ones."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from vsgnvc.bitstream import GNVCFormatError, GnvcReader, GnvcWriter, GopRecord, RefineSettings, SequenceHeader
from tests.support.fuzz_bitstream import FileMap, map_file


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileMap, list[GopRecord]]:
    """4 GOPs of 1..4 frames (one starts at a scene cut) in a few hundred bytes."""
    header = SequenceHeader(
        width=64, height=48, coded_width=64, coded_height=48, fps_num=25, fps_den=1, num_frames=10,
        pix_fmt=0, color_range=0, matrix=1, transfer=1, primaries=1, gop_size=4, rate_index=1,
        model_name="tiny", weights_hash=bytes(range(16)), refine=RefineSettings(seed=5), encoder="t",
    )  # fmt: skip
    rng = random.Random(5)
    spans = [range(0, 4), range(4, 6), range(6, 8), range(8, 10)]
    gops = [
        GopRecord(k, s.start, len(s), s.start == 6, ((rng.randbytes(20), rng.randbytes(4)), (rng.randbytes(9),)))
        for k, s in enumerate(spans)
    ]
    path = tmp_path_factory.mktemp("salvage") / "small.gnvc"
    with GnvcWriter(path, header) as writer:
        for gop in gops:
            writer.write_gop(gop)
    return map_file(path.read_bytes()), gops


def salvage(data: bytes, scratch: Path) -> GnvcReader:
    scratch.unlink(missing_ok=True)
    scratch.write_bytes(data)
    return GnvcReader(scratch, salvage=True)


def test_an_intact_file_reads_the_same_with_and_without_salvage(small_file, tmp_path) -> None:
    fmap, gops = small_file
    with salvage(fmap.data, tmp_path / "ok.gnvc") as reader, GnvcReader(tmp_path / "ok.gnvc") as strict:
        assert reader.damage is None and list(reader) == list(strict) == gops
        assert reader.spans == strict.spans and reader.num_frames == 10
        assert [reader.gop_size_bytes(k) for k in range(4)] == [strict.gop_size_bytes(k) for k in range(4)]


def test_every_truncation_keeps_exactly_the_whole_chunks(small_file, tmp_path) -> None:
    fmap, gops = small_file
    first_chunk = fmap.chunks[0][0]
    for n in range(len(fmap.data)):
        if n < first_chunk:  # inside the preamble or header: nothing can be decoded
            with pytest.raises(GNVCFormatError):
                salvage(fmap.data[:n], tmp_path / "t.gnvc")
            continue
        whole = sum(1 for offset, size in fmap.chunks if offset + size <= n)
        with salvage(fmap.data[:n], tmp_path / "t.gnvc") as reader:
            assert list(reader) == gops[:whole], n
            assert reader.num_gops == whole and reader.num_frames == sum(g.num_frames for g in gops[:whole])
            damage = reader.damage
            assert damage is not None and (damage.gops, damage.frames, damage.total_frames) == (
                whole,
                reader.num_frames,
                10,
            )


def test_every_single_bit_flip_keeps_only_the_chunks_before_it(small_file, tmp_path) -> None:
    fmap, gops = small_file
    first_chunk = fmap.chunks[0][0]
    for bit in range(8 * len(fmap.data)):
        buf = bytearray(fmap.data)
        buf[bit // 8] ^= 1 << (bit % 8)
        byte = bit // 8
        try:
            reader = salvage(bytes(buf), tmp_path / "f.gnvc")
        except GNVCFormatError:
            assert byte < first_chunk  # only header damage stops everything
            continue
        # the chunks before the damaged byte are whole; the one holding it is lost, and so is the rest
        intact = sum(1 for offset, size in fmap.chunks if offset + size <= byte)
        with reader:
            assert reader.damage is not None, bit
            assert list(reader) == gops[:intact], bit


def test_the_damage_summary_is_one_line(small_file, tmp_path) -> None:
    fmap, _ = small_file
    offset, size = fmap.chunks[2]
    with salvage(fmap.data[: offset + size // 2], tmp_path / "cut.gnvc") as reader:
        summary = reader.damage.summary()
    assert "\n" not in summary
    assert summary.startswith(f"{tmp_path / 'cut.gnvc'} is damaged: 6 of 10 frames recovered (2 complete GOPs), ")
    assert "frames 6-9 lost; first problem: " in summary and "GOP 2" in summary and "truncated" in summary
    with salvage(fmap.data[:-1], tmp_path / "cut.gnvc") as reader:
        summary = reader.damage.summary()
    assert "all 10 frames recovered; first problem: " in summary and "end_tag" in summary


def test_a_damaged_index_loses_no_frames(small_file, tmp_path) -> None:
    fmap, gops = small_file
    buf = bytearray(fmap.data)
    buf[fmap.index_at + 9] ^= 0xFF  # inside chunk_offset[0]
    with salvage(bytes(buf), tmp_path / "i.gnvc") as reader:
        assert list(reader) == gops and reader.damage is not None
        assert reader.damage.problem.field == "index_crc32"
    with pytest.raises(GNVCFormatError, match="index CRC32 mismatch"):
        GnvcReader(tmp_path / "i.gnvc")
