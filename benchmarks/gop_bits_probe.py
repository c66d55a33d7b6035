"""Where a clip's bits go: per-frame bits (y, hyper-latent z, motion vectors) and PSNR-RGB through the codec's
GOP functions, with the search objective J = bits + lambda x pixels x MSE per frame (lower is better at one rate).

Usage::

    python benchmarks/gop_bits_probe.py bikes --rate 1 --cuts 30             # MODEL_CARD session 14
    python benchmarks/gop_bits_probe.py bikes --rate 1 --start 30 --frames 13 --option inter_step_scale=1.0
    python benchmarks/gop_bits_probe.py bikes --rate 2 --cuts 30 --scale 0.5 --preset fast

Frames are the centre 320x180 of the clip scaled to 180 lines (wider than 320) or to 320 columns; GOPs start
every ``--gop`` frames and at each ``--cuts`` frame, as the encoder places them at scene cuts. ``--scale``
codes a bicubic downscale and scores its bicubic upscale against the full-size frames (bits per full-size pixel).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F

from vsgnvc.codec.gop_codec import encode_gop, latents_to_rgb
from vsgnvc.codec.presets import PRESETS, preset_search
from vsgnvc.eval.clips import DEFAULT_BENCHMARK_CLIPS, benchmark_clip_path
from vsgnvc.models.bundle import GnvcModel
from vsgnvc.train.data import decode_rgb

WIDTH, HEIGHT = 320, 180
DEFAULT_MODEL = os.path.join(os.path.dirname(__file__), "..", "vsgnvc", "weights", "default")


def load_frames(name: str, start: int, count: int) -> torch.Tensor:
    """``[3, count, 180, 320]`` in [-1, 1]: the clip's centre crop from frame ``start``."""
    clips = {c.name: c for c in DEFAULT_BENCHMARK_CLIPS}
    if name not in clips:
        raise SystemExit(f"gop_bits_probe: unknown clip {name!r} (known: {', '.join(clips)})")
    path = benchmark_clip_path(clips[name])
    first = decode_rgb(path, HEIGHT, 1)
    height = HEIGHT if first.shape[2] >= WIDTH else -(-WIDTH * HEIGHT // first.shape[2] // 2) * 2
    rgb = decode_rgb(path, height, start + count)[start:]
    y0, x0 = (rgb.shape[1] - HEIGHT) // 2, (rgb.shape[2] - WIDTH) // 2
    rgb = rgb[:, y0 : y0 + HEIGHT, x0 : x0 + WIDTH]
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(3, 0, 1, 2).float() / 127.5 - 1


def resize(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[3, T, H, W]`` -> ``[3, T, *size]``, bicubic (antialiased when shrinking)."""
    shrink = size[0] < frames.shape[2]
    return F.interpolate(frames.transpose(0, 1), size=size, mode="bicubic", antialias=shrink).transpose(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--rate", type=int, default=1)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--gop", type=int, default=25)
    parser.add_argument("--cuts", default="", help="comma-separated frames (from --start) that start a GOP")
    parser.add_argument("--preset", default="slow", choices=list(PRESETS))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--option", action="append", default=[], help="codec coding option NAME=VALUE")
    parser.add_argument("--quiet", action="store_true", help="only the summary line")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    model = GnvcModel.from_pretrained(args.model)
    if args.option:
        options = dict(o.split("=", 1) for o in args.option)
        model.codec = model.codec.with_coding_options(**{k: float(v) if "." in v else int(v) for k, v in options.items()})
    search = preset_search(args.preset)
    source = load_frames(args.clip, args.start, args.frames)
    coded_size = (round(HEIGHT * args.scale / 2) * 2, round(WIDTH * args.scale / 2) * 2)
    coded = source if args.scale == 1 else resize(source, coded_size)
    m = model.pixel_multiple
    padded = F.pad(coded, (0, -coded_size[1] % m, 0, -coded_size[0] % m), mode="replicate")
    lam = float(model.codec.config.rate_lambdas[args.rate]) * WIDTH * HEIGHT
    cuts = {int(c) for c in args.cuts.split(",") if c}
    bounds = sorted({*range(0, args.frames, args.gop), *cuts, args.frames})
    total_bits, psnrs, cost = 0, [], 0.0
    for g0, g1 in zip(bounds, bounds[1:]):
        strings, decoded = encode_gop(model, padded[:, g0:g1], args.rate, search)
        out = latents_to_rgb(model, decoded.latents, args.rate, decoded.copies)[:, :, : coded_size[0], : coded_size[1]]
        out = (out if args.scale == 1 else resize(out, (HEIGHT, WIDTH))).clamp(-1, 1)
        mse = ((out - source[:, g0:g1]) / 2).pow(2).mean(dim=(0, 2, 3))
        for i, (frame, err) in enumerate(zip(strings, mse.tolist())):
            bits = [8 * len(s) for s in frame] + [0]
            psnr = 10 * np.log10(1 / err)
            total_bits += sum(bits)
            psnrs.append(psnr)
            cost += sum(bits) + lam * err
            if not args.quiet:
                print(f"frame {g0 + i:3d}  y {bits[0]:6d}  z {bits[1]:5d}  mv {bits[2]:4d}  {psnr:.2f} dB", flush=True)
    print(
        f"{args.clip} rate {args.rate} preset {args.preset} scale {args.scale}: "
        f"{total_bits / (args.frames * WIDTH * HEIGHT):.4f} bpp {np.mean(psnrs):.2f} dB J {cost / args.frames:.0f}/frame"
    )


if __name__ == "__main__":
    main()
