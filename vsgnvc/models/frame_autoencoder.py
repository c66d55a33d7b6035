"""A per-frame autoencoder in the TAEF2 layout (FLUX.2 latent space: 32 channels at 1/8 resolution).

The architecture follows the public TAESD family (madebyollin/taesd, MIT): 3x3 convolutions at 64
channels, residual blocks, and in the deepest encoder blocks / first decoder blocks a global
"pool" branch (1x1 conv to 256, GroupNorm, ReLU, 1x1 conv back) added to the block's input. The
state-dict keys are the flat sequence indices of the original ``nn.Sequential`` so the released
``taef2_encoder.pth`` / ``taef2_decoder.pth`` load unchanged (:func:`load_taesd_checkpoints`).

Frames are coded one at a time (temporal factor 1): a clip of ``T`` frames has ``T`` latent frames.
Latents leave :meth:`FrameAutoencoder.encode` normalised by ``latents_mean`` / ``latents_std`` like
the video VAE's, so the codec and the refiner see one scale whichever autoencoder a model uses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from safetensors.torch import load_file
from torch import nn

from .autoencoder import LatentAutoencoder
from .io import WeightsError, save_config_and_weights

WEIGHTS_NAME = "model.safetensors"
LICENSE_NAME = "LICENSE"
CLASS_NAME = "FrameAutoencoder"


def _conv(cin: int, cout: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)


class _Clamp(nn.Module):
    """Soft clamp of decoder input to (-3, 3): coded latents may leave the encoder's range."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class _Block(nn.Module):
    """Residual block; ``pooled`` adds a channel-mixing branch (with GroupNorm) to the input first."""

    def __init__(self, width: int, pooled: bool = False) -> None:
        super().__init__()
        if pooled:
            self.pool = nn.Sequential(
                nn.Conv2d(width, 4 * width, 1, bias=False), nn.GroupNorm(4, 4 * width), nn.ReLU(),
                nn.Conv2d(4 * width, width, 1, bias=False),
            )  # fmt: skip
        self.conv = nn.Sequential(_conv(width, width), nn.ReLU(), _conv(width, width), nn.ReLU(), _conv(width, width))
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "pool"):
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def build_encoder(latent_channels: int, width: int) -> nn.Sequential:
    w = width
    return nn.Sequential(
        _conv(3, w), _Block(w),
        _conv(w, w, 2, bias=False), _Block(w), _Block(w), _Block(w),
        _conv(w, w, 2, bias=False), _Block(w), _Block(w), _Block(w),
        _conv(w, w, 2, bias=False), _Block(w, True), _Block(w, True), _Block(w, True),
        _conv(w, latent_channels),
    )  # fmt: skip


def build_decoder(latent_channels: int, width: int) -> nn.Sequential:
    w = width
    up = nn.Upsample(scale_factor=2)
    return nn.Sequential(
        _Clamp(), _conv(latent_channels, w), nn.ReLU(),
        _Block(w, True), _Block(w, True), _Block(w, True), up, _conv(w, w, bias=False),
        _Block(w), _Block(w), _Block(w), up, _conv(w, w, bias=False),
        _Block(w), _Block(w), _Block(w), up, _conv(w, w, bias=False),
        _Block(w), _conv(w, 3),
    )  # fmt: skip


class FrameAutoencoder(LatentAutoencoder, ConfigMixin):
    """Per-frame encoder/decoder with normalised latents (TAEF2 layout by default).

    :param latent_channels: latent channels (32 for TAEF2).
    :param width: convolution width (64 for TAEF2; smaller for test models).
    :param latents_mean: per-channel mean of the raw latents (subtracted by ``encode``).
    :param latents_std: per-channel standard deviation of the raw latents.
    :param rate_decoders: codec rate points that have a decoder of their own, fine-tuned on latents coded at
        that rate (coarse latents decode ~2-3 dB better with one); other rates and clean latents use ``decoder``.
    """

    config_name = "config.json"
    spatial_factor = 8
    temporal_factor = 1
    # Frames go through the full-resolution convolutions this many at a time: a 49-frame GOP in one batch
    # holds ~0.7 GB per 64-channel activation at 320x184, and the result is the same frame by frame.
    frames_per_batch = 4

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 32,
        width: int = 64,
        latents_mean: list[float] | None = None,
        latents_std: list[float] | None = None,
        rate_decoders: list[int] | None = None,
    ) -> None:
        super().__init__(latent_channels, latents_mean, latents_std)
        self.encoder = build_encoder(latent_channels, width)
        self.decoder = build_decoder(latent_channels, width)
        self.rate_decoders = nn.ModuleDict({str(r): build_decoder(latent_channels, width) for r in rate_decoders or ()})
        # The weights' licence travels with them (TAEF2 is MIT: its text must ship beside the weights).
        self.license_text: str | None = None

    # ------------------------------------------------------------------ persistence
    @classmethod
    def from_pretrained(cls, folder: Path | str) -> FrameAutoencoder:
        folder = Path(folder)
        config_file, weights = folder / cls.config_name, folder / WEIGHTS_NAME
        for f in (config_file, weights):
            if not f.is_file():
                raise WeightsError(f"{f} is missing")
        try:
            config = json.loads(config_file.read_text())
        except (OSError, ValueError) as exc:
            raise WeightsError(f"{config_file} is not a readable JSON config ({exc})") from None
        model = cls.from_config(config)
        try:
            state = load_file(str(weights))
        except Exception as exc:  # safetensors raises its own error types for damaged headers
            raise WeightsError(f"{weights} is damaged or not a safetensors file ({exc})") from None
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise WeightsError(f"{weights} does not match {cls.__name__} ({first})") from None
        if (folder / LICENSE_NAME).is_file():
            model.license_text = (folder / LICENSE_NAME).read_text()
        return model.eval()

    def save_pretrained(self, folder: Path | str) -> None:
        # fp16 like the released weights (lossless for them; tuned decoders lose nothing measurable).
        folder = save_config_and_weights(self, folder, WEIGHTS_NAME, torch.float16)
        if self.license_text is not None:
            (folder / LICENSE_NAME).write_text(self.license_text)

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().set_latent_stats(mean, std)
        self.register_to_config(latents_mean=[float(v) for v in mean], latents_std=[float(v) for v in std])

    def add_rate_decoder(self, rate: int) -> nn.Sequential:
        """A decoder of its own for ``rate``, starting as a copy of the shared one (training tunes it)."""
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        if str(rate) not in self.rate_decoders:
            self.rate_decoders[str(rate)] = copy.deepcopy(self.decoder)
            self.register_to_config(rate_decoders=sorted(int(r) for r in self.rate_decoders))
        return self.rate_decoders[str(rate)]

    def decoder_for(self, rate: int | None) -> nn.Module:
        """The decoder that reads latents coded at ``rate`` (``None``: clean latents)."""
        if rate is not None and str(rate) in self.rate_decoders:
            return self.rate_decoders[str(rate)]
        return self.decoder

    # ------------------------------------------------------------------ coding
    def _frames_in(self, frames: torch.Tensor) -> tuple[torch.Tensor, int]:
        if frames.dim() != 5 or frames.shape[1] != 3:
            raise ValueError(f"expected frames [B, 3, T, H, W], got {tuple(frames.shape)}")
        b, _, t, h, w = frames.shape
        if h % self.spatial_factor or w % self.spatial_factor:
            raise ValueError(f"frame size {w}x{h} must be a multiple of {self.spatial_factor}")
        return frames.permute(0, 2, 1, 3, 4).reshape(b * t, 3, h, w), b

    def encode_raw(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` in [-1, 1] -> raw latents ``[B, C, T, H/8, W/8]``."""
        flat, b = self._frames_in(frames)
        raw = self._per_frame(self.encoder, (flat + 1.0) / 2.0)
        return raw.view(b, -1, *raw.shape[1:]).permute(0, 2, 1, 3, 4)

    def decode_raw(self, raw: torch.Tensor, rate: int | None = None) -> torch.Tensor:
        """Raw latents ``[B, C, T, h, w]`` -> frames ``[B, 3, T, 8h, 8w]`` in [-1, 1] (not clamped)."""
        b, c, t, h, w = raw.shape
        rgb = self._per_frame(self.decoder_for(rate), raw.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)) * 2.0 - 1.0
        return rgb.view(b, t, *rgb.shape[1:]).permute(0, 2, 1, 3, 4)

    def _per_frame(self, net: nn.Module, flat: torch.Tensor) -> torch.Tensor:
        n = self.frames_per_batch
        if flat.shape[0] <= n:
            return net(flat)
        return torch.cat([net(part) for part in flat.split(n)])

    def encoder_modules(self) -> list[nn.Module]:
        return [self.encoder]

    def decoder_modules(self) -> list[nn.Module]:
        return [self.decoder]


def load_taesd_checkpoints(encoder_pth: Path | str, decoder_pth: Path | str) -> FrameAutoencoder:
    """A :class:`FrameAutoencoder` from the released TAEF2 ``.pth`` files (fp16 state dicts).

    A ``LICENSE`` file beside the encoder is kept with the model and written next to its weights on save.
    """
    model = FrameAutoencoder()
    for part, path in (("encoder", Path(encoder_pth)), ("decoder", Path(decoder_pth))):
        if not path.is_file():
            raise WeightsError(f"{path} is missing")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises assorted errors for truncated or foreign files
            raise WeightsError(f"{path} is damaged or not a PyTorch state dict ({exc})") from None
        try:
            getattr(model, part).load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except (RuntimeError, AttributeError) as exc:
            raise WeightsError(f"{path} is not a TAEF2 {part} ({str(exc).splitlines()[0]})") from None
    license_file = Path(encoder_pth).parent / LICENSE_NAME
    if license_file.is_file():
        model.license_text = license_file.read_text()
    return model.eval()
