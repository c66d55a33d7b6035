"""Building the ffmpeg command line around the user's output arguments.

Pure functions, no processes: colour tags (H.273 codes -> ffmpeg option values), the
audio-from-the-original-file mapping, and finding the single output file so the sink
can write it under a temporary name first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .video import VideoInfo

logger = logging.getLogger(__name__)

# H.273 code -> ffmpeg option value. Codes ffmpeg has understood since 4.x only;
# 2 (unspecified) and 3 (reserved) are never passed.
MATRIX_NAMES: dict[int, str] = {
    0: "rgb",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}
TRANSFER_NAMES: dict[int, str] = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
PRIMARIES_NAMES: dict[int, str] = {
    1: "bt709",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "jedec-p22",
}
UNSPECIFIED = 2

# ffmpeg options that take no value (booleans, including their -no* spellings). Every other
# option is assumed to take exactly one value; find_output_file() stays safe when wrong.
_FLAG_OPTIONS = frozenset(
    {
        "y", "n", "an", "vn", "sn", "dn", "shortest", "stdin", "nostdin", "hide_banner", "stats",
        "nostats", "benchmark", "benchmark_all", "copyts", "start_at_zero", "re", "xerror",
        "ignore_unknown", "copy_unknown", "report", "dump", "hex", "debug_ts", "accurate_seek",
        "noaccurate_seek", "autorotate", "noautorotate", "autoscale", "noautoscale",
        "fix_sub_duration", "seek_timestamp", "bitexact", "qphist", "print_graphs",
    }
)  # fmt: skip
# Muxers that write several files, or none, so "the output file" is not one file.
_MULTI_FILE_FORMATS = frozenset({"hls", "dash", "segment", "ssegment", "stream_segment", "image2", "tee", "null"})
_MULTI_FILE_SUFFIXES = frozenset({".m3u8", ".mpd"})


def color_args(info: VideoInfo, user_args: Sequence[str]) -> list[str]:
    """``-colorspace``/``-color_primaries``/``-color_trc``/``-color_range`` from ``info``.

    Unspecified codes are skipped, and so is any option the user already gave.
    """
    out: list[str] = []
    for option, code, names in (
        ("-colorspace", info.matrix, MATRIX_NAMES),
        ("-color_primaries", info.primaries, PRIMARIES_NAMES),
        ("-color_trc", info.transfer, TRANSFER_NAMES),
    ):
        if code == UNSPECIFIED or _has_option(user_args, option):
            continue
        if code not in names:
            logger.warning("H.273 code %d for %s has no ffmpeg name; leaving it unset", code, option)
            continue
        out += [option, names[code]]
    if not _has_option(user_args, "-color_range"):
        out += ["-color_range", info.color_range.value]
    return out


def audio_args(user_args: Sequence[str]) -> list[str]:
    """Map the video from input 0 and any audio from input 1 (copied), ending with the shorter.

    A user's own ``-map`` or ``-c:a`` wins over ours.
    """
    out: list[str] = []
    if not _has_option(user_args, "-map"):
        out += ["-map", "0:v:0", "-map", "1:a?"]
    if not any(_has_option(user_args, opt) for opt in ("-c:a", "-acodec", "-codec:a")):
        out += ["-c:a", "copy"]
    if "-shortest" not in user_args:
        out.append("-shortest")
    return out


def find_output_file(user_args: Sequence[str]) -> Path | None:
    """The one local file (or device) the arguments write, or ``None`` when that is unclear.

    ``None`` for: stdout/pipes/URLs, image-sequence patterns, multi-file or null muxers,
    several outputs, or arguments not ending in the output name.
    """
    outputs: list[int] = []
    formats: list[str] = []
    i = 0
    while i < len(user_args):
        arg = user_args[i]
        if arg.startswith("-") and arg != "-":
            name = arg[1:].split(":", 1)[0]
            if name not in _FLAG_OPTIONS:
                if name == "f" and i + 1 < len(user_args):
                    formats.append(user_args[i + 1])
                i += 1  # skip the option's value
        else:
            outputs.append(i)
        i += 1
    if len(outputs) != 1 or outputs[0] != len(user_args) - 1:
        return None
    name = user_args[-1]
    if name.startswith("file:"):
        name = name[len("file:") :]
    elif name == "-" or ":" in name.split("/", 1)[0]:  # stdout, pipe:1, protocol URLs
        return None
    if "%" in name or any(f in _MULTI_FILE_FORMATS for f in formats):
        return None
    path = Path(name)
    if path.suffix.lower() in _MULTI_FILE_SUFFIXES:
        return None
    return path


def can_write_atomically(path: Path) -> bool:
    """Whether ``path`` can be written as a temporary sibling renamed into place.

    Not for devices, fifos or directories, nor when the folder is missing (ffmpeg then
    reports that in its own words).
    """
    if path.exists() and not path.is_file():
        return False
    return path.parent.is_dir()


def replace_output(user_args: Sequence[str], new_name: Path) -> list[str]:
    """The same arguments writing to ``new_name`` (the output is the last argument)."""
    return [*user_args[:-1], str(new_name)]


def _has_option(args: Sequence[str], option: str) -> bool:
    return any(a == option or a.startswith(option + ":") for a in args)
