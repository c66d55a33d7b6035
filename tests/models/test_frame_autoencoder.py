"""The per-frame autoencoder (TAEF2 layout): real weights, loading errors, and models built on it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from vsgnvc.models.bundle import GnvcModel, ModelIndex, RatePoint, load_autoencoder
from vsgnvc.models.frame_autoencoder import FrameAutoencoder, load_taesd_checkpoints
from vsgnvc.models.io import WeightsError
from tests.support.tiny_model import save_tiny_model
from vsgnvc.models.vae import SMALL_VAE_CONFIG, VideoVAE

TAEF2 = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "taef2"


def _rgb_frames(clip: Path, count: int, width: int, height: int) -> torch.Tensor:
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip), "-frames:v", str(count),
         "-vf", f"scale={width}:{height}:flags=area", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    arr = np.frombuffer(raw, np.uint8).reshape(count, height, width, 3)
    return torch.from_numpy(arr.copy()).permute(3, 0, 1, 2).float() / 127.5 - 1.0


@pytest.fixture(scope="module")
def taef2() -> FrameAutoencoder:
    if not TAEF2.is_dir():
        pytest.skip(f"{TAEF2} is not present")
    return load_taesd_checkpoints(TAEF2 / "taef2_encoder.pth", TAEF2 / "taef2_decoder.pth")


def test_taef2_reconstructs_real_frames(taef2: FrameAutoencoder, bikes_clip: Path) -> None:
    x = _rgb_frames(bikes_clip, 2, 160, 96)
    with torch.no_grad():
        latents = taef2.encode(x[None])
        y = taef2.decode(latents)[0]
    assert latents.shape == (1, 32, 2, 12, 20)
    psnr = 10 * torch.log10(4.0 / (y - x).pow(2).mean())
    # The released weights reconstruct this clip at ~38 dB (320x184); a wrong block layout gives ~18 dB.
    assert psnr > 30.0, psnr


def test_saved_taef2_keeps_its_weights_and_licence(taef2: FrameAutoencoder, tmp_path: Path, bikes_clip: Path) -> None:
    taef2.save_pretrained(tmp_path / "vae")
    assert "MIT" in (tmp_path / "vae" / "LICENSE").read_text()
    again = load_autoencoder(tmp_path / "vae")
    assert isinstance(again, FrameAutoencoder) and again.temporal_factor == 1 and again.z_channels == 32
    x = _rgb_frames(bikes_clip, 1, 64, 64)[None]
    with torch.no_grad():
        assert torch.equal(again.encode(x), taef2.encode(x))
    assert again.license_text == taef2.license_text


def test_frames_go_through_in_small_batches_with_the_same_result(taef2: FrameAutoencoder, bikes_clip: Path) -> None:
    # Peak memory of a GOP is bounded by frames_per_batch frames; the result must not depend on it.
    x = _rgb_frames(bikes_clip, 5, 64, 48)[None]
    with torch.no_grad():
        chunked = taef2.encode(x), taef2.decode(taef2.encode(x))
        taef2.frames_per_batch = 16
        try:
            whole = taef2.encode(x), taef2.decode(taef2.encode(x))
        finally:
            del taef2.frames_per_batch
    assert FrameAutoencoder.frames_per_batch < 5
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_latent_statistics_travel_in_the_config(tmp_path: Path) -> None:
    ae = FrameAutoencoder(width=8)
    ae.set_latent_stats(torch.arange(32.0), torch.full((32,), 2.0))
    ae.save_pretrained(tmp_path)
    again = FrameAutoencoder.from_pretrained(tmp_path)
    assert torch.equal(again.latents_mean.flatten(), torch.arange(32.0))
    assert torch.equal(again.latents_std.flatten(), torch.full((32,), 2.0))


def test_rate_decoders_are_saved_in_the_config_and_chosen_by_rate(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ae = FrameAutoencoder(width=8)
    with torch.no_grad():
        for p in ae.add_rate_decoder(2).parameters():
            p.mul_(1.25)
    assert ae.add_rate_decoder(2) is ae.rate_decoders["2"]  # adding twice keeps the tuned one
    ae.save_pretrained(tmp_path)
    again = FrameAutoencoder.from_pretrained(tmp_path)
    assert again.config.rate_decoders == [2]
    latents = torch.randn(1, 32, 2, 4, 6)
    with torch.no_grad():
        shared, own = again.decode(latents), again.decode(latents, rate=2)
        assert torch.equal(again.decode(latents, rate=1), shared)
        assert (own - shared).abs().max() > 0.05
        # stored in fp16, like the released TAEF2 weights: the reload decodes as the model in memory did
        torch.testing.assert_close(own, ae.decode(latents, rate=2), rtol=0, atol=2e-2)
    with pytest.raises(ValueError, match="rate must be >= 0"):
        ae.add_rate_decoder(-1)


def test_loader_chooses_the_wan_vae_by_its_config(tmp_path: Path) -> None:
    VideoVAE.from_config(dict(SMALL_VAE_CONFIG, base_dim=4)).save_pretrained(tmp_path / "vae")
    vae = load_autoencoder(tmp_path / "vae")
    assert isinstance(vae, VideoVAE) and vae.temporal_factor == 4 and vae.z_channels == 16


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "other_width"])
def test_loader_rejects_bad_weights_in_one_line_naming_the_file(tmp_path: Path, damage: str) -> None:
    FrameAutoencoder(width=8).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        weights.write_bytes(b"\x00" * 64)
    else:
        FrameAutoencoder(width=16).save_pretrained(tmp_path / "wide")
        shutil.copy(tmp_path / "wide" / "model.safetensors", weights)
    with pytest.raises(WeightsError) as info:
        load_autoencoder(tmp_path)
    message = str(info.value)
    assert str(weights) in message and "\n" not in message


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_taesd_checkpoint_loader_rejects_damaged_files(tmp_path: Path, part: str) -> None:
    paths = {p: tmp_path / f"taef2_{p}.pth" for p in ("encoder", "decoder")}
    ae = FrameAutoencoder(width=64)
    for p, path in paths.items():
        torch.save(getattr(ae, p).state_dict(), path)
    load_taesd_checkpoints(paths["encoder"], paths["decoder"])  # intact files load
    paths[part].write_bytes(paths[part].read_bytes()[:1000])
    with pytest.raises(WeightsError, match=str(paths[part])):
        load_taesd_checkpoints(paths["encoder"], paths["decoder"])


def test_model_folder_with_missing_autoencoder_weights_names_the_file(tmp_path: Path) -> None:
    folder = save_tiny_model(tmp_path / "m", autoencoder="frame", gop_size=6)
    (folder / "vae" / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match=r"vae/model\.safetensors is missing"):
        GnvcModel.from_pretrained(folder)


def test_gop_length_follows_the_autoencoder() -> None:
    rates = (RatePoint(0, 1.0),)
    ModelIndex("per-frame", rates, 0, gop_size=6, temporal_factor=1)
    with pytest.raises(
        ValueError, match=r"GOP size must be 1 \+ 4k frames \(1, 5, 9, 13, \.\.\.\) for model wan, got 6"
    ):
        ModelIndex("wan", rates, 0, gop_size=6, temporal_factor=4)
