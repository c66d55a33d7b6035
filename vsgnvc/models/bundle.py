"""A complete GNVC-VD model: VAE + latent codec (+ refiner), stored as one folder.

::

    folder/
      model_index.json      name, components, rate points, GOP and refinement defaults
      vae/                  the latent autoencoder (config.json + safetensors): a per-frame
                            FrameAutoencoder (TAEF2 layout) or a diffusers AutoencoderKLWan
      codec/                ContextualLatentCodec (config.json + model.safetensors)
      refiner/              prior + adapter + null embedding (optional)

``vae_path``/``prior_path`` swap in external diffusers-format folders (e.g. Wan2.1).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .autoencoder import LatentAutoencoder
from .frame_autoencoder import CLASS_NAME as FRAME_AUTOENCODER
from .frame_autoencoder import FrameAutoencoder
from .io import WeightsError, weights_hash
from .latent_codec import ContextualLatentCodec
from .vae import VideoVAE

logger = logging.getLogger(__name__)

INDEX_NAME = "model_index.json"


def load_autoencoder(folder: Path | str) -> LatentAutoencoder:
    """The autoencoder stored in ``folder`` (ours or a diffusers Wan2.1 folder), chosen by its config."""
    folder = Path(folder)
    config = folder / "config.json"
    if not config.is_file() and (folder / "vae" / "config.json").is_file():
        config = folder / "vae" / "config.json"  # a whole Wan2.1 diffusers checkpoint
    if not config.is_file():
        raise WeightsError(f"{config} is missing: {folder} holds no autoencoder")
    try:
        class_name = json.loads(config.read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError) as exc:
        raise WeightsError(f"{config} is not a readable JSON config ({exc})") from None
    if class_name == FRAME_AUTOENCODER:
        return FrameAutoencoder.from_pretrained(config.parent)
    return VideoVAE.from_pretrained(config.parent)


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
            raise ValueError(f"GOP size must be 1 + {tf}k frames ({examples}, ...) for model {self.name}, got {gop_size}")

    def closest_rate(self, target_bpp: float) -> int:
        """Rate index whose measured bpp is closest to ``target_bpp`` (log distance)."""
        import math

        measured = [r for r in self.rates if r.bpp]
        if not measured:
            raise ValueError("this model has no measured bpp per rate point; use --rate")
        return min(measured, key=lambda r: abs(math.log(r.bpp / target_bpp))).index


class GnvcModel(nn.Module):
    """VAE + latent codec (+ optional refiner) with the metadata that ships with them."""

    def __init__(self, vae: LatentAutoencoder, codec: ContextualLatentCodec, index: ModelIndex, refiner: nn.Module | None = None):
        super().__init__()
        self.vae = vae
        self.codec = codec
        self.refiner = refiner
        self.index = index
        self.weights_hash = b"\0" * 16
        if codec.config.latent_channels != vae.z_channels:
            raise ValueError(f"codec expects {codec.config.latent_channels} latent channels, the VAE has {vae.z_channels}")
        if index.temporal_factor != vae.temporal_factor:
            raise ValueError(
                f"model_index.json says temporal_factor {index.temporal_factor}, the autoencoder has {vae.temporal_factor}"
            )
        if codec.num_rates != len(index.rates):
            raise ValueError(f"codec has {codec.num_rates} rate points, model_index.json lists {len(index.rates)}")

    @property
    def name(self) -> str:
        return self.index.name

    @property
    def pixel_multiple(self) -> int:
        """Frames are padded to a multiple of this many pixels."""
        return self.vae.spatial_factor * self.codec.latent_multiple

    def place(self, device: torch.device) -> GnvcModel:
        """Move to ``device``; the refiner runs in bf16 on GPU, fp32 on CPU (VAE and codec stay fp32)."""
        self.to(device).eval()
        if self.refiner is not None:
            self.refiner.place(device)
        return self

    @classmethod
    def from_pretrained(
        cls, folder: Path | str | None = None, *, vae_path: Path | str | None = None, prior_path: Path | str | None = None
    ) -> GnvcModel:
        folder = Path(folder) if folder is not None else default_model_path()
        if not (folder / INDEX_NAME).is_file():
            raise FileNotFoundError(f"{folder} is not a vsgnvc model folder (no {INDEX_NAME})")
        index = ModelIndex.load(folder / INDEX_NAME)
        vae_folder = Path(vae_path) if vae_path else folder / "vae"
        vae = load_autoencoder(vae_folder)
        codec = ContextualLatentCodec.from_pretrained(folder / "codec")
        refiner = None
        if (folder / "refiner").is_dir():
            from ..refine.refiner import Refiner

            refiner = Refiner.from_pretrained(folder / "refiner", prior_path=prior_path, device="cpu")
        model = cls(vae, codec, index, refiner).eval()
        files = sorted(vae_folder.glob("*.safetensors")) + sorted((folder / "codec").glob("*.safetensors"))
        model.weights_hash = weights_hash(files)
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def save_pretrained(self, folder: Path | str) -> None:
        """Write the folder atomically (a temp sibling renamed into place)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            self.vae.save_pretrained(tmp / "vae")
            self.codec.save_pretrained(tmp / "codec")
            if self.refiner is not None:
                self.refiner.save_pretrained(tmp / "refiner")
            (tmp / INDEX_NAME).write_text(self.index.to_json())
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
