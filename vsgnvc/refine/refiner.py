"""Sequence-level generative refinement (GNVC-VD Pipeline 3-4): frozen Wan prior + context adapter + Euler sampler.

::

    x_c, context --(window plan)--> per window: x_{t_N} = t_N x_c + (1 - t_N) x_0(seed of window)
                                                 5 Euler steps of  v = Wan(x, sigma, null text; + adapter residuals)
                 --(raised-cosine blend of overlaps)--> x_1_hat

Folder layout written by :meth:`Refiner.save_pretrained`::

    refiner/
      refiner.json        format, version, sampler defaults, optional external prior path
      prior/              diffusers WanTransformer3DModel (absent when the prior lives in an external Wan folder)
      adapter/            WanContextAdapter
      null_embedding/     NullTextEmbedding
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from diffusers import WanTransformer3DModel
from torch import nn

from vsgnvc.device import compute_dtype, resolve_device
from vsgnvc.models.adapter import WanContextAdapter
from vsgnvc.models.prior import (
    NullTextEmbedding,
    build_prior,
    cast_module,
    check_prior,
    freeze,
    load_pretrained_strict,
    load_prior,
    wan_forward,
)
from vsgnvc.refine.blend import blend_frame
from vsgnvc.refine.sampler import SamplerConfig, VelocityFn, euler_sample, make_noise, window_seed
from vsgnvc.refine.windows import Window, WindowPlan, plan_windows

logger = logging.getLogger(__name__)

CONFIG_NAME = "refiner.json"
FORMAT_NAME = "vsgnvc-refiner"
FORMAT_VERSION = 1

#: ``callback(done_windows, total_windows)`` for progress reporting.
ProgressFn = Callable[[int, int], None]


class Refiner(nn.Module):
    """Frozen Wan prior + trainable context adapter + learned null text embedding + sampler defaults.

    Args:
        prior (`WanTransformer3DModel`): the video diffusion transformer, used unmodified.
        adapter (`WanContextAdapter`): must match the prior's patch size, width and block count.
        null_embedding (`NullTextEmbedding`): must match the prior's ``text_dim``.
        sampler (`SamplerConfig`, *optional*): default ``t_start``/``steps``.
        freeze_prior (`bool`, *optional*, defaults to `True`): no gradients into the prior, kept in eval mode.
        prior_path (`Path`, *optional*): external Wan folder the prior came from (recorded by ``save_pretrained``).
    """

    def __init__(
        self,
        prior: WanTransformer3DModel,
        adapter: WanContextAdapter,
        null_embedding: NullTextEmbedding,
        *,
        sampler: SamplerConfig | None = None,
        freeze_prior: bool = True,
        prior_path: Path | None = None,
    ) -> None:
        super().__init__()
        check_prior(prior)
        adapter.check_compatible(prior)
        if null_embedding.config.text_dim != prior.config.text_dim:
            raise ValueError(
                f"null embedding text_dim {null_embedding.config.text_dim} != prior text_dim {prior.config.text_dim}"
            )
        self.prior = prior
        self.adapter = adapter
        self.null_embedding = null_embedding
        self.sampler = sampler or SamplerConfig()
        self.prior_path = Path(prior_path) if prior_path is not None else None
        self._prior_frozen = False
        self.set_prior_trainable(not freeze_prior)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        *,
        prior: WanTransformer3DModel | None = None,
        prior_config: dict[str, Any] | None = None,
        context_channels: int = 32,
        latent_channels: int = 16,
        adapter_config: dict[str, Any] | None = None,
        num_text_tokens: int = 16,
        sampler: SamplerConfig | None = None,
        freeze_prior: bool = True,
        prior_path: Path | str | None = None,
    ) -> Refiner:
        """A new refiner around a prior, with a zero-output adapter and a zero null text embedding.

        The prior is ``prior``, else loaded from the Wan folder ``prior_path`` (recorded, not copied, on save), else a
        fresh one built from ``prior_config`` (``SMALL_PRIOR_CONFIG`` by default).
        """
        if prior is None:
            prior = load_prior(prior_path) if prior_path is not None else build_prior(prior_config)
        adapter = WanContextAdapter.for_prior(
            prior, context_channels=context_channels, latent_channels=latent_channels, **(adapter_config or {})
        )
        null = NullTextEmbedding(num_tokens=num_text_tokens, text_dim=prior.config.text_dim)
        external = Path(prior_path) if prior_path is not None else None
        return cls(prior, adapter, null, sampler=sampler, freeze_prior=freeze_prior, prior_path=external)

    def set_prior_trainable(self, trainable: bool) -> None:
        """Freeze (default) or unfreeze the prior transformer; the adapter and null embedding stay trainable."""
        self._prior_frozen = not trainable
        if trainable:
            self.prior.requires_grad_(True)
            self.prior.train(self.training)
        else:
            freeze(self.prior)

    @property
    def prior_frozen(self) -> bool:
        return self._prior_frozen

    def train(self, mode: bool = True) -> Refiner:
        super().train(mode)
        if self._prior_frozen:
            self.prior.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.adapter.patch_embedding.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.adapter.patch_embedding.weight.dtype

    def place(self, device: str | int | torch.device | None = None, dtype: torch.dtype | None = None) -> Refiner:
        """Move to ``device`` (auto: CUDA if available, else CPU) in ``dtype`` (auto: fp32 on CPU, bf16 on GPU).

        Modules the Wan transformer lists in ``_keep_in_fp32_modules`` stay float32.
        """
        dev = resolve_device(device)
        dtype = dtype or compute_dtype(dev)
        self.to(dev)
        cast_module(self, dtype)
        logger.debug("refiner placed on %s as %s", dev, dtype)
        return self

    # ------------------------------------------------------------------ velocity
    def _check_inputs(self, x_c: torch.Tensor, context: torch.Tensor) -> None:
        channels = self.prior.config.in_channels
        if x_c.ndim != 5 or x_c.shape[1] != channels:
            raise ValueError(f"latent must be [B, {channels}, T, h, w], got {list(x_c.shape)}")
        ctx = self.adapter.config.context_channels
        if context.ndim != 5 or context.shape[1] != ctx:
            raise ValueError(f"context must be [B, {ctx}, T, h, w], got {list(context.shape)}")
        if context.shape[0] != x_c.shape[0] or context.shape[2:] != x_c.shape[2:]:
            raise ValueError(f"context {list(context.shape)} and latent {list(x_c.shape)} differ in B, T, h or w")
        p_t, p_h, p_w = self.prior.config.patch_size
        _, _, t, h, w = x_c.shape
        if t % p_t or h % p_h or w % p_w:
            raise ValueError(f"latent size {t}x{h}x{w} is not a multiple of the prior's patch {(p_t, p_h, p_w)}")

    def velocity_fn(self, x_c: torch.Tensor, context: torch.Tensor) -> VelocityFn:
        """``d x / d sigma`` of prior + adapter for one window; the context features are computed once here."""
        self._check_inputs(x_c, context)
        dev, dtype = self.device, self.dtype
        latent = x_c.to(dev, dtype)
        features = self.adapter.encode(context.to(dev, dtype), latent)
        text = self.null_embedding(x_c.shape[0]).to(dtype)

        def velocity(sample: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            timestep = sigma.to(dev, torch.float32) * 1000.0
            features_t = self.adapter.modulate(features, timestep)
            return wan_forward(
                self.prior,
                sample.to(dev, dtype),
                timestep,
                text,
                lambda index, _tokens: self.adapter.block_residual(index, features_t),
            )

        return velocity

    def velocity(
        self, sample: torch.Tensor, sigma: torch.Tensor, x_c: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """``d x / d sigma`` at ``sample`` (``[B, 16, T, h, w]``) and ``sigma`` (``[B]``); for training."""
        return self.velocity_fn(x_c, context)(sample, sigma)

    def prior_velocity(self, sample: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``d x / d sigma`` of the prior alone (null text, no adapter); for prior pre-training."""
        dev, dtype = self.device, self.dtype
        text = self.null_embedding(sample.shape[0]).to(dtype)
        return wan_forward(self.prior, sample.to(dev, dtype), sigma.to(dev, torch.float32) * 1000.0, text)

    # ------------------------------------------------------------------ sampling
    def _sampler(self, t_start: float | None, steps: int | None) -> SamplerConfig:
        return SamplerConfig(
            t_start=self.sampler.t_start if t_start is None else t_start,
            steps=self.sampler.steps if steps is None else steps,
        )

    def refine(
        self,
        x_c: torch.Tensor,
        context: torch.Tensor,
        *,
        seed: int,
        t_start: float | None = None,
        steps: int | None = None,
        enable_grad: bool = False,
    ) -> torch.Tensor:
        """Refine one window; returns float32 ``x_1_hat`` ``[B, 16, T, h, w]`` on the refiner's device.

        Args:
            x_c (`torch.Tensor` of shape `[B, 16, T, h, w]`): decoded latent (normalised like the VAE's).
            context (`torch.Tensor` of shape `[B, C_ctx, T, h, w]`): codec context sequence.
            seed (`int`): seed of ``x_0`` (the window seed; see :func:`~vsgnvc.refine.sampler.window_seed`).
            t_start (`float`, *optional*): ``t_N``; defaults to the refiner's (0.7).
            steps (`int`, *optional*): Euler steps; defaults to the refiner's (5).
            enable_grad (`bool`, *optional*, defaults to `False`): keep the graph (stage II training); otherwise
                runs under ``torch.inference_mode``.
        """
        config = self._sampler(t_start, steps)
        self._check_inputs(x_c, context)
        with nullcontext() if enable_grad else torch.inference_mode():
            noise = make_noise(x_c.shape, seed, self.device)
            velocity = self.velocity_fn(x_c, context)
            return euler_sample(velocity, x_c.to(self.device, torch.float32), noise, config)

    def refine_window(
        self,
        plan: WindowPlan,
        window: Window,
        x_c: torch.Tensor,
        context: torch.Tensor,
        *,
        seed: int,
        t_start: float | None = None,
        steps: int | None = None,
    ) -> torch.Tensor:
        """Refine ``window`` of a sequence; inputs are the window's frames. Returns CPU float32."""
        if window not in plan.windows:
            raise ValueError(f"window [{window.start}, {window.stop}) is not part of the plan")
        if x_c.shape[2] != len(window):
            raise ValueError(f"window [{window.start}, {window.stop}) needs {len(window)} frames, got {x_c.shape[2]}")
        out = self.refine(x_c, context, seed=window_seed(seed, window.start), t_start=t_start, steps=steps)
        logger.debug("refined latent frames [%d, %d)", window.start, window.stop)
        return out.to("cpu", torch.float32)

    def refine_sequence(
        self,
        x_c: torch.Tensor,
        context: torch.Tensor,
        *,
        window: int,
        overlap: int,
        cuts: Iterable[int] = (),
        seed: int,
        t_start: float | None = None,
        steps: int | None = None,
        callback: ProgressFn | None = None,
    ) -> torch.Tensor:
        """Refine a whole latent sequence window by window; returns CPU float32 ``[B, 16, T, h, w]``.

        One window is on the device at a time; refined windows wait on the CPU until their overlap is blended.
        The result equals, bit for bit, what :class:`~vsgnvc.refine.cache.WindowedRefiner` returns frame by frame.

        Args:
            x_c (`torch.Tensor` of shape `[B, 16, T, h, w]`): decoded latents (any device; CPU is fine).
            context (`torch.Tensor` of shape `[B, C_ctx, T, h, w]`): context sequence.
            window (`int`): maximal window length in latent frames.
            overlap (`int`): latent frames shared by consecutive windows.
            cuts (`Iterable[int]`): latent frames that start a new shot; no window spans one.
            seed (`int`): base seed (stored in the bitstream); each window derives its own.
            t_start, steps: sampler overrides.
            callback (`ProgressFn`, *optional*): called after each window with ``(done, total)``.
        """
        self._check_inputs(x_c, context)
        plan = plan_windows(x_c.shape[2], window, overlap, cuts)
        out = torch.empty(x_c.shape, dtype=torch.float32)
        pending: dict[Window, torch.Tensor] = {}
        next_frame = 0
        windows = plan.windows
        for k, win in enumerate(windows):
            sl = slice(win.start, win.stop)
            pending[win] = self.refine_window(
                plan, win, x_c[:, :, sl], context[:, :, sl], seed=seed, t_start=t_start, steps=steps
            )
            # Frames before the next window's start are covered only by windows refined so far.
            limit = windows[k + 1].start if k + 1 < len(windows) else plan.num_frames
            for frame in range(next_frame, limit):
                out[:, :, frame] = blend_frame(plan, frame, pending)
            next_frame = max(next_frame, limit)
            pending = {w: o for w, o in pending.items() if w.stop > next_frame}
            if callback is not None:
                callback(k + 1, len(windows))
        return out

    # ------------------------------------------------------------------ files
    def save_pretrained(self, path: Path | str, *, save_prior: bool | None = None) -> None:
        """Write the refiner folder atomically (temp sibling renamed into place).

        Args:
            path (`Path`): destination folder (replaced if it exists).
            save_prior (`bool`, *optional*): write ``prior/``; defaults to `False` when the prior came from an
                external Wan folder (its path is recorded instead), else `True`.
        """
        path = Path(path)
        if save_prior is None:
            save_prior = self.prior_path is None
        if not save_prior and self.prior_path is None:
            raise ValueError("save_prior=False needs a refiner whose prior came from prior_path")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            if save_prior:
                self.prior.save_pretrained(tmp / "prior")
            self.adapter.save_pretrained(tmp / "adapter")
            self.null_embedding.save_pretrained(tmp / "null_embedding")
            meta = {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "t_start": self.sampler.t_start,
                "steps": self.sampler.steps,
                "prior_path": None if save_prior or self.prior_path is None else str(self.prior_path.resolve()),
            }
            (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    @classmethod
    def from_pretrained(
        cls,
        path: Path | str,
        *,
        prior_path: Path | str | None = None,
        device: str | int | torch.device | None = None,
        dtype: torch.dtype | None = None,
        freeze_prior: bool = True,
    ) -> Refiner:
        """Load a refiner folder; ``prior_path`` (a diffusers Wan transformer or pipeline folder) overrides ``prior/``.

        Without ``prior_path``, ``prior/`` is used, else the external path recorded in ``refiner.json``.
        The result is placed with :meth:`place` (``device``/``dtype`` auto by default), in eval mode.
        """
        path = Path(path)
        meta_file = path / CONFIG_NAME
        if not meta_file.is_file():
            raise FileNotFoundError(f"{path} is not a refiner folder (no {CONFIG_NAME})")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_file} is not valid JSON: {exc}") from exc
        if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{meta_file}: unsupported format {meta.get('format')!r} v{meta.get('version')!r}")
        external: Path | None = None
        if prior_path is not None:
            external = Path(prior_path)
        elif not (path / "prior").is_dir():
            recorded = meta.get("prior_path")
            if not recorded:
                raise FileNotFoundError(f"{path} has no prior/ and records no prior_path; pass prior_path=")
            external = Path(recorded) if Path(recorded).is_absolute() else path / recorded
        prior = load_prior(external if external is not None else path / "prior")
        adapter = load_pretrained_strict(WanContextAdapter, path / "adapter")
        null = load_pretrained_strict(NullTextEmbedding, path / "null_embedding")
        sampler = SamplerConfig(t_start=float(meta["t_start"]), steps=int(meta["steps"]))
        refiner = cls(prior, adapter, null, sampler=sampler, freeze_prior=freeze_prior, prior_path=external)
        return refiner.place(device, dtype).eval()
