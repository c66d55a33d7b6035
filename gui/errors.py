"""One-line error messages and the non-blocking message boxes that show them.

Boxes are opened with ``QMessageBox.open()`` (window-modal, no nested event loop): the app keeps running,
playback timers and workers keep working, and tests can find the box among the window's children and close it.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox, QWidget

from ffmpeg_bridge import BridgeError
from vsgnvc.bitstream import GNVCFormatError

from .vpy import ScriptError

logger = logging.getLogger(__name__)

# Errors whose message already says everything (the project's own, and the usual OS ones).
_PLAIN = (GNVCFormatError, BridgeError, ScriptError, FileNotFoundError, PermissionError, IsADirectoryError)


def describe_error(exc: BaseException) -> str:
    """The message for a user: the error's own line, prefixed with its type when that adds meaning."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, _PLAIN):
        return text
    return f"{type(exc).__name__}: {text}"


def show_message(
    parent: QWidget | None, title: str, text: str, icon: QMessageBox.Icon = QMessageBox.Icon.Critical
) -> QMessageBox:
    """Open a message box without blocking; it deletes itself when closed."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box
