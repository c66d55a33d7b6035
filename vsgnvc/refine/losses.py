"""Training objectives of the refiner: the GNVC-VD correction flow matching, and plain prior pre-training.

Both work in diffusers' convention (``sigma = 1 - t``, model output ``d x / d sigma``).

**GNVC-VD objective** (:func:`flow_matching_loss`). The sampler follows the straight path from the start point
``x_s = t_N x_c + (1 - t_N) x_0`` (at ``sigma_N = 1 - t_N``) to ``x_1`` (at ``sigma = 0``)::

    x_sigma = x_1 + (sigma / sigma_N) (x_s - x_1)
    target  = d x / d sigma = (x_s - x_1) / sigma_N = -[(x_1 - x_0) - t_N / (1 - t_N) (x_c - x_1)]

i.e. minus the paper's velocity. ``t`` is drawn uniformly in ``[t_N, 1)`` (``sigma`` in ``(0, sigma_N]``): the
target is constant along the path, so no time weighting is needed, and a uniform ``t`` trains every Euler grid
(any step count) rather than only the 5-step one. Passing ``steps`` draws ``t`` from that grid instead, exactly the
points the sampler visits. Note that ``x_sigma = (1 - t) x_0 + t * mix(x_1, x_c)``: the prior sees inputs at the noise
level it was trained for.

**Prior pre-training** (:func:`prior_flow_matching_loss`): rectified flow from noise to clean latents,
``x_sigma = (1 - sigma) x_1 + sigma x_0``, target ``x_0 - x_1``, prior alone (null text, no adapter).
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F

from vsgnvc.refine.refiner import Refiner

logger = logging.getLogger(__name__)


def _noise_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32).to(x.device)


def _uniform(batch: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(batch, generator=generator, device=generator.device, dtype=torch.float32).to(device)


def _broadcast(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1, 1)


def flow_matching_loss(
    refiner: Refiner,
    x_1: torch.Tensor,
    x_c: torch.Tensor,
    context: torch.Tensor,
    generator: torch.Generator,
    *,
    t_start: float | None = None,
    steps: int | None = None,
) -> dict[str, torch.Tensor]:
    """GNVC-VD conditional flow-matching loss on prior + adapter (one ``t`` per batch item).

    Args:
        refiner (`Refiner`): freeze the prior with ``set_prior_trainable(False)`` (default) to train the adapter only.
        x_1 (`torch.Tensor` of shape `[B, 16, T, h, w]`): clean latents (VAE latents of the source).
        x_c (`torch.Tensor` of shape `[B, 16, T, h, w]`): decoded latents.
        context (`torch.Tensor` of shape `[B, C_ctx, T, h, w]`): codec context sequence.
        generator (`torch.Generator`): draws ``x_0`` and ``t`` (on its own device, then moved).
        t_start (`float`, *optional*): ``t_N``; defaults to the refiner's.
        steps (`int`, *optional*): draw ``t`` from the ``steps``-step Euler grid instead of uniformly.

    Returns:
        `dict` with ``loss`` (MSE of the velocity, scalar), ``x1_hat`` (one-step estimate ``x_sigma - sigma v``, for
        the latent reconstruction term of stage I), ``sigma`` (``[B]``), ``prediction`` and ``target``.
    """
    t_n = refiner.sampler.t_start if t_start is None else t_start
    if not 0.0 <= t_n < 1.0:
        raise ValueError(f"t_start must be in [0, 1), got {t_n}")
    if x_1.shape != x_c.shape:
        raise ValueError(f"x_1 {list(x_1.shape)} and x_c {list(x_c.shape)} differ in shape")
    sigma_n = 1.0 - t_n
    batch = x_1.shape[0]
    device = x_1.device
    x_0 = _noise_like(x_1, generator)
    u = _uniform(batch, generator, device)
    if steps is None:
        sigma = sigma_n * (1.0 - u)  # (0, sigma_N]
    else:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        index = torch.clamp((u * steps).long(), max=steps - 1)
        sigma = sigma_n * (1.0 - index.float() / steps)
    x1 = x_1.float()
    x_s = t_n * x_c.float() + sigma_n * x_0
    x_sigma = x1 + _broadcast(sigma / sigma_n) * (x_s - x1)
    target = (x_s - x1) / sigma_n
    prediction = refiner.velocity(x_sigma, sigma, x_c, context).float()
    loss = F.mse_loss(prediction, target)
    x1_hat = x_sigma - _broadcast(sigma) * prediction
    return {"loss": loss, "x1_hat": x1_hat, "sigma": sigma, "prediction": prediction, "target": target}


def prior_flow_matching_loss(
    refiner: Refiner,
    x_1: torch.Tensor,
    generator: torch.Generator,
    *,
    sigma_max: float = 1.0,
    sampling: Literal["uniform", "logit_normal"] = "uniform",
) -> dict[str, torch.Tensor]:
    """Plain flow-matching pre-training of the prior (noise -> clean latents), no adapter.

    Call ``refiner.set_prior_trainable(True)`` first. ``sigma_max < 1`` concentrates training on the low-noise range
    the refiner uses (``sigma <= 1 - t_N``); ``logit_normal`` draws ``sigma`` from a logit-normal(0, 1) scaled to
    ``(0, sigma_max]`` (as in SD3), ``uniform`` uniformly.

    Returns:
        `dict` with ``loss``, ``x1_hat``, ``sigma``, ``prediction`` and ``target``.
    """
    if not 0.0 < sigma_max <= 1.0:
        raise ValueError(f"sigma_max must be in (0, 1], got {sigma_max}")
    if refiner.prior_frozen:
        logger.warning("prior_flow_matching_loss on a frozen prior: only the null embedding gets gradients")
    batch = x_1.shape[0]
    x_0 = _noise_like(x_1, generator)
    if sampling == "uniform":
        sigma = sigma_max * (1.0 - _uniform(batch, generator, x_1.device))
    elif sampling == "logit_normal":
        normal = torch.randn(batch, generator=generator, device=generator.device, dtype=torch.float32)
        sigma = sigma_max * torch.sigmoid(normal).to(x_1.device)
    else:
        raise ValueError(f"sampling must be 'uniform' or 'logit_normal', got {sampling!r}")
    x1 = x_1.float()
    s = _broadcast(sigma)
    x_sigma = (1.0 - s) * x1 + s * x_0
    target = x_0 - x1
    prediction = refiner.prior_velocity(x_sigma, sigma).float()
    loss = F.mse_loss(prediction, target)
    return {
        "loss": loss,
        "x1_hat": x_sigma - s * prediction,
        "sigma": sigma,
        "prediction": prediction,
        "target": target,
    }
