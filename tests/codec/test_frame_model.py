"""A model on a per-frame autoencoder (temporal factor 1) through the real encoder, bitstream and decoder."""

import numpy as np
import pytest
import torch

from ffmpeg_bridge import open_source
from tests.support.decode_checks import assert_decodes_to_reconstruction, decode_digest_in_subprocess, frames_digest
from vsgnvc.bitstream import GnvcReader
from vsgnvc.codec.color import rgb_to_yuv
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import Encoder, EncodeSettings
from vsgnvc.models.bundle import GnvcModel


@pytest.fixture(scope="module")
def frame_model(tiny_frame_model_dir):
    return GnvcModel.from_pretrained(tiny_frame_model_dir)


@pytest.fixture(scope="module")
def encoded(frame_model, small_clip_y4m, tmp_path_factory):
    out = tmp_path_factory.mktemp("enc") / "bikes.gnvc"
    recon: dict[int, list] = {}
    info, frames = open_source(small_clip_y4m)
    result = Encoder(frame_model, "cpu").encode(
        info,
        frames,
        out,
        13,
        EncodeSettings(rate=1),
        on_reconstruction=lambda k, first, f: recon.update({k: f}),
        progress=False,
    )
    return out, result, recon


def test_every_frame_is_a_latent_frame(encoded, frame_model):
    path, result, _ = encoded
    with Decoder(path, frame_model, "cpu") as dec:
        assert dec.num_gops == 3  # GOP 6 (not 1 + 4k): 6 + 6 + 1 frames
        frames = list(dec.frames())
    assert len(frames) == 13 and frames[0][0].shape == (40, 96)
    assert result.num_bytes == path.stat().st_size
    with GnvcReader(path) as reader:
        assert [len(reader.read_gop(k).latent_frames) for k in range(3)] == [6, 6, 1]


def test_encoder_reconstruction_equals_decoder_output(encoded, frame_model):
    path, _, recon = encoded
    assert_decodes_to_reconstruction(path, frame_model, recon)


def test_refined_decode_runs_and_differs_from_plain(encoded, frame_model):
    path, *_ = encoded
    with Decoder(path, frame_model, "cpu") as dec:
        plain = dec.gop_frames(0, refine=False)
        refined = dec.gop_frames(0, refine=True)
    assert len(refined) == len(plain) == 6
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(plain, refined, strict=True))


def test_decode_in_another_process_is_bit_identical(encoded, frame_model, tiny_frame_model_dir):
    path, *_ = encoded
    with Decoder(path, frame_model, "cpu") as dec:
        here = frames_digest(dec.frames())
    assert decode_digest_in_subprocess(path, tiny_frame_model_dir) == here


def test_rate_with_its_own_decoder_decodes_with_it(encoded, frame_model):
    path, *_ = encoded  # coded at rate 1, which the tiny frame model decodes with its own decoder
    vae = frame_model.vae
    assert vae.config.rate_decoders == [1]
    with Decoder(path, frame_model, "cpu") as dec:
        latents = dec.sequence.gop_latents(0).latents
        decoded = [f[0] for f in dec.gop_frames(0, refine=False)]
        info = dec.info
    own, shared = vae.decode(latents, 1)[0], vae.decode(latents, None)[0]
    assert torch.equal(vae.decode(latents, 0)[0], shared)  # rates without one use the shared decoder

    def luma(rgb):
        return [rgb_to_yuv(rgb[:, i, : info.height, : info.width], info.pix_fmt, info.color_range, info.matrix)[0]
                for i in range(len(decoded))]  # fmt: skip

    assert all(np.array_equal(a, b) for a, b in zip(luma(own), decoded, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(luma(shared), decoded, strict=True))
