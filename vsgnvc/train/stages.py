"""Per-stage losses. Each ``*_plan`` returns a ``StagePlan`` the loop can run and resume."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from ..models.autoencoder import LatentAutoencoder
from ..models.latent_codec import ContextualLatentCodec, frame_bits
from ..models.vae import VideoVAE
from .config import StageConfig
from .data import VideoCrops
from .latent_pool import LatentPool
from .loop import StagePlan
from .patch_statistics import decoder_sensitivity, flattened_sensitivity, patch_basis

logger = logging.getLogger(__name__)


def per_sample_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per batch item ``[B]``."""
    return (a - b).pow(2).flatten(1).mean(1)


def psnr_from_mse(mse: torch.Tensor) -> float:
    # frames live in [-1, 1]: peak-to-peak 2
    return float(10 * torch.log10(4.0 / mse.clamp_min(1e-10)))


def vae_plan(cfg: StageConfig, vae: LatentAutoencoder, crops: VideoCrops) -> StagePlan:
    """Stage 0: reconstruction (MSE + L1) and a small KL towards N(0, 1)."""
    if not isinstance(vae, VideoVAE):
        raise ValueError(f"stage vae trains a Wan-layout VAE; this model's {type(vae).__name__} is pretrained and frozen")

    def loss_fn(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, None, dict[str, float]]:
        mean, logvar = vae.encode_distribution(x)
        logvar = logvar.clamp(-30, 20)
        z = mean + torch.randn(mean.shape, generator=gen).to(mean) * torch.exp(0.5 * logvar)
        x_hat = vae.model.decode(z).sample
        mse = F.mse_loss(x_hat, x)
        l1 = F.l1_loss(x_hat, x)
        kl = 0.5 * torch.mean(mean.pow(2) + logvar.exp() - 1 - logvar)
        loss = mse + 0.1 * l1 + cfg.kl_weight * kl
        return loss, None, {"loss": loss.item(), "mse": mse.item(), "kl": kl.item(), "psnr": psnr_from_mse(mse.detach())}

    def batch_fn(rng) -> torch.Tensor:
        return torch.stack([crops.sample(rng) for _ in range(cfg.batch)])

    return StagePlan(cfg, vae, [p for p in vae.parameters() if p.requires_grad], loss_fn, batch_fn)


def rate_lambdas(cfg: StageConfig, codec: ContextualLatentCodec) -> torch.Tensor:
    """The stage's distortion weight per rate point (the codec's ``rate_lambdas`` unless the stage sets its own)."""
    lambdas = torch.tensor(cfg.lambdas or codec.config.rate_lambdas or ())
    if len(lambdas) != codec.num_rates:
        raise ValueError(f"stage {cfg.name}: {len(lambdas)} lambdas for {codec.num_rates} rate points")
    return lambdas


def _latent_batch(vae: LatentAutoencoder, crops: VideoCrops, cfg: StageConfig, cache_dir=None):
    """A batch_fn returning normalised VAE latents of random crops (from a pre-encoded pool if configured).

    With ``pixel_frames`` the batch is ``(latents, pixels)``, both from a pool that keeps its crops' pixels.
    """
    if cfg.latent_pool:
        with_frames = cfg.pixel_frames > 0

        def pool_batch(rng):
            # Built on first use: a finished stage that is only reloaded never pays for it.
            pool = LatentPool.build(vae, crops, cfg.latent_pool, seed=crops.seed, cache_dir=cache_dir, with_frames=with_frames)
            size, chain = cfg.latent_window or None, cfg.latent_chain or None
            if with_frames:
                latents, frames = pool.sample_with_frames(rng, cfg.batch, size, chain)
                return latents.to(vae.device), frames.to(vae.device)
            return pool.sample(rng, cfg.batch, size, chain).to(vae.device)

        return pool_batch

    def batch_fn(rng) -> torch.Tensor:
        x = torch.stack([crops.sample(rng) for _ in range(cfg.batch)])
        with torch.no_grad():
            return vae.encode(x.to(vae.device))

    return batch_fn


@torch.no_grad()
def latent_statistics(vae: LatentAutoencoder, crops: VideoCrops, batches: int = 8, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean/std of the raw latents over a fixed set of crops."""
    rng = np.random.default_rng(4321)
    raws = []
    for _ in range(batches):
        x = torch.stack([crops.sample(rng) for _ in range(batch)])
        mean = vae.encode_raw(x)
        raws.append(mean.transpose(0, 1).reshape(mean.shape[1], -1))
    raw = torch.cat(raws, dim=1)
    return raw.mean(1), raw.std(1).clamp_min(1e-3)


def _pixels(vae: LatentAutoencoder, latents: torch.Tensor) -> int:
    """Pixels a latent sequence ``[B, C, T, h, w]`` stands for (bits per pixel of the frames it codes)."""
    _, _, t, h, w = latents.shape
    return (1 + (t - 1) * vae.temporal_factor) * h * w * vae.spatial_factor**2


def code_sequence(codec: ContextualLatentCodec, latents: torch.Tensor, rate: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the codec over a latent sequence ``[B, C, T, h, w]`` (training path)."""
    prev = None
    outs, bits = [], torch.zeros(latents.shape[0], device=latents.device)
    contexts = []
    for t in range(latents.shape[2]):
        out = codec.forward_frame(latents[:, :, t], prev, rate)
        prev = (out["y_hat"], out["context"], out["latent_hat"])
        outs.append(out["latent_hat"])
        contexts.append(out["context"])
        bits = bits + frame_bits(out["likelihoods_y"]) + frame_bits(out["likelihoods_z"])
    return {"latent_hat": torch.stack(outs, 2), "context": torch.stack(contexts, 2), "bits": bits}


def decoded_pixel_mse(
    vae: LatentAutoencoder, latent_hat: torch.Tensor, frames: torch.Tensor, count: int, window: int, gen: torch.Generator
) -> torch.Tensor:
    """Per-sample pixel MSE of ``count`` random frames of coded latents ``[B, C, T, h, w]`` decoded in a random
    ``window x window`` latent window (0 = whole), against ``frames`` ``[B, 3, T, H, W]`` (per-frame autoencoder)."""
    _, _, t, h, w = latent_hat.shape
    picked = torch.randperm(t, generator=gen)[: min(count, t)].to(latent_hat.device)
    size_h, size_w = min(window or h, h), min(window or w, w)
    y0 = int(torch.randint(0, h - size_h + 1, (1,), generator=gen))
    x0 = int(torch.randint(0, w - size_w + 1, (1,), generator=gen))
    s = vae.spatial_factor
    latents = latent_hat[:, :, picked, y0 : y0 + size_h, x0 : x0 + size_w]
    target = frames[:, :, picked, y0 * s : (y0 + size_h) * s, x0 * s : (x0 + size_w) * s]
    # The raw decoder output (no clamp): clamping would cut the gradient of out-of-range pixels.
    return per_sample_mse(vae.decode_raw(vae.denormalize(latents)), target)


def _check_latent_window(cfg: StageConfig, vae: LatentAutoencoder, codec: ContextualLatentCodec, coded: bool) -> None:
    """The codec needs latents in multiples of its ``latent_multiple``: say so before any crop is encoded.

    ``coded``: the stage codes the pool's whole crops (the decoder stage), not ``latent_window`` windows of them."""
    size, what = cfg.crop // vae.spatial_factor, "crop"
    if cfg.latent_window and not coded and cfg.latent_window < size:
        size, what = cfg.latent_window, "latent_window"
    if size % codec.latent_multiple:
        raise ValueError(
            f"stage {cfg.folder}: {what} gives {size}x{size} latents; the codec needs multiples of "
            f"{codec.latent_multiple} (crop a multiple of {vae.spatial_factor * codec.latent_multiple} pixels"
            + ("" if coded else ", or set latent_window") + ")"
        )
    y_side = size // codec.y_factor
    if not coded and y_side < 8:
        # Measured: a 4x4-patch codec trained on 16x16 latent windows (4x4 y maps) coded a 16x16 window of a
        # bikes frame in 0.044 bpp and the whole 40x24 frame in 1.57 bpp.
        logger.warning(
            "stage %s: the entropy models train on %dx%d y maps: every position touches the border, so the "
            "interior of real frames is unseen (use larger crops)", cfg.folder, y_side, y_side
        )


def codec_plan(
    cfg: StageConfig, vae: LatentAutoencoder, codec: ContextualLatentCodec, crops: VideoCrops, cache_dir=None
) -> StagePlan:
    """Stage I (codec part): rate + lambda_r * distortion, a random rate point per sample.

    The distortion is ``latent_weight`` x latent MSE, plus with ``pixel_frames`` ``pixel_weight`` x the pixel MSE
    of decoded frames; ``train_decoder`` fine-tunes the autoencoder's decoder with the codec (the encoder and
    so the latent pool stay fixed).
    """
    lambdas = rate_lambdas(cfg, codec)
    _check_latent_window(cfg, vae, codec, coded=False)
    with_pixels = cfg.pixel_frames > 0
    if with_pixels and vae.temporal_factor != 1:
        raise ValueError(
            f"stage {cfg.folder}: pixel_frames decodes single latent frames; {type(vae).__name__} "
            f"has temporal factor {vae.temporal_factor} (use the joint stage for pixel-space training)"
        )

    def loss_fn(batch, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        latents, frames = batch if with_pixels else (batch, None)
        rate = torch.randint(0, codec.num_rates, (latents.shape[0],), generator=gen)
        out = code_sequence(codec, latents, rate)
        pixels = _pixels(vae, latents)
        bpp = out["bits"] / pixels
        mse = per_sample_mse(out["latent_hat"], latents)
        latent_dist = codec.distortion(out["latent_hat"], latents)
        dist = cfg.latent_weight * latent_dist
        metrics: dict[str, float] = {}
        if codec.patch:  # the weighted distortion is about the decoded RGB MSE in [0, 1]
            metrics["psnr_est"] = float(10 * torch.log10(1.0 / latent_dist.detach().mean().clamp_min(1e-10)))
        if frames is not None:
            pixel_mse = decoded_pixel_mse(vae, out["latent_hat"], frames, cfg.pixel_frames, cfg.pixel_window, gen)
            dist = dist + cfg.pixel_weight * pixel_mse
            metrics["psnr"] = psnr_from_mse(pixel_mse.detach().mean())
        loss = (bpp + lambdas[rate].to(mse) * dist).mean()
        metrics = {"loss": loss.item(), "bpp": bpp.mean().item(), "mse": mse.mean().item(), **metrics}
        for r in range(codec.num_rates):
            sel = rate == r
            if sel.any():
                metrics[f"bpp{r}"] = bpp[sel].mean().item()
                if frames is not None:
                    metrics[f"psnr{r}"] = psnr_from_mse(pixel_mse[sel].detach().mean())
                elif codec.patch:
                    metrics[f"psnr{r}"] = float(10 * torch.log10(1.0 / latent_dist[sel].detach().mean().clamp_min(1e-10)))
        return loss, codec.aux_loss(), metrics

    main = [p for n, p in codec.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
    fast = [codec.log_gain, codec.log_hyper_gain, *codec.entropy_bottleneck_density()]
    if cfg.freeze_transform:
        if not codec.patch:
            raise ValueError(f"stage {cfg.folder}: freeze_transform needs the patch transform (its steps are measured)")
        entropy = {id(p) for p in codec.entropy_parameters()}
        for p in main:
            p.requires_grad_(id(p) in entropy)
        main = [p for p in main if p.requires_grad]
        fast = [p for p in fast if p.requires_grad]
    module: torch.nn.Module = codec
    if cfg.train_decoder:
        decoder = [p for m in vae.decoder_modules() for p in m.parameters()]
        for p in decoder:
            p.requires_grad_(True)
        main += decoder
        module = torch.nn.ModuleDict({"codec": codec, "vae": vae})  # the checkpoint holds the tuned decoder too
    batch_fn = _latent_batch(vae, crops, cfg, cache_dir)
    start = None
    if codec.patch:

        def start() -> None:
            # Pool crops: the basis from ~4600 latent frames, the sensitivity from 16 of them (4 for 4x4 patches:
            # one decode per coefficient and frame, 512 coefficients).
            rng = np.random.default_rng([crops.seed, 104729])
            sample = [batch_fn(rng) for _ in range(max(1, 512 // cfg.batch))]
            latents = torch.cat([b[0] if isinstance(b, tuple) else b for b in sample])
            patch = codec.patch_transform.patch
            mean, basis = patch_basis(latents, patch)
            frames = latents[: max(4, 2048 // basis.shape[0]), :, :1]
            sensitivity = decoder_sensitivity(vae, frames, mean, basis, patch)
            sensitivity = flattened_sensitivity(sensitivity, cfg.sensitivity_power)
            codec.set_patch_statistics(mean, basis, sensitivity, lambdas.tolist())

    return StagePlan(cfg, module, main, loss_fn, batch_fn, aux, fast_params=fast, start=start)


@torch.no_grad()
def coded_chains(codec: ContextualLatentCodec, latents: torch.Tensor, rate: int) -> torch.Tensor:
    """Latent chains ``[N, C, T, h, w]`` coded at ``rate`` exactly as the encoder codes a GOP (intra, then
    inter on the previous decoded latent): what the decoder reads from a bitstream."""
    out = torch.empty_like(latents)
    for i in range(latents.shape[0]):
        prev = None
        for t in range(latents.shape[2]):
            prev = codec.compress_frame(latents[i : i + 1, :, t], prev, rate)
            out[i, :, t] = prev.latent[0]
    return out


def decoder_plan(
    cfg: StageConfig, vae: LatentAutoencoder, codec: ContextualLatentCodec, crops: VideoCrops, cache_dir=None
) -> StagePlan:
    """Rate decoders: each rate of ``cfg.rates`` gets a copy of the autoencoder's decoder, fine-tuned with pixel
    MSE on the pool's chains coded at that rate by the trained (frozen) codec. Every step trains each rate's
    decoder on ``batch`` random frames of its chains, in ``latent_window`` windows; clean latents keep the
    released decoder."""
    add = getattr(vae, "add_rate_decoder", None)
    if add is None:
        raise ValueError(f"stage {cfg.folder}: {type(vae).__name__} has one decoder for every rate")
    rates = list(cfg.rates or range(codec.num_rates))
    if max(rates) >= codec.num_rates:
        raise ValueError(f"stage {cfg.folder}: rates {rates} outside the codec's 0..{codec.num_rates - 1}")
    _check_latent_window(cfg, vae, codec, coded=True)
    decoders = {r: add(r) for r in rates}
    params = [p for d in decoders.values() for p in d.parameters()]
    for p in params:
        p.requires_grad_(True)
    coded: dict[int, torch.Tensor] = {}
    pool_frames: list[torch.Tensor] = []

    def batch_fn(rng) -> tuple[torch.Tensor, ...]:
        if not coded:  # coded on first use: a finished stage that is only reloaded never pays for it
            pool = LatentPool.build(vae, crops, cfg.latent_pool, seed=crops.seed, cache_dir=cache_dir, with_frames=True)
            if not codec.is_updated:
                codec.update()
            codec.eval()
            for r in rates:
                coded[r] = coded_chains(codec, pool.latents.to(vae.device), r).cpu()
            pool_frames.append(pool.frames)
        frames = pool_frames[0]
        n, _, t, h, w = coded[rates[0]].shape
        s = vae.spatial_factor
        size = min(cfg.latent_window or h, h, w)
        latents, pixels = [], []
        for r in rates:
            for _ in range(cfg.batch):
                i, k = int(rng.integers(0, n)), int(rng.integers(0, t))
                y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
                latents.append(coded[r][i, :, k, y0 : y0 + size, x0 : x0 + size])
                pixels.append(frames[i, :, k, y0 * s : (y0 + size) * s, x0 * s : (x0 + size) * s])
        return torch.stack(latents).to(vae.device), (torch.stack(pixels).float() / 127.5 - 1.0).to(vae.device)

    def loss_fn(batch, gen: torch.Generator) -> tuple[torch.Tensor, None, dict[str, float]]:
        latents, pixels = batch
        raw = vae.denormalize(latents.unsqueeze(2))[:, :, 0]
        losses, metrics = [], {}
        for j, r in enumerate(rates):
            part = slice(j * cfg.batch, (j + 1) * cfg.batch)
            mse = F.mse_loss(decoders[r](raw[part]) * 2.0 - 1.0, pixels[part])
            losses.append(mse)
            metrics[f"psnr{r}"] = psnr_from_mse(mse.detach())
        loss = torch.stack(losses).sum()
        return loss, None, {"loss": loss.item(), **metrics}

    return StagePlan(cfg, vae.rate_decoders, params, loss_fn, batch_fn)


def prior_plan(cfg: StageConfig, vae: LatentAutoencoder, refiner, crops: VideoCrops, cache_dir=None) -> StagePlan:
    """Our prior has no pre-trained weights: plain flow matching from noise to clean latents."""
    from ..refine import prior_flow_matching_loss

    refiner.set_prior_trainable(True)

    def loss_fn(latents: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, None, dict[str, float]]:
        out = prior_flow_matching_loss(refiner, latents, gen, sampling="logit_normal")
        return out["loss"], None, {"loss": out["loss"].item()}

    params = list(refiner.prior.parameters())
    return StagePlan(cfg, refiner, params, loss_fn, _latent_batch(vae, crops, cfg, cache_dir))


def refine_plan(
    cfg: StageConfig, vae: LatentAutoencoder, codec: ContextualLatentCodec, refiner, crops: VideoCrops, cache_dir=None
) -> StagePlan:
    """Stage I (refinement part): the adapter learns the correction from decoded latents (prior frozen)."""
    from ..refine import flow_matching_loss

    refiner.set_prior_trainable(False)

    def loss_fn(latents: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, None, dict[str, float]]:
        rate = torch.randint(0, codec.num_rates, (latents.shape[0],), generator=gen)
        with torch.no_grad():
            codec.eval()
            out = code_sequence(codec, latents, rate)
        out = flow_matching_loss(refiner, latents, out["latent_hat"], out["context"], gen)
        return out["loss"], None, {"loss": out["loss"].item()}

    params = [p for n, p in refiner.named_parameters() if not n.startswith("prior.")]
    for p in params:
        p.requires_grad_(True)  # a joint stage with latent_weight = 0 before this one freezes the adapter
    return StagePlan(cfg, refiner, params, loss_fn, _latent_batch(vae, crops, cfg, cache_dir))
