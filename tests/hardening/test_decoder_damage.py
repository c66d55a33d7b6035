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
from vsgnvc.codec.gop_codec import padded_strings


def test_range_decoder_never_reads_past_the_padding(tiny_model):
    """Damaged strings for a large latent: bytes after the padding must not change what decodes.

    Unpadded, compressai's rANS decoder read ~4 bytes per symbol past a short string; with a
    16384-pixel-high header that ran into unmapped memory and killed the process (SIGSEGV).
    """
    codec = tiny_model.codec
    latent = (8, 256)  # 64x2048 pixels
    rng = random.Random(3)
    index = torch.randint(0, 64, (1, codec.config.y_channels, latent[0] // 2, latent[1] // 2)).int()
    for string in (b"", b"\xff" * 64, rng.randbytes(7), rng.randbytes(300), bytes(40)):
        y, z = padded_strings(tiny_model, (string, string), latent)
        for tail in (b"\xff" * 4096, bytes(range(256)) * 16):
            assert torch.equal(
                codec.gaussian_conditional.decompress([y], index, dtype=torch.float64),
                codec.gaussian_conditional.decompress([y + tail], index, dtype=torch.float64),
            )
            z_size = (latent[0] // 4, latent[1] // 4)
            assert torch.equal(
                codec.entropy_bottleneck.decompress([z], z_size),
                codec.entropy_bottleneck.decompress([z + tail], z_size),
            )


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
