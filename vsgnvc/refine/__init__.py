"""Generative refinement of decoded latent sequences with a video diffusion prior (GNVC-VD Pipeline 3-4).

Exports resolve lazily, so ``vsgnvc.refine.windows`` (pure Python) imports without torch or diffusers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vsgnvc.refine.cache import LatentSource, WindowedRefiner
    from vsgnvc.refine.losses import flow_matching_loss, prior_flow_matching_loss
    from vsgnvc.refine.refiner import Refiner
    from vsgnvc.refine.sampler import SamplerConfig, euler_sample, make_noise, window_seed
    from vsgnvc.refine.windows import Window, WindowPlan, plan_windows

_EXPORTS = {
    "LatentSource": "cache",
    "WindowedRefiner": "cache",
    "flow_matching_loss": "losses",
    "prior_flow_matching_loss": "losses",
    "Refiner": "refiner",
    "SamplerConfig": "sampler",
    "euler_sample": "sampler",
    "make_noise": "sampler",
    "window_seed": "sampler",
    "Window": "windows",
    "WindowPlan": "windows",
    "plan_windows": "windows",
}

__all__ = [
    "LatentSource",
    "Refiner",
    "SamplerConfig",
    "Window",
    "WindowPlan",
    "WindowedRefiner",
    "euler_sample",
    "flow_matching_loss",
    "make_noise",
    "plan_windows",
    "prior_flow_matching_loss",
    "window_seed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
