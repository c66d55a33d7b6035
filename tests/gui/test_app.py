"""Bad input, drag and drop, playback and the ``gnvc-preview`` entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PyQt6.QtGui import QDropEvent
from PyQt6.QtWidgets import QMessageBox

from gui.app import build_parser
from gui.window import MainWindow

TIMEOUT = 30_000
REPO = Path(__file__).resolve().parents[2]


def visible_boxes(win: MainWindow) -> list[QMessageBox]:
    return [b for b in win.findChildren(QMessageBox) if b.isVisible()]


def open_expecting_error(qtbot, win: MainWindow, path: Path) -> str:
    with qtbot.waitSignal(win.errorShown, timeout=TIMEOUT) as err:
        win.open_path(path)
    boxes = visible_boxes(win)
    assert len(boxes) == 1 and boxes[0].text() == err.args[0]
    assert boxes[0].icon() == QMessageBox.Icon.Critical
    boxes[0].close()
    return err.args[0]


def test_corrupted_files_show_errors_and_app_stays_up(qtbot, make_window, gnvc_file: Path, tmp_path: Path,
                                                      small_clip_y4m: Path) -> None:  # fmt: skip
    win = make_window()
    data = gnvc_file.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # a byte inside a GOP chunk: its CRC no longer matches
    bad_gop = tmp_path / "flipped.gnvc"
    bad_gop.write_bytes(bytes(flipped))
    truncated = tmp_path / "truncated.gnvc"
    truncated.write_bytes(data[: len(data) - 40])
    junk = tmp_path / "junk.gnvc"
    junk.write_bytes(b"this is not a bitstream" * 10)
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")

    # GOP 0 is read when its frames are first needed: the file opens, frame 0 reports the damage
    with qtbot.waitSignal(win.errorShown, timeout=TIMEOUT) as err:
        win.open_path(bad_gop)
    assert err.args[0].startswith("frame 0: ") and "CRC32 mismatch" in err.args[0] and "GOP 0" in err.args[0]
    for box in visible_boxes(win):
        box.close()
    assert not win.busy and win.view.right is None
    messages = [open_expecting_error(qtbot, win, p) for p in (truncated, junk, not_video)]
    for message, path in zip(messages, (truncated, junk, not_video), strict=True):
        assert path.name in message and "\n" not in message and "Traceback" not in message
    assert "truncated" in messages[0] and "not a .gnvc file" in messages[1]
    assert open_expecting_error(qtbot, win, tmp_path / "missing.mkv").endswith("does not exist")
    assert win.session is not None and win.session.path == bad_gop  # failed opens leave the open file alone
    win.open_path(small_clip_y4m)  # a good file after all that
    qtbot.waitUntil(lambda: win.shown_frame == 0 and not win.busy, timeout=TIMEOUT)


def test_missing_model_folder_is_one_clear_error(qtbot, tmp_path: Path, gnvc_file: Path) -> None:
    from gui.session import OpenOptions

    win = MainWindow(OpenOptions(model_dir=tmp_path / "nomodel", device="cpu"))
    qtbot.addWidget(win)
    win.show()
    message = open_expecting_error(qtbot, win, gnvc_file)
    assert "is not a vsgnvc model folder" in message


def test_wrong_source_is_reported_but_file_opens(qtbot, make_window, gnvc_file: Path, bikes_clip: Path) -> None:
    win = make_window()
    with qtbot.waitSignal(win.errorShown, timeout=TIMEOUT) as err:
        win.open_path(gnvc_file, source=bikes_clip)  # 640x272: not what was encoded
    assert "640x272" in err.args[0] and "96x40" in err.args[0]
    assert visible_boxes(win)[0].icon() == QMessageBox.Icon.Warning
    for box in visible_boxes(win):
        box.close()
    s = win.session
    assert s is not None and s.slots[0].clip is None and not win.tabs.isTabEnabled(0)
    assert s.reference is None
    win.set_output(0)  # a disabled slot: ignored with a status message
    assert s.current != 0 and "640x272" in win.statusBar().currentMessage()


def test_drop_a_file_opens_it(qtbot, make_window, small_clip_y4m: Path) -> None:
    win = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_clip_y4m))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)  # fmt: skip
    win.dropEvent(event)
    qtbot.waitUntil(lambda: win.shown_frame == 0 and not win.busy, timeout=TIMEOUT)
    assert win.session is not None and win.session.path == small_clip_y4m


def test_space_plays_to_the_end_without_blocking(qtbot, make_window, small_clip_y4m: Path) -> None:
    win = make_window()
    win.open_path(small_clip_y4m)
    qtbot.waitUntil(lambda: win.shown_frame == 0 and not win.busy, timeout=TIMEOUT)
    shown: list[int] = []
    win.frameShown.connect(shown.append)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))  # the event loop keeps turning during playback
    timer.start(10)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.playing
    qtbot.waitUntil(lambda: not win.playing and win.shown_frame == 12, timeout=TIMEOUT)
    timer.stop()
    assert shown == sorted(shown) and shown[-1] == 12 and len(shown) >= 3
    assert len(ticks) >= 20  # 13 frames at 25 fps take ~0.5 s: ~50 ticks of 10 ms
    qtbot.keyClick(win, Qt.Key.Key_Space)  # at the end: plays again from the start
    assert win.playing and win.frame == 0
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert not win.playing


def test_parser() -> None:
    args = build_parser().parse_args(["clip.gnvc", "--source", "src.mkv", "--model", "m", "--device", "cpu"])
    assert args.file == Path("clip.gnvc") and args.source == Path("src.mkv") and args.model == Path("m")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--workers", "x"])


MAIN_DRIVER = """\
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox
from gui.app import main
from gui.window import MainWindow

state = {"opened_bad": False}

def poll():
    for widget in QApplication.topLevelWidgets():
        if not isinstance(widget, MainWindow):
            continue
        boxes = [b for b in widget.findChildren(QMessageBox) if b.isVisible()]
        if not state["opened_bad"] and widget.shown_frame == 0:
            sys.stdout.write(f"frames: {widget.num_frames}\\n")
            state["opened_bad"] = True
            widget.open_path(sys.argv[2])  # a broken file next: a message box, the app stays up
        elif boxes:
            sys.stdout.write(f"error: {boxes[0].text()}\\n")
            widget.close()
            QApplication.quit()
            return
    QTimer.singleShot(50, poll)

app = QApplication(sys.argv[:1])
QTimer.singleShot(50, poll)
QTimer.singleShot(60_000, lambda: QApplication.exit(9))  # never hang
sys.stdout.write(f"rc={main(sys.argv[1:2])}")
"""


def test_main_entry_point(small_clip_y4m: Path, tmp_path: Path) -> None:
    """``gnvc-preview FILE`` in its own process: shows the file; a broken file then gets a message box."""
    broken = tmp_path / "broken.gnvc"
    broken.write_bytes(b"GNVC" + bytes(200))
    result = subprocess.run([sys.executable, "-c", MAIN_DRIVER, str(small_clip_y4m), str(broken)], cwd=REPO,
                            capture_output=True, text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "frames: 13"
    assert lines[1].startswith(f"error: {broken}") and "\n" not in lines[1]
    assert lines[2] == "rc=0" and "Traceback" not in result.stderr


def test_a_newer_open_wins(qtbot, make_window, gnvc_file: Path, small_clip_y4m: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.vpy"
    script.write_text("import vapoursynth as vs\nvs.core.std.BlankClip(width=32, height=16, length=3).set_output()\n")
    win = make_window()
    win.open_path(gnvc_file)  # model load + decoder: still running when the next open starts
    win.open_path(script)
    win.open_path(small_clip_y4m)
    qtbot.waitUntil(lambda: win.shown_frame == 0 and not win.busy, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not win._jobs, timeout=TIMEOUT)  # the superseded jobs ended; their sessions closed
    assert win.session is not None and win.session.path == small_clip_y4m
    assert win.tabs.count() == 1
