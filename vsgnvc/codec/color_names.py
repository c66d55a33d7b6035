"""ffmpeg's names for the H.273 colour codes (``--matrix bt709``), apart from the conversions: no torch needed."""

from __future__ import annotations

# ffmpeg's names for the H.273 codes users meet (a number 0..255 is accepted as well).
COLOR_NAMES: dict[str, dict[str, int]] = {
    "matrix": {"bt709": 1, "bt470bg": 5, "bt601": 6, "smpte170m": 6, "bt2020nc": 9, "bt2020": 9, "bt2020c": 10},
    "transfer": {
        "bt709": 1, "smpte170m": 6, "bt601": 6, "bt2020-10": 14, "smpte2084": 16, "pq": 16,
        "arib-std-b67": 18, "hlg": 18, "srgb": 13, "iec61966-2-1": 13,
    },
    "primaries": {"bt709": 1, "bt470bg": 5, "bt601": 6, "smpte170m": 6, "bt2020": 9},
}


def parse_color_code(kind: str, text: str) -> int:
    """``--matrix bt709`` / ``--transfer 16`` -> the H.273 code; a clear ``ValueError`` otherwise."""
    names = COLOR_NAMES[kind]
    value = text.strip().lower()
    if value in names:
        return names[value]
    if value.isdigit() and int(value) <= 255:
        return int(value)
    raise ValueError(f"--{kind} {text!r}: expected an H.273 code 0..255 or one of {', '.join(sorted(names))}")
