"""LPIPS and DISTS, only when their packages and pretrained weights are already on this machine.

Nothing is downloaded: both metrics need ImageNet backbones that their packages fetch from the network on
first use, so they are enabled only when the files are already in torch's hub cache
(``torch.hub.get_dir()/checkpoints``). Otherwise :func:`load_perceptual` returns the reason, which the
benchmark records as a note.

* **LPIPS** (Zhang et al. 2018): ``lpips`` package, AlexNet backbone (``alexnet-owt-7be5be79.pth``), v0.1 linear
  layers shipped inside the package. Inputs in [-1, 1].
* **DISTS** (Ding et al. 2020): ``piq.DISTS``, VGG16 backbone (``vgg16-397923af.pth``) and
  ``dists_weights.pt``. Inputs in [0, 1].

Both are computed per frame on RGB and averaged over frames; lower is better.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FrameMetric = Callable[[np.ndarray, np.ndarray], float]
"""``(reference RGB [N,H,W,3] uint8, distorted RGB) -> mean score``."""

_DISTS_FILES = ("vgg16-397923af.pth", "dists_weights.pt")


def _hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _missing(files: tuple[str, ...]) -> list[str]:
    folder = _hub_checkpoints()
    return [f for f in files if not (folder / f).is_file()]


def _alexnet_weights() -> Path:
    from torchvision.models import AlexNet_Weights

    return _hub_checkpoints() / AlexNet_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]


def lpips_missing() -> str | None:
    """Why LPIPS cannot run offline here (``None`` when it can): the package, its linear and backbone weights.

    The one check for both uses: this metric and the training's LPIPS term (:mod:`vsgnvc.train.perceptual`).
    """
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return "the lpips package is not installed"
    linear = Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"
    if not linear.is_file():
        return f"the lpips linear weights {linear} are missing"
    backbone = _alexnet_weights()
    if not backbone.is_file():
        return f"the AlexNet backbone weights {backbone} are missing"
    return None


def _batched(score: Callable[[Any, Any], Any], scale: Callable[[Any], Any], batch: int = 8) -> FrameMetric:
    def run(ref: np.ndarray, dist: np.ndarray) -> float:
        import torch

        values = []
        with torch.inference_mode():
            for start in range(0, len(ref), batch):
                x = scale(torch.from_numpy(ref[start : start + batch]).permute(0, 3, 1, 2).float() / 255.0)
                y = scale(torch.from_numpy(dist[start : start + batch]).permute(0, 3, 1, 2).float() / 255.0)
                values.append(torch.as_tensor(score(x, y)).reshape(-1))
        return float(torch.cat(values).mean())

    return run


def _lpips() -> tuple[FrameMetric | None, str | None]:
    reason = lpips_missing()
    if reason is not None:
        return None, f"LPIPS skipped: {reason}"
    import lpips

    net = lpips.LPIPS(net="alex", verbose=False).eval()
    return _batched(lambda x, y: net(x, y), lambda t: t * 2.0 - 1.0), None


def _dists() -> tuple[FrameMetric | None, str | None]:
    if importlib.util.find_spec("piq") is None:
        return None, "DISTS skipped: the piq package is not installed"
    missing = _missing(_DISTS_FILES)
    if missing:
        return None, f"DISTS skipped: weights {', '.join(missing)} not in {_hub_checkpoints()}"
    import piq

    net = piq.DISTS(reduction="none").eval()
    return _batched(lambda x, y: net(x, y), lambda t: t), None


def load_perceptual(names: tuple[str, ...] = ("lpips", "dists")) -> tuple[dict[str, FrameMetric], list[str]]:
    """The perceptual metrics that can run offline here, and a note for each one that cannot.

    :param names: subset of ``("lpips", "dists")``.
    :returns: ``({name: metric}, notes)``.
    """
    loaders = {"lpips": _lpips, "dists": _dists}
    unknown = [n for n in names if n not in loaders]
    if unknown:
        raise ValueError(f"unknown perceptual metric {unknown[0]!r}; use lpips or dists")
    metrics: dict[str, FrameMetric] = {}
    notes: list[str] = []
    for name in names:
        try:
            metric, note = loaders[name]()
        except Exception as exc:  # a broken optional install must not stop a benchmark
            metric, note = None, f"{name.upper()} skipped: {type(exc).__name__}: {exc}".splitlines()[0]
        if metric is not None:
            metrics[name] = metric
        if note:
            logger.info("%s", note)
            notes.append(note)
    return metrics, notes
