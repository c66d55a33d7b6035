"""The sequence header: what a decoder must know before the first GOP.

Payload layout (little-endian, see ``docs/bitstream.md`` for ranges and meaning)::

    width u16 | height u16 | coded_width u16 | coded_height u16
    fps_num u32 | fps_den u32 | num_frames u32
    pix_fmt u8 | color_range u8 | matrix u8 | transfer u8 | primaries u8
    sar_num u32 | sar_den u32 | gop_size u16 | rate_index u8 | weights_hash 16 bytes
    refine_flags u8 | refine_t_start f64 | refine_steps u8 | refine_window u16
    refine_overlap u16 | refine_seed u64
    model_name_length varint | model_name | encoder_length varint | encoder

Version 1 had a third text field, ``source_path``, between ``model_name`` and ``encoder``; it is read
and dropped. The header does not fix the GOPs: they come from the index (see ``docs/bitstream.md``).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from vsgnvc.bitstream.cursor import ByteCursor
from vsgnvc.bitstream.fields import (
    FieldValueError,
    as_bool,
    as_bytes,
    as_int,
    as_open_unit_float,
    as_utf8_text,
)
from vsgnvc.bitstream.layout import (
    FORMAT_VERSION,
    MAX_DIMENSION,
    MAX_ENCODER_BYTES,
    MAX_GOP_SIZE,
    MAX_MODEL_NAME_BYTES,
    MAX_NUM_FRAMES,
    MAX_REFINE_STEPS,
    MAX_REFINE_WINDOW,
    MAX_SOURCE_PATH_BYTES,
    MAX_U8,
    MAX_U32,
    MAX_U64,
    WEIGHTS_HASH_BYTES,
    RefineFlag,
)
from vsgnvc.bitstream.varint import encode_uvarint

logger = logging.getLogger(__name__)


class PixelFormatCode(IntEnum):
    """Pixel format of the source (and of the decoded output), stored as ``pix_fmt`` (u8)."""

    YUV420P8 = 0
    YUV420P10 = 1
    YUV444P8 = 2
    YUV444P10 = 3
    RGB24 = 4


@dataclass(frozen=True)
class RefineSettings:
    """What the encoder assumed for the decoder-side flow-matching refinement.

    Args:
        enabled (`bool`, *optional*, defaults to `True`): whether the decoder should refine at all.
        t_start (`float`, *optional*, defaults to 0.7): starting time t_N, in the open interval (0, 1).
        steps (`int`, *optional*, defaults to 5): Euler steps from t_N to 1, 1..100.
        window (`int`, *optional*, defaults to 7): latent frames per refinement window, 1..256.
        overlap (`int`, *optional*, defaults to 2): latent frames shared by neighbouring windows,
            ``0 <= overlap < window``.
        seed (`int`, *optional*, defaults to 0): seed of the starting noise x_0, a u64.
    """

    enabled: bool = True
    t_start: float = 0.7
    steps: int = 5
    window: int = 7
    overlap: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _set(self, "enabled", as_bool(owner, "enabled", self.enabled))
        _set(self, "t_start", as_open_unit_float(owner, "t_start", self.t_start))
        _set(self, "steps", as_int(owner, "steps", self.steps, 1, MAX_REFINE_STEPS))
        _set(self, "window", as_int(owner, "window", self.window, 1, MAX_REFINE_WINDOW))
        _set(self, "overlap", as_int(owner, "overlap", self.overlap, 0, MAX_REFINE_WINDOW))
        if self.overlap >= self.window:
            raise FieldValueError(
                "overlap", f"{owner}.overlap must be smaller than window ({self.window}), got {self.overlap}"
            )
        _set(self, "seed", as_int(owner, "seed", self.seed, 0, MAX_U64))


@dataclass(frozen=True, kw_only=True)
class SequenceHeader:
    """Everything about a ``.gnvc`` stream that does not change from GOP to GOP.

    Args:
        width (`int`): displayed width, 1..16384.
        height (`int`): displayed height, 1..16384.
        coded_width (`int`): padded width the model codes, ``width..16384``.
        coded_height (`int`): padded height the model codes, ``height..16384``.
        fps_num (`int`): frame rate numerator, 1..2**32-1.
        fps_den (`int`): frame rate denominator, 1..2**32-1.
        num_frames (`int`): displayed frames, 1..10_000_000.
        pix_fmt (`PixelFormatCode`): pixel format of the source and of the decoded output.
        color_range (`int`): 0 limited, 1 full.
        matrix (`int`): H.273 matrix coefficients, 0..255.
        transfer (`int`): H.273 transfer characteristics, 0..255.
        primaries (`int`): H.273 colour primaries, 0..255.
        sar_num (`int`, *optional*, defaults to 1): sample aspect ratio numerator, 1..2**32-1.
        sar_den (`int`, *optional*, defaults to 1): sample aspect ratio denominator, 1..2**32-1.
        gop_size (`int`): the most frames a GOP may hold, 1..4096 (GOPs end earlier at scene cuts and at the end).
        rate_index (`int`): rate point of the model, 0..255.
        model_name (`str`): model identifier, at most 255 bytes of UTF-8.
        weights_hash (`bytes`): exactly 16 bytes, the truncated sha256 of the model's weights.
        refine (`RefineSettings`, *optional*): decoder-side refinement the encoder assumed.
        encoder (`str`, *optional*, defaults to ""): encoder version string, at most 255 bytes of UTF-8.

    Raises:
        ValueError: a value is outside its range (the message names the field).
        TypeError: a value has the wrong type.
    """

    width: int
    height: int
    coded_width: int
    coded_height: int
    fps_num: int
    fps_den: int
    num_frames: int
    pix_fmt: PixelFormatCode
    color_range: int
    matrix: int
    transfer: int
    primaries: int
    sar_num: int = 1
    sar_den: int = 1
    gop_size: int
    rate_index: int
    model_name: str
    weights_hash: bytes
    refine: RefineSettings = field(default_factory=RefineSettings)
    encoder: str = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("width", "height"):
            _set(self, name, as_int(owner, name, getattr(self, name), 1, MAX_DIMENSION))
        for name, shown in (("coded_width", "width"), ("coded_height", "height")):
            _set(self, name, as_int(owner, name, getattr(self, name), getattr(self, shown), MAX_DIMENSION))
        for name in ("fps_num", "fps_den", "sar_num", "sar_den"):
            _set(self, name, as_int(owner, name, getattr(self, name), 1, MAX_U32))
        _set(self, "num_frames", as_int(owner, "num_frames", self.num_frames, 1, MAX_NUM_FRAMES))
        code = as_int(owner, "pix_fmt", self.pix_fmt, 0, MAX_U8)
        if code not in PixelFormatCode._value2member_map_:
            known = ", ".join(f"{p.value} ({p.name})" for p in PixelFormatCode)
            raise FieldValueError("pix_fmt", f"{owner}.pix_fmt must be one of {known}, got {code}")
        _set(self, "pix_fmt", PixelFormatCode(code))
        _set(self, "color_range", as_int(owner, "color_range", self.color_range, 0, 1))
        for name in ("matrix", "transfer", "primaries", "rate_index"):
            _set(self, name, as_int(owner, name, getattr(self, name), 0, MAX_U8))
        _set(self, "gop_size", as_int(owner, "gop_size", self.gop_size, 1, MAX_GOP_SIZE))
        _set(self, "model_name", as_utf8_text(owner, "model_name", self.model_name, MAX_MODEL_NAME_BYTES))
        digest = as_bytes(owner, "weights_hash", self.weights_hash)
        if len(digest) != WEIGHTS_HASH_BYTES:
            raise FieldValueError(
                "weights_hash", f"{owner}.weights_hash must be exactly {WEIGHTS_HASH_BYTES} bytes, got {len(digest)}"
            )
        _set(self, "weights_hash", digest)
        if not isinstance(self.refine, RefineSettings):
            raise TypeError(f"{owner}.refine must be a RefineSettings, got {type(self.refine).__name__}")
        _set(self, "encoder", as_utf8_text(owner, "encoder", self.encoder, MAX_ENCODER_BYTES))


def _set(obj: object, name: str, value: object) -> None:
    # frozen dataclasses normalise their own fields (numpy ints -> int, int -> enum) this way
    object.__setattr__(obj, name, value)


# (file field name, struct) in payload order; the names are those of docs/bitstream.md
HEADER_FIXED_FIELDS: tuple[tuple[str, struct.Struct], ...] = tuple(
    (name, struct.Struct("<" + fmt))
    for name, fmt in (
        ("width", "H"),
        ("height", "H"),
        ("coded_width", "H"),
        ("coded_height", "H"),
        ("fps_num", "I"),
        ("fps_den", "I"),
        ("num_frames", "I"),
        ("pix_fmt", "B"),
        ("color_range", "B"),
        ("matrix", "B"),
        ("transfer", "B"),
        ("primaries", "B"),
        ("sar_num", "I"),
        ("sar_den", "I"),
        ("gop_size", "H"),
        ("rate_index", "B"),
        ("weights_hash", f"{WEIGHTS_HASH_BYTES}s"),
        ("refine_flags", "B"),
        ("refine_t_start", "d"),
        ("refine_steps", "B"),
        ("refine_window", "H"),
        ("refine_overlap", "H"),
        ("refine_seed", "Q"),
    )
)
HEADER_FIXED_SIZE = sum(s.size for _, s in HEADER_FIXED_FIELDS)

# (file field name, limit in bytes), in payload order after the fixed fields
HEADER_TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("model_name", MAX_MODEL_NAME_BYTES),
    ("encoder", MAX_ENCODER_BYTES),
)
HEADER_TEXT_FIELDS_V1: tuple[tuple[str, int], ...] = (
    ("model_name", MAX_MODEL_NAME_BYTES),
    ("source_path", MAX_SOURCE_PATH_BYTES),
    ("encoder", MAX_ENCODER_BYTES),
)


def header_text_fields(version: int = FORMAT_VERSION) -> tuple[tuple[str, int], ...]:
    return HEADER_TEXT_FIELDS_V1 if version == 1 else HEADER_TEXT_FIELDS


def max_header_payload(version: int = FORMAT_VERSION) -> int:
    """Largest valid header payload; a larger ``header_length`` is rejected before reading."""
    return HEADER_FIXED_SIZE + sum(len(encode_uvarint(n)) + n for _, n in header_text_fields(version))


def min_header_payload(version: int = FORMAT_VERSION) -> int:
    """Fixed fields plus one zero-length varint per text field."""
    return HEADER_FIXED_SIZE + len(header_text_fields(version))


_REFINE_FILE_FIELDS = {
    "t_start": "refine_t_start",
    "steps": "refine_steps",
    "window": "refine_window",
    "overlap": "refine_overlap",
    "seed": "refine_seed",
    "enabled": "refine_flags",
}


def encode_header(header: SequenceHeader) -> bytes:
    """Serialise the header payload (without its length prefix and CRC)."""
    refine = header.refine
    values: dict[str, object] = {
        "width": header.width,
        "height": header.height,
        "coded_width": header.coded_width,
        "coded_height": header.coded_height,
        "fps_num": header.fps_num,
        "fps_den": header.fps_den,
        "num_frames": header.num_frames,
        "pix_fmt": int(header.pix_fmt),
        "color_range": header.color_range,
        "matrix": header.matrix,
        "transfer": header.transfer,
        "primaries": header.primaries,
        "sar_num": header.sar_num,
        "sar_den": header.sar_den,
        "gop_size": header.gop_size,
        "rate_index": header.rate_index,
        "weights_hash": header.weights_hash,
        "refine_flags": RefineFlag.ENABLED if refine.enabled else 0,
        "refine_t_start": refine.t_start,
        "refine_steps": refine.steps,
        "refine_window": refine.window,
        "refine_overlap": refine.overlap,
        "refine_seed": refine.seed,
    }
    out = bytearray()
    for name, fmt in HEADER_FIXED_FIELDS:
        out += fmt.pack(values[name])
    for name, _ in HEADER_TEXT_FIELDS:
        text = getattr(header, name).encode("utf-8")
        out += encode_uvarint(len(text)) + text
    return bytes(out)


def decode_header(
    payload: bytes, base_offset: int, *, version: int = FORMAT_VERSION, path: Path | None = None
) -> SequenceHeader:
    """Parse a header payload that has already passed its CRC check.

    Args:
        payload (`bytes`): the header payload.
        base_offset (`int`): absolute file offset of ``payload[0]``, for error messages.
        version (`int`, *optional*): the file's format version (1 has a ``source_path`` field, dropped here).
        path (`Path`, *optional*): the file, for error messages.

    Raises:
        GNVCFormatError: a field is out of range, truncated or not valid UTF-8; the message names it.
    """
    cur = ByteCursor(payload, base_offset, "sequence header", path=path)
    raw: dict[str, object] = {}
    offsets: dict[str, int] = {}
    for name, fmt in HEADER_FIXED_FIELDS:
        offsets[name] = cur.offset
        (raw[name],) = cur.unpack(fmt, name)
    for name, limit in header_text_fields(version):
        offsets[name] = cur.offset
        length = cur.varint(f"{name}_length", limit)
        data = cur.take(length, name)
        try:
            raw[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise cur.error(f"{name} is not valid UTF-8 ({exc.reason})", field=name, offset=offsets[name]) from None
    cur.expect_end()

    flags = raw["refine_flags"]
    assert isinstance(flags, int)
    if flags & ~RefineFlag.ENABLED:
        raise cur.error(
            f"reserved bits set in refine_flags (0x{flags:02x})", field="refine_flags", offset=offsets["refine_flags"]
        )
    try:
        refine = RefineSettings(
            enabled=bool(flags & RefineFlag.ENABLED),
            t_start=raw["refine_t_start"],  # type: ignore[arg-type]
            steps=raw["refine_steps"],  # type: ignore[arg-type]
            window=raw["refine_window"],  # type: ignore[arg-type]
            overlap=raw["refine_overlap"],  # type: ignore[arg-type]
            seed=raw["refine_seed"],  # type: ignore[arg-type]
        )
    except FieldValueError as exc:
        name = _REFINE_FILE_FIELDS[exc.field]
        raise cur.error(f"invalid {name}: {exc}", field=name, offset=offsets[name]) from None
    try:
        return SequenceHeader(
            **{name: raw[name] for name, _ in HEADER_FIXED_FIELDS if not name.startswith("refine_")},  # type: ignore[arg-type]
            # version 1's source_path is checked above and dropped here
            **{name: raw[name] for name, _ in HEADER_TEXT_FIELDS},  # type: ignore[arg-type]
            refine=refine,
        )
    except FieldValueError as exc:
        raise cur.error(f"invalid {exc.field}: {exc}", field=exc.field, offset=offsets[exc.field]) from None
