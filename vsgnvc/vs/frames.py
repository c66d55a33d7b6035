"""VapourSynth frames <-> the codec's planes (``ffmpeg_bridge.video.Frame``), with exact colour props.

Supported clip formats and the codec layout each one maps to:

=============  ==============  ==========================================================
clip           codec planes    conversion
=============  ==============  ==========================================================
YUV420P8       yuv420p         none (planes copied)
YUV420P10      yuv420p10le     none
YUV444P8       yuv444p         none
YUV444P10      yuv444p10le     none
RGB24          yuv444p         BT.709 matrix, full range (``vsgnvc.codec.color``)
RGBS           yuv444p10le     BT.709 matrix, full range; values clamped to [0, 1]
=============  ==============  ==========================================================

YUV clips are converted by the codec with their frame 0 ``_Matrix``/``_Range``; an unspecified
matrix is taken as BT.709 (with a warning), a missing ``_Range`` as limited. VapourSynth R81 names
the range prop ``_Range`` with H.273 semantics: **0 = limited, 1 = full** (the opposite of the old
``_ColorRange``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import vapoursynth as vs

from ffmpeg_bridge.video import ColorRange, Frame, PixelFormat, VideoInfo

from ..codec.color import _MATRIX_COEFFS, rgb_to_yuv, yuv_to_rgb
from .errors import gnvc_error

logger = logging.getLogger(__name__)

BT709 = 1
UNSPECIFIED = 2
MATRIX_RGB = 0
VS_RANGE_LIMITED = 0  # R81 ``_Range``: H.273 video_full_range_flag
VS_RANGE_FULL = 1


@dataclass(frozen=True)
class ClipFormat:
    """How one VapourSynth format is handed to the codec."""

    vs_format: int
    pix_fmt: PixelFormat
    rgb: bool = False

    @property
    def name(self) -> str:
        return vs.core.get_video_format(self.vs_format).name


FORMATS: dict[int, ClipFormat] = {
    f.vs_format: f
    for f in (
        ClipFormat(vs.YUV420P8, PixelFormat.YUV420P),
        ClipFormat(vs.YUV420P10, PixelFormat.YUV420P10),
        ClipFormat(vs.YUV444P8, PixelFormat.YUV444P),
        ClipFormat(vs.YUV444P10, PixelFormat.YUV444P10),
        ClipFormat(vs.RGB24, PixelFormat.YUV444P, rgb=True),
        ClipFormat(vs.RGBS, PixelFormat.YUV444P10, rgb=True),
    )
}
_BY_PIX_FMT = {f.pix_fmt: f for f in FORMATS.values() if not f.rgb}


def format_for(pix_fmt: PixelFormat) -> ClipFormat:
    """The YUV clip format that carries ``pix_fmt`` planes unchanged."""
    return _BY_PIX_FMT[pix_fmt]


@dataclass(frozen=True)
class ColorProps:
    """Colour of the planes the codec sees (H.273 codes), and how to tag the clip's frames."""

    matrix: int
    color_range: ColorRange
    transfer: int = UNSPECIFIED
    primaries: int = UNSPECIFIED

    def frame_props(self, fmt: ClipFormat) -> dict[str, int]:
        if fmt.rgb:
            return {
                "_Matrix": MATRIX_RGB,
                "_Range": VS_RANGE_FULL,
                "_Transfer": self.transfer,
                "_Primaries": self.primaries,
            }
        vs_range = VS_RANGE_FULL if self.color_range == ColorRange.FULL else VS_RANGE_LIMITED
        return {"_Matrix": self.matrix, "_Range": vs_range, "_Transfer": self.transfer, "_Primaries": self.primaries}


def check_clip(func: str, clip: object) -> ClipFormat:
    """The clip's ``ClipFormat``, or ``vs.Error`` naming what is wrong with it."""
    if not isinstance(clip, vs.VideoNode):
        raise gnvc_error(func, f"clip must be a vapoursynth.VideoNode, not {type(clip).__name__}")
    if clip.format is None or clip.format.color_family == vs.UNDEFINED or clip.width == 0 or clip.height == 0:
        raise gnvc_error(func, "clip has a variable format or size; make it constant first")
    if clip.format.id not in FORMATS:
        names = ", ".join(f.name for f in FORMATS.values())
        raise gnvc_error(
            func,
            f"clip format {clip.format.name} is not supported "
            f"(use {names}, e.g. core.resize.Bicubic(clip, format=vs.YUV420P10))",
        )
    if clip.num_frames < 1:
        raise gnvc_error(func, "clip has no frames")
    return FORMATS[clip.format.id]


def check_fps(func: str, clip: vs.VideoNode) -> Fraction:
    if clip.fps.numerator == 0:
        raise gnvc_error(func, "clip has a variable frame rate; set one with core.std.AssumeFPS")
    return Fraction(clip.fps.numerator, clip.fps.denominator)


def int_prop(func: str, props: vs.FrameProps, name: str, default: int) -> int:
    value = props.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise gnvc_error(func, f"frame prop {name} must be an integer, got {value!r}")
    return int(value)


def color_props(func: str, fmt: ClipFormat, props: vs.FrameProps) -> ColorProps:
    """Colour of a clip from its frame props (frame 0 stands for the clip)."""
    transfer = int_prop(func, props, "_Transfer", UNSPECIFIED)
    primaries = int_prop(func, props, "_Primaries", UNSPECIFIED)
    if fmt.rgb:
        # The codec's own RGB -> YUV: full range keeps every RGB code value distinct.
        return ColorProps(BT709, ColorRange.FULL, transfer, primaries)
    matrix = int_prop(func, props, "_Matrix", UNSPECIFIED)
    if matrix == UNSPECIFIED:
        logger.warning("gnvc.%s: clip has no _Matrix; assuming BT.709", func)
        matrix = BT709
    if matrix not in _MATRIX_COEFFS:
        supported = ", ".join(str(m) for m in sorted(_MATRIX_COEFFS))
        raise gnvc_error(
            func, f"_Matrix {matrix} is not supported (use {supported}, e.g. core.resize.Bicubic(clip, matrix_s='709'))"
        )
    vs_range = int_prop(func, props, "_Range", VS_RANGE_LIMITED)
    if vs_range not in (VS_RANGE_LIMITED, VS_RANGE_FULL):
        raise gnvc_error(func, f"_Range {vs_range} is not 0 (limited) or 1 (full)")
    color_range = ColorRange.FULL if vs_range == VS_RANGE_FULL else ColorRange.LIMITED
    return ColorProps(matrix, color_range, transfer, primaries)


def video_info(
    func: str, clip: vs.VideoNode, fmt: ClipFormat, color: ColorProps, props: vs.FrameProps, fps: Fraction | None = None
) -> VideoInfo:
    """The clip as the codec sees it (planes of ``fmt.pix_fmt`` in ``color``); ``fps`` overrides the clip's."""
    sar_num, sar_den = int_prop(func, props, "_SARNum", 0), int_prop(func, props, "_SARDen", 0)
    return VideoInfo(
        width=clip.width,
        height=clip.height,
        fps=fps if fps is not None else check_fps(func, clip),
        pix_fmt=fmt.pix_fmt,
        color_range=color.color_range,
        matrix=color.matrix,
        transfer=color.transfer,
        primaries=color.primaries,
        sar=Fraction(sar_num, sar_den) if sar_num > 0 and sar_den > 0 else Fraction(1, 1),
        num_frames=clip.num_frames,
    )


def _rgb_tensor(frame: vs.VideoFrame, fmt: ClipFormat) -> torch.Tensor:
    planes = np.stack([np.asarray(frame[p]) for p in range(3)]).astype(np.float32)
    if fmt.vs_format == vs.RGB24:
        planes /= 255.0
    return torch.from_numpy(planes).clamp_(0, 1).mul_(2).sub_(1)


def read_planes(frame: vs.VideoFrame, fmt: ClipFormat, color: ColorProps) -> Frame:
    """A private copy of the frame as codec planes (the frame may be freed afterwards)."""
    if fmt.rgb:
        return rgb_to_yuv(_rgb_tensor(frame, fmt), fmt.pix_fmt, color.color_range, color.matrix)
    dtype = fmt.pix_fmt.dtype
    return tuple(np.array(np.asarray(frame[p]), dtype=dtype, copy=True) for p in range(3))


def write_planes(fout: vs.VideoFrame, planes: Frame, fmt: ClipFormat, color: ColorProps) -> None:
    """Write codec planes into a writable frame of format ``fmt``."""
    if not fmt.rgb:
        for p in range(3):
            np.copyto(np.asarray(fout[p]), planes[p])
        return
    rgb = ((yuv_to_rgb(planes, fmt.pix_fmt, color.color_range, color.matrix) + 1) * 0.5).clamp(0, 1).numpy()
    if fmt.vs_format == vs.RGB24:
        rgb = np.rint(rgb * 255.0).astype(np.uint8)
    for p in range(3):
        np.copyto(np.asarray(fout[p]), rgb[p])


def blank_like(clip: vs.VideoNode, fmt: ClipFormat) -> vs.VideoNode:
    """A black clip of the same size, length and rate: the frame buffers a source-like filter fills."""
    return clip.std.BlankClip(format=fmt.vs_format, keep=True)
