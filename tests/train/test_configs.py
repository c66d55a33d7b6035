"""Every training config in configs/ parses, and its codec section builds the codec it describes."""

from pathlib import Path

import pytest

from vsgnvc.models.latent_codec import ContextualLatentCodec
from vsgnvc.train.config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_parses_and_its_codec_builds(path):
    cfg = TrainConfig.load(path)
    latent_channels = 32 if cfg.model.get("autoencoder", {}).get("kind") == "frame" else 16
    codec = ContextualLatentCodec(**{"latent_channels": latent_channels, **cfg.model["codec"]})
    assert codec.num_rates == len(codec.config.rate_lambdas or [None] * codec.num_rates)
    assert cfg.stages
