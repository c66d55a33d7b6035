"""Refinement of windows and sequences: determinism, seams, files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from diffusers import WanTransformer3DModel

from vsgnvc.models.prior import PriorError, WeightsError, build_prior, load_prior
from vsgnvc.refine.blend import blend_frame
from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.sampler import window_seed
from vsgnvc.refine.windows import plan_windows


def test_refine_is_deterministic(refiner: Refiner, smooth) -> None:
    x_c, ctx = smooth(4, batch=2)
    a = refiner.refine(x_c, ctx, seed=123)
    b = refiner.refine(x_c, ctx, seed=123)
    assert a.dtype == torch.float32 and a.shape == x_c.shape
    assert torch.equal(a, b)
    c = refiner.refine(x_c, ctx, seed=124)
    assert not torch.equal(a, c)
    # Refinement moves the latent, but it is started from it (t_N = 0.7), so it stays related.
    assert 0 < (a - x_c).abs().mean() < x_c.abs().mean() * 3


def test_refine_sequence_single_window_is_refine(refiner: Refiner, smooth) -> None:
    x_c, ctx = smooth(5)
    seq = refiner.refine_sequence(x_c, ctx, window=8, overlap=2, seed=7)
    one = refiner.refine(x_c, ctx, seed=window_seed(7, 0))
    assert torch.equal(seq, one)


def test_refine_sequence_steps_and_progress(refiner: Refiner, smooth) -> None:
    x_c, ctx = smooth(9)
    seen: list[tuple[int, int]] = []
    out = refiner.refine_sequence(
        x_c, ctx, window=4, overlap=1, cuts=[5], seed=1, steps=2, callback=lambda d, t: seen.append((d, t))
    )
    total = len(plan_windows(9, 4, 1, [5]).windows)
    assert seen == [(k, total) for k in range(1, total + 1)]
    assert out.shape == x_c.shape and torch.isfinite(out).all()
    assert not torch.equal(out, refiner.refine_sequence(x_c, ctx, window=4, overlap=1, cuts=[5], seed=1, steps=3))


def test_no_seam_at_window_borders(make_refiner, smooth) -> None:
    # Untrained but random prior + adapter on a smooth sequence: frame-to-frame changes at window borders must not
    # stand out against those inside windows.
    refiner = make_refiner(seed=3)
    frames, window, overlap = 20, 6, 2
    x_c, ctx = smooth(frames, h=8, w=8)
    out = refiner.refine_sequence(x_c, ctx, window=window, overlap=overlap, seed=42)
    plan = plan_windows(frames, window, overlap)
    diffs = (out[:, :, 1:] - out[:, :, :-1]).square().mean(dim=(0, 1, 3, 4)).sqrt()  # diff[i]: frame i -> i+1
    border = set()
    for win in plan.windows[1:]:
        # Transitions into, across and out of the overlap.
        border.update(range(win.start - 1, win.start + win.overlap_before + 1))
    border = {i for i in border if 0 <= i < frames - 1}
    interior = [i for i in range(frames - 1) if i not in border]
    assert border and interior
    max_interior = max(diffs[i].item() for i in interior)
    max_border = max(diffs[i].item() for i in border)
    assert max_border < 1.5 * max_interior, (max_border, max_interior)


def test_blend_is_a_partition_of_unity_and_ramps_between_windows() -> None:
    plan = plan_windows(16, 6, 2)
    # Every window agreeing on the same content: blending returns it exactly (weights sum to one).
    same = torch.randn(1, 3, 16, 2, 2)
    agree = {w: same[:, :, w.start : w.stop] for w in plan.windows}
    blended = torch.stack([blend_frame(plan, i, agree) for i in range(16)], dim=2)
    torch.testing.assert_close(blended, same, atol=1e-6, rtol=0)
    # Windows disagreeing by a unit offset: a hard cut would jump by 1, the raised cosine by at most 0.5 (O = 2).
    offset = {w: torch.full((1, 1, len(w), 1, 1), float(k)) for k, w in enumerate(plan.windows)}
    ramp = torch.stack([blend_frame(plan, i, offset) for i in range(16)], dim=2).flatten()
    steps = ramp[1:] - ramp[:-1]
    assert (steps >= 0).all() and steps.max() <= 0.5 + 1e-6
    assert ramp[0] == 0 and ramp[-1] == len(plan.windows) - 1


def test_save_and_load_roundtrip(refiner: Refiner, smooth, tmp_path: Path) -> None:
    x_c, ctx = smooth(3)
    refiner.save_pretrained(tmp_path / "refiner")
    names = sorted(p.name for p in (tmp_path / "refiner").iterdir())
    assert names == ["adapter", "null_embedding", "prior", "refiner.json"]
    for sub in ("adapter", "null_embedding", "prior"):
        assert (tmp_path / "refiner" / sub / "config.json").is_file()
        assert list((tmp_path / "refiner" / sub).glob("*.safetensors"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    loaded = Refiner.from_pretrained(tmp_path / "refiner", device="cpu")
    assert loaded.prior_frozen and not loaded.training
    assert torch.equal(loaded.refine(x_c, ctx, seed=9), refiner.refine(x_c, ctx, seed=9))
    # Saving again over an existing folder replaces it.
    refiner.save_pretrained(tmp_path / "refiner")
    assert Refiner.from_pretrained(tmp_path / "refiner", device="cpu").sampler == refiner.sampler


@pytest.mark.parametrize("layout", ["transformer_folder", "pipeline_folder", "sharded"])
def test_external_wan_folder_loads_unchanged_and_frozen(
    refiner: Refiner, smooth, tmp_path: Path, tiny_configs: dict, layout: str
) -> None:
    torch.manual_seed(17)
    wan = WanTransformer3DModel(**{**tiny_configs["prior"], "patch_size": (1, 2, 2)})
    wan_root = tmp_path / "Wan-tiny-Diffusers"
    if layout == "sharded":
        wan.save_pretrained(wan_root, max_shard_size="20KB")
        assert len(list(wan_root.glob("*.safetensors"))) > 1
    else:
        wan.save_pretrained(wan_root / "transformer" if layout == "pipeline_folder" else wan_root)
    # Our refiner folder, without a prior of its own.
    refiner.save_pretrained(tmp_path / "ours")
    shutil.rmtree(tmp_path / "ours" / "prior")
    with pytest.raises(FileNotFoundError, match="prior_path"):
        Refiner.from_pretrained(tmp_path / "ours")

    loaded = Refiner.from_pretrained(tmp_path / "ours", prior_path=wan_root, device="cpu")
    ours, theirs = loaded.prior.state_dict(), wan.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert isinstance(loaded.prior, WanTransformer3DModel)
    # Same function as the original, rotary tables (not in the checkpoint) included.
    probe = torch.randn(1, 16, 2, 4, 6, generator=torch.Generator().manual_seed(0))
    text = torch.randn(1, 3, tiny_configs["prior"]["text_dim"])
    with torch.no_grad():
        assert torch.equal(
            loaded.prior(probe, torch.tensor([250.0]), text).sample, wan(probe, torch.tensor([250.0]), text).sample
        )
    assert not any(p.requires_grad for p in loaded.prior.parameters())
    loaded.train()
    assert not loaded.prior.training
    assert any(p.requires_grad for p in loaded.adapter.parameters())

    # Saving records the external path instead of copying the Wan weights; reloading follows it.
    loaded.save_pretrained(tmp_path / "ours2")
    assert not (tmp_path / "ours2" / "prior").exists()
    assert json.loads((tmp_path / "ours2" / "refiner.json").read_text())["prior_path"] == str(wan_root.resolve())
    again = Refiner.from_pretrained(tmp_path / "ours2", device="cpu")
    x_c, ctx = smooth(2)
    assert torch.equal(again.refine(x_c, ctx, seed=1), loaded.refine(x_c, ctx, seed=1))
    # A new refiner built around the external prior records it the same way.
    fresh = Refiner.build(prior_path=wan_root, context_channels=4, adapter_config=tiny_configs["adapter"])
    assert fresh.prior_path == wan_root and fresh.prior_frozen


def test_bad_prior_folders(tmp_path: Path, refiner: Refiner) -> None:
    with pytest.raises(PriorError, match="does not exist"):
        load_prior(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    refiner.save_pretrained(tmp_path / "r")
    with pytest.raises(PriorError, match="holds no diffusers WanTransformer3DModel"):
        Refiner.from_pretrained(tmp_path / "r", prior_path=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a refiner folder"):
        Refiner.from_pretrained(tmp_path / "empty")
    with pytest.raises(PriorError, match="text-to-video"):
        build_prior({"image_dim": 16, "added_kv_proj_dim": 16})


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_keeps_wan_fp32_modules(refiner: Refiner, smooth, dtype: torch.dtype) -> None:
    # The GPU path (bf16/fp16) exercised on the CPU: Wan's _keep_in_fp32_modules stay float32, the sample stays
    # float32 between Euler steps, and the result is close to the float32 one.
    x_c, ctx = smooth(3)
    ref = refiner.refine(x_c, ctx, seed=5)
    refiner.place("cpu", dtype)
    assert refiner.dtype == dtype and refiner.prior.blocks[0].attn1.to_q.weight.dtype == dtype
    assert refiner.prior.blocks[0].scale_shift_table.dtype == torch.float32
    assert refiner.prior.condition_embedder.time_embedder.linear_1.weight.dtype == torch.float32
    out = refiner.refine(x_c, ctx, seed=5)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=0.05, rtol=0)


def test_wan_folder_with_wrong_weights_is_rejected(tmp_path: Path, tiny_configs: dict) -> None:
    from safetensors.torch import load_file, save_file

    wan = WanTransformer3DModel(**tiny_configs["prior"])
    wan.save_pretrained(tmp_path / "wan")
    weights = tmp_path / "wan" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    del state["proj_out.weight"]
    save_file(state, weights)
    with pytest.raises(WeightsError, match="do not match WanTransformer3DModel"):
        load_prior(tmp_path / "wan")
