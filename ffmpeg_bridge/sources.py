"""Frame sources: anything that yields ``(VideoInfo, Iterator[Frame])``.

- :func:`open_video`: any file PyAV (ffmpeg's libraries) can decode;
- :func:`from_vs_node`: a VapourSynth clip (vapoursynth is imported only here);
- :func:`open_y4m`: a Y4M file or stream;
- :func:`open_source`: picks one of the above for a CLI argument.

``.gnvc`` bitstreams and ``.vpy`` scripts are not the bridge's: ``vsgnvc.api.open_input`` opens every input.

Each opener does its checks and reads the first frame's metadata before returning, so
a bad input fails at the call, not halfway through a pipe.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import SourceError
from .video import ColorRange, Frame, PixelFormat, VideoInfo
from .y4m import MAGIC, read_y4m

if TYPE_CHECKING:
    import av.container
    import av.video.frame
    import vapoursynth as vs

logger = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(25, 1)
UNSPECIFIED = 2  # H.273 "unspecified"
_AV_RANGE = {1: ColorRange.LIMITED, 2: ColorRange.FULL}  # AVColorRange; 0 = unspecified
# Decoder formats whose planes already have one of our layouts: no swscale pass.
_DIRECT_FORMATS: dict[str, tuple[PixelFormat, ColorRange | None]] = {
    "yuv420p": (PixelFormat.YUV420P, None),
    "yuvj420p": (PixelFormat.YUV420P, ColorRange.FULL),
    "yuv420p10le": (PixelFormat.YUV420P10, None),
    "yuv444p": (PixelFormat.YUV444P, None),
    "yuvj444p": (PixelFormat.YUV444P, ColorRange.FULL),
    "yuv444p10le": (PixelFormat.YUV444P10, None),
}


# --------------------------------------------------------------------------- files via PyAV


def open_video(path: Path | str, max_frames: int | None = None) -> tuple[VideoInfo, Iterator[Frame]]:
    """Decode the first video stream of a file with PyAV.

    Frames are converted to the nearest supported layout: 4:4:4 and RGB sources to
    ``yuv444p`` (RGB through the BT.709 matrix, limited range), other subsamplings to
    ``yuv420p``; sources deeper than 8 bits to the 10-bit variant. ``yuv420p``,
    ``yuv420p10le``, ``yuv444p(10le)`` and the ``yuvj`` formats are passed through
    untouched. Colour tags come from the stream (falling back to the first frame), fps
    from the stream's average rate.

    :param path: any container/codec ffmpeg's libraries decode.
    :param max_frames: stop after this many frames.
    :raises SourceError: when the file cannot be opened, has no video stream or no frames.
    """
    import av

    path = Path(path)
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must not be negative, got {max_frames}")
    if not path.is_file():
        raise SourceError(f"input file {path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise SourceError(f"cannot open {path} as video: {_av_reason(exc)}") from None
    try:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise SourceError(f"{path} has no video stream ({kinds})")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = container.decode(stream)
        first = _next_frame(decoded, path, 0)
        if first is None:
            raise SourceError(f"{path}: the video stream has no decodable frames")
        info, convert = _describe_av(stream, first, max_frames)
    except BaseException:
        container.close()
        raise
    if max_frames == 0:
        container.close()
        return info, iter(())
    return info, _av_frames(container, decoded, first, convert, info, path, max_frames)


def _next_frame(decoded: Iterator[Any], path: Path, index: int) -> Any | None:
    import av

    try:
        return next(decoded, None)
    except av.FFmpegError as exc:
        raise SourceError(f"{path}: cannot decode video frame {index}: {_av_reason(exc)}") from None


def _av_reason(exc: Exception) -> str:
    """PyAV's message without the errno number and the repeated file name."""
    return str(getattr(exc, "strerror", None) or exc)


def _describe_av(stream: Any, first: av.video.frame.VideoFrame, max_frames: int | None) -> tuple[VideoInfo, Any]:
    """VideoInfo for a PyAV stream plus the per-frame conversion to our layout."""
    cc = stream.codec_context
    fmt = first.format
    direct = _DIRECT_FORMATS.get(fmt.name)
    is_rgb = fmt.is_rgb or fmt.has_palette
    if direct is not None:
        pix_fmt, forced_range = direct
    else:
        deep = max(c.bits for c in fmt.components) > 8
        full_chroma = is_rgb or (
            len(fmt.components) >= 3 and fmt.chroma_width(64) == 64 and fmt.chroma_height(64) == 64
        )
        if full_chroma:
            pix_fmt = PixelFormat.YUV444P10 if deep else PixelFormat.YUV444P
        else:
            pix_fmt = PixelFormat.YUV420P10 if deep else PixelFormat.YUV420P
        forced_range = ColorRange.LIMITED if is_rgb else None
        logger.info("converting %s frames to %s", fmt.name, pix_fmt.value)

    def tag(name: str) -> int:
        # AVCOL_* values are H.273 codes; 0 is "reserved"/"RGB", never meaningful on YUV data.
        for obj in (cc, first):
            value = int(getattr(obj, name, 0) or 0)
            if value not in (0, UNSPECIFIED):
                return value
        return UNSPECIFIED

    color_range = (
        forced_range
        or _AV_RANGE.get(int(cc.color_range or 0))
        or _AV_RANGE.get(int(first.color_range or 0))
        or ColorRange.LIMITED
    )
    matrix = 1 if is_rgb else tag("colorspace")
    info = VideoInfo(
        width=first.width,
        height=first.height,
        fps=_av_fps(stream),
        pix_fmt=pix_fmt,
        color_range=color_range,
        matrix=matrix,
        transfer=tag("color_trc"),
        primaries=tag("color_primaries"),
        sar=_av_sar(stream),
        num_frames=_av_frame_count(stream, max_frames),
    )

    def convert(frame: av.video.frame.VideoFrame) -> av.video.frame.VideoFrame:
        if direct is not None and frame.format.name == fmt.name:
            return frame
        if is_rgb:
            return frame.reformat(format=pix_fmt.value, dst_colorspace="itu709", dst_color_range="MPEG")
        # YUV -> YUV: only subsampling/depth change; keep the range as it is.
        av_range = "JPEG" if color_range is ColorRange.FULL else "MPEG"
        return frame.reformat(format=pix_fmt.value, src_color_range=av_range, dst_color_range=av_range)

    return info, convert


def _av_fps(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    logger.warning("stream has no frame rate; assuming %s fps", DEFAULT_FPS)
    return DEFAULT_FPS


def _av_sar(stream: Any) -> Fraction:
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return Fraction(sar) if sar else Fraction(1, 1)


def _av_frame_count(stream: Any, max_frames: int | None) -> int | None:
    count = int(stream.frames or 0) or None  # 0 means "unknown" in the container
    if max_frames is None:
        return count
    return max_frames if count is None else min(count, max_frames)


def _av_frames(
    container: av.container.InputContainer,
    decoded: Iterator[Any],
    first: Any,
    convert: Any,
    info: VideoInfo,
    path: Path,
    max_frames: int | None,
) -> Iterator[Frame]:
    try:
        frame = first
        index = 0
        timing = _RateCheck(path, info.fps)
        while frame is not None:
            if (frame.width, frame.height) != (info.width, info.height):
                raise SourceError(
                    f"{path}: frame {index} is {frame.width}x{frame.height} but the stream started at "
                    f"{info.width}x{info.height}; resolution changes are not supported"
                )
            timing.check(index, frame.time)
            yield _planes(convert(frame), info)
            index += 1
            if max_frames is not None and index >= max_frames:
                break
            frame = _next_frame(decoded, path, index)
    finally:
        container.close()


class _RateCheck:
    """Warns once when frame timestamps show a variable frame rate: frames are passed on at ``fps``, retimed."""

    TOLERANCE = 0.5  # of a frame duration; container timestamp rounding stays far below this

    def __init__(self, path: Path, fps: Fraction) -> None:
        self.path = path
        self.duration = 1 / float(fps)
        self.previous: float | None = None
        self.warned = False

    def check(self, index: int, time: float | None) -> None:
        if self.warned or time is None:
            return
        if self.previous is not None and abs(time - self.previous - self.duration) > self.TOLERANCE * self.duration:
            self.warned = True
            logger.warning(
                "%s: variable frame rate (frame %d comes %.3f s after the previous one, not %.3f s); "
                "frames are kept in order at a constant %.3f fps, so their timing changes",
                self.path, index, time - self.previous, self.duration, 1 / self.duration,
            )  # fmt: skip
        self.previous = time


def _planes(frame: Any, info: VideoInfo) -> Frame:
    """Copy a PyAV frame's planes out, dropping the line padding."""
    dtype = info.pix_fmt.dtype
    out = []
    for plane, (h, w) in zip(frame.planes, info.pix_fmt.plane_shapes(info.width, info.height), strict=True):
        rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // dtype.itemsize)
        out.append(rows[:h, :w].copy())
    return tuple(out)


# --------------------------------------------------------------------------- VapourSynth


def from_vs_node(node: vs.VideoNode) -> tuple[VideoInfo, Iterator[Frame]]:
    """Frames of a VapourSynth clip, in order (``node.frames()`` prefetches ahead).

    Colour tags come from frame 0's ``_Matrix``/``_Transfer``/``_Primaries``/``_Range``
    and ``_SARNum``/``_SARDen`` properties.

    :param node: a constant-format YUV420P8/P10 or YUV444P8/P10 clip with a constant frame rate.
    :raises SourceError: for other formats, variable size/format or variable frame rate.
    """
    import vapoursynth as vs

    if not isinstance(node, vs.VideoNode):
        raise SourceError(f"expected a vapoursynth.VideoNode, got {type(node).__name__}")
    formats = {
        vs.YUV420P8: PixelFormat.YUV420P,
        vs.YUV420P10: PixelFormat.YUV420P10,
        vs.YUV444P8: PixelFormat.YUV444P,
        vs.YUV444P10: PixelFormat.YUV444P10,
    }
    if node.format is None or node.width == 0 or node.height == 0:
        raise SourceError("clip has a variable format or size; convert it to a constant one first")
    if node.format.id not in formats:
        raise SourceError(
            f"clip format {node.format.name} is not supported (use YUV420P8, YUV420P10, YUV444P8 or YUV444P10, "
            f"e.g. core.resize.Bicubic(clip, format=vs.YUV420P10))"
        )
    if node.fps.numerator == 0:
        raise SourceError("clip has a variable frame rate; set one with core.std.AssumeFPS")
    if node.num_frames == 0:
        raise SourceError("clip has no frames")
    props = node.get_frame(0).props
    vs_range = props.get("_Range")
    sar_num, sar_den = int(props.get("_SARNum", 0)), int(props.get("_SARDen", 0))
    info = VideoInfo(
        width=node.width,
        height=node.height,
        fps=Fraction(node.fps.numerator, node.fps.denominator),
        pix_fmt=formats[node.format.id],
        color_range=ColorRange.FULL if vs_range == 1 else ColorRange.LIMITED,  # R81 _Range: 0 = limited, 1 = full
        matrix=int(props.get("_Matrix", UNSPECIFIED)),
        transfer=int(props.get("_Transfer", UNSPECIFIED)),
        primaries=int(props.get("_Primaries", UNSPECIFIED)),
        sar=Fraction(sar_num, sar_den) if sar_num > 0 and sar_den > 0 else Fraction(1, 1),
        num_frames=node.num_frames,
    )
    return info, _vs_frames(node, info.pix_fmt.dtype)


def _vs_frames(node: vs.VideoNode, dtype: np.dtype[Any]) -> Iterator[Frame]:
    for frame in node.frames(close=True):
        yield tuple(np.array(np.asarray(frame[p]), dtype=dtype, copy=True) for p in range(frame.format.num_planes))


# --------------------------------------------------------------------------- Y4M


def open_y4m(source: Path | str | IO[bytes], max_frames: int | None = None) -> tuple[VideoInfo, Iterator[Frame]]:
    """Frames of a Y4M file or binary stream (``sys.stdin.buffer``, a pipe)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise SourceError(f"input file {path} does not exist")
        stream: IO[bytes] = path.open("rb")
        try:
            info, frames = read_y4m(stream)
        except BaseException:
            stream.close()
            raise
        frames = _closing(frames, stream)
    else:
        info, frames = read_y4m(source)
    if max_frames is not None:
        frames = itertools.islice(frames, max_frames)
        if info.num_frames is not None:
            info = _with_count(info, min(info.num_frames, max_frames))
    return info, frames


def _closing(frames: Iterator[Frame], stream: IO[bytes]) -> Iterator[Frame]:
    try:
        yield from frames
    finally:
        stream.close()


def _with_count(info: VideoInfo, num_frames: int) -> VideoInfo:
    from dataclasses import replace

    return replace(info, num_frames=num_frames)


# --------------------------------------------------------------------------- dispatch


def open_source(path: Path | str, max_frames: int | None = None) -> tuple[VideoInfo, Iterator[Frame]]:
    """Open a CLI input: ``-`` (Y4M on stdin), a Y4M file (recognised by its content), or any video file.

    :raises SourceError: when the input does not exist or cannot be read as video.
    """
    if str(path) == "-":
        return open_y4m(sys.stdin.buffer, max_frames)
    path = Path(path)
    if not path.exists():
        raise SourceError(f"input file {path} does not exist")
    if _starts_with_y4m_magic(path):
        return open_y4m(path, max_frames)
    return open_video(path, max_frames)


def _starts_with_y4m_magic(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as f:
        return f.read(len(MAGIC) + 1) in (MAGIC + b" ", MAGIC + b"\n")
