"""Timeline geometry, seeking by mouse, and timecodes."""

from __future__ import annotations

from fractions import Fraction

from PyQt6.QtCore import QPoint, Qt

from gui.timeline import Timeline, TimelineMarks, format_timecode


def test_timecode() -> None:
    assert format_timecode(0, Fraction(25)) == "0:00:00.000"
    assert format_timecode(26, Fraction(25)) == "0:00:01.040"
    assert format_timecode(90_000, Fraction(25)) == "1:00:00.000"
    assert format_timecode(1001, Fraction(30000, 1001)) == "0:00:33.400"


def test_click_and_drag_seek(qtbot) -> None:
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(416, 60)
    tl.set_marks(TimelineMarks(100, gop_starts=(0, 25, 50, 75), cuts=(50,), bars=((0, 25, 900.0), (25, 50, 300.0))))
    tl.show()
    seen: list[int] = []
    tl.seekRequested.connect(seen.append)
    x = round(tl.x_of(40) + 1)
    qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=QPoint(x, 30))
    qtbot.mouseMove(tl, QPoint(round(tl.x_of(90) + 1), 30))
    qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=QPoint(round(tl.x_of(90) + 1), 30))
    assert seen[0] == 40 and seen[-1] == 90
    assert tl.frame_at(-50) == 0 and tl.frame_at(10_000) == 99
    assert "scene cut" in tl._tooltip(50) and "kbit/frame" in tl._tooltip(3)
    image = tl.grab().toImage()  # paints without error, bars drawn in their colour
    assert image.width() == 416
