"""The raw-video contract shared by every pipe in the project.

A frame is a tuple of numpy planes (Y, U, V) in the layout of ``VideoInfo.pix_fmt``:
``uint8`` for 8-bit formats, ``uint16`` (native endian in memory) for 10-bit ones.
Colour metadata uses ITU-T H.273 code points, the same integers VapourSynth's
``_Matrix``/``_Transfer``/``_Primaries`` frame properties and ffmpeg use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

import numpy as np

Frame = tuple[np.ndarray, ...]


class PixelFormat(StrEnum):
    """Planar formats we read and write; values are ffmpeg ``pix_fmt`` names."""

    YUV420P = "yuv420p"
    YUV420P10 = "yuv420p10le"
    YUV444P = "yuv444p"
    YUV444P10 = "yuv444p10le"

    @property
    def bit_depth(self) -> int:
        return 10 if self.value.endswith("10le") else 8

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint16 if self.bit_depth > 8 else np.uint8)

    @property
    def chroma_shift(self) -> tuple[int, int]:
        """(log2 horizontal, log2 vertical) chroma subsampling."""
        return (1, 1) if self.value.startswith("yuv420") else (0, 0)

    def plane_shapes(self, width: int, height: int) -> tuple[tuple[int, int], ...]:
        sx, sy = self.chroma_shift
        cw, ch = -(-width // (1 << sx)), -(-height // (1 << sy))
        return ((height, width), (ch, cw), (ch, cw))

    def frame_bytes(self, width: int, height: int) -> int:
        return sum(h * w for h, w in self.plane_shapes(width, height)) * self.dtype.itemsize


class ColorRange(StrEnum):
    LIMITED = "tv"
    FULL = "pc"


@dataclass(frozen=True)
class VideoInfo:
    """Everything a consumer needs to interpret a stream of frames.

    ``matrix``/``transfer``/``primaries`` are H.273 codes (1 = BT.709, 5/6 = BT.601,
    9 = BT.2020, 2 = unspecified).
    """

    width: int
    height: int
    fps: Fraction
    pix_fmt: PixelFormat = PixelFormat.YUV420P
    color_range: ColorRange = ColorRange.LIMITED
    matrix: int = 2
    transfer: int = 2
    primaries: int = 2
    sar: Fraction = Fraction(1, 1)
    num_frames: int | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.num_frames is not None and self.num_frames < 0:
            raise ValueError(f"frame count must not be negative, got {self.num_frames}")

    @property
    def frame_bytes(self) -> int:
        return self.pix_fmt.frame_bytes(self.width, self.height)

    def blank_frame(self) -> Frame:
        return tuple(np.zeros(shape, self.pix_fmt.dtype) for shape in self.pix_fmt.plane_shapes(self.width, self.height))
