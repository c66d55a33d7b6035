"""One-line ``vs.Error`` messages that name the filter: ``gnvc.<func>: <what is wrong>``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import vapoursynth as vs

from ..bitstream import GNVCFormatError
from ..device import DeviceError


def gnvc_error(func: str, message: str) -> vs.Error:
    return vs.Error(f"gnvc.{func}: {message}")


@contextlib.contextmanager
def translated(func: str) -> Iterator[None]:
    """Turn the codec's expected failures (bad files, devices, values) into ``vs.Error`` for ``func``.

    ``ModelMismatchError`` is a ``GNVCFormatError``; its message already says which weights are needed.
    """
    try:
        yield
    except vs.Error:
        raise
    except GNVCFormatError as exc:
        raise gnvc_error(func, f"cannot decode: {exc}") from None
    except (DeviceError, ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as exc:
        raise gnvc_error(func, str(exc)) from None
