"""One GOP's record and the payload of its chunk.

Chunk payload layout (little-endian, see ``docs/bitstream.md``)::

    gop_index u32 | first_frame u32 | num_frames u16 | gop_flags u8 | num_latent_frames u16
    then per latent frame:
        num_strings u8 | num_strings x string_length varint | the strings, concatenated
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vsgnvc.bitstream.cursor import ByteCursor
from vsgnvc.bitstream.fields import as_bool, as_bytes, as_int
from vsgnvc.bitstream.layout import (
    GOP_FIXED_FIELDS,
    MAX_CHUNK_PAYLOAD,
    MAX_GOP_SIZE,
    MAX_LATENT_FRAMES,
    MAX_NUM_FRAMES,
    MAX_STRINGS_PER_LATENT,
    MAX_U32,
    NUM_STRINGS,
    GopFlag,
)
from vsgnvc.bitstream.varint import encode_uvarint

logger = logging.getLogger(__name__)

LatentFrames = tuple[tuple[bytes, ...], ...]


@dataclass(frozen=True)
class GopRecord:
    """The coded data of one GOP.

    Args:
        index (`int`): GOP number k, 0-based.
        first_frame (`int`): first displayed frame of the GOP: the frame after the previous GOP (0 for GOP 0).
        num_frames (`int`): displayed frames in the GOP, 1..4096, at most the header's ``gop_size``.
        scene_cut (`bool`): a new shot starts at ``first_frame`` (the encoder started this GOP there
            because it detected a scene cut).
        latent_frames (`tuple[tuple[bytes, ...], ...]`): one entry per latent frame (1..1024), each a
            tuple of 1..8 entropy-coded strings, e.g. ``(y_bytes, z_bytes)``. Lists, ``bytearray`` and
            ``memoryview`` are accepted and stored as tuples of ``bytes``.

    Raises:
        ValueError: a count or number is outside its range.
        TypeError: a value has the wrong type.
    """

    index: int
    first_frame: int
    num_frames: int
    scene_cut: bool
    latent_frames: LatentFrames

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "index", as_int(owner, "index", self.index, 0, MAX_U32 - 1))
        object.__setattr__(self, "first_frame", as_int(owner, "first_frame", self.first_frame, 0, MAX_NUM_FRAMES - 1))
        object.__setattr__(self, "num_frames", as_int(owner, "num_frames", self.num_frames, 1, MAX_GOP_SIZE))
        object.__setattr__(self, "scene_cut", as_bool(owner, "scene_cut", self.scene_cut))
        object.__setattr__(self, "latent_frames", _normalise_latents(owner, self.latent_frames))

    @property
    def payload_bytes(self) -> int:
        """Total bytes of the entropy-coded strings (no framing)."""
        return sum(len(s) for frame in self.latent_frames for s in frame)


def _normalise_latents(owner: str, frames: object) -> LatentFrames:
    if isinstance(frames, str | bytes | bytearray) or not isinstance(frames, Sequence):
        raise TypeError(f"{owner}.latent_frames must be a sequence of sequences of bytes")
    if not 1 <= len(frames) <= MAX_LATENT_FRAMES:
        raise ValueError(f"{owner}.latent_frames must hold 1..{MAX_LATENT_FRAMES} latent frames, got {len(frames)}")
    out = []
    for t, strings in enumerate(frames):
        if isinstance(strings, str | bytes | bytearray) or not isinstance(strings, Sequence):
            raise TypeError(f"{owner}.latent_frames[{t}] must be a sequence of bytes, got {type(strings).__name__}")
        if not 1 <= len(strings) <= MAX_STRINGS_PER_LATENT:
            raise ValueError(
                f"{owner}.latent_frames[{t}] must hold 1..{MAX_STRINGS_PER_LATENT} strings, got {len(strings)}"
            )
        out.append(tuple(as_bytes(owner, f"latent_frames[{t}][{i}]", s) for i, s in enumerate(strings)))
    return tuple(out)


def grid_spans(num_frames: int, gop_size: int) -> tuple[range, ...]:
    """Consecutive runs of ``gop_size`` frames covering ``num_frames`` (the last one may be shorter).

    The GOPs of a version 1 file, and the slots the encoder splits at scene cuts.
    """
    return tuple(range(start, min(start + gop_size, num_frames)) for start in range(0, num_frames, gop_size))


def encode_gop_payload(gop: GopRecord) -> bytes:
    """Serialise a chunk payload (without the chunk header).

    Raises:
        ValueError: the payload would exceed the u32 chunk length.
    """
    flags = GopFlag.SCENE_CUT if gop.scene_cut else 0
    fixed = (gop.index, gop.first_frame, gop.num_frames, flags, len(gop.latent_frames))
    parts = [fmt.pack(value) for (_, fmt), value in zip(GOP_FIXED_FIELDS, fixed, strict=True)]
    for strings in gop.latent_frames:
        parts.append(NUM_STRINGS.pack(len(strings)))
        parts.extend(encode_uvarint(len(s)) for s in strings)
        parts.extend(strings)
    payload = b"".join(parts)
    if len(payload) > MAX_CHUNK_PAYLOAD:
        raise ValueError(f"GOP {gop.index} is {len(payload)} bytes, more than a chunk can hold ({MAX_CHUNK_PAYLOAD})")
    return payload


def decode_gop_payload(
    payload: bytes,
    base_offset: int,
    *,
    expected_index: int,
    first_frame: int,
    frame_counts: range,
    path: Path | None = None,
) -> GopRecord:
    """Parse a chunk payload that has already passed its CRC check.

    Args:
        payload (`bytes`): the chunk payload.
        base_offset (`int`): absolute file offset of ``payload[0]``, for error messages.
        expected_index (`int`): the GOP number the index (or the chunks before) says this chunk holds.
        first_frame (`int`): the first frame it must start at.
        frame_counts (`range`): the ``num_frames`` values allowed: one value when the index fixes it,
            ``1..limit`` when the chunks are scanned without an index.
        path (`Path`, *optional*): the file, for error messages.

    Raises:
        GNVCFormatError: a field disagrees with the header, a count is out of range, or a string
            length runs past the end of the chunk.
    """
    cur = ByteCursor(payload, base_offset, "GOP chunk", path=path, gop=expected_index)
    at: dict[str, int] = {}
    raw: dict[str, int] = {}
    for name, fmt in GOP_FIXED_FIELDS:
        at[name] = cur.offset
        raw[name] = cur.uint(fmt, name)
    if raw["gop_index"] != expected_index:
        raise cur.error(
            f"gop_index is {raw['gop_index']}, expected {expected_index}", field="gop_index", offset=at["gop_index"]
        )
    if raw["first_frame"] != first_frame:
        raise cur.error(
            f"first_frame is {raw['first_frame']}, expected {first_frame}",
            field="first_frame",
            offset=at["first_frame"],
        )
    if raw["num_frames"] not in frame_counts:
        lo, hi = frame_counts.start, frame_counts.stop - 1
        allowed = str(lo) if lo == hi else f"in {lo}..{hi}"
        raise cur.error(
            f"num_frames is {raw['num_frames']}, expected {allowed}",
            field="num_frames",
            offset=at["num_frames"],
        )
    flags = raw["gop_flags"]
    if flags & ~GopFlag.SCENE_CUT:
        raise cur.error(f"reserved bits set in gop_flags (0x{flags:02x})", field="gop_flags", offset=at["gop_flags"])
    num_latents = raw["num_latent_frames"]
    # each latent frame takes at least its num_strings byte plus one length byte
    if not 1 <= num_latents <= MAX_LATENT_FRAMES or 2 * num_latents > cur.remaining:
        raise cur.error(
            f"num_latent_frames {num_latents} is out of range (1..{MAX_LATENT_FRAMES}, {cur.remaining} bytes left)",
            field="num_latent_frames",
            offset=at["num_latent_frames"],
        )
    frames = []
    for t in range(num_latents):
        count_at = cur.offset
        count = cur.uint(NUM_STRINGS, f"num_strings[{t}]")
        if not 1 <= count <= MAX_STRINGS_PER_LATENT or count > cur.remaining:
            raise cur.error(
                f"num_strings {count} is out of range (1..{MAX_STRINGS_PER_LATENT})",
                field=f"num_strings[{t}]",
                offset=count_at,
            )
        lengths = [cur.varint(f"string_length[{t}][{i}]", cur.remaining) for i in range(count)]
        if sum(lengths) > cur.remaining:
            raise cur.error(
                f"string lengths of latent frame {t} add up to {sum(lengths)} bytes, "
                f"only {cur.remaining} are left in the chunk",
                field=f"string_length[{t}]",
            )
        frames.append(tuple(cur.take(n, f"string[{t}][{i}]") for i, n in enumerate(lengths)))
    cur.expect_end()
    try:
        return GopRecord(
            index=raw["gop_index"],
            first_frame=raw["first_frame"],
            num_frames=raw["num_frames"],
            scene_cut=bool(flags & GopFlag.SCENE_CUT),
            latent_frames=tuple(frames),
        )
    except (TypeError, ValueError) as exc:  # unreachable after the checks above; kept as a backstop
        raise cur.error(f"invalid GOP record: {exc}") from None
