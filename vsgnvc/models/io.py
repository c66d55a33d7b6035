"""Loading weights strictly, including the entropy layers' coding tables whose size depends on training."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


class WeightsError(ValueError):
    """A model component's weights are missing, damaged or of another architecture (the message names the file)."""


# The entropy layers register their integer tables empty; the checkpoint holds the real ones.
_RESIZABLE = ("table_freqs", "table_minima", "table_lengths")

# Buffers of compressai's EntropyBottleneck / GaussianConditional (weights written for bitstream
# format 1). The learned parameters have the same names in vsgnvc.entropy; these have no counterpart.
_COMPRESSAI_BUFFERS = (
    "_quantized_cdf",
    "_offset",
    "_cdf_length",
    "likelihood_lower_bound.bound",
    "lower_bound_scale.bound",
    "scale_bound",
    "scale_table",
)


def _is_compressai_buffer(key: str) -> bool:
    return any(key == name or key.endswith("." + name) for name in _COMPRESSAI_BUFFERS)


def is_compressai_state(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` holds compressai's entropy buffers (a codec saved before bitstream format 2)."""
    return any(_is_compressai_buffer(key) for key in state)


def without_compressai_tables(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with compressai's entropy buffers dropped: it then loads into our entropy layers
    with empty coding tables, which ``update()`` rebuilds from the (identically named) density parameters."""
    return {k: v for k, v in state.items() if not _is_compressai_buffer(k)}


def load_state_dict_resizing(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=True)`` after resizing the coding-table buffers to the checkpoint's.

    A compressai-era state (training checkpoints from before format 2) loads without its tables;
    ``update()`` rebuilds them.
    """
    own = module.state_dict()
    if is_compressai_state(state):
        state = without_compressai_tables(state)
        state.update({k: v for k, v in own.items() if k.rsplit(".", 1)[-1] in _RESIZABLE and k not in state})
    for key, value in state.items():
        if key.rsplit(".", 1)[-1] in _RESIZABLE and key in own and own[key].shape != value.shape:
            owner_name, attr = key.rsplit(".", 1)
            owner = module.get_submodule(owner_name)
            getattr(owner, attr).resize_(value.shape)
    module.load_state_dict(state, strict=True)


def save_config_and_weights(
    module: nn.Module, folder: Path | str, weights_name: str, dtype: torch.dtype | None = None
) -> Path:
    """Write a ``ConfigMixin`` module's ``config.json`` and its state dict (cast to ``dtype`` if given) as
    safetensors into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    module.save_config(folder)  # type: ignore[attr-defined]
    state = {k: v.detach().cpu().to(dtype or v.dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(folder / weights_name))
    return folder


def weights_hash(files: list[Path], syntax: bytes = b"") -> bytes:
    """16-byte identity of a model's weights, recorded in every bitstream it writes; ``syntax`` adds coding
    options that change what the strings mean without changing the weights."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    h.update(syntax)
    return h.digest()[:16]
