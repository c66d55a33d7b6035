"""Generative refinement of decoded latent sequences with a video diffusion prior (GNVC-VD Pipeline 3-4)."""

from vsgnvc.refine.cache import LatentSource, WindowedRefiner
from vsgnvc.refine.losses import flow_matching_loss, prior_flow_matching_loss
from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.sampler import SamplerConfig, euler_sample, make_noise, window_seed
from vsgnvc.refine.windows import Window, WindowPlan, plan_windows

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
