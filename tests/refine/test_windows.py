"""Window planning: fixed by (T, W, O, cuts), never spanning cuts, weights summing to one."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from vsgnvc.refine.windows import Window, plan_windows


def _random_cuts(rng: random.Random, frames: int) -> list[int]:
    return sorted(rng.sample(range(frames + 1), k=min(frames + 1, rng.randint(0, 4))))


def test_exhaustive_plan_properties() -> None:
    rng = random.Random(0)
    for window in range(1, 12):
        for overlap in range(window):
            for frames in range(1, 40):
                cuts = _random_cuts(rng, frames)
                plan = plan_windows(frames, window, overlap, cuts)
                shots = plan.shots()
                bounds = {0, frames, *plan.cuts}
                assert set(plan.cuts) == {c for c in cuts if 0 < c < frames}
                for win in plan.windows:
                    assert len(win) <= window
                    # Never spans a cut: [start, stop) lies inside one shot.
                    assert any(s <= win.start and win.stop <= e for s, e in shots)
                    assert not any(win.start < b < win.stop for b in bounds)
                for a, b in zip(plan.windows, plan.windows[1:], strict=False):
                    assert a.start < b.start
                    if b.start not in bounds:  # same shot
                        assert a.stop - b.start == overlap == a.overlap_after == b.overlap_before
                    else:
                        assert a.stop == b.start and a.overlap_after == b.overlap_before == 0
                for frame in range(frames):
                    pairs = plan.blend_weights(frame)
                    assert pairs, f"frame {frame} uncovered"
                    assert math.isclose(math.fsum(w for _, w in pairs), 1.0, abs_tol=1e-12)
                    assert all(0.0 < w <= 1.0 for _, w in pairs)
                    if 2 * overlap < window:
                        # Two windows per frame, three only where windows had to shrink below 2 * overlap.
                        shrunk = any(len(w) < 2 * overlap for w in plan.windows)
                        assert len(pairs) <= (3 if shrunk else 2)


def test_plan_depends_only_on_its_arguments() -> None:
    a = plan_windows(40, 7, 2, [13, 30])
    b = plan_windows(40, 7, 2, (30, 13, 13, 0, 40))
    assert a == b
    # Asking for frames in another order cannot change anything: the plan is immutable.
    for frame in random.Random(3).sample(range(40), 40):
        assert a.windows_for_frame(frame) == b.windows_for_frame(frame)
    with pytest.raises(AttributeError):
        a.window = 3  # type: ignore[misc]


def test_default_paper_plan() -> None:
    # 96 frames -> 1 + 95 // 4 = 24 latent frames; window 7 overlap 2.
    plan = plan_windows(24, 7, 2)
    assert [(w.start, w.stop) for w in plan.windows] == [(0, 7), (5, 12), (10, 16), (14, 20), (18, 24)]
    assert len(plan.windows) == math.ceil((24 - 2) / (7 - 2))


def test_cut_splits_windows() -> None:
    plan = plan_windows(12, 7, 2, [5])
    assert [(w.start, w.stop) for w in plan.windows] == [(0, 5), (5, 12)]
    assert plan.windows_for_frame(4) == (Window(0, 5),)
    assert plan.blend_weights(5) == ((Window(5, 12), 1.0),)


def test_raised_cosine_ramp_is_smooth_and_complementary() -> None:
    plan = plan_windows(10, 7, 4)
    first, second = plan.windows
    overlap = range(second.start, first.stop)
    ramp_up = [dict(plan.blend_weights(f))[second] for f in overlap]
    assert ramp_up == sorted(ramp_up) and 0 < ramp_up[0] < 0.5 < ramp_up[-1] < 1
    for f, up in zip(overlap, ramp_up, strict=True):
        assert math.isclose(dict(plan.blend_weights(f))[first], 1 - up, abs_tol=1e-12)
    assert plan.blend_weights(0) == ((first, 1.0),)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 7, 2, ()), "num_frames"),
        ((10, 0, 0, ()), "window"),
        ((10, 4, 4, ()), "overlap"),
        ((10, 4, -1, ()), "overlap"),
        ((10, 4, 1, (11,)), "scene cut"),
        ((10, 4, 1, (-1,)), "scene cut"),
    ],
)
def test_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plan_windows(*args)


def test_bad_frame_and_cut_types() -> None:
    plan = plan_windows(10, 4, 1)
    with pytest.raises(IndexError):
        plan.windows_for_frame(10)
    with pytest.raises(TypeError):
        plan_windows(10, 4, 1, [2.5])  # type: ignore[list-item]


def test_windows_import_without_torch() -> None:
    code = "import sys, vsgnvc.refine.windows; sys.exit('torch' in sys.modules or 'diffusers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
