"""Scripts evaluated in-process: ``open_vpy`` (the hook for ``gnvc encode x.vpy``) and the examples' errors."""

from __future__ import annotations

import numpy as np
import pytest
import vapoursynth as vs

from vsgnvc.vs import decode, load_script, open_vpy


def test_open_vpy_gives_the_decode_filters_frames(repo, encoded, model_dir):
    info, frames = open_vpy(
        repo / "examples" / "decode.vpy", {"src": str(encoded), "model": str(model_dir), "refine": "0"}
    )
    assert (info.width, info.height, info.num_frames, info.pix_fmt.value, info.matrix) == (96, 40, 13, "yuv420p", 1)
    got = list(frames)
    clip = decode(encoded, refine=False, model_path=model_dir)
    assert len(got) == 13
    for n in (0, 7, 12):
        assert all(np.array_equal(got[n][p], np.asarray(clip.get_frame(n)[p])) for p in range(3))


def test_open_vpy_converts_rgb_like_encode(tmp_path):
    script = tmp_path / "rgb.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "print('this goes to stderr, not stdout')\n"
        "vs.core.std.BlankClip(format=vs.RGB24, width=64, height=48, length=3, color=[255, 0, 0]).set_output()\n"
    )
    info, frames = open_vpy(script)
    assert (info.pix_fmt.value, info.color_range.value, info.matrix, info.num_frames) == ("yuv444p", "pc", 1, 3)
    y, u, v = next(frames)
    assert (int(y[0, 0]), int(u[0, 0]), int(v[0, 0])) == (54, 99, 255)  # BT.709 full-range red


def test_compare_example_stacks_three_rows(repo, small_clip_y4m, encoded, model_dir):
    clip = load_script(
        repo / "examples" / "compare.vpy", {"src": str(small_clip_y4m), "gnvc": str(encoded), "model": str(model_dir)}
    )
    assert (clip.width, clip.height, clip.num_frames, clip.format.id) == (96, 120, 13, vs.YUV420P8)
    frame = clip.get_frame(12)
    source = np.asarray(frame[0])[:40]
    assert source.std() > 10  # real picture content in the source row


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("decode.vpy", "^gnvc.decode: .*missing.gnvc does not exist"),
        ("enhance.vpy", "^gnvc.load_video: input file .*missing.y4m does not exist"),
        ("encode.vpy", "^gnvc.load_video: input file .*missing.y4m does not exist"),
    ],
)
def test_examples_fail_with_one_line(repo, tmp_path, script, message):
    args = {"src": str(tmp_path / ("missing.gnvc" if script == "decode.vpy" else "missing.y4m"))}
    with pytest.raises(vs.Error, match=message) as err:
        load_script(repo / "examples" / script, args)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("script", "missing"),
    [("decode.vpy", "the .gnvc to decode with -a src=PATH"), ("encode.vpy", "the video to encode with -a src=PATH"),
     ("enhance.vpy", "the video to refine with -a src=PATH"), ("compare.vpy", "the .gnvc to compare with -a gnvc=PATH")],
)  # fmt: skip
def test_examples_say_which_argument_is_missing(repo, script, missing):
    with pytest.raises(vs.Error, match=f"^{script}: give {missing}$"):
        load_script(repo / "examples" / script, {})


def test_script_errors(tmp_path):
    with pytest.raises(vs.Error, match=r"^gnvc.open_vpy: script .*nope.vpy does not exist"):
        open_vpy(tmp_path / "nope.vpy")
    empty = tmp_path / "empty.vpy"
    empty.write_text("x = 1\n")
    with pytest.raises(vs.Error, match=r"^gnvc.open_vpy: .*empty.vpy sets no output 0 \(call clip.set_output\(0\)\)"):
        open_vpy(empty)
    gray = tmp_path / "gray.vpy"
    gray.write_text("import vapoursynth as vs\nvs.core.std.BlankClip(format=vs.GRAY8).set_output()\n")
    with pytest.raises(vs.Error, match=r"^gnvc.open_vpy: clip format Gray8 is not supported"):
        open_vpy(gray)
