"""Warping error and tOF on real frames: static scenes, injected flicker, real motion, scene cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vsgnvc.eval import Clip, load_clip, reference_flows, tof, warping_error, warping_error_per_pair


def _jitter(rgb: np.ndarray, amplitude: float, seed: int = 1) -> np.ndarray:
    """Per-frame brightness offsets of +-amplitude: the flicker of per-frame generative decoders."""
    offsets = np.random.default_rng(seed).choice([-amplitude, amplitude], size=len(rgb))
    return np.clip(rgb.astype(np.float64) + offsets[:, None, None, None], 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def static_rgb(tiny_clip: Clip) -> np.ndarray:
    """A real frame held still for 8 frames."""
    return np.repeat(tiny_clip.rgb()[:1], 8, axis=0)


def test_static_clip_has_no_warping_error(static_rgb: np.ndarray) -> None:
    assert warping_error(static_rgb, static_rgb) < 0.01
    assert tof(static_rgb, static_rgb) == 0.0


def test_injected_flicker_grows_the_warping_error(static_rgb: np.ndarray) -> None:
    flows = reference_flows(static_rgb)
    errors = [warping_error(flows, _jitter(static_rgb, a)) for a in (0, 2, 6, 12)]
    assert errors[0] < 0.01
    assert errors == sorted(errors)
    # Neighbouring frames differ by 0 or 2a, so the error sits between 0 and (2a)^2 and far above zero.
    assert 10 < errors[2] < 144


def test_real_motion_flicker_is_measured_against_the_reference_floor(bikes_clip: Path) -> None:
    rgb = load_clip(bikes_clip, size=(128, 64), num_frames=8).rgb()
    flows = reference_flows(rgb)
    assert not flows.cut.any()
    floor = warping_error(flows, rgb)
    assert 0 < floor < 30  # flow and interpolation errors only
    assert warping_error(flows, _jitter(rgb, 8)) > floor + 30
    assert tof(flows, rgb) == 0.0
    # Every other frame moved 3 px sideways: the output's motion differs from the reference's by ~3 px.
    shaky = rgb.copy()
    shaky[1::2] = np.roll(rgb[1::2], 3, axis=2)
    assert 2.0 < tof(flows, shaky) < 4.0
    assert warping_error(flows, shaky) > floor + 100


def test_scene_cuts_are_skipped(tiny_clip: Clip) -> None:
    frames = tiny_clip.rgb()
    # Second "shot": later frames upside down, so nothing in frame 3 has a match in frame 4.
    rgb = np.concatenate([frames[:4], frames[6:10, ::-1]])
    flows = reference_flows(rgb)
    assert flows.cut.tolist() == [False, False, False, True, False, False, False]
    per_pair = warping_error_per_pair(flows, rgb)
    assert np.isnan(per_pair[3]) and np.isfinite(np.delete(per_pair, 3)).all()
    assert warping_error(flows, rgb) == pytest.approx(np.nanmean(per_pair))
    assert warping_error(flows, rgb) < 30  # the cut pair alone would be in the thousands


def test_shape_errors(static_rgb: np.ndarray) -> None:
    with pytest.raises(ValueError, match="does not match"):
        warping_error(static_rgb, static_rgb[:-1])
    with pytest.raises(ValueError, match="at least 2 frames"):
        reference_flows(static_rgb[:1])
    with pytest.raises(ValueError, match="uint8"):
        tof(static_rgb, static_rgb.astype(np.float32))
