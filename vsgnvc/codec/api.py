"""High-level codec API over files and frame streams (what the CLI, filters and GUI call)."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ffmpeg_bridge import open_source, read_y4m, write_y4m
from ffmpeg_bridge.video import Frame, VideoInfo

from ..models.bundle import GnvcModel
from .decoder import Decoder
from .encoder import Encoder, EncodeResult, EncodeSettings
from .resize import limit_frames, parse_size, resize_stream

logger = logging.getLogger(__name__)


def open_input(source: str | Path, max_frames: int | None = None, resize: str | None = None) -> tuple[VideoInfo, Iterator[Frame]]:
    """Any video file, ``.y4m`` or ``-`` (y4m on stdin), optionally cut and resized."""
    info, frames = open_source(source)
    frames = limit_frames(frames, max_frames)
    if info.num_frames is not None and max_frames is not None:
        info = replace(info, num_frames=min(info.num_frames, max_frames))
    if resize:
        info, frames = resize_stream(info, frames, *parse_size(resize, info))
    return info, frames


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
) -> EncodeResult:
    """Encode a video file / y4m / stdin to ``output``. Inputs of unknown length are spooled to disk first."""
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    info, frames = open_input(source, max_frames, resize)
    encoder = Encoder(model or GnvcModel.from_pretrained(), device)
    if settings.source_path == "" and str(source) != "-":
        settings = replace(settings, source_path=str(Path(source).resolve()))
    if info.num_frames is not None:
        return encoder.encode(info, frames, output, info.num_frames, settings, overwrite=overwrite, progress=progress)
    # Length unknown (a pipe): spool to a temporary y4m so the header can state the frame count.
    fd, spool_name = tempfile.mkstemp(prefix=".gnvc-spool.", suffix=".y4m", dir=output.parent)
    spool = Path(spool_name)
    try:
        with os.fdopen(fd, "wb") as f:
            count = write_y4m(f, info, frames)
        if count == 0:
            raise ValueError(f"{source}: no frames to encode")
        with open(spool, "rb") as f:
            info2, frames2 = read_y4m(f)
            return encoder.encode(info2, frames2, output, count, settings, overwrite=overwrite, progress=progress)
    finally:
        spool.unlink(missing_ok=True)


def open_gnvc(
    path: Path, model: GnvcModel | None = None, device: str | int | None = None, refine: bool | None = None
) -> tuple[VideoInfo, Iterator[Frame]]:
    """Decoded frames of a ``.gnvc`` as a frame source for ``ffmpeg_bridge``."""
    decoder = Decoder(path, model, device, refine=refine)

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
    from .enhance import Enhancer, SequentialFrames

    model = model or GnvcModel.from_pretrained()
    info, frames = open_input(source, max_frames, resize)
    spool: Path | None = None
    if info.num_frames is None:
        # Length unknown (y4m, a pipe): spool to a temporary y4m to count the frames.
        fd, name = tempfile.mkstemp(prefix=".gnvc-spool.", suffix=".y4m")
        spool = Path(name)
        with os.fdopen(fd, "wb") as f:
            count = write_y4m(f, info, frames)
        if count == 0:
            spool.unlink()
            raise ValueError(f"{source}: no frames to enhance")
        stream = open(spool, "rb")  # noqa: SIM115 - closed when the generator ends
        info, frames = read_y4m(stream)
        info = replace(info, num_frames=count)
    reader = SequentialFrames(frames, keep=4 * model.index.gop_size)
    enhancer = Enhancer(model, info, info.num_frames, reader, strength=strength, steps=steps, seed=seed, device=device)

    def gen() -> Iterator[Frame]:
        try:
            yield from enhancer.frames()
        finally:
            if spool is not None:
                stream.close()
                spool.unlink(missing_ok=True)

    return enhancer.info, gen()
