"""Scene cuts of a clip, for enhance windows that never blend two shots.

Cuts come from the source's ``_SceneChangePrev`` props (e.g. ``vsgnvc.decode`` output, or a scene
detection plugin), and, with ``detect=True``, from ``std.PlaneStats(luma, luma[1:] + luma[-1])``:
a frame starts a shot when the mean absolute luma difference to its predecessor (0..1) exceeds the
threshold. The default threshold is the encoder's (``EncodeSettings.scene_cut_threshold``), so enhance
and encode split shots alike.
"""

from __future__ import annotations

import logging

import vapoursynth as vs

from ..codec.encoder import EncodeSettings
from .frames import ClipFormat

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = EncodeSettings().scene_cut_threshold


def _luma(clip: vs.VideoNode, fmt: ClipFormat) -> vs.VideoNode:
    if fmt.rgb:
        gray = vs.GRAYS if fmt.vs_format == vs.RGBS else vs.GRAY8
        return clip.resize.Point(format=gray, matrix_s="709")
    return clip.std.ShufflePlanes(0, vs.GRAY)


def scene_cuts(clip: vs.VideoNode, fmt: ClipFormat, detect: bool, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Frame numbers that start a new shot (frame 0 excluded). Renders every frame of ``clip`` once."""
    luma = _luma(clip, fmt)
    node = luma.std.PlaneStats(luma[1:] + luma[-1]) if detect and clip.num_frames > 1 else luma
    logger.info("reading %d frames for scene cuts%s", clip.num_frames, " (detecting)" if detect else "")
    cuts: set[int] = set()
    for n, frame in enumerate(node.frames(close=True)):
        props = frame.props
        if n > 0 and int(props.get("_SceneChangePrev", 0)):
            cuts.add(n)
        if detect and n + 1 < clip.num_frames and float(props.get("PlaneStatsDiff", 0.0)) > threshold:
            cuts.add(n + 1)
    logger.info("%d scene cuts", len(cuts))
    return sorted(cuts)
