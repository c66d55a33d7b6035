"""A model folder's ``model_index.json``: name, rate points, GOP and refinement defaults (no torch needed).

The command line reads it to check arguments before torch or any weights are loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

INDEX_NAME = "model_index.json"


def default_model_path() -> Path:
    """The small model shipped inside the package."""
    return Path(str(resources.files("vsgnvc") / "weights" / "default"))


@dataclass(frozen=True)
class RatePoint:
    index: int
    lmbda: float
    bpp: float | None = None  # measured on held-out clips at 320x180 (None until measured)


@dataclass(frozen=True)
class ModelIndex:
    name: str
    rates: tuple[RatePoint, ...]
    default_rate: int
    gop_size: int = 25
    refine_t_start: float = 0.7
    refine_steps: int = 5
    refine_window: int = 7
    refine_overlap: int = 2
    # Frames per latent frame of the model's autoencoder (4: Wan2.1 video VAE, 1: per-frame); recorded here
    # so GOP lengths can be checked before any weights are read. Folders from before it existed are Wan's.
    temporal_factor: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rates:
            raise ValueError("a model needs at least one rate point")
        if not 0 <= self.default_rate < len(self.rates):
            raise ValueError(f"default_rate {self.default_rate} out of range")
        if self.temporal_factor < 1:
            raise ValueError(f"temporal_factor must be positive, got {self.temporal_factor}")
        self.check_gop_size(self.gop_size)

    @classmethod
    def load(cls, path: Path) -> ModelIndex:
        raw = json.loads(path.read_text())
        raw["rates"] = tuple(RatePoint(**r) for r in raw["rates"])
        return cls(**raw)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def check_gop_size(self, gop_size: int) -> None:
        """A GOP must cover whole latent frames: ``1 + k * temporal_factor`` frames."""
        tf = self.temporal_factor
        if gop_size < 1 or (gop_size - 1) % tf:
            examples = ", ".join(str(1 + k * tf) for k in range(4))
            raise ValueError(
                f"GOP size must be 1 + {tf}k frames ({examples}, ...) for model {self.name}, got {gop_size}"
            )

    def closest_rate(self, target_bpp: float) -> int:
        """Rate index whose measured bpp is closest to ``target_bpp`` (log distance)."""
        measured = [r for r in self.rates if r.bpp]
        if not measured:
            raise ValueError("this model has no measured bpp per rate point; use --rate")
        return min(measured, key=lambda r: abs(math.log(r.bpp / target_bpp))).index
