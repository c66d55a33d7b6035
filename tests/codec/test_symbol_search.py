"""The encoder's symbol search through the decoder: better rate + lambda x distortion, same decoder, real strings."""

import pytest
import torch

from tests.support.tiny_model import tiny_patch_model
from vsgnvc.codec.gop_codec import decode_gop_latents, encode_gop, latents_to_rgb
from vsgnvc.codec.presets import DEFAULT_PRESET, NO_SEARCH, PRESETS, SymbolSearch, preset_search
from vsgnvc.codec.symbol_search import search_symbols, searchable
from vsgnvc.models.bundle import GnvcModel
from vsgnvc.train.data import decode_rgb

LAMBDAS = [10.0, 40.0, 160.0]


def _model(transform: str = "patch", motion_block: int = 0) -> GnvcModel:
    return tiny_patch_model(transform, motion_block=motion_block)


@pytest.fixture(scope="module")
def frames(bikes_clip) -> torch.Tensor:
    """Three real frames (bikes, 64x32) in [-1, 1], ``[3, T, H, W]``."""
    rgb = decode_rgb(bikes_clip, 32, 3)[:, :, :64]
    return torch.from_numpy(rgb).permute(3, 0, 1, 2).float() / 127.5 - 1


def _cost(model: GnvcModel, frames: torch.Tensor, rate: int, search: SymbolSearch) -> tuple[list[float], torch.Tensor]:
    """Per frame, real bits + lambda x pixels x MSE of what the decoder makes of the strings; and its latents."""
    strings, encoded = encode_gop(model, frames, rate, search)
    decoded = decode_gop_latents(model, strings, (frames.shape[2] // 8, frames.shape[3] // 8), rate)
    assert torch.equal(decoded.latents, encoded.latents)  # the decoder reads the searched symbols as any others
    rgb = latents_to_rgb(model, decoded.latents, rate)
    mse = (rgb - frames).div(2).pow(2).mean(dim=(0, 2, 3))
    pixels = frames.shape[2] * frames.shape[3]
    return [8 * sum(map(len, s)) + LAMBDAS[rate] * pixels * float(e) for s, e in zip(strings, mse)], decoded.latents


@pytest.mark.parametrize("motion_block", [0, 4])
def test_search_codes_frames_at_a_lower_rate_distortion_cost(frames, motion_block):
    model = _model(motion_block=motion_block)
    assert searchable(model)
    plain, _ = _cost(model, frames, 1, NO_SEARCH)
    searched, _ = _cost(model, frames, 1, SymbolSearch(intra_iterations=30, inter_iterations=10))
    assert searched[0] < 0.99 * plain[0]  # the intra frame (a random-weight decoder: small gains)
    assert sum(searched) < sum(plain)
    intra_only, _ = _cost(model, frames, 1, SymbolSearch(intra_iterations=30, inter_iterations=0))
    assert intra_only[0] == pytest.approx(searched[0])


def test_models_without_the_search_code_plainly(frames):
    model = _model(transform="learned")
    assert not searchable(model)
    _, plain = _cost(model, frames, 1, NO_SEARCH)
    _, searched = _cost(model, frames, 1, SymbolSearch())
    assert torch.equal(plain, searched)


def test_search_settings_are_checked():
    with pytest.raises(ValueError, match="symbol search iterations must be >= 0, got -1, 0"):
        SymbolSearch(-1, 0)
    with pytest.raises(ValueError, match=r"symbol search learning rate must be in \(0, 1\], got 2"):
        SymbolSearch(learning_rate=2)


def test_presets_search_harder_from_fast_to_slow():
    fast, medium, slow = (preset_search(name) for name in ("fast", "medium", "slow"))
    assert fast == NO_SEARCH and DEFAULT_PRESET == "slow" and list(PRESETS) == ["fast", "medium", "slow"]
    for inter in (False, True):
        assert 0 == fast.iterations(inter) < medium.iterations(inter) < slow.iterations(inter)
    with pytest.raises(ValueError, match="preset must be one of fast, medium, slow, got 'placebo'"):
        preset_search("placebo")


def test_search_weighs_only_the_pixels_it_is_told_to(frames):
    # Where the decoder shows other pixels (copied blocks), only bits count: the search sheds them.
    model = _model()
    latents = model.vae.encode(frames[None])
    plan = model.codec.plan_frame(latents[:, :, 0], None, 1)
    scales = model.codec.plan_scales(plan)
    bits = lambda s: float(-torch.log2(model.codec.gaussian_conditional.likelihood(s.float(), scales)).sum())  # noqa: E731
    search = lambda w: search_symbols(model, plan, frames[:, 0], 30, 0.1, w)  # noqa: E731
    ignored = search(torch.zeros(frames.shape[2:]))
    assert bits(ignored) < 0.5 * bits(plan.symbols)
    assert bits(ignored) < bits(search(None))
