"""Bjontegaard deltas against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from vsgnvc.eval import bd_quality, bd_rate

RATES = [0.01, 0.02, 0.04, 0.08]
PSNR = [30.0, 32.5, 34.0, 36.5]


def test_half_rate_is_minus_50_percent() -> None:
    assert bd_rate(RATES, PSNR, [r * 0.5 for r in RATES], PSNR) == pytest.approx(-50.0, abs=1e-9)


def test_double_rate_is_plus_100_percent() -> None:
    assert bd_rate(RATES, PSNR, [r * 2 for r in RATES], PSNR) == pytest.approx(100.0, abs=1e-9)


def test_identical_curves_are_zero() -> None:
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-12)
    assert bd_quality(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-12)


def test_bd_quality_of_a_constant_shift() -> None:
    assert bd_quality(RATES, PSNR, RATES, [q + 1.0 for q in PSNR]) == pytest.approx(1.0, abs=1e-9)


def test_partial_overlap_by_hand() -> None:
    # Two points per curve: PCHIP is the straight line. Anchor: ln r = q ln2 on q in [0, 2];
    # test: ln r = (q - 1) ln2 / 2 on q in [1, 3]. Over the common q in [1, 2] the mean log-rate
    # difference is 0.25 ln2 - 1.5 ln2 = -1.25 ln2, so BD-rate = 2 ** -1.25 - 1.
    got = bd_rate([1.0, 4.0], [0.0, 2.0], [1.0, 2.0], [1.0, 3.0])
    assert got == pytest.approx((2**-1.25 - 1) * 100, abs=1e-9)


def test_unsorted_input_is_accepted() -> None:
    order = [2, 0, 3, 1]
    got = bd_rate([RATES[i] for i in order], [PSNR[i] for i in order], [r * 0.5 for r in RATES], PSNR)
    assert got == pytest.approx(-50.0, abs=1e-9)


def test_lower_is_better_metric() -> None:
    warp = [80.0, 60.0, 45.0, 35.0]  # falls as rate grows
    assert bd_rate(RATES, warp, [r * 0.5 for r in RATES], warp, higher_is_better=False) == pytest.approx(-50.0)
    # Test 5 units steadier at every rate: negative BD-quality is the improvement for such metrics.
    better = [w - 5.0 for w in warp]
    assert bd_quality(RATES, warp, RATES, better, higher_is_better=False) == pytest.approx(-5.0)
    with pytest.raises(ValueError, match="strictly increase"):
        bd_rate(RATES, warp, RATES, warp)


def test_result_is_consistent_with_log_rate_mean() -> None:
    # A curve that is 0.8x the anchor at low quality and 0.6x at high quality lands in between.
    test_rates = [r * f for r, f in zip(RATES, [0.8, 0.733, 0.667, 0.6], strict=True)]
    got = bd_rate(RATES, PSNR, test_rates, PSNR)
    assert -40.0 < got < -20.0
    assert math.isfinite(got)


@pytest.mark.parametrize(
    ("anchor", "test", "message"),
    [
        (([0.1], [30.0]), (RATES, PSNR), "at least 2"),
        ((RATES, PSNR), ([0.1, 0.2], [40.0, 41.0]), "do not overlap"),
        ((RATES, PSNR[:3]), (RATES, PSNR), "equal length"),
        (([0.0, 0.1], [30.0, 31.0]), (RATES, PSNR), "> 0"),
        (([0.1, 0.1], [30.0, 31.0]), (RATES, PSNR), "same rate"),
        (([0.1, 0.2], [30.0, float("nan")]), (RATES, PSNR), "finite"),
    ],
)
def test_bad_curves_raise_one_line_errors(anchor: tuple, test: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bd_rate(*anchor, *test)
