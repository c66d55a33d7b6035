"""The single error type raised for anything wrong inside a ``.gnvc`` file."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


class GNVCFormatError(ValueError):
    """A ``.gnvc`` file is truncated, corrupt, spliced or of an unsupported version.

    The message says what is wrong and where; the location is also available as attributes
    so callers (the CLI, the GUI) can show it without parsing the text.

    Args:
        what (`str`): what is wrong, e.g. ``"chunk CRC32 mismatch"``.
        path (`Path`, *optional*): the file being read.
        offset (`int`, *optional*): absolute byte offset of the offending field.
        gop (`int`, *optional*): GOP index, when the problem is inside a GOP chunk.
        field (`str`, *optional*): name of the offending field as written in ``docs/bitstream.md``.
    """

    def __init__(
        self,
        what: str,
        *,
        path: Path | None = None,
        offset: int | None = None,
        gop: int | None = None,
        field: str | None = None,
    ) -> None:
        self.what = what
        self.path = path
        self.offset = offset
        self.gop = gop
        self.field = field
        where = []
        if gop is not None:
            where.append(f"GOP {gop}")
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"byte {offset}")
        prefix = f"{path}: " if path is not None else ""
        suffix = f" ({', '.join(where)})" if where else ""
        self.detail = f"{what}{suffix}"
        """The message without the path: what is wrong and where."""
        super().__init__(f"{prefix}{self.detail}")

    def __reduce__(self) -> tuple[object, ...]:
        # keyword-only arguments would otherwise be lost when pickled across processes
        return (_rebuild, (self.what, self.path, self.offset, self.gop, self.field))


def _rebuild(what: str, path: Path | None, offset: int | None, gop: int | None, field: str | None) -> GNVCFormatError:
    return GNVCFormatError(what, path=path, offset=offset, gop=gop, field=field)
