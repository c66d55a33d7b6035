"""Blending refined windows into latent frames; shared by the sequential and the random-access paths.

Both paths call :func:`blend_frame` with the same CPU float32 window outputs, so they produce the same bits.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from vsgnvc.refine.windows import Window, WindowPlan


def blend_frame(plan: WindowPlan, frame: int, outputs: Mapping[Window, torch.Tensor]) -> torch.Tensor:
    """Latent ``frame`` ``[B, C, h, w]`` as the weighted sum of the refined windows covering it.

    Args:
        plan (`WindowPlan`): the window plan.
        frame (`int`): latent frame index.
        outputs (`Mapping[Window, torch.Tensor]`): refined windows ``[B, C, len(window), h, w]``; must hold every
            window covering ``frame``.
    """
    acc: torch.Tensor | None = None
    for window, weight in plan.blend_weights(frame):
        if window not in outputs:
            raise KeyError(f"window [{window.start}, {window.stop}) is needed for frame {frame} but was not refined")
        part = outputs[window][:, :, frame - window.start]
        # A single window (weight 1.0) passes through untouched.
        term = part.clone() if weight == 1.0 else part * weight
        acc = term if acc is None else acc + term
    assert acc is not None  # every frame is covered by at least one window
    return acc
