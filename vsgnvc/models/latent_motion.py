"""Block motion compensation of latent frames: the encoder's vector search, the warp both sides run, and the
coding of the vector field.

An inter frame of the patch codec codes its latent's difference from a *reference*; without motion that is the
previous decoded latent, which leaves a camera pan to be re-coded as new content every frame. With motion the
reference is the previous decoded latent warped by one vector per ``block`` x ``block`` latent cell (quarter
latent-pixel steps, bilinear), searched by the encoder for the least rate-weighted prediction error.

The search first finds the frame's dominant motion (one vector for the whole frame, a pan), then each cell's
vector with its cost counted from the dominant one, so cells that gain little follow the pan. A field is coded as
its most common vector followed by every cell's difference from it, with one Gaussian table of the codec's scale
levels that the encoder picks per frame and names in the string's first byte; an all-zero field is the empty
string.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..entropy.gaussian import GaussianConditional

PRECISION = 4
"""Vector units per latent pixel (a TAEF2 latent pixel is 8 image pixels: 2-pixel steps)."""

MOTION_BLOCKS = (2, 4, 8)
"""Vector cell sides in latent pixels the codec accepts."""

VECTOR_COST_WEIGHT = 8.0
"""How many times its estimated bits a vector difference costs in the search. The rate-weighted error
overstates what a vector saves (inter frames code part of the error anyway): measured on the first GOP of bikes
and his_girl_friday (320x180, 8-latent-pixel cells, rates 0-1), weights 1 / 4 / 16 gave motion fields of 140 /
115 / 70 bits per frame on bikes at about the same PSNR."""

# Table indexes the encoder tries for a field's differences (a handful: the string's first byte names it).
_CANDIDATE_TABLES = (0, 4, 8, 12, 16, 20, 24, 28)


def _grid(vectors: torch.Tensor, size: tuple[int, int], block: int) -> torch.Tensor:
    """Sampling grid ``[N, h, w, 2]`` (grid_sample's normalised coordinates) of per-cell vectors ``[N, 2, bh, bw]``."""
    h, w = size
    n = vectors.shape[0]
    flow = vectors.to(torch.float32).repeat_interleave(block, dim=2).repeat_interleave(block, dim=3)[:, :, :h, :w]
    flow = flow / PRECISION
    ys = torch.arange(h, dtype=torch.float32, device=vectors.device).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32, device=vectors.device).view(1, 1, w)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    return torch.stack([gx.expand(n, h, w), gy.expand(n, h, w)], dim=-1)


def warp(reference: torch.Tensor, vectors: torch.Tensor, block: int) -> torch.Tensor:
    """``reference`` ``[N, C, h, w]`` moved by ``vectors`` ``[N, 2, bh, bw]`` ((x, y) in 1/PRECISION latent pixels):
    output pixel p reads the reference at p + vector (bilinear, edges replicated)."""
    if not bool(vectors.any()):
        return reference
    grid = _grid(vectors, reference.shape[-2:], block).to(reference.dtype)
    return F.grid_sample(reference, grid, mode="bilinear", padding_mode="border", align_corners=True)


def vector_bits(differences: torch.Tensor) -> torch.Tensor:
    """A cost in bits of each cell's vector difference ``[N, 2, bh, bw]`` -> ``[N, bh, bw]`` (about an Elias-gamma
    code, zero nearly free): the search's bias towards the dominant motion, where leaving it gains less than it
    costs."""
    magnitude = differences.abs().to(torch.float32)
    return VECTOR_COST_WEIGHT * torch.where(magnitude > 0, 2.0 * torch.log2(magnitude + 1.0) + 1.0, torch.full_like(magnitude, 0.1)).sum(1)


@torch.no_grad()
def search_vectors(
    current: torch.Tensor,
    reference: torch.Tensor,
    cost: Callable[[torch.Tensor], torch.Tensor],
    block: int,
    search: int,
) -> torch.Tensor:
    """Vectors ``[1, 2, bh, bw]`` (int64) that move ``reference`` onto ``current`` (both ``[1, C, h, w]``).

    ``cost`` maps prediction errors ``[K, C, h, w]`` to a per-cell cost in bits ``[K, bh, bw]``; the vector's own
    cost (:func:`vector_bits`, from the dominant vector) is added. Each search covers whole latent pixels within
    ``search``, then quarter-pixel refinement around the best.
    """
    bh, bw = field_shape(current.shape[-2:], block)
    steps = torch.arange(-search, search + 1, device=current.device) * PRECISION
    whole = torch.cartesian_prod(steps, steps).flip(1).view(-1, 2, 1, 1)  # (x, y) pairs
    fraction = torch.arange(1 - PRECISION, PRECISION, device=current.device)
    offsets = torch.cartesian_prod(fraction, fraction).flip(1).view(-1, 2, 1, 1)
    zero = torch.zeros(1, 2, 1, 1, dtype=torch.int64, device=current.device)
    dominant = _best_of(current, reference, cost, block, whole.expand(-1, 2, bh, bw), zero, whole_frame=True)
    dominant = _best_of(current, reference, cost, block, (dominant + offsets), zero, whole_frame=True)
    best = _best_of(current, reference, cost, block, whole.expand(-1, 2, bh, bw), dominant)
    return _best_of(current, reference, cost, block, best + offsets, dominant)


def _best_of(
    current: torch.Tensor, reference: torch.Tensor, cost: Callable[[torch.Tensor], torch.Tensor], block: int,
    candidates: torch.Tensor, anchor: torch.Tensor, whole_frame: bool = False,
) -> torch.Tensor:
    """The cheapest of ``candidates`` ``[K, 2, bh, bw]`` per cell (or for the whole frame) -> ``[1, 2, bh, bw]``;
    a vector's cost counts from ``anchor``."""
    # Candidates in chunks of about 4 M latent values: a 1080p frame's 49 at once would take 200 MB.
    chunk = max(1, (1 << 22) // reference[0].numel())
    totals = []
    for part in candidates.split(chunk):
        predicted = warp(reference.expand(part.shape[0], -1, -1, -1), part, block)
        totals.append(cost(current - predicted) + vector_bits(part - anchor))
    total = torch.cat(totals)
    if whole_frame:
        total = total.sum(dim=(1, 2), keepdim=True).expand_as(total)
    choice = total.argmin(0)  # [bh, bw]
    return torch.gather(candidates, 0, choice.view(1, 1, *choice.shape).expand(1, 2, -1, -1))


def _most_common(vectors: torch.Tensor) -> torch.Tensor:
    pairs, counts = torch.unique(vectors.flatten(2)[0].T, dim=0, return_counts=True)
    return pairs[counts.argmax()].view(1, 2, 1, 1)


def compress_vectors(vectors: torch.Tensor, coder: GaussianConditional) -> bytes:
    """The string of a vector field ``[1, 2, bh, bw]`` (integers): empty when every vector is zero."""
    if not bool(vectors.any()):
        return b""
    vectors = vectors.to(torch.int64).cpu()
    common = _most_common(vectors)
    symbols = torch.cat([common.flatten(), (vectors - common).flatten()]).double()
    best = b""
    for index in _CANDIDATE_TABLES:
        string = bytes([index]) + coder.compress(symbols, torch.full(symbols.shape, index, dtype=torch.int32))
        if not best or len(string) < len(best):
            best = string
    return best


def decompress_vectors(string: bytes, shape: tuple[int, int], coder: GaussianConditional) -> torch.Tensor:
    """The vector field ``[1, 2, bh, bw]`` (int64) of ``string``; ``ValueError`` for a damaged one."""
    bh, bw = shape
    if not string:
        return torch.zeros(1, 2, bh, bw, dtype=torch.int64)
    index = string[0]
    if index >= coder.table.levels:
        raise ValueError(f"motion string names scale table {index}, the codec has {coder.table.levels}")
    symbols = coder.decompress(string[1:], torch.full((2 + 2 * bh * bw,), index, dtype=torch.int32)).to(torch.int64)
    return symbols[:2].view(1, 2, 1, 1) + symbols[2:].view(1, 2, bh, bw)


def field_shape(latent_size: tuple[int, int], block: int) -> tuple[int, int]:
    h, w = latent_size
    return math.ceil(h / block), math.ceil(w / block)
