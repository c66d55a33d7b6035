"""``vsgnvc.decode`` in a real VapourSynth core with 8 threads: random-order requests equal sequential rendering.

``tests/vs/test_decode.py`` covers 13 frames with 4 threads; here the clip is longer, the core has 8 threads,
every frame is requested at once (twice, in two random orders) and the decoder's cache holds a single GOP /
window, fewer than the threads asking. The 200-frame run is marked slow and measured by
``benchmarks/bench_long_clip.py --concurrency``.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")


def planes(frame) -> tuple[np.ndarray, ...]:
    return tuple(np.array(np.asarray(frame[p])) for p in range(frame.format.num_planes))


def render_all(clip, order: list[int]) -> list[tuple[np.ndarray, ...]]:
    futures = {n: clip.get_frame_async(n) for n in order}  # all requests in flight at once
    got = {n: planes(f.result()) for n, f in futures.items()}
    return [got[n] for n in range(clip.num_frames)]


def check_concurrent_equals_sequential(path: Path, model_dir: Path, seed: int) -> None:
    from vsgnvc.vs import decode

    core = vs.core
    before = core.num_threads
    try:
        core.num_threads = 1
        sequential_clip = decode(path, model_path=model_dir)
        sequential = [planes(sequential_clip.get_frame(n)) for n in range(sequential_clip.num_frames)]
        core.num_threads = 8
        clip = decode(path, model_path=model_dir, cache_windows=1, num_streams=2)
        rng = random.Random(seed)
        for _round in range(2):
            order = list(range(clip.num_frames))
            rng.shuffle(order)
            got = render_all(clip, order)
            assert all(
                all(np.array_equal(a, b) for a, b in zip(fa, fb, strict=True))
                for fa, fb in zip(got, sequential, strict=True)
            )
    finally:
        core.num_threads = before


@pytest.fixture(scope="module")
def encoded_clip(clip_factory, tiny_model, one_thread, tmp_path_factory):
    from vsgnvc.api import encode_file

    folder = tmp_path_factory.mktemp("concurrency")

    def make(frames: int) -> Path:
        out = folder / f"c{frames}.gnvc"
        if not out.exists():
            with one_thread():
                encode_file(clip_factory(frames, "32x32"), out, tiny_model, device="cpu", progress=False)
        return out

    return make


def test_eight_threads_random_order_small_cache(encoded_clip, tiny_model_dir):
    check_concurrent_equals_sequential(encoded_clip(45), tiny_model_dir, seed=1)


@pytest.mark.slow
def test_eight_threads_random_order_200_frames(encoded_clip, tiny_model_dir):
    check_concurrent_equals_sequential(encoded_clip(200), tiny_model_dir, seed=2)
