"""Frame containers of the evaluation layer and RGB <-> YUV 4:2:0 converters.

Two representations are used everywhere in :mod:`vsgnvc.eval`:

* **RGB**: one ``uint8`` array ``[N, H, W, 3]`` (frames, rows, columns, R/G/B), values 0-255.
* **YUV 4:2:0**: a tuple ``(Y, U, V)`` of ``uint8`` arrays, ``Y`` is ``[N, H, W]`` and ``U``/``V`` are
  ``[N, H/2, W/2]``, limited ("TV") range as ffmpeg's ``yuv420p``. ``H`` and ``W`` must be even.

The converters use a fixed matrix (BT.709 by default, BT.601 on request) in limited range, centre-sited
chroma (``C420jpeg`` in y4m terms): 2x2 box average to subsample, bilinear (3/4, 1/4 taps) to upsample.
They are applied identically to reference and test videos, so the choice only shifts both sides of a
comparison the same way; it is *not* a claim about how the source clip was tagged.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

Yuv420 = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Planar 4:2:0 video: ``(Y [N,H,W], U [N,H/2,W/2], V [N,H/2,W/2])``, ``uint8``."""

Matrix = Literal["bt709", "bt601"]

# (Kr, Kb) luma coefficients.
_MATRICES: dict[str, tuple[float, float]] = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


def check_rgb(frames: np.ndarray, what: str = "rgb") -> np.ndarray:
    """Validate an RGB video ``[N, H, W, 3]`` of ``uint8`` and return it.

    :param frames: the array to check.
    :param what: name used in the error message.
    :raises ValueError: on a wrong dtype, rank or channel count.
    """
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"{what}: expected a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 frames, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{what}: expected shape [N, H, W, 3], got {list(frames.shape)}")
    if frames.shape[0] == 0:
        raise ValueError(f"{what}: the video has no frames")
    return frames


def check_yuv420(yuv: Yuv420, what: str = "yuv") -> Yuv420:
    """Validate a planar 4:2:0 video (see :data:`Yuv420`) and return it.

    :raises ValueError: on a wrong type, dtype or plane shape.
    """
    if not isinstance(yuv, tuple | list) or len(yuv) != 3:
        raise ValueError(f"{what}: expected a (Y, U, V) tuple of arrays")
    y, u, v = yuv
    for name, plane in zip("YUV", (y, u, v), strict=True):
        if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 3:
            raise ValueError(f"{what}: plane {name} must be a uint8 array [N, H, W]")
    n, h, w = y.shape
    if n == 0:
        raise ValueError(f"{what}: the video has no frames")
    if h % 2 or w % 2:
        raise ValueError(f"{what}: 4:2:0 needs an even size, got {w}x{h}")
    if u.shape != (n, h // 2, w // 2) or v.shape != (n, h // 2, w // 2):
        raise ValueError(
            f"{what}: chroma planes must be [{n}, {h // 2}, {w // 2}], got {list(u.shape)}, {list(v.shape)}"
        )
    return (y, u, v)


def _coefficients(matrix: str) -> tuple[float, float, float]:
    if matrix not in _MATRICES:
        raise ValueError(f"unknown matrix {matrix!r}; use one of {sorted(_MATRICES)}")
    kr, kb = _MATRICES[matrix]
    return kr, 1.0 - kr - kb, kb


def rgb_to_yuv420(rgb: np.ndarray, matrix: Matrix = "bt709") -> Yuv420:
    """Convert RGB ``[N, H, W, 3]`` ``uint8`` to limited-range planar 4:2:0.

    :param rgb: frames; ``H`` and ``W`` must be even.
    :param matrix: ``"bt709"`` (default) or ``"bt601"``.
    """
    check_rgb(rgb)
    n, h, w, _ = rgb.shape
    if h % 2 or w % 2:
        raise ValueError(f"rgb_to_yuv420: 4:2:0 needs an even size, got {w}x{h}")
    kr, kg, kb = _coefficients(matrix)
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    luma = kr * r + kg * g + kb * b
    pb = (b - luma) / (2.0 * (1.0 - kb))
    pr = (r - luma) / (2.0 * (1.0 - kr))
    y = 16.0 + luma * (219.0 / 255.0)
    # Centre-sited chroma: average each 2x2 block.
    pb = pb.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    pr = pr.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    u = 128.0 + pb * (224.0 / 255.0)
    v = 128.0 + pr * (224.0 / 255.0)
    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v))  # type: ignore[return-value]


def _upsample2(plane: np.ndarray, axis: int) -> np.ndarray:
    """Double ``plane`` along ``axis`` with centre-sited bilinear taps (3/4 near, 1/4 far)."""
    n = plane.shape[axis]
    prev = np.take(plane, np.clip(np.arange(n) - 1, 0, n - 1), axis=axis)
    nxt = np.take(plane, np.clip(np.arange(n) + 1, 0, n - 1), axis=axis)
    even = 0.75 * plane + 0.25 * prev
    odd = 0.75 * plane + 0.25 * nxt
    out = np.stack([even, odd], axis=axis + 1)
    shape = list(plane.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


def yuv420_to_rgb(yuv: Yuv420, matrix: Matrix = "bt709") -> np.ndarray:
    """Convert limited-range planar 4:2:0 to RGB ``[N, H, W, 3]`` ``uint8`` (clamped to 0-255).

    :param yuv: ``(Y, U, V)`` as in :data:`Yuv420`.
    :param matrix: ``"bt709"`` (default) or ``"bt601"``.
    """
    y, u, v = check_yuv420(yuv)
    kr, kg, kb = _coefficients(matrix)
    luma = (y.astype(np.float64) - 16.0) * (255.0 / 219.0)
    pb = _upsample2(_upsample2((u.astype(np.float64) - 128.0) * (255.0 / 224.0), 1), 2)
    pr = _upsample2(_upsample2((v.astype(np.float64) - 128.0) * (255.0 / 224.0), 1), 2)
    r = luma + 2.0 * (1.0 - kr) * pr
    b = luma + 2.0 * (1.0 - kb) * pb
    g = (luma - kr * r - kb * b) / kg
    rgb = np.stack([r, g, b], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def to_8bit(plane: np.ndarray) -> np.ndarray:
    """Map 10-bit samples back to 8 bits with rounding: ``(v + 2) >> 2``.

    This is the exact inverse of ffmpeg's 8 -> 10 bit conversion for ``yuv420p`` -> ``yuv420p10le``,
    which is a plain left shift (``x << 2``; checked on ffmpeg 9's swscale), so a lossless 10-bit
    round trip returns the original 8-bit frames.
    """
    return np.clip((plane.astype(np.int32) + 2) >> 2, 0, 255).astype(np.uint8)
