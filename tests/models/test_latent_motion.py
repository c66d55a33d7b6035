"""Latent motion compensation: the warp, the search, the vector strings, and the patch codec coding with them."""

import pytest
import torch
import torch.nn.functional as F

from vsgnvc.models.latent_codec import ContextualLatentCodec
from vsgnvc.models.latent_motion import (
    PRECISION,
    compress_vectors,
    decompress_vectors,
    field_shape,
    search_vectors,
    warp,
)

C = 4


def _smooth_latent(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Random but smooth content, so a shift is a real change and the search has a single best answer."""
    noise = torch.randn(1, C, h // 2 + 2, w // 2 + 2, generator=torch.Generator().manual_seed(seed)) * 3
    return F.interpolate(noise, size=(h + 8, w + 8), mode="bicubic", align_corners=False)


def _codec(**options) -> ContextualLatentCodec:
    torch.manual_seed(0)
    m = 4 * C
    codec = ContextualLatentCodec(
        latent_channels=C, hidden_channels=16, y_channels=m, z_channels=8, context_channels=4, num_rates=3,
        rate_lambdas=[10.0, 40.0, 160.0], transform="patch", **options,
    )  # fmt: skip
    q, _ = torch.linalg.qr(torch.randn(m, m, generator=torch.Generator().manual_seed(1)))
    codec.set_patch_statistics(torch.zeros(m), q, torch.full((m,), 1e-3))
    codec.update()
    return codec.eval()


def test_warp_by_whole_latent_pixels_copies_and_zero_is_identity():
    ref = torch.randn(1, C, 16, 24)
    assert warp(ref, torch.zeros(1, 2, 2, 3, dtype=torch.int64), 8) is ref
    right_two = torch.zeros(1, 2, 2, 3, dtype=torch.int64)
    right_two[:, 0] = 2 * PRECISION  # output x reads the reference at x + 2
    moved = warp(ref, right_two, 8)
    assert torch.allclose(moved[..., :-2], ref[..., 2:], atol=1e-5)
    assert torch.allclose(moved[..., -2:], ref[..., -1:].expand(-1, -1, -1, 2), atol=1e-5)  # edges replicated
    half = torch.zeros(1, 2, 2, 3, dtype=torch.int64)
    half[:, 1] = PRECISION // 2
    assert torch.allclose(warp(ref, half, 8)[..., :-1, :], (ref[..., :-1, :] + ref[..., 1:, :]) / 2, atol=1e-5)


def test_search_finds_a_pan_to_the_quarter_pixel():
    big = _smooth_latent(16, 24)
    reference = big[..., 4:20, 4:28]
    # current(x, y) = reference(x + 1.25, y - 0.5): a pan the quarter-pixel grid holds exactly
    pan = torch.tensor([5, -2]).view(1, 2, 1, 1).expand(1, 2, *big.shape[-2:])
    current = warp(big, pan, 1)[..., 4:20, 4:28]

    def cost(error: torch.Tensor) -> torch.Tensor:
        energy = error.pow(2).sum(1, keepdim=True)
        return F.avg_pool2d(energy, 8, divisor_override=1)[:, 0] * 1e3

    vectors = search_vectors(current, reference, cost, block=8, search=2)
    assert vectors.shape == (1, 2, 2, 3)
    assert torch.all(vectors[:, 0] == 5) and torch.all(vectors[:, 1] == -2)
    assert torch.all(search_vectors(reference, reference, cost, block=8, search=2) == 0)


def test_vector_strings_round_trip_and_no_motion_costs_nothing():
    codec = _codec()
    field = torch.randint(-9, 10, (1, 2, 3, 5), generator=torch.Generator().manual_seed(2))
    string = compress_vectors(field, codec.gaussian_conditional)
    assert torch.equal(decompress_vectors(string, (3, 5), codec.gaussian_conditional), field)
    pan = torch.zeros(1, 2, 3, 5, dtype=torch.int64)
    pan[:, 0] = 6
    pan_string = compress_vectors(pan, codec.gaussian_conditional)
    assert len(pan_string) < len(string) and len(pan_string) <= 6  # one vector and 30 zero differences
    assert torch.equal(decompress_vectors(pan_string, (3, 5), codec.gaussian_conditional), pan)
    assert compress_vectors(torch.zeros(1, 2, 3, 5, dtype=torch.int64), codec.gaussian_conditional) == b""
    assert torch.equal(decompress_vectors(b"", (3, 5), codec.gaussian_conditional), torch.zeros(1, 2, 3, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="motion string names scale table 200, the codec has 64"):
        decompress_vectors(bytes([200, 1, 2]), (3, 5), codec.gaussian_conditional)
    assert field_shape((23, 40), 8) == (3, 5)


def _code_pan(codec: ContextualLatentCodec, frames: int = 4) -> tuple[int, list[torch.Tensor]]:
    """A smooth latent panning one latent pixel per frame, coded and decoded through real strings: (inter bytes,
    decoded latents); the decoder's latents must equal the encoder's."""
    big = _smooth_latent(16, 24 + frames, seed=3)
    latents = [big[..., 4:20, 4 + t : 28 + t] for t in range(frames)]
    prev_enc = prev_dec = None
    inter_bytes, decoded_latents = 0, []
    for t, latent in enumerate(latents):
        code = codec.compress_frame(latent, prev_enc, 2)
        decoded = codec.decompress_frame(code.strings, (16, 24), prev_dec, 2)
        assert torch.equal(decoded.latent, code.latent) and torch.equal(decoded.symbols, code.symbols)
        assert len(code.strings) == (2 if t == 0 or not codec.motion_block else 3)
        inter_bytes += sum(map(len, code.strings)) if t else 0
        decoded_latents.append(decoded.latent)
        prev_enc, prev_dec = code, decoded
    return inter_bytes, decoded_latents


def test_motion_makes_a_pan_cheaper_at_the_same_error_bound():
    still_bytes, _ = _code_pan(_codec())
    moving_bytes, decoded = _code_pan(_codec(motion_block=8))
    assert moving_bytes < 0.7 * still_bytes
    codec = _codec(motion_block=8)
    step = (1 / codec.inter_gain[2] if codec.has_inter_tables else 1 / codec.gain[2]).float().view(1, -1, 1, 1)
    big = _smooth_latent(16, 28, seed=3)
    for t, latent in enumerate(decoded):  # closed loop: within the dead zone of every coefficient, every frame
        err = (codec.patch_transform(latent) - codec.patch_transform(big[..., 4:20, 4 + t : 28 + t])).abs()
        assert torch.all(err <= (0.5 + codec.config.inter_deadzone) * step + 1e-3)


def test_inter_frames_of_a_moving_codec_need_their_motion_string():
    codec = _codec(motion_block=8)
    latent = _smooth_latent(16, 24)[..., :16, :24]
    intra = codec.compress_frame(latent, None, 1)
    inter = codec.compress_frame(latent, intra, 1)
    assert inter.strings[2] == b""  # nothing moved
    with pytest.raises(ValueError, match=r"expected 3 strings \(y, z, motion\) per inter frame, got 2"):
        codec.decompress_frame(inter.strings[:2], (16, 24), intra, 1)
    with pytest.raises(ValueError, match=r"expected 2 strings \(y, z\) per intra frame, got 3"):
        codec.decompress_frame(inter.strings, (16, 24), None, 1)


def test_motion_options_are_checked_and_set_on_a_trained_codec(tmp_path, capsys):
    with pytest.raises(ValueError, match="codec motion_block needs the patch transform"):
        ContextualLatentCodec(latent_channels=8, y_channels=16, motion_block=4)
    with pytest.raises(ValueError, match="codec motion_block must be one of 2, 4, 8 and a multiple of patch_size"):
        ContextualLatentCodec(latent_channels=8, y_channels=32, transform="patch", motion_block=3)
    with pytest.raises(ValueError, match=r"codec motion_search must be in 1..8 latent pixels, got 12"):
        ContextualLatentCodec(latent_channels=8, y_channels=32, transform="patch", motion_block=4, motion_search=12)
    with pytest.raises(ValueError, match="not coding options: hidden_channels"):
        _codec().with_coding_options(hidden_channels=8)
    from vsgnvc.models.convert import main

    codec = _codec()
    codec.save_pretrained(tmp_path / "codec")
    assert main([str(tmp_path), "--motion-block", "8", "--motion-search", "2"]) == 0
    assert "motion_block = 8, motion_search = 2" in capsys.readouterr().out
    loaded = ContextualLatentCodec.from_pretrained(tmp_path / "codec")
    assert loaded.motion_block == 8 and loaded.config.motion_search == 2
    for key, value in codec.state_dict().items():  # what was learned is kept
        assert torch.equal(loaded.state_dict()[key], value), key
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--motion-block", "5"])
    assert "codec motion_block must be one of 2, 4, 8" in capsys.readouterr().err
    assert ContextualLatentCodec.from_pretrained(tmp_path / "codec").motion_block == 8  # nothing lost
