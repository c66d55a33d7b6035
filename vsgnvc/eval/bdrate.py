"""Bjontegaard deltas with piecewise cubic Hermite (PCHIP) interpolation.

As in the common ``bd_rate`` implementations (JVET CTC spreadsheets, the ``bjontegaard`` package with
``method="scipy"``): each curve's log-rate is interpolated as a function of quality with
:class:`scipy.interpolate.PchipInterpolator` and integrated over the quality interval both curves cover.

* ``bd_rate``: ``(exp(mean(log R_test - log R_anchor)) - 1) * 100`` over that interval, in percent;
  negative means the test codec needs fewer bits for the same quality. This holds for any metric
  direction, because it compares rates at equal quality.
* ``bd_quality``: mean of ``Q_test - Q_anchor`` over the common log-rate interval, in the metric's units,
  **test minus anchor**. For a higher-is-better metric (PSNR, MS-SSIM, VMAF) positive is better; for a
  lower-is-better metric (warping error, LPIPS, DISTS) *negative* is better.

``higher_is_better`` states the metric's direction; both functions check that each curve is strictly
monotone in that direction (quality improves as rate grows) and raise a one-line error if not, because
a Bjontegaard delta over a non-monotone curve is not defined.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)


def _curve(
    rate: Sequence[float], quality: Sequence[float], name: str, higher_is_better: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one RD curve; return ``(log_rate, quality)`` sorted by rate."""
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.ndim != 1 or q.ndim != 1 or r.shape != q.shape:
        raise ValueError(f"{name}: rate and quality must be 1-D sequences of equal length, got {r.shape} and {q.shape}")
    if r.size < 2:
        raise ValueError(f"{name}: need at least 2 RD points, got {r.size}")
    if not (np.isfinite(r).all() and np.isfinite(q).all()):
        raise ValueError(f"{name}: rates and qualities must be finite")
    if (r <= 0).any():
        raise ValueError(f"{name}: rates must be > 0")
    order = np.argsort(r)
    r, q = r[order], q[order]
    if np.any(np.diff(r) == 0):
        raise ValueError(f"{name}: two points have the same rate")
    step = np.diff(q) if higher_is_better else -np.diff(q)
    if np.any(step <= 0):
        direction = "increase" if higher_is_better else "decrease"
        raise ValueError(f"{name}: quality must strictly {direction} with rate for a Bjontegaard delta")
    return np.log(r), q


def _overlap(a: np.ndarray, b: np.ndarray, what: str) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if hi <= lo:
        raise ValueError(
            f"bd: the curves do not overlap in {what} (anchor {a.min():.4g}..{a.max():.4g}, "
            f"test {b.min():.4g}..{b.max():.4g})"
        )
    return float(lo), float(hi)


def _mean_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    from scipy.interpolate import PchipInterpolator

    order = np.argsort(x)
    return float(PchipInterpolator(x[order], y[order]).integrate(lo, hi)) / (hi - lo)


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    *,
    higher_is_better: bool = True,
) -> float:
    """Bjontegaard delta rate of ``test`` against ``anchor``, in percent (negative: test saves bits).

    :param anchor_rate: anchor rates (any positive unit, e.g. bpp; the same unit for both curves).
    :param anchor_quality: anchor qualities.
    :param test_rate: test rates.
    :param test_quality: test qualities.
    :param higher_is_better: ``True`` for PSNR/MS-SSIM/VMAF, ``False`` for warping error, LPIPS, DISTS.
    :raises ValueError: fewer than 2 points, non-monotone curves, or no common quality interval.
    """
    log_ra, qa = _curve(anchor_rate, anchor_quality, "anchor", higher_is_better)
    log_rt, qt = _curve(test_rate, test_quality, "test", higher_is_better)
    lo, hi = _overlap(qa, qt, "quality")
    diff = _mean_over(qt, log_rt, lo, hi) - _mean_over(qa, log_ra, lo, hi)
    return (float(np.exp(diff)) - 1.0) * 100.0


def bd_quality(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    *,
    higher_is_better: bool = True,
) -> float:
    """Bjontegaard delta quality (test minus anchor, metric units) over the common log-rate interval.

    Also known as BD-PSNR / BD-LPIPS. Its sign follows the metric: see the module docstring.

    :raises ValueError: fewer than 2 points, non-monotone curves, or no common rate interval.
    """
    log_ra, qa = _curve(anchor_rate, anchor_quality, "anchor", higher_is_better)
    log_rt, qt = _curve(test_rate, test_quality, "test", higher_is_better)
    lo, hi = _overlap(log_ra, log_rt, "log-rate")
    return _mean_over(log_rt, qt, lo, hi) - _mean_over(log_ra, qa, lo, hi)
