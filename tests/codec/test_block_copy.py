"""Copy blocks: fields that round-trip through real range-coded strings, copies the decoder composes exactly as the
encoder did, still and panning frames that cost next to nothing, and damaged fields that are clear errors."""

import random

import numpy as np
import pytest
import torch

from ffmpeg_bridge import open_source
from tests.support.decode_checks import assert_decodes_to_reconstruction
from tests.support.tiny_model import tiny_patch_model
from vsgnvc.codec import block_copy
from vsgnvc.codec.block_copy import CopyField
from vsgnvc.codec.decoder import Decoder, ModelMismatchError
from vsgnvc.codec.encoder import Encoder, EncodeSettings
from vsgnvc.codec.gop_codec import copy_block, decode_gop_latents, encode_gop, latents_to_rgb
from vsgnvc.codec.presets import SymbolSearch
from vsgnvc.models.bundle import GnvcModel
from vsgnvc.models.latent_codec import ContextualLatentCodec
from vsgnvc.train.data import decode_rgb

C = 4
LAMBDAS = [10.0, 40.0, 160.0]  # tiny_patch_model's


def _model(pixel_copy_block: int = 8) -> GnvcModel:
    return tiny_patch_model(gop_size=5, motion_block=4, pixel_copy_block=pixel_copy_block, pixel_copy_search=4)


@pytest.fixture(scope="module")
def model() -> GnvcModel:
    return _model()


@pytest.fixture(scope="module")
def picture(bikes_clip) -> torch.Tensor:
    """One real frame (bikes, 80x40) in [-1, 1], ``[3, H, W]``."""
    rgb = decode_rgb(bikes_clip, 40, 1)[0, :, 8:88]
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 127.5 - 1


def _random_field(rng: random.Random, shape: tuple[int, int], radius: int, p: float) -> CopyField:
    copied = torch.tensor([[rng.random() < p for _ in range(shape[1])] for _ in range(shape[0])])
    vectors = torch.tensor([[[rng.randint(-radius, radius) for _ in range(2)] for _ in range(shape[1])] for _ in range(shape[0])])
    return CopyField(copied, vectors)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_fields_round_trip(p):
    rng = random.Random(3)
    previous = None
    for _ in range(4):
        field = _random_field(rng, (3, 7), 5, p)
        string = block_copy.compress_field(field, previous, 5)
        back = block_copy.decompress_field(string, (3, 7), previous, 5)
        assert torch.equal(back.copied, field.copied)
        assert torch.equal(back.vectors[field.copied], field.vectors[field.copied])
        assert back.whole_frame == (p == 1.0)
        previous = field


def test_a_still_or_panning_field_costs_a_few_bytes():
    shape = (12, 20)
    for vector in ((0, 0), (2, -3)):
        field = CopyField(torch.ones(shape, dtype=torch.bool), torch.tensor(vector).expand(*shape, 2).clone())
        assert len(block_copy.compress_field(field, None, 8)) <= 12


def test_out_of_range_vectors_are_refused():
    field = CopyField(torch.ones(1, 2, dtype=torch.bool), torch.tensor([[[0, 9], [0, 0]]]))
    with pytest.raises(ValueError, match="outside the search range 8"):
        block_copy.compress_field(field, None, 8)


def test_damaged_fields_decode_to_fields_or_raise_value_error():
    rng = random.Random(5)
    for _ in range(60):
        data = bytes(rng.randrange(256) for _ in range(4 * rng.randint(0, 6)))
        try:
            field = block_copy.decompress_field(data, (4, 5), None, 3)
        except ValueError:
            continue
        assert field.copied.shape == (4, 5) and int(field.vectors.abs().max()) <= 3


def test_moved_blocks_read_the_previous_frame_at_their_vector(picture):
    vectors = torch.zeros(5, 10, 2, dtype=torch.int64)
    vectors[1, 2] = torch.tensor([-2, 3])
    moved = block_copy.move_blocks(picture, vectors, 8)
    assert torch.equal(moved[:, 8:16, 16:24], picture[:, 6:14, 19:27])
    assert torch.equal(moved[:, :8], picture[:, :8])
    vectors[0, 0] = torch.tensor([-4, -4])  # off the picture: edges replicated
    assert torch.equal(block_copy.move_blocks(picture, vectors, 8)[:, 0, 0], picture[:, 0, 0])


def test_compose_takes_copied_cells_from_the_previous_frame(picture):
    decoded = -picture
    copied = torch.zeros(5, 10, dtype=torch.bool)
    copied[2, 3] = True
    shown = block_copy.compose(picture, decoded, CopyField(copied, torch.zeros(5, 10, 2, dtype=torch.int64)), 8)
    assert torch.equal(shown[:, 16:24, 24:32], picture[:, 16:24, 24:32])
    assert torch.equal(shown[:, :16], decoded[:, :16])


def test_search_finds_a_pan(picture):
    pan = torch.roll(picture, shifts=(1, -3), dims=(1, 2))  # content moves down 1 and left 3
    vectors, sse = block_copy.search_vectors(picture, pan, 8, 4, bits_per_sse=100.0)
    inner = vectors[1:-1, 1:-1].reshape(-1, 2)
    assert (inner == torch.tensor([-1, 3])).all(dim=1).float().mean() > 0.9
    assert float(sse[1:-1, 1:-1].max()) < 1e-9


def _gop(model: GnvcModel, frames: torch.Tensor, search: SymbolSearch = SymbolSearch(0, 0)):
    strings, encoded = encode_gop(model, frames, 1, search)
    decoded = decode_gop_latents(model, strings, (frames.shape[2] // 8, frames.shape[3] // 8), 1)
    return strings, encoded, decoded


def test_still_frames_are_sent_as_copies(model, picture):
    first = picture[:, None, 4:36, :64]
    _, intra, _ = _gop(model, first)
    shown = latents_to_rgb(model, intra.latents, 1)  # later frames show what the decoder already has
    frames = torch.cat([first, shown.expand(-1, 4, -1, -1)], 1).contiguous()
    strings, encoded, decoded = _gop(model, frames)
    assert [c is None for c in decoded.copies] == [True, False, False, False, False]
    assert all(c.whole_frame for c in decoded.copies[1:])
    assert all(not any(s[:-1]) and len(s[-1]) <= 4 for s in strings[1:])  # no latent, a few bytes of field
    rgb = latents_to_rgb(model, decoded.latents, 1, decoded.copies)
    assert torch.equal(rgb, latents_to_rgb(model, encoded.latents, 1, encoded.copies))
    assert all(torch.equal(rgb[:, t], rgb[:, 0]) for t in range(1, 5))  # the intra frame, unchanged


def test_moving_frames_mix_copies_and_decodes_as_the_encoder_chose(model, bikes_clip):
    rgb = decode_rgb(bikes_clip, 32, 40)[::8, :, :64]  # 5 frames 8 apart: cyclists moved
    frames = torch.from_numpy(np.ascontiguousarray(rgb)).permute(3, 0, 1, 2).float() / 127.5 - 1
    strings, encoded, decoded = _gop(model, frames, SymbolSearch(intra_iterations=5, inter_iterations=3))
    for a, b in zip(encoded.copies[1:], decoded.copies[1:], strict=True):
        assert torch.equal(a.copied, b.copied) and torch.equal(a.vectors[a.copied], b.vectors[a.copied])
    assert torch.equal(encoded.latents, decoded.latents)
    shown = latents_to_rgb(model, decoded.latents, 1, decoded.copies)
    plain = latents_to_rgb(model, decoded.latents, 1)
    assert torch.allclose(shown[:, 0], plain[:, 0], atol=1e-5)  # decoded in another batch: rounding differs
    error = lambda x: float((x - frames).pow(2).mean())  # noqa: E731
    assert error(shown) < error(plain)  # the encoder only copies where copying is closer


def test_damaged_copy_strings_are_value_errors(model, picture):
    frames = picture[:, None].expand(-1, 3, -1, -1)[:, :, 4:36, :64].contiguous()
    strings, _, _ = _gop(model, frames)
    frame = strings[1]
    with pytest.raises(ValueError, match="copy frame with latent strings"):
        decode_gop_latents(model, (strings[0], (b"\x01", *frame[1:])), (4, 8), 1)
    with pytest.raises(ValueError, match="without strings"):
        decode_gop_latents(model, (strings[0], ()), (4, 8), 1)


def test_copy_blocks_need_lambdas_and_a_known_cell_size():
    with pytest.raises(ValueError, match="pixel_copy_block must be one of"):
        ContextualLatentCodec(latent_channels=C, rate_lambdas=LAMBDAS, num_rates=3, pixel_copy_block=12)
    with pytest.raises(ValueError, match="needs rate_lambdas"):
        ContextualLatentCodec(latent_channels=C, num_rates=3, pixel_copy_block=16)
    assert copy_block(_model(0)) == 0


def test_files_with_copy_blocks_decode_to_the_encoders_reconstruction(model, small_clip_y4m, tmp_path):
    folder = tmp_path / "tiny-copy"
    model.save_pretrained(folder)
    reloaded = GnvcModel.from_pretrained(folder)
    assert copy_block(reloaded) == 8
    out, recon = tmp_path / "clip.gnvc", {}
    info, frames = open_source(small_clip_y4m)
    Encoder(reloaded, "cpu").encode(
        info, frames, out, 13, EncodeSettings(rate=1), on_reconstruction=lambda k, first, f: recon.update({k: f}),
        progress=False,
    )
    assert_decodes_to_reconstruction(out, reloaded, recon)
    with Decoder(out, reloaded, "cpu", cache_gops=1) as dec:
        assert len(list(dec.frames())) == 13
    # The same weights without copy blocks read other strings: the file names its model, not just its weights.
    plain = GnvcModel(reloaded.vae, reloaded.codec.with_coding_options(pixel_copy_block=0), reloaded.index)
    plain.save_pretrained(tmp_path / "tiny-plain")
    with pytest.raises(ModelMismatchError, match="pass the matching model folder"):
        Decoder(out, GnvcModel.from_pretrained(tmp_path / "tiny-plain"), "cpu")
