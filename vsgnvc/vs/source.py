"""A clip from decoded frames held in memory, for short clips, examples and tests.

VapourSynth installs without a file source plugin; ``load_video`` reads any file ``ffmpeg_bridge``
opens (video containers, ``.y4m``) into RAM. For long videos use BestSource/ffms2/L-SMASH instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import vapoursynth as vs

from ffmpeg_bridge import SourceError, open_source
from ffmpeg_bridge.video import ColorRange, Frame, VideoInfo

from .errors import gnvc_error
from .frames import VS_RANGE_FULL, VS_RANGE_LIMITED, format_for
from .workers import parallel_modify

logger = logging.getLogger(__name__)

FUNC = "load_video"
MAX_BYTES = 2 << 30  # refuse to hold more than 2 GiB of frames


def from_frames(info: VideoInfo, frames: Iterable[Frame]) -> vs.VideoNode:
    """A constant-format clip of ``frames`` (planes of ``info.pix_fmt``) with ``info``'s colour props."""
    held = list(frames)
    if not held:
        raise gnvc_error(FUNC, "no frames")
    fmt = format_for(info.pix_fmt)
    blank = vs.core.std.BlankClip(
        width=info.width, height=info.height, format=fmt.vs_format, length=len(held),
        fpsnum=info.fps.numerator, fpsden=info.fps.denominator, keep=True,
    )  # fmt: skip
    props = {
        "_Matrix": info.matrix,
        "_Range": VS_RANGE_FULL if info.color_range == ColorRange.FULL else VS_RANGE_LIMITED,
        "_Transfer": info.transfer,
        "_Primaries": info.primaries,
        "_SARNum": info.sar.numerator,
        "_SARDen": info.sar.denominator,
    }

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        fout = f.copy()
        for p, plane in enumerate(held[n]):
            np.copyto(np.asarray(fout[p]), plane)
        fout.props.update(props)
        return fout

    return parallel_modify(blank, fill)


def load_video(path: str | os.PathLike[str], max_frames: int | None = None) -> vs.VideoNode:
    """Decode ``path`` (any video file or ``.y4m``) into memory as a clip (at most ``max_frames``)."""
    try:
        info, frames = open_source(Path(path), max_frames)
    except SourceError as exc:
        raise gnvc_error(FUNC, str(exc)) from None
    held: list[Frame] = []
    size = 0
    for frame in frames:
        size += info.frame_bytes
        if size > MAX_BYTES:
            raise gnvc_error(
                FUNC, f"{path} holds more than {MAX_BYTES >> 30} GiB of frames; pass max_frames or use a source plugin"
            )
        held.append(frame)
    logger.info("loaded %d frames of %s", len(held), path)
    return from_frames(info, held)
