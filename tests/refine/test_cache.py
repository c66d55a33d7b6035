"""Random-access refinement: same bits as the sequential path, whatever the order and the threads."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from vsgnvc.refine.cache import WindowedRefiner
from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.windows import plan_windows

FRAMES, WINDOW, OVERLAP, CUTS, SEED = 13, 4, 1, (6,), 2024
PLAN = plan_windows(FRAMES, WINDOW, OVERLAP, CUTS)


@pytest.fixture
def setup(refiner: Refiner, smooth) -> tuple[Refiner, torch.Tensor, torch.Tensor, torch.Tensor]:
    x_c, ctx = smooth(FRAMES, batch=2)
    seq = refiner.refine_sequence(x_c, ctx, window=WINDOW, overlap=OVERLAP, cuts=CUTS, seed=SEED)
    return refiner, x_c, ctx, seq


def test_random_order_equals_sequential(setup) -> None:
    refiner, x_c, ctx, seq = setup
    cache = WindowedRefiner.from_tensors(refiner, x_c, ctx, plan=PLAN, seed=SEED, cache_size=16)
    order = random.Random(1).sample(range(FRAMES), FRAMES)
    for i in order:
        assert torch.equal(cache.frame(i), seq[:, :, i]), f"frame {i}"
    assert cache.computed_windows == len(cache.plan.windows)  # each window refined once
    assert torch.equal(cache.frames(0, FRAMES), seq)


def test_small_cache_recomputes_identically(setup) -> None:
    refiner, x_c, ctx, seq = setup
    cache = WindowedRefiner.from_tensors(refiner, x_c, ctx, plan=PLAN, seed=SEED, cache_size=2)
    order = [12, 0, 7, 3, 12, 1, 9, 5, 0, 11]
    for i in order:
        assert torch.equal(cache.frame(i), seq[:, :, i])
    assert cache.computed_windows > len(cache.plan.windows)  # evictions happened, results still identical


def test_threads_compute_each_window_once(setup) -> None:
    refiner, x_c, ctx, seq = setup
    plan = PLAN
    calls: list[tuple[int, int]] = []
    lock = threading.Lock()

    def source(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        with lock:
            calls.append((start, stop))
        return x_c[:, :, start:stop], ctx[:, :, start:stop]

    cache = WindowedRefiner(refiner, source, plan, seed=SEED, cache_size=16, max_concurrent=2)
    requests = [i for _ in range(4) for i in random.Random(7).sample(range(FRAMES), FRAMES)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(cache.frame, requests))
    for i, out in zip(requests, results, strict=True):
        assert torch.equal(out, seq[:, :, i]), f"frame {i}"
    assert sorted(calls) == sorted((w.start, w.stop) for w in plan.windows)
    assert cache.computed_windows == len(plan.windows)


def test_bad_requests(setup) -> None:
    refiner, x_c, ctx, _ = setup
    cache = WindowedRefiner.from_tensors(refiner, x_c, ctx, plan=plan_windows(FRAMES, WINDOW, OVERLAP), seed=SEED)
    with pytest.raises(IndexError):
        cache.frame(FRAMES)
    with pytest.raises(IndexError):
        cache.frames(3, 2)
    with pytest.raises(ValueError, match="cache_size"):
        WindowedRefiner.from_tensors(refiner, x_c, ctx, plan=PLAN, seed=SEED, cache_size=1)
    with pytest.raises(ValueError, match="plan covers"):
        WindowedRefiner.from_tensors(refiner, x_c, ctx, plan=plan_windows(FRAMES + 1, 4, 1), seed=SEED)
