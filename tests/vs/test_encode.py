"""vsgnvc.encode / encode_clip: out-of-order rendering, atomic files, formats and checks."""

from __future__ import annotations

import gc
import logging
import random

import numpy as np
import pytest
import vapoursynth as vs

from vsgnvc.bitstream import GnvcReader
from vsgnvc.vs import decode, encode, encode_clip


def stray_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_random_order_writes_the_in_order_file(src_clip, model_dir, tmp_path, render, same_frames, threads):
    threads(4)
    ordered = tmp_path / "ordered.gnvc"
    result = encode_clip(src_clip, ordered, rate=1, model_path=model_dir)
    assert result.num_bytes == ordered.stat().st_size and len(result.gop_bytes) == 2

    out = tmp_path / "filter.gnvc"
    rec = encode(src_clip, out, rate=1, model_path=model_dir, num_streams=2)
    order = list(range(13))
    random.Random(3).shuffle(order)
    # GOP 1's frames first: its record must wait for GOP 0 and the file must not appear early.
    first = [n for n in order if n >= 9]
    for n in first:
        rec.get_frame(n)
    assert not out.exists()
    assert len(stray_files(tmp_path)) == 1  # the hidden temporary file
    got = render(rec, order)
    assert out.read_bytes() == ordered.read_bytes()
    assert stray_files(tmp_path) == []
    # The returned clip is the decoder's unrefined output, bit for bit.
    assert same_frames(got, render(decode(out, refine=False, model_path=model_dir)))
    # Rendering again (cache evicted or not) never rewrites the finished file.
    mtime = out.stat().st_mtime_ns
    assert same_frames(render(rec), got)
    assert out.stat().st_mtime_ns == mtime


def test_props(cut_clip, model_dir, tmp_path):
    """A scene cut inside a slot of 5 frames starts a new GOP, also when frames are requested back to front."""
    out = tmp_path / "cut.gnvc"
    rec = encode(cut_clip, out, gop=5, model_path=model_dir)
    props = {n: rec.get_frame(n).props for n in reversed(range(rec.num_frames))}
    props = [props[n] for n in range(rec.num_frames)]
    assert out.exists()
    with GnvcReader(out) as reader:
        assert reader.header.gop_size == 5 and reader.num_gops == 4
        # the cut at frame 9 is inside the slot of frames 5..9: GOP 2 starts there
        assert reader.spans == (range(0, 5), range(5, 9), range(9, 10), range(10, 13))
        gop_bits = [reader.gop_size_bytes(k) * 8 for k in range(4)]
        cuts = [reader.read_gop(k).scene_cut for k in range(4)]
    assert cuts == [False, False, True, False]
    assert [p["GNVCGop"] for p in props] == [0] * 5 + [1] * 4 + [2] + [3] * 3
    assert [p["GNVCBits"] for p in props][:5] == [gop_bits[0] / 5] * 5
    assert props[9]["GNVCBits"] == gop_bits[2]
    assert props[12]["GNVCBits"] == pytest.approx(gop_bits[3] / 3)
    assert [p["_SceneChangePrev"] for p in props] == [int(n == 9) for n in range(13)]
    assert all(p["_Matrix"] == 1 and p["_Range"] == 0 for p in props)
    # the same file as an in-order encode
    ordered = tmp_path / "ordered.gnvc"
    encode_clip(cut_clip, ordered, gop=5, model_path=model_dir)
    assert out.read_bytes() == ordered.read_bytes()


def test_scene_cut_at_gop_start_is_flagged(cut_clip, model_dir, tmp_path):
    rec = encode(cut_clip, tmp_path / "cut9.gnvc", model_path=model_dir)
    flags = [rec.get_frame(n).props["_SceneChangePrev"] for n in (12, 9, 3, 0)]
    assert flags == [0, 1, 0, 0]


@pytest.mark.parametrize(("fmt", "coded"), [(vs.RGB24, vs.YUV444P8), (vs.RGBS, vs.YUV444P10)], ids=["RGB24", "RGBS"])
def test_rgb_clips(src_clip, model_dir, tmp_path, fmt, coded):
    rgb = src_clip.resize.Bicubic(format=fmt, matrix_in_s="709")
    out = tmp_path / "rgb.gnvc"
    rec = encode(rgb, out, model_path=model_dir)
    frames = [rec.get_frame(n) for n in range(rec.num_frames)]
    assert rec.format.id == fmt and (rec.width, rec.height) == (96, 40)
    assert frames[0].props["_Matrix"] == 0
    with GnvcReader(out) as reader:
        assert (reader.header.matrix, reader.header.color_range) == (1, 1)
    dec = decode(out, refine=False, model_path=model_dir)
    assert dec.format.id == coded
    assert (dec.get_frame(0).props["_Matrix"], dec.get_frame(0).props["_Range"]) == (1, vs.RANGE_FULL)
    # zimg converting the decoded YUV with its props lands on our RGB reconstruction: the tags are right.
    back = dec.resize.Point(format=fmt)
    scale = 255.0 if fmt == vs.RGB24 else 1.0
    for n in (0, 12):
        ours = np.stack([np.asarray(frames[n][p]) for p in range(3)]).astype(np.float64) / scale
        zimg = np.stack([np.asarray(back.get_frame(n)[p]) for p in range(3)]).astype(np.float64) / scale
        assert np.abs(ours - zimg).max() <= 2.5 / 255


def test_partial_render_leaves_nothing(src_clip, model_dir, tmp_path):
    out = tmp_path / "partial.gnvc"
    out.write_bytes(b"old")
    rec = encode(src_clip, out, overwrite=True, model_path=model_dir)
    for n in range(9):  # GOP 0 coded and written; GOP 1 never requested
        rec.get_frame(n)
    assert out.read_bytes() == b"old" and len(stray_files(tmp_path)) == 1
    # A clip dropped half-rendered takes its temporary file with it (a process that stops early and
    # exits: see test_vspipe.test_partial_vspipe_render_leaves_nothing).
    dropped = encode(src_clip, tmp_path / "dropped.gnvc", model_path=model_dir)
    dropped.get_frame(0)
    assert len(stray_files(tmp_path)) == 2
    del dropped
    gc.collect()
    assert len(stray_files(tmp_path)) == 1
    for n in range(9, 13):
        rec.get_frame(n)
    assert out.read_bytes()[:4] == b"GNVC" and stray_files(tmp_path) == []
    assert not (tmp_path / "dropped.gnvc").exists()


def test_missing_matrix_assumes_bt709_with_warning(src_clip, model_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vsgnvc"):
        encode(src_clip, tmp_path / "x.gnvc", model_path=model_dir)
    assert "clip has no _Matrix; assuming BT.709" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 4}, "rate must be in 0..3 for model tiny-test, got 4"),
        ({"rate": -1}, "rate must be >= 0"),
        ({"rate": 1, "target_bpp": 0.02}, "pass rate or target_bpp, not both"),
        ({"target_bpp": -0.1}, "target_bpp must be a positive number"),
        ({"gop": 10}, r"GOP size must be 1 \+ 4k frames"),
        ({"gop": 0}, "gop must be >= 1"),
        ({"num_streams": 0}, "num_streams must be >= 1"),
        ({"overwrite": "yes"}, "overwrite must be True or False"),
        ({"device_index": 1.5}, "device_index must be an integer"),
        ({"preset": "placebo"}, "preset must be one of fast, medium, slow, got 'placebo'"),
    ],
)
def test_bad_parameters(src_clip, index_only_model, tmp_path, kwargs, message):
    with pytest.raises(vs.Error, match=f"^gnvc.encode: {message}"):
        encode(src_clip, tmp_path / "x.gnvc", model_path=index_only_model, **kwargs)
    assert not (tmp_path / "x.gnvc").exists()


def test_bad_clips_and_paths(src_clip, index_only_model, tmp_path):
    core = vs.core

    def fails(clip, message, path=tmp_path / "x.gnvc", func=encode):
        name = func.__name__
        with pytest.raises(vs.Error, match=f"^gnvc.{name}: {message}"):
            func(clip, path, model_path=index_only_model)

    fails("clip", "clip must be a vapoursynth.VideoNode, not str")
    fails(src_clip.resize.Bicubic(format=vs.YUV422P8), "clip format YUV422P8 is not supported")
    fails(src_clip.resize.Bicubic(format=vs.GRAY8), "clip format Gray8 is not supported")
    mixed = core.std.Splice([src_clip, src_clip.resize.Bicubic(format=vs.YUV420P10)], mismatch=True)
    fails(mixed, "clip has a variable format or size")
    vfr = core.std.Splice([src_clip, src_clip.std.AssumeFPS(fpsnum=30)], mismatch=True)
    fails(vfr, "clip has a variable frame rate")
    fails(src_clip.std.SetFrameProps(_Matrix=7), "_Matrix 7 is not supported")
    existing = tmp_path / "exists.gnvc"
    existing.write_bytes(b"keep")
    fails(src_clip, ".*exists.gnvc exists; pass overwrite=True", existing)
    fails(src_clip, "output directory .* does not exist", tmp_path / "nope" / "x.gnvc")
    fails(src_clip, ".* is a directory", tmp_path)
    fails(src_clip, ".*exists.gnvc exists; pass overwrite=True", existing, func=encode_clip)
    assert existing.read_bytes() == b"keep"
    with pytest.raises(vs.Error, match=r"^gnvc.encode: model_path .* is not a vsgnvc model folder"):
        encode(src_clip, tmp_path / "x.gnvc", model_path=tmp_path)
