"""Field validation shared by the writer-side dataclasses and the reader.

The dataclasses call these in ``__post_init__``; the reader builds the same dataclasses from
decoded values, so one set of rules guards both directions. A range violation raises
:class:`FieldValueError`, which remembers the field so the reader can point at its byte offset.
"""

from __future__ import annotations

import logging
import math
import operator
from numbers import Real

logger = logging.getLogger(__name__)


class FieldValueError(ValueError):
    """A value outside its documented range; ``field`` is the dataclass attribute name."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def as_int(owner: str, field: str, value: object, lo: int, hi: int) -> int:
    """Return ``value`` as a plain ``int`` in ``lo..hi`` (numpy integers are accepted, bools are not)."""
    if isinstance(value, bool):
        raise TypeError(f"{owner}.{field} must be an int, got bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{owner}.{field} must be an int, got {type(value).__name__}") from None
    if not lo <= number <= hi:
        raise FieldValueError(field, f"{owner}.{field} must be in {lo}..{hi}, got {number}")
    return number


def as_bool(owner: str, field: str, value: object) -> bool:
    """Return ``value`` as a ``bool``; accepts bools (numpy's too, without importing numpy) and the ints 0 and 1."""
    kind = type(value)
    if isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in {"bool_", "bool"}):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{owner}.{field} must be a bool, got {value!r}")


def as_open_unit_float(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a finite ``float`` strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}.{field} must be a float, got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 < number < 1.0):
        raise FieldValueError(field, f"{owner}.{field} must be in the open interval (0, 1), got {number}")
    return number


def as_utf8_text(owner: str, field: str, value: object, max_bytes: int) -> str:
    """Check that ``value`` is a ``str`` whose UTF-8 encoding fits in ``max_bytes``."""
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{field} must be a str, got {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise FieldValueError(field, f"{owner}.{field} is not encodable as UTF-8: {exc.reason}") from None
    if size > max_bytes:
        raise FieldValueError(field, f"{owner}.{field} is {size} bytes in UTF-8, the maximum is {max_bytes}")
    return value


def as_bytes(owner: str, field: str, value: object) -> bytes:
    """Return ``value`` as immutable ``bytes`` (``bytearray`` and ``memoryview`` are copied)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{owner}.{field} must be bytes, got {type(value).__name__}")
