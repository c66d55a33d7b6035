"""Loading weights strictly, including compressai's entropy-coder buffers whose size depends on training."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn


class WeightsError(ValueError):
    """A model component's weights are missing, damaged or of another architecture (the message names the file)."""


# compressai registers these with a placeholder size; the checkpoint holds the real CDF tables.
_RESIZABLE = ("_quantized_cdf", "_offset", "_cdf_length", "_cdf", "scale_table")


def load_state_dict_resizing(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=True)`` after resizing entropy-coder buffers to the checkpoint's."""
    own = module.state_dict()
    for key, value in state.items():
        if key.rsplit(".", 1)[-1] in _RESIZABLE and key in own and own[key].shape != value.shape:
            owner_name, attr = key.rsplit(".", 1)
            owner = module.get_submodule(owner_name)
            getattr(owner, attr).resize_(value.shape)
    module.load_state_dict(state, strict=True)


def weights_hash(files: list[Path]) -> bytes:
    """16-byte identity of a model's weights, recorded in every bitstream it writes."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.digest()[:16]
