# ruff: noqa: N802, N815 - Qt's camelCase overrides and signal names
"""The picture: one image, or two split by a draggable divider; zoom (fit or fixed) and pan.

Magnified pixels are drawn nearest-neighbour, so coding artefacts stay visible as the blocks they are;
only a reduction below 1:1 is smoothed. The divider lives in image columns, so it stays on the same
pixel column when zooming or panning.
"""

from __future__ import annotations

import logging
import math

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

logger = logging.getLogger(__name__)

FIT = 0.0  # zoom value meaning "fit the window"
ZOOM_STEPS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
_DIVIDER_GRAB_PX = 6
_BACKGROUND = QColor(32, 32, 32)


class FrameView(QWidget):
    """Shows ``left``/``right`` images; in single mode only ``right`` (the current output) is drawn."""

    zoomChanged = pyqtSignal(float)  # FIT or the factor
    splitMoved = pyqtSignal(float)  # divider position as a fraction of the image width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.left: QImage | None = None
        self.right: QImage | None = None
        self.left_label = ""
        self.right_label = ""
        self.split = False
        self.split_pos = 0.5
        self._zoom = FIT
        self._pan = QPointF(0.0, 0.0)
        self._drag: str | None = None  # "divider" | "pan"
        self._drag_origin = QPointF()
        self._pan_origin = QPointF()
        self.busy_text = ""

    # ----------------------------------------------------------------- content

    def set_images(self, right: QImage | None, left: QImage | None = None) -> None:
        self.right = right
        self.left = left
        self.update()

    def set_split(self, on: bool) -> None:
        self.split = on
        self.update()

    def set_split_pos(self, fraction: float) -> None:
        self.split_pos = min(1.0, max(0.0, fraction))
        self.splitMoved.emit(self.split_pos)
        self.update()

    def set_labels(self, right: str, left: str = "") -> None:
        self.right_label, self.left_label = right, left
        self.update()

    def set_busy(self, text: str) -> None:
        if text != self.busy_text:
            self.busy_text = text
            self.update()

    # ----------------------------------------------------------------- zoom / pan

    @property
    def zoom(self) -> float:
        return self._zoom

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """``FIT`` or a factor; ``anchor`` (widget coordinates) keeps the image point under it in place."""
        old_scale = self.scale()
        if zoom == FIT:
            self._pan = QPointF(0.0, 0.0)
        elif anchor is not None and old_scale > 0:
            # point p maps to centre + pan + (p_img - img_centre) * s; keep it fixed while s changes
            centre = QPointF(self.width() / 2, self.height() / 2)
            rel = anchor - centre - self._pan
            self._pan = anchor - centre - rel * (zoom / old_scale)
        self._zoom = zoom
        self._clamp_pan()
        self.zoomChanged.emit(zoom)
        self.update()

    def step_zoom(self, direction: int, anchor: QPointF | None = None) -> None:
        current = self.scale()
        if direction > 0:
            nxt = next((z for z in ZOOM_STEPS if z > current * 1.001), ZOOM_STEPS[-1])
        else:
            nxt = next((z for z in reversed(ZOOM_STEPS) if z < current * 0.999), ZOOM_STEPS[0])
        self.set_zoom(nxt, anchor)

    def image_size(self) -> tuple[int, int]:
        img = self.right or self.left
        return (img.width(), img.height()) if img is not None else (0, 0)

    def scale(self) -> float:
        """Widget pixels per image pixel."""
        w, h = self.image_size()
        if not w or not h:
            return 1.0
        if self._zoom == FIT:
            return max(1e-3, min(self.width() / w, self.height() / h))
        return self._zoom

    def image_rect(self) -> QRectF:
        """Where the image lands in widget coordinates."""
        w, h = self.image_size()
        s = self.scale()
        x = (self.width() - w * s) / 2 + self._pan.x()
        y = (self.height() - h * s) / 2 + self._pan.y()
        if self._zoom != FIT or s >= 1.0:
            # whole widget pixels per image pixel edge: no seams or uneven pixels when magnified
            x, y = math.floor(x), math.floor(y)
        return QRectF(x, y, w * s, h * s)

    def _clamp_pan(self) -> None:
        w, h = self.image_size()
        s = self.scale()
        max_x = max(0.0, (w * s - self.width()) / 2)
        max_y = max(0.0, (h * s - self.height()) / 2)
        self._pan = QPointF(min(max_x, max(-max_x, self._pan.x())), min(max_y, max(-max_y, self._pan.y())))

    def pan_by(self, dx: float, dy: float) -> None:
        self._pan += QPointF(dx, dy)
        self._clamp_pan()
        self.update()

    def divider_x(self) -> float:
        r = self.image_rect()
        return r.x() + r.width() * self.split_pos

    # ----------------------------------------------------------------- painting

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), _BACKGROUND)
        target = self.image_rect()
        if self.right is not None or self.left is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 1.0)
            if self.split and self.left is not None and self.right is not None:
                cut = self.divider_x()
                p.save()
                p.setClipRect(QRectF(0, 0, cut, self.height()))
                p.drawImage(target, self.left, QRectF(self.left.rect()))
                p.setClipRect(QRectF(cut, 0, self.width() - cut, self.height()))
                p.drawImage(target, self.right, QRectF(self.right.rect()))
                p.restore()
                p.setPen(QPen(QColor(255, 255, 255, 200), 1))
                p.drawLine(QPointF(cut, target.top()), QPointF(cut, target.bottom()))
                label_y = max(4.0, target.top() + 4)
                self._draw_label(p, self.left_label, QPointF(max(4.0, target.left() + 4), label_y), left=True)
                right_x = min(self.width() - 4.0, target.right() - 4)
                self._draw_label(p, self.right_label, QPointF(right_x, label_y), left=False)
            else:
                img = self.right or self.left
                assert img is not None
                p.drawImage(target, img, QRectF(img.rect()))
        if self.busy_text:
            self._draw_label(p, self.busy_text, QPointF(8, self.height() - 28), left=True)
        p.end()

    def _draw_label(self, p: QPainter, text: str, at: QPointF, left: bool) -> None:
        if not text:
            return
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        p.setFont(font)
        metrics = p.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 10, metrics.height() + 4
        x = at.x() if left else at.x() - w
        box = QRectF(x, at.y(), w, h)
        p.fillRect(box, QColor(0, 0, 0, 160))
        p.setPen(QColor(235, 235, 235))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # ----------------------------------------------------------------- mouse

    def _near_divider(self, x: float) -> bool:
        return self.split and abs(x - self.divider_x()) <= _DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        assert event is not None
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position()
        self._drag = "divider" if self._near_divider(pos.x()) else "pan"
        self._drag_origin = pos
        self._pan_origin = QPointF(self._pan)
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        assert event is not None
        pos = event.position()
        if self._drag == "divider":
            r = self.image_rect()
            if r.width() > 0:
                self.set_split_pos((pos.x() - r.x()) / r.width())
        elif self._drag == "pan":
            self._pan = self._pan_origin + (pos - self._drag_origin)
            self._clamp_pan()
            self.update()
        else:
            shape = Qt.CursorShape.SplitHCursor if self._near_divider(pos.x()) else Qt.CursorShape.ArrowCursor
            self.setCursor(shape)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        self._drag = None
        self.setCursor(Qt.CursorShape.ArrowCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent | None) -> None:
        assert event is not None
        self.set_zoom(1.0 if self._zoom == FIT else FIT, event.position())

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        assert event is not None
        delta = event.angleDelta().y()
        if delta:
            self.step_zoom(1 if delta > 0 else -1, event.position())

    def resizeEvent(self, event: object) -> None:
        self._clamp_pan()
        super().resizeEvent(event)  # type: ignore[arg-type]
