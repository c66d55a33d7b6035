"""YUV4MPEG2 (Y4M): the uncompressed stream format ffmpeg and vspipe exchange through pipes.

Layout::

    YUV4MPEG2 W<w> H<h> F<num>:<den> Ip A<n>:<d> C<chroma> [X<ext> ...]\\n
    FRAME[ <params>]\\n <Y plane> <U plane> <V plane>
    FRAME\\n ...

Samples are 8-bit, or little-endian 16-bit words for the ``p10`` chroma tags. ffmpeg
carries the colour range as ``XCOLORRANGE=FULL|LIMITED``; vspipe adds ``XLENGTH=<frames>``.
Only the four :class:`~ffmpeg_bridge.video.PixelFormat` layouts are supported; anything
else (4:2:2, mono, 12/16-bit, alpha) is rejected by name.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import IO

import numpy as np

from .video import ColorRange, Frame, PixelFormat, VideoInfo

logger = logging.getLogger(__name__)

MAGIC = b"YUV4MPEG2"
FRAME_LINE = b"FRAME\n"
# Generous bounds so a stream of garbage fails fast instead of being read into memory.
MAX_HEADER_BYTES = 4096
MAX_FRAME_HEADER_BYTES = 1024
DEFAULT_FPS = Fraction(25, 1)  # what ffmpeg assumes for F0:0 or a missing F tag

_CHROMA_TO_FORMAT: dict[str, PixelFormat] = {
    "420jpeg": PixelFormat.YUV420P,
    "420": PixelFormat.YUV420P,
    "420mpeg2": PixelFormat.YUV420P,
    "420paldv": PixelFormat.YUV420P,
    "420p10": PixelFormat.YUV420P10,
    "444": PixelFormat.YUV444P,
    "444p10": PixelFormat.YUV444P10,
}
_FORMAT_TO_CHROMA: dict[PixelFormat, str] = {
    PixelFormat.YUV420P: "420jpeg",
    PixelFormat.YUV420P10: "420p10",
    PixelFormat.YUV444P: "444",
    PixelFormat.YUV444P10: "444p10",
}
_RANGE_TO_TAG = {ColorRange.FULL: "FULL", ColorRange.LIMITED: "LIMITED"}
_TAG_TO_RANGE = {v: k for k, v in _RANGE_TO_TAG.items()}
_LITTLE_ENDIAN_U16 = np.dtype("<u2")


class Y4MError(ValueError):
    """A Y4M stream is malformed or truncated; the message says what and where."""


# --------------------------------------------------------------------------- header


def format_header(info: VideoInfo) -> bytes:
    """The stream header line (with its newline) describing ``info``."""
    fps, sar = Fraction(info.fps), Fraction(info.sar)
    tokens = [
        MAGIC.decode(),
        f"W{info.width}",
        f"H{info.height}",
        f"F{fps.numerator}:{fps.denominator}",
        "Ip",
        f"A{sar.numerator}:{sar.denominator}",
        f"C{_FORMAT_TO_CHROMA[info.pix_fmt]}",
        f"XCOLORRANGE={_RANGE_TO_TAG[info.color_range]}",
    ]
    return (" ".join(tokens) + "\n").encode("ascii")


def parse_header(line: bytes) -> VideoInfo:
    """Parse a stream header line (newline optional) into a :class:`VideoInfo`.

    :raises Y4MError: on a missing magic, a missing/invalid ``W``/``H``, a malformed
        ``F``/``A`` ratio or an unsupported ``C`` tag.
    """
    if not (line.startswith(MAGIC + b" ") or line.rstrip(b"\n") == MAGIC):
        raise Y4MError(f"not a Y4M stream: it starts with {line[:16]!r}, expected {MAGIC.decode()!r}")
    try:
        text = line[len(MAGIC) :].rstrip(b"\n").decode("ascii")
    except UnicodeDecodeError:
        raise Y4MError("Y4M header contains non-ASCII bytes") from None
    width = height = None
    fps = DEFAULT_FPS
    sar = Fraction(1, 1)
    chroma = "420jpeg"  # the spec's default when no C tag is present
    color_range = ColorRange.LIMITED
    num_frames: int | None = None
    fps_seen = False
    for token in text.split():
        tag, value = token[0], token[1:]
        if tag == "W":
            width = _positive_int(value, "width (W)")
        elif tag == "H":
            height = _positive_int(value, "height (H)")
        elif tag == "F":
            fps_seen = True
            ratio = _ratio(value, "frame rate (F)")
            if ratio is None:
                logger.warning("Y4M header has unknown frame rate F%s; assuming %s fps", value, DEFAULT_FPS)
            else:
                fps = ratio
        elif tag == "A":
            sar = _ratio(value, "sample aspect ratio (A)") or Fraction(1, 1)  # A0:0 means unknown
        elif tag == "I":
            if value not in ("p", "t", "b", "m", "?"):
                raise Y4MError(f"Y4M header has invalid interlace tag I{value!r}")
            if value in ("t", "b", "m"):
                logger.warning("Y4M stream is interlaced (I%s); field order is not carried further", value)
        elif tag == "C":
            if value not in _CHROMA_TO_FORMAT:
                supported = ", ".join(f"C{c}" for c in _CHROMA_TO_FORMAT)
                raise Y4MError(f"Y4M colourspace C{value} is not supported (supported: {supported})")
            chroma = value
        elif tag == "X":
            key, _, ext_value = value.partition("=")
            if key == "COLORRANGE":
                if ext_value not in _TAG_TO_RANGE:
                    raise Y4MError(f"Y4M header has invalid XCOLORRANGE={ext_value!r} (expected FULL or LIMITED)")
                color_range = _TAG_TO_RANGE[ext_value]
            elif key == "LENGTH":
                num_frames = _non_negative_int(ext_value, "XLENGTH")
            else:
                logger.debug("ignoring Y4M extension X%s", value)
        else:
            logger.debug("ignoring unknown Y4M header token %r", token)
    if width is None or height is None:
        raise Y4MError(f"Y4M header lacks the {'width (W)' if width is None else 'height (H)'} tag")
    if not fps_seen:
        logger.warning("Y4M header has no frame rate (F); assuming %s fps", DEFAULT_FPS)
    return VideoInfo(
        width=width,
        height=height,
        fps=fps,
        pix_fmt=_CHROMA_TO_FORMAT[chroma],
        color_range=color_range,
        sar=sar,
        num_frames=num_frames,
    )


def _positive_int(value: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise Y4MError(f"Y4M header has invalid {what} {value!r}")
    return int(value)


def _non_negative_int(value: str, what: str) -> int:
    if not value.isdigit():
        raise Y4MError(f"Y4M header has invalid {what} {value!r}")
    return int(value)


def _ratio(value: str, what: str) -> Fraction | None:
    """``"num:den"`` as a Fraction; ``None`` for the "unknown" spellings ``0:0``/``0:n``."""
    num, sep, den = value.partition(":")
    if not sep or not num.isdigit() or not den.isdigit():
        raise Y4MError(f"Y4M header has invalid {what} {value!r} (expected num:den)")
    if int(num) == 0:
        return None
    if int(den) == 0:
        raise Y4MError(f"Y4M header has invalid {what} {value!r} (zero denominator)")
    return Fraction(int(num), int(den))


# --------------------------------------------------------------------------- writer


class Y4MWriter:
    """Write frames as Y4M to a binary file object (a file, ``sys.stdout.buffer``, a pipe).

    The header goes out in the same ``write`` call as the first frame, so a reader never
    sees a header without a frame. Nothing is written before the first frame.

    :param stream: binary file object; short writes from raw streams are retried.
    :param info: what the frames are; every frame is checked against it.
    """

    def __init__(self, stream: IO[bytes], info: VideoInfo) -> None:
        self.stream = stream
        self.info = info
        self.frames_written = 0
        self._header = format_header(info)
        self._shapes = info.pix_fmt.plane_shapes(info.width, info.height)
        self._max_value = (1 << info.pix_fmt.bit_depth) - 1

    def write(self, frame: Frame) -> None:
        """Write one frame.

        :raises ValueError: when the planes do not match ``info`` (count, shape, dtype, range).
        :raises BrokenPipeError: when the reading end has gone (the caller decides what that means).
        """
        planes = self._check(frame)
        if self.frames_written == 0:
            _write_all(self.stream, b"".join([self._header, FRAME_LINE, *planes]))
        else:
            # Separate writes avoid copying a whole frame into one buffer.
            _write_all(self.stream, FRAME_LINE)
            for plane in planes:
                _write_all(self.stream, plane)
        self.frames_written += 1

    def write_all(self, frames: Iterable[Frame]) -> int:
        """Write every frame; returns how many were written."""
        for frame in frames:
            self.write(frame)
        return self.frames_written

    def _check(self, frame: Frame) -> list[memoryview]:
        index = self.frames_written
        if len(frame) != len(self._shapes):
            raise ValueError(f"frame {index}: expected {len(self._shapes)} planes, got {len(frame)}")
        want = self.info.pix_fmt.dtype
        out = []
        for p, (plane, shape) in enumerate(zip(frame, self._shapes, strict=True)):
            arr = np.asarray(plane)
            if arr.shape != shape:
                raise ValueError(f"frame {index} plane {p}: expected shape {shape}, got {arr.shape}")
            if arr.dtype != want:
                if arr.dtype.kind == "u" and arr.dtype.itemsize == want.itemsize:
                    arr = arr.astype(want)  # same width, other byte order
                else:
                    raise ValueError(f"frame {index} plane {p}: expected dtype {want}, got {arr.dtype}")
            if want.itemsize == 2:
                # 10 bits in 16-bit words: out-of-range values would be silently misread downstream.
                if arr.size and int(arr.max()) > self._max_value:
                    raise ValueError(
                        f"frame {index} plane {p}: sample value {int(arr.max())} exceeds {self._max_value} "
                        f"for {self.info.pix_fmt.bit_depth}-bit video"
                    )
                if sys.byteorder != "little":
                    arr = arr.astype(_LITTLE_ENDIAN_U16)
            out.append(memoryview(np.ascontiguousarray(arr)).cast("B"))
        return out


def write_y4m(stream: IO[bytes], info: VideoInfo, frames: Iterable[Frame]) -> int:
    """Write a whole Y4M stream; returns the number of frames written."""
    return Y4MWriter(stream, info).write_all(frames)


def _write_all(stream: IO[bytes], data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view.nbytes:
        written = stream.write(view)
        if written is None:  # non-blocking raw stream that is full
            raise BlockingIOError("Y4M output stream would block")
        view = view[written:]


# --------------------------------------------------------------------------- reader


def read_y4m(stream: IO[bytes]) -> tuple[VideoInfo, Iterator[Frame]]:
    """Read a Y4M stream.

    The header is parsed now (so a bad stream fails here); frames are read lazily, each
    into its own buffer (frames stay valid after the next one is read). 10-bit planes are
    ``uint16`` in native byte order.

    :param stream: binary file object: an open file, ``sys.stdin.buffer``, a pipe.
    :raises Y4MError: on a malformed or truncated header; the frame iterator raises it on
        a malformed or truncated frame, naming the frame index and byte offset.
    """
    line = stream.readline(MAX_HEADER_BYTES)
    if not line:
        raise Y4MError("empty input: expected a YUV4MPEG2 header")
    if not line.startswith(MAGIC[: len(line)]) or (len(line) > len(MAGIC) and line[len(MAGIC)] not in b" \n"):
        raise Y4MError(f"not a Y4M stream: it starts with {line[:16]!r}, expected {MAGIC.decode()!r}")
    if not line.endswith(b"\n"):
        if len(line) >= MAX_HEADER_BYTES:
            raise Y4MError(f"Y4M header has no end of line within its first {MAX_HEADER_BYTES} bytes")
        raise Y4MError(f"truncated Y4M header: input ended after {len(line)} bytes without a newline")
    info = parse_header(line)
    return info, _frames(stream, info, len(line))


def _frames(stream: IO[bytes], info: VideoInfo, offset: int) -> Iterator[Frame]:
    shapes = info.pix_fmt.plane_shapes(info.width, info.height)
    file_dtype = _LITTLE_ENDIAN_U16 if info.pix_fmt.bit_depth > 8 else np.dtype(np.uint8)
    native = info.pix_fmt.dtype
    frame_bytes = info.frame_bytes
    index = 0
    while True:
        marker = _read_small(stream, len(FRAME_LINE))
        if not marker:
            break
        if marker != FRAME_LINE:
            marker = _rest_of_frame_header(stream, marker, index, offset)
        offset += len(marker)
        buf = bytearray(frame_bytes)
        got = _read_into(stream, buf)
        if got != frame_bytes:
            raise Y4MError(
                f"truncated Y4M frame {index}: got {got} of {frame_bytes} bytes of picture data "
                f"starting at byte {offset}"
            )
        planes = []
        pos = 0
        for h, w in shapes:
            arr = np.frombuffer(buf, dtype=file_dtype, count=h * w, offset=pos).reshape(h, w)
            planes.append(arr if arr.dtype == native else arr.astype(native))
            pos += h * w * file_dtype.itemsize
        yield tuple(planes)
        offset += frame_bytes
        index += 1
    if info.num_frames is not None and index != info.num_frames:
        raise Y4MError(f"Y4M stream ended after {index} frames but its header announced XLENGTH={info.num_frames}")


def _rest_of_frame_header(stream: IO[bytes], start: bytes, index: int, offset: int) -> bytes:
    """The frame header when it is not the plain ``FRAME\\n`` (parameters, or garbage)."""
    if len(start) < len(FRAME_LINE) and FRAME_LINE.startswith(start):
        raise Y4MError(f"truncated Y4M frame {index}: input ended inside the FRAME marker at byte {offset}")
    if not start.startswith(b"FRAME "):
        raise Y4MError(f"malformed Y4M frame {index}: expected 'FRAME' at byte {offset}, found {start!r}")
    line = start + stream.readline(MAX_FRAME_HEADER_BYTES)
    if not line.endswith(b"\n"):
        if len(line) - len(start) >= MAX_FRAME_HEADER_BYTES:
            raise Y4MError(f"malformed Y4M frame {index}: FRAME line at byte {offset} has no end of line")
        raise Y4MError(f"truncated Y4M frame {index}: input ended inside the FRAME line at byte {offset}")
    logger.debug("ignoring Y4M frame %d parameters %r", index, line[6:-1])
    return line


def _read_small(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at end of input (raw streams may return short reads)."""
    data = stream.read(size)
    while data and len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data or b""


def _read_into(stream: IO[bytes], buf: bytearray) -> int:
    """Fill ``buf`` from ``stream``; returns the byte count (short only at end of input)."""
    view = memoryview(buf)
    total = 0
    while total < len(buf):
        n = stream.readinto(view[total:])  # type: ignore[attr-defined]
        if not n:
            break
        total += n
    return total
