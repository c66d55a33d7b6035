# ruff: noqa: N802, N815 - Qt's camelCase overrides and signal names
"""The timeline: a scrub bar with GOP and refinement-window boundaries, scene cuts and bits per GOP.

::

    ▁▃█▅▂▃▁▆        bits per frame of each GOP (bar width = the GOP's frames)
    |   ¦  |  ▼ |   GOP starts (|), window starts (¦), scene cuts (▼, red)
    ━━━━━━●━━━━━    track, in/out range, cursor

Click or drag to seek; the window turns each position into a frame request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PyQt6.QtWidgets import QSizePolicy, QWidget

logger = logging.getLogger(__name__)

_MARGIN = 8
_GRAPH_H = 22
_TRACK_H = 6


def format_timecode(n: int, fps: Fraction) -> str:
    """Frame ``n`` at ``fps`` as ``H:MM:SS.mmm``."""
    ms = int(n * 1000 / fps) if fps > 0 else 0
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"


@dataclass(frozen=True)
class TimelineMarks:
    """What to draw besides the cursor; all positions are frame numbers."""

    num_frames: int
    gop_starts: tuple[int, ...] = ()
    cuts: tuple[int, ...] = ()
    window_starts: tuple[int, ...] = ()
    # (first frame, stop frame, bits per frame of that span)
    bars: tuple[tuple[int, int, float], ...] = field(default_factory=tuple)


class Timeline(QWidget):
    seekRequested = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.marks = TimelineMarks(1)
        self.frame = 0
        self.range: tuple[int, int] | None = None  # in/out, inclusive
        self.setMinimumHeight(_GRAPH_H + _TRACK_H + 26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._dragging = False

    def set_marks(self, marks: TimelineMarks) -> None:
        self.marks = marks
        self.frame = min(self.frame, max(0, marks.num_frames - 1))
        self.range = None
        self.update()

    def set_frame(self, n: int) -> None:
        if n != self.frame:
            self.frame = n
            self.update()

    def set_range(self, rng: tuple[int, int] | None) -> None:
        self.range = rng
        self.update()

    # ----------------------------------------------------------------- geometry

    def _span(self) -> tuple[float, float]:
        return _MARGIN, max(1.0, self.width() - 2 * _MARGIN)

    def x_of(self, n: float) -> float:
        """Left edge of frame ``n``'s cell (``n`` may be ``num_frames`` for the right end)."""
        x0, w = self._span()
        return x0 + w * n / max(1, self.marks.num_frames)

    def frame_at(self, x: float) -> int:
        x0, w = self._span()
        n = int((x - x0) / w * self.marks.num_frames)
        return min(max(0, n), max(0, self.marks.num_frames - 1))

    # ----------------------------------------------------------------- painting

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        top = 4.0
        track_y = top + _GRAPH_H + 6
        self._paint_bars(p, top)
        x0, w = self._span()
        p.fillRect(QRectF(x0, track_y, w, _TRACK_H), QColor(90, 90, 90))
        if self.range is not None:
            a, b = self.range
            band = QRectF(self.x_of(a), track_y - 2, self.x_of(b + 1) - self.x_of(a), _TRACK_H + 4)
            p.fillRect(band, QColor(70, 140, 220, 150))
        p.setPen(QPen(QColor(200, 200, 200), 1))
        for n in self.marks.gop_starts:
            x = round(self.x_of(n)) + 0.5
            p.drawLine(QPointF(x, top), QPointF(x, track_y + _TRACK_H + 3))
        p.setPen(QPen(QColor(120, 200, 120), 1, Qt.PenStyle.DashLine))
        for n in self.marks.window_starts:
            x = round(self.x_of(n)) + 0.5
            p.drawLine(QPointF(x, track_y - 3), QPointF(x, track_y + _TRACK_H + 6))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(230, 60, 50))
        for n in self.marks.cuts:
            x = self.x_of(n)
            p.drawPolygon(QPolygonF([QPointF(x - 5, top), QPointF(x + 5, top), QPointF(x, top + 8)]))
        # cursor: a line over the whole height and a handle on the track
        cx = self.x_of(self.frame + 0.5)
        p.setPen(QPen(QColor(255, 210, 60), 2))
        p.drawLine(QPointF(cx, top), QPointF(cx, track_y + _TRACK_H + 6))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(255, 210, 60))
        p.drawEllipse(QPointF(cx, track_y + _TRACK_H / 2), 6, 6)
        p.end()

    def _paint_bars(self, p: QPainter, top: float) -> None:
        bars = self.marks.bars
        if not bars:
            return
        peak = max(v for _, _, v in bars) or 1.0
        for start, stop, value in bars:
            h = max(1.0, _GRAPH_H * value / peak)
            x, x1 = self.x_of(start), self.x_of(stop)
            p.fillRect(QRectF(x + 0.5, top + _GRAPH_H - h, max(1.0, x1 - x - 1), h), QColor(90, 150, 230, 200))

    # ----------------------------------------------------------------- mouse

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        assert event is not None
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.seekRequested.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        assert event is not None
        n = self.frame_at(event.position().x())
        if self._dragging:
            self.seekRequested.emit(n)
        self.setToolTip(self._tooltip(n))

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        self._dragging = False

    def _tooltip(self, n: int) -> str:
        text = f"frame {n}"
        for start, stop, value in self.marks.bars:
            if start <= n < stop:
                text += f" · GOP frames {start}-{stop - 1}: {value / 1000:.2f} kbit/frame"
                break
        if n in self.marks.cuts:
            text += " · scene cut"
        return text
