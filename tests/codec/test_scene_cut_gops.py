"""A scene cut inside a slot of ``gop_size`` frames starts a new GOP: the new shot is coded, decoded and refined
without the previous one (bikes.mp4 cuts to a new shot at frame 30)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from ffmpeg_bridge import open_source
from vsgnvc.bitstream import GnvcReader
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import Encoder, EncodeSettings
from vsgnvc.codec.scenecut import split_slot

FIRST, COUNT = 26, 18  # bikes frames 26..43: the cut at frame 30 is frame 4 here, inside the first slot of 9
CUT = 30 - FIRST


@pytest.fixture(scope="module")
def around_the_cut(bikes_clip, ffmpeg_exe, tmp_path_factory):
    """Real bikes frames around its scene cut, 96x40."""
    y4m = tmp_path_factory.mktemp("cut") / "bikes_cut.y4m"
    subprocess.run(
        [ffmpeg_exe, "-v", "error", "-i", str(bikes_clip), "-vf", f"select=between(n\\,{FIRST}\\,{FIRST + COUNT - 1}),"
         "scale=96:40:flags=area", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(y4m)],
        check=True,
    )  # fmt: skip
    info, frames = open_source(y4m)
    frames = list(frames)
    assert len(frames) == COUNT
    return info, frames


def encode(tiny_model, info, frames, path):
    # the highest rate: the tiny model's random weights barely see the content at lower ones
    Encoder(tiny_model, "cpu").encode(info, iter(frames), path, len(frames), EncodeSettings(rate=3), progress=False)
    return path


def test_split_slot() -> None:
    spans = [(range(9, 12), False), (range(12, 13), True), (range(13, 18), True)]
    assert split_slot(range(9, 18), {4, 12, 13, 18}) == spans
    assert split_slot(range(9, 18), {9}) == [(range(9, 18), True)]
    assert split_slot(range(0, 5), ()) == [(range(0, 5), False)]


def test_the_new_shot_starts_a_gop_and_depends_on_nothing_before_it(tiny_model, around_the_cut, tmp_path):
    info, frames = around_the_cut
    first = encode(tiny_model, info, frames, tmp_path / "cut.gnvc")
    with GnvcReader(first) as reader:
        assert reader.spans == (range(0, CUT), range(CUT, 9), range(9, 18))
        assert [g.scene_cut for g in reader] == [False, True, False]
    # The same new shot after another old one (the first shot upside down): the cut is found at the same
    # frame, and everything from the cut on is coded and decoded the same, refinement included.
    other_past = [tuple(np.ascontiguousarray(p[::-1]) for p in f) for f in frames[:CUT]] + frames[CUT:]
    second = encode(tiny_model, info, other_past, tmp_path / "other_past.gnvc")
    with GnvcReader(first) as a, GnvcReader(second) as b:
        assert a.spans == b.spans
        assert [a.read_gop(k) for k in (1, 2)] == [b.read_gop(k) for k in (1, 2)]
    decoded = []
    for path in (first, second):
        with Decoder(path, tiny_model, "cpu") as dec:
            assert dec.refines
            starts = dec.sequence.latent_starts
            assert dec.sequence.windowed.plan.cuts == (starts[1],)  # no refinement window spans the cut
            decoded.append(list(dec.frames()))
    a, b = decoded
    assert not np.array_equal(a[CUT - 1][0], b[CUT - 1][0])  # the old shots do decode differently
    for n in range(CUT, COUNT):
        assert all(np.array_equal(x, y) for x, y in zip(a[n], b[n], strict=True)), n
