"""The adapter drives an unmodified diffusers Wan transformer; untrained, it changes nothing."""

from __future__ import annotations

import time

import pytest
import torch
from diffusers import WanTransformer3DModel

from vsgnvc.models.adapter import WanContextAdapter
from vsgnvc.models.prior import WAN21_T2V_1_3B_CONFIG, build_prior, wan_forward
from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.sampler import SamplerConfig, euler_sample, make_noise


def _inputs(refiner: Refiner, frames: int = 3, h: int = 6, w: int = 8) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 16, frames, h, w, generator=gen)
    x_c = torch.randn(2, 16, frames, h, w, generator=gen)
    ctx = torch.randn(2, refiner.adapter.config.context_channels, frames, h, w, generator=gen)
    sigma = torch.tensor([0.3, 0.12])
    return x, x_c, ctx, sigma


def test_explicit_loop_equals_diffusers_forward(refiner: Refiner) -> None:
    x, _, _, sigma = _inputs(refiner)
    text = torch.randn(2, 4, refiner.prior.config.text_dim)
    with torch.no_grad():
        ref = refiner.prior(x, sigma * 1000, text).sample
        ours = wan_forward(refiner.prior, x, sigma * 1000, text)
    assert torch.equal(ours, ref)


def test_zero_init_adapter_leaves_prior_unchanged(make_refiner) -> None:
    refiner = make_refiner(random_adapter=False)
    with torch.no_grad():
        refiner.null_embedding.embedding.normal_()  # any text tokens: the point is the adapter adds nothing
    x, x_c, ctx, sigma = _inputs(refiner)
    text = refiner.null_embedding(2)
    with torch.no_grad():
        prior_only = refiner.prior(x, sigma * 1000, text).sample
        adapted = refiner.velocity(x, sigma, x_c, ctx)
    assert torch.equal(adapted, prior_only)
    # And a whole refinement equals Euler sampling with the bare diffusers prior.
    seed = 11
    out = refiner.refine(x_c, ctx, seed=seed)
    with torch.no_grad():
        bare = euler_sample(
            lambda s, sg: refiner.prior(s, sg * 1000, text).sample, x_c, make_noise(x_c.shape, seed), SamplerConfig()
        )
    assert torch.equal(out, bare)


def test_trained_adapter_changes_the_velocity(refiner: Refiner) -> None:
    x, x_c, ctx, sigma = _inputs(refiner)
    text = refiner.null_embedding(2)
    with torch.no_grad():
        prior_only = refiner.prior(x, sigma * 1000, text).sample
        adapted = refiner.velocity(x, sigma, x_c, ctx)
        other_t = refiner.velocity(x, sigma * 0.5, x_c, ctx) - refiner.prior(x, sigma * 500, text).sample
    correction = adapted - prior_only
    assert correction.abs().mean() > 1e-3
    # Timestep-aware: the correction depends on sigma.
    assert not torch.allclose(correction, other_t)


def test_gradients_reach_adapter_not_frozen_prior(refiner: Refiner) -> None:
    x, x_c, ctx, sigma = _inputs(refiner)
    refiner.train()
    assert not refiner.prior.training and refiner.prior_frozen
    refiner.velocity(x, sigma, x_c, ctx).square().mean().backward()
    assert all(p.grad is None for p in refiner.prior.parameters())
    assert all(not p.requires_grad for p in refiner.prior.parameters())
    assert refiner.adapter.block_proj[0][-1].weight.grad.abs().sum() > 0
    refiner.set_prior_trainable(True)
    assert refiner.prior.training and all(p.requires_grad for p in refiner.prior.parameters())


def test_adapter_for_wan_1_3b_shape_on_meta() -> None:
    start = time.perf_counter()
    with torch.device("meta"):
        prior = WanTransformer3DModel(**WAN21_T2V_1_3B_CONFIG)
        refiner = Refiner.build(prior=prior, num_text_tokens=512)
        # 480x832 video -> latent 60x104, 3 latent frames
        x = torch.empty(1, 16, 3, 60, 104)
        ctx = torch.empty(1, 32, 3, 60, 104)
        v = refiner.velocity(x, torch.full((1,), 0.3), x, ctx)
    assert v.shape == x.shape
    assert len(refiner.adapter.block_proj) == 30
    assert refiner.adapter.block_proj[0][-1].out_features == 1536
    adapter_params = sum(p.numel() for p in refiner.adapter.parameters())
    prior_params = sum(p.numel() for p in prior.parameters())
    assert prior_params > 1.2e9 and adapter_params < 0.01 * prior_params
    assert time.perf_counter() - start < 20


def test_adapter_rejects_mismatched_prior(refiner: Refiner) -> None:
    other = build_prior({"num_layers": 3, "num_attention_heads": 2, "attention_head_dim": 8, "text_dim": 8})
    with pytest.raises(ValueError, match="adapter expects prior"):
        refiner.adapter.check_compatible(other)
    with pytest.raises(ValueError, match="adapter expects prior"):
        Refiner(other, refiner.adapter, refiner.null_embedding)


def test_adapter_input_validation(refiner: Refiner) -> None:
    _, x_c, ctx, _ = _inputs(refiner)
    with pytest.raises(ValueError, match="context must be"):
        refiner.refine(x_c, ctx[:, :2], seed=0)
    with pytest.raises(ValueError, match="latent must be"):
        refiner.refine(x_c[:, :8], ctx, seed=0)
    with pytest.raises(ValueError, match="multiple of the prior's patch"):
        refiner.refine(x_c[..., :5], ctx[..., :5], seed=0)
    with pytest.raises(ValueError, match="differ in"):
        refiner.refine(x_c[:, :, :2], ctx, seed=0)
    with pytest.raises(ValueError, match="norm_groups"):
        WanContextAdapter(hidden_dim=10, norm_groups=4)
