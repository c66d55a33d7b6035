"""Deterministic Euler flow-matching sampler started from the decoded latent (GNVC-VD, Pipeline 3).

Paper time ``t`` (``t = 1`` clean ``x_1``, ``t = 0`` noise ``x_0``) is diffusers' ``sigma = 1 - t``. Sampling starts at

    x_{t_N} = t_N * x_c + (1 - t_N) * x_0          (sigma_N = 1 - t_N)

and integrates ``steps`` Euler steps to ``sigma = 0`` with diffusers' :class:`FlowMatchEulerDiscreteScheduler`
(``shift = 1``, explicit sigmas ``linspace(1 - t_N, 0, steps + 1)``), whose model output is ``d x / d sigma``. The
paper's ideal velocity ``d x / d t = (x_1 - x_0) - t_N / (1 - t_N) * (x_c - x_1)`` is constant along the straight
path from ``x_{t_N}`` to ``x_1``, so in ``d x / d sigma`` terms the oracle is ``(x_{t_N} - x_1) / sigma_N``.

The noise is drawn on the CPU in float32 from a generator seeded per window (:func:`window_seed`), then moved, so a
CPU and a GPU decoder start from the same ``x_0``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

logger = logging.getLogger(__name__)

#: ``velocity(sample, sigma) -> d sample / d sigma``; ``sample`` float32 ``[B, C, T, h, w]``, ``sigma`` shape ``[B]``.
VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class SamplerConfig:
    """Refinement schedule.

    Args:
        t_start (`float`, defaults to 0.7): paper's ``t_N``, weight of the decoded latent in the start point.
        steps (`int`, defaults to 5): Euler steps from ``t_N`` to 1.
    """

    t_start: float = 0.7
    steps: int = 5

    def __post_init__(self) -> None:
        if not 0.0 <= self.t_start < 1.0:
            raise ValueError(f"t_start must be in [0, 1), got {self.t_start}")
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be in [1, 1000], got {self.steps}")

    @property
    def sigma_start(self) -> float:
        return 1.0 - self.t_start

    def sigmas(self) -> list[float]:
        """The ``steps`` sigmas the model is evaluated at (the scheduler appends the terminal 0)."""
        return [self.sigma_start * (1.0 - i / self.steps) for i in range(self.steps)]


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def window_seed(base_seed: int, first_frame: int) -> int:
    """Seed of the window starting at latent frame ``first_frame``: a fixed mix of the two, never of request order."""
    if base_seed < 0 or first_frame < 0:
        raise ValueError(f"base_seed and first_frame must be non-negative, got {base_seed}, {first_frame}")
    # torch.Generator.manual_seed accepts up to 2**64 - 1; keep 63 bits to stay clear of sign conversions.
    return _splitmix64(_splitmix64(base_seed & _MASK64) ^ first_frame) >> 1


def make_noise(shape: tuple[int, ...] | torch.Size, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal float32 noise drawn on the CPU from ``seed``, then moved to ``device``."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32).to(device)


def start_point(x_c: torch.Tensor, noise: torch.Tensor, t_start: float) -> torch.Tensor:
    """``x_{t_N} = t_N * x_c + (1 - t_N) * x_0`` in float32."""
    return t_start * x_c.float() + (1.0 - t_start) * noise.float()


def make_scheduler(config: SamplerConfig, device: torch.device | str | None = None) -> FlowMatchEulerDiscreteScheduler:
    """A fresh scheduler (it keeps a step index, so one per sampling run; never shared between threads)."""
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=False)
    scheduler.set_timesteps(sigmas=config.sigmas(), device=device)
    scheduler.set_begin_index(0)
    return scheduler


def euler_sample(
    velocity: VelocityFn,
    x_c: torch.Tensor,
    noise: torch.Tensor,
    config: SamplerConfig | None = None,
) -> torch.Tensor:
    """Integrate from ``x_{t_N}`` to ``sigma = 0``; returns float32 ``x_1_hat`` on ``x_c``'s device.

    Args:
        velocity (`VelocityFn`): ``d x / d sigma`` at ``(sample, sigma)``.
        x_c (`torch.Tensor` of shape `[B, C, T, h, w]`): decoded latent.
        noise (`torch.Tensor`): ``x_0``, same shape (see :func:`make_noise`).
        config (`SamplerConfig`, *optional*): schedule; defaults to ``t_N = 0.7``, 5 steps.
    """
    config = config or SamplerConfig()
    if noise.shape != x_c.shape:
        raise ValueError(f"noise shape {list(noise.shape)} != latent shape {list(x_c.shape)}")
    scheduler = make_scheduler(config, device=x_c.device)
    sample = start_point(x_c, noise.to(x_c.device), config.t_start)
    batch = sample.shape[0]
    for i, timestep in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[i].to(sample.device).expand(batch)
        model_output = velocity(sample, sigma).float()
        # float32 model output keeps the sample in float32 through every step (the scheduler casts to its dtype).
        sample = scheduler.step(model_output, timestep, sample, return_dict=False)[0]
    return sample
