"""Stage II (joint pixel-space fine-tuning) on the tiny model with real video crops."""

import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vsgnvc.eval.perceptual import lpips_missing
from vsgnvc.train.config import StageConfig, TrainConfig
from vsgnvc.train.data import VideoCrops, decode_rgb, fixed_batch
from vsgnvc.train.joint import joint_plan
from vsgnvc.train.loop import run_stage
from vsgnvc.train.perceptual import LpipsLoss, load_lpips, msssim_per_sample, msssim_window
from vsgnvc.train.run import build_model

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny.toml"


@pytest.fixture(scope="module")
def clips(bikes_clip):
    # 64 px high: the joint stage's crops are multiples of 32 and MS-SSIM needs more than 32 px.
    return [decode_rgb(bikes_clip, 64, 12)]


def _stage(**kw) -> StageConfig:
    base = {"name": "joint", "steps": 6, "lr": 3e-3, "batch": 2, "crop": 64, "frames": 5, "pixel_weight": 10.0,
            "msssim_weight": 0.5, "checkpoint_every": 100, "log_every": 1}  # fmt: skip
    return StageConfig(**{**base, **kw})


def _eval_loss(plan, batch) -> float:
    plan.module.train()  # the same quantisation noise and rate draws as in training
    torch.manual_seed(0)
    with torch.no_grad():
        return plan.loss_fn(batch, torch.Generator().manual_seed(0))[0].item()


def test_joint_steps_lower_loss_and_train_only_the_decoder_side(clips, tmp_path):
    torch.manual_seed(0)
    model = build_model(TrainConfig.load(TINY))
    plan = joint_plan(_stage(steps=4, batch=1), model, VideoCrops(clips, 5, 64))
    batch = fixed_batch(clips, 1, 5, 64)
    plan.batch_fn = lambda rng: batch
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(("codec.inter_analysis",
              "codec.hyper_analysis", "codec.inter_params", "codec.log_gain", "vae.model.encoder"))}  # fmt: skip
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(("codec.inter_synthesis",
               "vae.model.decoder", "refiner.adapter"))}  # fmt: skip
    before = _eval_loss(plan, batch)
    metrics = run_stage(plan, tmp_path, 0, torch.device("cpu"))
    after = _eval_loss(plan, batch)
    assert after < before * 0.85, (before, after)
    assert {"loss", "bpp", "psnr", "msssim", "latent_mse", "refine_mse"} <= metrics.keys()
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], v) for n, v in frozen.items())
    assert all(not torch.equal(params[n], v) for n, v in trained.items() if "adapter" not in n)
    assert any(not torch.equal(params[n], v) for n, v in trained.items() if "adapter" in n)
    assert model.codec.is_updated  # the stage ends with update(): the model can code bitstreams
    lines = (tmp_path / "joint" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"msssim"' in lines[-1] and '"psnr"' in lines[-1]


def test_joint_resume_continues_bit_identically(clips, tmp_path):
    def run(dir_: Path, stop_at: int | None) -> dict:
        torch.manual_seed(0)
        model = build_model(TrainConfig.load(TINY))
        # 32 px crops (no MS-SSIM) keep it cheap; the step draws (rates, noise) are what resuming must replay.
        cfg = _stage(steps=2, batch=1, crop=32, msssim_weight=0.0, checkpoint_every=1)
        run_stage(joint_plan(cfg, model, VideoCrops(clips, 5, 32)), dir_, 0, torch.device("cpu"), stop_at=stop_at)
        return load_file(str(dir_ / "joint" / "model.safetensors"))

    straight = run(tmp_path / "a", None)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", None)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_joint_rejects_crops_the_codec_or_msssim_cannot_take(clips):
    model = build_model(TrainConfig.load(TINY))
    with pytest.raises(ValueError, match="multiple of 32"):
        joint_plan(_stage(crop=48), model, VideoCrops(clips, 5, 48))
    with pytest.raises(ValueError, match="MS-SSIM needs crops larger than 32"):
        joint_plan(_stage(crop=32), model, VideoCrops(clips, 5, 32))
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        joint_plan(_stage(frames=6), model, VideoCrops(clips, 6, 64))


def test_msssim_window_and_score(clips):
    assert [msssim_window(s) for s in (33, 64, 96, 128, 160, 161, 720)] == [3, 3, 5, 7, 9, 11, 11]
    x = fixed_batch(clips, 2, 3, 64)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=gen)
    same, mild, strong = (msssim_per_sample((x + a * noise).clamp(-1, 1), x) for a in (0.0, 0.05, 0.3))
    assert same.shape == (2,) and torch.allclose(same, torch.ones(2), atol=1e-5)
    assert (strong < mild).all() and (mild < 0.999).all() and (strong < 0.9).all()


def test_lpips_is_used_only_from_local_files(caplog):
    reason = lpips_missing()
    with caplog.at_level(logging.INFO, logger="vsgnvc.train.perceptual"):
        loss = load_lpips()
    if reason is None:
        assert isinstance(loss, LpipsLoss)
    else:
        assert loss is None
        assert f"LPIPS term skipped: {reason}" in caplog.text


def test_config_rejects_unknown_keys_and_negative_weights():
    with pytest.raises(ValueError, match="unknown key\\(s\\) msssim"):
        TrainConfig.from_dict({"stages": [{"name": "joint", "steps": 1, "msssim": 1.0}]})
    with pytest.raises(ValueError, match="pixel_weight must be >= 0"):
        StageConfig(name="joint", steps=1, pixel_weight=-1.0)
