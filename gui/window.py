# ruff: noqa: N802, N815 - Qt's camelCase overrides and signal names
"""The main window: outputs as tabs, the frame view, the timeline, the info panel, playback and export.

Keys (as in VSPreview where it has one): Left/Right step a frame, Shift+Left/Right jump a GOP (or a second),
Home/End, Space play/pause, 1-9 select an output (``.gnvc``: 1 source, 2 decoded, 3 refined), S split view,
I/O set the export range, Ctrl+0 fit, Ctrl+1/2/4 zoom 1:1/2:1/4:1, +/- zoom, Ctrl+O open, Ctrl+E export,
Ctrl+S save a screenshot of the view, Ctrl+Shift+S save the current frame at full size.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PyQt6.QtCore import QElapsedTimer, QMimeData, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QStatusBar,
    QTabBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .convert import rgb8_to_qimage
from .errors import describe_error, show_message
from .export import PRESETS, ExportDialog, ExportJob, ExportSpec
from .fetcher import FrameFetcher, FrameRequest, FrameResult
from .info_panel import InfoPanel
from .opener import OpenJob
from .session import OpenOptions, Session
from .timeline import Timeline, TimelineMarks, format_timecode
from .view import FIT, FrameView

logger = logging.getLogger(__name__)

ZOOM_PRESETS = (("Fit", FIT), ("25%", 0.25), ("50%", 0.5), ("1:1", 1.0), ("2:1", 2.0), ("4:1", 4.0), ("8:1", 8.0))
OPEN_FILTER = "Video (*.gnvc *.vpy *.py *.mp4 *.mkv *.mov *.webm *.avi *.y4m *.ts *.m2ts);;All files (*)"


def _marks(session: Session) -> TimelineMarks:
    stats = session.stats
    if stats is None:
        return TimelineMarks(session.num_frames)
    bars = tuple((s.start, s.stop, stats.gop_bytes[k] * 8 / len(s)) for k, s in enumerate(stats.spans))
    return TimelineMarks(
        session.num_frames, tuple(stats.gop_starts), tuple(stats.cuts), tuple(stats.window_starts), bars
    )


def _write_png(image: QImage, path: Path) -> None:
    """Save as PNG under a temporary name, then rename into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.png")
    if not image.save(str(tmp), "PNG"):
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}")
    os.replace(tmp, path)


class MainWindow(QMainWindow):
    """The previewer. Everything slow runs on worker threads; this object only ever waits for signals."""

    sessionOpened = pyqtSignal(object)  # Session
    frameShown = pyqtSignal(int)  # frame number now on screen
    errorShown = pyqtSignal(str)

    def __init__(self, options: OpenOptions = OpenOptions(), workers: int = 2) -> None:
        super().__init__()
        self.options = options
        self.workers = workers
        self.session: Session | None = None
        self.fetcher: FrameFetcher | None = None
        self._retired: list[FrameFetcher] = []
        self._open_job: OpenJob | None = None
        self._jobs: set[OpenJob] = set()
        self._open_started = 0.0
        self.open_seconds: float | None = None  # open() -> first frame on screen, for the benchmark
        self.frame = 0  # the frame the user asked for
        self.shown_frame: int | None = None
        self.shown_clips: tuple[int, ...] = ()
        self._shown_serial = 0
        self._last_error = ""
        self.split = False
        self.in_out: tuple[int, int] | None = None
        self.export_job: ExportJob | None = None
        self.progress_dialog: QProgressDialog | None = None
        self._play_timer = QTimer(self)
        self._play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._play_timer.timeout.connect(self._play_tick)
        self._play_clock = QElapsedTimer()
        self._play_from = 0
        self.setWindowTitle("gnvc-preview")
        self.setAcceptDrops(True)
        self.status = QStatusBar(self)
        self.setStatusBar(self.status)
        self._build_ui()
        self._build_actions()
        self.resize(1100, 700)
        self._refresh_controls()

    # ================================================================= UI

    def _build_ui(self) -> None:
        self.view = FrameView(self)
        self.view.zoomChanged.connect(self._zoom_changed)
        self.timeline = Timeline(self)
        self.timeline.seekRequested.connect(self.seek)
        self.play_button = QPushButton("▶")
        self.play_button.setFixedWidth(36)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.frame_box = QSpinBox()
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.valueChanged.connect(self.seek)
        self.total_label = QLabel("/ 0")
        self.time_label = QLabel(format_timecode(0, 1))  # type: ignore[arg-type]
        self.time_label.setMinimumWidth(90)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(False)
        self.note_label = QLabel()
        self.note_label.setStyleSheet("color: #e0a000; font-weight: bold")
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.frame_box)
        row.addWidget(self.total_label)
        row.addWidget(self.time_label)
        row.addStretch(1)
        row.addWidget(self.note_label)
        row.addWidget(self.busy_bar)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        layout.addLayout(row)
        self.setCentralWidget(central)

        self.tabs = QTabBar(self)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.split_box = QCheckBox("Split")
        self.split_box.setToolTip("Split view: left output | current output (S); drag the divider")
        self.split_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.split_box.toggled.connect(self.set_split)
        self.left_combo = QComboBox()
        self.left_combo.setToolTip("Output shown left of the divider")
        self.left_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.left_combo.activated.connect(self._left_changed)
        self.zoom_combo = QComboBox()
        self.zoom_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for label, value in ZOOM_PRESETS:
            self.zoom_combo.addItem(label, value)
        self.zoom_combo.activated.connect(lambda i: self.set_zoom(self.zoom_combo.itemData(i)))
        bar = QToolBar("Main", self)
        bar.setMovable(False)
        self.addToolBar(bar)
        self._toolbar = bar
        bar.addWidget(self.tabs)
        bar.addSeparator()
        bar.addWidget(self.split_box)
        bar.addWidget(QLabel(" left: "))
        bar.addWidget(self.left_combo)
        bar.addSeparator()
        bar.addWidget(QLabel(" zoom: "))
        bar.addWidget(self.zoom_combo)

        self.info = InfoPanel(self)
        self.info.clear()
        dock = QDockWidget("Frame info", self)
        dock.setObjectName("info-dock")
        dock.setWidget(self.info)
        features = QDockWidget.DockWidgetFeature
        dock.setFeatures(features.DockWidgetMovable | features.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.info_dock = dock

    def _action(self, text: str, keys: list[str] | str, slot: object, toolbar: bool = False) -> QAction:
        action = QAction(text, self)
        seqs = [QKeySequence(k) for k in ([keys] if isinstance(keys, str) else keys)]
        action.setShortcuts(seqs)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        self.addAction(action)
        if toolbar:
            self._toolbar.addAction(action)
        return action

    def _build_actions(self) -> None:
        self._action("Open…", "Ctrl+O", self.choose_file, toolbar=True)
        self._action("Export…", "Ctrl+E", self.choose_export, toolbar=True)
        self._action("Screenshot…", "Ctrl+S", self.choose_screenshot, toolbar=True)
        self._action("Save frame…", "Ctrl+Shift+S", self.choose_frame_png)
        self._action("Close", "Ctrl+W", self.close_session)
        self._action("Quit", "Ctrl+Q", self.close)
        self._action("Previous frame", "Left", lambda: self.step(-1))
        self._action("Next frame", "Right", lambda: self.step(1))
        self._action("Previous GOP", "Shift+Left", lambda: self.jump(-1))
        self._action("Next GOP", "Shift+Right", lambda: self.jump(1))
        self._action("First frame", "Home", lambda: self.seek(0))
        self._action("Last frame", "End", lambda: self.seek(self.num_frames - 1))
        self._action("Play", "Space", self.toggle_play)
        self._action("Split", "S", lambda: self.set_split(not self.split))
        self._action("Range in", "I", lambda: self.set_in_out(start=self.frame))
        self._action("Range out", "O", lambda: self.set_in_out(stop=self.frame))
        self._action("Fit", "Ctrl+0", lambda: self.set_zoom(FIT))
        self._action("1:1", "Ctrl+1", lambda: self.set_zoom(1.0))
        self._action("2:1", "Ctrl+2", lambda: self.set_zoom(2.0))
        self._action("4:1", "Ctrl+4", lambda: self.set_zoom(4.0))
        self._action("Zoom in", ["+", "="], lambda: self.view.step_zoom(1))
        self._action("Zoom out", "-", lambda: self.view.step_zoom(-1))
        for i in range(9):
            self._action(f"Output {i + 1}", str(i + 1), lambda _=False, i=i: self.set_output(i))

    def _refresh_controls(self) -> None:
        s = self.session
        n_total = self.num_frames
        self.frame_box.blockSignals(True)
        self.frame_box.setRange(0, max(0, n_total - 1))
        self.frame_box.setValue(self.frame)
        self.frame_box.blockSignals(False)
        self.total_label.setText(f"/ {max(0, n_total - 1)}")
        self.time_label.setText(format_timecode(self.frame, s.fps) if s is not None else "")
        self.timeline.set_frame(self.frame)
        self.play_button.setText("⏸" if self._play_timer.isActive() else "▶")
        notes = s.notes(s.current) if s is not None else []
        self.note_label.setText(" · ".join(notes))
        title = f"{s.path.name} — gnvc-preview" if s is not None else "gnvc-preview"
        self.setWindowTitle(title)

    # ================================================================= opening

    @property
    def num_frames(self) -> int:
        return self.session.num_frames if self.session is not None else 0

    @property
    def busy(self) -> bool:
        """A file is opening, or the frame on screen is older than the newest request."""
        if self._open_job is not None:
            return True
        return self.fetcher is not None and self.fetcher.latest_serial > self._shown_serial

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open", "", OPEN_FILTER)
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path | str, source: Path | str | None = None) -> None:
        """Start opening ``path`` (``source``: the original, for a ``.gnvc``); the result arrives by signal."""
        options = self.options
        if source is not None:
            from dataclasses import replace

            options = replace(options, source=Path(source))
        job = OpenJob(Path(path), options)
        job.opened.connect(lambda session, job=job: self._opened(job, session))
        job.failed.connect(lambda message, job=job: self._open_failed(job, message))
        self._jobs.add(job)  # a running QThread must keep a Python reference, even once superseded
        job.finished.connect(lambda job=job: self._jobs.discard(job))
        if self._open_job is not None:
            logger.info("opening %s instead of %s", path, self._open_job.path)
        self._open_job = job
        self._open_started = time.perf_counter()
        self.open_seconds = None
        self.status.showMessage(f"opening {Path(path).name}…")
        self._update_busy()
        self.view.set_busy(f"opening {Path(path).name}…")
        job.start()

    def _opened(self, job: OpenJob, session: Session) -> None:
        if job is not self._open_job:  # superseded by a later open
            session.close()
            return
        self._open_job = None
        self.close_session()
        self.session = session
        self.fetcher = FrameFetcher(session.render, self.workers)
        self.fetcher.ready.connect(self._frame_ready)
        self.fetcher.failed.connect(self._frame_failed)
        self.frame = 0
        self.in_out = None
        self._last_error = ""
        self._populate_outputs()
        self.timeline.set_marks(_marks(session))
        self.status.showMessage(f"{session.path} · {session.num_frames} frames", 8000)
        self.sessionOpened.emit(session)
        if session.warnings:
            self.report_error("Some outputs are not available", "\n".join(session.warnings), QMessageBox.Icon.Warning)
        self._refresh_controls()
        self.request_frame()

    def _open_failed(self, job: OpenJob, message: str) -> None:
        if job is not self._open_job:
            return
        self._open_job = None
        self.view.set_busy("")
        self._update_busy()
        self.status.clearMessage()
        self.report_error("Cannot open file", message)

    def _populate_outputs(self) -> None:
        s = self.session
        assert s is not None
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        for i, slot in enumerate(s.slots):
            self.tabs.addTab(f"{i + 1}: {slot.name}" if i < 9 else slot.name)
            self.tabs.setTabEnabled(i, slot.clip is not None)
            self.tabs.setTabToolTip(i, slot.reason or f"key {i + 1}")
        self.tabs.setCurrentIndex(s.current)
        self.tabs.blockSignals(False)
        self.left_combo.clear()
        for i in s.available:
            self.left_combo.addItem(s.slots[i].name, i)
        self.left_combo.setCurrentIndex(max(0, self.left_combo.findData(s.split_left)))

    def close_session(self) -> None:
        """Forget the open file; its decoder is closed once running decodes have ended (off the GUI thread)."""
        self.stop_play()
        session, fetcher = self.session, self.fetcher
        self.session, self.fetcher = None, None
        if fetcher is not None:
            fetcher.ready.disconnect()
            fetcher.failed.disconnect()
            fetcher.stop(then=session.close if session is not None else None)
            self._retired.append(fetcher)
        elif session is not None:
            session.close()
        self._retired = [f for f in self._retired if f.running()]
        self.shown_frame = None
        self.shown_clips = ()
        self._shown_serial = 0
        self.view.set_images(None)
        self.view.set_busy("")
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        self.tabs.blockSignals(False)
        self.left_combo.clear()
        self.timeline.set_marks(TimelineMarks(1))
        self.info.clear()
        self._update_busy()
        self._refresh_controls()

    # ================================================================= navigation

    def seek(self, n: int) -> None:
        if self.session is None:
            return
        n = min(max(0, int(n)), self.num_frames - 1)
        if self.playing:  # playback goes on from where the user put it
            self._play_from = n
            self._play_clock.restart()
        if n == self.frame and self.shown_frame == n and self.shown_clips == self._wanted_clips():
            return
        self.frame = n
        self._refresh_controls()
        self.request_frame()

    def step(self, delta: int) -> None:
        self.stop_play()
        self.seek(self.frame + delta)

    def jump(self, direction: int) -> None:
        """To the previous/next GOP start (``.gnvc``), else one second."""
        self.stop_play()
        s = self.session
        if s is None:
            return
        if s.stats is not None:
            starts = s.stats.gop_starts
            if direction > 0:
                target = next((g for g in starts if g > self.frame), self.num_frames - 1)
            else:
                target = next((g for g in reversed(starts) if g < self.frame), 0)
        else:
            target = self.frame + direction * max(1, round(float(s.fps)))
        self.seek(target)

    def set_output(self, i: int) -> None:
        s = self.session
        if s is None or not 0 <= i < len(s.slots):
            return
        if s.slots[i].clip is None:
            self.status.showMessage(f"{s.slots[i].name}: {s.slots[i].reason}", 6000)
            return
        s.current = i
        self.tabs.blockSignals(True)
        self.tabs.setCurrentIndex(i)
        self.tabs.blockSignals(False)
        self.frame = min(self.frame, self.num_frames - 1)
        self._refresh_controls()
        self.request_frame()

    def _tab_changed(self, i: int) -> None:
        self.set_output(i)

    def set_split(self, on: bool) -> None:
        self.split = bool(on) and self.session is not None
        self.split_box.blockSignals(True)
        self.split_box.setChecked(self.split)
        self.split_box.blockSignals(False)
        self.view.set_split(self.split)
        self.request_frame()

    def set_split_left(self, i: int) -> None:
        if self.session is None or i not in self.session.available:
            return
        self.session.split_left = i
        self.left_combo.setCurrentIndex(max(0, self.left_combo.findData(i)))
        if self.split:
            self.request_frame()

    def _left_changed(self, index: int) -> None:
        data = self.left_combo.itemData(index)
        if data is not None:
            self.set_split_left(int(data))

    def set_zoom(self, zoom: float) -> None:
        self.view.set_zoom(float(zoom))

    def _zoom_changed(self, zoom: float) -> None:
        index = next((i for i, (_, v) in enumerate(ZOOM_PRESETS) if abs(v - zoom) < 1e-6), -1)
        custom = len(ZOOM_PRESETS)  # one extra item shows a zoom reached with the wheel or +/-
        if index < 0:
            text = f"{zoom:g}:1" if zoom >= 1 else f"{zoom * 100:.0f}%"
            if self.zoom_combo.count() == custom:
                self.zoom_combo.addItem(text, zoom)
            self.zoom_combo.setItemText(custom, text)
            self.zoom_combo.setItemData(custom, zoom)
            index = custom
        elif self.zoom_combo.count() > custom:
            self.zoom_combo.removeItem(custom)
        self.zoom_combo.setCurrentIndex(index)

    def set_in_out(self, start: int | None = None, stop: int | None = None) -> None:
        if self.session is None:
            return
        a, b = self.in_out or (0, self.num_frames - 1)
        a = a if start is None else start
        b = b if stop is None else stop
        self.in_out = (min(a, b), max(a, b))
        self.timeline.set_range(self.in_out)
        self.status.showMessage(f"range {self.in_out[0]}-{self.in_out[1]}", 4000)

    # ================================================================= playback

    def toggle_play(self) -> None:
        if self._play_timer.isActive():
            self.stop_play()
        elif self.session is not None:
            if self.frame >= self.num_frames - 1:
                self.seek(0)
            self._play_from = self.frame
            self._play_clock.start()
            fps = float(self.session.fps)
            self._play_timer.start(max(4, int(500 / fps)))  # tick at twice the frame rate
            self._refresh_controls()

    def stop_play(self) -> None:
        if self._play_timer.isActive():
            self._play_timer.stop()
            self._refresh_controls()

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def _play_tick(self) -> None:
        """Show the frame the clock says; frames the decoder could not deliver in time are skipped."""
        if self.session is None:
            self.stop_play()
            return
        target = self._play_from + int(self._play_clock.elapsed() / 1000 * float(self.session.fps))
        if target >= self.num_frames - 1:
            target = self.num_frames - 1
            self.stop_play()
        if target != self.frame:
            self.frame = target
            self._refresh_controls()
            self.request_frame()

    # ================================================================= frames

    def _wanted_clips(self) -> tuple[int, ...]:
        s = self.session
        if s is None:
            return ()
        if self.split and s.split_left in s.available:
            return (s.split_left, s.current)
        return (s.current,)

    def request_frame(self) -> FrameRequest | None:
        if self.session is None or self.fetcher is None:
            return None
        req = self.fetcher.request(self.frame, self._wanted_clips())
        self._update_busy()
        return req

    def _frame_ready(self, result: FrameResult) -> None:
        req = result.request
        if req.serial <= self._shown_serial or self.session is None:
            return  # an older request finished after a newer one was shown
        self._shown_serial = req.serial
        s = self.session
        images = {i: rgb8_to_qimage(a) for i, a in result.images.items()}
        right = images[req.clips[-1]]
        left = images[req.clips[0]] if len(req.clips) > 1 else None
        self.view.set_images(right, left)
        self.view.set_labels(s.slots[req.clips[-1]].name, s.slots[req.clips[0]].name if left is not None else "")
        self.shown_frame = req.n
        self.shown_clips = req.clips
        self.info.show_frame(s, req.clips, result.stats, result.seconds)
        self._update_busy()
        if self.open_seconds is None:
            self.open_seconds = time.perf_counter() - self._open_started
        self.frameShown.emit(req.n)

    def _frame_failed(self, req: FrameRequest, message: str) -> None:
        if req.serial < self._shown_serial:
            return
        self._shown_serial = req.serial
        self.stop_play()
        self._update_busy()
        text = f"frame {req.n}: {message}"
        if text != self._last_error:  # one box per problem, not one per frame of a playback
            self._last_error = text
            self.report_error("Cannot show frame", text)

    def _update_busy(self) -> None:
        busy = self.busy
        self.busy_bar.setVisible(busy)
        if self._open_job is None:
            self.view.set_busy(f"decoding frame {self.frame}…" if busy else "")

    # ================================================================= output files

    def choose_screenshot(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "screenshot.png", "PNG (*.png)")
        if name:
            self.save_screenshot(Path(name))

    def save_screenshot(self, path: Path) -> bool:
        """The view as it is on screen (zoom, split, labels) as PNG."""
        try:
            _write_png(self.view.grab().toImage(), path)
        except OSError as exc:
            self.report_error("Cannot save screenshot", describe_error(exc))
            return False
        self.status.showMessage(f"saved {path}", 5000)
        return True

    def choose_frame_png(self) -> None:
        if self.view.right is None:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Save frame", f"frame{self.shown_frame:06d}.png", "PNG (*.png)")
        if name:
            try:
                _write_png(self.view.right, Path(name))
            except OSError as exc:
                self.report_error("Cannot save frame", describe_error(exc))

    def choose_export(self) -> None:
        s = self.session
        if s is None:
            return
        start, stop = self.in_out or (0, self.num_frames - 1)
        suggested = s.path.with_name(f"{s.path.stem}.{s.slots[s.current].name.replace(' ', '_')}{PRESETS[0][2]}")
        dialog = ExportDialog(self, s.clip(s.current).num_frames, start, stop, suggested)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def accepted() -> None:
            try:
                spec = dialog.spec()
            except ValueError as exc:
                self.report_error("Cannot export", str(exc))
                return
            self.start_export(spec)

        dialog.accepted.connect(accepted)
        dialog.open()

    def start_export(self, spec: ExportSpec) -> ExportJob | None:
        """Export frames of the current output; a cancelable progress dialog follows it."""
        s = self.session
        if s is None:
            return None
        if self.export_job is not None and self.export_job.isRunning():
            self.report_error("Cannot export", "an export is already running")
            return None
        try:
            job = ExportJob(s.clip(s.current), spec)
        except ValueError as exc:
            self.report_error("Cannot export", str(exc))
            return None
        dialog = QProgressDialog(f"Exporting to {spec.output.name}…", "Cancel", 0, spec.num_frames, self)
        dialog.setWindowTitle("Export")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)
        job.progress.connect(lambda done, total: dialog.setValue(done))
        job.done.connect(lambda ok, message: self._export_done(job, dialog, ok, message))
        self.export_job = job
        self.progress_dialog = dialog
        dialog.show()
        job.start()
        return job

    def _export_done(self, job: ExportJob, dialog: QProgressDialog, ok: bool, message: str) -> None:
        dialog.close()
        dialog.deleteLater()
        self.progress_dialog = None
        if ok or job.cancelled:
            self.status.showMessage(message, 8000)
        else:
            self.report_error("Export failed", message)

    # ================================================================= errors, drops, closing

    def report_error(self, title: str, message: str, icon: QMessageBox.Icon = QMessageBox.Icon.Critical) -> QMessageBox:
        """Show ``message`` in a non-blocking message box (the app keeps running)."""
        logger.warning("%s: %s", title, message)
        box = show_message(self, title, message, icon)
        self.errorShown.emit(message)
        return box

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        assert event is not None
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent | None) -> None:
        assert event is not None
        path = self._dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_path(path)

    @staticmethod
    def _dropped_path(mime: QMimeData | None) -> Path | None:
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return Path(url.toLocalFile())
        return None

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self.stop_play()
        if self.export_job is not None and self.export_job.isRunning():
            self.export_job.cancel()
            self.export_job.wait()
        self.hide()  # gone at once for the user, while running decodes are waited for below
        self.close_session()
        self._open_job = None
        for job in list(self._jobs):
            job.wait()
        for fetcher in self._retired:
            fetcher.wait()
        self._retired.clear()
        super().closeEvent(event)
