"""Speed, memory and rate of our codec per rate point: encode / decode fps and peak RSS at 320x180 and 640x360.

For each size a fresh worker process (:func:`vsgnvc.eval.codec_run.run_codec_subprocess`) loads the model,
warms up on 5 frames, then encodes the clip at every rate point and decodes it without and with generative
refinement; each phase is timed and gets its own peak RSS (and CUDA peak on GPU). bpp is measured on the
``.gnvc`` bytes. No quality metric is computed here: ``gnvc bench`` does that.

Usage::

    .venv/bin/python benchmarks/bench_codec.py                        # shipped model, bigbuckbunny, 49 frames
    .venv/bin/python benchmarks/bench_codec.py --model runs/x/export --sizes 320x180 --frames 25 --no-refine

Writes ``results.json`` and ``results.md`` to ``--out`` (default ``out/bench_codec``) and the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vsgnvc.eval import load_benchmark_clip, load_clip
from vsgnvc.eval.codec_run import CodecJob, CodecRun, run_codec_subprocess
from vsgnvc.models.bundle import default_model_path

logger = logging.getLogger("bench_codec")


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def _table(results: dict[str, CodecRun], frames: dict[str, int]) -> str:
    lines = [
        "| size | frames | rate | bpp | encode fps | decode fps | decode+refine fps "
        "| peak RSS enc / dec / refine (MiB) | CUDA peak enc / dec / refine (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, run in results.items():
        for r in run.runs:
            ref = r.refine
            cuda = [u.cuda_peak_mb for u in (r.encode, r.decode, ref) if u is not None]
            lines.append(
                f"| {size} | {frames[size]} | {r.rate} | {r.bpp:.4f} | {r.encode.fps:.2f} | {r.decode.fps:.2f} "
                f"| {f'{ref.fps:.2f}' if ref else '-'} "
                f"| {r.encode.peak_rss_mb:.0f} / {r.decode.peak_rss_mb:.0f} / "
                f"{f'{ref.peak_rss_mb:.0f}' if ref else '-'} "
                f"| {' / '.join(f'{c:.0f}' for c in cuda if c is not None) or '-'} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped model)")
    p.add_argument("--clip", default="bigbuckbunny", help="benchmark clip name or a video file (>= 640x360)")
    p.add_argument("--sizes", default="320x180,640x360")
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--rates", default="", help="comma list (default: all)")
    p.add_argument("--no-refine", action="store_true", help="skip the decode with refinement")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=Path("out/bench_codec"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    logging.getLogger("vsgnvc").setLevel(logging.INFO)
    rates = tuple(int(r) for r in args.rates.split(",") if r.strip())
    results: dict[str, CodecRun] = {}
    frames: dict[str, int] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-codec-") as tmp:
        for size_text in args.sizes.split(","):
            size = _size(size_text)
            if Path(args.clip).is_file():
                clip = load_clip(Path(args.clip), size=size, num_frames=args.frames)
            else:
                clip = load_benchmark_clip(args.clip, num_frames=args.frames, size=size)
            source = clip.to_y4m(Path(tmp) / f"{clip.name}_{size_text}.y4m")
            label = f"{size[0]}x{size[1]}"
            logger.info("%s: %d frames of %s", label, clip.num_frames, clip.name)
            job = CodecJob(source, Path(tmp) / label, args.model, rates, refine=not args.no_refine, device=args.device)
            results[label] = run_codec_subprocess(job)
            frames[label] = clip.num_frames
    run0 = next(iter(results.values()))
    doc = {
        "model": run0.model_name,
        "model_path": str(args.model or default_model_path()),
        "clip": args.clip,
        "device": run0.device,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": time.perf_counter() - t0,
        "sizes": {k: v.to_dict() for k, v in results.items()},
    }
    table = _table(results, frames)
    header = (
        f"{run0.model_name} on {run0.device} ({os.cpu_count()} CPUs, load average {doc['load_average']}), "
        f"clip {args.clip}; model load {run0.load_seconds:.1f} s, RSS with model {run0.rss_after_load_mb:.0f} MiB.\n\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in (("results.json", json.dumps(doc, indent=1)), ("results.md", header + table + "\n")):
        tmp_path = args.out / f".{name}.tmp"
        tmp_path.write_text(text)
        os.replace(tmp_path, args.out / name)
    sys.stdout.write(header + table + "\n")
    logger.info("done in %.0f s; results in %s", doc["elapsed_s"], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
