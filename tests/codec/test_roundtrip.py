"""Real clip -> .gnvc -> frames, with a tiny real model."""

import subprocess
import sys

import numpy as np
import pytest

from ffmpeg_bridge import open_source, read_y4m
from tests.support.decode_checks import assert_decodes_to_reconstruction, decode_digest_in_subprocess, frames_digest
from vsgnvc.api import encode_file
from vsgnvc.bitstream import GNVCFormatError, GnvcReader
from vsgnvc.codec.decoder import Decoder, ModelMismatchError
from vsgnvc.codec.encoder import Encoder, EncodeSettings


@pytest.fixture(scope="module")
def encoded(tiny_model, small_clip_y4m, tmp_path_factory):
    out = tmp_path_factory.mktemp("enc") / "bikes.gnvc"
    recon: dict[int, list] = {}
    info, frames = open_source(small_clip_y4m)
    result = Encoder(tiny_model, "cpu").encode(
        info, frames, out, 13, EncodeSettings(rate=2), on_reconstruction=lambda k, first, f: recon.update({k: f}),
        progress=False,
    )
    return out, result, recon, info


def test_round_trip_keeps_count_size_fps(encoded, tiny_model):
    path, result, _, info = encoded
    assert result.num_bytes == path.stat().st_size > 0
    with Decoder(path, tiny_model, "cpu") as dec:
        assert dec.num_frames == 13 and dec.num_gops == 2
        assert (dec.info.width, dec.info.height, dec.info.fps) == (96, 40, info.fps)
        frames = list(dec.frames())
    assert len(frames) == 13
    assert [p.shape for p in frames[0]] == [(40, 96), (20, 48), (20, 48)]
    assert frames[0][0].dtype == np.uint8


def test_encoder_reconstruction_equals_decoder_output(encoded, tiny_model):
    path, _, recon, _ = encoded
    assert_decodes_to_reconstruction(path, tiny_model, recon)


def test_random_access_equals_sequential(encoded, tiny_model):
    path, *_ = encoded
    with Decoder(path, tiny_model, "cpu") as seq:
        frames = list(seq.frames())
    with Decoder(path, tiny_model, "cpu", cache_gops=1) as rnd:
        for n in (12, 3, 9, 0, 11):
            assert all(np.array_equal(a, b) for a, b in zip(rnd.get_frame(n), frames[n], strict=True))


def test_file_is_header_chunks_and_index(encoded):
    path, result, _, _ = encoded
    with GnvcReader(path) as reader:
        chunks = sum(reader.gop_size_bytes(k) for k in range(reader.num_gops))
        assert chunks == sum(result.gop_bytes)
    assert chunks < path.stat().st_size < chunks + 1024


def test_decode_in_other_process_and_thread_count_is_bit_identical(encoded, tiny_model_dir, tiny_model):
    path, *_ = encoded
    with Decoder(path, tiny_model, "cpu") as dec:
        here = frames_digest(dec.frames())
    for threads in (1, 2):
        assert decode_digest_in_subprocess(path, tiny_model_dir, threads) == here


def test_rates_order_bitrates(tiny_model, small_clip_y4m, tmp_path):
    sizes = []
    for rate in (0, 3):
        r = encode_file(small_clip_y4m, tmp_path / f"r{rate}.gnvc", tiny_model, EncodeSettings(rate=rate), device="cpu", progress=False)
        sizes.append(r.num_bytes)
    assert sizes[0] < sizes[1]


def test_truncated_and_corrupted_files_raise_format_error(encoded, tiny_model, tmp_path):
    path, *_ = encoded
    data = path.read_bytes()
    cut = tmp_path / "cut.gnvc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GNVCFormatError):
        Decoder(cut, tiny_model, "cpu")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x10
    bad = tmp_path / "flip.gnvc"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(GNVCFormatError), Decoder(bad, tiny_model, "cpu") as dec:
        list(dec.frames())


def test_other_weights_are_a_clear_error(encoded, tiny_model_dir, tmp_path):
    import torch

    from vsgnvc.models.bundle import GnvcModel

    path, *_ = encoded
    other = GnvcModel.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        next(other.codec.parameters()).add_(1.0)
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ModelMismatchError, match="written by model"):
        Decoder(path, GnvcModel.from_pretrained(tmp_path / "other"), "cpu")


def test_odd_frame_count_and_size_nothing_dropped(tiny_model, bikes_clip, tmp_path):
    out = tmp_path / "odd.gnvc"
    r = encode_file(bikes_clip, out, tiny_model, EncodeSettings(gop_size=5), max_frames=7, resize="50x22", device="cpu", progress=False)
    assert r.num_frames == 7
    with Decoder(out, tiny_model, "cpu") as dec:
        frames = list(dec.frames())
    assert len(frames) == 7 and frames[0][0].shape == (22, 50) and frames[0][1].shape == (11, 25)


def test_stdin_y4m_input_is_spooled(tiny_model_dir, small_clip_y4m, tmp_path):
    out = tmp_path / "stdin.gnvc"
    with open(small_clip_y4m, "rb") as f:
        proc = subprocess.run(
            [sys.executable, "-m", "vsgnvc.cli.main", "-q", "encode", "-", str(out), "--model", str(tiny_model_dir)],
            stdin=f, capture_output=True, text=True,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not list(tmp_path.glob(".gnvc-spool*"))
    with GnvcReader(out) as reader:
        assert reader.header.num_frames == 13


def test_decoded_y4m_matches_decoder(encoded, tiny_model, tiny_model_dir, tmp_path):
    path, *_ = encoded
    y4m = tmp_path / "out.y4m"
    proc = subprocess.run(
        [sys.executable, "-m", "vsgnvc.cli.main", "-q", "decode", str(path), "-o", str(y4m), "--model", str(tiny_model_dir)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with open(y4m, "rb") as f:
        info, frames = read_y4m(f)
        frames = list(frames)
    with Decoder(path, tiny_model, "cpu") as dec:
        expected = list(dec.frames())
    assert (info.width, info.height, len(frames)) == (96, 40, 13)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(frames, expected, strict=True))


