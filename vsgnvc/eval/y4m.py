"""Lossless 8-bit 4:2:0 YUV4MPEG2 (y4m) files: the hand-off format to encoders and to ``libvmaf``.

Header written: ``YUV4MPEG2 W<w> H<h> F<num>:<den> Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED``,
then ``FRAME\\n`` + Y + U + V per frame. Only 8-bit 4:2:0 is read or written; anything else is
rejected with a one-line error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vsgnvc.eval.frames import Yuv420, check_yuv420

logger = logging.getLogger(__name__)

_MAGIC = b"YUV4MPEG2"
_FRAME = b"FRAME"
_CHROMA_420 = {"420", "420jpeg", "420mpeg2", "420paldv"}


@dataclass(frozen=True)
class Y4mInfo:
    """What a y4m header and its frame count say.

    :param width: luma width.
    :param height: luma height.
    :param fps: frame rate.
    :param frames: number of complete frames in the file.
    """

    width: int
    height: int
    fps: Fraction
    frames: int


def y4m_header(width: int, height: int, fps: Fraction) -> bytes:
    """Header line (with newline) for an 8-bit 4:2:0 limited-range stream."""
    return (
        f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:{fps.denominator} Ip A1:1 "
        "C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED\n"
    ).encode("ascii")


def y4m_bytes(yuv: Yuv420, fps: Fraction) -> bytes:
    """Serialise a whole video as one y4m byte string (for piping into ffmpeg's stdin)."""
    y, u, v = check_yuv420(yuv)
    n, h, w = y.shape
    parts = [y4m_header(w, h, Fraction(fps))]
    for i in range(n):
        parts += [b"FRAME\n", y[i].tobytes(), u[i].tobytes(), v[i].tobytes()]
    return b"".join(parts)


def write_y4m(path: Path, yuv: Yuv420, fps: Fraction) -> Path:
    """Write ``yuv`` to ``path`` atomically (temporary name, then rename).

    :param path: destination file.
    :param yuv: planar 4:2:0 ``uint8`` video.
    :param fps: frame rate stored in the header.
    :returns: ``path``.
    """
    path = Path(path)
    data = y4m_bytes(yuv, Fraction(fps))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _parse_header(line: bytes, path: Path) -> tuple[int, int, Fraction]:
    tokens = line.decode("ascii", errors="replace").split()
    if not tokens or tokens[0] != _MAGIC.decode():
        raise ValueError(f"{path}: not a y4m file (missing YUV4MPEG2 header)")
    width = height = 0
    fps = Fraction(25)
    chroma = "420jpeg"
    for tok in tokens[1:]:
        key, val = tok[0], tok[1:]
        if key == "W":
            width = int(val)
        elif key == "H":
            height = int(val)
        elif key == "F":
            num, _, den = val.partition(":")
            fps = Fraction(int(num), int(den or 1))
        elif key == "C":
            chroma = val
        elif key == "I" and val not in ("p", "?"):
            raise ValueError(f"{path}: interlaced y4m (I{val}) is not supported")
    if chroma not in _CHROMA_420:
        raise ValueError(f"{path}: only 8-bit 4:2:0 y4m is supported, got C{chroma}")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"{path}: bad or odd frame size {width}x{height}")
    return width, height, fps


def y4m_info(path: Path) -> Y4mInfo:
    """Read the header of ``path`` and count its complete frames (without loading them).

    :raises ValueError: if the file is not an 8-bit 4:2:0 y4m or ends inside a frame.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"y4m file not found: {path}")
    size = path.stat().st_size
    with path.open("rb") as fh:
        header = fh.readline(4096)
        width, height, fps = _parse_header(header, path)
        payload = width * height * 3 // 2
        frames = 0
        pos = len(header)
        while pos < size:
            fh.seek(pos)
            line = fh.readline(4096)
            if not line.startswith(_FRAME):
                raise ValueError(f"{path}: corrupt y4m, no FRAME marker at byte {pos}")
            pos += len(line) + payload
            if pos > size:
                raise ValueError(f"{path}: truncated y4m, frame {frames} is incomplete")
            frames += 1
    return Y4mInfo(width, height, fps, frames)


def read_y4m(path: Path) -> tuple[Yuv420, Fraction]:
    """Load an 8-bit 4:2:0 y4m file.

    :returns: ``((Y, U, V), fps)``.
    :raises ValueError: on a malformed, truncated, empty or non-4:2:0 file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"y4m file not found: {path}")
    data = path.read_bytes()
    end = data.find(b"\n")
    if end < 0:
        raise ValueError(f"{path}: not a y4m file (no header line)")
    width, height, fps = _parse_header(data[:end], path)
    luma, chroma = width * height, (width // 2) * (height // 2)
    ys: list[np.ndarray] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    pos = end + 1
    while pos < len(data):
        if not data.startswith(_FRAME, pos):
            raise ValueError(f"{path}: corrupt y4m, no FRAME marker at byte {pos}")
        pos = data.index(b"\n", pos) + 1
        if pos + luma + 2 * chroma > len(data):
            raise ValueError(f"{path}: truncated y4m, frame {len(ys)} is incomplete")
        buf = np.frombuffer(data, np.uint8, luma + 2 * chroma, pos)
        ys.append(buf[:luma].reshape(height, width))
        us.append(buf[luma : luma + chroma].reshape(height // 2, width // 2))
        vs.append(buf[luma + chroma :].reshape(height // 2, width // 2))
        pos += luma + 2 * chroma
    if not ys:
        raise ValueError(f"{path}: the y4m file has no frames")
    return (np.stack(ys), np.stack(us), np.stack(vs)), fps
