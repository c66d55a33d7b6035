"""A bounds-checked reader over one block of bytes that reports errors with absolute offsets.

Every parse in the reader goes through :class:`ByteCursor`, so a truncated or corrupt block can
only ever raise :class:`~vsgnvc.bitstream.errors.GNVCFormatError`: lengths are compared with the
bytes actually left *before* anything is sliced or allocated.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.varint import decode_uvarint

logger = logging.getLogger(__name__)


class ByteCursor:
    """Sequential reader over ``data`` whose first byte sits at ``base_offset`` in the file.

    Args:
        data (`bytes`): the block being parsed (already fully read and CRC-checked).
        base_offset (`int`): absolute file offset of ``data[0]``, used in error messages.
        block (`str`): name of the block for messages, e.g. ``"sequence header"``.
        path (`Path`, *optional*): the file, for messages.
        gop (`int`, *optional*): GOP index, for messages.
    """

    def __init__(
        self,
        data: bytes,
        base_offset: int,
        block: str,
        *,
        path: Path | None = None,
        gop: int | None = None,
    ) -> None:
        self._data = data
        self._view = memoryview(data)
        self._pos = 0
        self._base = base_offset
        self._block = block
        self._path = path
        self._gop = gop

    @property
    def offset(self) -> int:
        """Absolute file offset of the next unread byte."""
        return self._base + self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def error(self, what: str, *, field: str | None = None, offset: int | None = None) -> GNVCFormatError:
        """Build (not raise) an error located at ``offset`` (default: the cursor)."""
        return GNVCFormatError(
            f"{self._block}: {what}",
            path=self._path,
            offset=self.offset if offset is None else offset,
            gop=self._gop,
            field=field,
        )

    def unpack(self, fmt: struct.Struct, field: str) -> tuple[object, ...]:
        """Read one fixed-size struct."""
        if fmt.size > self.remaining:
            raise self.error(f"needs {fmt.size} bytes but only {self.remaining} are left", field=field)
        values = fmt.unpack_from(self._data, self._pos)
        self._pos += fmt.size
        return values

    def uint(self, fmt: struct.Struct, field: str) -> int:
        """Read one fixed-size unsigned integer."""
        (value,) = self.unpack(fmt, field)
        assert isinstance(value, int)
        return value

    def varint(self, field: str, max_value: int) -> int:
        """Read one varint and check it against ``max_value`` (inclusive)."""
        start = self.offset
        try:
            value, pos = decode_uvarint(self._data, self._pos, len(self._data))
        except ValueError as exc:
            raise self.error(str(exc), field=field) from None
        if value > max_value:
            raise self.error(f"value {value} exceeds the maximum {max_value}", field=field, offset=start)
        self._pos = pos
        return value

    def take(self, n: int, field: str) -> bytes:
        """Copy the next ``n`` bytes; ``n`` is checked against what is left first."""
        if n < 0 or n > self.remaining:
            raise self.error(f"length {n} runs past the end of the block ({self.remaining} bytes left)", field=field)
        out = bytes(self._view[self._pos : self._pos + n])
        self._pos += n
        return out

    def expect_end(self) -> None:
        """Fail if any byte of the block was not consumed."""
        if self.remaining:
            raise self.error(f"{self.remaining} unexpected bytes after the last field")
