"""The training pipeline on the tiny config: real data, real stages, resumable, exportable."""

import json
import math
import tomllib
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vsgnvc.models.bundle import GnvcModel
from vsgnvc.train.config import StageConfig, TrainConfig
from vsgnvc.train.data import VideoCrops, fixed_batch
from vsgnvc.train.loop import run_stage
from vsgnvc.train.run import _plan, build_model, train
from vsgnvc.train.stages import codec_plan, decoder_plan, vae_plan

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny.toml"


@pytest.fixture(scope="module")
def clips(bikes_clip):
    from vsgnvc.train.data import decode_rgb

    return [decode_rgb(bikes_clip, 48, 24)]


def test_config_rejects_unknown_stage():
    with pytest.raises(ValueError, match="unknown stage"):
        StageConfig(name="magic", steps=1)


def test_a_stage_kind_may_run_twice_under_a_label():
    two = {"stages": [{"name": "refine", "steps": 1}, {"name": "refine", "steps": 1}]}
    with pytest.raises(ValueError, match="2 stages write to 'refine'"):
        TrainConfig.from_dict(two)
    two["stages"][1]["label"] = "refine_final"
    assert [s.folder for s in TrainConfig.from_dict(two).stages] == ["refine", "refine_final"]


def test_vae_steps_lower_loss_on_fixed_batch(clips, tmp_path):
    torch.manual_seed(0)
    model = build_model(TrainConfig.load(TINY))
    crops = VideoCrops(clips, 5, 32)
    batch = fixed_batch(clips, 2, 5, 32)
    cfg = StageConfig(name="vae", steps=15, lr=3e-3, batch=2, crop=32, frames=5, checkpoint_every=100, log_every=100)
    plan = vae_plan(cfg, model.vae, crops)
    plan.batch_fn = lambda rng: batch
    gen = torch.Generator().manual_seed(0)
    before = plan.loss_fn(batch, gen)[0].item()
    run_stage(plan, tmp_path, 0, torch.device("cpu"))
    after = plan.loss_fn(batch, torch.Generator().manual_seed(0))[0].item()
    assert after < before * 0.9


def test_resume_continues_bit_identically(clips, tmp_path):
    def run(dir_: Path, stop_at: int | None) -> dict:
        torch.manual_seed(0)
        model = build_model(TrainConfig.load(TINY))
        crops = VideoCrops(clips, 9, 32)
        cfg = StageConfig(name="codec", steps=4, batch=2, crop=32, frames=9, lambdas=(0.1, 0.2, 0.4, 0.8),
                          checkpoint_every=2, log_every=1)  # fmt: skip
        run_stage(codec_plan(cfg, model.vae, model.codec, crops), dir_, 0, torch.device("cpu"), stop_at=stop_at)
        return load_file(str(dir_ / "codec" / "model.safetensors"))

    straight = run(tmp_path / "a", None)
    run(tmp_path / "b", 3)  # interrupted after step 3 (last checkpoint there)
    resumed = run(tmp_path / "b", None)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_finished_stage_trains_on_when_its_steps_grow(clips, tmp_path):
    # "Train longer": rerunning with more steps resumes the optimiser (fast group included) from the old checkpoint.
    def run(steps: int) -> None:
        model = build_model(TrainConfig.load(TINY))
        cfg = StageConfig(name="codec", steps=steps, batch=2, crop=32, frames=9, lambdas=(0.1, 0.2, 0.4, 0.8),
                          checkpoint_every=2, log_every=1)  # fmt: skip
        run_stage(codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 9, 32)), tmp_path, 0, torch.device("cpu"))

    run(2)
    first = load_file(str(tmp_path / "codec" / "model.safetensors"))
    run(4)
    state = torch.load(tmp_path / "codec" / "trainer.pt", weights_only=True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "codec" / "metrics.jsonl").read_text().splitlines()]
    assert state["step"] == 4 and steps == [1, 2, 3, 4]
    assert len(state["opts"][0]["param_groups"]) == 2  # the per-rate gains and density keep their own group
    assert any(not torch.equal(first[k], v) for k, v in load_file(str(tmp_path / "codec" / "model.safetensors")).items())


def test_tiny_run_exports_a_model_that_round_trips(tmp_path, small_clip_y4m, shared_media):
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    text = TINY.read_text().replace('"../../shared/media/train"', f'"{shared_media}"')
    text = text.replace('"../runs/cache"', f'"{tmp_path / "cache"}"').replace("max_frames = 24", "max_frames = 12")
    (cfg_dir / "tiny.toml").write_text(text)
    train(cfg_dir / "tiny.toml", tmp_path / "run", tmp_path / "model")
    model = GnvcModel.from_pretrained(tmp_path / "model")
    assert model.refiner is not None and model.codec.is_updated

    from vsgnvc.api import encode_file
    from vsgnvc.codec.decoder import Decoder

    r = encode_file(small_clip_y4m, tmp_path / "x.gnvc", model, device="cpu", progress=False)
    with Decoder(tmp_path / "x.gnvc", model, "cpu") as dec:
        assert len(list(dec.frames())) == r.num_frames == 13
    shutil.rmtree(tmp_path / "run")


def test_tiny_frame_autoencoder_run_trains_on_a_cached_pool_and_exports(tmp_path, small_clip_y4m, shared_media):
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    text = (REPO / "configs" / "tiny_frame.toml").read_text().replace('"../../shared/media/train"', f'"{shared_media}"')
    text = text.replace('"../runs/cache"', f'"{tmp_path / "cache"}"').replace("max_frames = 24", "max_frames = 12")
    (cfg_dir / "tiny_frame.toml").write_text(text)
    train(cfg_dir / "tiny_frame.toml", tmp_path / "run", tmp_path / "model")
    pools = sorted((tmp_path / "cache").glob("latent_pool.*.pt"))
    assert len(pools) == 1  # codec, prior and refine share one pool, kept on disk
    assert torch.load(pools[0], weights_only=True).shape[1:3] == (32, 6)
    model = GnvcModel.from_pretrained(tmp_path / "model")
    assert model.index.temporal_factor == 1 and model.index.gop_size == 6

    from vsgnvc.api import encode_file
    from vsgnvc.codec.decoder import Decoder

    r = encode_file(small_clip_y4m, tmp_path / "x.gnvc", model, device="cpu", progress=False)
    with Decoder(tmp_path / "x.gnvc", model, "cpu") as dec:
        assert dec.num_gops == 3 and len(list(dec.frames())) == r.num_frames == 13


def test_a_pretrained_per_frame_autoencoder_has_no_vae_stage(clips):
    model = build_model(TrainConfig.load(REPO / "configs" / "tiny_frame.toml"))
    cfg = StageConfig(name="vae", steps=1, batch=1, crop=32, frames=2)
    with pytest.raises(ValueError, match="stage vae trains a Wan-layout VAE; this model's FrameAutoencoder"):
        vae_plan(cfg, model.vae, VideoCrops(clips, 2, 32))


def test_refiner_false_builds_a_model_without_refinement_and_refuses_its_stages(clips):
    raw = tomllib.loads((REPO / "configs" / "tiny_frame.toml").read_text())
    raw["model"]["refiner"] = False
    cfg = TrainConfig.from_dict(raw)
    model = build_model(cfg)
    assert model.refiner is None
    with pytest.raises(ValueError, match="stage prior trains the refiner, but the config's \\[model\\] has refiner = false"):
        _plan(cfg.stages[1], model, clips, 0)


def test_pixel_term_options_are_checked():
    with pytest.raises(ValueError, match="stage codec: pixel_frames needs a codec stage with a latent_pool"):
        StageConfig(name="codec", steps=1, pixel_frames=2)
    with pytest.raises(ValueError, match="stage prior: pixel_frames needs a codec stage"):
        StageConfig(name="prior", steps=1, pixel_frames=2, latent_pool=4)
    with pytest.raises(ValueError, match="train_decoder needs pixel_frames > 0"):
        StageConfig(name="codec", steps=1, latent_pool=4, train_decoder=True)
    with pytest.raises(ValueError, match="stage codec: sensitivity_power must be in \\[0, 1\\], got 1.5"):
        StageConfig(name="codec", steps=1, sensitivity_power=1.5)


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_patch_codec_stage_starts_its_steps_from_the_sensitivity_to_the_chosen_power(clips, power):
    raw = tomllib.loads((REPO / "configs" / "tiny_frame.toml").read_text())
    raw["model"]["codec"] = {**raw["model"]["codec"], "y_channels": 128, "transform": "patch"}
    raw["model"]["refiner"] = False
    model = build_model(TrainConfig.from_dict(raw))
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=32, frames=3, latent_pool=2, sensitivity_power=power)
    plan = codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 3, 32))
    plan.start()
    weights, steps = model.codec.distortion_weights, (-model.codec.log_gain).exp()
    if power == 0.0:  # uniform: every coefficient weighed alike, one step per rate
        assert torch.allclose(weights, weights.mean().expand_as(weights))
        assert torch.allclose(steps, steps[:, :1].expand_as(steps))
    else:  # the measured sensitivities as they are: steps ~ 1/sqrt(sensitivity)
        assert weights.max() > 2 * weights.min()
        assert torch.allclose(steps * weights.sqrt(), (steps * weights.sqrt())[:, :1].expand_as(steps), rtol=1e-4)


def _patch_codec_model(patch: int) -> GnvcModel:
    raw = tomllib.loads((REPO / "configs" / "tiny_frame.toml").read_text())
    raw["model"]["codec"] = {**raw["model"]["codec"], "y_channels": 32 * patch**2, "transform": "patch", "patch_size": patch}
    raw["model"]["refiner"] = False
    return build_model(TrainConfig.from_dict(raw))


def test_4x4_patch_codec_stage_measures_its_start_and_trains(bikes_clip, tmp_path):
    from vsgnvc.train.data import decode_rgb

    model = _patch_codec_model(4)
    crops = VideoCrops([decode_rgb(bikes_clip, 64, 6)], 3, 64)  # 8x8 latents: one 2x2 block of 4x4 patches
    cfg = StageConfig(
        name="codec", steps=2, batch=1, crop=64, frames=3, latent_pool=2, freeze_transform=True, log_every=1
    )
    run_stage(codec_plan(cfg, model.vae, model.codec, crops), tmp_path, 0, torch.device("cpu"))
    basis = model.codec.distortion_basis  # measured by the plan's start
    assert basis.shape == (512, 512) and torch.allclose(basis @ basis.T, torch.eye(512), atol=1e-4)
    assert torch.all(model.codec.distortion_weights > 0)
    logged = [json.loads(line) for line in next(tmp_path.rglob("metrics.jsonl")).read_text().splitlines()]
    assert len(logged) == 2 and all(math.isfinite(m["loss"]) and m["bpp"] > 0 for m in logged)


def test_a_codec_stage_refuses_latent_windows_the_codec_cannot_code(clips, bikes_clip):
    from vsgnvc.train.data import decode_rgb

    model = _patch_codec_model(4)
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=32, frames=3, latent_pool=2)
    with pytest.raises(ValueError, match=r"stage codec: crop gives 4x4 latents; the codec needs multiples of 8 "
                                         r"\(crop a multiple of 64 pixels, or set latent_window\)"):
        codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 3, 32))
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=32, frames=3, latent_pool=2, latent_window=16)
    with pytest.raises(ValueError, match=r"stage codec: crop gives 4x4 latents"):  # the window is the larger
        codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 3, 32))
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=64, frames=3, latent_pool=2, latent_window=4)
    with pytest.raises(ValueError, match=r"stage codec: latent_window gives 4x4 latents"):
        codec_plan(cfg, model.vae, model.codec, VideoCrops([decode_rgb(bikes_clip, 64, 6)], 3, 64))
    cfg = StageConfig(name="decoder", steps=1, batch=1, crop=32, frames=3, latent_pool=2)
    with pytest.raises(ValueError, match=r"stage decoder: crop gives 4x4 latents.*multiple of 64 pixels\)"):
        decoder_plan(cfg, model.vae, model.codec, VideoCrops(clips, 3, 32))


def test_freeze_transform_trains_the_entropy_models_only(clips, tmp_path):
    raw = tomllib.loads((REPO / "configs" / "tiny_frame.toml").read_text())
    raw["model"]["codec"] = {**raw["model"]["codec"], "y_channels": 128, "transform": "patch"}
    raw["model"]["refiner"] = False
    model = build_model(TrainConfig.from_dict(raw))
    codec = model.codec
    cfg = StageConfig(name="codec", steps=3, batch=1, crop=32, frames=3, latent_pool=2, freeze_transform=True, lr=1e-2)
    plan = codec_plan(cfg, model.vae, codec, VideoCrops(clips, 3, 32))
    entropy = {id(p) for p in codec.entropy_parameters()}
    assert plan.params and all(id(p) in entropy for p in plan.params)
    before = {n: p.detach().clone() for n, p in codec.named_parameters()}
    run_stage(plan, tmp_path, 0, torch.device("cpu"))
    after = dict(codec.named_parameters())
    # The measured start (plan.start: basis and steps) is kept; the corrections stay at zero.
    assert torch.allclose(after["log_gain"], -torch.log(torch.sqrt(
        6.0 / (256 * math.log(2) * torch.tensor(codec.config.rate_lambdas).view(-1, 1) * codec.distortion_weights)
    )), rtol=1e-4)
    assert torch.equal(after["patch_transform.analysis"], codec.distortion_basis)
    for name in ("intra_analysis.net.4.weight", "inter_synthesis.net.4.weight", "context_net.0.weight"):
        assert torch.equal(after[name], before[name]), name
    assert not torch.equal(after["intra_params.layers.0.weight"], before["intra_params.layers.0.weight"])


def test_freeze_transform_is_a_codec_stage_option():
    with pytest.raises(ValueError, match="stage decoder: freeze_transform is a codec-stage option"):
        StageConfig(name="decoder", steps=1, latent_pool=4, freeze_transform=True)


def test_freeze_transform_needs_the_patch_transform(clips):
    model = build_model(TrainConfig.load(TINY))  # the learned transform: no measured steps to keep
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=32, frames=5, latent_pool=2, freeze_transform=True)
    with pytest.raises(ValueError, match="stage codec: freeze_transform needs the patch transform"):
        codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 5, 32))


def test_pixel_term_needs_a_per_frame_autoencoder(clips):
    model = build_model(TrainConfig.load(TINY))
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=32, frames=5, latent_pool=2, pixel_frames=1)
    with pytest.raises(ValueError, match="pixel_frames decodes single latent frames; VideoVAE has temporal factor 4"):
        codec_plan(cfg, model.vae, model.codec, VideoCrops(clips, 5, 32))


def test_patch_codec_with_pixel_term_tunes_the_decoder_and_exports(tmp_path, small_clip_y4m, shared_media):
    text = (REPO / "configs" / "tiny_frame.toml").read_text()
    text = text.replace('"../../shared/media/train"', f'"{shared_media}"').replace('"../runs/cache"', f'"{tmp_path / "cache"}"')
    text = text.replace("max_frames = 24", "max_frames = 12").replace("y_channels = 16,", 'y_channels = 128, transform = "patch",')
    text = text.replace('autoencoder = {', "refiner = false\nautoencoder = {")
    # Only the codec stage, with the pixel term and the decoder fine-tune.
    codec_stage = text.split("[[stages]]")[1].replace("steps = 4", "steps = 3")
    text = text.split("[[stages]]")[0] + "[[stages]]" + codec_stage + "pixel_frames = 2\npixel_window = 2\ntrain_decoder = true\n"
    (tmp_path / "cfg").mkdir()
    cfg_path = tmp_path / "cfg" / "tiny_pixel.toml"
    cfg_path.write_text(text)
    train(cfg_path, tmp_path / "run", tmp_path / "model")

    pools = sorted((tmp_path / "cache").glob("latent_pool.*.frames.pt"))
    assert len(pools) == 1
    stored = torch.load(pools[0], weights_only=True)
    assert stored["frames"].dtype == torch.uint8 and stored["frames"].shape[1:3] == (3, 6)
    assert stored["latents"].shape[-1] * 8 == stored["frames"].shape[-1]
    metrics = [json.loads(line) for line in (tmp_path / "run" / "codec" / "metrics.jsonl").read_text().splitlines()]
    assert all("psnr" in m for m in metrics)

    torch.manual_seed(0)
    initial = build_model(TrainConfig.load(cfg_path), cfg_path.parent)
    model = GnvcModel.from_pretrained(tmp_path / "model")
    assert model.codec.config.transform == "patch"
    # The patch transform started from the pool's statistics: an orthonormal basis, measured sensitivities.
    basis = model.codec.distortion_basis
    assert torch.allclose(basis @ basis.T, torch.eye(128), atol=1e-4)
    assert torch.all(model.codec.distortion_weights > 0)
    # The autoencoder is stored in fp16 (like the released TAEF2): compare with the initial weights rounded so.
    for name, tensor in initial.vae.encoder.state_dict().items():  # frozen: the pool stays valid
        assert torch.equal(model.vae.encoder.state_dict()[name], tensor.half().float()), name
    tuned = model.vae.decoder.state_dict()
    changed = [n for n, t in initial.vae.decoder.state_dict().items() if not torch.equal(tuned[n], t.half().float())]
    assert changed, "the decoder was not fine-tuned"

    from vsgnvc.api import encode_file
    from vsgnvc.codec.decoder import Decoder

    r = encode_file(small_clip_y4m, tmp_path / "x.gnvc", model, device="cpu", progress=False)
    with Decoder(tmp_path / "x.gnvc", model, "cpu") as dec:
        assert len(list(dec.frames())) == r.num_frames == 13



def test_decoder_stage_tunes_one_decoder_per_rate_and_exports(tmp_path, small_clip_y4m, shared_media):
    text = (REPO / "configs" / "tiny_frame.toml").read_text()
    text = text.replace('"../../shared/media/train"', f'"{shared_media}"').replace('"../runs/cache"', f'"{tmp_path / "cache"}"')
    text = text.replace("max_frames = 24", "max_frames = 12").replace('autoencoder = {', "refiner = false\nautoencoder = {")
    codec_stage = text.split("[[stages]]")[1].replace("steps = 4", "steps = 2")
    decoder_stage = ('\nname = "decoder"\nsteps = 3\nlr = 1e-3\nbatch = 2\ncrop = 32\nframes = 6\nlatent_pool = 3\n'
                     "latent_window = 2\nrates = [0, 2]\ncheckpoint_every = 2\nlog_every = 1\n")  # fmt: skip
    text = text.split("[[stages]]")[0] + "[[stages]]" + codec_stage + "[[stages]]" + decoder_stage
    (tmp_path / "cfg").mkdir()
    cfg_path = tmp_path / "cfg" / "tiny_decoder.toml"
    cfg_path.write_text(text)
    train(cfg_path, tmp_path / "run", tmp_path / "model")

    metrics = [json.loads(line) for line in (tmp_path / "run" / "decoder" / "metrics.jsonl").read_text().splitlines()]
    assert all("psnr0" in m and "psnr2" in m and "psnr1" not in m for m in metrics)
    torch.manual_seed(0)
    initial = build_model(TrainConfig.load(cfg_path), cfg_path.parent)
    model = GnvcModel.from_pretrained(tmp_path / "model")
    vae = model.vae
    assert vae.config.rate_decoders == [0, 2]
    shared = {n: t.half().float() for n, t in initial.vae.decoder.state_dict().items()}  # stored in fp16
    for name, tensor in shared.items():  # clean latents keep the shared decoder
        assert torch.equal(vae.decoder.state_dict()[name], tensor), name
    for r in ("0", "2"):
        tuned = vae.rate_decoders[r].state_dict()
        assert any(not torch.equal(tuned[n], t) for n, t in shared.items()), r

    from vsgnvc.api import encode_file
    from vsgnvc.codec.decoder import Decoder

    from vsgnvc.codec.encoder import EncodeSettings

    r = encode_file(small_clip_y4m, tmp_path / "x.gnvc", model, EncodeSettings(rate=2), device="cpu", progress=False)
    with Decoder(tmp_path / "x.gnvc", model, "cpu") as dec:
        assert len(list(dec.frames())) == r.num_frames == 13


def test_decoder_stage_options_are_checked(clips):
    with pytest.raises(ValueError, match="stage decoder: needs a latent_pool"):
        StageConfig(name="decoder", steps=1)
    with pytest.raises(ValueError, match="stage decoder: rates must be >= 0"):
        StageConfig(name="decoder", steps=1, latent_pool=2, rates=(-1,))
    wan = build_model(TrainConfig.load(TINY))
    cfg = StageConfig(name="decoder", steps=1, batch=1, crop=32, frames=5, latent_pool=2)
    with pytest.raises(ValueError, match="stage decoder: VideoVAE has one decoder for every rate"):
        decoder_plan(cfg, wan.vae, wan.codec, VideoCrops(clips, 5, 32))
    frame = build_model(TrainConfig.load(REPO / "configs" / "tiny_frame.toml"))
    cfg = StageConfig(name="decoder", steps=1, batch=1, crop=32, frames=5, latent_pool=2, rates=(4,))
    with pytest.raises(ValueError, match=r"stage decoder: rates \[4\] outside the codec's 0..3"):
        decoder_plan(cfg, frame.vae, frame.codec, VideoCrops(clips, 5, 32))


def test_a_codec_stage_warns_when_its_y_maps_have_no_interior(bikes_clip, caplog):
    from vsgnvc.train.data import decode_rgb

    model = _patch_codec_model(4)
    cfg = StageConfig(name="codec", steps=1, batch=1, crop=64, frames=3, latent_pool=2)
    with caplog.at_level("WARNING", logger="vsgnvc.train.stages"):
        codec_plan(cfg, model.vae, model.codec, VideoCrops([decode_rgb(bikes_clip, 64, 6)], 3, 64))
    assert "train on 2x2 y maps" in caplog.text
