"""Regressions found by the decoder fuzz (benchmarks/fuzz_gnvc.py), checked directly."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.support.fuzz_bitstream import assemble
from vsgnvc.bitstream import GNVCFormatError, GnvcReader, PixelFormatCode
from vsgnvc.codec.decoder import Decoder


def test_damaged_strings_for_a_large_latent_decode_or_raise(tiny_model):
    """Short or garbage strings for a large latent: symbols or a ValueError, the same every time.

    compressai's rANS decoder read ~4 bytes per symbol past a short string; with a 16384-pixel-high
    header that ran into unmapped memory and killed the process (SIGSEGV). The range decoder now
    checks its bounds, so no padding is needed.
    """
    codec = tiny_model.codec
    latent = (8, 256)  # 64x2048 pixels
    rng = random.Random(3)
    index = torch.randint(0, 64, (1, codec.config.y_channels, latent[0] // 2, latent[1] // 2)).int()
    z_size = (latent[0] // 4, latent[1] // 4)
    outcomes = set()
    for string in (b"", b"\xff" * 64, rng.randbytes(7), rng.randbytes(300), bytes(40), rng.randbytes(4096)):
        for decode in (
            lambda s: codec.gaussian_conditional.decompress(s, index),
            lambda s: codec.entropy_bottleneck.decompress(s, z_size),
        ):
            try:
                first = decode(string)
            except ValueError:
                outcomes.add("error")
                with pytest.raises(ValueError):
                    decode(string)
            else:
                outcomes.add("decoded")
                assert torch.equal(first, decode(string))
    assert outcomes == {"error", "decoded"}


def test_words_after_a_valid_string_are_ignored(tiny_model):
    codec = tiny_model.codec
    latent = torch.randn(1, codec.config.latent_channels, 8, 12)
    code = codec.compress_frame(latent, None, 1)
    y, z = code.strings
    decoded = codec.decompress_frame((y + b"\xff" * 64, z + bytes(range(256))), (8, 12), None, 1)
    assert torch.equal(decoded.latent, code.latent)


def _rewritten(path: Path, out: Path, **changes) -> Path:
    with GnvcReader(path) as reader:
        header, gops = reader.header, list(reader)
    out.write_bytes(assemble(replace(header, **changes), gops))
    return out


@pytest.fixture(scope="module")
def small_file(fuzz_inputs) -> Path:
    return fuzz_inputs[0]  # 64x48, 9 frames, GOPs of 5


def test_coded_size_must_match_the_padding(small_file, tiny_model, tmp_path):
    bad = _rewritten(small_file, tmp_path / "coded.gnvc", coded_height=16384)
    with pytest.raises(GNVCFormatError, match=r"coded size 64x16384 does not match 64x48 padded to a multiple of 32"):
        Decoder(bad, tiny_model, "cpu")


def test_rgb24_header_is_a_format_error(small_file, tiny_model, tmp_path):
    bad = _rewritten(small_file, tmp_path / "rgb.gnvc", pix_fmt=PixelFormatCode.RGB24)
    with pytest.raises(GNVCFormatError, match="RGB24 cannot be output as YUV"):
        Decoder(bad, tiny_model, "cpu")


def test_consistent_larger_header_decodes_garbage_without_crashing(small_file, tiny_model, tmp_path, one_thread):
    """Strings for 64x48 read as 64x256: the decoder runs out of string and decodes whatever follows (zeros)."""
    big = _rewritten(small_file, tmp_path / "big.gnvc", height=256, coded_height=256)
    with one_thread(), Decoder(big, tiny_model, "cpu", refine=False) as dec:
        frames = list(dec.frames())
    assert len(frames) == 9 and frames[0][0].shape == (256, 64)
