"""Opening a file off the GUI thread: model load, decoder setup, script evaluation can take seconds."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal

from .errors import describe_error
from .session import OpenOptions, open_session

logger = logging.getLogger(__name__)


class OpenJob(QThread):
    """Runs :func:`open_session`; emits ``opened(session)`` or ``failed(message)``."""

    opened = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, path: Path, options: OpenOptions) -> None:
        super().__init__()
        self.path = Path(path)
        self.options = options
        self.started_at = time.perf_counter()
        self.setObjectName("open-job")

    def run(self) -> None:
        try:
            session = open_session(self.path, self.options)
        except Exception as exc:  # every bad input ends as a message box, never a dead app
            logger.debug("opening %s failed", self.path, exc_info=True)
            message = describe_error(exc)
            # name the file when the error itself does not
            self.failed.emit(message if self.path.name in message else f"{self.path.name}: {message}")
            return
        logger.info("opened %s in %.2f s", self.path, time.perf_counter() - self.started_at)
        self.opened.emit(session)
