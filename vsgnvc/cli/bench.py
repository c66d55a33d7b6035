"""``gnvc bench``: rate-distortion-perception benchmark against x264, x265, SVT-AV1 and VVenC.

    gnvc bench --out runs/bench                      # the held-out clip list at 320x180 and 640x360, 97 frames
    gnvc bench bikes lego_robot --size 320x180 --frames 49 --codecs x265,vvenc --out runs/quick
    gnvc bench my_clip.mp4 --model runs/m/export --rates 0,2,4 --out runs/mine
    gnvc bench --report runs/bench                   # regenerate CSV, plots and summary.md from results.json

Progress goes to stderr; nothing is written to stdout. See :mod:`vsgnvc.eval.bench` for the protocol.
Exit code 0 when every clip was measured, 1 when some failed (they are listed in results.json and
summary.md; the others are complete), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..codec.presets import DEFAULT_PRESET
from . import options

logger = logging.getLogger(__name__)

EXIT_FAILURES = 1


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    sizes = []
    for part in text.split(","):
        w, sep, h = part.strip().lower().partition("x")
        if not sep or not w.isdigit() or not h.isdigit():
            raise ValueError(f"--size must look like 320x180[,640x360], got {text!r}")
        sizes.append((int(w), int(h)))
    return tuple(sizes)


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``bench`` sub-command on ``gnvc``'s sub-parsers."""
    p = sub.add_parser("bench", help="RD-perception benchmark vs x264/x265/SVT-AV1/VVenC, with speed and memory",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("clips", nargs="*", metavar="CLIP",
                   help="benchmark clip names (bikes, his_girl_friday, ...) or video files; default: the held-out "
                        "list in vsgnvc.eval.clips")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="run folder (required unless --report)")
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="only regenerate points.csv, bd_rate.csv, plots and summary.md from RUN_DIR/results.json",
    )
    p.add_argument("--size", default="320x180,640x360", help="evaluation sizes WxH, comma separated")
    p.add_argument("--frames", type=int, default=97, help="frames per clip (default 97)")
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped model)")
    p.add_argument("--rates", default="", help="our rate indices, comma separated (default: all)")
    p.add_argument("--codecs", default="x264,x265,svtav1,vvenc", help="baselines, comma separated ('' for none)")
    p.add_argument("--anchors", default="x265,vvenc", help="baselines BD-rates are computed against")
    p.add_argument("--gop", type=int, default=None, help="GOP length for every codec (default: the model's; 1 + 4k for Wan-VAE models)")
    p.add_argument("--tol", type=float, default=0.10, help="bit-rate matching tolerance (default 0.10)")
    p.add_argument("--no-refine-variant", action="store_true", help="skip the decode with generative refinement")
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"our encoder preset: fast, medium or slow (default {DEFAULT_PRESET})")
    p.add_argument(
        "--no-ceiling", action="store_true", help="skip the autoencoder-only ceiling (the model's autoencoder alone)"
    )
    p.add_argument("--no-vmaf", action="store_true", help="skip VMAF")
    p.add_argument("--device", default=None, help="device for our codec: cpu, cuda, cuda:N (default: CUDA if present)")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run our codec in this process (faster start; RSS figures then include the driver)",
    )
    p.add_argument("--allow-upscale", action="store_true", help="also evaluate clips at sizes above their source")
    p.add_argument("--keep-decoded", action="store_true", help="keep decoded y4m files under RUN_DIR/work")
    p.add_argument("--resume", action="store_true",
                   help="keep the finished clips of RUN_DIR/results.json (same settings) and run the rest")  # fmt: skip
    p.add_argument("--media-dir", type=Path, default=None, help="shared media folder of the benchmark clips")
    return p


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark (or only its report) from parsed ``gnvc bench`` arguments."""
    from ..eval.errors import EvalError

    try:
        return _run(args)
    except EvalError as exc:  # a failure outside any one clip (e.g. the ffmpeg binary is unusable)
        raise ValueError(str(exc)) from exc


def _run(args: argparse.Namespace) -> int:
    from ..eval.bench import BenchConfig, run_bench
    from ..eval.report import write_report

    if args.report is not None:
        if args.clips or args.out is not None:
            raise ValueError("--report regenerates an existing run; give no clips and no --out")
        write_report(args.report)
        logger.info("report regenerated in %s", args.report)
        return 0
    if args.out is None:
        raise ValueError("give a run folder: --out RUN_DIR (or --report RUN_DIR)")
    if args.model is not None and not args.model.is_dir():
        raise ValueError(f"--model {args.model} is not a folder")
    options.preset(args.preset)
    cfg = BenchConfig(
        out=args.out,
        clips=tuple(args.clips),
        sizes=_sizes(args.size),
        frames=args.frames,
        model=args.model,
        rates=_ints(args.rates, "--rates"),
        codecs=_names(args.codecs),
        refine=not args.no_refine_variant,
        preset=args.preset,
        ceiling=not args.no_ceiling,
        gop=args.gop,
        tol=args.tol,
        device=args.device,
        with_vmaf=not args.no_vmaf,
        isolate=not args.in_process,
        allow_upscale=args.allow_upscale,
        keep_decoded=args.keep_decoded,
        media_dir=args.media_dir,
        anchors=_names(args.anchors),
        resume=args.resume,
    )
    doc = run_bench(cfg)
    logger.info(
        "bench: %d points, %d failures in %.0f s; summary in %s",
        len(doc["points"]), len(doc["failures"]), doc.get("elapsed_s", 0.0), args.out / "summary.md",
    )  # fmt: skip
    return EXIT_FAILURES if doc["failures"] else 0
