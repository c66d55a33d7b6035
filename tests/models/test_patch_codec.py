"""The patch latent codec: a weighted transform coder at init, real range-coded round trips, its statistics."""

import json
import math

import pytest
import torch

from vsgnvc.models.frame_autoencoder import FrameAutoencoder
from vsgnvc.models.latent_codec import ContextualLatentCodec, PatchTransform
from vsgnvc.train.patch_statistics import decoder_sensitivity, flattened_sensitivity, patch_basis
from vsgnvc.train.stages import code_sequence

C = 4  # latent channels; y has 4 x C coefficients


def _orthonormal(m: int, seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(m, m, generator=torch.Generator().manual_seed(seed)))
    return q


def _codec(sensitivity: torch.Tensor | None = None, patch: int = 2) -> ContextualLatentCodec:
    torch.manual_seed(0)
    m = patch**2 * C
    codec = ContextualLatentCodec(
        latent_channels=C, hidden_channels=16, y_channels=m, z_channels=8, context_channels=4, num_rates=3,
        rate_lambdas=[10.0, 40.0, 160.0], transform="patch", patch_size=patch,
    )  # fmt: skip
    weights = sensitivity if sensitivity is not None else torch.linspace(2e-5, 2e-4, m)
    codec.set_patch_statistics(torch.linspace(-0.5, 0.5, m), _orthonormal(m), weights)
    return codec


def _steps(codec: ContextualLatentCodec, rate: int) -> torch.Tensor:
    return (-codec.log_gain[rate].detach()).exp()


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_transform_inverts_its_analysis(patch):
    t = PatchTransform(C, patch)
    t.set_basis(torch.randn(patch**2 * C), _orthonormal(patch**2 * C))
    x = torch.randn(2, C, 8, 12)
    assert torch.allclose(t.inverse(t(x)), x, atol=1e-5)
    assert torch.allclose(t.inverse(t(x) - t(x * 0), with_mean=False), x, atol=1e-5)


def test_steps_start_from_lambda_and_sensitivity():
    sens = torch.full((4 * C,), 1e-4)
    sens[3] = 4e-4  # four times as sensitive: half the step
    codec = _codec(sens)
    for rate, lam in enumerate(codec.config.rate_lambdas):
        steps = _steps(codec, rate)
        assert steps[0].item() == pytest.approx(math.sqrt(6 / (256 * math.log(2) * lam * 1e-4)), rel=1e-5)
        assert steps[3].item() == pytest.approx(steps[0].item() / 2, rel=1e-5)
    assert torch.all(_steps(codec, 0) > _steps(codec, 2))


def test_4x4_patch_steps_count_four_times_the_pixels_per_coefficient():
    sens = torch.full((16 * C,), 1e-4)
    codec = _codec(sens, patch=4)
    lam = codec.config.rate_lambdas[0]
    assert _steps(codec, 0)[0].item() == pytest.approx(math.sqrt(6 / (1024 * math.log(2) * lam * 1e-4)), rel=1e-5)


@pytest.mark.parametrize("patch", [2, 4])
def test_untrained_patch_codec_is_closed_loop_quantisation_of_coefficients(patch):
    codec = _codec(patch=patch).eval()
    latents = torch.randn(2, C, 5, 8, 16) * 3
    for rate in range(codec.num_rates):
        with torch.no_grad():
            out = code_sequence(codec, latents, torch.tensor([rate, rate]))
        steps = _steps(codec, rate).view(1, -1, 1, 1)
        for t in range(latents.shape[2]):
            # Every frame, intra and inter, is within half a step per coefficient: errors cannot build up.
            err = (codec.patch_transform(out["latent_hat"][:, :, t]) - codec.patch_transform(latents[:, :, t])).abs()
            assert torch.all(err <= steps / 2 + 1e-4), (rate, t)
            assert torch.any(err > steps / 8)


def test_distortion_weighs_each_coefficient_by_its_sensitivity():
    codec = _codec()
    basis, weights = codec.distortion_basis, codec.distortion_weights
    err = torch.zeros(1, 4 * C, 1, 2, 3)  # 2 x 3 patches; an error in one of them
    err[0, :, 0, 0, 1] = 0.7 * basis[5]
    latent_err = torch.nn.functional.pixel_shuffle(err[:, :, 0], 2).unsqueeze(2)
    zero = torch.zeros_like(latent_err)
    expected = weights[5] * 0.49 / 6  # averaged over the 6 patch positions
    assert codec.distortion(latent_err, zero).item() == pytest.approx(expected.item(), rel=1e-4)


def _coded_errors(codec: ContextualLatentCodec, rate: int, frames: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(|coefficient error|, step) per frame of random latents coded through real strings; the decoder's latent
    and symbols must equal the encoder's."""
    latents = torch.randn(1, C, frames, 8, 16) * 2
    step = (1 / codec.gain[rate]).float().view(1, -1, 1, 1)
    prev_enc = prev_dec = None
    errors = []
    for t in range(frames):
        code = codec.compress_frame(latents[:, :, t], prev_enc, rate)
        decoded = codec.decompress_frame(code.strings, (8, 16), prev_dec, rate)
        assert torch.equal(decoded.latent, code.latent) and torch.equal(decoded.symbols, code.symbols)
        errors.append(((codec.patch_transform(decoded.latent) - codec.patch_transform(latents[:, :, t])).abs(), step))
        prev_enc, prev_dec = code, decoded
    return errors


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_codec_round_trips_through_real_strings(patch):
    codec = _codec(patch=patch)
    codec.update()
    for err, step in _coded_errors(codec, 1):
        assert torch.all(err <= step / 2 + 1e-3)


def test_transform_options_are_checked():
    with pytest.raises(ValueError, match="codec transform must be one of learned, patch, got 'wavelet'"):
        ContextualLatentCodec(latent_channels=8, y_channels=8, transform="wavelet")
    with pytest.raises(ValueError, match=r"y_channels \(16\) must be 4 x latent_channels \(8\)"):
        ContextualLatentCodec(latent_channels=8, y_channels=16, transform="patch")
    with pytest.raises(ValueError, match=r"4x4 latent patches: y_channels \(32\) must be 16 x latent_channels"):
        ContextualLatentCodec(latent_channels=8, y_channels=32, transform="patch", patch_size=4)
    with pytest.raises(ValueError, match="codec patch_size must be one of 2, 4, got 3"):
        ContextualLatentCodec(latent_channels=8, y_channels=72, transform="patch", patch_size=3)
    with pytest.raises(ValueError, match="latent size 8x12 must be a multiple of 8"):
        codec = _codec(patch=4)
        codec.update()
        codec.compress_frame(torch.zeros(1, C, 8, 12), None, 0)
    with pytest.raises(ValueError, match="set_patch_statistics needs the patch transform"):
        ContextualLatentCodec(latent_channels=8, y_channels=16).set_patch_statistics(
            torch.zeros(16), torch.eye(16), torch.ones(16)
        )


def test_patch_basis_is_orthonormal_and_sorted_by_variance():
    gen = torch.Generator().manual_seed(1)
    latents = torch.randn(6, C, 3, 8, 8, generator=gen)
    latents[:, 1] = latents[:, 0] * 3 + 0.1 * latents[:, 1]  # two correlated channels
    mean, basis = patch_basis(latents, 2)
    assert torch.allclose(basis @ basis.T, torch.eye(4 * C), atol=1e-5)
    flat = torch.nn.functional.pixel_unshuffle(latents.permute(0, 2, 1, 3, 4).reshape(-1, C, 8, 8), 2)
    coef = torch.einsum("km,bmhw->bkhw", basis, flat - mean.view(1, -1, 1, 1))
    var = coef.var(dim=(0, 2, 3))
    assert torch.all(var[:-1] >= var[1:] - 1e-4)
    assert var[0] > 5 * var[-1]


@pytest.mark.parametrize("patch", [2, 4])
def test_decoder_sensitivity_is_zero_for_what_the_decoder_ignores(patch):
    torch.manual_seed(0)
    vae = FrameAutoencoder(latent_channels=C, width=8).eval()
    with torch.no_grad():
        vae.decoder[1].weight[:, 0] = 0  # the first convolution ignores latent channel 0
    latents = torch.randn(2, C, 1, 4, 8)
    m = patch**2 * C
    sens = decoder_sensitivity(vae, latents, torch.zeros(m), torch.eye(m), patch)
    # pixel_unshuffle puts channel 0's patch positions first
    assert torch.all(sens[: patch**2] == 0)
    assert torch.all(sens[patch**2 :] > 0)


def test_deadzone_widens_only_the_zero_bin():
    from vsgnvc.entropy.ops import deadzone_round

    x = torch.tensor([-2.4, -1.3, -0.8, -0.3, 0.0, 0.3, 0.8, 0.84, 0.86, 1.3, 1.84, 1.86])
    assert deadzone_round(x, 0.0).tolist() == torch.round(x).tolist()
    assert deadzone_round(x, 0.35).tolist() == [-2, -1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2]


def test_inter_deadzone_codes_what_plain_rounding_would_and_no_more():
    codec = ContextualLatentCodec(**{**_codec().config, "inter_deadzone": 0.35})
    codec.load_state_dict(_codec().state_dict())
    codec.update()
    for t, (err, step) in enumerate(_coded_errors(codec, 0)):
        # intra: half a step; inter: up to 0.85 steps (the wider zero bin), never more
        assert torch.all(err <= step * (0.5 if t == 0 else 0.85) + 1e-3), t
    with pytest.raises(ValueError, match=r"inter_deadzone must be in \[0, 0.5\), got 0.5"):
        ContextualLatentCodec(latent_channels=8, y_channels=32, transform="patch", inter_deadzone=0.5)


def test_flattened_sensitivity_keeps_the_mean_and_goes_from_uniform_to_measured():
    sens = torch.tensor([1e-3, 4e-4, 1e-4, 1e-5])
    assert torch.allclose(flattened_sensitivity(sens, 1.0), sens)
    assert torch.allclose(flattened_sensitivity(sens, 0.0), sens.mean().expand(4))
    half = flattened_sensitivity(sens, 0.5)
    assert torch.isclose(half.mean(), sens.mean())
    assert torch.all(half.argsort() == sens.argsort())  # same order, narrower spread
    assert half.max() / half.min() < sens.max() / sens.min()


def test_inter_step_scale_codes_inter_frames_with_coarser_steps_through_real_strings(tmp_path):
    codec = _codec().with_coding_options(inter_step_scale=1.5)  # the inter tables come from update()
    errors = _coded_errors(codec, 1, frames=4)
    intra_err, step = errors[0]
    assert torch.all(intra_err <= step / 2 + 1e-3)
    inter_err = torch.cat([e for e, _ in errors[1:]])
    inter_step = (1 / codec.inter_gain[1]).float().view(1, -1, 1, 1)  # 1.5 x the intra step, on the gain grid
    assert torch.allclose(inter_step, 1.5 * step, rtol=2e-3)
    assert torch.all(inter_err <= inter_step / 2 + 1e-3)
    assert torch.any(inter_err > step / 2 + 1e-3)  # coarser than the intra step
    codec.save_pretrained(tmp_path)
    loaded = ContextualLatentCodec.from_pretrained(tmp_path)
    assert torch.equal(loaded.inter_gain, codec.inter_gain) and loaded.inter_step_scale == 1.5
    with pytest.raises(ValueError, match=r"codec inter_step_scale must be in \[0.25, 4\], got 5.0"):
        ContextualLatentCodec(latent_channels=8, y_channels=32, transform="patch", inter_step_scale=5.0)


def test_inter_step_scale_is_what_training_quantises_with():
    codec = _codec().with_coding_options(inter_step_scale=2.0)
    latents = torch.randn(1, C, 3, 8, 16) * 3
    with torch.no_grad():
        out = code_sequence(codec, latents, torch.tensor([0]))
    step = _steps(codec, 0).view(1, -1, 1, 1)
    for t, bound in enumerate((0.5, 1.0, 1.0)):  # half a step intra, half of twice the step inter
        err = (codec.patch_transform(out["latent_hat"][:, :, t]) - codec.patch_transform(latents[:, :, t])).abs()
        assert torch.all(err <= bound * step + 1e-4), t
    assert torch.any(err > 0.5 * step + 1e-4)


def test_convert_sets_the_inter_step_scale_of_a_saved_codec(tmp_path, capsys):
    from vsgnvc.models.convert import main

    codec = _codec()
    codec.update()
    codec.save_pretrained(tmp_path / "codec")
    config = tmp_path / "codec" / "config.json"  # written before the option existed
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "inter_step_scale"}))
    codec = ContextualLatentCodec.from_pretrained(tmp_path / "codec")
    (tmp_path / "codec" / "NOTES.txt").write_text("kept")
    assert main([str(tmp_path), "--inter-step-scale", "1.5"]) == 0
    loaded = ContextualLatentCodec.from_pretrained(tmp_path / "codec")
    assert loaded.inter_step_scale == 1.5 and (tmp_path / "codec" / "NOTES.txt").read_text() == "kept"
    assert torch.allclose(loaded.gain / loaded.inter_gain, torch.full_like(loaded.gain, 1.5), rtol=3e-3)
    before, after = codec.state_dict(), loaded.state_dict()
    for key, value in before.items():  # everything learned is kept, the intra tables too
        assert torch.equal(after[key], value), key
    errors = _coded_errors(loaded, 1)
    assert torch.all(errors[0][0] <= errors[0][1] / 2 + 1e-3)
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--inter-step-scale", "5"])
    assert "inter_step_scale must be in [0.25, 4], got 5.0" in capsys.readouterr().err
    assert ContextualLatentCodec.from_pretrained(tmp_path / "codec").inter_step_scale == 1.5  # nothing lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codec"]
