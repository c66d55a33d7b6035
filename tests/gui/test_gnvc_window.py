"""The previewer on a real ``.gnvc`` (tiny model): scrubbing, compare modes, split view, info, export.

One window serves the whole module: each GOP of the tiny model takes seconds to decode on CPU, and the
tests reuse what the decoder has cached. Each test sets the state it needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtWidgets import QMessageBox

from ffmpeg_bridge import open_source, open_video
from gui.convert import frame_psnr, qimage_to_rgb8
from gui.export import ExportJob, ExportSpec
from gui.session import DECODED, REFINED, SOURCE, OpenOptions
from gui.view import FIT
from gui.window import MainWindow
from vsgnvc.codec.color import yuv_to_rgb
from vsgnvc.codec.decoder import Decoder

TIMEOUT = 60_000


@pytest.fixture(scope="module")
def window(qapp, gnvc_file: Path, small_clip_y4m: Path, tiny_model_dir: Path):
    win = MainWindow(OpenOptions(model_dir=tiny_model_dir, device="cpu"))
    win.resize(900, 600)
    win.show()
    win.open_path(gnvc_file, source=small_clip_y4m)
    yield win
    win.close()
    win.deleteLater()


@pytest.fixture(scope="module")
def source_frames(small_clip_y4m: Path) -> list:
    _, frames = open_source(small_clip_y4m)
    return list(frames)


def rgb_of(frame, info) -> np.ndarray:
    """Expected display pixels, computed straight from the codec's colour conversion."""
    rgb = yuv_to_rgb(frame, info.pix_fmt, info.color_range, 1)
    return ((rgb + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def wait_shown(qtbot, win: MainWindow, n: int, clips: tuple[int, ...] | None = None) -> None:
    qtbot.waitUntil(
        lambda: win.shown_frame == n and not win.busy and (clips is None or win.shown_clips == clips), timeout=TIMEOUT
    )


def shown_rgb(win: MainWindow, side: str = "right") -> np.ndarray:
    image = win.view.right if side == "right" else win.view.left
    assert image is not None
    return qimage_to_rgb8(image)


def test_opens_with_three_outputs_and_marks(qtbot, window: MainWindow) -> None:
    wait_shown(qtbot, window, 0)
    s = window.session
    assert s is not None and s.kind == "gnvc"
    assert [slot.name for slot in s.slots] == ["source", "decoded", "refined"]
    assert s.available == [SOURCE, DECODED, REFINED]
    assert window.shown_clips == (REFINED,)  # refined is what the codec outputs
    assert window.tabs.count() == 3 and all(window.tabs.isTabEnabled(i) for i in range(3))
    marks = window.timeline.marks
    assert marks.num_frames == 13 and marks.gop_starts == (0, 9)
    assert [b[:2] for b in marks.bars] == [(0, 9), (9, 13)]
    assert marks.bars[0][2] == s.decoder.gop_bytes(0) * 8 / 9
    assert marks.window_starts[0] == 0 and len(marks.window_starts) >= 2
    assert "BT.709 assumed" in window.note_label.text()  # the y4m has no matrix tag
    assert window.open_seconds is not None and window.open_seconds > 0


def test_scrub_shows_decoded_frame_pixels(qtbot, window: MainWindow, gnvc_file: Path, tiny_model) -> None:
    qtbot.keyClick(window, Qt.Key.Key_2)  # decoded (unrefined)
    wait_shown(qtbot, window, 0, (DECODED,))
    for _ in range(5):
        qtbot.keyClick(window, Qt.Key.Key_Right)
    wait_shown(qtbot, window, 5, (DECODED,))
    assert window.frame_box.value() == 5 and window.time_label.text() == "0:00:00.200"
    with Decoder(gnvc_file, tiny_model, device="cpu", refine=False) as independent:
        frame = independent.get_frame(5, refine=False)
        expected = rgb_of(frame, independent.info)
    np.testing.assert_array_equal(shown_rgb(window), expected)
    # and on screen at 1:1: the widget's pixels are the frame's pixels
    window.set_zoom(1.0)
    grabbed = qimage_to_rgb8(window.view.grab().toImage())
    rect = window.view.image_rect()
    x, y = int(rect.x()), int(rect.y())
    np.testing.assert_array_equal(grabbed[y : y + 40, x : x + 96], expected)
    window.set_zoom(FIT)


def test_scrub_into_next_gop_and_back(qtbot, window: MainWindow) -> None:
    window.set_output(DECODED)
    qtbot.keyClick(window, Qt.Key.Key_End)
    wait_shown(qtbot, window, 12, (DECODED,))
    assert window.info.rows["GOP"].startswith("1: frames 9-12")
    qtbot.keyClick(window, Qt.Key.Key_Home)
    wait_shown(qtbot, window, 0, (DECODED,))
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # next GOP
    wait_shown(qtbot, window, 9, (DECODED,))


def test_fast_scrub_ends_on_the_last_request(qtbot, window: MainWindow) -> None:
    window.set_output(DECODED)
    wait_shown(qtbot, window, window.frame, (DECODED,))
    fetcher = window.fetcher
    assert fetcher is not None
    shown: list[int] = []
    window.frameShown.connect(shown.append)
    before = fetcher.requested
    for n in [*range(0, 13), *range(12, -1, -1), *range(0, 8)]:  # a fast drag over the timeline
        window.seek(n)
    wait_shown(qtbot, window, 7, (DECODED,))
    window.frameShown.disconnect(shown.append)
    assert fetcher.requested - before >= 30
    assert shown[-1] == 7 and len(shown) <= fetcher.requested - before
    assert window.frame_box.value() == 7 and window.timeline.frame == 7


def test_compare_keys_switch_outputs(qtbot, window: MainWindow, source_frames: list) -> None:
    window.seek(3)
    images = {}
    for key, slot in ((Qt.Key.Key_1, SOURCE), (Qt.Key.Key_2, DECODED), (Qt.Key.Key_3, REFINED)):
        qtbot.keyClick(window, key)
        wait_shown(qtbot, window, 3, (slot,))
        assert window.tabs.currentIndex() == slot
        images[slot] = shown_rgb(window)
    info = window.session.clip(SOURCE).info
    np.testing.assert_array_equal(images[SOURCE], rgb_of(source_frames[3], info))
    assert not np.array_equal(images[SOURCE], images[DECODED])
    assert not np.array_equal(images[DECODED], images[REFINED])
    rows = window.info.rows
    expected = frame_psnr(window.session.clip(REFINED).get_frame(3), source_frames[3], 8)
    assert rows["PSNR refined"] == f"Y {expected[0]:.2f} dB · YUV {expected[1]:.2f} dB"
    assert "bpp" in rows["Frame bits"] and rows["GOP"].startswith("0: frames 0-8")


def test_split_view_and_divider_drag(qtbot, window: MainWindow, source_frames: list) -> None:
    window.set_output(DECODED)
    window.set_split_left(SOURCE)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert window.split and window.view.split
    wait_shown(qtbot, window, window.frame, (SOURCE, DECODED))
    n = window.frame
    info = window.session.clip(SOURCE).info
    np.testing.assert_array_equal(shown_rgb(window, "left"), rgb_of(source_frames[n], info))
    np.testing.assert_array_equal(shown_rgb(window, "right"), rgb_of(window.session.clip(DECODED).get_frame(n), info))
    assert window.info.rows["Output"] == "source | decoded"

    view = window.view
    window.set_zoom(4.0)
    view.set_split_pos(0.5)
    rect = view.image_rect()
    # drag the divider from the middle to a quarter of the image
    start = QPoint(round(view.divider_x()), round(view.height() / 2))
    end = QPoint(round(rect.x() + rect.width() * 0.25), start.y())
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    assert view.split_pos == pytest.approx(0.25, abs=0.02)
    # left of the divider shows the source, right of it the decoded frame (nearest-neighbour at 4:1)
    grabbed = qimage_to_rgb8(view.grab().toImage())
    left_rgb, right_rgb = shown_rgb(window, "left"), shown_rgb(window, "right")
    row = view.height() // 2
    img_y = int((row - rect.y()) / 4)
    for img_x in range(0, 96):
        wx = int(rect.x() + img_x * 4 + 2)
        if not 0 <= wx < view.width() or abs(wx - view.divider_x()) < 3:
            continue
        want = left_rgb if wx < view.divider_x() else right_rgb
        np.testing.assert_array_equal(grabbed[row, wx], want[img_y, img_x])
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert not window.split
    wait_shown(qtbot, window, n, (DECODED,))
    window.set_zoom(FIT)


def test_zoom_and_pan(qtbot, window: MainWindow) -> None:
    view = window.view
    wait_shown(qtbot, window, window.frame)
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == 4.0 and window.zoom_combo.currentText() == "4:1"
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == 1.0
    view.set_zoom(16.0)  # 1536x640 in a smaller view: can pan
    before = view.image_rect()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(view, QPoint(150, 180))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(150, 180))
    after = view.image_rect()
    assert after.x() == before.x() - 50 and after.y() == before.y() - 20
    assert window.zoom_combo.currentText() == "16:1"
    view.step_zoom(-1, QPointF(100, 100))
    assert view.zoom == 12.0 and window.zoom_combo.currentText() == "12:1"
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == FIT and window.zoom_combo.currentText() == "Fit" and window.zoom_combo.count() == 7


def test_export_range_writes_the_frames(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.set_output(DECODED)
    out = tmp_path / "range.mkv"
    job = window.start_export(ExportSpec(out, 2, 10, ("-c:v", "ffv1")))
    assert job is not None and window.progress_dialog is not None
    with qtbot.waitSignal(job.done, timeout=TIMEOUT) as done:
        pass
    assert done.args[0] is True, done.args[1]
    info, frames = open_video(out)
    got = list(frames)
    assert len(got) == 9 and (info.width, info.height) == (96, 40)
    decoded = window.session.clip(DECODED)
    for i in (0, 8):  # FFV1 is lossless: the very frames of the decoder
        for a, b in zip(got[i], decoded.get_frame(2 + i), strict=True):
            np.testing.assert_array_equal(a, b)
    assert window.progress_dialog is None  # closed when done
    assert not list(tmp_path.glob(".*partial*"))


def test_cancelled_export_leaves_nothing(window: MainWindow, tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mkv"
    job = ExportJob(window.session.clip(DECODED), ExportSpec(out, 0, 12, ("-c:v", "ffv1")))
    results = []
    job.done.connect(lambda ok, msg: results.append((ok, msg)))
    job.cancel()
    job.run()  # synchronously, on this thread
    assert job.cancelled and not out.exists() and list(tmp_path.iterdir()) == []


def test_ffmpeg_failure_shows_message_box(qtbot, window: MainWindow, tmp_path: Path) -> None:
    job = window.start_export(ExportSpec(tmp_path / "bad.mkv", 0, 1, ("-c:v", "no_such_encoder")))
    assert job is not None
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT) as shown:
        pass
    assert "no_such_encoder" in shown.args[0]
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert any("no_such_encoder" in b.text() for b in boxes)
    for box in boxes:
        box.close()
    assert not (tmp_path / "bad.mkv").exists()
    window.seek(1)  # still alive and working
    wait_shown(qtbot, window, 1)


def test_screenshot_png(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PyQt6.QtGui import QImage

    wait_shown(qtbot, window, window.frame)
    out = tmp_path / "view.png"
    assert window.save_screenshot(out)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (window.view.width(), window.view.height())
    assert not list(tmp_path.glob(".*partial*"))


def test_export_dialog_builds_a_spec(window: MainWindow, tmp_path: Path) -> None:
    from gui.export import PRESETS, ExportDialog

    dialog = ExportDialog(window, 13, 2, 9, tmp_path / "x.mkv")
    dialog.preset.setCurrentIndex(1)
    spec = dialog.spec()
    assert spec == ExportSpec(tmp_path / "x.mkv", 2, 9, PRESETS[1][1])
    assert spec.output_args()[-1] == str(tmp_path / "x.mkv") and spec.num_frames == 8
    dialog.args_edit.setText("-c:v 'unterminated")
    with pytest.raises(ValueError, match="cannot be parsed"):
        dialog.spec()
    dialog.path_edit.setText("")
    with pytest.raises(ValueError, match="no output file"):
        dialog.spec()
    dialog.deleteLater()
    with pytest.raises(ValueError, match="empty"):
        ExportSpec(tmp_path / "y.mkv", 5, 4)
