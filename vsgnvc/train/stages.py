"""Per-stage losses. Each ``*_plan`` returns a ``StagePlan`` the loop can run and resume."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.vae import VideoVAE
from .config import StageConfig
from .data import VideoCrops
from .loop import StagePlan


def psnr_from_mse(mse: torch.Tensor) -> float:
    # frames live in [-1, 1]: peak-to-peak 2
    return float(10 * torch.log10(4.0 / mse.clamp_min(1e-10)))


def vae_plan(cfg: StageConfig, vae: VideoVAE, crops: VideoCrops) -> StagePlan:
    """Stage 0: reconstruction (MSE + L1) and a small KL towards N(0, 1)."""

    def loss_fn(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, None, dict[str, float]]:
        mean, logvar = vae.encode_distribution(x)
        logvar = logvar.clamp(-30, 20)
        z = mean + torch.randn(mean.shape, generator=gen).to(mean) * torch.exp(0.5 * logvar)
        x_hat = vae.model.decode(z).sample
        mse = F.mse_loss(x_hat, x)
        l1 = F.l1_loss(x_hat, x)
        kl = 0.5 * torch.mean(mean.pow(2) + logvar.exp() - 1 - logvar)
        loss = mse + 0.1 * l1 + cfg.kl_weight * kl
        return loss, None, {"loss": float(loss), "mse": float(mse), "kl": float(kl), "psnr": psnr_from_mse(mse.detach())}

    def batch_fn(rng) -> torch.Tensor:
        return torch.stack([crops.sample(rng) for _ in range(cfg.batch)])

    return StagePlan(cfg, vae, [p for p in vae.parameters() if p.requires_grad], loss_fn, batch_fn)
