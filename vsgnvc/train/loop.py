"""A resumable training loop shared by every stage.

Each step draws its batch and noise from RNGs seeded by ``(seed, rank, step)``, so a run resumed
from a checkpoint continues bit-identically. Runs under ``torchrun`` (DDP, gloo on CPU, NCCL on GPU)
or in one process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from .config import StageConfig

logger = logging.getLogger(__name__)

# A batch is one tensor or a tuple of them (e.g. latents and their pixels).
Batch = torch.Tensor | tuple[torch.Tensor, ...]
# loss_fn(batch, generator) -> (main loss, aux loss or None, metrics)
LossFn = Callable[[Batch, torch.Generator], tuple[torch.Tensor, torch.Tensor | None, dict[str, float]]]
BatchFn = Callable[[np.random.Generator], Batch]


@dataclass
class StagePlan:
    """What one stage trains: its parameters, how to draw a batch, and its loss."""

    config: StageConfig
    module: nn.Module  # what the stage's checkpoints hold
    params: list[nn.Parameter]
    loss_fn: LossFn
    batch_fn: BatchFn
    aux_params: list[nn.Parameter] | None = None
    finish: Callable[[], None] | None = None  # run once the stage's steps are done (e.g. rebuild coding tables)
    start: Callable[[], None] | None = None  # run before the first step of a stage that resumes nothing (init from data)
    # A subset of ``params`` trained at ``fast_lr_scale`` x the stage's rate (few, slow-moving parameters
    # such as per-rate gains and the factorised density, which barely leave their init otherwise).
    fast_params: list[nn.Parameter] | None = None
    fast_lr_scale: float = 10.0


def world() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    return rank, size


def average_gradients(params: list[nn.Parameter], size: int) -> None:
    """Mean of every gradient over the ranks, in one all-reduce.

    Explicit rather than DDP wrapping: our stages train sub-modules of one bundle. A parameter without a
    gradient on this rank counts as zero; it gets one if any rank has one, so every rank takes the same step.
    """
    if not params:
        return
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).flatten().float() for p in params]
        + [torch.tensor([float(p.grad is not None) for p in params], device=params[0].device)]
    )
    torch.distributed.all_reduce(flat)
    flat /= size
    present = flat[-len(params) :]
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        if present[i] > 0:
            p.grad = flat[offset : offset + n].view_as(p).to(p.dtype)
        offset += n


def mean_metrics(metrics: dict[str, float], size: int) -> dict[str, float]:
    """Each metric averaged over the ranks that report it (per-rate keys differ between ranks)."""
    if size == 1:
        return metrics
    gathered: list[dict[str, float] | None] = [None] * size
    torch.distributed.all_gather_object(gathered, metrics)
    keys = list(dict.fromkeys(k for m in gathered if m for k in m))
    return {k: float(np.mean([m[k] for m in gathered if m and k in m])) for k in keys}


def weights_digest(model: nn.Module) -> str:
    """SHA-256 (16 hex digits) of every tensor in ``model.state_dict()``: equal on all ranks of a healthy run."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def check_ranks_agree(model: nn.Module, what: str) -> str:
    """Log this rank's weights digest and raise if any rank differs (call on every rank, or it blocks)."""
    rank, size = world()
    digest = weights_digest(model)
    logger.info("%s: weights %s on rank %d of %d", what, digest, rank, size)
    if size > 1:
        digests: list[str | None] = [None] * size
        torch.distributed.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            raise RuntimeError(f"{what}: ranks ended with different weights ({', '.join(map(str, digests))})")
    return digest


def _atomic_save(obj_path: Path, writer: Callable[[Path], None]) -> None:
    tmp = obj_path.with_name(obj_path.name + ".partial")
    writer(tmp)
    os.replace(tmp, obj_path)


def save_checkpoint(folder: Path, model: nn.Module, opts: list[torch.optim.Optimizer], step: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_save(folder / "model.safetensors", lambda p: save_file(state, str(p)))
    _atomic_save(folder / "trainer.pt", lambda p: torch.save({"step": step, "opts": [o.state_dict() for o in opts]}, p))


def load_checkpoint(folder: Path, model: nn.Module, opts: list[torch.optim.Optimizer]) -> int:
    from ..models.io import load_state_dict_resizing

    load_state_dict_resizing(model, load_file(str(folder / "model.safetensors")))
    state = torch.load(folder / "trainer.pt", map_location="cpu", weights_only=True)
    for o, s in zip(opts, state["opts"][: len(opts)], strict=True):
        o.load_state_dict(s)
    return int(state["step"])


def run_stage(
    plan: StagePlan, run_dir: Path, seed: int, device: torch.device, stop_at: int | None = None
) -> dict[str, float]:
    """Train one stage to ``plan.config.steps``, resuming from ``run_dir/<stage>/`` if present.

    ``stop_at`` ends the run early (with a checkpoint), as an interruption would.
    """
    cfg = plan.config
    model = plan.module
    rank, size = world()
    stage_dir = run_dir / cfg.folder
    fast = {id(p) for p in plan.fast_params or ()}
    groups = [{"params": [p for p in plan.params if id(p) not in fast]}]
    lr_scales = [1.0]
    if fast:
        groups.append({"params": [p for p in plan.params if id(p) in fast]})
        lr_scales.append(plan.fast_lr_scale)
    # The scales live outside the optimiser state: loading a checkpoint replaces the param-group dicts.
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=0.0)
    opts: list[torch.optim.Optimizer] = [opt]
    aux_opt = None
    if plan.aux_params:
        aux_opt = torch.optim.Adam(plan.aux_params, lr=cfg.aux_lr)
        opts.append(aux_opt)
    step = 0
    if (stage_dir / "trainer.pt").is_file():
        step = load_checkpoint(stage_dir, model, opts)
        logger.info("%s: resumed at step %d", cfg.folder, step)
    elif plan.start is not None:
        plan.start()
    if step >= cfg.steps:
        if plan.finish is not None:
            plan.finish()
        return {}
    # Cosine decay to 10 % of the base rate, a function of the step so resuming keeps it.
    def lr_at(s: int) -> float:
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / max(1, cfg.steps))))

    log_path = stage_dir / "metrics.jsonl"
    stage_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=cfg.steps, initial=step, desc=cfg.folder, disable=rank != 0, dynamic_ncols=True)
    metrics: dict[str, float] = {}
    t0 = time.perf_counter()
    model.train()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    while step < end:
        rng = np.random.default_rng([seed, rank, step])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        # Library code (the training path's quantisation noise) draws from the global RNG: seed it per step too.
        torch.manual_seed(int(rng.integers(2**62)))
        batch = plan.batch_fn(rng)
        batch = tuple(b.to(device) for b in batch) if isinstance(batch, tuple) else batch.to(device)
        for group, scale in zip(opt.param_groups, lr_scales, strict=True):
            group["lr"] = lr_at(step) * scale
        loss, aux, metrics = plan.loss_fn(batch, gen)
        opt.zero_grad(set_to_none=True)
        if aux_opt is not None:
            aux_opt.zero_grad(set_to_none=True)
        total = loss + aux if aux is not None else loss
        total.backward()
        if size > 1:
            average_gradients(plan.params + (plan.aux_params or []), size)
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(plan.params, cfg.grad_clip)
        opt.step()
        if aux_opt is not None:
            aux_opt.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            metrics = mean_metrics(metrics, size)
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items() if k in ("loss", "bpp", "psnr", "msssim")})
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "time": round(time.perf_counter() - t0, 2), **metrics}) + "\n")
        if rank == 0 and (step % cfg.checkpoint_every == 0 or step == end):
            save_checkpoint(stage_dir, model, opts, step)
    bar.close()
    model.eval()
    if step >= cfg.steps and plan.finish is not None:
        plan.finish()
    if size > 1:
        check_ranks_agree(model, cfg.folder)
    return metrics
