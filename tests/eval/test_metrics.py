"""PSNR, MS-SSIM, VMAF (real ffmpeg libvmaf) and bits per pixel."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vsgnvc.eval import (
    Clip,
    bits_per_pixel,
    load_clip,
    ms_ssim_min_side,
    ms_ssim_rgb,
    psnr_rgb,
    psnr_yuv,
    vmaf,
)

PSNR_MSE1 = 10 * math.log10(255**2)  # 48.13 dB: every sample off by exactly 1


def _noisy(a: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8)


def test_psnr_identical_is_inf_and_noise_lowers_it(tiny_clip: Clip) -> None:
    rgb = tiny_clip.rgb()
    assert psnr_rgb(rgb, rgb) == math.inf
    assert psnr_yuv(tiny_clip.frames, tiny_clip.frames).yuv == math.inf
    mild, strong = psnr_rgb(rgb, _noisy(rgb, 2)), psnr_rgb(rgb, _noisy(rgb, 8))
    assert 30 < strong < mild < 50


def test_psnr_known_values_and_611_weighting() -> None:
    y = np.full((8, 8), 100, np.uint8)
    c = np.full((4, 4), 120, np.uint8)
    score = psnr_yuv([(y, c, c)] * 2, [(y + 1, c + 2, c)] * 2)
    assert score.y == pytest.approx(PSNR_MSE1)
    assert score.u == pytest.approx(PSNR_MSE1 - 10 * math.log10(4))
    assert score.v == math.inf
    finite = psnr_yuv([(y, c, c)] * 2, [(y + 1, c + 2, c + 2)] * 2)
    assert finite.yuv == pytest.approx((6 * finite.y + finite.u + finite.v) / 8)
    rgb = np.full((1, 4, 4, 3), 50, np.uint8)
    assert psnr_rgb(rgb, rgb + 1) == pytest.approx(PSNR_MSE1)


def test_psnr_is_averaged_per_frame() -> None:
    ref = np.zeros((2, 4, 4, 3), np.uint8)
    dist = ref.copy()
    dist[0] += 1  # frame 0: MSE 1 (48.13 dB); frame 1 MSE 4 (42.11 dB)
    dist[1] += 2
    assert psnr_rgb(ref, dist) == pytest.approx(PSNR_MSE1 - 5 * math.log10(4))


def test_psnr_rejects_mismatched_inputs(tiny_clip: Clip) -> None:
    rgb = tiny_clip.rgb()
    with pytest.raises(ValueError, match="shapes differ"):
        psnr_rgb(rgb, rgb[:-1])
    with pytest.raises(ValueError, match="uint8"):
        psnr_rgb(rgb, rgb.astype(np.float32))


def test_ms_ssim_standard_config_runs_at_320x180(bikes_clip: Path) -> None:
    rgb = load_clip(bikes_clip, size=(320, 180), num_frames=2).rgb()
    assert ms_ssim_min_side() == 161
    assert ms_ssim_rgb(rgb, rgb) == pytest.approx(1.0, abs=1e-5)
    assert 0.5 < ms_ssim_rgb(rgb, _noisy(rgb, 10)) < 0.99


def test_ms_ssim_small_frames_need_an_explicit_window(tiny_clip: Clip) -> None:
    rgb = tiny_clip.rgb()
    with pytest.raises(ValueError, match="too small"):
        ms_ssim_rgb(rgb, rgb)
    same = ms_ssim_rgb(rgb, rgb, win_size=3)
    mild = ms_ssim_rgb(rgb, _noisy(rgb, 3), win_size=3)
    strong = ms_ssim_rgb(rgb, _noisy(rgb, 12), win_size=3)
    assert same == pytest.approx(1.0, abs=1e-5)
    assert strong < mild < same


def test_vmaf_self_is_high_and_blur_lowers_it(bikes_clip: Path) -> None:
    clip = load_clip(bikes_clip, size=(160, 90), num_frames=6)
    blurred = [tuple(cv2.GaussianBlur(p, (5, 5), 1.5) for p in frame) for frame in clip.frames]
    same = vmaf(clip.frames, clip.frames)
    blur = vmaf(clip.frames, blurred)
    assert len(same.per_frame) == 6
    assert same.mean > 90
    assert blur.mean < same.mean - 10
    assert same.minimum <= same.mean


def test_vmaf_checks_sizes_and_frame_counts(tiny_clip: Clip, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frame counts differ"):
        vmaf(tiny_clip.frames, tiny_clip.frames[:-1])
    other = load_clip(tiny_clip.source, size=(64, 48), num_frames=11)
    with pytest.raises(ValueError, match="sizes differ"):
        vmaf(tiny_clip.to_y4m(tmp_path / "a.y4m"), other.to_y4m(tmp_path / "b.y4m"))


def test_bits_per_pixel() -> None:
    assert bits_per_pixel(1000, 320, 180, 49) == pytest.approx(8000 / (320 * 180 * 49))
    assert bits_per_pixel(0, 2, 2, 1) == 0.0
    with pytest.raises(ValueError, match="> 0"):
        bits_per_pixel(10, 0, 180, 49)
    with pytest.raises(ValueError, match=">= 0"):
        bits_per_pixel(-1, 320, 180, 49)
