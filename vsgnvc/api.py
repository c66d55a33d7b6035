"""The file API over the codec (what the CLI, the evaluation and the GUI call): open any input, encode a file,
decode or enhance to a frame stream.

It sits above :mod:`vsgnvc.codec` and :mod:`vsgnvc.vs` because an input may be a ``.gnvc`` (decoded here) or a
``.vpy`` script (run by :mod:`vsgnvc.vs.script`); everything else is opened by ``ffmpeg_bridge``, which knows
nothing of vsgnvc. :func:`open_input` is also registered as the bridge's source for ``.gnvc`` and ``.vpy``
(entry points ``ffmpeg_bridge.sources`` in ``pyproject.toml``), so ``python -m ffmpeg_bridge clip.gnvc`` works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ffmpeg_bridge import SourceError, open_source, read_y4m, write_y4m
from ffmpeg_bridge.video import Frame, VideoInfo

from .codec.decoder import Decoder
from .codec.encoder import Encoder, EncodeResult, EncodeSettings
from .codec.resize import limit_frames, parse_size, resize_stream
from .models.bundle import GnvcModel

logger = logging.getLogger(__name__)


def open_input(source: str | Path, max_frames: int | None = None, resize: str | None = None) -> tuple[VideoInfo, Iterator[Frame]]:
    """Any input, optionally cut and resized: ``-`` (y4m on stdin), a ``.gnvc`` (decoded with the shipped model,
    refined as its header says), a ``.vpy`` script, a y4m file or any video file PyAV opens.

    :raises SourceError: when the input does not exist or cannot be read as video.
    """
    info, frames = _open_any(source)
    frames = limit_frames(frames, max_frames)
    if info.num_frames is not None and max_frames is not None:
        info = replace(info, num_frames=min(info.num_frames, max_frames))
    if resize:
        info, frames = resize_stream(info, frames, *parse_size(resize, info))
    return info, frames


def _open_any(source: str | Path) -> tuple[VideoInfo, Iterator[Frame]]:
    if str(source) == "-":
        return open_source(source)
    path = Path(source)
    if not path.exists():
        raise SourceError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".gnvc":
        return open_gnvc(path)
    if suffix == ".vpy":
        from .vs.script import open_vpy  # VapourSynth is loaded for scripts only

        return open_vpy(path)
    return open_source(path)


@contextlib.contextmanager
def known_length(
    info: VideoInfo, frames: Iterator[Frame], source: str | Path, spool_dir: Path | None = None
) -> Iterator[tuple[VideoInfo, Iterator[Frame]]]:
    """The stream with ``info.num_frames`` set: as is when known, else spooled to a temporary y4m and counted.

    Inputs of unknown length (y4m files, pipes) need this because the header states the frame count.
    The temporary file is removed when the block ends.
    """
    if info.num_frames is not None:
        yield info, frames
        return
    fd, name = tempfile.mkstemp(prefix=".gnvc-spool.", suffix=".y4m", dir=spool_dir)
    spool = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            count = write_y4m(f, info, frames)
        if count == 0:
            raise ValueError(f"{source}: no frames")
        with open(spool, "rb") as f:
            _, spooled = read_y4m(f)
            # the source's own description: y4m cannot carry matrix, transfer or primaries
            yield replace(info, num_frames=count), spooled
    finally:
        spool.unlink(missing_ok=True)


def encode_file(
    source: str | Path,
    output: Path,
    model: GnvcModel | None = None,
    settings: EncodeSettings = EncodeSettings(),
    *,
    max_frames: int | None = None,
    resize: str | None = None,
    device: str | int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    color: dict[str, object] | None = None,
) -> EncodeResult:
    """Encode a video file / y4m / stdin to ``output``. Inputs of unknown length are spooled to disk first.

    ``color`` overrides the source's colour description (``VideoInfo`` fields ``matrix``, ``transfer``,
    ``primaries``, ``color_range``), e.g. for y4m input, which carries only the range.
    """
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    info, frames = open_input(source, max_frames, resize)
    if color:
        unknown = set(color) - {"matrix", "transfer", "primaries", "color_range"}
        if unknown:
            raise ValueError(f"unknown colour field(s): {', '.join(sorted(unknown))}")
        info = replace(info, **color)
    encoder = Encoder(model or GnvcModel.from_pretrained(), device)
    with known_length(info, frames, source, output.parent) as (info, frames):
        return encoder.encode(info, frames, output, info.num_frames, settings, overwrite=overwrite, progress=progress)


def open_gnvc(
    path: Path,
    model: GnvcModel | None = None,
    device: str | int | None = None,
    refine: bool | None = None,
    strength: float | None = None,
) -> tuple[VideoInfo, Iterator[Frame]]:
    """Decoded frames of a ``.gnvc`` as ``(VideoInfo, frames)`` (``strength``: see :class:`Decoder`)."""
    decoder = Decoder(path, model, device, refine=refine, strength=strength)

    def gen() -> Iterator[Frame]:
        with decoder:
            yield from decoder.frames()

    return decoder.info, gen()


def open_enhanced(
    source: str | Path,
    model: GnvcModel | None = None,
    *,
    strength: float = 0.3,
    steps: int | None = None,
    seed: int = 0,
    max_frames: int | None = None,
    resize: str | None = None,
    device: str | int | None = None,
) -> tuple[VideoInfo, Iterator[Frame]]:
    """Enhance-only refinement of any input, streamed GOP by GOP (memory bounded by a few GOPs)."""
    from .codec.enhance import Enhancer, SequentialFrames

    model = model or GnvcModel.from_pretrained()
    info, frames = open_input(source, max_frames, resize)
    stack = contextlib.ExitStack()
    info, frames = stack.enter_context(known_length(info, frames, source))
    try:
        reader = SequentialFrames(frames, keep=4 * model.index.gop_size)
        enhancer = Enhancer(
            model, info, info.num_frames, reader, strength=strength, steps=steps, seed=seed, device=device
        )
    except BaseException:
        stack.close()
        raise

    def gen() -> Iterator[Frame]:
        with stack:
            yield from enhancer.frames()

    return enhancer.info, gen()
