"""What the previewer shows: clips with random, thread-safe access to frames in the pipe format.

A clip is anything with ``name``, ``info`` (``VideoInfo``), ``num_frames`` and ``get_frame(n)``. The
implementations here and in ``video_clip``/``vpy`` wrap the real readers; none decodes by itself.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from ffmpeg_bridge.video import Frame, VideoInfo
from vsgnvc.codec.decoder import Decoder

from .convert import display_matrix

logger = logging.getLogger(__name__)


@runtime_checkable
class Clip(Protocol):
    """A random-access clip; ``get_frame`` may be called from any thread."""

    name: str
    info: VideoInfo

    @property
    def num_frames(self) -> int: ...

    def get_frame(self, n: int) -> Frame: ...

    def close(self) -> None: ...


def color_note(clip: Clip) -> str | None:
    """The note shown when the clip's matrix is assumed for display."""
    return display_matrix(clip.info.matrix)[1]


class DecoderClip:
    """One view of a ``.gnvc`` :class:`Decoder`: the decoded (unrefined) or the refined frames.

    Several views share one decoder (and its GOP cache); closing a view does not close the decoder.
    """

    def __init__(self, decoder: Decoder, refine: bool, name: str) -> None:
        self.decoder = decoder
        self.refine = refine
        self.name = name
        self.info = decoder.info

    @property
    def num_frames(self) -> int:
        return self.decoder.num_frames

    def get_frame(self, n: int) -> Frame:
        return self.decoder.get_frame(n, refine=self.refine)

    def close(self) -> None:
        pass
