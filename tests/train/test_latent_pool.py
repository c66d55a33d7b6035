"""Latent pool: encoded once, shared by stages, batches are real latents of the pool's crops."""

from pathlib import Path

import numpy as np
import pytest
import torch

from vsgnvc.train.config import StageConfig, TrainConfig
from vsgnvc.train.data import VideoCrops
from vsgnvc.train.latent_pool import LatentPool
from vsgnvc.train.stages import codec_plan

TINY = Path(__file__).resolve().parents[2] / "configs" / "tiny.toml"


@pytest.fixture(scope="module")
def model_and_crops(bikes_clip):
    from vsgnvc.train.data import decode_rgb
    from vsgnvc.train.run import build_model

    torch.manual_seed(0)
    model = build_model(TrainConfig.load(TINY))
    return model, VideoCrops([decode_rgb(bikes_clip, 48, 24)], 9, 32, seed=5)


def test_pool_holds_the_vae_latents_of_its_crops(model_and_crops):
    model, crops = model_and_crops
    pool = LatentPool.build(model.vae, crops, 6, seed=5, chunk=4)
    assert pool.latents.shape[0] == 6
    # The same seed draws the same crops: the pool's first entry is the latent of the first crop.
    first = crops.sample(np.random.default_rng([5, 7919]))
    with torch.no_grad():
        assert torch.allclose(pool.latents[0], model.vae.encode(first[None])[0], atol=1e-5)
    assert LatentPool.build(model.vae, crops, 6, seed=5) is pool  # built once, shared
    window = pool.sample(np.random.default_rng(0), 3, size=2)
    assert window.shape == (3, *pool.latents.shape[1:3], 2, 2)


def test_codec_stage_draws_batches_from_the_pool(model_and_crops):
    model, crops = model_and_crops
    cfg = StageConfig(name="codec", steps=1, batch=2, crop=32, frames=9, latent_pool=6, latent_window=4)
    plan = codec_plan(cfg, model.vae, model.codec, crops)
    batch = plan.batch_fn(np.random.default_rng(0))
    pool = LatentPool.build(model.vae, crops, 6, seed=crops.seed)
    assert batch.shape == (2, *pool.latents.shape[1:3], 4, 4)
    loss, _, metrics = plan.loss_fn(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and metrics["bpp"] > 0
