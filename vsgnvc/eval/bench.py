"""Rate-distortion-perception benchmark: our codec against x264, x265, SVT-AV1 and VVenC, with speed and memory.

For every clip and evaluation size:

1. the clip is loaded (area downscale, centre crop, 8-bit 4:2:0) and written losslessly as y4m;
2. our codec encodes it at every rate point and decodes it with and without generative refinement, in a
   fresh worker process (:mod:`vsgnvc.eval.codec_run`) that measures wall/CPU time and the peak RSS (and CUDA
   memory) of each encode and decode; the same worker passes the clip through the model's autoencoder alone
   (encode -> decode, no latent coding, no refinement): the autoencoder-only ceiling, what the plain decode
   would be with lossless latent coding, a row without bpp (codec ``gnvc-autoencoder``);
3. each baseline is matched to each of our real bpp values (within ``tol``, default 10 %; CRF/QP search on real
   output sizes, :func:`~vsgnvc.eval.baselines.match_bitrate`), low delay with our GOP length;
4. every decoded video is scored with the same :class:`~vsgnvc.eval.score.Reference`.

Results go to ``<out>/results.json`` (rewritten after every codec, so an interrupted run keeps what it
measured); :func:`vsgnvc.eval.report.write_report` then derives the CSV, BD-rates, RD plots and Markdown summary.
A clip that fails (unreadable, too short, an encoder error) is recorded under ``failures`` and the run goes on.

Sizes: a clip is only evaluated at sizes it can be *downscaled* to (upscaling would make it artificially
easy); a clip too small for every requested size is evaluated at its benchmark-list size if it has one
(``carphone``: 176x144), else skipped with a note. ``allow_upscale`` lifts the rule.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vsgnvc.codec.presets import DEFAULT_PRESET
from vsgnvc.eval.baselines import EncodeCache, match_bitrate
from vsgnvc.eval.clips import DEFAULT_BENCHMARK_CLIPS, BenchmarkClip, Clip, benchmark_clip_path, load_clip
from vsgnvc.eval.codec_run import AutoencoderRun, CodecJob, CodecRun, RateRun, run_codec, run_codec_subprocess
from vsgnvc.eval.encoders import ENCODERS
from vsgnvc.eval.frames import load_y4m
from vsgnvc.eval.perceptual import FrameMetric, load_perceptual
from vsgnvc.eval.report import write_report
from vsgnvc.eval.results import AUTOENCODER_ONLY, RESULTS_NAME, SCHEMA_VERSION, load_results
from vsgnvc.eval.score import Reference

logger = logging.getLogger(__name__)

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((320, 180), (640, 360))
DEFAULT_FRAMES = 97
OURS = "gnvc"
OURS_REFINED = "gnvc-refined"


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run.

    :param out: run folder (created; ``results.json``, reports and ``work/`` go here).
    :param clips: benchmark-list names (:data:`~vsgnvc.eval.clips.DEFAULT_BENCHMARK_CLIPS`) or video file
        paths; empty means the whole benchmark list.
    :param sizes: evaluation sizes ``(width, height)``, even.
    :param frames: frames per clip (a benchmark clip with fewer frames uses all it has, with a note).
    :param model: our model folder; ``None`` is the shipped default model.
    :param rates: our rate indices; empty means all.
    :param codecs: baselines (subset of :data:`~vsgnvc.eval.encoders.ENCODERS`).
    :param refine: also decode with generative refinement.
    :param preset: our encoder preset (:data:`~vsgnvc.codec.presets.PRESETS`).
    :param ceiling: also measure the autoencoder-only ceiling (frames through the model's autoencoder alone).
    :param gop: our GOP length (whole latent frames of the model), used for the baselines too; ``None`` is the model's.
    :param tol: bit-rate matching tolerance.
    :param device: device for our codec (``None``: CUDA if present).
    :param with_vmaf: compute VMAF.
    :param isolate: run our codec in a worker process (clean per-run memory figures); ``False`` runs it in
        this process (RSS then includes the driver's data).
    :param allow_upscale: evaluate clips at sizes larger than their source.
    :param keep_decoded: keep decoded y4m files in ``work/`` (large); bitstreams are always kept.
    :param media_dir: shared media folder for the benchmark list.
    :param anchors: baselines BD-rates are computed against (reporting only).
    :param resume: keep the finished (clip, size) pairs of an existing ``results.json`` in ``out`` (made with
        the same settings) and run only the rest.
    """

    out: Path
    clips: tuple[str, ...] = ()
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES
    frames: int = DEFAULT_FRAMES
    model: Path | None = None
    rates: tuple[int, ...] = ()
    codecs: tuple[str, ...] = tuple(ENCODERS)
    refine: bool = True
    preset: str = DEFAULT_PRESET
    ceiling: bool = True
    gop: int | None = None
    tol: float = 0.10
    device: str | None = None
    with_vmaf: bool = True
    isolate: bool = True
    allow_upscale: bool = False
    keep_decoded: bool = False
    media_dir: Path | None = None
    anchors: tuple[str, ...] = ("x265", "vvenc")
    resume: bool = False

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"bench: --frames must be >= 2 (temporal metrics need frame pairs), got {self.frames}")
        if not self.sizes:
            raise ValueError("bench: give at least one size")
        for w, h in self.sizes:
            if w < 16 or h < 16 or w % 2 or h % 2:
                raise ValueError(f"bench: sizes must be even and >= 16, got {w}x{h}")
        unknown = [c for c in self.codecs if c not in ENCODERS]
        if unknown:
            raise ValueError(f"bench: unknown codec {unknown[0]!r}; use {','.join(ENCODERS)}")
        if any(r < 0 for r in self.rates):
            raise ValueError(f"bench: rates must be >= 0, got {list(self.rates)}")
        if not 0 < self.tol < 1:
            raise ValueError(f"bench: tol must be in (0, 1), got {self.tol}")
        if self.gop is not None and self.gop < 1:
            raise ValueError(f"bench: --gop must be positive, got {self.gop}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(out=str(self.out), model=None if self.model is None else str(self.model))
        d["media_dir"] = None if self.media_dir is None else str(self.media_dir)
        d["sizes"] = [f"{w}x{h}" for w, h in self.sizes]
        return d


@dataclass(frozen=True)
class ClipSpec:
    """A clip to benchmark: a benchmark-list entry or a file."""

    name: str
    entry: BenchmarkClip | None = None
    path: Path | None = None


def resolve_clips(names: tuple[str, ...]) -> list[ClipSpec]:
    """Benchmark-list names become entries, anything else is taken as a file path (checked when loaded)."""
    by_name = {c.name: c for c in DEFAULT_BENCHMARK_CLIPS}
    if not names:
        return [ClipSpec(c.name, entry=c) for c in DEFAULT_BENCHMARK_CLIPS]
    specs = []
    for n in names:
        if n in by_name:
            specs.append(ClipSpec(n, entry=by_name[n]))
        else:
            specs.append(ClipSpec(Path(n).stem, path=Path(n)))
    return specs


def size_label(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _source_size(path: Path) -> tuple[int, int]:
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise ValueError(f"{path.name} has no video stream")
            cc = c.streams.video[0].codec_context
            return int(cc.width), int(cc.height)
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot open {path}: {exc}") from exc


def sizes_for(
    source: tuple[int, int], sizes: tuple[tuple[int, int], ...], entry: BenchmarkClip | None, allow_upscale: bool
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Sizes a clip is evaluated at, and the requested sizes skipped because they would upscale it."""
    if allow_upscale:
        return list(sizes), []
    fit = [s for s in sizes if s[0] <= source[0] and s[1] <= source[1]]
    skipped = [s for s in sizes if s not in fit]
    if not fit and entry is not None and entry.size is not None:
        fit = [entry.size]
    return fit, skipped


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _environment() -> dict[str, Any]:
    import torch

    from vsgnvc._version import __version__
    from vsgnvc.eval._ffmpeg import ffmpeg_version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "vsgnvc": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ffmpeg": ffmpeg_version(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_start": [round(x, 2) for x in os.getloadavg()],
    }


def _json_safe(x: Any) -> Any:
    """Strict JSON: non-finite floats (which no metric should produce, but a zero-time phase could) become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    return x


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_json_safe(doc), indent=1, allow_nan=False))
    os.replace(tmp, path)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:400]


def _ours_rows(base: dict[str, Any], run: RateRun, ref: Reference, keep: bool) -> list[dict[str, Any]]:
    """Score the plain and the refined decode of one rate point."""
    rows = []
    common = {**base, "rate": run.rate, "target_bpp": None, "bpp": run.bpp, "bytes": run.num_bytes, "q": None,
              "within_tol": None, "miss_reason": None, "search_encodes": None, "bitstream": str(run.bitstream),
              "encode_fps": run.encode.fps, "encode_s": run.encode.seconds, "encode_cpu_s": run.encode.cpu_seconds,
              "encode_peak_rss_mb": run.encode.peak_rss_mb, "encode_cuda_peak_mb": run.encode.cuda_peak_mb,
              "rss_method": run.encode.rss_method}  # fmt: skip
    variants = [(OURS, run.decode, run.decoded)]
    if run.refine is not None and run.refined is not None:
        variants.append((OURS_REFINED, run.refine, run.refined))
    for codec, usage, path in variants:
        _, decoded = load_y4m(path)
        rows.append({
            **common, "codec": codec, **ref.score(decoded, path),
            "decode_fps": usage.fps, "decode_s": usage.seconds, "decode_cpu_s": usage.cpu_seconds,
            "decode_peak_rss_mb": usage.peak_rss_mb, "decode_cuda_peak_mb": usage.cuda_peak_mb,
        })  # fmt: skip
        if not keep:
            path.unlink(missing_ok=True)
    return rows


def _autoencoder_row(base: dict[str, Any], run: AutoencoderRun, ref: Reference, keep: bool) -> dict[str, Any]:
    """Score the autoencoder-only pass: nothing is coded, so no rate, bpp or bitstream."""
    _, decoded = load_y4m(run.decoded)
    row = {**base, "rate": None, "target_bpp": None, "bpp": None, "bytes": None, "q": None, "within_tol": None,
           "miss_reason": None, "search_encodes": None, "bitstream": None,
           "encode_fps": run.encode.fps, "encode_s": run.encode.seconds, "encode_cpu_s": run.encode.cpu_seconds,
           "encode_peak_rss_mb": run.encode.peak_rss_mb, "encode_cuda_peak_mb": run.encode.cuda_peak_mb,
           "rss_method": run.encode.rss_method, "codec": AUTOENCODER_ONLY, **ref.score(decoded, run.decoded),
           "decode_fps": run.decode.fps, "decode_s": run.decode.seconds, "decode_cpu_s": run.decode.cpu_seconds,
           "decode_peak_rss_mb": run.decode.peak_rss_mb, "decode_cuda_peak_mb": run.decode.cuda_peak_mb}  # fmt: skip
    if not keep:
        run.decoded.unlink(missing_ok=True)
    return row


class BenchRun:
    """State of one run: the JSON document and how it is saved."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self.path = cfg.out / RESULTS_NAME
        self.doc: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "config": cfg.to_dict(),
            "environment": {},
            "started": _utc(),
            "finished": None,
            "model": None,
            "clips": [],
            "points": [],
            "failures": [],
            "notes": [],
        }

    def save(self) -> None:
        _write_json(self.path, self.doc)

    def note(self, text: str) -> None:
        if text not in self.doc["notes"]:
            self.doc["notes"].append(text)

    def fail(self, clip: str, size: str, stage: str, exc: BaseException) -> None:
        msg = _one_line(exc)
        logger.error("FAILED %s %s (%s): %s", clip, size, stage, msg)
        logger.debug("failure detail", exc_info=exc)
        self.doc["failures"].append({"clip": clip, "size": size, "stage": stage, "error": msg})
        self.save()


def _load(spec: ClipSpec, size: tuple[int, int], frames: int, cfg: BenchConfig) -> tuple[Clip, list[str]]:
    notes = []
    if spec.entry is not None:
        path = benchmark_clip_path(spec.entry, cfg.media_dir)
        if frames > spec.entry.frames:
            notes.append(f"{spec.name} has {spec.entry.frames} frames; all of them used instead of {frames}")
            frames = spec.entry.frames
    else:
        assert spec.path is not None
        path = spec.path
    clip = load_clip(path, size=size, num_frames=frames)
    return Clip(spec.name, clip.frames, clip.fps, clip.source), notes


def _bench_clip(
    run: BenchRun,
    spec: ClipSpec,
    size: tuple[int, int],
    perceptual: dict[str, FrameMetric],
    codec_runner: Callable[[CodecJob], CodecRun],
) -> None:
    cfg, label = run.cfg, size_label(size)
    stage = "load"
    try:
        clip, notes = _load(spec, size, cfg.frames, cfg)
        work = cfg.out / "work" / label / spec.name
        work.mkdir(parents=True, exist_ok=True)
        source = clip.to_y4m(work / f"{spec.name}.y4m")
        stage = "reference"
        ref = Reference(clip, source, with_vmaf=cfg.with_vmaf, perceptual=perceptual)
        for n in notes + ref.notes:
            run.note(n)
        info = {"clip": spec.name, "size": label, "width": clip.width, "height": clip.height,
                "frames": clip.num_frames, "fps": str(clip.fps), "source": str(clip.source),
                "warping_error_floor": ref.warping_error_floor, "cut_pairs": ref.cut_pairs}  # fmt: skip
        run.doc["clips"].append(info)
        base = {"clip": spec.name, "size": label, "width": clip.width, "height": clip.height,
                "frames": clip.num_frames}  # fmt: skip
        stage = OURS
        logger.info("%s %s: our codec (%d frames)", spec.name, label, clip.num_frames)
        job = CodecJob(source, work / OURS, cfg.model, cfg.rates, cfg.gop, cfg.refine, cfg.device,
                       autoencoder_only=cfg.ceiling, preset=cfg.preset)  # fmt: skip
        ours = codec_runner(job)
        if run.doc["model"] is None:
            run.doc["model"] = {"name": ours.model_name, "path": ours.model_path, "device": ours.device,
                                "gop": ours.gop, "load_s": ours.load_seconds,
                                "rss_after_load_mb": ours.rss_after_load_mb}  # fmt: skip
        for n in ours.notes:
            run.note(n)
        info["gop"] = ours.gop
        for r in ours.runs:
            run.doc["points"].extend(_ours_rows(base, r, ref, cfg.keep_decoded))
        if ours.autoencoder_only is not None:
            run.doc["points"].append(_autoencoder_row(base, ours.autoencoder_only, ref, cfg.keep_decoded))
        run.save()
    except Exception as exc:
        run.fail(spec.name, label, stage, exc)
        return
    for codec in cfg.codecs:
        try:
            cache = EncodeCache()
            for r in ours.runs:
                logger.info("%s %s: %s matched to %.4f bpp (rate %d)", spec.name, label, codec, r.bpp, r.rate)
                m = match_bitrate(codec, source, r.bpp, cfg.tol, gop=ours.gop, workdir=work / codec, cache=cache)
                res = m.result
                assert res.decoded is not None
                run.doc["points"].append({
                    **base, "codec": codec, "rate": r.rate, "target_bpp": r.bpp, "bpp": res.bpp,
                    "bytes": res.num_bytes, "q": res.q, "within_tol": m.within_tol, "miss_reason": m.miss_reason,
                    "search_encodes": len(m.trials), "bitstream": str(res.bitstream),
                    "encode_fps": res.frames / res.encode_seconds if res.encode_seconds > 0 else None,
                    "encode_s": res.encode_seconds, "encode_cpu_s": res.encode_cpu_seconds,
                    **ref.score(res.load_decoded(), res.decoded),
                })  # fmt: skip
                if not cfg.keep_decoded:
                    res.decoded.unlink(missing_ok=True)
            run.doc.setdefault("commands", {}).setdefault(codec, list(res.command))
            run.save()
        except Exception as exc:
            run.fail(spec.name, label, codec, exc)
    info["complete"] = True
    run.save()


_RESULT_SETTINGS = ("frames", "sizes", "model", "rates", "codecs", "refine", "preset", "ceiling", "gop", "tol",
                    "device", "with_vmaf", "allow_upscale")  # fmt: skip
"""Settings that change measured points: a run can only be resumed with the same values."""


def _resume(run: BenchRun) -> set[tuple[str, str]]:
    """Take over the finished (clip, size) pairs of the existing results; returns them."""
    old = load_results(run.cfg.out)
    new_cfg = json.loads(json.dumps(run.doc["config"]))  # tuples compare as the lists JSON stores
    for key in _RESULT_SETTINGS:
        if old["config"].get(key) != new_cfg.get(key):
            raise ValueError(
                f"--resume: {run.path} was made with {key}={old['config'].get(key)!r}, not {new_cfg.get(key)!r}"
            )
    done = {(c["clip"], c["size"]) for c in old.get("clips", []) if c.get("complete")}

    def keep(d: dict[str, Any]) -> bool:
        return (d["clip"], d["size"]) in done

    run.doc.update(
        clips=[c for c in old["clips"] if keep(c)],
        points=[p for p in old["points"] if keep(p)],
        failures=[f for f in old.get("failures", []) if keep(f)],
        notes=list(old.get("notes", [])),
        model=old.get("model"),
        started=old.get("started"),
        resumed=[*old.get("resumed", []), _utc()],
    )
    if "commands" in old:
        run.doc["commands"] = old["commands"]
    logger.info("resuming %s: %d clip/size pairs already done", run.cfg.out, len(done))
    return done


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Run the benchmark and write ``results.json`` plus the report files; returns the JSON document.

    Per-clip failures are recorded, not raised. ``KeyboardInterrupt`` stops the run and keeps the JSON so far.
    """
    cfg.out.mkdir(parents=True, exist_ok=True)
    run = BenchRun(cfg)
    done = _resume(run) if cfg.resume and run.path.is_file() else set()
    run.doc["environment"] = _environment()
    perceptual, notes = load_perceptual()
    for n in notes:
        run.note(n)
    run.save()
    runner: Callable[[CodecJob], CodecRun] = run_codec_subprocess if cfg.isolate else run_codec
    specs = resolve_clips(cfg.clips)
    t_start = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        try:
            src = benchmark_clip_path(spec.entry, cfg.media_dir) if spec.entry else spec.path
            assert src is not None
            if not src.is_file():
                raise ValueError(f"file not found: {src}")
            sizes, skipped = sizes_for(_source_size(src), cfg.sizes, spec.entry, cfg.allow_upscale)
        except Exception as exc:
            run.fail(spec.name, "-", "load", exc)
            continue
        for s in skipped:
            if s not in sizes:
                run.note(f"{spec.name}: not evaluated at {size_label(s)} (source is smaller; no upscaling)")
        for size in sizes:
            if (spec.name, size_label(size)) in done:
                logger.info("[%d/%d] %s at %s: done in an earlier run", i, len(specs), spec.name, size_label(size))
                continue
            logger.info("[%d/%d] %s at %s (%.0f s so far)", i, len(specs), spec.name, size_label(size),
                        time.perf_counter() - t_start)  # fmt: skip
            _bench_clip(run, spec, size, perceptual, runner)
    run.doc["finished"] = _utc()
    run.doc["environment"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    run.doc["elapsed_s"] = time.perf_counter() - t_start
    run.save()
    write_report(cfg.out)
    return run.doc
