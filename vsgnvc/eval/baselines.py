"""Encode a clip with the traditional baselines, decode it back, and match a target bit rate.

* :func:`encode` codes a y4m clip GOP by GOP (see :mod:`vsgnvc.eval.encoders` for the settings and for why
  GOPs are separate segments) and measures rate on the bytes written.
* :func:`decode` turns a bitstream back into 8-bit 4:2:0 frames of the source size, with
  ``setpts=PTS-STARTPTS``, passthrough timing (no frame dropped or duplicated) and a frame-count check.
* :func:`match_bitrate` searches the encoder's quality knob so the *achieved* bpp lands within ``tol`` of a
  target: integer bisection over the whole knob range, then fractional bisection for encoders that accept
  fractional CRF. When the target is out of reach the closest encode is returned with the reason.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import resource
import tempfile
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ffmpeg_bridge.video import Frame
from ffmpeg_bridge.y4m import write_y4m
from vsgnvc.eval._ffmpeg import has_encoder, probe_video, run_ffmpeg
from vsgnvc.eval.clips import Clip
from vsgnvc.eval.encoders import EncoderSpec, get_encoder
from vsgnvc.eval.errors import EvalError
from vsgnvc.eval.frames import load_y4m, save_y4m, to_8bit
from vsgnvc.eval.metrics import bits_per_pixel

logger = logging.getLogger(__name__)

DEFAULT_GOP = 25
"""Frames per GOP (intra period), as in the GNVC-VD protocol (25/25/25/21 for 96 frames)."""


@dataclass(frozen=True)
class EncodeResult:
    """One real encode.

    :param encoder: baseline name.
    :param q: quality knob value (CRF or QP, see :class:`~vsgnvc.eval.encoders.EncoderSpec`).
    :param gop: GOP length in frames.
    :param command: ffmpeg arguments of the first segment (the others differ only in input and output).
    :param num_bytes: size of the bitstream file.
    :param bpp: ``8 * num_bytes / (width * height * frames)``.
    :param width: frame width.
    :param height: frame height.
    :param frames: frames coded.
    :param fps: frame rate of the source.
    :param bitstream: the elementary stream file.
    :param encode_seconds: wall time of the encoder processes (includes waiting for a busy CPU).
    :param encode_cpu_seconds: user + system CPU time of the encoder processes (less sensitive to load).
    :param decoded: 8-bit y4m of the decoded frames, once :func:`decode_result` has run.
    """

    encoder: str
    q: float
    gop: int
    command: tuple[str, ...]
    num_bytes: int
    bpp: float
    width: int
    height: int
    frames: int
    fps: Fraction
    bitstream: Path
    encode_seconds: float
    encode_cpu_seconds: float
    decoded: Path | None = None

    def load_decoded(self) -> list[Frame]:
        """Decoded ``(Y, U, V)`` frames; raises if the result was never decoded."""
        if self.decoded is None:
            raise ValueError(f"{self.encoder} q={self.q}: this result has not been decoded")
        return load_y4m(self.decoded)[1]


def _check_available(spec: EncoderSpec) -> None:
    if not has_encoder(spec.library):
        raise EvalError(f"{spec.name}: the ffmpeg binary has no {spec.library} encoder")


def _source(clip: Path | Clip, workdir: Path) -> Path:
    if isinstance(clip, Clip):
        return clip.to_y4m(workdir / f"{clip.name}.y4m")
    path = Path(clip)
    if not path.is_file():
        raise ValueError(f"source clip not found: {path}")
    return path


def _digest(path: Path) -> str:
    """Content hash of a source file: names outputs and keys the cache, so rewriting a file is harmless."""
    return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()


def _workdir(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="vsgnvc-baselines-"))
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def encode(
    encoder: str | EncoderSpec,
    clip: Path | Clip,
    q: float,
    *,
    gop: int = DEFAULT_GOP,
    workdir: Path | None = None,
    decode: bool = False,
) -> EncodeResult:
    """Encode ``clip`` with one baseline at quality knob ``q``.

    :param encoder: ``"x264"``, ``"x265"``, ``"svtav1"``, ``"vvenc"`` or an :class:`EncoderSpec`.
    :param clip: 8-bit 4:2:0 y4m file (or an in-memory :class:`~vsgnvc.eval.clips.Clip`, written to
        ``workdir`` first).
    :param q: CRF/QP value inside the encoder's range.
    :param gop: GOP length; each GOP starts with an intra frame and references nothing before it.
    :param workdir: where the bitstream goes (a new temporary folder when ``None``; the caller owns it).
    :param decode: also decode and attach the decoded y4m (:attr:`EncodeResult.decoded`).
    :raises ValueError: bad arguments or input.
    :raises EvalError: the encoder is missing or ffmpeg fails.
    """
    spec = get_encoder(encoder)
    if gop < 1:
        raise ValueError(f"{spec.name}: gop must be >= 1, got {gop}")
    qstr = spec.format_q(q)
    _check_available(spec)
    workdir = _workdir(workdir)
    source = _source(clip, workdir)
    info, frames = load_y4m(source)
    n, height, width, fps = len(frames), info.height, info.width, info.fps
    out = workdir / f"{source.stem}-{_digest(source)}.{spec.name}.q{qstr}.g{gop}{spec.suffix}"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    chunks: list[bytes] = []
    command: tuple[str, ...] = ()
    seconds = 0.0
    cpu_seconds = 0.0
    for start in range(0, n, gop):
        segment = frames[start : start + gop]
        args = ["-f", "yuv4mpegpipe", "-i", "pipe:0", "-map", "0:v:0", "-an", "-sn", "-dn"]
        args += spec.args(float(qstr), gop)
        args += ["-fps_mode", "passthrough", "-f", spec.muxer, "-y", str(tmp)]
        command = command or tuple(args)
        stdin = io.BytesIO()
        write_y4m(stdin, info, segment)
        usage0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        run_ffmpeg(args, what=f"{spec.name} encode", stdin=stdin.getvalue())
        seconds += time.perf_counter() - t0
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds += (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        data = tmp.read_bytes()
        if not data:
            raise EvalError(f"{spec.name} encode: empty bitstream for frames {start}-{start + len(segment) - 1}")
        chunks.append(data)
    tmp.write_bytes(b"".join(chunks))
    os.replace(tmp, out)
    num_bytes = out.stat().st_size
    result = EncodeResult(
        encoder=spec.name,
        q=float(qstr),
        gop=gop,
        command=command,
        num_bytes=num_bytes,
        bpp=bits_per_pixel(num_bytes, width, height, n),
        width=width,
        height=height,
        frames=n,
        fps=Fraction(fps),
        bitstream=out,
        encode_seconds=seconds,
        encode_cpu_seconds=cpu_seconds,
    )
    logger.info("%s q=%s: %d bytes, %.4f bpp, %.1f s", spec.name, qstr, num_bytes, result.bpp, seconds)
    return decode_result(result) if decode else result


def decode(bitstream: Path, *, width: int, height: int, frames: int) -> list[Frame]:
    """Decode an elementary stream to 8-bit 4:2:0 frames and check size and frame count.

    10-bit streams are mapped to 8 bits with :func:`~vsgnvc.eval.frames.to_8bit`.

    :raises EvalError: on a decode failure, a size or pixel-format surprise, or a wrong frame count.
    """
    bitstream = Path(bitstream)
    info = probe_video(bitstream, what="decode")
    if (info.width, info.height) != (width, height):
        raise EvalError(f"decode: {bitstream.name} is {info.width}x{info.height}, expected {width}x{height}")
    if info.pix_fmt not in ("yuv420p", "yuv420p10le"):
        raise EvalError(f"decode: {bitstream.name} decodes to {info.pix_fmt}, expected yuv420p or yuv420p10le")
    ten_bit = info.pix_fmt == "yuv420p10le"
    proc = run_ffmpeg(
        [
            *("-i", str(bitstream), "-map", "0:v:0", "-vf", "setpts=PTS-STARTPTS", "-fps_mode", "passthrough"),
            *("-f", "rawvideo", "-pix_fmt", info.pix_fmt, "pipe:1"),
        ],
        what="decode",
    )
    dtype = np.dtype("<u2") if ten_bit else np.dtype(np.uint8)
    luma, chroma = width * height, (width // 2) * (height // 2)
    frame_bytes = (luma + 2 * chroma) * dtype.itemsize
    got, rest = divmod(len(proc.stdout), frame_bytes)
    if rest or got != frames:
        raise EvalError(f"decode: {bitstream.name} gave {len(proc.stdout) / frame_bytes:g} frames, expected {frames}")
    raw = np.frombuffer(proc.stdout, dtype).reshape(frames, luma + 2 * chroma)
    as_8bit = to_8bit if ten_bit else np.copy
    return [
        (
            as_8bit(row[:luma].reshape(height, width)),
            as_8bit(row[luma : luma + chroma].reshape(height // 2, width // 2)),
            as_8bit(row[luma + chroma :].reshape(height // 2, width // 2)),
        )
        for row in raw
    ]


def decode_result(result: EncodeResult) -> EncodeResult:
    """Decode ``result``'s bitstream to ``<bitstream>.decoded.y4m`` and return the result with that path."""
    frames = decode(result.bitstream, width=result.width, height=result.height, frames=result.frames)
    path = save_y4m(result.bitstream.with_name(result.bitstream.name + ".decoded.y4m"), frames, result.fps)
    return replace(result, decoded=path)


class EncodeCache:
    """Remembers encodes by (encoder, source content, knob, GOP) so searches for several targets share work."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, float, int], EncodeResult] = {}

    @staticmethod
    def _key(encoder: str, source: Path, q: float, gop: int) -> tuple[str, str, float, int]:
        return (encoder, _digest(source), float(q), gop)

    def get(self, encoder: str, source: Path, q: float, gop: int) -> EncodeResult | None:
        result = self._items.get(self._key(encoder, source, q, gop))
        return result if result is not None and result.bitstream.is_file() else None

    def put(self, result: EncodeResult, source: Path) -> None:
        self._items[self._key(result.encoder, source, result.q, result.gop)] = result

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match_bitrate`.

    :param target_bpp: requested rate.
    :param tol: allowed relative deviation.
    :param result: the chosen encode (decoded if requested).
    :param within_tol: ``|bpp / target - 1| <= tol``.
    :param miss_reason: ``None`` on success; ``"floor"`` (even the highest CRF/QP spends more),
        ``"ceiling"`` (even the lowest spends less), ``"granularity"`` (two neighbouring knob values straddle
        the target) or ``"non-monotone"`` (rate did not fall as the knob rose).
    :param trials: every ``(q, bpp)`` evaluated, in order.
    """

    target_bpp: float
    tol: float
    result: EncodeResult
    within_tol: bool
    miss_reason: str | None
    trials: tuple[tuple[float, float], ...]

    @property
    def relative_error(self) -> float:
        """``bpp / target - 1`` of the chosen encode."""
        return self.result.bpp / self.target_bpp - 1.0


def match_bitrate(
    encoder: str | EncoderSpec,
    clip: Path | Clip,
    target_bpp: float,
    tol: float = 0.10,
    *,
    gop: int = DEFAULT_GOP,
    workdir: Path | None = None,
    cache: EncodeCache | None = None,
    decode: bool = True,
    fractional_steps: int = 8,
) -> MatchResult:
    """Find the CRF/QP whose real output lands within ``tol`` of ``target_bpp``.

    Rate falls as the knob rises. The search bisects the integer knob range, stopping at the first
    encode within tolerance; if two neighbouring integers straddle the target and the encoder accepts
    fractional CRF (x264, x265) it bisects between them for up to ``fractional_steps`` more encodes.
    Otherwise the encode closest to the target (in log rate) is returned with ``within_tol=False``.

    :param encoder: baseline name or spec.
    :param clip: 8-bit 4:2:0 y4m path or :class:`~vsgnvc.eval.clips.Clip`.
    :param target_bpp: target bits per pixel (> 0).
    :param tol: relative tolerance, default 10 %.
    :param gop: GOP length.
    :param workdir: folder for bitstreams (temporary when ``None``).
    :param cache: share encodes between calls (e.g. several targets on one clip).
    :param decode: decode the chosen encode (:attr:`EncodeResult.decoded`).
    :param fractional_steps: extra encodes allowed for fractional refinement.
    """
    spec = get_encoder(encoder)
    if not (target_bpp > 0 and math.isfinite(target_bpp)):
        raise ValueError(f"match_bitrate: target_bpp must be > 0, got {target_bpp}")
    if not 0 < tol < 1:
        raise ValueError(f"match_bitrate: tol must be in (0, 1), got {tol}")
    workdir = _workdir(workdir)
    source = _source(clip, workdir)
    cache = cache if cache is not None else EncodeCache()
    tried: dict[float, EncodeResult] = {}

    def rate(q: float) -> float:
        if q not in tried:
            hit = cache.get(spec.name, source, q, gop)
            if hit is None:
                hit = encode(spec, source, q, gop=gop, workdir=workdir)
                cache.put(hit, source)
            tried[q] = hit
        return tried[q].bpp

    def close(bpp: float) -> bool:
        return abs(bpp / target_bpp - 1.0) <= tol

    found: float | None = None
    lo, hi = spec.q_min, spec.q_max  # lo: most bits, hi: fewest bits
    while hi - lo > 1 and found is None:
        mid = (lo + hi) // 2
        bpp = rate(mid)
        if close(bpp):
            found = mid
        elif bpp > target_bpp:
            lo = mid
        else:
            hi = mid
    if found is None:
        found = next((q for q in (lo, hi) if close(rate(q))), None)
    reason: str | None = None
    if found is None:
        if rate(hi) > target_bpp:
            reason = "floor" if hi == spec.q_max else "non-monotone"
        elif rate(lo) < target_bpp:
            reason = "ceiling" if lo == spec.q_min else "non-monotone"
        else:
            a, b = float(lo), float(hi)
            for _ in range(fractional_steps if spec.fractional else 0):
                mid_f = round((a + b) / 2, 3)
                if mid_f in (a, b):
                    break
                bpp = rate(mid_f)
                if close(bpp):
                    found = mid_f
                    break
                a, b = (mid_f, b) if bpp > target_bpp else (a, mid_f)
            if found is None:
                reason = "granularity"
    best_q = found if found is not None else min(tried, key=lambda q: abs(math.log(tried[q].bpp / target_bpp)))
    best = tried[best_q]
    if decode:
        best = decode_result(best)
    trials = tuple((q, r.bpp) for q, r in tried.items())
    if reason:
        logger.warning(
            "%s: target %.4f bpp missed (%s); closest q=%g gives %.4f bpp",
            spec.name,
            target_bpp,
            reason,
            best_q,
            best.bpp,
        )
    return MatchResult(target_bpp, tol, best, reason is None, reason, trials)
