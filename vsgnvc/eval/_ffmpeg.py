"""Running the imageio-ffmpeg binary: one place for the executable, errors and stream probing."""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vsgnvc.eval.errors import EvalError

logger = logging.getLogger(__name__)

# "Stream #0:0: Video: hevc (Main), yuv420p(tv, bt709), 320x180 [SAR 1:1 DAR 16:9], 25 fps"
_STREAM_RE = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^,]*, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)")


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by the ``imageio-ffmpeg`` wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _summary(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        return "no message"
    tail = lines[-25:]
    errors = [ln for ln in tail if "rror" in ln or "nvalid" in ln or "not " in ln]
    return (errors[0] if errors else tail[-1])[:300]


def run_ffmpeg(
    args: Sequence[str],
    *,
    what: str,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    timeout: float | None = 3600.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``ffmpeg -hide_banner <args>`` and return the completed process (stdout/stderr as bytes).

    :param args: arguments after the executable.
    :param what: step name used in error messages (``"x264 encode"``).
    :param stdin: bytes fed to ffmpeg's stdin (``-i pipe:0``); ``None`` closes stdin.
    :param cwd: working directory.
    :param timeout: seconds before the process is killed.
    :raises EvalError: when ffmpeg exits non-zero or times out; the message quotes ffmpeg's error line.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", *args]
    logger.debug("%s: %s", what, " ".join(cmd))
    try:
        proc = subprocess.run(
            cmd,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EvalError(f"{what}: ffmpeg did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise EvalError(f"{what}: ffmpeg exited with code {proc.returncode}: {_summary(proc.stderr)}")
    return proc


@functools.cache
def _listing(kind: str) -> str:
    return run_ffmpeg([f"-{kind}"], what=f"ffmpeg -{kind}").stdout.decode(errors="replace")


def has_encoder(name: str) -> bool:
    """Whether the ffmpeg binary has the encoder ``name`` (e.g. ``libvvenc``)."""
    return re.search(rf"^\s*V\S*\s+{re.escape(name)}\s", _listing("encoders"), re.M) is not None


def has_filter(name: str) -> bool:
    """Whether the ffmpeg binary has the filter ``name`` (e.g. ``libvmaf``)."""
    return re.search(rf"^\s*\S+\s+{re.escape(name)}\s", _listing("filters"), re.M) is not None


@functools.cache
def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version`` (recorded next to benchmark results)."""
    return run_ffmpeg(["-version"], what="ffmpeg -version").stdout.decode(errors="replace").splitlines()[0]


@dataclass(frozen=True)
class StreamInfo:
    """First video stream of a file as ffmpeg reports it."""

    codec: str
    pix_fmt: str
    width: int
    height: int


def probe_video(path: Path, *, what: str = "probe") -> StreamInfo:
    """Codec, pixel format and size of the first video stream of ``path`` (parsed from ``ffmpeg -i``).

    :raises EvalError: if ffmpeg cannot open the file or reports no video stream.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what}: file not found: {path}")
    # With no output file ffmpeg exits 1 after printing the input description; that is expected.
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, check=False, timeout=60
    )
    text = proc.stderr.decode(errors="replace")
    match = _STREAM_RE.search(text)
    if match is None:
        raise EvalError(f"{what}: ffmpeg found no video stream in {path}: {_summary(proc.stderr)}")
    codec, pix_fmt, w, h = match.groups()
    return StreamInfo(codec, pix_fmt, int(w), int(h))
