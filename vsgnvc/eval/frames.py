"""Frames of the evaluation layer: checks, RGB <-> YUV 4:2:0 converters and y4m files.

Two representations are used everywhere in :mod:`vsgnvc.eval`:

* **RGB**: one ``uint8`` array ``[N, H, W, 3]`` (frames, rows, columns, R/G/B), values 0-255.
* **YUV 4:2:0**: a sequence of ``ffmpeg_bridge`` frames (:data:`~ffmpeg_bridge.video.Frame`), each ``(Y, U, V)``
  ``uint8`` planes, ``Y`` ``[H, W]`` and ``U``/``V`` ``[H/2, W/2]``, limited ("TV") range as ffmpeg's ``yuv420p``:
  the frames every decoder and reader of the project yields. ``H`` and ``W`` must be even.

The converters use a fixed matrix (BT.709 by default, BT.601 on request) in limited range, centre-sited
chroma (``C420jpeg`` in y4m terms): 2x2 box average to subsample, bilinear (3/4, 1/4 taps) to upsample.
They are applied identically to reference and test videos, so the choice only shifts both sides of a
comparison the same way; it is *not* a claim about how the source clip was tagged.

y4m files are read and written by ``ffmpeg_bridge.y4m`` (:func:`save_y4m`, :func:`load_y4m`, :func:`y4m_info`
add the file handling: atomic writes, whole files, the 8-bit 4:2:0 check).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from ffmpeg_bridge.video import ColorRange, Frame, PixelFormat, VideoInfo
from ffmpeg_bridge.y4m import read_y4m, write_y4m
from vsgnvc.codec.atomic import atomic_output

logger = logging.getLogger(__name__)

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


def check_yuv420(frames: Sequence[Frame], what: str = "yuv") -> Sequence[Frame]:
    """Validate an 8-bit 4:2:0 video (a sequence of ``(Y, U, V)`` frames of one size) and return it.

    :raises ValueError: on a wrong type, dtype or plane shape, or no frames.
    """
    if not isinstance(frames, Sequence) or isinstance(frames, np.ndarray):
        raise ValueError(f"{what}: expected a sequence of (Y, U, V) frames, got {type(frames).__name__}")
    if not frames:
        raise ValueError(f"{what}: the video has no frames")
    h, w = _luma_shape(frames[0], what, 0)
    if h % 2 or w % 2:
        raise ValueError(f"{what}: 4:2:0 needs an even size, got {w}x{h}")
    for index, frame in enumerate(frames):
        y, u, v = frame
        if _luma_shape(frame, what, index) != (h, w):
            raise ValueError(f"{what}: frame {index} is {y.shape[1]}x{y.shape[0]}, frame 0 is {w}x{h}")
        if u.shape != (h // 2, w // 2) or v.shape != (h // 2, w // 2):
            got = f"{list(u.shape)}, {list(v.shape)}"
            raise ValueError(f"{what}: frame {index}: chroma planes must be [{h // 2}, {w // 2}], got {got}")
    return frames


def _luma_shape(frame: Frame, what: str, index: int) -> tuple[int, int]:
    if not isinstance(frame, tuple | list) or len(frame) != 3:
        raise ValueError(f"{what}: frame {index} is not a (Y, U, V) tuple of planes")
    for name, plane in zip("YUV", frame, strict=True):
        if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 2:
            raise ValueError(f"{what}: frame {index}: plane {name} must be a uint8 array [H, W]")
    return frame[0].shape


def planes(frames: Sequence[Frame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frames' Y, U and V planes stacked along a new first axis (``[N, H, W]`` each), for whole-video maths."""
    return tuple(np.stack([f[p] for f in frames]) for p in range(3))  # type: ignore[return-value]


def _coefficients(matrix: str) -> tuple[float, float, float]:
    if matrix not in _MATRICES:
        raise ValueError(f"unknown matrix {matrix!r}; use one of {sorted(_MATRICES)}")
    kr, kb = _MATRICES[matrix]
    return kr, 1.0 - kr - kb, kb


def rgb_to_yuv420(rgb: np.ndarray, matrix: Matrix = "bt709") -> list[Frame]:
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
    y, u, v = (np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v))
    return [(y[i], u[i], v[i]) for i in range(n)]


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


def yuv420_to_rgb(frames: Sequence[Frame], matrix: Matrix = "bt709") -> np.ndarray:
    """Convert limited-range 8-bit 4:2:0 frames to RGB ``[N, H, W, 3]`` ``uint8`` (clamped to 0-255).

    :param frames: ``(Y, U, V)`` frames, see :func:`check_yuv420`.
    :param matrix: ``"bt709"`` (default) or ``"bt601"``.
    """
    y, u, v = planes(check_yuv420(frames))
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


# --------------------------------------------------------------------------- y4m files


def y4m_video_info(width: int, height: int, fps: Fraction, num_frames: int | None = None) -> VideoInfo:
    """How the evaluation's frames are described in y4m: 8-bit 4:2:0, limited range."""
    return VideoInfo(width, height, Fraction(fps), PixelFormat.YUV420P, ColorRange.LIMITED, num_frames=num_frames)


def save_y4m(path: Path, frames: Sequence[Frame], fps: Fraction) -> Path:
    """Write 8-bit 4:2:0 ``frames`` to ``path`` (under a temporary name, renamed when complete); returns ``path``."""
    path = Path(path)
    y = check_yuv420(frames, f"save_y4m {path.name}")[0][0]
    stream_y4m(path, y4m_video_info(y.shape[1], y.shape[0], fps, len(frames)), frames)
    return path


def stream_y4m(path: Path, info: VideoInfo, frames: Iterable[Frame]) -> int:
    """Write ``frames`` as they come (a generator holds only what it yields) to ``path``, under a temporary name
    renamed when complete (an exception while iterating leaves nothing at ``path``); returns the frame count."""
    with atomic_output(Path(path)) as tmp, tmp.open("wb") as f:
        return write_y4m(f, info, frames)


def load_y4m(path: Path) -> tuple[VideoInfo, list[Frame]]:
    """Every frame of an 8-bit 4:2:0 y4m file; ``info.num_frames`` is their count.

    :raises ValueError: a missing, malformed, truncated or empty file, or another pixel format.
    """
    with _y4m_file(path) as (info, frames):
        held = list(frames)
    return replace(info, num_frames=len(held)), held


def y4m_info(path: Path) -> VideoInfo:
    """Header of an 8-bit 4:2:0 y4m file with ``num_frames`` counted (frames are read one at a time, not kept).

    :raises ValueError: as :func:`load_y4m`.
    """
    with _y4m_file(path) as (info, frames):
        count = sum(1 for _ in frames)
    return replace(info, num_frames=count)


@contextlib.contextmanager
def _y4m_file(path: Path) -> Iterator[tuple[VideoInfo, Iterator[Frame]]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"y4m file not found: {path}")
    with path.open("rb") as f:
        info, frames = read_y4m(f)
        if info.pix_fmt is not PixelFormat.YUV420P:
            raise ValueError(f"{path}: only 8-bit 4:2:0 y4m is supported, got {info.pix_fmt.value}")
        yield info, _non_empty(frames, path)


def _non_empty(frames: Iterator[Frame], path: Path) -> Iterator[Frame]:
    count = 0
    for frame in frames:
        count += 1
        yield frame
    if not count:
        raise ValueError(f"{path}: the y4m file has no frames")
