"""The residual latent codec: plain closed-loop quantisation at init, real range-coded round trips."""

import pytest
import torch

from vsgnvc.models.latent_codec import ContextualLatentCodec
from vsgnvc.train.stages import code_sequence


def _codec(**kw) -> ContextualLatentCodec:
    torch.manual_seed(0)
    cfg = dict(latent_channels=8, hidden_channels=16, y_channels=8, z_channels=8, context_channels=8, num_rates=3)
    return ContextualLatentCodec(**{**cfg, **kw, "transform": "residual"})


def test_untrained_residual_codec_is_closed_loop_quantisation():
    codec = _codec().eval()
    latents = torch.randn(2, 8, 4, 8, 12)
    for rate in range(codec.num_rates):
        with torch.no_grad():
            out = code_sequence(codec, latents, torch.tensor([rate, rate]))
        step = float((-codec.log_gain[rate].detach()).exp().max())
        # Every frame, the first and those coded against their decoded predecessor, is within half a step:
        # the corrections start at zero, so errors cannot build up along the chain.
        err = (out["latent_hat"] - latents).abs().amax(dim=(0, 1, 3, 4))
        assert err.max() <= step / 2 + 1e-5, (rate, err)
        assert err.max() > step / 8  # it does quantise
    steps = (-codec.log_gain[:, 0].detach()).exp()
    assert steps[0] == pytest.approx(4.0, rel=0.02) and steps[-1] == pytest.approx(0.5, rel=0.02)


def test_residual_codec_round_trips_through_real_strings():
    codec = _codec()
    codec.update()
    latents = torch.randn(1, 8, 3, 8, 12) * 2
    prev_enc = prev_dec = None
    for t in range(3):
        code = codec.compress_frame(latents[:, :, t], prev_enc, 1)
        decoded = codec.decompress_frame(code.strings, (8, 12), prev_dec, 1)
        assert torch.equal(decoded.latent, code.latent) and torch.equal(decoded.symbols, code.symbols)
        assert (decoded.latent - latents[:, :, t]).abs().max() <= float((-codec.log_gain[1].detach()).exp().max()) / 2 + 1e-4
        prev_enc, prev_dec = code, decoded


def test_transform_options_are_checked():
    with pytest.raises(ValueError, match="codec transform must be one of learned, residual, got 'wavelet'"):
        ContextualLatentCodec(latent_channels=8, y_channels=8, transform="wavelet")
    with pytest.raises(ValueError, match=r"y_channels \(16\) must equal latent_channels \(8\)"):
        ContextualLatentCodec(latent_channels=8, y_channels=16, transform="residual")
