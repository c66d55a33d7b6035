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
from pathlib import Path

import torch
from torch import nn

from .autoencoder import LatentAutoencoder
from .frame_autoencoder import CLASS_NAME as FRAME_AUTOENCODER
from .frame_autoencoder import FrameAutoencoder
from .index import INDEX_NAME, ModelIndex, RatePoint, default_model_path
from .io import WeightsError, weights_hash
from .latent_codec import ContextualLatentCodec
from .vae import VideoVAE

logger = logging.getLogger(__name__)

# ModelIndex and RatePoint live in .index (torch-free); re-exported here with the model they describe.
__all__ = ["GnvcModel", "ModelIndex", "RatePoint", "default_model_path", "load_autoencoder"]

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
        model.weights_hash = weights_hash(files, codec.syntax_identity())
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
