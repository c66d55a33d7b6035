"""``vsgnvc.enhance``: generative refinement of any clip (e.g. a low-bitrate x264 encode)."""

from __future__ import annotations

import itertools
import logging
import os
from fractions import Fraction

import vapoursynth as vs

from ..codec.enhance import Enhancer
from ..codec.sequence import GopSequence
from .errors import gnvc_error, translated
from .frames import check_clip, color_props, video_info, write_planes
from .loading import check_device, check_int, check_precision, load_model, model_folder, model_index
from .scenes import scene_cuts
from .workers import SmallLRU, SourcePrefetch, Workers, parallel_modify

logger = logging.getLogger(__name__)

FUNC = "enhance"


def enhance(
    clip: vs.VideoNode,
    strength: float = 0.3,
    window: int | None = None,
    overlap: int | None = None,
    scene_detect: bool = False,
    device_index: int | None = None,
    num_streams: int = 1,
    fp16: bool | None = None,
    model_path: str | os.PathLike[str] | None = None,
) -> vs.VideoNode:
    """Refine a clip through the model's VAE latent space with the video diffusion prior.

    The clip is cut into GOPs of the model's length that restart at every scene cut, encoded to
    latents, refined over sliding windows (fixed by frame numbers and cuts, so any request order gives
    the same frames) and decoded. The output has the input's format and props.

    Scene cuts are the frames with ``_SceneChangePrev`` set, plus detected ones with
    ``scene_detect=True``; finding them reads every source frame once when the filter is created.

    :param clip: YUV420P8, YUV420P10, YUV444P8, YUV444P10, RGB24 or RGBS.
    :param strength: share of noise mixed into the latents before refinement, in (0, 1); higher
        invents more detail. 0.3 is the paper's t_N = 0.7.
    :param window: refinement window in latent frames (4 video frames each); ``None`` = the model's.
    :param overlap: latent frames shared by neighbouring windows; ``None`` = the model's.
    :param scene_detect: also detect cuts with ``std.PlaneStats`` luma differences.
    :param device_index: CUDA device; ``None`` uses the first CUDA device if any, else the CPU.
    :param num_streams: model computations running at once.
    :param fp16: refiner in bfloat16 (CUDA only); ``None`` = on CUDA, off on CPU.
    :param model_path: model folder (must contain a refiner); ``None`` = the shipped default model.
    """
    fmt = check_clip(FUNC, clip)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 < strength < 1.0:
        raise gnvc_error(FUNC, f"strength must be a number in (0, 1), got {strength!r}")
    check_int(FUNC, "window", window, 1, optional=True)
    check_int(FUNC, "overlap", overlap, 0, optional=True)
    if not isinstance(scene_detect, bool):
        raise gnvc_error(FUNC, f"scene_detect must be True or False, got {scene_detect!r}")
    check_int(FUNC, "num_streams", num_streams, 1)
    device = check_device(FUNC, device_index)
    dtype = check_precision(FUNC, fp16, device)
    folder = model_folder(FUNC, model_path)
    index = model_index(FUNC, folder)
    win = index.refine_window if window is None else window
    ovl = index.refine_overlap if overlap is None else overlap
    if ovl >= win:
        raise gnvc_error(FUNC, f"overlap must be smaller than window, got overlap={ovl}, window={win}")
    if not (folder / "refiner").is_dir():
        raise gnvc_error(FUNC, f"model {index.name} at {folder} has no refiner; enhance needs one")
    props = clip.get_frame(0).props
    color = color_props(FUNC, fmt, props)
    # Variable frame rate is fine here: the rate is only carried along.
    fps = Fraction(1) if clip.fps.numerator == 0 else None
    info = video_info(FUNC, clip, fmt, color, props, fps)
    cuts = scene_cuts(clip, fmt, scene_detect)
    prefetch = SourcePrefetch(clip, fmt, color)
    with translated(FUNC):
        model = load_model(folder, device, dtype)
        enhancer = Enhancer(
            model, info, clip.num_frames, prefetch.get_frames, strength=float(strength), window=win, overlap=ovl,
            cuts=cuts, device=device,
        )  # fmt: skip
    sequence = enhancer.sequence
    needs = [_source_frames(sequence, k) for k in range(len(sequence.spans))]
    workers = Workers(num_streams, device)
    done = SmallLRU[int, list](max(2, num_streams + 1))
    out_props = color.frame_props(fmt)
    logger.info(
        "enhance: %d frames in %d GOPs, %d cuts, strength %s, window %d/%d",
        clip.num_frames, len(sequence.spans), len(cuts), strength, win, ovl,
    )  # fmt: skip

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        k = sequence.gop_of(n)
        frames = done.get(k)
        if frames is None:
            source = prefetch.fetch(needs[k])  # before any lock: see workers.py
            with translated(FUNC), prefetch.holding(source), workers.slot():
                frames = sequence.gop_frames(k)
            done.put(k, frames)
        fout = f.copy()
        write_planes(fout, frames[n - sequence.spans[k].start], fmt, color)
        fout.props.update(out_props)
        return fout

    return parallel_modify(clip, render)


def _source_frames(sequence: GopSequence, k: int) -> list[int]:
    """Source frames the refined output of GOP ``k`` depends on: every GOP a window over it touches."""
    starts = sequence.latent_starts
    lo, hi = starts[k], starts[k + 1]
    if sequence.windowed is None:
        gops = [k]
    else:
        plan = sequence.windowed.plan
        windows = {w for i in range(lo, hi) for w in plan.windows_for_frame(i)}
        a, b = min(w.start for w in windows), max(w.stop for w in windows)
        gops = [j for j in range(len(sequence.spans)) if starts[j] < b and starts[j + 1] > a]
    return list(itertools.chain.from_iterable(sequence.spans[j] for j in gops))
