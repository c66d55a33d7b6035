"""``vsgnvc.decode``: a ``.gnvc`` file as a VapourSynth clip (source filter, random access)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import vapoursynth as vs

from ..codec.decoder import Decoder
from .errors import gnvc_error, translated
from .frames import ColorProps, format_for, write_planes
from .loading import check_device, check_int, check_precision, load_model, model_folder
from .workers import Workers, parallel_modify

logger = logging.getLogger(__name__)

FUNC = "decode"


def decode(
    path: str | os.PathLike[str],
    refine: bool = True,
    device_index: int | None = None,
    num_streams: int = 1,
    fp16: bool | None = None,
    model_path: str | os.PathLike[str] | None = None,
    cache_windows: int = 4,
    strength: float | None = None,
) -> vs.VideoNode:
    """Decode a ``.gnvc`` file. Frames can be requested in any order and from several threads.

    Length, frame rate, format (YUV420P8/P10 or YUV444P8/P10, as encoded) and colour props come from
    the file's header. Every frame carries ``_Matrix``, ``_Range`` (0 limited, 1 full), ``_Transfer``,
    ``_Primaries``, ``_DurationNum``/``_DurationDen``, ``_SARNum``/``_SARDen``, ``_SceneChangePrev``
    (1 on the first frame of a GOP that starts a new shot), ``_SceneChangeNext`` (1 on the frame before
    it), ``GNVCGop`` (GOP index) and ``GNVCBits``
    (the GOP's bits divided evenly over its frames).

    A damaged file (a partial download, an interrupted copy) opens like a source filter opens a
    truncated video: the clip holds the frames of every complete GOP, and a warning on the core's log
    (stderr under ``vspipe``) says how many frames were recovered and what was lost. Every chunk is
    checked (CRC32) before use, so damaged data is never shown; a file without one complete GOP, or
    with a damaged header, is a ``vs.Error``.

    :param path: the ``.gnvc`` file.
    :param refine: refine with the model's video diffusion prior (sliding windows across GOPs).
        ``False`` gives the plain codec reconstruction, bit-identical to what the encoder saw.
    :param device_index: CUDA device; ``None`` uses the first CUDA device if any, else the CPU.
    :param num_streams: model computations running at once.
    :param fp16: refiner in bfloat16 (CUDA only); ``None`` = on CUDA, off on CPU.
    :param model_path: model folder the file was encoded with; ``None`` = the shipped default model.
    :param cache_windows: decoded GOPs and refined windows kept in memory.
    :param strength: refinement noise share ``1 - t_N`` in (0, 1); ``None`` = the bitstream's.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise gnvc_error(FUNC, f"path must be a file path, got {type(path).__name__}")
    file = Path(path)
    if not file.is_file():
        raise gnvc_error(FUNC, f"{file} does not exist" if not file.exists() else f"{file} is not a file")
    if not isinstance(refine, bool):
        raise gnvc_error(FUNC, f"refine must be True or False, got {refine!r}")
    check_int(FUNC, "num_streams", num_streams, 1)
    check_int(FUNC, "cache_windows", cache_windows, 1)
    if strength is not None and (
        isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 < strength < 1.0
    ):
        raise gnvc_error(FUNC, f"strength must be a number in (0, 1) or None, got {strength!r}")
    device = check_device(FUNC, device_index)
    dtype = check_precision(FUNC, fp16, device)
    folder = model_folder(FUNC, model_path)
    with translated(FUNC):
        model = load_model(folder, device, dtype)
        decoder = Decoder(file, model, device, cache_gops=cache_windows, refine=refine,
                          strength=None if strength is None else float(strength), salvage=True)  # fmt: skip
    if decoder.damage is not None:
        summary = decoder.damage.summary()
        logger.warning("gnvc.%s: %s; the clip holds the %d frames recovered", FUNC, summary, decoder.num_frames)
    return _source_clip(decoder, Workers(num_streams, device), refine)


def _source_clip(decoder: Decoder, workers: Workers, refine: bool) -> vs.VideoNode:
    info = decoder.info
    fmt = format_for(info.pix_fmt)
    blank = vs.core.std.BlankClip(
        width=info.width, height=info.height, format=fmt.vs_format, length=decoder.num_frames,
        fpsnum=info.fps.numerator, fpsden=info.fps.denominator, keep=True,
    )  # fmt: skip
    color = ColorProps(info.matrix, info.color_range, info.transfer, info.primaries)
    constant = {
        **color.frame_props(fmt),
        "_DurationNum": info.fps.denominator,
        "_DurationDen": info.fps.numerator,
        "_SARNum": info.sar.numerator,
        "_SARDen": info.sar.denominator,
    }
    bits = [decoder.gop_bytes(k) * 8 / len(span) for k, span in enumerate(decoder.spans)]
    cut_starts = {decoder.spans[k].start for k, cut in enumerate(decoder.gop_cuts) if cut}
    logger.info(
        "%s: %d frames %dx%d %s, %d GOPs, %s", decoder.path, decoder.num_frames, info.width, info.height,
        info.pix_fmt.value, decoder.num_gops, "refined" if decoder.refines else "not refined",
    )  # fmt: skip

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        k = decoder.gop_of(n)
        with translated(FUNC), workers.slot():
            planes = decoder.get_frame(n, refine)
        fout = f.copy()
        write_planes(fout, planes, fmt, color)
        props = fout.props
        props.update(constant)
        props["_SceneChangePrev"] = int(n in cut_starts)
        props["_SceneChangeNext"] = int(n + 1 in cut_starts)
        props["GNVCGop"] = k
        props["GNVCBits"] = bits[k]
        return fout

    return parallel_modify(blank, render)
