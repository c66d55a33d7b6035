"""Fixtures for the refinement tests: tiny Wan priors, adapters and smooth synthetic latent sequences."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vsgnvc.refine.refiner import Refiner

TINY_PRIOR = {
    "num_attention_heads": 2,
    "attention_head_dim": 8,
    "text_dim": 8,
    "freq_dim": 16,
    "ffn_dim": 32,
    "num_layers": 2,
}
TINY_ADAPTER = {"hidden_dim": 16, "num_res_blocks": 1, "freq_dim": 16, "norm_groups": 4}
CONTEXT_CHANNELS = 4


def randomize_adapter(refiner: Refiner, std: float = 0.05) -> Refiner:
    """Give the zero-initialised adapter outputs random weights (an 'untrained but random' adapter)."""
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for proj in refiner.adapter.block_proj:
            last = proj[-1]
            last.weight.copy_(torch.randn(last.weight.shape, generator=gen) * std)
            last.bias.copy_(torch.randn(last.bias.shape, generator=gen) * std)
        mod = refiner.adapter.time_modulation
        mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * std)
    return refiner


@pytest.fixture
def make_refiner():
    def make(seed: int = 0, random_adapter: bool = True) -> Refiner:
        torch.manual_seed(seed)
        refiner = Refiner.build(
            prior_config=TINY_PRIOR,
            context_channels=CONTEXT_CHANNELS,
            adapter_config=TINY_ADAPTER,
            num_text_tokens=4,
        ).place("cpu")
        if random_adapter:
            randomize_adapter(refiner)
            with torch.no_grad():
                refiner.null_embedding.embedding.normal_(0, 0.5)
        return refiner.eval()

    return make


@pytest.fixture
def refiner(make_refiner) -> Refiner:
    return make_refiner()


def smooth_sequence(frames: int, h: int = 8, w: int = 8, batch: int = 1, channels: int = 16) -> torch.Tensor:
    """A smooth, slowly moving synthetic latent sequence ``[B, C, T, h, w]`` (unit-ish variance)."""
    t = torch.arange(frames, dtype=torch.float32).view(1, 1, frames, 1, 1)
    y = torch.arange(h, dtype=torch.float32).view(1, 1, 1, h, 1)
    x = torch.arange(w, dtype=torch.float32).view(1, 1, 1, 1, w)
    c = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1, 1)
    b = torch.arange(batch, dtype=torch.float32).view(batch, 1, 1, 1, 1)
    phase = 0.7 * c + 0.3 * b
    return math.sqrt(2) * torch.sin(0.5 * x + 0.35 * y + 0.15 * t + phase)


def context_of(latent: torch.Tensor, channels: int = CONTEXT_CHANNELS) -> torch.Tensor:
    """A fixed deterministic 'context network' (1x1x1 conv) applied to a latent sequence."""
    gen = torch.Generator().manual_seed(99)
    conv = nn.Conv3d(latent.shape[1], channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.3)
        conv.bias.zero_()
        return conv(latent)


@pytest.fixture
def sequence() -> tuple[torch.Tensor, torch.Tensor]:
    x_c = smooth_sequence(11)
    return x_c, context_of(x_c)


@pytest.fixture
def smooth():
    """``smooth(frames, h=8, w=8, batch=1) -> (x_c, context)``."""

    def make(frames: int, h: int = 8, w: int = 8, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        x_c = smooth_sequence(frames, h, w, batch)
        return x_c, context_of(x_c)

    return make


@pytest.fixture
def adapter_randomizer():
    return randomize_adapter


@pytest.fixture
def tiny_configs() -> dict[str, dict]:
    return {"prior": dict(TINY_PRIOR), "adapter": dict(TINY_ADAPTER), "context_channels": CONTEXT_CHANNELS}


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Tiny models run ~15x faster on one thread than with OpenMP spinning on a loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
