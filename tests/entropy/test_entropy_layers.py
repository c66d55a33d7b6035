"""The entropy layers: training likelihoods and coding tables agree, and compressai-era weights convert."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from vsgnvc.entropy import EntropyBottleneck, GaussianConditional, ScaleTable
from vsgnvc.entropy.range_coder import PRECISION
from vsgnvc.models.convert import convert_codec_weights
from vsgnvc.models.io import is_compressai_state, load_state_dict_resizing
from vsgnvc.models.latent_codec import WEIGHTS_NAME, ContextualLatentCodec


def trained_bottleneck(channels: int = 4) -> EntropyBottleneck:
    """A bottleneck fitted for a few steps to per-channel Gaussians of different widths and offsets."""
    torch.manual_seed(0)
    eb = EntropyBottleneck(channels, init_scale=1.0)
    density = [p for n, p in eb.named_parameters() if n != "quantiles"]
    opt = torch.optim.Adam([{"params": density, "lr": 0.05}, {"params": [eb.quantiles], "lr": 0.5}])
    widths = torch.tensor([0.3, 1.0, 2.5, 6.0]).view(1, -1, 1, 1)[:, :channels]
    for _ in range(60):
        x = torch.randn(4, channels, 8, 8) * widths + 0.7
        _, lik = eb(x)
        loss = -torch.log2(lik).mean() + eb.loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    eb.update()
    return eb.eval()


def table_bits(layer, symbols: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """-log2 of each symbol's table probability (symbols inside the tables)."""
    index = (symbols.long() - layer.table_minima[table].long()).view(-1)
    freqs = layer.table_freqs[table.reshape(-1), index].double()
    return -torch.log2(freqs / (1 << PRECISION))


def assert_close_bits(bits_tables: torch.Tensor, bits_density: torch.Tensor) -> None:
    """16-bit tables: close for likely symbols, and close on average (rare ones round coarsely)."""
    likely = bits_density < 8
    assert (bits_tables - bits_density)[likely].abs().max() < 0.02
    assert (bits_tables - bits_density).mean().abs() < 0.005


def test_bottleneck_tables_match_its_likelihoods_and_the_coded_size():
    eb = trained_bottleneck()
    x = torch.randn(1, 4, 32, 32) * torch.tensor([0.3, 1.0, 2.5, 6.0]).view(1, -1, 1, 1) + 0.7
    symbols = eb.quantize(x)
    _, lik = eb(x)  # eval mode: the likelihood of the rounded values
    channel = torch.arange(4).view(1, -1, 1, 1).expand_as(symbols)
    lengths = eb.table_lengths[channel]
    inside = (symbols - eb.table_minima[channel] >= 0) & (symbols - eb.table_minima[channel] < lengths)
    assert inside.float().mean() > 0.99
    bits_tables = table_bits(eb, symbols[inside], channel[inside])
    bits_density = -torch.log2(lik[inside].double())
    assert_close_bits(bits_tables, bits_density)
    string = eb.compress(symbols)
    assert abs(8 * len(string) - bits_density.sum()) < 0.01 * bits_density.sum() + 64
    assert torch.equal(eb.decompress(string, (32, 32)), symbols)
    assert torch.allclose(eb.dequantize(symbols), torch.round(x - eb.medians()) + eb.medians())


def test_gaussian_tables_match_its_likelihoods_and_the_coded_size():
    table = ScaleTable(0.11, 256.0, 64)
    gc = GaussianConditional(table).eval()
    gc.update()
    assert gc.table_lengths.tolist()[0] == 3 and gc.table_lengths.tolist()[-1] == 2 * math.ceil(256 * 6.1094) + 1
    torch.manual_seed(1)
    index = torch.randint(0, 40, (1, 8, 16, 16))
    scales = table.values()[index]
    y = torch.randn(index.shape) * scales
    symbols = torch.round(y).double()
    bits_density = -torch.log2(gc.likelihood(symbols.float(), scales).double())
    bits_tables = table_bits(gc, symbols, index)
    assert_close_bits(bits_tables, bits_density.view(-1))
    string = gc.compress(symbols, index)
    assert abs(8 * len(string) - bits_density.sum()) < 0.01 * bits_density.sum() + 64
    assert torch.equal(gc.decompress(string, index), symbols)


def test_training_forward_adds_noise_and_bounds_likelihoods():
    eb = EntropyBottleneck(2).train()
    x = torch.zeros(3, 2, 4, 4, requires_grad=True)
    out, lik = eb(x)
    assert out.shape == lik.shape == x.shape and (out - x).abs().max() <= 0.5 and out.std() > 0.1
    assert lik.min() >= 1e-9
    (-torch.log2(lik).sum() + eb.loss()).backward()
    assert x.grad is not None and all(p.grad is not None for p in eb.matrices)
    gc = GaussianConditional(ScaleTable()).eval()
    scales = torch.full((2, 3), 0.01, requires_grad=True)  # below the table's minimum: bounded
    _, lik = gc(torch.zeros(2, 3), scales)
    lik.sum().backward()
    assert torch.allclose(lik, torch.full_like(lik, math.erf(0.5 / 0.11 / math.sqrt(2))), atol=1e-6)


def test_same_maths_as_compressai():
    """The layers reimplement compressai's EntropyBottleneck / GaussianConditional; checked where it is installed."""
    entropy_models = pytest.importorskip("compressai.entropy_models")
    torch.manual_seed(4)
    ours = trained_bottleneck(3)
    theirs = entropy_models.EntropyBottleneck(3, init_scale=1.0)
    missing, unexpected = theirs.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected or set(unexpected) <= {"table_freqs", "table_minima", "table_lengths"}
    assert set(missing) <= {"_offset", "_quantized_cdf", "_cdf_length", "likelihood_lower_bound.bound"}
    for layer in (ours, theirs):
        layer.train()
    x = torch.randn(2, 3, 5, 5) * 3
    torch.manual_seed(9)
    out_ours, lik_ours = ours(x)
    torch.manual_seed(9)
    out_theirs, lik_theirs = theirs(x)
    assert torch.equal(out_ours, out_theirs) and torch.allclose(lik_ours, lik_theirs, rtol=1e-6, atol=0)
    assert torch.allclose(ours.loss(), theirs.loss())
    table = ScaleTable()
    gc_theirs = entropy_models.GaussianConditional(table.values().tolist()).eval()
    gc_ours = GaussianConditional(table).eval()
    y, scales, means = torch.randn(4, 50) * 5, torch.rand(4, 50) * 20, torch.randn(4, 50)
    assert torch.allclose(gc_ours(y, scales, means)[1], gc_theirs(y, scales, means)[1], rtol=1e-6, atol=0)


def legacy_codec_folder(tmp_path):
    """A tiny codec folder as compressai-era code saved it: the same parameters, compressai's buffers."""
    torch.manual_seed(2)
    codec = ContextualLatentCodec(hidden_channels=16, y_channels=16, z_channels=8, context_channels=8, num_rates=2)
    codec.update()
    state = {k: v for k, v in codec.state_dict().items() if not k.rsplit(".", 1)[-1].startswith("table_")}
    for layer, rows in (("entropy_bottleneck", 8), ("gaussian_conditional", 64)):
        state[f"{layer}._quantized_cdf"] = torch.zeros(rows, 7, dtype=torch.int32)
        state[f"{layer}._offset"] = torch.zeros(rows, dtype=torch.int32)
        state[f"{layer}._cdf_length"] = torch.zeros(rows, dtype=torch.int32)
        state[f"{layer}.likelihood_lower_bound.bound"] = torch.tensor([1e-9])
    state["gaussian_conditional.scale_table"] = ScaleTable().values().float()
    state["gaussian_conditional.scale_bound"] = torch.tensor([0.11])
    state["gaussian_conditional.lower_bound_scale.bound"] = torch.tensor([0.11])
    folder = tmp_path / "codec"
    codec.save_pretrained(folder)
    save_file(state, str(folder / WEIGHTS_NAME))
    return folder, codec


def test_compressai_era_weights_are_refused_then_converted(tmp_path):
    folder, original = legacy_codec_folder(tmp_path)
    assert is_compressai_state(load_file(str(folder / WEIGHTS_NAME)))
    with pytest.raises(ValueError, match=r"compressai's entropy tables .* python -m vsgnvc.models.convert"):
        ContextualLatentCodec.from_pretrained(folder)
    assert convert_codec_weights(tmp_path)  # the model folder above works too
    assert not convert_codec_weights(folder)  # already converted
    converted = ContextualLatentCodec.from_pretrained(folder)
    for key, value in original.state_dict().items():
        assert torch.equal(converted.state_dict()[key], value), key
    assert json.loads((folder / "config.json").read_text())["num_rates"] == 2
    latent = torch.randn(1, 16, 8, 8)
    code = converted.compress_frame(latent, None, 1)
    assert torch.equal(original.decompress_frame(code.strings, (8, 8), None, 1).latent, code.latent)


def test_training_checkpoints_from_before_the_conversion_still_load(tmp_path):
    folder, original = legacy_codec_folder(tmp_path)
    fresh = ContextualLatentCodec(hidden_channels=16, y_channels=16, z_channels=8, context_channels=8, num_rates=2)
    load_state_dict_resizing(fresh, load_file(str(folder / WEIGHTS_NAME)))
    assert not fresh.is_updated  # the tables are rebuilt by update(), as at the end of every training stage
    fresh.update()
    assert torch.equal(fresh.gaussian_conditional.table_freqs, original.gaussian_conditional.table_freqs)
    assert torch.equal(fresh.entropy_bottleneck.table_freqs, original.entropy_bottleneck.table_freqs)


def test_convert_command(tmp_path):
    folder, _ = legacy_codec_folder(tmp_path)
    cmd = [sys.executable, "-m", "vsgnvc.models.convert"]
    run = subprocess.run([*cmd, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout == f"{folder}: converted\n", run.stderr
    ContextualLatentCodec.from_pretrained(folder)
    missing = subprocess.run([*cmd, str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"vsgnvc convert: {tmp_path / 'nowhere'}: no codec weights (model.safetensors and config.json)"
    ]
