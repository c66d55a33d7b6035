"""The video diffusion prior: an unmodified diffusers Wan2.1 transformer plus a learned null text embedding.

The prior is diffusers' :class:`~diffusers.WanTransformer3DModel`, either built from a small config of ours (trained
from scratch, no pretrained small Wan exists) or loaded unchanged from a diffusers-format Wan2.1 folder. There is no
text encoder anywhere: the text tokens the cross-attention layers expect are a learned
:class:`NullTextEmbedding` saved in our checkpoint, never in the Wan folder.

Conventions (diffusers / Wan): ``sigma = 1 - t`` (``sigma = 1`` is noise), the model input ``timestep`` is
``sigma * 1000`` and the model output is ``d x / d sigma`` (noise minus data on a straight path).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import ConfigMixin, ModelMixin, WanTransformer3DModel
from diffusers.configuration_utils import register_to_config
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed
from diffusers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFETENSORS_WEIGHTS_NAME
from safetensors.torch import load_file
from torch import nn

from .io import WeightsError

logger = logging.getLogger(__name__)

#: Default prior of ours: CPU-cheap (about 0.3 M parameters), same layout as Wan2.1 (16 latent channels,
#: patch (1, 2, 2)), so a pretrained Wan2.1 transformer can replace it without touching the adapter code.
SMALL_PRIOR_CONFIG: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 2,
    "attention_head_dim": 32,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 32,
    "freq_dim": 64,
    "ffn_dim": 256,
    "num_layers": 4,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
}

#: The shape of Wan2.1-T2V-1.3B's transformer (``Wan-AI/Wan2.1-T2V-1.3B-Diffusers/transformer/config.json``).
#: Only used to check that our code runs on a model of that shape (on the ``meta`` device); weights come from disk.
WAN21_T2V_1_3B_CONFIG: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
}

#: ``block_residual(index, tokens) -> residual | None``: what :func:`wan_forward` adds to block ``index``'s output.
BlockResidual = Callable[[int, torch.Tensor], torch.Tensor | None]

_WAN_CLASS = "WanTransformer3DModel"


class PriorError(ValueError):
    """A prior folder or transformer that vsgnvc cannot use."""


def build_prior(config: Mapping[str, Any] | None = None) -> WanTransformer3DModel:
    """Build a freshly initialised Wan transformer (``SMALL_PRIOR_CONFIG`` updated with ``config``)."""
    kwargs = {**SMALL_PRIOR_CONFIG, **(config or {})}
    kwargs["patch_size"] = tuple(kwargs["patch_size"])
    transformer = WanTransformer3DModel(**kwargs)
    check_prior(transformer)
    return transformer


def _find_transformer_folder(path: Path) -> tuple[Path, str | None]:
    """Return ``(root, subfolder)`` of a diffusers Wan transformer inside ``path`` (itself or ``transformer/``)."""
    for root, subfolder in ((path, None), (path, "transformer")):
        config_file = root / subfolder / "config.json" if subfolder else root / "config.json"
        if not config_file.is_file():
            continue
        try:
            class_name = json.loads(config_file.read_text()).get("_class_name")
        except (OSError, json.JSONDecodeError) as exc:
            raise PriorError(f"prior config {config_file} is not readable JSON: {exc}") from exc
        if class_name == _WAN_CLASS:
            return root, subfolder
    raise PriorError(f"{path} holds no diffusers {_WAN_CLASS} (looked for config.json and transformer/config.json)")


def load_prior(path: Path | str) -> WanTransformer3DModel:
    """Load a diffusers-format Wan2.1 text-to-video transformer unchanged (strictly), frozen, in eval mode, float32.

    Args:
        path (`Path`): a transformer folder (``config.json`` + safetensors, single or sharded) or a whole diffusers Wan
            pipeline folder, whose ``transformer/`` subfolder is then used.
    """
    path = Path(path)
    if not path.is_dir():
        raise PriorError(f"prior folder {path} does not exist")
    root, subfolder = _find_transformer_folder(path)
    transformer = load_pretrained_strict(WanTransformer3DModel, root / subfolder if subfolder else root)
    check_prior(transformer)
    logger.debug(
        "loaded Wan prior from %s (%d layers, dim %d)", path, transformer.config.num_layers, inner_dim(transformer)
    )
    return freeze(transformer)


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    single = folder / SAFETENSORS_WEIGHTS_NAME
    if single.is_file():
        return load_file(single)
    index = folder / SAFE_WEIGHTS_INDEX_NAME
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            state.update(load_file(folder / shard))
        return state
    raise FileNotFoundError(f"{folder} has no {SAFETENSORS_WEIGHTS_NAME} (or sharded index)")


def load_pretrained_strict(cls: type[ModelMixin], folder: Path | str) -> Any:
    """Load a diffusers ``ModelMixin`` folder with every weight accounted for, without ``accelerate``.

    ``ModelMixin.from_pretrained`` needs ``accelerate`` for models that keep modules in float32 (Wan does) and only
    warns about missing weights. Here the model is built on the ``meta`` device (no random init of a 1.3B model),
    the weights are assigned with ``strict=True``, and float parameters are made float32; Wan's rotary tables (not
    in the checkpoint) are rebuilt on the CPU.
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json")
    config = cls.load_config(folder)
    with torch.device("meta"):
        model = cls.from_config(config)
    state = _read_weights(folder)
    for pattern in getattr(cls, "_keys_to_ignore_on_load_unexpected", None) or ():
        state = {k: v for k, v in state.items() if re.search(pattern, k) is None}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[:3]
        raise WeightsError(f"weights in {folder} do not match {cls.__name__}: {' '.join(first)}") from exc
    for name, module in model.named_modules():
        if isinstance(module, WanRotaryPosEmbed):
            rebuilt = WanRotaryPosEmbed(module.attention_head_dim, module.patch_size, module.max_seq_len)
            model.set_submodule(name, rebuilt)
    for param in model.parameters():
        if param.is_floating_point() and param.dtype != torch.float32:
            param.data = param.data.float()
    leftovers = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if leftovers:
        raise WeightsError(f"{cls.__name__} from {folder}: tensors not materialised: {leftovers[:5]}")
    return model.eval()


def check_prior(transformer: nn.Module) -> None:
    """Raise :class:`PriorError` unless ``transformer`` is a Wan2.1-style text-to-video transformer we can drive."""
    if not isinstance(transformer, WanTransformer3DModel):
        raise PriorError(f"prior must be a diffusers {_WAN_CLASS}, got {type(transformer).__name__}")
    cfg = transformer.config
    if cfg.image_dim is not None or cfg.added_kv_proj_dim is not None:
        raise PriorError("prior must be a text-to-video Wan transformer (image_dim and added_kv_proj_dim must be None)")
    if cfg.in_channels != cfg.out_channels:
        raise PriorError(f"prior in_channels {cfg.in_channels} != out_channels {cfg.out_channels}")


def inner_dim(transformer: WanTransformer3DModel) -> int:
    """Token width of the transformer blocks."""
    return int(transformer.config.num_attention_heads * transformer.config.attention_head_dim)


def freeze(module: nn.Module) -> nn.Module:
    """Switch off gradients and put ``module`` in eval mode; returns it."""
    module.requires_grad_(False)
    module.eval()
    return module


def cast_module(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast floating parameters and buffers to ``dtype``, except the modules the model keeps in float32.

    ``nn.Module.to(dtype)`` would also cast Wan's rotary tables (float64 buffers) and its modulation tables to
    bfloat16; diffusers' ``_keep_in_fp32_modules`` names what must stay exact, and this honours it.
    """
    keep: set[str] = set()
    for sub in module.modules():
        keep.update(getattr(sub, "_keep_in_fp32_modules", None) or ())
    for name, sub in module.named_modules():
        for pname, param in sub.named_parameters(recurse=False):
            if _castable(f"{name}.{pname}", param, dtype, keep):
                param.data = param.data.to(dtype)
        for bname, buf in sub.named_buffers(recurse=False):
            if _castable(f"{name}.{bname}", buf, dtype, keep):
                setattr(sub, bname, buf.to(dtype))
    return module


def _castable(qualified_name: str, tensor: torch.Tensor, dtype: torch.dtype, keep: set[str]) -> bool:
    if not tensor.is_floating_point() or tensor.dtype == dtype:
        return False
    return not any(part in keep for part in qualified_name.split("."))


class NullTextEmbedding(ModelMixin, ConfigMixin):
    """Learned stand-in for the text encoder output that Wan's cross-attention consumes.

    Initialised to zeros: Wan pads prompts with zero vectors, so zeros are close to what the prior saw for an
    empty prompt; with identical tokens the cross-attention result does not depend on ``num_tokens``.

    Args:
        num_tokens (`int`, *optional*, defaults to 16): sequence length ``L`` of the embedding.
        text_dim (`int`, *optional*, defaults to 32): must equal the prior's ``text_dim``.
    """

    @register_to_config
    def __init__(self, num_tokens: int = 16, text_dim: int = 32) -> None:
        super().__init__()
        if num_tokens < 1 or text_dim < 1:
            raise ValueError(f"num_tokens and text_dim must be positive, got {num_tokens}, {text_dim}")
        self.embedding = nn.Parameter(torch.zeros(1, num_tokens, text_dim))

    def forward(self, batch_size: int) -> torch.Tensor:
        """``[batch_size, num_tokens, text_dim]``."""
        return self.embedding.expand(batch_size, -1, -1)


def wan_forward(
    transformer: WanTransformer3DModel,
    hidden_states: torch.Tensor,
    timestep: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    block_residual: BlockResidual | None = None,
) -> torch.Tensor:
    """Wan2.1 forward pass with an optional residual added to every block's output tokens.

    Same operations, in the same order, as ``WanTransformer3DModel.forward`` for text-to-video inputs (a test checks
    bit equality), written as an explicit loop over ``transformer.blocks`` so that adapters need no hooks: nothing is
    stored on the shared module, so concurrent calls from several threads and gradient checkpointing are safe.

    Args:
        transformer (`WanTransformer3DModel`): the prior, unmodified.
        hidden_states (`torch.Tensor` of shape `[B, C, T, h, w]`): noisy latents.
        timestep (`torch.Tensor` of shape `[B]`): ``sigma * 1000``.
        encoder_hidden_states (`torch.Tensor` of shape `[B, L, text_dim]`): text tokens (our null embedding).
        block_residual (`BlockResidual`, *optional*): called after block ``i`` with its output tokens
            ``[B, N, D]``; a returned tensor is added to them.

    Returns:
        `torch.Tensor` of shape `[B, C, T, h, w]`: the velocity ``d x / d sigma``.
    """
    batch_size, _, num_frames, height, width = hidden_states.shape
    p_t, p_h, p_w = transformer.config.patch_size
    if num_frames % p_t or height % p_h or width % p_w:
        raise ValueError(f"latent size {num_frames}x{height}x{width} is not a multiple of patch size {(p_t, p_h, p_w)}")
    post_t, post_h, post_w = num_frames // p_t, height // p_h, width // p_w

    rotary_emb = transformer.rope(hidden_states)
    tokens = transformer.patch_embedding(hidden_states).flatten(2).transpose(1, 2).contiguous()
    temb, timestep_proj, encoder_hidden_states, _ = transformer.condition_embedder(
        timestep, encoder_hidden_states, None, timestep_seq_len=None
    )
    timestep_proj = timestep_proj.unflatten(1, (6, -1))

    checkpointing = torch.is_grad_enabled() and transformer.gradient_checkpointing
    for index, block in enumerate(transformer.blocks):
        if checkpointing:
            tokens = transformer._gradient_checkpointing_func(
                block, tokens, encoder_hidden_states, timestep_proj, rotary_emb
            )
        else:
            tokens = block(tokens, encoder_hidden_states, timestep_proj, rotary_emb)
        if block_residual is not None:
            residual = block_residual(index, tokens)
            if residual is not None:
                tokens = tokens + residual.to(tokens.dtype)

    shift, scale = (transformer.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
    shift = shift.to(tokens.device)
    scale = scale.to(tokens.device)
    tokens = (transformer.norm_out(tokens.float()) * (1 + scale) + shift).type_as(tokens)
    tokens = transformer.proj_out(tokens)
    tokens = tokens.reshape(batch_size, post_t, post_h, post_w, p_t, p_h, p_w, -1)
    tokens = tokens.permute(0, 7, 1, 4, 2, 5, 3, 6)
    return tokens.flatten(6, 7).flatten(4, 5).flatten(2, 3)
