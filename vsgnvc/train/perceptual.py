"""Pixel-space quality terms of the joint stage: MS-SSIM on small crops, and LPIPS when it is available offline.

MS-SSIM is ``pytorch_msssim.ms_ssim`` per frame. That function always downsamples four times and needs
``min(H, W) > (win_size - 1) * 16``, so training crops use the largest odd window that fits (3 at 64 px, 5 at 96 px,
7 at 128 px, the standard 11 from 161 px). Scores with a window below 11 are a training signal, not the standard
metric.

LPIPS needs the ``lpips`` package and its AlexNet backbone weights in torch's hub cache. Nothing is downloaded:
when either is missing :func:`load_lpips` returns ``None`` and the caller skips the term.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from ..eval.perceptual import lpips_missing

logger = logging.getLogger(__name__)

STANDARD_WIN = 11
_DOWNSAMPLINGS = 4


def msssim_window(side: int) -> int:
    """Largest odd Gaussian window (at most 11) that ``pytorch_msssim.ms_ssim`` accepts for images of ``side`` px.

    :raises ValueError: if ``side`` is too small even for a 3-tap window (``side <= 32``).
    """
    win = min(STANDARD_WIN, (side - 1) // 2**_DOWNSAMPLINGS + 1)
    win -= 1 - win % 2
    if win < 3:
        raise ValueError(f"MS-SSIM needs crops larger than {2 * 2**_DOWNSAMPLINGS} px, got {side}")
    return win


def _frames(video: torch.Tensor) -> torch.Tensor:
    """``[B, C, T, H, W]`` -> ``[B * T, C, H, W]`` (batch-major)."""
    b, c, t, h, w = video.shape
    return video.transpose(1, 2).reshape(b * t, c, h, w)


def msssim_per_sample(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean per-frame MS-SSIM of videos ``[B, 3, T, H, W]`` in [-1, 1], one value per batch item (differentiable)."""
    from pytorch_msssim import ms_ssim

    b, _, t, h, w = x.shape
    # Frames, not 3-D volumes: ms_ssim would also pool over time on 5-D input.
    score = ms_ssim(
        _frames((x_hat + 1.0) / 2.0), _frames((x + 1.0) / 2.0), data_range=1.0, size_average=False,
        win_size=msssim_window(min(h, w)),
    )  # fmt: skip
    return score.view(b, t).mean(1)


class LpipsLoss(nn.Module):
    """LPIPS (AlexNet) per batch item, averaged over frames; frozen, inputs ``[B, 3, T, H, W]`` in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        import lpips

        self.net = lpips.LPIPS(net="alex", verbose=False).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> LpipsLoss:
        # Always eval: it is a fixed metric, not a trained part.
        return super().train(False)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape[:3]
        return self.net(_frames(x_hat), _frames(x)).view(b, t).mean(1)


def load_lpips() -> LpipsLoss | None:
    """LPIPS from local files only, or ``None`` (with a one-line note) when they are not all present."""
    reason = lpips_missing()
    if reason is not None:
        logger.info("LPIPS term skipped: %s", reason)
        return None
    return LpipsLoss()
