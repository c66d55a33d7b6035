"""A structure-aware fuzzer for the ``.gnvc`` reader (test tooling: used by ``tests/`` and ``benchmarks/``).

Each case mutates a valid file (truncation, bit flips, byte runs, insertions, deletions, chunks
spliced from another file or swapped, tails of another file, structural fields rewritten to absurd
values with or without recomputed CRC32s), writes it to a scratch path, and reads it back
completely. The only acceptable outcomes are a clean read and :class:`GNVCFormatError`; anything
else, or a case that runs past its time limit, is a reader bug. Each case is also read by the
salvaging reader, which must keep only GOPs identical to the original's first GOPs (unless the
mutation could forge valid data: a rewritten field with recomputed CRC32s, or chunks of a file whose
header is byte-identical).
"""

from __future__ import annotations

import logging
import random
import signal
import struct
import threading
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import FrameType

from vsgnvc.bitstream.container import GnvcReader, GnvcWriter, read_header
from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.framing import (
    encode_chunk,
    encode_header_block,
    encode_index,
    encode_preamble,
    encode_trailer,
)
from vsgnvc.bitstream.gop import GopRecord, encode_gop_payload
from vsgnvc.bitstream.header import (
    HEADER_FIXED_FIELDS,
    HEADER_TEXT_FIELDS,
    PixelFormatCode,
    RefineSettings,
    SequenceHeader,
    encode_header,
)
from vsgnvc.bitstream.layout import (
    CHUNK_AT,
    CHUNK_HEADER,
    CRC32,
    FILE_PREAMBLE,
    GOP_FIXED_FIELDS,
    HEADER_LENGTH,
    INDEX_ENTRY,
    INDEX_ENTRY_V1,
    INDEX_HEADER,
    NUM_STRINGS,
    TRAILER,
    TRAILER_AT,
    TRAILER_CRC_SPAN,
    WEIGHTS_HASH_BYTES,
)
from vsgnvc.bitstream.varint import decode_uvarint

logger = logging.getLogger(__name__)

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


class Outcome(StrEnum):
    """What reading one mutated file did."""

    CLEAN_SAME = "clean_same"  # read completely, identical to the original
    CLEAN_CHANGED = "clean_changed"  # read completely, different content (a mutation no check can see)
    FORMAT_ERROR = "format_error"  # GNVCFormatError: the expected rejection
    OTHER_ERROR = "other_error"  # any other exception: a reader bug
    TIMEOUT = "timeout"  # past the per-case time limit: a reader bug
    CRASH = "crash"  # the process reading the file died (only seen when cases run in a worker process)


BUG_OUTCOMES = frozenset({Outcome.OTHER_ERROR, Outcome.TIMEOUT, Outcome.CRASH})


@dataclass(frozen=True)
class FileMap:
    """Where the fields of one *valid* file are; built by :func:`map_file`."""

    data: bytes
    header_payload_at: int
    header_length: int
    header_fields: dict[str, tuple[int, struct.Struct]]
    text_length_at: tuple[int, ...]
    chunks: tuple[tuple[int, int], ...]  # (offset, size) per GOP
    index_at: int
    trailer_at: int

    @property
    def header_crc_at(self) -> int:
        return self.header_payload_at + self.header_length


def map_file(data: bytes) -> FileMap:
    """Locate every structural field of a valid file (no checks: the input must be valid)."""
    (length,) = HEADER_LENGTH.unpack_from(data, FILE_PREAMBLE.size)
    payload_at = FILE_PREAMBLE.size + HEADER_LENGTH.size
    fields, pos = {}, payload_at
    for name, fmt in HEADER_FIXED_FIELDS:
        fields[name] = (pos, fmt)
        pos += fmt.size
    text_at = []
    for _ in HEADER_TEXT_FIELDS:
        text_at.append(pos)
        n, pos = decode_uvarint(data, pos, len(data))
        pos += n
    trailer_at = len(data) - TRAILER.size
    index_at, num_gops, _, _ = TRAILER.unpack_from(data, trailer_at)
    offsets = [
        INDEX_ENTRY.unpack_from(data, index_at + INDEX_HEADER.size + k * INDEX_ENTRY.size)[0] for k in range(num_gops)
    ]
    bounds = [*offsets, index_at]
    chunks = tuple((bounds[k], bounds[k + 1] - bounds[k]) for k in range(num_gops))
    return FileMap(data, payload_at, length, fields, tuple(text_at), chunks, index_at, trailer_at)


def fix_crcs(buf: bytearray, fmap: FileMap) -> None:
    """Recompute every CRC32 at the positions of the original layout (after a same-size mutation)."""
    at, n = fmap.header_payload_at, fmap.header_length
    header_crc = zlib.crc32(buf[at : at + n])
    CRC32.pack_into(buf, at + n, header_crc)
    for offset, size in fmap.chunks:
        payload = buf[offset + CHUNK_HEADER.size : offset + size]
        CRC32.pack_into(buf, offset + CHUNK_AT["payload_crc32"], zlib.crc32(payload, header_crc))
    body_end = fmap.trailer_at - CRC32.size
    CRC32.pack_into(buf, body_end, zlib.crc32(buf[fmap.index_at : body_end], header_crc))
    head = buf[fmap.trailer_at : fmap.trailer_at + TRAILER_CRC_SPAN]
    CRC32.pack_into(buf, fmap.trailer_at + TRAILER_AT["trailer_crc32"], zlib.crc32(head, header_crc))


@dataclass(frozen=True)
class IntField:
    """A structural integer field of a file: where it is and how wide."""

    name: str
    offset: int
    fmt: struct.Struct


def structural_fields(fmap: FileMap) -> list[IntField]:
    """Every length, count, offset and fixed header/GOP field of a valid file."""
    out = [IntField("header_length", FILE_PREAMBLE.size, HEADER_LENGTH)]
    out += [IntField(n, o, f) for n, (o, f) in fmap.header_fields.items() if n != "weights_hash"]
    out += [IntField(f"text_length[{i}]", o, struct.Struct("<B")) for i, o in enumerate(fmap.text_length_at)]
    for k, (offset, _) in enumerate(fmap.chunks):
        out.append(IntField(f"payload_length[{k}]", offset + CHUNK_AT["payload_length"], U32))
        pos = offset + CHUNK_HEADER.size
        for name, fmt in GOP_FIXED_FIELDS:
            out.append(IntField(f"{name}[{k}]", pos, fmt))
            pos += fmt.size
        out.append(IntField(f"num_strings[{k}][0]", pos, NUM_STRINGS))
        out.append(IntField(f"string_length[{k}][0][0]", pos + NUM_STRINGS.size, struct.Struct("<B")))
    out.append(IntField("num_entries", fmap.index_at + INDEX_HEADER.size - U32.size, U32))
    for k in range(len(fmap.chunks)):
        entry_at = fmap.index_at + INDEX_HEADER.size + k * INDEX_ENTRY.size
        out.append(IntField(f"chunk_offset[{k}]", entry_at, U64))
        out.append(IntField(f"first_frame[{k}]", entry_at + INDEX_ENTRY_V1.size, U32))
    out.append(IntField("index_offset", fmap.trailer_at + TRAILER_AT["index_offset"], U64))
    out.append(IntField("trailer_num_gops", fmap.trailer_at + TRAILER_AT["num_gops"], U32))
    return out


def absurd_values(fmt: struct.Struct, original: object, rng: random.Random) -> object:
    """A value chosen to break range checks: 0, 1, the maximum, +-1, 2**31, NaN/inf for floats."""
    if fmt.format.endswith("d"):
        return rng.choice([float("nan"), float("inf"), -1.0, 0.0, 1.0, 1e308, -0.0, 5e-324])
    top = (1 << (8 * fmt.size)) - 1
    assert isinstance(original, int)
    choices = [0, 1, top, top - 1, (original + 1) & top, (original - 1) & top, rng.randint(0, top)]
    if fmt.size >= 4:
        choices += [1 << 31, 100_000, 1 << (8 * fmt.size - 1)]
    return rng.choice(choices)


Mutator = Callable[[FileMap, Sequence[FileMap], random.Random], bytes]


def _truncate(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    return f.data[: rng.randrange(len(f.data))]


def _bitflip(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    buf = bytearray(f.data)
    bit = rng.randrange(8 * len(buf))
    buf[bit // 8] ^= 1 << (bit % 8)
    return bytes(buf)


def _multiflip(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    buf = bytearray(f.data)
    for _flip in range(rng.randint(2, 16)):
        bit = rng.randrange(8 * len(buf))
        buf[bit // 8] ^= 1 << (bit % 8)
    return bytes(buf)


def _overwrite(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    buf = bytearray(f.data)
    n = rng.randint(1, 8)
    at = rng.randrange(len(buf) - n + 1)
    buf[at : at + n] = rng.randbytes(n)
    return bytes(buf)


def _insert(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    at = rng.randrange(len(f.data) + 1)
    return f.data[:at] + rng.randbytes(rng.randint(1, 16)) + f.data[at:]


def _delete(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    n = rng.randint(1, 16)
    at = rng.randrange(len(f.data) - n)
    return f.data[:at] + f.data[at + n :]


def _append(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    return f.data + rng.randbytes(rng.randint(1, 64))


def _splice_chunk(f: FileMap, others: Sequence[FileMap], rng: random.Random) -> bytes:
    """Replace GOP k's chunk by a chunk of another file (the index is left as it was)."""
    g = rng.choice(others)
    k = rng.randrange(len(f.chunks))
    j = k if rng.random() < 0.5 and k < len(g.chunks) else rng.randrange(len(g.chunks))
    (a, n), (b, m) = f.chunks[k], g.chunks[j]
    return f.data[:a] + g.data[b : b + m] + f.data[a + n :]


def _swap_chunks(f: FileMap, _: Sequence[FileMap], rng: random.Random) -> bytes:
    if len(f.chunks) < 2:
        return _splice_chunk(f, [f], rng)
    i, j = sorted(rng.sample(range(len(f.chunks)), 2))
    (a, n), (b, m) = f.chunks[i], f.chunks[j]
    d = f.data
    return d[:a] + d[b : b + m] + d[a + n : b] + d[a : a + n] + d[b + m :]


def _splice_tail(f: FileMap, others: Sequence[FileMap], rng: random.Random) -> bytes:
    g = rng.choice(others)
    return f.data[: rng.randrange(len(f.data))] + g.data[rng.randrange(len(g.data)) :]


def _rewrite_field(f: FileMap, _: Sequence[FileMap], rng: random.Random, *, fix: bool | None = None) -> bytes:
    buf = bytearray(f.data)
    fld = rng.choice(structural_fields(f))
    (original,) = fld.fmt.unpack_from(buf, fld.offset)
    fld.fmt.pack_into(buf, fld.offset, absurd_values(fld.fmt, original, rng))
    if fix if fix is not None else rng.random() < 0.7:
        fix_crcs(buf, f)
    return bytes(buf)


MUTATORS: dict[str, Mutator] = {
    "truncate": _truncate,
    "bitflip": _bitflip,
    "multiflip": _multiflip,
    "overwrite": _overwrite,
    "insert": _insert,
    "delete": _delete,
    "append": _append,
    "splice_chunk": _splice_chunk,
    "swap_chunks": _swap_chunks,
    "splice_tail": _splice_tail,
    "rewrite_field": _rewrite_field,
}

DETERMINISTIC_REJECTS = frozenset({"truncate", "bitflip", "insert", "delete", "append"})
"""Mutations the format must always reject (size changes, single-bit errors under a CRC32)."""


class CaseTimeout(BaseException):
    """Raised by the timer signal; a BaseException so no ``except Exception`` can swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise CaseTimeout


def read_everything(path: Path) -> tuple[SequenceHeader, list[GopRecord], list[int]]:
    """Everything a decoder would read: header, every GOP, and the per-GOP sizes."""
    read_header(path)
    with GnvcReader(path) as reader:
        sizes = [reader.gop_size_bytes(k) for k in range(reader.num_gops)]
        return reader.header, list(reader), sizes


FORGING_KINDS = frozenset({"rewrite_field", "splice_chunk", "splice_tail"})
"""Mutations that can produce valid data differing from the original (recomputed CRC32s, or chunks from
a file with a byte-identical header); only these may make the salvaging reader keep changed GOPs."""


def salvaged_gops(path: Path) -> tuple[SequenceHeader, list[GopRecord]] | None:
    """The header and GOPs the salvaging reader keeps, or ``None`` when the header itself is damaged."""
    try:
        reader = GnvcReader(path, salvage=True)
    except GNVCFormatError:
        return None
    with reader:
        return reader.header, list(reader)


def salvage_problem(
    kind: str,
    salvaged: tuple[SequenceHeader, list[GopRecord]] | None,
    reference: tuple[SequenceHeader, list[GopRecord]],
) -> str:
    """Why what the salvaging reader kept is wrong ("" when it is right): it must be the original's first GOPs."""
    if salvaged is None or kind in FORGING_KINDS:
        return ""
    header, gops = salvaged
    if header != reference[0]:
        return "salvage kept a header that differs from the original"
    if gops != reference[1][: len(gops)]:
        return f"salvage kept {len(gops)} GOPs that differ from the original's first {len(gops)}"
    return ""


@dataclass(frozen=True)
class CaseResult:
    kind: str
    outcome: Outcome
    seconds: float
    detail: str
    salvaged_gops: int = 0  # GOPs the salvaging reader kept


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``CaseTimeout`` after ``seconds`` (main thread on POSIX only; elsewhere a no-op).

    An outer SIGALRM timer (pytest-timeout's, for one) is suspended and then resumed with the
    time it had left, so nesting this inside such a timer does not cancel it.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    start = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:
            left = max(previous_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def run_case(
    data: bytes, kind: str, scratch: Path, reference: tuple[SequenceHeader, list[GopRecord]], time_limit: float
) -> CaseResult:
    """Write ``data`` to ``scratch``, read it completely, classify what happened."""
    # a fresh inode: truncating a file in place makes ext4 flush it first (auto_da_alloc), ~3 ms a case
    scratch.unlink(missing_ok=True)
    scratch.write_bytes(data)
    start = time.perf_counter()
    salvaged_count = 0
    try:
        with deadline(time_limit):
            try:
                header, gops, _ = read_everything(scratch)
                same = (header, gops) == reference
                outcome, detail = (Outcome.CLEAN_SAME if same else Outcome.CLEAN_CHANGED), ""
            except GNVCFormatError as exc:
                outcome, detail = Outcome.FORMAT_ERROR, str(exc)
            salvaged = salvaged_gops(scratch)
        salvaged_count = 0 if salvaged is None else len(salvaged[1])
        problem = salvage_problem(kind, salvaged, reference)
        if problem:
            outcome, detail = Outcome.OTHER_ERROR, problem
    except CaseTimeout:
        outcome, detail = Outcome.TIMEOUT, f"no result within {time_limit} s"
    except Exception as exc:
        outcome, detail = Outcome.OTHER_ERROR, "".join(traceback.format_exception(exc))
    seconds = time.perf_counter() - start
    if seconds > time_limit and outcome not in BUG_OUTCOMES:
        outcome, detail = Outcome.TIMEOUT, f"took {seconds:.3f} s (limit {time_limit} s)"
    return CaseResult(kind, outcome, seconds, detail, salvaged_count)


@dataclass
class FuzzReport:
    """Counts per outcome (and per mutation kind), the slowest case, and the bug cases.

    ``salvaged`` counts, per mutation kind, the rejected files from which the salvaging reader still kept GOPs.
    """

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    by_kind: dict[str, Counter[Outcome]] = field(default_factory=dict)
    salvaged: Counter[str] = field(default_factory=Counter)
    slowest: CaseResult | None = None
    bugs: list[tuple[CaseResult, bytes]] = field(default_factory=list)
    cases: int = 0

    def add(self, result: CaseResult, data: bytes) -> None:
        self.cases += 1
        self.outcomes[result.outcome] += 1
        self.by_kind.setdefault(result.kind, Counter())[result.outcome] += 1
        if result.outcome == Outcome.FORMAT_ERROR and result.salvaged_gops:
            self.salvaged[result.kind] += 1
        if self.slowest is None or result.seconds > self.slowest.seconds:
            self.slowest = result
        if result.outcome in BUG_OUTCOMES:
            self.bugs.append((result, data))

    def log_summary(self, log: logging.Logger) -> None:
        """Counts per outcome and per mutation kind, the slowest case and the first bugs, one line each."""
        for outcome in Outcome:
            log.info("  %-14s %6d", outcome.value, self.outcomes[outcome])
        log.info("per mutation kind:")
        for kind, counts in sorted(self.by_kind.items()):
            log.info("  %-16s %s", kind, ", ".join(f"{o.value}={counts[o]}" for o in Outcome if counts[o]))
        if self.slowest is not None:
            slowest = self.slowest
            log.info("slowest case: %.4f s (%s, %s)", slowest.seconds, slowest.kind, slowest.outcome.value)
        for result, _ in self.bugs[:5]:
            log.error("BUG [%s] %s: %s", result.kind, result.outcome.value, result.detail[-3000:])

    def counts(self) -> dict[str, object]:
        """The report's numbers as JSON-ready data (the benchmarks add their own settings)."""
        return {
            "cases": self.cases,
            "outcomes": {o.value: self.outcomes[o] for o in Outcome},
            "by_kind": {k: {o.value: c[o] for o in Outcome} for k, c in sorted(self.by_kind.items())},
            "salvaged_by_kind": dict(sorted(self.salvaged.items())),
            "slowest_case_s": self.slowest.seconds if self.slowest else None,
            "bugs": len(self.bugs),
        }

    def save_bugs(self, folder: Path) -> None:
        """Write each bug case's input as ``bugNNNN_<kind>.gnvc`` (to replay it)."""
        if self.bugs:
            folder.mkdir(parents=True, exist_ok=True)
            for i, (result, data) in enumerate(self.bugs):
                (folder / f"bug{i:04d}_{result.kind}.gnvc").write_bytes(data)


def run_fuzz(files: Sequence[bytes], cases: int, *, seed: int, scratch: Path, time_limit: float = 1.0) -> FuzzReport:
    """Run ``cases`` seeded mutations over valid ``files`` (at least one)."""
    maps = [map_file(d) for d in files]
    references = []
    for i, fmap in enumerate(maps):
        scratch.unlink(missing_ok=True)
        scratch.write_bytes(fmap.data)
        header, gops, _ = read_everything(scratch)  # the inputs must be valid
        references.append((header, gops))
        logger.debug("fuzz input %d: %d bytes, %d GOPs", i, len(fmap.data), len(gops))
    rng = random.Random(seed)
    kinds = sorted(MUTATORS)
    report = FuzzReport()
    for _ in range(cases):
        i = rng.randrange(len(maps))
        kind = rng.choice(kinds)
        data = MUTATORS[kind](maps[i], maps, rng)
        report.add(run_case(data, kind, scratch, references[i], time_limit), data)
    return report


def synthetic_header(rng: random.Random, **overrides: object) -> SequenceHeader:
    """A small but varied valid header."""
    gop_size = rng.choice([1, 3, 5, 8, 25])
    values: dict[str, object] = {
        "width": rng.choice([64, 320, 1920]),
        "height": rng.choice([48, 180, 1080]),
        "fps_num": rng.choice([25, 30000, 24]),
        "fps_den": rng.choice([1, 1001]),
        "num_frames": gop_size * rng.randint(1, 4) - rng.randint(0, gop_size - 1),
        "pix_fmt": rng.choice(list(PixelFormatCode)),
        "color_range": rng.randint(0, 1),
        "matrix": rng.choice([1, 2, 6, 9]),
        "transfer": rng.choice([1, 2, 16]),
        "primaries": rng.choice([1, 2, 9]),
        "sar_num": rng.randint(1, 40),
        "sar_den": rng.randint(1, 33),
        "gop_size": gop_size,
        "rate_index": rng.randint(0, 255),
        "model_name": rng.choice(["gnvc-vd-s", "wan2.1-latent", ""]),
        "weights_hash": rng.randbytes(WEIGHTS_HASH_BYTES),
        "refine": RefineSettings(
            enabled=rng.random() < 0.8,
            t_start=rng.uniform(0.05, 0.95),
            steps=rng.randint(1, 100),
            seed=rng.getrandbits(64),
        ),
        "encoder": "vsgnvc 0.1.0",
    }
    values.update(overrides)
    w, h = values["width"], values["height"]
    assert isinstance(w, int) and isinstance(h, int)
    values.setdefault("coded_width", -(-w // 16) * 16)
    values.setdefault("coded_height", -(-h // 16) * 16)
    return SequenceHeader(**values)  # type: ignore[arg-type]


def synthetic_gops(
    header: SequenceHeader, rng: random.Random, *, max_string: int = 48, fixed_shape: bool = False
) -> list[GopRecord]:
    """Random payloads: 1..4 latent frames of 1..3 strings, some empty; GOPs of ``gop_size`` frames or
    fewer (as at scene cuts).

    With ``fixed_shape`` every GOP has ``gop_size`` frames (the last one fewer) and 2 latent frames of two
    ``max_string``-byte strings, so chunks of two such files are interchangeable in size.
    """
    gops = []
    latents: tuple[tuple[bytes, ...], ...]
    spans: list[range] = []
    while not spans or spans[-1].stop < header.num_frames:
        start = spans[-1].stop if spans else 0
        length = header.gop_size if fixed_shape or rng.random() < 0.5 else rng.randint(1, header.gop_size)
        spans.append(range(start, min(start + length, header.num_frames)))
    for k, frames in enumerate(spans):
        if fixed_shape:
            latents = tuple((rng.randbytes(max_string), rng.randbytes(max_string)) for _ in range(2))
        else:
            latents = tuple(
                tuple(rng.randbytes(rng.choice([0, 1, rng.randint(2, max_string)])) for _ in range(rng.randint(1, 3)))
                for _ in range(rng.randint(1, 4))
            )
        gops.append(GopRecord(k, frames.start, len(frames), rng.random() < 0.3, latents))
    return gops


def assemble(header: SequenceHeader, gops: Sequence[GopRecord]) -> bytes:
    """The bytes of a file with valid framing and CRCs, whatever the GOPs hold (they may disagree with the header).

    Used to build mutations that only the layers above the container can reject.
    """
    block, header_crc = encode_header_block(encode_header(header))
    parts = [encode_preamble(), block]
    size, offsets = len(parts[0]) + len(block), []
    for gop in gops:
        chunk = encode_chunk(encode_gop_payload(gop), header_crc)
        offsets.append(size)
        parts.append(chunk)
        size += len(chunk)
    parts.append(encode_index(offsets, [gop.first_frame for gop in gops], header_crc))
    parts.append(encode_trailer(size, len(offsets), header_crc))
    return b"".join(parts)


def write_synthetic(path: Path, header: SequenceHeader, gops: Sequence[GopRecord]) -> Path:
    with GnvcWriter(path, header, overwrite=True) as writer:
        for gop in gops:
            writer.write_gop(gop)
    return path


def synthetic_files(directory: Path, seed: int, count: int = 4) -> list[Path]:
    """``count`` varied valid files, plus two whose headers are byte-identical (splices between them can read clean)."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        header = synthetic_header(rng)
        paths.append(write_synthetic(directory / f"synthetic{i}.gnvc", header, synthetic_gops(header, rng)))
    twin = synthetic_header(rng, gop_size=4, num_frames=10)
    for i in range(2):
        gops = synthetic_gops(twin, rng, max_string=12, fixed_shape=True)
        paths.append(write_synthetic(directory / f"twin{i}.gnvc", twin, gops))
    return paths
