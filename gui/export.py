"""Export a frame range of the current output through ``ffmpeg_bridge.FfmpegSink``.

The frames go to ffmpeg in the clip's own YUV format (not the RGB shown on screen), with its colour tags.
The job runs on a QThread and reports progress by signals; cancelling aborts ffmpeg, and the sink's
temporary output is deleted, so a cancelled or failed export leaves no file behind.
"""

from __future__ import annotations

import logging
import shlex
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ffmpeg_bridge import FfmpegSink

from .clips import Clip
from .errors import describe_error

logger = logging.getLogger(__name__)

# (label, ffmpeg output options, preferred extension)
PRESETS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("H.264 (x264, CRF 16)", ("-c:v", "libx264", "-preset", "medium", "-crf", "16"), ".mkv"),
    ("FFV1 lossless", ("-c:v", "ffv1", "-level", "3"), ".mkv"),
    ("Y4M raw", ("-f", "yuv4mpegpipe", "-strict", "-1"), ".y4m"),
)


@dataclass(frozen=True)
class ExportSpec:
    """Frames ``start..stop`` (inclusive) of one clip to ``output`` with ffmpeg options ``args``."""

    output: Path
    start: int
    stop: int
    args: tuple[str, ...] = PRESETS[0][1]
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.start < 0 or self.stop < self.start:
            raise ValueError(f"export range {self.start}..{self.stop} is empty or negative")

    @property
    def num_frames(self) -> int:
        return self.stop - self.start + 1

    def output_args(self) -> list[str]:
        return [*self.args, *(["-y"] if self.overwrite else []), str(self.output)]


class ExportCancelledError(Exception):
    pass


class ExportJob(QThread):
    """Writes ``spec`` from ``clip``; emits ``progress(done, total)`` then ``done(ok, message)``."""

    progress = pyqtSignal(int, int)
    done = pyqtSignal(bool, str)

    def __init__(self, clip: Clip, spec: ExportSpec) -> None:
        super().__init__()
        if spec.stop >= clip.num_frames:
            raise ValueError(f"export range ends at frame {spec.stop}, the clip has {clip.num_frames} frames")
        self.clip = clip
        self.spec = spec
        self._cancel = threading.Event()
        self.frames_written = 0
        self.cancelled = False

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        spec = self.spec
        info = replace(self.clip.info, num_frames=spec.num_frames)
        try:
            with FfmpegSink(info, spec.output_args()) as sink:
                for i, n in enumerate(range(spec.start, spec.stop + 1)):
                    if self._cancel.is_set():
                        raise ExportCancelledError
                    if not sink.write(self.clip.get_frame(n)):
                        break
                    self.frames_written = i + 1
                    self.progress.emit(i + 1, spec.num_frames)
        except ExportCancelledError:
            self.cancelled = True
            self.done.emit(False, f"export cancelled after {self.frames_written} frames; nothing was written")
            return
        except Exception as exc:  # ffmpeg failures, decode errors: all end up in a message box
            logger.debug("export failed", exc_info=True)
            self.done.emit(False, describe_error(exc))
            return
        self.done.emit(True, f"wrote {self.frames_written} frames to {spec.output}")


class ExportDialog(QDialog):
    """Asks for the output file, the preset (or own ffmpeg options) and the range."""

    def __init__(self, parent: QWidget | None, num_frames: int, start: int, stop: int, suggested: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export range")
        self.path_edit = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        self.preset = QComboBox()
        for label, args, _ in PRESETS:
            self.preset.addItem(label, args)
        self.args_edit = QLineEdit(shlex.join(PRESETS[0][1]))
        self.preset.currentIndexChanged.connect(lambda i: self.args_edit.setText(shlex.join(PRESETS[i][1])))
        self.start = QSpinBox()
        self.stop = QSpinBox()
        for box, value in ((self.start, start), (self.stop, stop)):
            box.setRange(0, max(0, num_frames - 1))
            box.setValue(value)
        form = QFormLayout(self)
        form.addRow("Output file", row)
        form.addRow("Preset", self.preset)
        form.addRow("ffmpeg options", self.args_edit)
        form.addRow("First frame", self.start)
        form.addRow("Last frame", self.stop)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._overwrite = False

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        if name:
            self.path_edit.setText(name)
            self._overwrite = Path(name).exists()  # the save dialog already asked

    def spec(self) -> ExportSpec:
        """The choice; raises ``ValueError`` with a one-line message when it is unusable."""
        text = self.path_edit.text().strip()
        if not text:
            raise ValueError("no output file given")
        output = Path(text).expanduser()
        try:
            args = tuple(shlex.split(self.args_edit.text()))
        except ValueError as exc:
            raise ValueError(f"ffmpeg options cannot be parsed: {exc}") from None
        return ExportSpec(output, self.start.value(), self.stop.value(), args, overwrite=self._overwrite)
