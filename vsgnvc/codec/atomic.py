"""Write-then-rename for outputs, so an interrupted run never leaves a partial file at the target."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

_NAME_TRIES = 100


def _create_temp_beside(target: Path) -> Path:
    """Create an empty ``.<name>.<random>.partial`` next to ``target`` and return its path.

    Mode 0o666 minus the umask, as for any new file (``tempfile.mkstemp`` would give 0o600, which the
    rename would carry over to the finished output).
    """
    for _ in range(_NAME_TRIES):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a temporary file next to {target}")


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; rename it into place only if the block succeeds."""
    tmp = _create_temp_beside(Path(target))
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
