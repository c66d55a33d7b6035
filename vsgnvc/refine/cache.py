"""Random-access refinement for frame servers: refined latent frame ``i`` on demand, same bits in any order.

VapourSynth and the preview GUI ask for frames out of order and from several threads. :class:`WindowedRefiner`
refines each window of a fixed :class:`~vsgnvc.refine.windows.WindowPlan` at most once while it stays in a small LRU
cache (a lock per window, so concurrent requests for one window wait for a single computation), and blends frames
with the same function as :meth:`Refiner.refine_sequence`. A window recomputed after eviction gives the same bits:
its noise depends only on the base seed and its first frame.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from vsgnvc.refine.blend import blend_frame
from vsgnvc.refine.refiner import Refiner
from vsgnvc.refine.windows import Window, WindowPlan

logger = logging.getLogger(__name__)

#: ``source(start, stop) -> (x_c, context)``: decoded latents and context of latent frames ``[start, stop)``.
LatentSource = Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]


class WindowedRefiner:
    """Refined latent frames on demand, thread-safe and independent of request order.

    Args:
        refiner (`Refiner`): the model.
        source (`LatentSource`): gives ``(x_c, context)`` of a frame range (``[B, 16, n, h, w]``, ``[B, C, n, h, w]``).
        plan (`WindowPlan`): the windows (from ``plan_windows(T, W, O, cuts)``).
        seed (`int`): base seed stored in the bitstream.
        t_start (`float`, *optional*), steps (`int`, *optional*): sampler overrides.
        cache_size (`int`, *optional*, defaults to 4): refined windows kept (CPU float32); at least 2.
        max_concurrent (`int`, *optional*, defaults to 1): windows refined on the device at the same time.
    """

    def __init__(
        self,
        refiner: Refiner,
        source: LatentSource,
        plan: WindowPlan,
        *,
        seed: int,
        t_start: float | None = None,
        steps: int | None = None,
        cache_size: int = 4,
        max_concurrent: int = 1,
    ) -> None:
        if cache_size < 2:
            raise ValueError(f"cache_size must be >= 2 windows, got {cache_size}")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.refiner = refiner
        self.source = source
        self.plan = plan
        self.seed = seed
        self.t_start = t_start
        self.steps = steps
        self.cache_size = cache_size
        self._cache: OrderedDict[Window, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self._window_locks = {w: threading.Lock() for w in plan.windows}
        self._device_slots = threading.BoundedSemaphore(max_concurrent)
        self._computed = 0

    @classmethod
    def from_tensors(
        cls,
        refiner: Refiner,
        x_c: torch.Tensor,
        context: torch.Tensor,
        *,
        plan: WindowPlan,
        seed: int,
        **kwargs: object,
    ) -> WindowedRefiner:
        """Over whole in-memory sequences ``x_c`` ``[B, 16, T, h, w]`` and ``context`` ``[B, C, T, h, w]``."""
        refiner._check_inputs(x_c, context)
        if x_c.shape[2] != plan.num_frames:
            raise ValueError(f"plan covers {plan.num_frames} latent frames, the sequence has {x_c.shape[2]}")

        def source(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            return x_c[:, :, start:stop], context[:, :, start:stop]

        return cls(refiner, source, plan, seed=seed, **kwargs)  # type: ignore[arg-type]

    @property
    def num_frames(self) -> int:
        return self.plan.num_frames

    @property
    def computed_windows(self) -> int:
        """How many window refinements ran (recomputations after eviction included)."""
        with self._lock:
            return self._computed

    def clear(self) -> None:
        """Drop every cached window."""
        with self._lock:
            self._cache.clear()

    def _cached(self, window: Window) -> torch.Tensor | None:
        with self._lock:
            out = self._cache.get(window)
            if out is not None:
                self._cache.move_to_end(window)
            return out

    def window_output(self, window: Window) -> torch.Tensor:
        """Refined ``window`` (CPU float32 ``[B, 16, len, h, w]``), computed once while cached."""
        lock = self._window_locks.get(window)
        if lock is None:
            raise ValueError(f"window [{window.start}, {window.stop}) is not part of the plan")
        out = self._cached(window)
        if out is not None:
            return out
        with lock:
            out = self._cached(window)
            if out is not None:
                return out
            with self._device_slots:
                x_c, context = self.source(window.start, window.stop)
                out = self.refiner.refine_window(
                    self.plan, window, x_c, context, seed=self.seed, t_start=self.t_start, steps=self.steps
                )
            with self._lock:
                self._cache[window] = out
                self._computed += 1
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def frame(self, index: int) -> torch.Tensor:
        """Refined latent frame ``index`` as CPU float32 ``[B, 16, h, w]``."""
        outputs = {w: self.window_output(w) for w in self.plan.windows_for_frame(index)}
        return blend_frame(self.plan, index, outputs)

    def frames(self, start: int, stop: int) -> torch.Tensor:
        """Refined latent frames ``[start, stop)`` as CPU float32 ``[B, 16, stop - start, h, w]``."""
        if not 0 <= start < stop <= self.num_frames:
            raise IndexError(f"frame range [{start}, {stop}) is outside [0, {self.num_frames})")
        return torch.stack([self.frame(i) for i in range(start, stop)], dim=2)
