"""Exceptions raised by the bridge; each one carries a one-line message fit for a CLI."""

from __future__ import annotations

import logging
import re
import signal

logger = logging.getLogger(__name__)


class BridgeError(Exception):
    """Base class of every error the bridge raises on purpose."""


class FfmpegNotFoundError(BridgeError, FileNotFoundError):
    """No usable ffmpeg binary (``GNVC_FFMPEG``, ``PATH`` and imageio-ffmpeg all failed)."""


class SourceError(BridgeError, ValueError):
    """An input cannot be read as video (no video stream, unsupported format, bad file)."""


class FfmpegError(BridgeError, RuntimeError):
    """ffmpeg exited with a non-zero status.

    :param returncode: ffmpeg's exit status (negative: killed by that signal).
    :param stderr_tail: the last lines ffmpeg wrote on stderr (may be empty).
    :param message: what went wrong, when the bridge itself refused to run ffmpeg.
    """

    def __init__(self, returncode: int, stderr_tail: str = "", message: str | None = None) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        if message is None:
            last = summarize_stderr(stderr_tail)
            how = f"exited with code {returncode}" if returncode >= 0 else f"was killed by {_signal_name(-returncode)}"
            message = f"ffmpeg {how}" + (f": {last}" if last else "")
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


_ERROR_WORDS = re.compile(
    r"error|invalid|unrecogni[sz]ed|unknown|not found|no such|failed|cannot|could not|denied|no space|unable"
    r"|already exists",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+")


def summarize_stderr(text: str) -> str:
    """The line of ffmpeg's stderr that says why it stopped.

    ffmpeg prints the cause first ("Unrecognized option 'x'.", "Unknown encoder 'y'",
    "Error writing trailer: No space left on device") and generic follow-ups after it
    ("Error splitting the argument list", "Conversion failed!"), so the first error-like
    line wins; the last non-progress line is the fallback.
    """
    lines = [_ADDRESS.sub("", ln).strip() for ln in text.replace("\r", "\n").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("frame=", "size="))]
    for ln in lines:
        if _ERROR_WORDS.search(ln) and ln != "Conversion failed!":
            return ln
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
