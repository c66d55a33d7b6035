"""``.vpy`` scripts in the previewer: real VapourSynth core, real frames (the y4m clip fed into a script)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from ffmpeg_bridge import open_source
from gui.convert import qimage_to_rgb8
from gui.vpy import ScriptError, VapourSynthClip, run_script
from vsgnvc.codec.color import yuv_to_rgb

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 20_000

SCRIPT = """\
import numpy as np
import vapoursynth as vs

from ffmpeg_bridge import open_source

core = vs.core
info, it = open_source(r"{y4m}")
frames = list(it)
blank = core.std.BlankClip(format=vs.YUV420P8, width=info.width, height=info.height, length=len(frames),
                           fpsnum=25, fpsden=1)


def fill(n, f):
    out = f.copy()
    for p in range(3):
        np.asarray(out[p])[:] = frames[n][p]
    return out


clip = blank.std.ModifyFrame(blank, fill).std.SetFrameProps(_Matrix=5, _Range=0)
clip.set_output(0)
clip.std.BoxBlur(hradius=3, vradius=3).set_output(1)
clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="470bg").set_output(3)
"""


@pytest.fixture
def script(tmp_path: Path, small_clip_y4m: Path) -> Path:
    path = tmp_path / "compare.vpy"
    path.write_text(SCRIPT.format(y4m=small_clip_y4m))
    return path


def expected_rgb(frame, matrix: int) -> np.ndarray:
    from ffmpeg_bridge.video import ColorRange, PixelFormat

    rgb = yuv_to_rgb(frame, PixelFormat.YUV420P, ColorRange.LIMITED, matrix)
    return ((rgb + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def wait_shown(qtbot, win, n: int, clips: tuple[int, ...]) -> None:
    qtbot.waitUntil(lambda: win.shown_frame == n and win.shown_clips == clips and not win.busy, timeout=TIMEOUT)


def test_script_outputs_become_tabs(qtbot, make_window, script: Path, small_clip_y4m: Path) -> None:
    _, frames = open_source(small_clip_y4m)
    source = list(frames)
    win = make_window()
    win.open_path(script)
    wait_shown(qtbot, win, 0, (0,))
    s = win.session
    assert s.kind == "vpy"
    assert [slot.name for slot in s.slots] == ["Output 0", "Output 1", "Output 3"]
    assert win.note_label.text() == ""  # matrix is tagged (BT.601): nothing assumed
    for _ in range(4):
        qtbot.keyClick(win, Qt.Key.Key_Right)
    wait_shown(qtbot, win, 4, (0,))
    out0 = qimage_to_rgb8(win.view.right)
    np.testing.assert_array_equal(out0, expected_rgb(source[4], 5))
    qtbot.keyClick(win, Qt.Key.Key_2)
    wait_shown(qtbot, win, 4, (1,))
    blurred = qimage_to_rgb8(win.view.right)
    assert np.abs(blurred.astype(int) - out0.astype(int)).mean() > 2  # a different picture
    qtbot.keyClick(win, Qt.Key.Key_3)
    wait_shown(qtbot, win, 4, (2,))
    rgb_out = qimage_to_rgb8(win.view.right)
    # same picture through zimg's RGB conversion and back: close, not bit-exact (chroma upsampling differs)
    assert np.abs(rgb_out.astype(int) - out0.astype(int)).mean() < 4
    assert s.clip(2).info.matrix == 1  # RGB carried to YUV with BT.709
    # split view without a source: PSNR of the right output against the left one
    win.set_split_left(0)
    win.set_output(1)
    win.set_split(True)
    wait_shown(qtbot, win, 4, (0, 1))
    assert win.info.rows["PSNR against"] == "Output 0"
    assert win.info.rows["PSNR Output 1"].startswith("Y ") and "∞" not in win.info.rows["PSNR Output 1"]


def test_script_error_shows_line_and_app_survives(qtbot, make_window, tmp_path: Path, small_clip_y4m: Path) -> None:
    bad = tmp_path / "broken.vpy"
    bad.write_text("import vapoursynth as vs\nclip = vs.core.std.BlankClip()\nx = 1 / 0\nclip.set_output()\n")
    win = make_window()
    with qtbot.waitSignal(win.errorShown, timeout=TIMEOUT) as err:
        win.open_path(bad)
    assert err.args[0] == "broken.vpy, line 3: ZeroDivisionError: division by zero"
    boxes = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1 and "line 3" in boxes[0].text()
    boxes[0].close()
    win.open_path(small_clip_y4m)  # the window still works
    wait_shown(qtbot, win, 0, (0,))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import vapoursynth as vs\nclip = vs.core.std.BlankClip()\n", "sets no output"),
        ("def broken(:\n", "SyntaxError"),
        ("import sys\nsys.exit(3)\n", "exit(3)"),
    ],
)
def test_bad_scripts_raise_one_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "s.vpy"
    path.write_text(body)
    with pytest.raises(ScriptError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        run_script(path)
    assert "\n" not in str(info.value)


def test_gray_and_deep_formats_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "formats.vpy"
    path.write_text(
        textwrap.dedent(
            """\
            import vapoursynth as vs
            core = vs.core
            core.std.BlankClip(format=vs.GRAY8, width=32, height=16, length=2, color=[150]).set_output(0)
            core.std.BlankClip(format=vs.YUV422P16, width=32, height=16, length=2).set_output(1)
            core.std.BlankClip(format=vs.YUV420P10, width=32, height=16, length=2).set_output(2)
            """
        )
    )
    env, nodes = run_script(path)
    try:
        clips = [VapourSynthClip(node, i, env) for i, node in nodes]
        gray, deep, native = (c.get_frame(1) for c in clips)
        assert gray[0][0, 0] == 150 and gray[1][0, 0] == 128 and gray[0].dtype == np.uint8
        assert deep[0].dtype == np.uint16 and clips[1].info.pix_fmt.value == "yuv444p10le"
        assert clips[2].info.pix_fmt.value == "yuv420p10le" and native[1].shape == (8, 16)
        with pytest.raises(IndexError):
            clips[0].get_frame(2)
        for c in clips:
            c.close()
    finally:
        env.close()


def test_each_script_gets_a_fresh_core(tmp_path: Path) -> None:
    """In a new process the previewer's policy is registered: scripts never see each other's outputs/cores."""
    a, b = tmp_path / "a.vpy", tmp_path / "b.vpy"
    a.write_text("import vapoursynth as vs\nvs.core.std.BlankClip(width=16, height=16).set_output(0)\n"
                 "vs.core.std.BlankClip(width=16, height=16).set_output(7)\n")  # fmt: skip
    b.write_text("import vapoursynth as vs\nassert not vs.get_outputs()\n"
                 "vs.core.std.BlankClip(width=32, height=32).set_output(5)\n")  # fmt: skip
    code = textwrap.dedent(
        f"""\
        import vapoursynth as vs
        from gui.vpy import run_script
        env_a, nodes_a = run_script(r"{a}")
        env_b, nodes_b = run_script(r"{b}")
        assert not env_a.shared and not env_b.shared
        assert [i for i, _ in nodes_a] == [0, 7] and [i for i, _ in nodes_b] == [5]
        assert nodes_a[0][1].get_frame(0).width == 16
        del nodes_a, nodes_b
        env_a.close(); env_b.close()
        # code outside scripts still has its own default core and no outputs from the scripts
        assert not vs.get_outputs()
        assert vs.core.std.BlankClip(width=8, height=8).get_frame(0).width == 8
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_shared_core_fallback_restores_outputs(tmp_path: Path) -> None:
    """After ``vs.core`` was used without a script (standalone policy), scripts run in that core."""
    a = tmp_path / "a.vpy"
    a.write_text("import vapoursynth as vs\nassert not vs.get_outputs()\n"
                 "vs.core.std.BlankClip(width=16, height=16).set_output(2)\n")  # fmt: skip
    code = textwrap.dedent(
        f"""\
        import vapoursynth as vs
        vs.core.std.BlankClip(width=8, height=8).set_output(9)  # registers the standalone policy
        from gui.vpy import run_script
        env, nodes = run_script(r"{a}")
        assert env.shared and [i for i, _ in nodes] == [2]
        assert list(vs.get_outputs()) == [9]  # the process's own output is back, the script's is gone
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
