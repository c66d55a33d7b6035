"""The shipped default model (gnvc-taef2-v3: TAEF2 autoencoder, patch codec with latent motion and copy blocks) on
real clips."""

import numpy as np
import pytest
import torch

from vsgnvc.api import encode_file
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import EncodeSettings
from vsgnvc.codec.gop_codec import encode_gop, latents_to_rgb
from vsgnvc.codec.presets import preset_search
from vsgnvc.models.bundle import GnvcModel, default_model_path
from vsgnvc.train.data import decode_rgb


@pytest.fixture(scope="module")
def model() -> GnvcModel:
    return GnvcModel.from_pretrained().eval()


def test_default_model_is_the_taef2_model_with_its_licence(model):
    folder = default_model_path()
    assert (folder / "model_index.json").is_file()
    assert "MIT License" in (folder / "vae" / "LICENSE").read_text()
    assert model.vae.temporal_factor == 1 and model.vae.config.latent_channels == 32 and model.vae.spatial_factor == 8
    assert model.codec.is_updated and model.codec.patch and model.codec.config.motion_block == 8
    assert model.codec.config.pixel_copy_block == 16
    assert model.refiner is None  # not trained in this latent space yet: decodes are the codec's output
    assert len(model.index.rates) == 5
    measured = [r.bpp for r in model.index.rates if r.bpp]
    assert measured == sorted(measured) and len(measured) >= 3


def test_default_model_round_trips_real_clip(model, small_clip_y4m, tmp_path):
    r = encode_file(small_clip_y4m, tmp_path / "d.gnvc", model, device="cpu", progress=False, max_frames=5)
    assert r.num_bytes > 0
    with Decoder(tmp_path / "d.gnvc", model, "cpu") as dec:
        frames = list(dec.frames())
    assert len(frames) == 5 and frames[0][0].shape == (40, 96)


def test_default_model_rate_points_are_ordered_on_a_real_clip(model, bikes_clip, tmp_path):
    # 0 = lowest bitrate: bits must grow with the rate index (the first shipped model had it inverted).
    sizes = []
    for rate in range(model.codec.num_rates):
        r = encode_file(
            bikes_clip, tmp_path / f"r{rate}.gnvc", model, EncodeSettings(rate=rate, search=preset_search("fast")),
            device="cpu", progress=False, max_frames=9, resize="160x96",
        )  # fmt: skip
        sizes.append(r.num_bytes)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 2, sizes


def test_default_model_holds_its_quality_through_a_gop(model, bikes_clip):
    # Inter frames code the difference from the previous decoded latent; without the inter search they
    # drifted 4-8 dB below the intra frame through a 25-frame GOP (session 12). Real strings; the medium
    # preset keeps the test short (the default, slow, searches four times as long).
    rgb = decode_rgb(bikes_clip, 64, 17)[:, :, :128]
    x = torch.from_numpy(rgb).permute(3, 0, 1, 2).float() / 127.5 - 1
    rate = model.index.default_rate
    strings, decoded = encode_gop(model, x, rate, preset_search("medium"))
    with torch.inference_mode():
        y = latents_to_rgb(model, decoded.latents, rate, decoded.copies).clamp(-1, 1)
    psnr = 10 * np.log10(4 / (y - x).pow(2).mean(dim=(0, 2, 3)).numpy())
    early, late = psnr[1:6].mean(), psnr[12:17].mean()
    assert psnr.min() > 20 and late > early - 3.0, psnr.round(1)
    bits = [8 * sum(map(len, s)) for s in strings]
    assert np.mean(bits[1:]) < bits[0] / 2, bits  # inter frames cost well below the intra frame
