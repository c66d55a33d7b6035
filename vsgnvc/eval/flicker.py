"""Temporal-consistency metrics: warping error and tOF (see ``docs/gnvc-vd.md``, "Temporal-consistency metrics").

**Warping error** (Lai et al. 2018, as used by GNVC-VD): for each pair ``(t, t+1)``

1. optical flow ``F`` from ``t`` to ``t+1`` and ``B`` from ``t+1`` to ``t`` is computed on the *reference*
   (source) video with OpenCV's DIS (preset ``MEDIUM``) on grey frames;
2. output frame ``t+1`` is warped back to ``t``: ``W(x) = out_{t+1}(x + F(x))`` (bilinear);
3. a pixel is non-occluded if it lands inside the frame and passes the forward-backward check of
   Sundaram et al. 2010: ``|F + B~|^2 < 0.01 (|F|^2 + |B~|^2) + 0.5``, with ``B~ = B(x + F(x))``;
4. the pair's error is the mean of ``(out_t - W)^2`` over non-occluded pixels and the 3 channels.

The pair errors are averaged over all pairs. Pairs where fewer than ``min_valid`` (default 25 %) of the
pixels survive the occlusion test are treated as **scene cuts** of the reference and skipped by both
metrics (across a cut no pixel has a correspondence, and the handful that pass by chance would dominate
the mean). **Units: squared 8-bit code values**, i.e. RGB in 0-255; divide
by ``255**2`` (:data:`UNIT_SCALE_01`) for the [0, 1] convention. The reference's own warping error
(``warping_error(ref, ref)``) is not zero (flow errors, lighting); report it as the floor.

**tOF** (TecoGAN): mean over pixels and pairs of the end-point distance ``|flow(out_t, out_t+1) -
flow(ref_t, ref_t+1)|_2`` with the same DIS flow. **Units: pixels.**
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vsgnvc.eval.frames import check_rgb

logger = logging.getLogger(__name__)

UNIT_SCALE_01: float = 255.0**2
"""Divide a warping error by this to express it for pixel values in [0, 1]."""


def _dis() -> object:
    import cv2

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])


def _flows(grey: np.ndarray) -> np.ndarray:
    """Forward DIS flow ``t -> t+1`` for every consecutive pair: ``[N-1, H, W, 2]`` float32 (dx, dy)."""
    dis = _dis()
    return np.stack([dis.calc(grey[t], grey[t + 1], None) for t in range(len(grey) - 1)])  # type: ignore[attr-defined]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return gx, gy


def _remap(img: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.remap(img, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True, eq=False)
class ReferenceFlows:
    """Flows and non-occlusion masks of a reference video, reusable across many outputs.

    :param forward: ``[N-1, H, W, 2]`` flow from ``t`` to ``t+1`` (pixels, x then y).
    :param valid: ``[N-1, H, W]`` bool, non-occluded pixels of frame ``t`` that land inside frame ``t+1``.
    :param cut: ``[N-1]`` bool, pairs treated as scene cuts (skipped).
    """

    forward: np.ndarray
    valid: np.ndarray
    cut: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.forward.shape[0]) + 1


def reference_flows(ref: np.ndarray, *, min_valid: float = 0.25) -> ReferenceFlows:
    """Compute DIS flows and forward-backward occlusion masks on the reference RGB video ``[N, H, W, 3]``.

    :param min_valid: pairs with a smaller non-occluded fraction are marked as scene cuts.
    """
    check_rgb(ref, "reference_flows")
    if not 0 <= min_valid < 1:
        raise ValueError(f"reference_flows: min_valid must be in [0, 1), got {min_valid}")
    if ref.shape[0] < 2:
        raise ValueError("reference_flows: need at least 2 frames")
    n, h, w, _ = ref.shape
    grey = _grey(ref)
    dis = _dis()
    gx, gy = _grid(h, w)
    forward, valid = [], []
    for t in range(n - 1):
        fwd = dis.calc(grey[t], grey[t + 1], None)  # type: ignore[attr-defined]
        bwd = dis.calc(grey[t + 1], grey[t], None)  # type: ignore[attr-defined]
        map_x, map_y = gx + fwd[..., 0], gy + fwd[..., 1]
        bwd_at = _remap(bwd, map_x, map_y)
        inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        mismatch = np.sum((fwd + bwd_at) ** 2, axis=-1)
        bound = 0.01 * (np.sum(fwd**2, axis=-1) + np.sum(bwd_at**2, axis=-1)) + 0.5
        forward.append(fwd)
        valid.append(inside & (mismatch < bound))
    valid_arr = np.stack(valid)
    cut = valid_arr.mean(axis=(1, 2)) < min_valid
    if cut.any():
        logger.info("reference_flows: skipping pairs %s as scene cuts", np.flatnonzero(cut).tolist())
    return ReferenceFlows(np.stack(forward), valid_arr, cut)


def _check_pair(ref: np.ndarray | ReferenceFlows, out: np.ndarray, what: str) -> ReferenceFlows:
    check_rgb(out, f"{what} output")
    flows = ref if isinstance(ref, ReferenceFlows) else reference_flows(ref)
    if out.shape[0] != flows.num_frames or out.shape[1:3] != flows.forward.shape[1:3]:
        raise ValueError(
            f"{what}: output shape {list(out.shape)} does not match the reference "
            f"({flows.num_frames} frames of {flows.forward.shape[2]}x{flows.forward.shape[1]})"
        )
    return flows


def warping_error_per_pair(ref: np.ndarray | ReferenceFlows, out: np.ndarray) -> np.ndarray:
    """Warping error of each frame pair ``(t, t+1)``, ``[N-1]`` float64, in 0-255 squared units (NaN at cuts).

    :param ref: reference RGB ``[N, H, W, 3]`` ``uint8`` or its precomputed :class:`ReferenceFlows`.
    :param out: output (decoded) RGB of the same shape.
    """
    flows = _check_pair(ref, out, "warping_error")
    h, w = out.shape[1:3]
    gx, gy = _grid(h, w)
    errors = np.empty(flows.forward.shape[0])
    for t, (fwd, valid) in enumerate(zip(flows.forward, flows.valid, strict=True)):
        if flows.cut[t]:
            errors[t] = np.nan
            continue
        warped = _remap(out[t + 1].astype(np.float32), gx + fwd[..., 0], gy + fwd[..., 1])
        sq = (out[t].astype(np.float32) - warped) ** 2
        errors[t] = float(sq[valid].sum()) / (3 * int(valid.sum()))
    return errors


def warping_error(ref: np.ndarray | ReferenceFlows, out: np.ndarray) -> float:
    """Mean warping error over frame pairs (0-255 squared units; lower is steadier).

    :param ref: reference RGB ``[N, H, W, 3]`` ``uint8`` (flow is computed on it) or its :class:`ReferenceFlows`.
    :param out: output RGB of the same shape.
    :raises ValueError: on mismatched shapes, fewer than 2 frames, or every pair being a scene cut.
    """
    per_pair = warping_error_per_pair(ref, out)
    if np.isnan(per_pair).all():
        raise ValueError("warping_error: every frame pair of the reference is a scene cut")
    return float(np.nanmean(per_pair))


def tof(ref: np.ndarray | ReferenceFlows, out: np.ndarray) -> float:
    """tOF: mean end-point distance (pixels) between output flow and reference flow over all pairs.

    :param ref: reference RGB ``[N, H, W, 3]`` ``uint8`` or its :class:`ReferenceFlows`.
    :param out: output RGB of the same shape.
    """
    flows = _check_pair(ref, out, "tof")
    if flows.cut.all():
        raise ValueError("tof: every frame pair of the reference is a scene cut")
    out_flow = _flows(_grey(out))
    epe = np.sqrt(np.sum((out_flow - flows.forward) ** 2, axis=-1)).mean(axis=(1, 2))
    return float(epe[~flows.cut].mean())
