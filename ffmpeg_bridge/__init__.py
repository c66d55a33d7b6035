"""ffmpeg_bridge: move raw frames between vsgnvc and ffmpeg through a Y4M process pipe.

ffmpeg cannot load our decoder, so decoded frames reach it as YUV4MPEG2 on its stdin::

    from ffmpeg_bridge import FfmpegSink, open_video

    info, frames = open_video("in.mp4")
    with FfmpegSink(info, ["-c:v", "libx264", "-crf", "18", "out.mkv"], audio_from=Path("in.mp4")) as sink:
        sink.write_all(frames)

The same from a shell: ``python -m ffmpeg_bridge in.mp4 --audio-from in.mp4 -- -c:v libx264 out.mkv``.
"""

from __future__ import annotations

from .errors import BridgeError, FfmpegError, FfmpegNotFoundError, SourceError
from .locate import FfmpegBinary, FfmpegSource, locate_ffmpeg
from .sink import FfmpegSink
from .sources import from_vs_node, open_source, open_video, open_y4m
from .video import ColorRange, Frame, PixelFormat, VideoInfo
from .y4m import Y4MError, Y4MWriter, format_header, parse_header, read_y4m, write_y4m

__all__ = [
    "BridgeError",
    "ColorRange",
    "FfmpegBinary",
    "FfmpegError",
    "FfmpegNotFoundError",
    "FfmpegSink",
    "FfmpegSource",
    "Frame",
    "PixelFormat",
    "SourceError",
    "VideoInfo",
    "Y4MError",
    "Y4MWriter",
    "format_header",
    "from_vs_node",
    "locate_ffmpeg",
    "open_source",
    "open_video",
    "open_y4m",
    "parse_header",
    "read_y4m",
    "write_y4m",
]
