"""Find the ffmpeg binary the bridge drives.

Order: the ``GNVC_FFMPEG`` environment variable, then ``ffmpeg`` on ``PATH``, then the
binary shipped in the ``imageio-ffmpeg`` wheel (a project dependency, so always there).
That wheel ships no ffprobe: probing and reading files back goes through PyAV.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .errors import FfmpegNotFoundError

logger = logging.getLogger(__name__)

ENV_VAR = "GNVC_FFMPEG"
_VERSION_TIMEOUT_S = 15.0


class FfmpegSource(StrEnum):
    """Where the chosen binary came from."""

    ENV = "env"
    PATH = "path"
    IMAGEIO = "imageio-ffmpeg"


@dataclass(frozen=True)
class FfmpegBinary:
    """The ffmpeg executable in use.

    path (`Path`): absolute path of the executable.
    source (`FfmpegSource`): which lookup step found it.
    version (`str`): the version from ``ffmpeg -version`` (e.g. ``"n9.0.2-17-g2a571b6068-20260930"``).
    """

    path: Path
    source: FfmpegSource
    version: str

    def describe(self) -> str:
        return f"ffmpeg {self.version} at {self.path} (from {self.source})"


def locate_ffmpeg() -> FfmpegBinary:
    """Pick the ffmpeg binary.

    An explicit ``GNVC_FFMPEG`` that does not point at a working executable is an error,
    not a reason to fall back silently to another binary.

    :raises FfmpegNotFoundError: when no working ffmpeg is found.
    """
    env_value = os.environ.get(ENV_VAR, "").strip()
    if env_value:
        found = shutil.which(env_value)
        if found is None:
            raise FfmpegNotFoundError(f"{ENV_VAR}={env_value!r} is not an executable file")
        return _binary(Path(found), FfmpegSource.ENV)
    on_path = shutil.which("ffmpeg")
    if on_path is not None:
        return _binary(Path(on_path), FfmpegSource.PATH)
    try:
        import imageio_ffmpeg

        bundled = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise FfmpegNotFoundError(
            f"no ffmpeg found: set {ENV_VAR}, put ffmpeg on PATH or install imageio-ffmpeg ({exc})"
        ) from None
    return _binary(Path(bundled), FfmpegSource.IMAGEIO)


def _binary(path: Path, source: FfmpegSource) -> FfmpegBinary:
    path = path.resolve()
    stat = path.stat()
    return FfmpegBinary(path=path, source=source, version=_version(path, stat.st_mtime_ns, stat.st_size))


@functools.cache
def _version(path: Path, mtime_ns: int, size: int) -> str:
    """``ffmpeg -version``'s version token; cached per binary (mtime/size key the cache)."""
    try:
        proc = subprocess.run(
            [str(path), "-hide_banner", "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FfmpegNotFoundError(f"{path} does not run as ffmpeg: {exc}") from None
    first = proc.stdout.decode("utf-8", "replace").partition("\n")[0].split()
    if proc.returncode != 0 or first[:2] != ["ffmpeg", "version"] or len(first) < 3:
        raise FfmpegNotFoundError(f"{path} is not ffmpeg (`-version` printed {' '.join(first)[:80]!r})")
    return first[2]
