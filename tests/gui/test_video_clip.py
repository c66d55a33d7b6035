"""Random access to video files through the bridge's forward readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge import SourceError, open_source
from gui.video_clip import VideoFileClip


def _all_frames(path: Path, count: int) -> list:
    _, frames = open_source(path)
    return [next(frames) for _ in range(count)]


@pytest.mark.parametrize("clip_name", ["small_clip_y4m", "bikes_clip"])
def test_random_access_equals_sequential_read(clip_name: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(clip_name)
    expected = _all_frames(path, 8)
    clip = VideoFileClip(path, cache_bytes=3 * sum(p.nbytes for p in expected[0]))  # room for 3 frames only
    try:
        for n in (5, 2, 7, 0, 6, 6, 1):
            for got, want in zip(clip.get_frame(n), expected[n], strict=True):
                np.testing.assert_array_equal(got, want)
        assert clip.reopened >= 2  # 2 and 0 (and 1) were behind the reader and evicted
    finally:
        clip.close()


def test_length_and_errors(small_clip_y4m: Path, tmp_path: Path) -> None:
    clip = VideoFileClip(small_clip_y4m)
    assert clip.num_frames == 13 and (clip.info.width, clip.info.height) == (96, 40)
    with pytest.raises(IndexError):
        clip.get_frame(13)
    clip.close()
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(SourceError):
        VideoFileClip(bad)
