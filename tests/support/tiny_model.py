"""A tiny, real model (random weights, CDF tables built, with a refiner) for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path


def save_tiny_model(folder: Path, seed: int = 0, autoencoder: str = "wan", gop_size: int = 9) -> Path:
    """Write a tiny model folder: 4 rate points, refinement windows of 3 with overlap 1.

    ``autoencoder``: ``"wan"`` (a small Wan2.1-layout video VAE, 16 channels, temporal factor 4) or
    ``"frame"`` (a narrow per-frame autoencoder in the TAEF2 layout, 32 channels, temporal factor 1, with a
    decoder of its own for rate 1).
    """
    import torch

    from vsgnvc.models.autoencoder import LatentAutoencoder
    from vsgnvc.models.bundle import GnvcModel, ModelIndex, RatePoint
    from vsgnvc.models.frame_autoencoder import FrameAutoencoder
    from vsgnvc.models.latent_codec import ContextualLatentCodec
    from vsgnvc.models.vae import SMALL_VAE_CONFIG, VideoVAE
    from vsgnvc.refine import Refiner

    torch.manual_seed(seed)
    vae: LatentAutoencoder
    if autoencoder == "wan":
        vae = VideoVAE.from_config(dict(SMALL_VAE_CONFIG, base_dim=4))
    elif autoencoder == "frame":
        vae = FrameAutoencoder(latent_channels=32, width=8)
        with torch.no_grad():  # rate 1 reads its latents with a decoder of its own, as the shipped model's do
            for p in vae.add_rate_decoder(1).parameters():
                p.mul_(1.25)
    else:
        raise ValueError(f"autoencoder must be 'wan' or 'frame', got {autoencoder!r}")
    c = vae.z_channels
    codec = ContextualLatentCodec(
        latent_channels=c, hidden_channels=16, y_channels=16, z_channels=8, context_channels=8, num_rates=4
    )
    codec.update()
    refiner = Refiner.build(
        prior_config={"num_attention_heads": 2, "attention_head_dim": 8, "text_dim": 8, "freq_dim": 16,
                      "ffn_dim": 32, "num_layers": 2, "in_channels": c, "out_channels": c},
        context_channels=8,
        latent_channels=c,
        adapter_config={"hidden_dim": 16, "num_res_blocks": 1, "freq_dim": 16, "norm_groups": 4},
        num_text_tokens=4,
    ).place("cpu")  # fmt: skip
    rates = tuple(RatePoint(i, 0.05 * 2**i, bpp=0.01 * 2**i) for i in range(4))
    index = ModelIndex(
        "tiny-test" if autoencoder == "wan" else "tiny-frame-test", rates, 1, gop_size=gop_size, refine_window=3, refine_overlap=1,
        temporal_factor=vae.temporal_factor,
    )  # fmt: skip
    GnvcModel(vae, codec, index, refiner.eval()).save_pretrained(folder)
    return folder


def tiny_patch_model(transform: str = "patch", gop_size: int = 3, **codec_options):
    """An in-memory tiny model on a 4-channel per-frame autoencoder with rate lambdas 10, 40, 160: a random
    orthonormal patch basis under the patch transform (``codec_options``: e.g. ``motion_block``,
    ``pixel_copy_block``)."""
    import torch

    from vsgnvc.models.bundle import GnvcModel, ModelIndex, RatePoint
    from vsgnvc.models.frame_autoencoder import FrameAutoencoder
    from vsgnvc.models.latent_codec import ContextualLatentCodec

    torch.manual_seed(0)
    channels, lambdas = 4, [10.0, 40.0, 160.0]
    vae = FrameAutoencoder(latent_channels=channels, width=8).eval()
    m = 4 * channels
    codec = ContextualLatentCodec(
        latent_channels=channels, hidden_channels=16, y_channels=m, z_channels=8, context_channels=4, num_rates=3,
        rate_lambdas=lambdas, transform=transform, **codec_options,
    )  # fmt: skip
    if transform == "patch":
        q, _ = torch.linalg.qr(torch.randn(m, m, generator=torch.Generator().manual_seed(1)))
        codec.set_patch_statistics(torch.zeros(m), q, torch.full((m,), 2e-3))
    codec.update()
    index = ModelIndex("tiny-patch", tuple(RatePoint(i, lam) for i, lam in enumerate(lambdas)), 1, gop_size=gop_size,
                       temporal_factor=1)  # fmt: skip
    return GnvcModel(vae, codec.eval(), index).eval()
