"""Rate and structure numbers of a real ``.gnvc`` with a scene cut, as the timeline and info panel show them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ffmpeg_bridge import open_source, write_y4m
from gui.stream_stats import StreamStats
from gui.timeline import TimelineMarks
from vsgnvc.api import encode_file
from vsgnvc.codec.decoder import Decoder


@pytest.fixture(scope="module")
def cut_gnvc(small_clip_y4m: Path, tiny_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 real frames, then 4 frames of another "shot" (the same frames in negative): a hard cut at frame 9."""
    info, frames = open_source(small_clip_y4m)
    real = list(frames)
    shot2 = [tuple(255 - p if i == 0 else p for i, p in enumerate(f)) for f in real[9:13]]
    folder = tmp_path_factory.mktemp("cut")
    src = folder / "cut.y4m"
    with src.open("wb") as f:
        write_y4m(f, info, iter(real[:9] + shot2))
    out = folder / "cut.gnvc"
    encode_file(src, out, tiny_model, device="cpu", progress=False)
    return out


def test_cut_windows_and_bits(cut_gnvc: Path, tiny_model) -> None:
    with Decoder(cut_gnvc, tiny_model, device="cpu", refine=True) as dec:
        stats = StreamStats(dec)
        assert stats.spans == [range(0, 9), range(9, 13)]
        assert stats.cuts == [9]
        assert 9 in stats.window_starts and stats.window_starts[0] == 0  # no refinement window spans the cut
        assert stats.gop_bytes == [dec.gop_bytes(0), dec.gop_bytes(1)]
        # latent frames: 1 frame, then 4 each (temporal factor 4)
        assert [stats.latent_range(0, j) for j in range(3)] == [range(0, 1), range(1, 5), range(5, 9)]
        assert stats.latent_range(1, 1) == range(10, 13)
        for k, span in enumerate(stats.spans):
            per_frame = [stats.frame_bits(n) for n in span]
            assert all(b.gop == k and b.gop_frames == span for b in per_frame)
            latent_total = sum(stats.latent_bytes(k)) * 8
            assert sum(b.bits for b in per_frame) == pytest.approx(latent_total)
            assert latent_total < per_frame[0].gop_bits  # the chunk adds framing to the strings
        b = stats.frame_bits(6)
        assert (b.latent, b.latent_frames) == (2, range(5, 9)) and b.bits == b.latent_bits / 4


def test_timeline_marks_the_cut(qtbot, make_window, cut_gnvc: Path) -> None:
    win = make_window()
    win.open_path(cut_gnvc, source=cut_gnvc.with_suffix(".y4m"))
    qtbot.waitUntil(lambda: win.shown_frame == 0 and not win.busy, timeout=60_000)
    marks: TimelineMarks = win.timeline.marks
    assert marks.cuts == (9,) and marks.gop_starts == (0, 9) and 9 in marks.window_starts
    win.seek(10)
    qtbot.waitUntil(lambda: win.shown_frame == 10 and not win.busy, timeout=60_000)
    assert win.info.rows["GOP"] == "1: frames 9-12 (scene cut)"
    image = win.timeline.grab().toImage()
    x = round(win.timeline.x_of(9))
    colours = {image.pixelColor(x + dx, 6).getRgb()[:3] for dx in (-1, 0, 1)}
    assert (230, 60, 50) in colours  # the red cut marker is drawn at frame 9
    assert np.isfinite(float(win.info.rows["PSNR refined"].split()[1]))
