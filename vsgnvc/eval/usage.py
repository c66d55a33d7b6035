"""Wall time, CPU time and peak memory of one phase of work (an encode, a decode) inside the current process.

Peak resident memory (RSS) is read from Linux's ``VmHWM`` ("high water mark") in ``/proc/self/status``. Writing
``5`` to ``/proc/self/clear_refs`` resets that mark to the current RSS (Linux >= 4.0), so each phase gets its
own peak even when several phases run one after another in one process. Where the reset is not possible the
process-lifetime ``ru_maxrss`` is reported instead and :attr:`PhaseUsage.rss_method` says so (a later phase then
reads at least the earlier phases' peak).

On CUDA the peak of ``torch.cuda.max_memory_allocated`` is recorded as well (reset before each phase).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

RSS_RESET = "vmhwm-reset"
"""Per-phase peak: ``VmHWM`` after resetting it through ``/proc/self/clear_refs``."""
RSS_LIFETIME = "ru_maxrss"
"""Fallback: the process's lifetime peak (``getrusage``), not specific to the phase."""


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark to its current RSS; ``False`` where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss_mb(method: str = RSS_RESET) -> float:
    """Peak RSS of this process in MiB: ``VmHWM`` (since the last reset) or ``ru_maxrss`` (lifetime)."""
    if method == RSS_RESET:
        kb = _status_kb("VmHWM")
        if kb is not None:
            return kb / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current RSS of this process in MiB (``VmRSS``; 0.0 where ``/proc`` is unavailable)."""
    kb = _status_kb("VmRSS")
    return (kb or 0) / 1024.0


@dataclass(frozen=True)
class PhaseUsage:
    """What one phase cost.

    :param frames: frames processed (for :attr:`fps`).
    :param seconds: wall time.
    :param cpu_seconds: user + system CPU time of the whole process during the phase.
    :param peak_rss_mb: peak resident memory during the phase (MiB), including what the process already held
        (interpreter, torch, model weights).
    :param rss_method: :data:`RSS_RESET` or :data:`RSS_LIFETIME`.
    :param cuda_peak_mb: peak CUDA memory allocated by torch during the phase (MiB); ``None`` on CPU.
    """

    frames: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    rss_method: str
    cuda_peak_mb: float | None = None

    @property
    def fps(self) -> float:
        """Frames per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": self.fps}

    @classmethod
    def total(cls, parts: Sequence[PhaseUsage]) -> PhaseUsage:
        """One phase measured in parts (e.g. GOP by GOP): frames and times add up, peaks are the largest part's
        (each part's peak counts from its own reset, so the largest is the phase's peak)."""
        if not parts:
            raise ValueError("PhaseUsage.total: no parts")
        methods = {p.rss_method for p in parts}
        cuda = [p.cuda_peak_mb for p in parts if p.cuda_peak_mb is not None]
        return cls(
            frames=sum(p.frames for p in parts),
            seconds=sum(p.seconds for p in parts),
            cpu_seconds=sum(p.cpu_seconds for p in parts),
            peak_rss_mb=max(p.peak_rss_mb for p in parts),
            rss_method=methods.pop() if len(methods) == 1 else RSS_LIFETIME,
            cuda_peak_mb=max(cuda) if cuda else None,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseUsage:
        return cls(
            frames=int(d["frames"]),
            seconds=float(d["seconds"]),
            cpu_seconds=float(d["cpu_seconds"]),
            peak_rss_mb=float(d["peak_rss_mb"]),
            rss_method=str(d["rss_method"]),
            cuda_peak_mb=None if d.get("cuda_peak_mb") is None else float(d["cuda_peak_mb"]),
        )


def _cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def measure[T](fn: Callable[[], T], frames: int, device: Any = None) -> tuple[T, PhaseUsage]:
    """Run ``fn()`` and return its result with the phase's :class:`PhaseUsage`.

    :param fn: the work (must finish its GPU work before returning, or pass ``device`` to synchronise).
    :param frames: frames ``fn`` processes.
    :param device: a ``torch.device``; on CUDA the peak allocation is reset before and read after.
    """
    cuda = device is not None and getattr(device, "type", str(device)).startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    method = RSS_RESET if reset_peak_rss() else RSS_LIFETIME
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result = fn()
    cuda_peak: float | None = None
    if cuda:
        import torch

        torch.cuda.synchronize(device)
        cuda_peak = torch.cuda.max_memory_allocated(device) / 2**20
    seconds = time.perf_counter() - t0
    usage = PhaseUsage(frames, seconds, _cpu_seconds() - cpu0, peak_rss_mb(method), method, cuda_peak)
    return result, usage
