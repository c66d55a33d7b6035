"""Mapping between the pipe contract (``VideoInfo``) and the bitstream's sequence header."""

from __future__ import annotations

from fractions import Fraction

from ffmpeg_bridge.video import ColorRange, PixelFormat, VideoInfo

from ..bitstream import PixelFormatCode, SequenceHeader

_TO_CODE = {
    PixelFormat.YUV420P: PixelFormatCode.YUV420P8,
    PixelFormat.YUV420P10: PixelFormatCode.YUV420P10,
    PixelFormat.YUV444P: PixelFormatCode.YUV444P8,
    PixelFormat.YUV444P10: PixelFormatCode.YUV444P10,
}
_FROM_CODE = {v: k for k, v in _TO_CODE.items()}


def pixel_format_code(pix_fmt: PixelFormat) -> PixelFormatCode:
    if pix_fmt not in _TO_CODE:
        raise ValueError(f"pixel format {pix_fmt} is not supported (use {', '.join(p.value for p in _TO_CODE)})")
    return _TO_CODE[pix_fmt]


def check_frame_size(width: int, height: int, minimum: int) -> None:
    """Frames smaller than one latent sample (``minimum`` = the VAE's spatial factor) would be all padding."""
    if width < minimum or height < minimum:
        raise ValueError(
            f"frame size {width}x{height} is too small: the model needs at least {minimum}x{minimum} pixels"
        )


def video_info(header: SequenceHeader) -> VideoInfo:
    """The decoded stream's description, from a sequence header."""
    if header.pix_fmt not in _FROM_CODE:
        raise ValueError(f"pixel format {header.pix_fmt.name} cannot be output as YUV")
    return VideoInfo(
        width=header.width,
        height=header.height,
        fps=Fraction(header.fps_num, header.fps_den),
        pix_fmt=_FROM_CODE[header.pix_fmt],
        color_range=ColorRange.FULL if header.color_range else ColorRange.LIMITED,
        matrix=header.matrix,
        transfer=header.transfer,
        primaries=header.primaries,
        sar=Fraction(header.sar_num, header.sar_den),
        num_frames=header.num_frames,
    )
