"""Random-access decoder of ``.gnvc`` files.

GOP k is decoded once into an LRU cache however many threads ask for its frames. Refinement, when
enabled, runs over sliding windows of the whole latent sequence (see ``vsgnvc.refine``) that never
span a scene cut; without it each GOP decodes on its own. With ``salvage=True`` a damaged file
decodes to the frames of its complete GOPs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from ffmpeg_bridge.video import Frame, VideoInfo

from ..bitstream import FORMAT_VERSION, Damage, GNVCFormatError, GnvcReader, GopRecord, SequenceHeader
from ..device import resolve_device
from ..models.bundle import GnvcModel
from .formats import video_info
from .gop_codec import DecodedLatents, decode_gop_latents
from .sequence import GopSequence, RefineOptions, latent_count

logger = logging.getLogger(__name__)


class ModelMismatchError(GNVCFormatError):
    """The file was written by other weights than the ones loaded."""


class Decoder:
    """Decode frames of one ``.gnvc`` file.

    :param path: the ``.gnvc`` file.
    :param model: a loaded model; ``None`` loads the default model.
    :param device: ``None`` picks CUDA if present, else CPU.
    :param cache_gops: decoded GOPs (and refined windows) kept in memory.
    :param refine: refine with the model's refiner; ``None`` follows the bitstream's setting.
    :param strength: refinement noise share ``1 - t_N`` in (0, 1) instead of the bitstream's (its other
        settings, window and seed included, are kept).
    :param salvage: decode the complete GOPs of a damaged file (a truncated download, say) instead of
        refusing it: ``num_frames`` is then the frames recovered and :attr:`damage` says what was lost.
        Every chunk is checked before it is used (CRC32s decide what is whole), and a file with no
        complete GOP still raises ``GNVCFormatError``.
    """

    def __init__(
        self,
        path: Path | str,
        model: GnvcModel | None = None,
        device: str | int | torch.device | None = None,
        cache_gops: int = 4,
        refine: bool | None = None,
        strength: float | None = None,
        salvage: bool = False,
    ) -> None:
        if strength is not None and not 0.0 < strength < 1.0:
            raise ValueError(f"strength must be in (0, 1), got {strength}")
        self.path = Path(path)
        self._strength = strength
        self._reader = GnvcReader(self.path, salvage=salvage)
        self.damage: Damage | None = self._reader.damage
        if self.damage is not None and not self._reader.num_gops:
            self._reader.close()
            raise GNVCFormatError(f"{self.damage.summary()}; nothing to decode")
        self._io_lock = threading.Lock()
        try:
            self._setup(model, device, cache_gops, refine)
        except BaseException:
            self._reader.close()
            raise

    def _setup(
        self, model: GnvcModel | None, device: str | int | torch.device | None, cache_gops: int, refine: bool | None
    ) -> None:
        self.header: SequenceHeader = self._reader.header
        if self._reader.version < FORMAT_VERSION:
            # Format 1 coded its strings with compressai's rANS coder, which this package no longer has.
            raise GNVCFormatError(
                f"{self.path}: format version {self._reader.version} cannot be decoded by this vsgnvc "
                f"(its entropy coder changed in version {FORMAT_VERSION}); re-encode the source"
            )
        self.device = resolve_device(device)
        self.model = (model or GnvcModel.from_pretrained()).place(self.device)
        if self.header.weights_hash != self.model.weights_hash:
            raise ModelMismatchError(
                f"{self.path}: written by model {self.header.model_name!r} "
                f"(weights {self.header.weights_hash.hex()}), but the loaded model is {self.model.name!r} "
                f"(weights {self.model.weights_hash.hex()}); pass the matching model folder"
            )
        if not 0 <= self.header.rate_index < self.model.codec.num_rates:
            raise GNVCFormatError(f"{self.path}: rate index {self.header.rate_index} does not exist in this model")
        m = self.model.pixel_multiple
        h = self.header
        # The encoder pads to the next multiple of m, never more: anything else is a damaged header, and
        # a coded size far above the displayed one would only make the decoder work on garbage.
        expected = (-(-h.width // m) * m, -(-h.height // m) * m)
        if (h.coded_width, h.coded_height) != expected:
            raise GNVCFormatError(
                f"{self.path}: coded size {h.coded_width}x{h.coded_height} does not match {h.width}x{h.height} "
                f"padded to a multiple of {m} ({expected[0]}x{expected[1]})"
            )
        f = self.model.vae.spatial_factor
        self.latent_size = (h.coded_height // f, h.coded_width // f)
        try:
            self.info: VideoInfo = replace(video_info(h), num_frames=self._reader.num_frames)
        except ValueError as exc:
            raise GNVCFormatError(f"{self.path}: {exc}") from None
        settings = self.header.refine
        options = None
        if refine if refine is not None else settings.enabled:
            t_start = settings.t_start if self._strength is None else 1.0 - self._strength
            options = RefineOptions(t_start, settings.steps, settings.window, settings.overlap, settings.seed)
        # reads (and so checks) every chunk once: a damaged one fails here, not halfway through a decode
        self.gop_cuts = [self._gop_flag(k) for k in range(self._reader.num_gops)]
        self.sequence = GopSequence(
            self.model, self._reader.spans, self.gop_cuts, self._decode_gop_latents, self.header.rate_index, self.info,
            options, cache_gops,
        )

    def _gop_flag(self, k: int) -> bool:
        return self.read_gop(k).scene_cut if k > 0 else False

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def num_frames(self) -> int:
        """Frames that decode: the header's ``num_frames``, or those recovered from a damaged file."""
        return self._reader.num_frames

    @property
    def num_gops(self) -> int:
        return self._reader.num_gops

    @property
    def spans(self) -> tuple[range, ...]:
        """The frames of each GOP."""
        return self._reader.spans

    def gop_of(self, n: int) -> int:
        return self.sequence.gop_of(n)

    def gop_bytes(self, k: int) -> int:
        return self._reader.gop_size_bytes(k)

    def read_gop(self, k: int) -> GopRecord:
        with self._io_lock:
            return self._reader.read_gop(k)

    @property
    def refines(self) -> bool:
        return self.sequence.windowed is not None

    def _decode_gop_latents(self, k: int) -> DecodedLatents:
        record = self.read_gop(k)
        expected = latent_count(record.num_frames, self.model.vae.temporal_factor)
        if len(record.latent_frames) != expected:
            raise GNVCFormatError(f"{self.path}: GOP {k} has {len(record.latent_frames)} latent frames, expected {expected}")
        try:
            return decode_gop_latents(self.model, record.latent_frames, self.latent_size, self.header.rate_index)
        except (ValueError, RuntimeError, IndexError, OverflowError) as exc:
            raise GNVCFormatError(f"{self.path}: GOP {k} does not decode: {exc}") from exc

    def gop_latents(self, k: int) -> DecodedLatents:
        """Decoded (unrefined) latents and context features of GOP ``k`` (cached)."""
        return self.sequence.gop_latents(k)

    def gop_frames(self, k: int, refine: bool | None = None) -> list[Frame]:
        """Output frames of GOP ``k`` in the header's pixel format (cached); refined unless disabled."""
        return self.sequence.gop_frames(k, self.refines if refine is None else refine)

    def get_frame(self, n: int, refine: bool | None = None) -> Frame:
        k = self.gop_of(n)
        return self.gop_frames(k, refine)[n - self.spans[k].start]

    def frames(self, refine: bool | None = None) -> Iterator[Frame]:
        for k in range(self.num_gops):
            yield from self.gop_frames(k, refine)
