"""Evaluate a ``.vpy`` script in this process and read its output as codec frames (``gnvc encode x.vpy``)."""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import vapoursynth as vs

from ffmpeg_bridge.video import Frame, VideoInfo

from .errors import gnvc_error
from .frames import check_clip, color_props, read_planes, video_info

FUNC = "open_vpy"


def load_script(path: str | os.PathLike[str], args: Mapping[str, str] | None = None, output: int = 0) -> vs.VideoNode:
    """Run a VapourSynth script like ``vspipe`` does and return its video output ``output``.

    :param args: globals for the script, as ``vspipe -a key=value`` passes them (strings).
    """
    script = Path(path)
    if not script.is_file():
        raise gnvc_error(FUNC, f"script {script} does not exist")
    vs.clear_outputs()
    # vspipe runs scripts as __vapoursynth__; prints inside a script must not reach stdout (it may carry y4m).
    with contextlib.redirect_stdout(sys.stderr):
        runpy.run_path(str(script), init_globals=dict(args or {}), run_name="__vapoursynth__")
    outputs = vs.get_outputs()
    if output not in outputs:
        raise gnvc_error(FUNC, f"{script} sets no output {output} (call clip.set_output({output}))")
    node = outputs[output]
    if not isinstance(node, vs.VideoOutputTuple):
        raise gnvc_error(FUNC, f"output {output} of {script} is not video")
    return node.clip


def open_vpy(
    path: str | os.PathLike[str], args: Mapping[str, str] | None = None, output: int = 0
) -> tuple[VideoInfo, Iterator[Frame]]:
    """A script's output as ``(VideoInfo, frames)`` for the codec, converted exactly as :func:`vsgnvc.encode` does.

    RGB24/RGBS outputs become YUV444P8/P10 (BT.709, full range); YUV keeps its planes and props.
    Errors are ``vs.Error``; the script's own exceptions propagate unchanged.
    """
    clip = load_script(path, args, output)
    fmt = check_clip(FUNC, clip)
    props = clip.get_frame(0).props
    color = color_props(FUNC, fmt, props)
    info = video_info(FUNC, clip, fmt, color, props)

    def frames() -> Iterator[Frame]:
        for f in clip.frames(close=True):
            yield read_planes(f, fmt, color)

    return info, frames()
