"""Fixtures for the hardening tests: tiny real clips (bikes.mp4 scaled down) and files encoded from them."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def make_clip(ffmpeg: str, source: Path, out: Path, frames: int, size: str, *extra: str) -> Path:
    """``frames`` frames of ``source`` scaled to ``size`` (WxH) as y4m (or whatever ``out``'s suffix says)."""
    w, h = size.split("x")
    cmd = [ffmpeg, "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-frames:v", str(frames),
           "-vf", f"scale={w}:{h}:flags=area", *(extra or ("-pix_fmt", "yuv420p")), str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def clip_factory(ffmpeg_exe: str, bikes_clip: Path, tmp_path_factory: pytest.TempPathFactory):
    """``clip_factory(frames, "WxH", *ffmpeg output options, suffix=".y4m")``: a real clip, cached per session."""
    folder = tmp_path_factory.mktemp("hardening_clips")
    made: dict[tuple, Path] = {}

    def make(frames: int, size: str, *extra: str, suffix: str = ".y4m") -> Path:
        key = (frames, size, extra, suffix)
        if key not in made:
            out = folder / f"bikes_{size}_{frames}_{len(made)}{suffix}"
            made[key] = make_clip(ffmpeg_exe, bikes_clip, out, frames, size, *extra)
        return made[key]

    return make


@pytest.fixture(scope="session")
def fuzz_inputs(tiny_model, clip_factory, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three real .gnvc files (64x48 and 48x32, several rates and GOP sizes) from the tiny model."""
    from tests.support.fuzz_codec import encode_inputs

    return encode_inputs(tiny_model, clip_factory(13, "64x48"), tmp_path_factory.mktemp("fuzz_inputs"))


@pytest.fixture(scope="session")
def one_thread():
    """``with one_thread(): ...``: torch on one thread for the block (2 loaded cores: spinning threads only cost)."""
    import torch

    @contextlib.contextmanager
    def run() -> Iterator[None]:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return run


@pytest.fixture
def gnvc_main():
    """``gnvc_main(argv)``: ``vsgnvc.cli.main.main`` in this process, with the loggers it configures restored after."""
    import logging

    from vsgnvc.cli.main import main

    saved = {}
    for name in ("vsgnvc", "ffmpeg_bridge"):
        log = logging.getLogger(name)
        saved[name] = (list(log.handlers), log.level, log.propagate)
    yield main
    for name, (handlers, level, propagate) in saved.items():
        log = logging.getLogger(name)
        log.handlers[:] = handlers
        log.setLevel(level)  # also clears the loggers' level caches
        log.propagate = propagate
