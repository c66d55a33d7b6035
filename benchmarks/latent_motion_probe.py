"""Would motion compensation pay in the TAEF2 latent? Naive closed-loop coding with and without it.

Each clip's TAEF2 latents are cut into 2x2 patches and rotated into the clip's own principal basis; frame 0 is
quantised with a uniform step, every later frame codes its difference from a prediction made from the previous
*decoded* latent, with a zero bin of ``|v| < 1`` step. The prediction is either that latent as it is, or, per
2x2-patch block (16x16 pixels), the best of its shifts by whole latent pixels in ``-range..range`` (chosen by
the residual's L1 norm). Rates are zero-order entropies (per coefficient for residuals, one alphabet for the
vectors): optimistic for both, so the comparison is what counts. PSNR-RGB of the decoded frames.

Measured (17 frames at 320x176, steps 1.5 / 3): motion compensation halves bikes' P-frame residual at step 1.5
(0.069 -> 0.032 bpp at equal PSNR), saves 7-10 % on crystal_toy and his_girl_friday, and its vectors cost
0.004-0.012 bpp.

``--pixel-range R`` adds a prediction made in pixels: the previous decoded frame, warped by one whole-pixel shift
per block (``--block``, least L1 against the source) and re-encoded by TAEF2. Measured (``--pixel-range 8``):
worse everywhere. Re-encoding a decoded frame does not give back its latent, so even without motion (``px0``)
quality falls through the GOP (crystal_toy step 3: 23.3 -> 13.3 dB over 17 frames) and residuals grow (bikes step
1.5: 0.095 bpp against 0.069 for the latent itself); with motion the vectors alone cost 0.023-0.029 bpp.

Usage::

    .venv/bin/python benchmarks/latent_motion_probe.py bikes his_girl_friday crystal_toy --frames 17
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vsgnvc.eval.clips import load_benchmark_clip
from vsgnvc.eval.metrics import psnr_rgb
from vsgnvc.models.frame_autoencoder import load_taesd_checkpoints
from vsgnvc.models.latent_codec import PatchTransform
from vsgnvc.train.patch_statistics import patch_basis

TAEF2 = Path(__file__).resolve().parents[2] / "shared" / "models" / "taef2"
WIDTH, HEIGHT = 320, 176


def zero_order_bits(symbols: np.ndarray) -> float:
    """Sum over columns of ``[n, k]`` of the column's empirical entropy times n."""
    total = 0.0
    for column in symbols.T:
        _, counts = np.unique(column, return_counts=True)
        total += -(counts * np.log2(counts / counts.sum())).sum()
    return total


def shifted(latent: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``[C, h, w]`` moved by whole latent pixels, borders replicated."""
    h, w = latent.shape[-2:]
    rows = (torch.arange(h) - dy).clamp(0, h - 1)
    cols = (torch.arange(w) - dx).clamp(0, w - 1)
    return latent[:, rows][:, :, cols]


def block_motion(current: torch.Tensor, reference: torch.Tensor, search: int, block: int) -> tuple[torch.Tensor, np.ndarray]:
    """``reference`` ``[3, H, W]`` warped toward ``current`` by one whole-pixel shift per block (least L1), and the choices."""
    shifts = [(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)]
    candidates = torch.stack([shifted(reference, dy, dx) for dy, dx in shifts])
    cost = torch.nn.functional.avg_pool2d((candidates - current[None]).abs().sum(1, keepdim=True), block)[:, 0]
    choice = cost.argmin(0)
    per_pixel = choice.repeat_interleave(block, 0).repeat_interleave(block, 1)
    index = per_pixel[None, None].expand(1, 3, -1, -1)
    return torch.gather(candidates, 0, index)[0], choice.flatten().numpy()


@torch.no_grad()
def code_clip(
    latents: torch.Tensor, step: float, search: int, decode, pixel=None
) -> tuple[float, float, float, list[float]]:
    """(intra bits, mean P residual bits, mean vector bits, decoded frames) of closed-loop coding.

    ``pixel``: ``(frames, encoder, decoder, range, block)`` to predict each frame by re-encoding the previous
    decoded frame warped by block motion in pixels, instead of shifting the latent.
    """
    n = latents.shape[0]
    transform = PatchTransform(latents.shape[1], 2)
    transform.set_basis(*patch_basis(latents.transpose(0, 1)[None], 2))  # the clip's own principal axes
    shifts = [(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)]
    decoded, intra, residuals, vectors = [], None, [], []
    for t in range(n):
        current = transform(latents[t : t + 1])[0]
        if t == 0:
            intra = torch.round(current / step)
            decoded.append(transform.inverse((intra * step)[None])[0])
            continue
        previous = decoded[-1]
        if pixel is not None:
            frames, encoder, decoder, pixel_range, block = pixel
            reference = decoder(previous[None])[0].clamp(0, 1)
            warped, choice = block_motion(frames[t], reference, pixel_range, block)
            prediction = transform(encoder(warped[None]))[0]
            vectors.append(choice)
        else:
            candidates = torch.cat([transform(shifted(previous, dy, dx)[None]) for dy, dx in shifts])
            cost = (current[None] - candidates).abs().sum(1)
            choice = cost.argmin(0)
            prediction = torch.gather(candidates, 0, choice[None, None].expand(1, candidates.shape[1], -1, -1))[0]
            vectors.append(choice.flatten().numpy())
        scaled = (current - prediction) / step
        symbols = torch.where(scaled.abs() > 1.0, torch.round(scaled), torch.zeros_like(scaled))
        residuals.append(symbols)
        decoded.append(transform.inverse((prediction + symbols * step)[None])[0])

    def columns(s: torch.Tensor) -> np.ndarray:
        return s.permute(1, 2, 0).reshape(-1, s.shape[0]).numpy()

    intra_bits = zero_order_bits(columns(intra))
    residual_bits = zero_order_bits(np.concatenate([columns(s) for s in residuals])) / (n - 1) if residuals else 0.0
    moving = search or (pixel is not None and pixel[3])
    vector_bits = zero_order_bits(np.concatenate(vectors)[:, None]) / (n - 1) if moving and vectors else 0.0
    return intra_bits, residual_bits, vector_bits, decode(torch.stack(decoded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", default="1.5,3")
    parser.add_argument("--range", type=int, default=2, dest="search", help="largest shift in latent pixels")
    parser.add_argument("--pixel-range", type=int, default=0, help="also predict by pixel block motion up to this shift")
    parser.add_argument("--block", type=int, default=16, help="pixel block size for --pixel-range")
    args = parser.parse_args()
    torch.set_num_threads(2)
    autoencoder = load_taesd_checkpoints(TAEF2 / "taef2_encoder.pth", TAEF2 / "taef2_decoder.pth")
    pixels = WIDTH * HEIGHT
    for name in args.clips:
        rgb = load_benchmark_clip(name, num_frames=args.frames, size=(WIDTH, HEIGHT)).rgb()
        frames = torch.from_numpy(rgb).float().permute(0, 3, 1, 2) / 255.0
        with torch.no_grad():
            latents = torch.cat([autoencoder.encoder(frames[i : i + 8]) for i in range(0, len(frames), 8)])

        def decode(coded: torch.Tensor) -> list[float]:
            with torch.no_grad():
                out = torch.cat([autoencoder.decoder(coded[i : i + 8]) for i in range(0, len(coded), 8)]).clamp(0, 1)
            decoded = (out.permute(0, 2, 3, 1) * 255).round().byte().numpy()
            return [psnr_rgb(rgb[i : i + 1], decoded[i : i + 1]) for i in range(len(decoded))]

        pixel_modes = [] if not args.pixel_range else [0, args.pixel_range]
        modes = [("--", 0, None), ("mc", args.search, None)] + [
            (f"px{r}", 0, (frames, autoencoder.encoder, autoencoder.decoder, r, args.block)) for r in pixel_modes
        ]
        for step in (float(s) for s in args.steps.split(",")):
            for label, search, pixel in modes:
                intra, residual, vector, psnr = code_clip(latents, step, search, decode, pixel)
                print(
                    f"{name} step {step} {label}: I {intra / pixels:.3f} bpp, "
                    f"P residual {residual / pixels:.4f} + vectors {vector / pixels:.4f} bpp, "
                    f"PSNR-RGB first {psnr[0]:.2f} last {psnr[-1]:.2f} mean {np.mean(psnr):.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
