"""SequenceHeader / RefineSettings / GopRecord: writer-side validation and the header payload codec."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest

from tests.support.fuzz_bitstream import synthetic_header
from vsgnvc.bitstream import GopRecord, PixelFormatCode, RefineSettings, SequenceHeader
from vsgnvc.bitstream.gop import grid_spans
from vsgnvc.bitstream.header import decode_header, encode_header, max_header_payload

BASE = {
    "width": 640,
    "height": 272,
    "coded_width": 640,
    "coded_height": 288,
    "fps_num": 25,
    "fps_den": 1,
    "num_frames": 96,
    "pix_fmt": PixelFormatCode.YUV420P8,
    "color_range": 0,
    "matrix": 1,
    "transfer": 1,
    "primaries": 1,
    "gop_size": 25,
    "rate_index": 2,
    "model_name": "gnvc-vd-s",
    "weights_hash": bytes(range(16)),
}


def make(**overrides: object) -> SequenceHeader:
    return SequenceHeader(**{**BASE, **overrides})  # type: ignore[arg-type]


def test_grid_of_the_paper_protocol() -> None:
    assert grid_spans(96, 25) == (range(0, 25), range(25, 50), range(50, 75), range(75, 96))


@pytest.mark.parametrize(("num_frames", "gop_size", "gops"), [(1, 1, 1), (1, 4096, 1), (10, 5, 2), (11, 5, 3)])
def test_grid_spans(num_frames: int, gop_size: int, gops: int) -> None:
    spans = grid_spans(num_frames, gop_size)
    assert len(spans) == gops and sum(len(s) for s in spans) == num_frames


def test_defaults() -> None:
    header = make()
    assert (header.sar_num, header.sar_den, header.encoder) == (1, 1, "")
    assert header.refine == RefineSettings(enabled=True, t_start=0.7, steps=5, window=7, overlap=2, seed=0)


def test_normalises_numpy_and_int_codes() -> None:
    header = make(width=np.int64(64), coded_width=np.uint16(64), pix_fmt=1, weights_hash=bytearray(16))
    assert type(header.width) is int and header.width == 64
    assert header.pix_fmt is PixelFormatCode.YUV420P10
    assert type(header.weights_hash) is bytes
    assert hash(header) == hash(make(width=64, coded_width=64, pix_fmt=1, weights_hash=bytes(16)))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"width": 0}, "width"),
        ({"width": 16385, "coded_width": 16385}, "width"),
        ({"height": 100_000, "coded_height": 100_000}, "height"),
        ({"coded_width": 639}, "coded_width"),
        ({"coded_height": 16385}, "coded_height"),
        ({"fps_num": 0}, "fps_num"),
        ({"fps_den": 2**32}, "fps_den"),
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": 10_000_001}, "num_frames"),
        ({"pix_fmt": 5}, "pix_fmt"),
        ({"color_range": 2}, "color_range"),
        ({"matrix": 256}, "matrix"),
        ({"transfer": -1}, "transfer"),
        ({"primaries": 300}, "primaries"),
        ({"sar_num": 0}, "sar_num"),
        ({"sar_den": 0}, "sar_den"),
        ({"gop_size": 0}, "gop_size"),
        ({"gop_size": 4097}, "gop_size"),
        ({"rate_index": 256}, "rate_index"),
        ({"model_name": "x" * 256}, "model_name"),
        ({"model_name": "é" * 128}, "model_name"),  # 256 bytes in UTF-8
        ({"model_name": "\udc80"}, "model_name"),  # lone surrogate: not encodable
        ({"weights_hash": bytes(15)}, "weights_hash"),
        ({"weights_hash": bytes(32)}, "weights_hash"),
        ({"encoder": "e" * 256}, "encoder"),
    ],
)
def test_header_range_errors_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"SequenceHeader\.{field}\b"):
        make(**overrides)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"width": 64.0}, TypeError),
        ({"width": True}, TypeError),
        ({"model_name": b"bytes"}, TypeError),
        ({"weights_hash": "0" * 16}, TypeError),
        ({"refine": {"steps": 5}}, TypeError),
    ],
)
def test_header_type_errors(overrides: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        make(**overrides)


def test_limits_are_inclusive() -> None:
    make(
        width=16384,
        height=16384,
        coded_width=16384,
        coded_height=16384,
        num_frames=10_000_000,
        gop_size=4096,
        model_name="m" * 255,
        encoder="e" * 255,
        fps_num=2**32 - 1,
        fps_den=2**32 - 1,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"t_start": 0.0}, "t_start"),
        ({"t_start": 1.0}, "t_start"),
        ({"t_start": math.nan}, "t_start"),
        ({"t_start": math.inf}, "t_start"),
        ({"steps": 0}, "steps"),
        ({"steps": 101}, "steps"),
        ({"window": 0, "overlap": 0}, "window"),
        ({"window": 257}, "window"),
        ({"overlap": 7}, "overlap"),
        ({"overlap": -1}, "overlap"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
    ],
)
def test_refine_errors_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"RefineSettings\.{field}\b"):
        RefineSettings(**overrides)  # type: ignore[arg-type]


def test_refine_types() -> None:
    with pytest.raises(TypeError):
        RefineSettings(t_start="0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RefineSettings(enabled=2)  # type: ignore[arg-type]
    assert RefineSettings(t_start=np.float32(0.5), steps=np.int8(3)).steps == 3


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().width = 3  # type: ignore[misc]


def test_payload_round_trip_random_headers() -> None:
    rng = random.Random(7)
    for _ in range(200):
        header = synthetic_header(rng, encoder=rng.choice(["", "ü" * 127, "vsgnvc 0.1.0"]))
        payload = encode_header(header)
        assert len(payload) <= max_header_payload()
        assert decode_header(payload, 12) == header


def test_the_header_stores_no_source_path() -> None:
    """Version 2 has no field for where the source was: files leak no paths and do not depend on them."""
    assert "source_path" not in {f.name for f in dataclasses.fields(SequenceHeader)}
    with pytest.raises(TypeError):
        make(source_path="/home/someone/clip.mp4")


def test_largest_header_hits_the_documented_maximum() -> None:
    header = make(model_name="m" * 255, encoder="e" * 255)
    assert len(encode_header(header)) == max_header_payload() == 588
    assert max_header_payload(version=1) == 4686  # version 1 had a 4096-byte source_path


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"index": -1}, ValueError),
        ({"num_frames": 0}, ValueError),
        ({"num_frames": 4097}, ValueError),
        ({"latent_frames": ()}, ValueError),
        ({"latent_frames": ((b"",),) * 1025}, ValueError),
        ({"latent_frames": ((),)}, ValueError),
        ({"latent_frames": ((b"",) * 9,)}, ValueError),
        ({"latent_frames": (b"abc",)}, TypeError),
        ({"latent_frames": (("abc",),)}, TypeError),
        ({"latent_frames": b"abc"}, TypeError),
        ({"scene_cut": 2}, TypeError),
    ],
)
def test_gop_record_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    base: dict[str, object] = {
        "index": 0,
        "first_frame": 0,
        "num_frames": 5,
        "scene_cut": False,
        "latent_frames": ((b"y", b"z"),),
    }
    with pytest.raises(error):
        GopRecord(**{**base, **kwargs})  # type: ignore[arg-type]


def test_gop_record_normalises_sequences() -> None:
    gop = GopRecord(0, 0, 5, np.bool_(True), [[bytearray(b"y"), memoryview(b"z")], (b"",)])  # type: ignore[arg-type]
    assert gop.latent_frames == ((b"y", b"z"), (b"",))
    assert gop.scene_cut is True
    assert gop.payload_bytes == 2
