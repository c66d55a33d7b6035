"""One place that turns user device options into a ``torch.device`` and a dtype."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """The requested device does not exist here."""


def resolve_device(device: str | int | torch.device | None = None) -> torch.device:
    """``None``/"auto": the first CUDA device if any, else CPU; an int: that CUDA device; or a name."""
    if device is None or device == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if isinstance(device, int):
        if device < 0:
            raise DeviceError(f"device index must be >= 0, got {device}")
        if not torch.cuda.is_available():
            raise DeviceError(f"CUDA device {device} requested but CUDA is not available")
        if device >= torch.cuda.device_count():
            raise DeviceError(f"CUDA device {device} requested but only {torch.cuda.device_count()} exist")
        return torch.device("cuda", device)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} requested but CUDA is not available")
    return dev


def compute_dtype(device: torch.device, half: bool | None = None) -> torch.dtype:
    """fp32 on CPU; bf16 on GPU unless ``half`` is False."""
    if device.type == "cpu" or half is False:
        return torch.float32
    return torch.bfloat16
