"""``vsgnvc.encode`` (a filter that writes a ``.gnvc`` as frames are rendered) and ``encode_clip``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import vapoursynth as vs

from ffmpeg_bridge.video import VideoInfo

from ..codec.encoder import Encoder, EncodeResult, EncodeSettings
from ..codec.presets import DEFAULT_PRESET, preset_search
from .encode_job import CodedSlot, OutOfOrderEncode
from .errors import gnvc_error, translated
from .frames import ClipFormat, ColorProps, check_clip, check_fps, color_props, read_planes, video_info, write_planes
from .loading import check_device, check_int, load_model, model_folder, model_index
from .workers import SmallLRU, SourcePrefetch, Workers, parallel_modify

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodeJob:
    """Validated arguments of an encode, ready to run."""

    fmt: ClipFormat
    color: ColorProps
    info: VideoInfo
    path: Path
    folder: Path
    device: torch.device
    settings: EncodeSettings


def _check(
    func: str,
    clip: object,
    path: object,
    rate: object,
    target_bpp: object,
    gop: object,
    overwrite: object,
    device_index: object,
) -> tuple[ClipFormat, Path, torch.device]:
    fmt = check_clip(func, clip)
    assert isinstance(clip, vs.VideoNode)
    check_fps(func, clip)
    if not isinstance(path, (str, os.PathLike)):
        raise gnvc_error(func, f"path must be a file path, got {type(path).__name__}")
    out = Path(path)
    if out.is_dir():
        raise gnvc_error(func, f"{out} is a directory, not a .gnvc file path")
    if not out.parent.is_dir():
        raise gnvc_error(func, f"output directory {out.parent} does not exist")
    if not isinstance(overwrite, bool):
        raise gnvc_error(func, f"overwrite must be True or False, got {overwrite!r}")
    if out.exists() and not overwrite:
        raise gnvc_error(func, f"{out} exists; pass overwrite=True to replace it")
    check_int(func, "rate", rate, 0, optional=True)
    if target_bpp is not None:
        if isinstance(target_bpp, bool) or not isinstance(target_bpp, (int, float)) or not target_bpp > 0:
            raise gnvc_error(func, f"target_bpp must be a positive number, got {target_bpp!r}")
        if rate is not None:
            raise gnvc_error(func, "pass rate or target_bpp, not both")
    check_int(func, "gop", gop, 1, optional=True)
    return fmt, out, check_device(func, device_index)


def prepare(
    func: str,
    clip: vs.VideoNode,
    path: str | os.PathLike[str],
    rate: int | None,
    target_bpp: float | None,
    gop: int | None,
    overwrite: bool,
    device_index: int | None,
    model_path: str | os.PathLike[str] | None,
    preset: str,
) -> EncodeJob:
    """Every check of an encode, before any weights are read (the model index is enough)."""
    fmt, out, device = _check(func, clip, path, rate, target_bpp, gop, overwrite, device_index)
    with translated(func):
        search = preset_search(preset)
    folder = model_folder(func, model_path)
    index = model_index(func, folder)
    if rate is not None and rate >= len(index.rates):
        raise gnvc_error(func, f"rate must be in 0..{len(index.rates) - 1} for model {index.name}, got {rate}")
    if target_bpp is not None:
        with translated(func):
            rate = index.closest_rate(float(target_bpp))
    if gop is not None:
        with translated(func):
            index.check_gop_size(gop)
    props = clip.get_frame(0).props
    color = color_props(func, fmt, props)
    info = video_info(func, clip, fmt, color, props)
    return EncodeJob(fmt, color, info, out, folder, device, EncodeSettings(rate=rate, gop_size=gop, search=search))


def encode(
    clip: vs.VideoNode,
    path: str | os.PathLike[str],
    rate: int | None = None,
    target_bpp: float | None = None,
    gop: int | None = None,
    overwrite: bool = False,
    device_index: int | None = None,
    num_streams: int = 1,
    model_path: str | os.PathLike[str] | None = None,
    preset: str = DEFAULT_PRESET,
) -> vs.VideoNode:
    """Encode a clip to ``path`` while it is rendered; returns the codec's reconstruction (unrefined).

    Render every frame (``vspipe``, ``clip.output``, ``clip.frames()``), in any order: each slot of
    ``gop`` frames (one GOP, or more where a detected scene cut starts a new GOP) is coded when one of
    its frames is first requested, and the file appears at ``path`` when the last slot is written. A
    partial render leaves nothing at ``path``. The file is byte-identical to :func:`encode_clip` on the
    same clip.

    The reconstruction has the clip's format; frames carry the colour props used, ``_SceneChangePrev``
    (1 where a detected scene cut starts a GOP), ``GNVCGop`` and ``GNVCBits`` (the GOP's bits per frame).
    Numbering a GOP needs the scene cuts of every slot before it: frames requested far ahead of the
    coded ones make those earlier frames be read once more for the cut test.

    :param clip: YUV420P8, YUV420P10, YUV444P8, YUV444P10, RGB24 or RGBS (RGB is coded as YUV444,
        BT.709, full range), constant size and frame rate.
    :param path: the ``.gnvc`` to write.
    :param rate: rate point, 0 = lowest bitrate; ``None`` = the model's default.
    :param target_bpp: pick the rate point whose measured bits per pixel is closest (instead of ``rate``).
    :param gop: frames per GOP (fewer where a scene cut starts the next one; 1 + 4k for a Wan-VAE model,
        any length for a per-frame one); ``None`` = the model's.
    :param overwrite: replace an existing file.
    :param device_index: CUDA device; ``None`` uses the first CUDA device if any, else the CPU.
    :param num_streams: GOPs coded at once.
    :param model_path: model folder; ``None`` = the shipped default model.
    :param preset: encoder effort, as x264's: ``"slow"`` (default) searches each frame's symbols through the
        decoder for the lowest bits + lambda x distortion, ``"medium"`` searches a quarter as long, ``"fast"``
        rounds plainly, at about the autoencoder's speed; bits and quality at a rate point differ between them,
        decoding is the same for all three. ``target_bpp`` maps to the bpp measured with the default preset.
    """
    func = "encode"
    job = prepare(func, clip, path, rate, target_bpp, gop, overwrite, device_index, model_path, preset)
    check_int(func, "num_streams", num_streams, 1)
    with translated(func):
        encoder = Encoder(load_model(job.folder, job.device), job.device)
        header = encoder.make_header(job.info, clip.num_frames, job.settings)
    coder = OutOfOrderEncode(
        encoder, header, job.info, job.path, overwrite=overwrite,
        scene_cut_threshold=job.settings.scene_cut_threshold, search=job.settings.search, cache_gops=max(2, num_streams + 1),
    )  # fmt: skip
    prefetch = SourcePrefetch(clip, job.fmt, job.color)
    workers = Workers(num_streams, job.device)
    done = SmallLRU[int, CodedSlot](max(2, num_streams + 1))
    out_props = job.color.frame_props(job.fmt)
    logger.info(
        "encode: %s, %d frames %dx%d, %d slots of %d, rate %d",
        job.path, clip.num_frames, clip.width, clip.height, coder.num_slots, header.gop_size, header.rate_index,
    )  # fmt: skip

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        j = coder.slot_of(n)
        coded = done.get(j)
        if coded is None:
            source = prefetch.fetch(coder.source_frames(j))  # before any lock: see workers.py
            coder.detect_cuts(j, source)  # early, so later slots can number their GOPs
            with translated(func), workers.slot():
                coded = coder.slot(j, source)
            done.put(j, coded)
        for i in coder.undetected_slots(j):  # only when frames are requested far ahead of the coded ones
            coder.detect_cuts(i, prefetch.fetch(coder.source_frames(i)))
        part = coded.gop_at(n)
        gop = coded.gops[part]
        fout = f.copy()
        write_planes(fout, coded.frames[n - coder.slots[j].start], job.fmt, job.color)
        props = fout.props
        props.update(out_props)
        props["_SceneChangePrev"] = int(n == gop.span.start and gop.scene_cut)
        props["GNVCGop"] = coder.gops_before(j) + part
        props["GNVCBits"] = gop.chunk_bytes * 8 / len(gop.span)
        return fout

    return parallel_modify(clip, render)


def encode_clip(
    clip: vs.VideoNode,
    path: str | os.PathLike[str],
    rate: int | None = None,
    target_bpp: float | None = None,
    gop: int | None = None,
    overwrite: bool = False,
    device_index: int | None = None,
    model_path: str | os.PathLike[str] | None = None,
    progress: bool = False,
    preset: str = DEFAULT_PRESET,
) -> EncodeResult:
    """Render ``clip`` in order and encode it to ``path`` (for scripts and the ``gnvc`` CLI).

    Same arguments and checks as :func:`encode`; ``progress`` shows a bar on stderr.

    :returns: the file's size, rate point and bytes per GOP.
    """
    func = "encode_clip"
    job = prepare(func, clip, path, rate, target_bpp, gop, overwrite, device_index, model_path, preset)
    if not isinstance(progress, bool):
        raise gnvc_error(func, f"progress must be True or False, got {progress!r}")
    with translated(func):
        encoder = Encoder(load_model(job.folder, job.device), job.device)
        frames = (read_planes(f, job.fmt, job.color) for f in clip.frames(close=True))
        return encoder.encode(
            job.info, frames, job.path, clip.num_frames, job.settings, overwrite=overwrite, progress=progress
        )
