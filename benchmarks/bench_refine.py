"""Cost of the generative refinement per latent frame and per video frame (default small prior).

Refines a latent sequence of ``--frames`` latent frames (24 = the paper's 96-frame clips) window by window
(``--window 7 --overlap 2``, 5 Euler steps) at the latent sizes of 320x180 and 640x360 video padded to multiples
of 32 pixels (24x40 and 48x80), and reports seconds per window, per latent frame and per video frame (a latent frame
covers 4 video frames). The weights are random: the cost does not depend on them.

Usage::

    .venv/bin/python benchmarks/bench_refine.py [--device cpu] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.windows import plan_windows

logger = logging.getLogger("bench_refine")

VIDEO_FRAMES_PER_LATENT = 4
SIZES = {"320x180": (24, 40), "640x360": (48, 80)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_size(refiner: Refiner, name: str, hw: tuple[int, int], args: argparse.Namespace) -> dict[str, object]:
    device = refiner.device
    gen = torch.Generator().manual_seed(0)
    x_c = torch.randn(1, 16, args.frames, *hw, generator=gen)
    ctx = torch.randn(1, refiner.adapter.config.context_channels, args.frames, *hw, generator=gen)
    plan = plan_windows(args.frames, args.window, args.overlap)
    # Warm-up on one window (allocator, kernels).
    w0 = plan.windows[0]
    refiner.refine(x_c[:, :, w0.start : w0.stop], ctx[:, :, w0.start : w0.stop], seed=0, steps=1)
    times = []
    for _ in range(args.repeat):
        _sync(device)
        start = time.perf_counter()
        refiner.refine_sequence(x_c, ctx, window=args.window, overlap=args.overlap, seed=1, steps=args.steps)
        _sync(device)
        times.append(time.perf_counter() - start)
    total = min(times)
    # One velocity evaluation (prior + adapter) on a full window, for the breakdown.
    velocity = refiner.velocity_fn(x_c[:, :, : args.window], ctx[:, :, : args.window])
    sample = x_c[:, :, : args.window].to(device)
    with torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        velocity(sample, torch.full((1,), 0.3))
        _sync(device)
        step = time.perf_counter() - start
    tokens = args.window * (hw[0] // 2) * (hw[1] // 2)
    result = {
        "video": name,
        "latent_hw": list(hw),
        "latent_frames": args.frames,
        "windows": len(plan.windows),
        "tokens_per_window": tokens,
        "seconds_total": round(total, 3),
        "seconds_per_window": round(total / len(plan.windows), 3),
        "seconds_per_velocity_eval": round(step, 4),
        "seconds_per_latent_frame": round(total / args.frames, 4),
        "seconds_per_video_frame": round(total / (args.frames * VIDEO_FRAMES_PER_LATENT), 4),
        "video_fps": round(args.frames * VIDEO_FRAMES_PER_LATENT / total, 3),
    }
    logger.info("%s", result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--frames", type=int, default=24, help="latent frames per sequence")
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    refiner = Refiner.build().place(None if args.device == "auto" else args.device).eval()
    info = {
        "device": str(refiner.device),
        "dtype": str(refiner.dtype),
        "torch_threads": torch.get_num_threads(),
        "prior_params": sum(p.numel() for p in refiner.prior.parameters()),
        "adapter_params": sum(p.numel() for p in refiner.adapter.parameters()),
        "window": args.window,
        "overlap": args.overlap,
        "steps": args.steps,
    }
    results = [bench_size(refiner, name, SIZES[name], args) for name in args.sizes]
    info["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if refiner.device.type == "cuda":
        info["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated(refiner.device) / 2**20, 1)
    report = {"setup": info, "results": results}
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
