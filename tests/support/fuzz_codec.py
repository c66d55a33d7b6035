"""Fuzz the whole decoder: mutated real ``.gnvc`` files decoded to frames, in a worker process.

``tests.support.fuzz_bitstream`` checks that the container reader rejects damage. This module goes one layer
up: every case is **fully decoded to frames** with a real model (entropy decoding, latent synthesis,
refinement as the header asks, VAE decode), in a separate worker process so that a crash of native
code (the range coder) or a hang is observed and counted instead of taking the fuzzer down.

Mutations are the container ones (truncation, bit flips, splices, field rewrites...) plus mutations
that keep the container valid, so only the codec can notice them: strings flipped, truncated,
extended, zeroed, replaced, swapped or spliced from another file; latent frames dropped or
duplicated; string counts changed; header fields rewritten to other in-range values; GOP
structures rebuilt for other frame counts.

A case must end in a clean decode or :class:`GNVCFormatError` within its time limit; any other
exception, a dead worker or a timeout is a bug.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import resource
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tests.support.fuzz_bitstream import (
    BUG_OUTCOMES,
    MUTATORS,
    CaseResult,
    CaseTimeout,
    FileMap,
    FuzzReport,
    Outcome,
    assemble,
    deadline,
    map_file,
)
from vsgnvc.bitstream import GNVCFormatError, GnvcReader, GopRecord, PixelFormatCode, RefineSettings, SequenceHeader
from vsgnvc.codec.scenecut import gop_slots, split_slot

logger = logging.getLogger(__name__)

HARD_TIMEOUT_GRACE_S = 5.0  # the parent kills a worker this long after the case's own limit
WORKER_START_TIMEOUT_S = 300.0
MAX_REBUILT_FRAMES = 64  # GOP-structure rewrites stay small so a case costs milliseconds
MAX_CONSISTENT_SIZE = 1024  # largest side of a size rewrite that also fixes the coded size


@dataclass(frozen=True)
class Seed:
    """A valid input file, mapped for the container mutators and parsed for the codec ones."""

    fmap: FileMap
    header: SequenceHeader
    gops: tuple[GopRecord, ...]


def load_seed(path: Path) -> Seed:
    with GnvcReader(path) as reader:
        return Seed(map_file(path.read_bytes()), reader.header, tuple(reader))


CodecMutator = Callable[[Seed, Sequence[Seed], random.Random], bytes]


def _pick_string(seed: Seed, rng: random.Random) -> tuple[int, int, int]:
    k = rng.randrange(len(seed.gops))
    t = rng.randrange(len(seed.gops[k].latent_frames))
    return k, t, rng.randrange(len(seed.gops[k].latent_frames[t]))


def _with_string(seed: Seed, k: int, t: int, i: int, value: bytes) -> bytes:
    frames = [list(f) for f in seed.gops[k].latent_frames]
    frames[t][i] = value
    gops = list(seed.gops)
    gops[k] = replace(gops[k], latent_frames=tuple(tuple(f) for f in frames))
    return assemble(seed.header, gops)


def _with_latents(seed: Seed, k: int, frames: Sequence[Sequence[bytes]]) -> bytes:
    gops = list(seed.gops)
    gops[k] = replace(gops[k], latent_frames=tuple(tuple(f) for f in frames))
    return assemble(seed.header, gops)


def _string_flip(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    k, t, i = _pick_string(seed, rng)
    buf = bytearray(seed.gops[k].latent_frames[t][i])
    if not buf:
        return _with_string(seed, k, t, i, rng.randbytes(1))
    for _flip in range(rng.choice([1, 1, 2, 4, 8])):
        bit = rng.randrange(8 * len(buf))
        buf[bit // 8] ^= 1 << (bit % 8)
    return _with_string(seed, k, t, i, bytes(buf))


def _string_truncate(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    k, t, i = _pick_string(seed, rng)
    s = seed.gops[k].latent_frames[t][i]
    return _with_string(seed, k, t, i, s[: rng.randrange(len(s))] if s else b"")


def _string_extend(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    k, t, i = _pick_string(seed, rng)
    extra = rng.choice(
        [b"\x00" * rng.randint(1, 64), b"\xff" * rng.randint(1, 64), rng.randbytes(rng.randint(1, 4096))]
    )
    return _with_string(seed, k, t, i, seed.gops[k].latent_frames[t][i] + extra)


def _string_replace(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """Random bytes, all zeros or all ones, of a random length (0 included)."""
    k, t, i = _pick_string(seed, rng)
    n = rng.choice([0, 1, 3, 7, 8, 9, rng.randint(1, 64), rng.randint(64, 65536)])
    value = rng.choice([bytes(n), b"\xff" * n, rng.randbytes(n)])
    return _with_string(seed, k, t, i, value)


def _string_swap(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """Swap y and z of a latent frame, or two latent frames of a GOP."""
    k = rng.randrange(len(seed.gops))
    frames = [list(f) for f in seed.gops[k].latent_frames]
    if len(frames) > 1 and rng.random() < 0.5:
        a, b = rng.sample(range(len(frames)), 2)
        frames[a], frames[b] = frames[b], frames[a]
    else:
        t = rng.randrange(len(frames))
        frames[t] = frames[t][::-1]
    return _with_latents(seed, k, frames)


def _string_splice(seed: Seed, others: Sequence[Seed], rng: random.Random) -> bytes:
    """A string, a latent frame or a whole GOP's latents from another file (another clip, rate or size)."""
    other = rng.choice(others)
    k, t, i = _pick_string(seed, rng)
    ok, ot, oi = _pick_string(other, rng)
    what = rng.random()
    if what < 0.4:
        return _with_string(seed, k, t, i, other.gops[ok].latent_frames[ot][oi])
    frames = [list(f) for f in seed.gops[k].latent_frames]
    if what < 0.7:
        frames[t] = list(other.gops[ok].latent_frames[ot])
    else:
        frames = [list(f) for f in other.gops[ok].latent_frames]
    return _with_latents(seed, k, frames)


def _latent_count(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """Drop, duplicate or add latent frames (the count then disagrees with the GOP's frames)."""
    k = rng.randrange(len(seed.gops))
    frames = [list(f) for f in seed.gops[k].latent_frames]
    t = rng.randrange(len(frames))
    if len(frames) > 1 and rng.random() < 0.5:
        del frames[t]
    else:
        frames[t:t] = [list(frames[t])] * rng.randint(1, 8)
    return _with_latents(seed, k, frames)


def _string_count(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """1 or 3..8 strings in a latent frame instead of (y, z)."""
    k, t, _i = _pick_string(seed, rng)
    frames = [list(f) for f in seed.gops[k].latent_frames]
    n = rng.choice([1, 3, 8])
    frames[t] = (frames[t] * 8)[:n]
    return _with_latents(seed, k, frames)


def _header_value(name: str, header: SequenceHeader, rng: random.Random) -> object:
    value = getattr(header, name)
    if name in ("width", "height", "coded_width", "coded_height"):
        return rng.choice([1, 2, value - 1, value + 1, value + 8, value * 2, value // 2, 16384, rng.randint(1, 16384)])
    if name == "num_frames":
        return rng.choice([1, value - 1, value + 1, MAX_REBUILT_FRAMES])
    if name == "pix_fmt":
        return rng.choice(list(PixelFormatCode))
    if name in ("color_range", "matrix", "transfer", "primaries", "rate_index"):
        return rng.choice([0, 1, 2, 255, rng.randint(0, 255)])
    if name in ("fps_num", "fps_den", "sar_num", "sar_den"):
        return rng.choice([1, 1001, 2**32 - 1, rng.randint(1, 2**32 - 1)])
    if name == "refine":
        r = header.refine
        window = rng.choice([1, 2, 3, r.window, 256])
        return RefineSettings(
            enabled=rng.random() < 0.5,
            t_start=rng.choice([5e-324, 1e-9, 0.5, r.t_start, 1 - 1e-9]),
            steps=rng.choice([1, r.steps, 100]),
            window=window,
            overlap=rng.choice([0, window - 1, min(r.overlap, window - 1)]),
            seed=rng.choice([0, 2**64 - 1, rng.getrandbits(64)]),
        )
    raise KeyError(name)


HEADER_REWRITE_FIELDS = (
    "width", "height", "coded_width", "coded_height", "pix_fmt", "color_range", "matrix", "transfer", "primaries",
    "rate_index", "fps_num", "fps_den", "sar_num", "sar_den", "refine", "num_frames",
)  # fmt: skip


def _header_rewrite(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """One header field (or width+coded width / height+coded height together) set to another valid value."""
    for _try in range(20):
        name = rng.choice(HEADER_REWRITE_FIELDS)
        changes = {name: _header_value(name, seed.header, rng)}
        if name in ("width", "height") and rng.random() < 0.5:
            # a consistent size change: the strings now describe a smaller latent than the decoder expects.
            # At most 1024 pixels, so one case stays within seconds: decoding cost follows the claimed size, and a
            # 16384x16384 header (the format limit) is a valid stream that takes minutes and gigabytes to decode.
            size = min(changes[name], MAX_CONSISTENT_SIZE)  # type: ignore[type-var]
            m = rng.choice([1, 8, 16, 32, 64])
            changes[name], changes[f"coded_{name}"] = size, -(-size // m) * m  # type: ignore[operator]
        try:
            header = replace(seed.header, **changes)
        except ValueError:
            continue
        return assemble(header, seed.gops)
    return seed.fmap.data


def _gop_structure(seed: Seed, _: Sequence[Seed], rng: random.Random) -> bytes:
    """New ``num_frames``/``gop_size`` with GOP records rebuilt to match (some split as at scene cuts), filled
    with the file's latent frames."""
    pool = [f for g in seed.gops for f in g.latent_frames]
    gop_size = rng.choice([1, 2, 4, 5, 9, 13, 25, seed.header.gop_size, rng.randint(1, MAX_REBUILT_FRAMES)])
    num_frames = rng.randint(1, MAX_REBUILT_FRAMES)
    header = replace(seed.header, gop_size=gop_size, num_frames=num_frames)
    cuts = {rng.randrange(num_frames) for _ in range(rng.choice([0, 0, 1, 3]))}
    spans = [span for slot in gop_slots(num_frames, gop_size) for span, _ in split_slot(slot, cuts)]
    gops = []
    for k, span in enumerate(spans):
        wanted = 1 + -(-(len(span) - 1) // 4) + rng.choice([0, 0, 0, -1, 1])
        frames = tuple(pool[(k + j) % len(pool)] for j in range(max(1, wanted)))
        gops.append(GopRecord(k, span.start, len(span), span.start in cuts or rng.random() < 0.3, frames))
    return assemble(header, gops)


CODEC_MUTATORS: dict[str, CodecMutator] = {
    "string_flip": _string_flip,
    "string_truncate": _string_truncate,
    "string_extend": _string_extend,
    "string_replace": _string_replace,
    "string_swap": _string_swap,
    "string_splice": _string_splice,
    "latent_count": _latent_count,
    "string_count": _string_count,
    "header_rewrite": _header_rewrite,
    "gop_structure": _gop_structure,
}


def mutate(kind: str, seed: Seed, seeds: Sequence[Seed], rng: random.Random) -> bytes:
    """One mutation of ``seed``: a container mutation (``tests.support.fuzz_bitstream.MUTATORS``) or a codec one."""
    if kind in CODEC_MUTATORS:
        return CODEC_MUTATORS[kind](seed, seeds, rng)
    return MUTATORS[kind](seed.fmap, [s.fmap for s in seeds], rng)


ALL_KINDS = tuple(sorted(MUTATORS)) + tuple(sorted(CODEC_MUTATORS))


# ---------------------------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker decodes: model folder, refinement (``None`` follows the file), torch threads, memory cap."""

    model_dir: Path
    refine: bool | None = None
    threads: int = 1
    address_space_gb: float | None = 8.0
    time_limit: float = 10.0


def decode_digest(path: Path, model: object, refine: bool | None) -> str:
    """Decode every frame of ``path`` (the calls of ``gnvc decode``, without salvaging) and hash the planes."""
    from vsgnvc.codec.decoder import Decoder

    digest = hashlib.sha256()
    with Decoder(path, model, "cpu", cache_gops=2, refine=refine) as dec:  # type: ignore[arg-type]
        count = 0
        for frame in dec.frames():
            count += 1
            for plane in frame:
                digest.update(plane.tobytes())
        if count != dec.num_frames:
            raise RuntimeError(f"decoder gave {count} frames, the header says {dec.num_frames}")
    return digest.hexdigest()


def _worker_main(config: WorkerConfig) -> None:
    """The worker's loop: a path per line on stdin, a JSON answer per line on the original stdout."""
    import warnings

    import torch

    from vsgnvc.models.bundle import GnvcModel

    # stdout carries the answers: anything else printed goes to stderr
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    torch.set_num_threads(config.threads)
    warnings.simplefilter("ignore")  # numpy cast warnings on garbage pixels are not the question here
    model = GnvcModel.from_pretrained(config.model_dir)
    if config.address_space_gb is not None:
        limit = int(config.address_space_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (max(limit, _address_space() + 2**30), resource.RLIM_INFINITY))
    channel.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        path = Path(line.rstrip("\n"))
        start = time.perf_counter()
        try:
            with deadline(config.time_limit):
                digest = decode_digest(path, model, config.refine)
            outcome, detail = "clean", digest
        except GNVCFormatError as exc:
            outcome, detail = Outcome.FORMAT_ERROR.value, str(exc)
        except CaseTimeout:
            outcome, detail = Outcome.TIMEOUT.value, f"no result within {config.time_limit} s"
        except Exception as exc:
            outcome, detail = Outcome.OTHER_ERROR.value, "".join(traceback.format_exception(exc))
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        answer = {"outcome": outcome, "detail": detail, "seconds": time.perf_counter() - start, "peak_kb": peak_kb}
        channel.write(json.dumps(answer) + "\n")


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _worker_env() -> dict[str, str]:
    """The environment of a worker: this checkout on ``PYTHONPATH``, since ``tests`` is not an installed package."""
    repo = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}


class DecodeWorker:
    """A worker process (``python -m tests.support.fuzz_codec``) that decodes files on request.

    It is restarted after a crash or a timeout; its stderr goes to ``log`` (the tail is quoted for crashes).
    """

    def __init__(self, config: WorkerConfig, log: Path) -> None:
        self.config = config
        self.log = log
        self._proc: subprocess.Popen[str] | None = None
        self.restarts = 0

    def _start(self) -> None:
        payload = json.dumps({**asdict(self.config), "model_dir": str(self.config.model_dir)})
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.fuzz_codec", payload],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1, env=_worker_env(),
            )  # fmt: skip
        self._proc = proc
        if not self._answer(WORKER_START_TIMEOUT_S):
            self._stop(kill=True)
            raise RuntimeError(f"the fuzz worker did not start; see {self.log}")

    def _answer(self, timeout: float) -> dict[str, object] | None:
        """The worker's next answer; ``{}`` when it closed its end (it died), ``None`` after ``timeout``."""
        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self._proc.stdout.readline()
        return json.loads(line) if line else {}

    def _stop(self, kill: bool) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if kill:
            proc.kill()
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        return proc.returncode

    def close(self) -> None:
        self._stop(kill=False)

    def __enter__(self) -> DecodeWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decode(self, path: Path) -> tuple[str, str, float, int]:
        """``(outcome or "clean", detail or digest, seconds, worker peak RSS in KiB)``."""
        if self._proc is None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        start = time.perf_counter()
        hard = self.config.time_limit + HARD_TIMEOUT_GRACE_S
        answer = None
        try:
            self._proc.stdin.write(f"{path}\n")
            self._proc.stdin.flush()
            answer = self._answer(hard)
        except (OSError, ValueError):
            pass
        if answer:
            return str(answer["outcome"]), str(answer["detail"]), float(answer["seconds"]), int(answer["peak_kb"])  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        hung = answer is None
        code = self._stop(kill=hung)
        self.restarts += 1
        if hung:
            return Outcome.TIMEOUT.value, f"worker killed after {hard} s without an answer", seconds, 0
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        return Outcome.CRASH.value, f"worker died with exit code {code}\n{tail}", seconds, 0


# ---------------------------------------------------------------------------------------------- driver


@dataclass
class CodecFuzzReport(FuzzReport):
    """:class:`FuzzReport` plus the worker's peak RSS and how often it was restarted."""

    peak_rss_kb: int = 0
    restarts: int = 0
    decoded_cases: int = 0  # cases that reached the decoder's frames (clean outcomes)
    seconds: float = 0.0
    kind_seconds: dict[str, float] = field(default_factory=dict)


def encode_inputs(model: object, source: Path, directory: Path) -> list[Path]:
    """Three real files from a clip of at least 13 frames: two rates and GOP layouts at 64x48, one at 48x32.

    Different rates, sizes and contents, so splices between them mix incompatible strings.
    """
    from vsgnvc.api import encode_file
    from vsgnvc.codec.encoder import EncodeSettings

    variants = [
        ("a_64x48_r1_gop5.gnvc", EncodeSettings(rate=1, gop_size=5), 9, "64x48"),
        ("b_64x48_r3_gop9.gnvc", EncodeSettings(rate=3, gop_size=9), 13, "64x48"),
        ("c_48x32_r0_gop5.gnvc", EncodeSettings(rate=0, gop_size=5), 6, "48x32"),
    ]
    out = []
    for name, settings, frames, size in variants:
        path = directory / name
        encode_file(source, path, model, settings, max_frames=frames, resize=size, device="cpu",  # type: ignore[arg-type]
                    overwrite=True, progress=False)  # fmt: skip
        out.append(path)
    return out


def run_codec_fuzz(
    inputs: Sequence[Path],
    cases: int,
    *,
    seed: int,
    scratch: Path,
    config: WorkerConfig,
    kinds: Sequence[str] = ALL_KINDS,
) -> CodecFuzzReport:
    """``cases`` seeded mutations of the valid files ``inputs``, each decoded completely in the worker."""
    seeds = [load_seed(p) for p in inputs]
    report = CodecFuzzReport()
    rng = random.Random(seed)
    start = time.perf_counter()
    with DecodeWorker(config, scratch.with_suffix(".worker.log")) as worker:
        references = []
        for p in inputs:
            outcome, digest, _, _ = worker.decode(p)
            if outcome != "clean":
                raise ValueError(f"fuzz input {p} does not decode: {digest}")
            references.append(digest)
        for _ in range(cases):
            i = rng.randrange(len(seeds))
            kind = rng.choice(list(kinds))
            data = mutate(kind, seeds[i], seeds, rng)
            scratch.unlink(missing_ok=True)
            scratch.write_bytes(data)
            outcome, detail, seconds, peak_kb = worker.decode(scratch)
            if outcome == "clean":
                report.decoded_cases += 1
                same = detail == references[i]
                result = CaseResult(kind, Outcome.CLEAN_SAME if same else Outcome.CLEAN_CHANGED, seconds, "")
            else:
                result = CaseResult(kind, Outcome(outcome), seconds, detail)
            if seconds > config.time_limit and result.outcome not in BUG_OUTCOMES:
                result = CaseResult(
                    kind, Outcome.TIMEOUT, seconds, f"took {seconds:.3f} s (limit {config.time_limit} s)"
                )
            report.add(result, data)
            report.kind_seconds[kind] = report.kind_seconds.get(kind, 0.0) + seconds
            report.peak_rss_kb = max(report.peak_rss_kb, peak_kb)
        report.restarts = worker.restarts
    report.seconds = time.perf_counter() - start
    return report


if __name__ == "__main__":
    _options = json.loads(sys.argv[1])
    _worker_main(WorkerConfig(**{**_options, "model_dir": Path(_options["model_dir"])}))
