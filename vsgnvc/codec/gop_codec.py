"""Code one GOP: frames -> VAE latents -> contextual latent codec -> strings, and back.

The encoder and the decoder call the same functions on the same tensor shapes, so the encoder's
reconstruction equals the decoder's output bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.bundle import GnvcModel
from ..models.latent_codec import FrameCode
from .presets import NO_SEARCH, SymbolSearch
from .symbol_search import search_symbols, searchable


@dataclass(frozen=True)
class DecodedLatents:
    """A GOP's decoded latent sequence and its context features (what the refiner consumes)."""

    latents: torch.Tensor  # [1, C, T, h, w]
    context: torch.Tensor  # [1, C_ctx, T, h, w]


def padded_length(num_frames: int, temporal_factor: int) -> int:
    """Smallest ``1 + k * temporal_factor`` >= ``num_frames``."""
    return 1 + -(-(num_frames - 1) // temporal_factor) * temporal_factor


def pad_frames(rgb: torch.Tensor, height: int, width: int, num_frames: int) -> torch.Tensor:
    """``[3, F, H, W]`` -> ``[3, num_frames, height, width]`` by edge replication (space and time)."""
    _, f, h, w = rgb.shape
    rgb = F.pad(rgb, (0, width - w, 0, height - h), mode="replicate")
    if num_frames > f:
        rgb = torch.cat([rgb, rgb[:, -1:].expand(-1, num_frames - f, -1, -1)], dim=1)
    return rgb


def _stack(codes: list[FrameCode]) -> DecodedLatents:
    return DecodedLatents(
        torch.stack([c.latent for c in codes], dim=2), torch.stack([c.context for c in codes], dim=2)
    )


@torch.no_grad()  # not inference mode: the symbol search takes gradients through the decoder
def encode_gop(
    model: GnvcModel, rgb: torch.Tensor, rate: int, search: SymbolSearch = NO_SEARCH
) -> tuple[tuple[tuple[bytes, ...], ...], DecodedLatents]:
    """``rgb``: ``[3, 1 + k * temporal_factor, H, W]`` padded frames in [-1, 1] on the model's device.

    ``search``: how hard to search each frame's symbols through the decoder (models that support it,
    :func:`~.symbol_search.searchable`; others code plainly)."""
    latents = model.vae.encode(rgb[None])
    if not searchable(model):
        search = NO_SEARCH
    codes: list[FrameCode] = []
    prev = None
    for t in range(latents.shape[2]):
        plan = model.codec.plan_frame(latents[:, :, t], prev, rate)
        iterations = search.iterations(inter=prev is not None)
        symbols = search_symbols(model, plan, rgb[:, t], iterations, search.learning_rate) if iterations else None
        prev = model.codec.finish_frame(plan, symbols)
        codes.append(prev)
    return tuple(c.strings for c in codes), _stack(codes)


@torch.inference_mode()
def decode_gop_latents(
    model: GnvcModel, latent_frames: tuple[tuple[bytes, ...], ...], latent_size: tuple[int, int], rate: int
) -> DecodedLatents:
    codes: list[FrameCode] = []
    prev = None
    for strings in latent_frames:
        prev = model.codec.decompress_frame(strings, latent_size, prev, rate)
        codes.append(prev)
    return _stack(codes)


@torch.inference_mode()
def latents_to_rgb(model: GnvcModel, latents: torch.Tensor, rate: int | None) -> torch.Tensor:
    """``[1, C, T, h, w]`` -> ``[3, 1 + (T - 1) * temporal_factor, H, W]`` in [-1, 1].

    ``rate``: the rate point the latents were coded at (the autoencoder may have a decoder for it), ``None``
    for latents that were not coded.
    """
    return model.vae.decode(latents, rate)[0]
