"""GnvcWriter / GnvcReader on real files: round trip, sizes, random access, atomic writes."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from vsgnvc.bitstream import (
    GNVCFormatError,
    GnvcReader,
    GnvcWriter,
    GopRecord,
    PixelFormatCode,
    RefineSettings,
    SequenceHeader,
    read_header,
)
from vsgnvc.bitstream.framing import HEADER_BLOCK_OVERHEAD
from vsgnvc.bitstream.gop import grid_spans
from vsgnvc.bitstream.header import encode_header
from vsgnvc.bitstream.layout import FILE_PREAMBLE, TRAILER, index_size


def small_header(**overrides: object) -> SequenceHeader:
    values: dict[str, object] = {
        "width": 320, "height": 180, "coded_width": 320, "coded_height": 192, "fps_num": 30000, "fps_den": 1001,
        "num_frames": 23, "pix_fmt": PixelFormatCode.YUV420P10, "color_range": 1, "matrix": 9, "transfer": 16,
        "primaries": 9, "sar_num": 4, "sar_den": 3, "gop_size": 8, "rate_index": 4, "model_name": "gnvc-vd-s",
        "weights_hash": bytes.fromhex("00112233445566778899aabbccddeeff"),
        "refine": RefineSettings(enabled=True, t_start=0.65, steps=4, window=5, overlap=1, seed=2**63 + 5),
        "encoder": "vsgnvc 0.1.0 ünïcode",
    }  # fmt: skip
    values.update(overrides)
    return SequenceHeader(**values)  # type: ignore[arg-type]


def random_gops(header: SequenceHeader, seed: int, cuts: tuple[int, ...] = ()) -> list[GopRecord]:
    """GOPs of ``gop_size`` frames, with a new GOP (flagged as a scene cut) at each of ``cuts``."""
    rng = random.Random(seed)
    bounds = [*sorted({s.start for s in grid_spans(header.num_frames, header.gop_size)} | set(cuts)), header.num_frames]
    gops = []
    for k, frames in enumerate(range(a, b) for a, b in itertools.pairwise(bounds)):
        latents = tuple(
            tuple(rng.randbytes(rng.randint(0, 300)) for _ in range(rng.randint(1, 3)))
            for _ in range(1 + (len(frames) - 1) // 4 + 1)
        )
        gops.append(GopRecord(k, frames.start, len(frames), frames.start in cuts, latents))
    return gops


def write_file(path: Path, header: SequenceHeader, gops: list[GopRecord]) -> list[int]:
    with GnvcWriter(path, header) as writer:
        sizes = [writer.write_gop(g) for g in gops]
    return sizes


@pytest.fixture
def stream(tmp_path: Path) -> tuple[Path, SequenceHeader, list[GopRecord], list[int]]:
    header = small_header()
    gops = random_gops(header, seed=1, cuts=(11,))
    path = tmp_path / "out.gnvc"
    sizes = write_file(path, header, gops)
    return path, header, gops, sizes


def test_round_trip(stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]]) -> None:
    path, header, gops, _ = stream
    with GnvcReader(path) as reader:
        assert reader.header == header and reader.version == 2
        # a scene cut at 11 splits the second run of 8 frames; the last GOP is shorter
        assert reader.spans == (range(0, 8), range(8, 11), range(11, 16), range(16, 23))
        assert reader.num_gops == 4 and reader.num_frames == 23 and reader.damage is None
        assert list(reader) == gops
        assert [g.scene_cut for g in gops] == [False, False, True, False]
    assert read_header(path) == header


def test_file_size_is_exactly_the_sum_of_its_parts(
    stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]],
) -> None:
    path, header, gops, sizes = stream
    header_block = HEADER_BLOCK_OVERHEAD + len(encode_header(header))
    expected = FILE_PREAMBLE.size + header_block + sum(sizes) + index_size(len(gops)) + TRAILER.size
    assert path.stat().st_size == expected
    with GnvcReader(path) as reader:
        assert [reader.gop_size_bytes(k) for k in range(reader.num_gops)] == sizes
        assert reader.file_size == expected
    # chunk framing is 12 bytes + 13 fixed GOP bytes + per latent frame 1 count byte and 1..2 length bytes
    for gop, size in zip(gops, sizes, strict=True):
        framing = size - gop.payload_bytes
        assert 25 + 2 * len(gop.latent_frames) <= framing <= 25 + 7 * len(gop.latent_frames)


def test_random_access_equals_sequential(stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]]) -> None:
    path, _, gops, _ = stream
    reader = GnvcReader(path)
    try:
        sequential = list(reader)
        for k in [2, 0, 1, 3, 2, 0]:
            assert reader.read_gop(k) == sequential[k] == gops[k]
        with pytest.raises(IndexError):
            reader.read_gop(len(gops))
        with pytest.raises(IndexError):
            reader.gop_size_bytes(-1)
    finally:
        reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read_gop(0)


def test_concurrent_reads(stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]]) -> None:
    path, _, gops, _ = stream
    errors: list[BaseException] = []
    with GnvcReader(path) as reader:

        def work(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for _ in range(200):
                    k = rng.randrange(len(gops))
                    assert reader.read_gop(k) == gops[k]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_writes_are_deterministic(tmp_path: Path) -> None:
    header = small_header()
    gops = random_gops(header, seed=3)
    write_file(tmp_path / "a.gnvc", header, gops)
    write_file(tmp_path / "b.gnvc", header, gops)
    assert (tmp_path / "a.gnvc").read_bytes() == (tmp_path / "b.gnvc").read_bytes()


def test_single_frame_single_gop(tmp_path: Path) -> None:
    header = small_header(num_frames=1, gop_size=1, model_name="", encoder="")
    gops = [GopRecord(0, 0, 1, False, ((b"",),))]
    write_file(tmp_path / "one.gnvc", header, gops)
    with GnvcReader(tmp_path / "one.gnvc") as reader:
        assert list(reader) == gops


def test_refuses_to_overwrite(stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]]) -> None:
    path, header, _, _ = stream
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        GnvcWriter(path, header)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.gnvc"]


def test_overwrite_replaces_only_at_close(stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]]) -> None:
    path, _, _, _ = stream
    before = path.read_bytes()
    header = small_header(num_frames=5, gop_size=4)
    gops = random_gops(header, seed=9)
    writer = GnvcWriter(path, header, overwrite=True)
    writer.write_gop(gops[0])
    assert path.read_bytes() == before  # untouched while encoding
    assert writer.temp_path.parent == path.parent
    assert writer.temp_path.name.startswith(".out.gnvc.") and writer.temp_path.name.endswith(".partial")
    writer.write_gop(gops[1])
    assert writer.close() == path
    assert writer.close() == path  # idempotent
    assert not writer.temp_path.exists()
    with GnvcReader(path) as reader:
        assert list(reader) == gops
    assert writer.bytes_written == path.stat().st_size


def test_exception_inside_with_leaves_nothing(tmp_path: Path) -> None:
    header = small_header()
    gops = random_gops(header, seed=2)
    path = tmp_path / "out.gnvc"
    with pytest.raises(RuntimeError, match="encoder blew up"), GnvcWriter(path, header) as writer:
        writer.write_gop(gops[0])
        assert writer.temp_path.exists()
        raise RuntimeError("encoder blew up")
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_with_keeps_existing_file(
    stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]],
) -> None:
    path, header, gops, _ = stream
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), GnvcWriter(path, header, overwrite=True) as writer:
        writer.write_gop(gops[0])
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["out.gnvc"]


def test_close_with_missing_gops_leaves_nothing(tmp_path: Path) -> None:
    header = small_header()
    gops = random_gops(header, seed=2)
    path = tmp_path / "out.gnvc"
    writer = GnvcWriter(path, header)
    writer.write_gop(gops[0])
    writer.write_gop(gops[1])
    with pytest.raises(ValueError, match="only 16 of 23 frames"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="aborted"):
        writer.write_gop(gops[2])
    # and the same through the context manager
    with pytest.raises(ValueError, match="only 0 of 23 frames"), GnvcWriter(path, header):
        pass
    assert list(tmp_path.iterdir()) == []


def test_dropped_writer_removes_its_temp_file(tmp_path: Path) -> None:
    header = small_header()
    writer = GnvcWriter(tmp_path / "out.gnvc", header)
    temp = writer.temp_path
    assert temp.exists()
    del writer
    assert not temp.exists()


def test_gop_order_and_frame_checks(tmp_path: Path) -> None:
    header = small_header()
    gops = random_gops(header, seed=4)
    with GnvcWriter(tmp_path / "out.gnvc", header) as writer:
        with pytest.raises(ValueError, match="out of order: expected GOP 0"):
            writer.write_gop(gops[1])
        writer.write_gop(gops[0])
        with pytest.raises(ValueError, match="out of order"):
            writer.write_gop(gops[0])
        with pytest.raises(ValueError, match="GOP 1 starts at frame 9, expected frame 8"):
            writer.write_gop(GopRecord(1, 9, 7, False, ((b"x",),)))
        with pytest.raises(ValueError, match="GOP 1 has 9 frames, the header allows 8"):
            writer.write_gop(GopRecord(1, 8, 9, False, ((b"x",),)))
        with pytest.raises(TypeError):
            writer.write_gop("gop")  # type: ignore[arg-type]
        writer.write_gop(gops[1])
        with pytest.raises(ValueError, match=r"covers frames 16\.\.23, the header announces 23 frames"):
            writer.write_gop(GopRecord(2, 16, 8, False, ((b"x",),)))
        writer.write_gop(gops[2])
        with pytest.raises(ValueError, match=r"covers frames 23\.\.23, the header announces 23 frames"):
            writer.write_gop(GopRecord(3, 23, 1, False, ((b"x",),)))
    with pytest.raises(ValueError, match="closed"):
        writer.write_gop(gops[0])
    with GnvcReader(tmp_path / "out.gnvc") as reader:
        assert list(reader) == gops


def test_writer_path_errors(tmp_path: Path) -> None:
    header = small_header()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GnvcWriter(tmp_path / "missing" / "out.gnvc", header)
    with pytest.raises(IsADirectoryError):
        GnvcWriter(tmp_path, header, overwrite=True)
    with pytest.raises(TypeError):
        GnvcWriter(tmp_path / "x.gnvc", {"width": 3})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_reader_rejects_non_gnvc_inputs(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a video\n" * 10)
    with pytest.raises(GNVCFormatError, match=r"not a \.gnvc file"):
        GnvcReader(text)
    empty = tmp_path / "empty.gnvc"
    empty.write_bytes(b"")
    with pytest.raises(GNVCFormatError, match="too small"):
        GnvcReader(empty)
    with pytest.raises(GNVCFormatError, match="not a regular file"):
        GnvcReader(tmp_path)
    with pytest.raises(FileNotFoundError):
        GnvcReader(tmp_path / "absent.gnvc")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_reader_does_not_block_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gnvc"
    os.mkfifo(fifo)
    with pytest.raises(GNVCFormatError, match="not a regular file"):
        GnvcReader(fifo)


@pytest.mark.parametrize("version", [1, 3])  # 1: compressai's range coder (docs/bitstream.md, Versioning)
def test_other_versions_are_refused(
    stream: tuple[Path, SequenceHeader, list[GopRecord], list[int]], version: int
) -> None:
    path, _, _, _ = stream
    data = bytearray(path.read_bytes())
    data[4] = 3
    path.write_bytes(bytes(data))
    with pytest.raises(GNVCFormatError, match="unsupported format version 3; this reader supports 1, 2") as info:
        GnvcReader(path)
    assert info.value.field == "version" and info.value.offset == 4


def test_bitstream_imports_no_torch_and_no_other_vsgnvc_package() -> None:
    code = (
        "import sys, vsgnvc.bitstream, tests.support.fuzz_bitstream\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'numpy', 'diffusers', 'compressai'}\n"
        "             or (m.startswith('vsgnvc.') and not m.startswith(('vsgnvc.bitstream', 'vsgnvc._version'))))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    checkout = Path(__file__).resolve().parents[2]  # tests.support is importable from there
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=checkout)
    assert result.returncode == 0, result.stdout + result.stderr


def test_format_error_survives_pickling() -> None:
    import pickle

    error = GNVCFormatError("chunk CRC32 mismatch", path=Path("a.gnvc"), offset=12, gop=3, field="payload_crc32")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, GNVCFormatError) and isinstance(copy, ValueError)
    assert (str(copy), copy.offset, copy.gop, copy.field) == (str(error), 12, 3, "payload_crc32")
    assert str(error) == "a.gnvc: chunk CRC32 mismatch (GOP 3, field payload_crc32, byte 12)"
