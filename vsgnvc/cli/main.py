"""``gnvc``: encode, decode, inspect and train. Logs go to stderr; stdout carries only video (or JSON).

Every command maps its flags onto the library's config objects; bad input ends with one line
``gnvc: error: ...`` and exit code 2, Ctrl-C with exit code 130, a reader that closes stdout early
(``gnvc info --json x.gnvc | head -1``) quietly with 141, as a process stopped by SIGPIPE. A damaged
``.gnvc`` (truncated, corrupt) that still holds complete GOPs is decoded to those GOPs' frames by
``decode`` and described by ``info``; both then end with one line ``gnvc: error: FILE is damaged: N of M
frames recovered ...`` and exit code 3, so scripts notice. Arguments and paths are checked before torch
or the model is imported (:mod:`.options`), so such errors come back at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ..codec.presets import DEFAULT_PRESET
from . import options
from .bench import add_parser as add_bench_parser
from .bench import cmd_bench

logger = logging.getLogger("vsgnvc")

EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped small model)")
    p.add_argument("--vae", type=Path, default=None, help="diffusers-format VAE folder replacing the model's")
    p.add_argument("--prior", type=Path, default=None, help="diffusers-format Wan transformer folder for refinement")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA if present, else CPU)")


def _load_model(args: argparse.Namespace):
    from ..models.bundle import GnvcModel

    return GnvcModel.from_pretrained(args.model, vae_path=args.vae, prior_path=args.prior)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gnvc", description="Generative neural video codec (GNVC-VD).")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("encode", help="encode a video (any container, .y4m, .vpy script or - for y4m on stdin)")
    p.add_argument("input")
    p.add_argument("output", type=Path)
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=int, default=None, help="rate point, 0 = lowest bitrate (default: the model's)")
    rate.add_argument("--target-bpp", type=float, default=None, help="pick the rate point closest to this bpp")
    p.add_argument("--gop", type=int, default=None, help="frames per GOP (default: the model's; 1 + 4k for Wan-VAE models)")
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"encoder effort: slow searches each frame's symbols through the decoder, medium a quarter as "
                        f"long, fast not at all (default {DEFAULT_PRESET}; decoding is the same)")
    p.add_argument("--frames", type=int, default=None, help="encode at most this many frames")
    p.add_argument("--resize", default=None, metavar="WxH", help="resize before encoding (-1 keeps aspect)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    for kind in ("matrix", "transfer", "primaries"):
        p.add_argument(f"--{kind}", default=None, help=f"override the source's colour {kind} (name or H.273 code)")
    p.add_argument("--range", dest="color_range", choices=("limited", "full"), default=None,
                   help="override the source's colour range")
    _model_args(p)

    p = sub.add_parser("decode", help="decode a .gnvc to .y4m, a video file, or - (y4m on stdout)")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", default=None, help="output path, or - for y4m on stdout")
    p.add_argument("--no-refine", action="store_true", help="skip generative refinement")
    p.add_argument("--strength", type=float, default=None,
                   help="refinement noise share 1 - t_N in (0, 1) (default: the bitstream's, 0.3)")
    p.add_argument("--ffmpeg", nargs=argparse.REMAINDER, default=None, metavar="ARGS",
                   help="encode through ffmpeg with these output options; the last one is the output unless -o is given")
    p.add_argument("--overwrite", action="store_true")
    _model_args(p)

    p = sub.add_parser("info", help="print a .gnvc file's header, GOPs and bitrate")
    p.add_argument("input", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    sub.add_parser("doctor", help="report ffmpeg, VapourSynth, torch and the default model")

    p = sub.add_parser("ffmpeg", help="run the ffmpeg gnvc uses (the bundled one if none is on PATH) with these arguments")
    p.add_argument("ffmpeg_args", nargs="*", metavar="ARGS", help="ffmpeg's own arguments, passed on untouched")

    p = sub.add_parser("enhance", help="refine any video through the VAE latent space (enhance-only mode)")
    p.add_argument("input")
    p.add_argument("output", help="output path (.y4m, a video file via ffmpeg, or - for y4m on stdout)")
    p.add_argument("--strength", type=float, default=0.3, help="noise share 1 - t_N, in (0, 1) (default 0.3)")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's, 5)")
    p.add_argument("--frames", type=int, default=None, help="enhance at most this many frames")
    p.add_argument("--resize", default=None, metavar="WxH")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ffmpeg", nargs=argparse.REMAINDER, default=None, metavar="ARGS")
    p.add_argument("--overwrite", action="store_true")
    _model_args(p)

    p = sub.add_parser("demo", help="encode + decode a real sample clip with the default model and summarise")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--size", default="320x180", metavar="WxH")
    p.add_argument("--rate", type=int, default=None)
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"encoder preset: fast, medium or slow (default {DEFAULT_PRESET})")
    p.add_argument("--model", type=Path, default=None)

    p = sub.add_parser("train", help="train a model from a TOML config (resumable)")
    p.add_argument("config", type=Path)
    p.add_argument("--run", type=Path, required=True, help="run folder (config, metrics.jsonl, checkpoints)")
    p.add_argument("--export", type=Path, default=None, help="write the finished model folder here")
    add_bench_parser(sub)
    return parser


def _color_overrides(args: argparse.Namespace) -> dict[str, object]:
    from ffmpeg_bridge.video import ColorRange

    from ..codec.color_names import parse_color_code

    out: dict[str, object] = {
        kind: parse_color_code(kind, getattr(args, kind))
        for kind in ("matrix", "transfer", "primaries")
        if getattr(args, kind) is not None
    }
    if args.color_range is not None:
        out["color_range"] = ColorRange.FULL if args.color_range == "full" else ColorRange.LIMITED
    return out


def _check_model_args(args: argparse.Namespace, rate: int | None = None) -> None:
    options.rate(rate, options.model_folder(args.model))
    options.external_folder("--vae", args.vae)
    options.external_folder("--prior", args.prior)


def _check_resize(text: str | None) -> None:
    from ..codec.sizes import parse_size_spec

    if text:
        parse_size_spec(text)


def cmd_encode(args: argparse.Namespace) -> int:
    options.input_file(args.input)
    options.output_file(args.output, args.overwrite)
    options.at_least("--frames", args.frames, 1)
    options.gop_size(args.gop, options.model_folder(args.model))
    search = options.preset(args.preset)
    if args.target_bpp is not None and args.target_bpp <= 0:
        raise ValueError(f"--target-bpp must be positive, got {args.target_bpp}")
    _check_resize(args.resize)
    color = _color_overrides(args)
    _check_model_args(args, args.rate)

    from ..api import encode_file
    from ..codec.encoder import EncodeSettings

    model = _load_model(args)
    rate = args.rate
    if args.target_bpp is not None:
        rate = model.index.closest_rate(args.target_bpp)
    settings = EncodeSettings(rate=rate, gop_size=args.gop, search=search)
    result = encode_file(
        args.input, args.output, model, settings, max_frames=args.frames, resize=args.resize,
        device=args.device, overwrite=args.overwrite, progress=not args.quiet, color=color,
    )  # fmt: skip
    logger.info(
        "%s: %d frames %dx%d, rate %d, %d bytes, %.4f bpp",
        result.path, result.num_frames, result.width, result.height, result.rate, result.num_bytes, result.bpp,
    )
    return 0


def _report_damage(damage) -> int:
    print(f"gnvc: error: {damage.summary()}", file=sys.stderr)
    return EXIT_DAMAGED


def cmd_decode(args: argparse.Namespace) -> int:
    options.input_file(args.input)
    _check_output(args)
    options.strength(args.strength)
    _check_model_args(args)

    from ..codec.decoder import Decoder

    model = _load_model(args)
    with Decoder(
        args.input, model, args.device, refine=not args.no_refine, strength=args.strength, salvage=True
    ) as decoder:
        code = _write_video(args, decoder.info, decoder.frames())
    return _report_damage(decoder.damage) if decoder.damage is not None else code


def cmd_enhance(args: argparse.Namespace) -> int:
    options.input_file(args.input)
    _check_output(args)
    options.strength(args.strength)
    options.at_least("--steps", args.steps, 1)
    options.at_least("--frames", args.frames, 1)
    _check_resize(args.resize)
    _check_model_args(args)

    from ..api import open_enhanced

    info, frames = open_enhanced(
        args.input, _load_model(args), strength=args.strength, steps=args.steps, seed=args.seed,
        max_frames=args.frames, resize=args.resize, device=args.device,
    )  # fmt: skip
    return _write_video(args, info, frames)


def cmd_train(args: argparse.Namespace) -> int:
    if not args.config.is_file():
        raise FileNotFoundError(f"config {args.config} does not exist")

    from ..train.run import train

    train(args.config, args.run, args.export)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 320x180, got {args.size!r}") from None
    options.at_least("--frames", args.frames, 1)
    options.rate(args.rate, options.model_folder(args.model))

    from .demo import run_demo

    options.preset(args.preset)
    return run_demo(args.out, args.frames, width, height, args.model, args.rate, args.preset)


def cmd_ffmpeg(args: argparse.Namespace) -> int:
    """Replace this process with the ffmpeg that gnvc uses (see ``gnvc doctor``): same arguments, stdin,
    stdout and exit status, for machines without ffmpeg on PATH."""
    from ffmpeg_bridge import locate_ffmpeg

    binary = locate_ffmpeg()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary.path, ["ffmpeg", *args.ffmpeg_args])
    return 0  # not reached


def _check_output(args: argparse.Namespace) -> None:
    if args.output is None:
        if not args.ffmpeg:
            raise ValueError("give an output: -o PATH (or - for stdout), or --ffmpeg ARGS... OUTPUT")
        args.output, args.ffmpeg = args.ffmpeg[-1], args.ffmpeg[:-1]
    if args.output == "-":
        return
    if Path(args.output).suffix.lower() == ".y4m" and args.ffmpeg is None:
        options.output_file(args.output, args.overwrite)  # written here; ffmpeg checks its own outputs
    elif Path(args.output).exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")


def _write_video(args: argparse.Namespace, info, frames) -> int:
    """Frames to ``-`` (y4m on stdout), a ``.y4m`` file, or any container through ffmpeg."""
    from ffmpeg_bridge import FfmpegSink, Y4MWriter

    out = args.output
    if out == "-":
        writer = Y4MWriter(sys.stdout.buffer, info)
        for frame in frames:
            writer.write(frame)
        sys.stdout.buffer.flush()  # a reader that stopped early (ffmpeg -frames:v N) ends in main
        return 0
    if Path(out).suffix.lower() == ".y4m" and args.ffmpeg is None:
        from ..codec.atomic import atomic_output

        with atomic_output(Path(out)) as tmp, open(tmp, "wb") as f:
            Y4MWriter(f, info).write_all(frames)
        return 0
    ffmpeg_args = list(args.ffmpeg) if args.ffmpeg is not None else ["-c:v", "libx264", "-preset", "fast", "-crf", "12"]
    overwrite = ["-y"] if args.overwrite else []
    with FfmpegSink(info, [*overwrite, *ffmpeg_args, out]) as sink:
        sink.write_all(frames)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..bitstream import GnvcReader

    options.input_file(args.input)
    with GnvcReader(args.input, salvage=True) as reader:
        h, damage, version = reader.header, reader.damage, reader.version
        gops = [
            {"gop": k, "frames": len(span), "first_frame": span.start, "bytes": reader.gop_size_bytes(k),
             "scene_cut": reader.read_gop(k).scene_cut}
            for k, span in enumerate(reader.spans)
        ]  # fmt: skip
    size = args.input.stat().st_size
    # bits per pixel of what decodes: the whole file when intact, the recovered chunks when damaged
    coded_bytes, coded_frames = (size, h.num_frames)
    if damage is not None:
        coded_bytes, coded_frames = sum(g["bytes"] for g in gops), reader.num_frames
    bpp = coded_bytes * 8 / (coded_frames * h.width * h.height) if coded_frames else 0.0
    if args.json:
        summary = {
            "path": str(args.input), "version": version, "width": h.width, "height": h.height,
            "coded_width": h.coded_width, "coded_height": h.coded_height, "fps": f"{h.fps_num}/{h.fps_den}",
            "frames": h.num_frames, "pix_fmt": h.pix_fmt.name, "color_range": h.color_range, "matrix": h.matrix,
            "transfer": h.transfer, "primaries": h.primaries, "gop_size": h.gop_size, "rate": h.rate_index,
            "model": h.model_name, "weights_hash": h.weights_hash.hex(), "refine": vars(h.refine),
            "encoder": h.encoder, "bytes": size, "bpp": bpp, "gops": gops,
            "damage": None if damage is None else {
                "frames_recovered": damage.frames, "gops_recovered": damage.gops,
                "frames_lost": len(damage.lost_frames),
                "problem": damage.problem.detail, "offset": damage.problem.offset, "summary": damage.summary(),
            },
        }  # fmt: skip
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return _report_damage(damage) if damage is not None else 0
    fps = h.fps_num / h.fps_den
    cuts = sum(g["scene_cut"] for g in gops)
    lines = [
        f"{args.input}",
        f"  {h.width}x{h.height} (coded {h.coded_width}x{h.coded_height}) {h.pix_fmt.name} "
        f"range={'full' if h.color_range else 'limited'} matrix={h.matrix} transfer={h.transfer} primaries={h.primaries}",
        f"  {h.num_frames} frames at {h.fps_num}/{h.fps_den} fps ({h.num_frames / fps:.2f} s), "
        f"{len(gops)} GOP{'' if len(gops) == 1 else 's'} of at most {h.gop_size} ({cuts} at scene cuts), "
        f"rate {h.rate_index}",
        f"  model {h.model_name} weights {h.weights_hash.hex()}  encoder {h.encoder}  format v{version}",
        f"  refine: {h.refine}",
        f"  {size} bytes, {bpp:.4f} bpp, {bpp * h.width * h.height * fps / 1000:.1f} kbit/s",
        "  GOP  first  frames   bytes    bpp",
    ]
    lines += [
        f"  {g['gop']:>3}  {g['first_frame']:>5}  {g['frames']:>6}  {g['bytes']:>6}  "
        f"{g['bytes'] * 8 / (g['frames'] * h.width * h.height):.4f}{'  scene cut' if g['scene_cut'] else ''}"
        for g in gops
    ]
    print("\n".join(lines), flush=True)
    return _report_damage(damage) if damage is not None else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    import torch

    from ffmpeg_bridge import FfmpegSource, locate_ffmpeg

    from .._version import __version__
    from ..models.bundle import GnvcModel, default_model_path

    rows = [("vsgnvc", __version__), ("python", platform.python_version()), ("torch", torch.__version__)]
    rows.append(("cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available (CPU)"))
    try:
        ffmpeg = locate_ffmpeg()
        rows.append(("ffmpeg", ffmpeg.describe()))
        if ffmpeg.source == FfmpegSource.IMAGEIO:
            rows.append(("", "not on PATH: run it as `gnvc ffmpeg ARGS...`"))
    except Exception as exc:  # doctor reports, it does not stop
        rows.append(("ffmpeg", f"NOT FOUND: {exc}"))
    try:
        import vapoursynth as vs

        rows.append(("vapoursynth", f"R{vs.core.core_version.release_major}"))
    except Exception as exc:
        rows.append(("vapoursynth", f"NOT AVAILABLE: {exc}"))
    try:
        m = GnvcModel.from_pretrained()
        rows.append(("default model", f"{m.name} at {default_model_path()} ({len(m.index.rates)} rate points)"))
    except Exception as exc:
        rows.append(("default model", f"NOT LOADABLE: {exc}"))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0


COMMANDS = {
    "encode": cmd_encode,
    "decode": cmd_decode,
    "enhance": cmd_enhance,
    "info": cmd_info,
    "doctor": cmd_doctor,
    "ffmpeg": cmd_ffmpeg,
    "train": cmd_train,
    "demo": cmd_demo,
    "bench": cmd_bench,
}


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if level > logging.DEBUG else "%(name)s: %(message)s"))
    for name in ("vsgnvc", "ffmpeg_bridge"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level)
        log.propagate = False


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; everything after ``gnvc ffmpeg`` goes to ffmpeg untouched (argparse would take
    ffmpeg's ``-i`` for one of ours)."""
    command = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if command is None or argv[command] != "ffmpeg":
        return parser.parse_args(argv)
    args = parser.parse_args(argv[: command + 1])
    args.ffmpeg_args = argv[command + 1 :]
    return args


def _error_text(exc: BaseException) -> str:
    """The message without Python's ``[Errno N]`` prefix: ``PATH: No such file or directory``."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    _setup_logging(args)
    from ffmpeg_bridge import BridgeError, FfmpegError, Y4MError

    from ..bitstream import GNVCFormatError

    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed stdout shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # The reader went away (`gnvc info --json x.gnvc | head -1`, `ffmpeg -frames:v N`): normal for a
        # filter. Stop quietly with the status a SIGPIPE gives other tools; nothing more goes to stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("gnvc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FfmpegError as exc:
        print(f"gnvc: error: {exc}", file=sys.stderr)
        return exc.returncode if getattr(exc, "returncode", 0) else EXIT_USAGE
    except (GNVCFormatError, Y4MError, BridgeError, ValueError, OSError) as exc:  # DeviceError is a ValueError
        print(f"gnvc: error: {_error_text(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
