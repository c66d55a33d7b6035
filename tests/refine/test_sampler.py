"""Mathematics of the Euler flow-matching sampler started from the decoded latent."""

from __future__ import annotations

import pytest
import torch

from vsgnvc.refine.sampler import SamplerConfig, euler_sample, make_noise, make_scheduler, window_seed

T_STARTS = [0.0, 0.3, 0.5, 0.7, 0.9, 0.97]


def _tensors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x_1 = torch.randn(2, 16, 3, 4, 6, generator=gen)
    x_c = x_1 + 0.5 * torch.randn(x_1.shape, generator=gen)  # a degraded x_1
    x_0 = torch.randn(x_1.shape, generator=gen)
    return x_1, x_c, x_0


@pytest.mark.parametrize("t_start", T_STARTS)
@pytest.mark.parametrize("steps", range(1, 11))
def test_paper_velocity_lands_on_x1(t_start: float, steps: int) -> None:
    x_1, x_c, x_0 = _tensors(steps)
    k = t_start / (1.0 - t_start)
    # The paper's ideal d x / d t; the sampler integrates d x / d sigma = -(d x / d t).
    v_paper = (x_1 - x_0) - k * (x_c - x_1)
    calls: list[float] = []

    def oracle(sample: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        assert sample.dtype == torch.float32 and sigma.shape == (2,)
        calls.append(float(sigma[0]))
        return -v_paper

    out = euler_sample(oracle, x_c, x_0, SamplerConfig(t_start=t_start, steps=steps))
    torch.testing.assert_close(out, x_1, atol=2e-5, rtol=0)
    expected = [(1 - t_start) * (1 - i / steps) for i in range(steps)]
    assert calls == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("t_start", T_STARTS)
@pytest.mark.parametrize("steps", [1, 2, 5, 10])
def test_state_dependent_oracle_lands_on_x1(t_start: float, steps: int) -> None:
    # Points from the current sample straight at x_1: only correct if sigma and the step sizes are consistent.
    x_1, x_c, x_0 = _tensors(100 + steps)

    def oracle(sample: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return (sample - x_1) / sigma.view(-1, 1, 1, 1, 1)

    out = euler_sample(oracle, x_c, x_0, SamplerConfig(t_start=t_start, steps=steps))
    torch.testing.assert_close(out, x_1, atol=2e-5, rtol=0)


def test_start_point_is_paper_formula() -> None:
    _, x_c, x_0 = _tensors(7)
    seen: list[torch.Tensor] = []

    def record(sample: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        seen.append(sample.clone())
        return torch.zeros_like(sample)

    out = euler_sample(record, x_c, x_0, SamplerConfig(t_start=0.7, steps=3))
    torch.testing.assert_close(seen[0], 0.7 * x_c + 0.3 * x_0)
    torch.testing.assert_close(out, seen[0])


def test_scheduler_uses_unshifted_sigmas() -> None:
    sched = make_scheduler(SamplerConfig(t_start=0.7, steps=5))
    torch.testing.assert_close(sched.sigmas, torch.tensor([0.3, 0.24, 0.18, 0.12, 0.06, 0.0]))
    torch.testing.assert_close(sched.timesteps, sched.sigmas[:-1] * 1000)


def test_window_seed_is_a_pure_function() -> None:
    assert window_seed(5, 14) == window_seed(5, 14)
    seeds = {window_seed(b, f) for b in range(4) for f in range(50)}
    assert len(seeds) == 200
    assert all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(ValueError, match="non-negative"):
        window_seed(-1, 0)


def test_noise_is_drawn_on_cpu_in_float32() -> None:
    a = make_noise((1, 16, 2, 4, 4), seed=3)
    b = make_noise((1, 16, 2, 4, 4), seed=3)
    assert a.dtype == torch.float32 and torch.equal(a, b)
    assert not torch.equal(a, make_noise((1, 16, 2, 4, 4), seed=4))
    # Same numbers as a CPU generator, whatever the target device.
    ref = torch.randn((1, 16, 2, 4, 4), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, ref)
    if torch.cuda.is_available():
        assert torch.equal(make_noise((1, 16, 2, 4, 4), seed=3, device="cuda").cpu(), ref)


@pytest.mark.parametrize(("t_start", "steps"), [(1.0, 5), (-0.1, 5), (0.7, 0)])
def test_bad_sampler_config(t_start: float, steps: int) -> None:
    with pytest.raises(ValueError):
        SamplerConfig(t_start=t_start, steps=steps)


def test_noise_shape_mismatch() -> None:
    x = torch.zeros(1, 16, 2, 4, 4)
    with pytest.raises(ValueError, match="noise shape"):
        euler_sample(lambda s, sg: s, x, torch.zeros(1, 16, 3, 4, 4))
