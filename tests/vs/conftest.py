"""Fixtures for the VapourSynth filters: real clips in a real core, the tiny model, encoded files."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def vspipe() -> str:
    exe = Path(sys.executable).with_name("vspipe")
    if not exe.exists():
        pytest.skip("vspipe is not installed next to this Python")
    return str(exe)


@pytest.fixture
def threads() -> Iterator:
    """Set ``core.num_threads`` for one test: ``threads(4)``; restored afterwards."""
    core = vs.core
    before = core.num_threads

    def set_threads(n: int) -> None:
        core.num_threads = n

    yield set_threads
    core.num_threads = before


@pytest.fixture(scope="session")
def model_dir(tiny_model_dir: Path) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="session")
def index_only_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the tiny model's ``model_index.json`` and no weights: any load attempt fails loudly,
    so an error naming a bad parameter proves the check ran before loading."""
    folder = tmp_path_factory.mktemp("index_only")
    shutil.copy(tiny_model_dir / "model_index.json", folder / "model_index.json")
    (folder / "refiner").mkdir()
    return folder


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model with other weights and no refiner."""
    import torch

    from vsgnvc.models.bundle import GnvcModel, ModelIndex, RatePoint
    from vsgnvc.models.latent_codec import ContextualLatentCodec
    from vsgnvc.models.vae import SMALL_VAE_CONFIG, VideoVAE

    torch.manual_seed(1)
    vae = VideoVAE.from_config(dict(SMALL_VAE_CONFIG, base_dim=4))
    codec = ContextualLatentCodec(hidden_channels=16, y_channels=16, z_channels=8, context_channels=8, num_rates=4)
    codec.update()
    index = ModelIndex("tiny-other", tuple(RatePoint(i, 0.05 * 2**i) for i in range(4)), 1, gop_size=9)
    folder = tmp_path_factory.mktemp("models") / "other"
    GnvcModel(vae, codec, index).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def src_clip(small_clip_y4m: Path):
    """13 real frames (bikes, 96x40, YUV420P8, no _Matrix tag) as a clip."""
    from vsgnvc.vs import load_video

    return load_video(small_clip_y4m)


@pytest.fixture(scope="session")
def cut_clip(src_clip):
    """The same frames with a hard cut at frame 9 (the second shot is the luma-inverted clip), tagged BT.709."""
    return (src_clip[:9] + src_clip[9:].std.Invert()).std.SetFrameProps(_Matrix=1)


@pytest.fixture(scope="session")
def encoded(src_clip, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vsgnvc.vs import encode_clip

    out = tmp_path_factory.mktemp("enc") / "bikes.gnvc"
    encode_clip(src_clip, out, rate=1, model_path=model_dir)
    return out


@pytest.fixture(scope="session")
def encoded_cut(cut_clip, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vsgnvc.vs import encode_clip

    out = tmp_path_factory.mktemp("enc") / "cut.gnvc"
    encode_clip(cut_clip, out, rate=2, model_path=model_dir)
    return out


def planes(frame) -> tuple[np.ndarray, ...]:
    return tuple(np.array(np.asarray(frame[p])) for p in range(frame.format.num_planes))


@pytest.fixture(scope="session")
def frame_planes():
    """``frame_planes(frame)``: copies of a VideoFrame's planes."""
    return planes


@pytest.fixture(scope="session")
def render():
    """``render(clip, order=None)``: frames' planes; ``order`` requests them all at once with get_frame_async."""

    def run(clip, order=None) -> list[tuple[np.ndarray, ...]]:
        if order is None:
            return [planes(clip.get_frame(n)) for n in range(clip.num_frames)]
        futures = {n: clip.get_frame_async(n) for n in order}
        got = {n: planes(f.result()) for n, f in futures.items()}
        return [got[n] for n in range(clip.num_frames)]

    return run


@pytest.fixture(scope="session")
def same_frames():
    def check(a, b) -> bool:
        return len(a) == len(b) and all(
            all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)) for fa, fb in zip(a, b, strict=True)
        )

    return check
