"""Stage II: joint fine-tuning in pixel space (``name = "joint"``).

::

    V -> VAE enc (frozen) -> x_1 -> codec (training path) -> x_c -> VAE dec -> V^
                                          |                   \\-> refiner one-step estimate -> x~_1
                                          +-> bits

Per batch item, with ``lambda_r`` the weight of its (random) rate point::

    L = bpp + lambda_r * (pixel_weight * |V^ - V|^2 + msssim_weight * (1 - MS-SSIM(V^, V))
                          + lpips_weight * LPIPS(V^, V) + latent_weight * (|x_c - x_1|^2 + |x~_1 - x_1|^2))

**What trains.** Everything a decoder runs after entropy decoding and before the pixels come out: the codec's
synthesis transforms and context network (``intra_synthesis``, ``inter_synthesis``, ``context_net``), the VAE
decoder (``post_quant_conv``, ``decoder``), and the refiner's adapter and null text embedding (only when
``latent_weight > 0``, through the ``|x~_1 - x_1|^2`` term). The aux optimiser keeps fitting the hyper-latent's
``quantiles`` (its CDF tables follow ``z``, which moves with the context).

**What is frozen, and why.** The encoder side (VAE encoder, codec analysis and hyper-analysis) and the
entropy model (the exact fixed-point parameter networks, the per-rate gains, the factorised prior) stay as the codec
stage left them: the rate points keep the bitrates that stage calibrated, and the stage first calls
``codec.update()`` so the synthesis learns against the *snapped* entropy parameters the range coder will really use.
The rate term still has gradients: later frames' analysis and entropy parameters see the trainable context
``f_{t-1}``. The stage ends with ``codec.update()`` so the CDF tables match the refitted quantiles.

The pixel terms decode the codec's latents ``x_c`` (what ``--no-refine`` shows, and what refinement starts from).
The refined path enters through the latent term only: the refiner's one-step estimate is built from a point on
the path towards the source latent, so decoding it to pixels would grade the decoder on leaked inputs.
Crops must be multiples of the model's pixel multiple (32) and larger than 32 px for MS-SSIM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from ..models.bundle import GnvcModel
from .config import StageConfig
from .data import VideoCrops
from .loop import StagePlan
from .perceptual import load_lpips, msssim_per_sample, msssim_window
from .stages import code_sequence, per_sample_mse, psnr_from_mse, rate_lambdas

if TYPE_CHECKING:
    from ..refine import Refiner

logger = logging.getLogger(__name__)


def joint_trainable(model: GnvcModel, with_refiner: bool) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(main, aux) parameters of the joint stage; every other parameter of ``model`` gets ``requires_grad=False``."""
    codec, vae = model.codec, model.vae
    model.requires_grad_(False)
    modules = [codec.intra_synthesis, codec.inter_synthesis, codec.context_net]
    modules += vae.decoder_modules()
    refiner = cast("Refiner | None", model.refiner)
    if refiner is not None:
        refiner.set_prior_trainable(False)  # also keeps the prior in eval mode
        if with_refiner:
            modules += [refiner.adapter, refiner.null_embedding]
    main = [p for m in modules for p in m.parameters()]
    aux = [codec.entropy_bottleneck.quantiles]
    for p in main + aux:
        p.requires_grad_(True)
    return main, aux


def joint_plan(cfg: StageConfig, model: GnvcModel, crops: VideoCrops) -> StagePlan:
    """Stage II on ``model`` (VAE latent statistics already set); its checkpoints hold the whole model."""
    from ..refine import flow_matching_loss

    vae, codec = model.vae, model.codec
    lambdas = rate_lambdas(cfg, codec)
    vae.latent_frames(cfg.frames)  # 1 + k * temporal_factor frames, else a clear error
    if cfg.crop % model.pixel_multiple:
        raise ValueError(f"stage joint: crop {cfg.crop} must be a multiple of {model.pixel_multiple}")
    with_msssim = cfg.crop > 32
    if cfg.msssim_weight > 0:
        msssim_window(cfg.crop)  # raises for crops of 32 px
    lpips = load_lpips() if cfg.lpips_weight > 0 else None
    if lpips is not None:
        lpips.to(model.vae.device)
    refiner = cast("Refiner | None", model.refiner) if cfg.latent_weight > 0 else None
    main, aux = joint_trainable(model, refiner is not None)
    # Train against the exact entropy parameters the coder will use (a no-op on already snapped weights).
    codec.update()
    pixels = cfg.frames * cfg.crop * cfg.crop

    def loss_fn(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            latents = vae.encode(x)
        rate = torch.randint(0, codec.num_rates, (x.shape[0],), generator=gen).to(x.device)
        out = code_sequence(codec, latents, rate)
        x_c = out["latent_hat"]
        # The raw decoder output (no clamp): clamping would cut the gradient of out-of-range pixels.
        x_hat = vae.decode_raw(vae.denormalize(x_c))
        bpp = out["bits"] / pixels
        mse = per_sample_mse(x_hat, x)
        dist = cfg.pixel_weight * mse
        metrics: dict[str, float] = {}
        if with_msssim:
            if cfg.msssim_weight > 0:
                msssim = msssim_per_sample(x_hat, x)
                dist = dist + cfg.msssim_weight * (1.0 - msssim)
            else:
                with torch.no_grad():
                    msssim = msssim_per_sample(x_hat, x)
            metrics["msssim"] = msssim.mean().item()
        if lpips is not None:
            perceptual = lpips(x_hat, x)
            dist = dist + cfg.lpips_weight * perceptual
            metrics["lpips"] = perceptual.mean().item()
        latent_mse = per_sample_mse(x_c, latents)
        if cfg.latent_weight > 0:
            dist = dist + cfg.latent_weight * latent_mse
        if refiner is not None:
            refined = flow_matching_loss(refiner, latents, x_c, out["context"], gen)["x1_hat"]
            refine_mse = per_sample_mse(refined, latents)
            dist = dist + cfg.latent_weight * refine_mse
            metrics["refine_mse"] = refine_mse.mean().item()
        loss = (bpp + lambdas.to(dist)[rate] * dist).mean()
        with torch.no_grad():
            shown = per_sample_mse(x_hat.clamp(-1.0, 1.0), x).mean()
        metrics = {
            "loss": loss.item(), "bpp": bpp.mean().item(), "psnr": psnr_from_mse(shown), "mse": mse.mean().item(),
            "latent_mse": latent_mse.mean().item(), **metrics,
        }  # fmt: skip
        return loss, codec.aux_loss(), metrics

    def batch_fn(rng: np.random.Generator) -> torch.Tensor:
        return torch.stack([crops.sample(rng) for _ in range(cfg.batch)])

    logger.info(
        "joint: training %d parameters (codec synthesis, VAE decoder%s); LPIPS %s",
        sum(p.numel() for p in main), ", adapter" if refiner is not None else "", "on" if lpips is not None else "off",
    )  # fmt: skip
    return StagePlan(cfg, model, main, loss_fn, batch_fn, aux, finish=codec.update)
