"""Encode and decode one clip at several rate points with our codec, timing and measuring each run.

:func:`run_codec` does the work in the current process; :func:`run_codec_subprocess` runs the same function
in a fresh Python process (``python -m vsgnvc.eval.codec_run JOB RESULT``) so that peak memory is that of a
process holding only the interpreter, torch, the model and the codec, not the benchmark driver's clips and
metrics. Inside it every phase (encode, plain decode, decode with refinement, per rate) gets its own peak
RSS through :mod:`vsgnvc.eval.usage`.

Each rate point writes ``<stem>.r<rate>.gnvc`` and the decoded ``.decoded.y4m`` (and ``.refined.y4m``) into
the job's work folder; rate is measured on the bytes of the ``.gnvc`` file. With ``autoencoder_only`` the clip
also goes through the model's autoencoder alone (:func:`run_autoencoder`: encode -> decode GOP by GOP, padded and
cropped as the encoder does, no latent coding, no refinement) into ``<stem>.autoencoder.y4m``: what the plain
decode would be with lossless latent coding.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsgnvc.codec.presets import DEFAULT_PRESET, preset_search
from vsgnvc.eval.errors import EvalError
from vsgnvc.eval.usage import PhaseUsage, current_rss_mb, measure

if TYPE_CHECKING:
    import torch

    from vsgnvc.models.bundle import GnvcModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecJob:
    """One clip through our codec.

    :param source: 8-bit 4:2:0 y4m of the clip.
    :param workdir: folder for bitstreams and decoded y4m files.
    :param model: model folder; ``None`` is the shipped default model.
    :param rates: rate indices; empty means every rate point of the model.
    :param gop: frames per GOP (whole latent frames of the model); ``None`` is the model's.
    :param refine: also decode with generative refinement (when the model has a refiner).
    :param device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; ``None`` picks CUDA if present.
    :param warmup: first encode and decode a few frames untimed, so one-off start-up costs (kernel
        selection, lazy imports, allocator growth) do not land on the first measured rate point.
    :param autoencoder_only: also pass the clip through the model's autoencoder alone (the quality ceiling).
    :param preset: encoder preset (:data:`~vsgnvc.codec.presets.PRESETS`).
    """

    source: Path
    workdir: Path
    model: Path | None = None
    rates: tuple[int, ...] = ()
    gop: int | None = None
    refine: bool = True
    device: str | None = None
    warmup: bool = True
    autoencoder_only: bool = False
    preset: str = DEFAULT_PRESET

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            source=str(self.source), workdir=str(self.workdir), model=None if self.model is None else str(self.model)
        )
        d["rates"] = list(self.rates)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodecJob:
        return cls(
            source=Path(d["source"]),
            workdir=Path(d["workdir"]),
            model=None if d.get("model") is None else Path(d["model"]),
            rates=tuple(int(r) for r in d.get("rates", ())),
            gop=d.get("gop"),
            refine=bool(d.get("refine", True)),
            device=d.get("device"),
            warmup=bool(d.get("warmup", True)),
            autoencoder_only=bool(d.get("autoencoder_only", False)),
            preset=str(d.get("preset", DEFAULT_PRESET)),
        )


@dataclass(frozen=True)
class RateRun:
    """One rate point: the bitstream, the decoded files and what each phase cost.

    :param refine: decode *with* refinement (latent decode + refiner + VAE); ``None`` when not run.
    """

    rate: int
    bitstream: Path
    num_bytes: int
    bpp: float
    frames: int
    width: int
    height: int
    encode: PhaseUsage
    decode: PhaseUsage
    decoded: Path
    refine: PhaseUsage | None = None
    refined: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "bitstream": str(self.bitstream),
            "num_bytes": self.num_bytes,
            "bpp": self.bpp,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "encode": self.encode.to_dict(),
            "decode": self.decode.to_dict(),
            "decoded": str(self.decoded),
            "refine": None if self.refine is None else self.refine.to_dict(),
            "refined": None if self.refined is None else str(self.refined),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RateRun:
        return cls(
            rate=int(d["rate"]),
            bitstream=Path(d["bitstream"]),
            num_bytes=int(d["num_bytes"]),
            bpp=float(d["bpp"]),
            frames=int(d["frames"]),
            width=int(d["width"]),
            height=int(d["height"]),
            encode=PhaseUsage.from_dict(d["encode"]),
            decode=PhaseUsage.from_dict(d["decode"]),
            decoded=Path(d["decoded"]),
            refine=None if d.get("refine") is None else PhaseUsage.from_dict(d["refine"]),
            refined=None if d.get("refined") is None else Path(d["refined"]),
        )


@dataclass(frozen=True)
class AutoencoderRun:
    """The clip through the model's autoencoder alone (no latent coding, no refinement).

    :param decoded: the output y4m.
    :param encode: the autoencoder's encoder (frames -> latents), measured GOP by GOP and totalled
        (:meth:`~vsgnvc.eval.usage.PhaseUsage.total`).
    :param decode: its decoder (latents -> output frames), likewise.
    """

    decoded: Path
    frames: int
    width: int
    height: int
    encode: PhaseUsage
    decode: PhaseUsage

    def to_dict(self) -> dict[str, Any]:
        return {
            "decoded": str(self.decoded),
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "encode": self.encode.to_dict(),
            "decode": self.decode.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AutoencoderRun:
        return cls(
            decoded=Path(d["decoded"]),
            frames=int(d["frames"]),
            width=int(d["width"]),
            height=int(d["height"]),
            encode=PhaseUsage.from_dict(d["encode"]),
            decode=PhaseUsage.from_dict(d["decode"]),
        )


@dataclass(frozen=True)
class CodecRun:
    """All rate points of one job.

    :param model_name: the model's name.
    :param model_path: folder it was loaded from.
    :param device: device the codec ran on.
    :param gop: GOP length used.
    :param load_seconds: time to load the model.
    :param rss_after_load_mb: RSS of the process once the model is loaded and warmed up (the floor under every
        phase).
    :param runs: one :class:`RateRun` per rate point.
    :param notes: what was skipped and why (e.g. no refiner in the model).
    :param autoencoder_only: the autoencoder-only pass, when the job asked for it.
    """

    model_name: str
    model_path: str
    device: str
    gop: int
    load_seconds: float
    rss_after_load_mb: float
    runs: tuple[RateRun, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    autoencoder_only: AutoencoderRun | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_path": self.model_path,
            "device": self.device,
            "gop": self.gop,
            "load_seconds": self.load_seconds,
            "rss_after_load_mb": self.rss_after_load_mb,
            "runs": [r.to_dict() for r in self.runs],
            "notes": list(self.notes),
            "autoencoder_only": None if self.autoencoder_only is None else self.autoencoder_only.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodecRun:
        return cls(
            model_name=str(d["model_name"]),
            model_path=str(d["model_path"]),
            device=str(d["device"]),
            gop=int(d["gop"]),
            load_seconds=float(d["load_seconds"]),
            rss_after_load_mb=float(d["rss_after_load_mb"]),
            runs=tuple(RateRun.from_dict(r) for r in d["runs"]),
            notes=tuple(d.get("notes", ())),
            autoencoder_only=(
                None if d.get("autoencoder_only") is None else AutoencoderRun.from_dict(d["autoencoder_only"])
            ),
        )


def _checked_8bit(frames: list[Any]) -> list[Any]:
    import numpy as np

    if not frames:
        raise EvalError("decode: the decoder returned no frames")
    if frames[0][0].dtype != np.uint8:
        raise EvalError(f"decode: expected 8-bit output, got {frames[0][0].dtype}")
    return frames


def run_autoencoder(
    model: GnvcModel, source: Path, output: Path, gop: int, device: torch.device | str | None
) -> AutoencoderRun:
    """Pass ``source`` (8-bit 4:2:0 y4m) through ``model``'s autoencoder alone into ``output`` (y4m).

    GOP by GOP, read, padded and cropped exactly as :class:`~vsgnvc.codec.encoder.Encoder` does for a real
    encode (same header, GOP spans, coded size, time padding and colour conversion), so the output differs from
    a plain decode only by the latent coding; one GOP is in memory at a time.

    :param gop: frames per GOP (checked against the model's temporal factor).
    """
    import torch

    from vsgnvc.api import open_input
    from vsgnvc.codec.color import yuv_to_rgb
    from vsgnvc.codec.encoder import Encoder, EncodeSettings
    from vsgnvc.codec.gop_codec import pad_frames, padded_length
    from vsgnvc.codec.scenecut import gop_slots
    from vsgnvc.eval.frames import stream_y4m, y4m_info, y4m_video_info

    num_frames = y4m_info(source).num_frames
    assert num_frames is not None
    encoder = Encoder(model, device)
    info, frames = open_input(source)
    header = encoder.make_header(info, num_frames, EncodeSettings(gop_size=gop))
    temporal_factor = model.vae.temporal_factor
    encode_parts: list[PhaseUsage] = []
    decode_parts: list[PhaseUsage] = []

    def autoencoded() -> Iterator[Any]:
        # The encoder's slots of gop_size frames (ignoring scene-cut splits: they only change time padding).
        for span in gop_slots(num_frames, header.gop_size):
            held = list(itertools.islice(frames, len(span)))
            if len(held) != len(span):
                raise EvalError(f"autoencoder: {source.name} ended after {span.start + len(held)} of {num_frames}")
            rgb = [yuv_to_rgb(f, info.pix_fmt, info.color_range, info.matrix) for f in held]
            clip = pad_frames(torch.stack(rgb, 1), header.coded_height, header.coded_width,
                              padded_length(len(span), temporal_factor)).to(encoder.device)  # fmt: skip
            with torch.inference_mode():
                latents, usage = measure(functools.partial(model.vae.encode, clip[None]), len(span), encoder.device)
            encode_parts.append(usage)
            out, usage = measure(functools.partial(encoder.to_frames, latents, None, info, len(span)), len(span),
                                 encoder.device)  # fmt: skip
            decode_parts.append(usage)
            yield from _checked_8bit(out)

    stream_y4m(output, y4m_video_info(info.width, info.height, info.fps, num_frames), autoencoded())
    return AutoencoderRun(output, num_frames, info.width, info.height, PhaseUsage.total(encode_parts),
                          PhaseUsage.total(decode_parts))  # fmt: skip


def run_codec(job: CodecJob) -> CodecRun:
    """Encode ``job.source`` at every requested rate, decode each plainly and with refinement, in this process.

    :raises ValueError: a bad job (unknown rate, bad GOP, missing source).
    """
    from vsgnvc.api import encode_file
    from vsgnvc.codec.decoder import Decoder
    from vsgnvc.codec.encoder import EncodeSettings
    from vsgnvc.device import resolve_device
    from vsgnvc.eval.frames import save_y4m, y4m_info
    from vsgnvc.models.bundle import GnvcModel, default_model_path

    info = y4m_info(job.source)
    device = resolve_device(job.device)
    t0 = time.perf_counter()
    model = GnvcModel.from_pretrained(job.model)
    load_seconds = time.perf_counter() - t0
    num_rates = len(model.index.rates)
    rates = job.rates or tuple(range(num_rates))
    bad = [r for r in rates if not 0 <= r < num_rates]
    if bad:
        raise ValueError(f"rate {bad[0]} does not exist in model {model.name} (rates 0..{num_rates - 1})")
    gop = job.gop or model.index.gop_size
    model.index.check_gop_size(gop)
    settings_gop = gop
    search = preset_search(job.preset)
    notes: list[str] = []
    refine = job.refine
    if refine and model.refiner is None:
        notes.append(f"model {model.name} has no refiner: refined decode skipped")
        refine = False
    job.workdir.mkdir(parents=True, exist_ok=True)
    stem = job.source.stem

    def decode(path: Path, refined: bool) -> list[Any]:
        with Decoder(path, model, device, refine=refined) as dec:
            return _checked_8bit(list(dec.frames(refine=refined)))

    if job.warmup:
        warm = job.workdir / f"{stem}.warmup.gnvc"
        settings = EncodeSettings(rate=rates[0], gop_size=settings_gop, search=search)
        encode_file(job.source, warm, model, settings, max_frames=min(5, info.num_frames), device=str(device),
                    overwrite=True, progress=False)  # fmt: skip
        decode(warm, False)
        if refine:
            decode(warm, True)
        warm.unlink()
    rss_after_load = current_rss_mb()
    autoencoder_only = None
    if job.autoencoder_only:
        output = job.workdir / f"{stem}.autoencoder.y4m"
        logger.info("gnvc autoencoder only: %d frames of %dx%d", info.num_frames, info.width, info.height)
        autoencoder_only = run_autoencoder(model, job.source, output, gop, device)
        logger.info(
            "gnvc autoencoder only: encode %.2f fps, decode %.2f fps",
            autoencoder_only.encode.fps, autoencoder_only.decode.fps,
        )  # fmt: skip
    runs: list[RateRun] = []
    for rate in rates:
        out = job.workdir / f"{stem}.r{rate}.gnvc"
        logger.info("gnvc rate %d: encoding %d frames of %dx%d", rate, info.num_frames, info.width, info.height)
        encode = functools.partial(
            encode_file, job.source, out, model, EncodeSettings(rate=rate, gop_size=settings_gop, search=search),
            device=str(device), overwrite=True, progress=False,
        )  # fmt: skip
        result, enc = measure(encode, info.num_frames, device)
        num_bytes = out.stat().st_size
        bpp = 8.0 * num_bytes / (info.width * info.height * info.num_frames)
        plain, dec = measure(functools.partial(decode, out, False), info.num_frames, device)
        decoded = save_y4m(job.workdir / f"{stem}.r{rate}.decoded.y4m", plain, info.fps)
        del plain
        logger.info(
            "gnvc rate %d: %d bytes (%.4f bpp), encode %.2f fps, decode %.2f fps",
            rate, num_bytes, bpp, enc.fps, dec.fps,
        )  # fmt: skip
        ref_usage, refined_path = None, None
        if refine:
            frames, ref_usage = measure(functools.partial(decode, out, True), info.num_frames, device)
            refined_path = save_y4m(job.workdir / f"{stem}.r{rate}.refined.y4m", frames, info.fps)
            del frames
            logger.info("gnvc rate %d: decode with refinement %.2f fps", rate, ref_usage.fps)
        if result.num_bytes != num_bytes:
            logger.debug("encoder reported %d bytes, file has %d", result.num_bytes, num_bytes)
        runs.append(
            RateRun(
                rate,
                out,
                num_bytes,
                bpp,
                info.num_frames,
                info.width,
                info.height,
                enc,
                dec,
                decoded,
                ref_usage,
                refined_path,
            )
        )
    return CodecRun(
        model_name=model.name,
        model_path=str(job.model or default_model_path()),
        device=str(device),
        gop=gop,
        load_seconds=load_seconds,
        rss_after_load_mb=rss_after_load,
        runs=tuple(runs),
        notes=tuple(notes),
        autoencoder_only=autoencoder_only,
    )


def run_codec_subprocess(job: CodecJob, *, timeout: float | None = None) -> CodecRun:
    """:func:`run_codec` in a fresh Python process; its log lines go to this process's stderr.

    :raises EvalError: the worker failed (its one-line error is quoted) or timed out.
    """
    job.workdir.mkdir(parents=True, exist_ok=True)
    job_file = job.workdir / f".codec-job.{os.getpid()}.json"
    result_file = job.workdir / f".codec-result.{os.getpid()}.json"
    job_file.write_text(json.dumps(job.to_dict()))
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "vsgnvc.eval.codec_run", str(job_file), str(result_file)]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EvalError(f"gnvc worker: did not finish within {timeout:.0f} s") from exc
    finally:
        job_file.unlink(missing_ok=True)
    try:
        data = json.loads(result_file.read_text())
    except (OSError, ValueError) as exc:
        raise EvalError(f"gnvc worker: exited with code {proc.returncode} and no readable result") from exc
    finally:
        result_file.unlink(missing_ok=True)
    if "error" in data:
        raise EvalError(f"gnvc worker: {data['error']}")
    return CodecRun.from_dict(data)


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: ``python -m vsgnvc.eval.codec_run JOB.json RESULT.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m vsgnvc.eval.codec_run JOB.json RESULT.json\n")
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("vsgnvc")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    result_path = Path(args[1])
    try:
        job = CodecJob.from_dict(json.loads(Path(args[0]).read_text()))
        payload = run_codec(job).to_dict()
        code = 0
    except Exception as exc:  # the parent records the message; a traceback helps only with -v
        logger.debug("worker failed", exc_info=True)
        payload = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
        code = 1
    tmp = result_path.with_name(f".{result_path.name}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, result_path)
    return code


if __name__ == "__main__":
    sys.exit(main())
