"""vsgnvc.enhance: order independence, no deadlocks with few threads, scene cuts, formats, checks."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import vapoursynth as vs

from vsgnvc.vs import decode, enhance
from vsgnvc.vs.frames import FORMATS
from vsgnvc.vs.scenes import scene_cuts

TIMEOUT = 60  # seconds per frame: a deadlock fails the test instead of hanging it


def render_async(clip, order, frame_planes):
    futures = {n: clip.get_frame_async(n) for n in order}
    got = {n: frame_planes(f.result(timeout=TIMEOUT)) for n, f in futures.items()}
    return [got[n] for n in range(clip.num_frames)]


def test_format_props_and_change(src_clip, model_dir, render, same_frames):
    out = enhance(src_clip, model_path=model_dir)
    assert (out.format.id, out.width, out.height, out.num_frames) == (vs.YUV420P8, 96, 40, 13)
    assert out.fps == src_clip.fps
    props = out.get_frame(4).props
    assert (props["_Matrix"], props["_Range"]) == (1, 0)  # BT.709 assumed for the untagged source
    assert props["_SARNum"] == src_clip.get_frame(4).props["_SARNum"]  # source props are kept
    got = render(out)
    assert not same_frames(got, render(src_clip))
    assert not same_frames(got, render(enhance(src_clip, strength=0.6, model_path=model_dir)))


def test_concurrent_random_order_is_bit_identical(src_clip, model_dir, render, frame_planes, same_frames, threads):
    threads(4)
    sequential = render(enhance(src_clip, model_path=model_dir))
    order = list(range(13))
    random.Random(11).shuffle(order)
    got = render_async(enhance(src_clip, model_path=model_dir, num_streams=2), order, frame_planes)
    assert same_frames(got, sequential)


@pytest.mark.parametrize("num_threads", [1, 2])
def test_no_deadlock_with_few_threads(
    src_clip, model_dir, frame_planes, same_frames, render, threads, caplog, num_threads
):
    """Every thread asks for frames whose GOPs overlap in windows, all at once, with 1 or 2 VapourSynth threads."""
    expected = render(enhance(src_clip, model_path=model_dir))
    threads(num_threads)
    order = [12, 0, 9, 4, 11, 8, 1, 10, 3, 7, 2, 6, 5]
    with caplog.at_level(logging.WARNING, logger="vsgnvc"):
        for streams in (1, 2):
            got = render_async(enhance(src_clip, model_path=model_dir, num_streams=streams), order, frame_planes)
            assert same_frames(got, expected)
    assert "was not prefetched" not in caplog.text  # source frames always came from the planned prefetch


def test_scene_cuts_from_props_or_detection(cut_clip, model_dir, render, same_frames):
    assert scene_cuts(cut_clip, FORMATS[vs.YUV420P8], detect=True) == [9]
    assert scene_cuts(cut_clip, FORMATS[vs.YUV420P8], detect=False) == []
    tagged = cut_clip.std.SetFrameProps(_SceneChangePrev=0).std.FrameEval(
        lambda n, clip=cut_clip: clip.std.SetFrameProps(_SceneChangePrev=int(n == 9))
    )
    assert scene_cuts(tagged, FORMATS[vs.YUV420P8], detect=False) == [9]
    detected = render(enhance(cut_clip, scene_detect=True, model_path=model_dir))
    from_props = render(enhance(tagged, model_path=model_dir))
    ignored = render(enhance(cut_clip, model_path=model_dir))
    assert same_frames(detected, from_props)
    assert not same_frames(detected, ignored)
    # Frames before the cut do not depend on the second shot at all.
    other_shot = cut_clip[:9] + cut_clip[9:].std.FlipHorizontal()
    alone = render(enhance(other_shot, scene_detect=True, model_path=model_dir))
    assert same_frames(alone[:9], detected[:9])


def test_enhance_a_decode_uses_its_cuts(encoded_cut, model_dir, render):
    dec = decode(encoded_cut, refine=False, model_path=model_dir)
    assert scene_cuts(dec, FORMATS[vs.YUV420P8], detect=False) == [9]
    out = enhance(dec, model_path=model_dir)
    assert len(render(out)) == 13


@pytest.mark.parametrize("fmt", [vs.RGB24, vs.RGBS], ids=["RGB24", "RGBS"])
def test_rgb(src_clip, model_dir, fmt):
    rgb = src_clip.resize.Bicubic(format=fmt, matrix_in_s="709")
    out = enhance(rgb, model_path=model_dir)
    frame = out.get_frame(6)
    assert out.format.id == fmt and frame.props["_Matrix"] == 0
    values = np.stack([np.asarray(frame[p]) for p in range(3)])
    assert values.dtype == (np.uint8 if fmt == vs.RGB24 else np.float32)
    if fmt == vs.RGBS:
        assert values.min() >= 0.0 and values.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strength": 0.0}, r"strength must be a number in \(0, 1\), got 0.0"),
        ({"strength": 1}, r"strength must be a number in \(0, 1\), got 1"),
        ({"strength": "0.3"}, "strength must be a number"),
        ({"window": 0}, "window must be >= 1"),
        ({"overlap": -1}, "overlap must be >= 0"),
        ({"window": 2, "overlap": 2}, "overlap must be smaller than window, got overlap=2, window=2"),
        ({"overlap": 5}, "overlap must be smaller than window, got overlap=5, window=3"),
        ({"scene_detect": 1}, "scene_detect must be True or False"),
        ({"num_streams": 0}, "num_streams must be >= 1"),
    ],
)
def test_bad_parameters(src_clip, index_only_model, kwargs, message):
    with pytest.raises(vs.Error, match=f"^gnvc.enhance: {message}"):
        enhance(src_clip, model_path=index_only_model, **kwargs)


def test_bad_clip_and_model(src_clip, other_model_dir):
    with pytest.raises(vs.Error, match=r"^gnvc.enhance: clip must be a vapoursynth.VideoNode"):
        enhance(None, model_path=other_model_dir)  # type: ignore[arg-type]
    with pytest.raises(vs.Error, match=r"^gnvc.enhance: clip format YUV420P16 is not supported"):
        enhance(src_clip.resize.Point(format=vs.YUV420P16), model_path=other_model_dir)
    with pytest.raises(vs.Error, match=r"^gnvc.enhance: model tiny-other at .* has no refiner"):
        enhance(src_clip, model_path=other_model_dir)
