"""Training objectives: the GNVC-VD correction flow matching and plain prior pre-training."""

from __future__ import annotations

import pytest
import torch

from vsgnvc.refine.losses import flow_matching_loss, prior_flow_matching_loss
from vsgnvc.refine.refiner import Refiner


def _batch(refiner: Refiner) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x_1 = torch.randn(2, 16, 3, 8, 8, generator=gen)
    x_c = x_1 + 0.3 * torch.randn(x_1.shape, generator=gen)
    ctx = torch.randn(2, refiner.adapter.config.context_channels, 3, 8, 8, generator=gen)
    return x_1, x_c, ctx


def test_target_is_minus_the_paper_velocity(refiner: Refiner) -> None:
    x_1, x_c, ctx = _batch(refiner)
    out = flow_matching_loss(refiner, x_1, x_c, ctx, torch.Generator().manual_seed(3))
    sigma = out["sigma"]
    assert ((sigma > 0) & (sigma <= 0.3 + 1e-7)).all()
    # x_0 is the generator's first draw.
    k = 0.7 / 0.3
    x_0 = torch.randn(x_1.shape, generator=torch.Generator().manual_seed(3))
    v_paper = (x_1 - x_0) - k * (x_c - x_1)
    torch.testing.assert_close(out["target"], -v_paper, atol=1e-5, rtol=1e-5)
    assert out["loss"].ndim == 0 and out["x1_hat"].shape == x_1.shape


def test_grid_sampling_uses_euler_times(refiner: Refiner) -> None:
    x_1, x_c, ctx = _batch(refiner)
    sigmas = set()
    for s in range(20):
        out = flow_matching_loss(refiner, x_1, x_c, ctx, torch.Generator().manual_seed(s), steps=5)
        sigmas.update(round(v, 5) for v in out["sigma"].tolist())
    assert sigmas <= {0.3, 0.24, 0.18, 0.12, 0.06} and len(sigmas) >= 4


def _train(refiner: Refiner, loss_fn, params, steps: int = 25) -> tuple[float, float]:
    opt = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = loss_fn(torch.Generator().manual_seed(0))["loss"]  # fixed batch, fixed noise and t
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def test_adapter_training_lowers_the_loss_and_keeps_prior_frozen(make_refiner) -> None:
    refiner = make_refiner(random_adapter=False).train()
    x_1, x_c, ctx = _batch(refiner)
    prior_before = {k: v.clone() for k, v in refiner.prior.state_dict().items()}
    trainable = [p for p in refiner.parameters() if p.requires_grad]
    assert trainable and not any(p.requires_grad for p in refiner.prior.parameters())
    first, last = _train(refiner, lambda g: flow_matching_loss(refiner, x_1, x_c, ctx, g), trainable)
    assert last < 0.8 * first, (first, last)
    assert all(torch.equal(v, refiner.prior.state_dict()[k]) for k, v in prior_before.items())


def test_prior_pretraining_lowers_the_loss(make_refiner) -> None:
    refiner = make_refiner(random_adapter=False).train()
    refiner.set_prior_trainable(True)
    x_1, _, _ = _batch(refiner)
    params = [p for p in refiner.parameters() if p.requires_grad]
    first, last = _train(refiner, lambda g: prior_flow_matching_loss(refiner, x_1, g, sampling="logit_normal"), params)
    assert last < 0.8 * first, (first, last)


def test_bad_loss_arguments(refiner: Refiner) -> None:
    x_1, x_c, ctx = _batch(refiner)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="t_start"):
        flow_matching_loss(refiner, x_1, x_c, ctx, gen, t_start=1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        flow_matching_loss(refiner, x_1, x_c[:, :, :2], ctx, gen)
    with pytest.raises(ValueError, match="sigma_max"):
        prior_flow_matching_loss(refiner, x_1, gen, sigma_max=0.0)
    with pytest.raises(ValueError, match="sampling"):
        prior_flow_matching_loss(refiner, x_1, gen, sampling="cosine")  # type: ignore[arg-type]


def test_gradient_checkpointing_and_grad_through_sampling(make_refiner) -> None:
    refiner = make_refiner().train()
    x_1, x_c, ctx = _batch(refiner)

    def grad() -> torch.Tensor:
        refiner.zero_grad()
        flow_matching_loss(refiner, x_1, x_c, ctx, torch.Generator().manual_seed(0))["loss"].backward()
        return refiner.adapter.block_proj[0][-1].weight.grad.clone()

    plain = grad()
    refiner.prior.enable_gradient_checkpointing()
    assert torch.equal(grad(), plain)
    # Stage II: gradients flow from the refined latent back into the adapter through the Euler steps.
    refiner.zero_grad()
    refiner.refine(x_c, ctx, seed=0, steps=2, enable_grad=True).square().mean().backward()
    assert refiner.adapter.block_proj[1][-1].weight.grad.abs().sum() > 0
