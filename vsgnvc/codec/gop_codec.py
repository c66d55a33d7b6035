"""Code one GOP: frames -> VAE latents -> contextual latent codec -> strings, and back.

The encoder and the decoder call the same functions on the same tensor shapes, so the encoder's
reconstruction equals the decoder's output bit for bit. With copy blocks (the codec's ``pixel_copy_block``,
:mod:`.block_copy`) each inter frame's strings end with its copy field, and the output frames are composed
from the decoded ones and the fields, frame after frame (:func:`latents_to_rgb`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.bundle import GnvcModel
from ..models.latent_codec import FrameCode, FramePlan
from . import block_copy
from .block_copy import CopyField
from .presets import NO_SEARCH, SymbolSearch
from .symbol_search import search_symbols, searchable


@dataclass(frozen=True)
class DecodedLatents:
    """A GOP's decoded latent sequence and its context features (what the refiner consumes), and the inter
    frames' copy fields when the codec has copy blocks (``None`` for the intra frame; empty without)."""

    latents: torch.Tensor  # [1, C, T, h, w]
    context: torch.Tensor  # [1, C_ctx, T, h, w]
    copies: tuple[CopyField | None, ...] = ()


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


def _stack(codes: list[FrameCode], copies: list[CopyField | None]) -> DecodedLatents:
    return DecodedLatents(
        torch.stack([c.latent for c in codes], dim=2), torch.stack([c.context for c in codes], dim=2), tuple(copies)
    )


def copy_block(model: GnvcModel) -> int:
    """The model's copy cell side in pixels (0: no copy blocks); they need one latent frame per frame."""
    block = int(model.codec.config.get("pixel_copy_block", 0))
    return block if model.vae.temporal_factor == 1 else 0


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
    if copy_block(model):
        return _encode_gop_with_copies(model, rgb, latents, rate, search)
    codes: list[FrameCode] = []
    prev = None
    for t in range(latents.shape[2]):
        plan = model.codec.plan_frame(latents[:, :, t], prev, rate)
        prev = _finish_searched(model, plan, rgb[:, t], search, inter=prev is not None)
        codes.append(prev)
    return tuple(c.strings for c in codes), _stack(codes, [])


def _finish_searched(
    model: GnvcModel, plan: FramePlan, target: torch.Tensor, search: SymbolSearch, inter: bool,
    weight: torch.Tensor | None = None,
) -> FrameCode:
    """``plan`` coded with the symbols the search finds for ``target`` (plainly rounded without iterations)."""
    iterations = search.iterations(inter=inter)
    symbols = search_symbols(model, plan, target, iterations, search.learning_rate, weight) if iterations else None
    return model.codec.finish_frame(plan, symbols)


def _string_bits(strings: tuple[bytes, ...]) -> int:
    return 8 * sum(len(s) for s in strings)


def _encode_gop_with_copies(
    model: GnvcModel, rgb: torch.Tensor, latents: torch.Tensor, rate: int, search: SymbolSearch
) -> tuple[tuple[tuple[bytes, ...], ...], DecodedLatents]:
    """Each inter frame is the cheaper, by bits + lambda x pixels x MSE, of a copy frame (every cell copied, no
    latent) and a latent frame whose cells show the copy or the decode, whichever is closer; the symbol search
    then only weighs the cells that show the decode."""
    codec, block = model.codec, copy_block(model)
    radius = int(codec.config.pixel_copy_search)
    _, _, h, w = rgb.shape
    lam = float(codec.config.rate_lambdas[rate]) * h * w
    bits_per_sse = lam / (12 * h * w)  # lambda x MSE of [-1, 1] pixels over 3 channels, per unit of a cell's SSE

    def shown(code: FrameCode) -> torch.Tensor:
        return model.vae.decode(code.latent[:, :, None], rate)[0, :, 0]

    def cost(strings: tuple[bytes, ...], image: torch.Tensor, target: torch.Tensor) -> float:
        return _string_bits(strings) + lam * float((image - target).div(2).pow(2).mean())

    prev = _finish_searched(model, codec.plan_frame(latents[:, :, 0], None, rate), rgb[:, 0], search, inter=False)
    output = shown(prev)
    codes, strings, copies = [prev], [prev.strings], [None]
    field: CopyField | None = None
    for t in range(1, latents.shape[2]):
        target = rgb[:, t]
        vectors, copy_sse = block_copy.search_vectors(output, target, block, radius, bits_per_sse)
        plan = codec.plan_frame(latents[:, :, t], prev, rate)
        code = codec.finish_frame(plan)
        decoded = shown(code)
        copied = block_copy.choose_cells(copy_sse, block_copy.block_sse(decoded, target, block), bits_per_sse)
        if search.iterations(inter=True):
            weight = block_copy.decoded_weight(copied, h, w, block)
            code = _finish_searched(model, plan, target, search, inter=True, weight=weight)
            decoded = shown(code)
            copied = block_copy.choose_cells(copy_sse, block_copy.block_sse(decoded, target, block), bits_per_sse)
        mixed_field = CopyField(copied, vectors)
        mixed_strings = (*code.strings, block_copy.compress_field(mixed_field, field, radius))
        mixed = block_copy.compose(output, decoded, mixed_field, block)
        copy_field = CopyField(torch.ones_like(copied), vectors)
        copy_strings = (*(b"" for _ in code.strings), block_copy.compress_field(copy_field, field, radius))
        copied_frame = block_copy.move_blocks(output, vectors, block)
        if cost(copy_strings, copied_frame, target) < cost(mixed_strings, mixed, target):
            field, output, frame_strings = copy_field, copied_frame, copy_strings
        else:
            prev, field, output, frame_strings = code, mixed_field, mixed, mixed_strings
        codes.append(prev)
        strings.append(frame_strings)
        copies.append(field)
    return tuple(strings), _stack(codes, copies)


@torch.inference_mode()
def decode_gop_latents(
    model: GnvcModel, latent_frames: tuple[tuple[bytes, ...], ...], latent_size: tuple[int, int], rate: int
) -> DecodedLatents:
    block = copy_block(model)
    if block:
        height, width = (side * model.vae.spatial_factor for side in latent_size)
        shape, radius = block_copy.grid_shape(height, width, block), int(model.codec.config.pixel_copy_search)
    codes: list[FrameCode] = []
    copies: list[CopyField | None] = []
    prev, field = None, None
    for strings in latent_frames:
        if block and prev is not None:
            if not strings:
                raise ValueError("inter frame without strings (expected its copy field last)")
            field = block_copy.decompress_field(strings[-1], shape, field, radius)
            copies.append(field)
            if field.whole_frame:
                if any(strings[:-1]):
                    raise ValueError("copy frame with latent strings")
                codes.append(prev)  # the latent chain stays where it was
                continue
            strings = strings[:-1]
        elif block:
            copies.append(None)
        prev = model.codec.decompress_frame(strings, latent_size, prev, rate)
        codes.append(prev)
    return _stack(codes, copies)


@torch.inference_mode()
def latents_to_rgb(
    model: GnvcModel, latents: torch.Tensor, rate: int | None, copies: tuple[CopyField | None, ...] = ()
) -> torch.Tensor:
    """``[1, C, T, h, w]`` -> ``[3, 1 + (T - 1) * temporal_factor, H, W]`` in [-1, 1].

    ``rate``: the rate point the latents were coded at (the autoencoder may have a decoder for it), ``None``
    for latents that were not coded. ``copies``: the GOP's copy fields (:class:`DecodedLatents`); each frame
    with one is composed from the previous output frame and its own decode.
    """
    if not copies:
        return model.vae.decode(latents, rate)[0]
    if len(copies) != latents.shape[2]:
        raise ValueError(f"{len(copies)} copy fields for {latents.shape[2]} frames")
    if copies[0] is not None:
        raise ValueError("a GOP's first frame is intra: it has no copy field")
    # Whole-frame copies show no part of their latent's decode: only the other frames are decoded.
    shown = [t for t, field in enumerate(copies) if field is None or not field.whole_frame]
    decoded = dict(zip(shown, model.vae.decode(latents[:, :, shown], rate)[0].unbind(1)))
    block = copy_block(model)
    frames: list[torch.Tensor] = []
    for t, field in enumerate(copies):
        if field is None:
            frames.append(decoded[t])
        elif field.whole_frame:
            frames.append(block_copy.move_blocks(frames[-1], field.vectors, block))
        else:
            frames.append(block_copy.compose(frames[-1], decoded[t], field, block))
    return torch.stack(frames, 1)
