"""Parameter checks that need no weights, and one loaded model per (folder, device, precision).

Every filter validates its arguments with these helpers before any weights are read: the model
folder's ``model_index.json`` is enough to check rate points, GOP sizes and whether a refiner exists.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import torch

from ..device import DeviceError, compute_dtype, resolve_device
from ..models.bundle import INDEX_NAME, GnvcModel, ModelIndex, default_model_path
from .errors import gnvc_error

logger = logging.getLogger(__name__)

_models: dict[tuple[Path, str, str], GnvcModel] = {}
_models_lock = threading.Lock()
MAX_MODELS = 4


def check_int(func: str, name: str, value: object, minimum: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise gnvc_error(func, f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise gnvc_error(func, f"{name} must be >= {minimum}, got {value}")
    return value


def model_folder(func: str, model_path: str | os.PathLike[str] | None) -> Path:
    folder = default_model_path() if model_path is None else Path(model_path)
    if not (folder / INDEX_NAME).is_file():
        if model_path is None:
            raise gnvc_error(func, f"the default model is not installed at {folder}; pass model_path=")
        raise gnvc_error(func, f"model_path {folder} is not a vsgnvc model folder (no {INDEX_NAME})")
    return folder


def model_index(func: str, folder: Path) -> ModelIndex:
    try:
        return ModelIndex.load(folder / INDEX_NAME)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise gnvc_error(func, f"cannot read {folder / INDEX_NAME}: {exc}") from None


def check_device(func: str, device_index: object) -> torch.device:
    """``None``: CUDA if present, else CPU; an index: that CUDA device, which must exist."""
    check_int(func, "device_index", device_index, 0, optional=True)
    try:
        return resolve_device(device_index)  # type: ignore[arg-type]
    except DeviceError as exc:
        raise gnvc_error(func, str(exc)) from None


def check_precision(func: str, fp16: object, device: torch.device) -> torch.dtype:
    """Refiner precision: fp32 on CPU; on CUDA bfloat16 unless ``fp16=False``. The codec itself is always fp32."""
    if fp16 is not None and not isinstance(fp16, bool):
        raise gnvc_error(func, f"fp16 must be True, False or None, got {fp16!r}")
    if fp16 and device.type != "cuda":
        raise gnvc_error(func, "fp16=True needs a CUDA device; on CPU the model runs in fp32")
    return compute_dtype(device, fp16)


def load_model(folder: Path, device: torch.device, dtype: torch.dtype = torch.float32) -> GnvcModel:
    """The model in ``folder`` on ``device`` (refiner in ``dtype``), loaded once per process and shared.

    Filters in one script share a model; the codec objects built on it are thread-safe.
    """
    from ..refine.refiner import Refiner

    key = (folder.resolve(), str(device), str(dtype))
    with _models_lock:
        model = _models.get(key)
        if model is None:
            logger.info("loading model %s on %s", folder, device)
            model = GnvcModel.from_pretrained(folder).to(device).eval()
            if isinstance(model.refiner, Refiner) and dtype != torch.float32:
                model.refiner.place(device, dtype)
            if len(_models) >= MAX_MODELS:
                _models.pop(next(iter(_models)))
            _models[key] = model
        return model
