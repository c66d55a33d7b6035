"""An opened file: its clips (tabs), what the timeline marks, and how one frame request is rendered.

- ``.gnvc``: three slots, *source* / *decoded* (unrefined) / *refined*, keys 1/2/3; a slot that cannot be
  filled (source unknown or missing, model without a refiner) stays as a disabled tab that says why.
- ``.vpy``/``.py``: one slot per ``set_output`` video node, in output order.
- anything else: one slot, the file as PyAV (or the y4m reader) decodes it.

:func:`open_session` does all the slow work (model load, script evaluation) and is run off the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ffmpeg_bridge import SourceError
from vsgnvc.codec.decoder import Decoder
from vsgnvc.models.bundle import INDEX_NAME, GnvcModel, default_model_path

from .clips import Clip, DecoderClip, color_note
from .convert import frame_psnr, frame_to_rgb8
from .fetcher import FrameRequest, FrameResult
from .stream_stats import FrameBits, StreamStats
from .video_clip import VideoFileClip
from .vpy import ScriptEnvironment, VapourSynthClip, run_script

logger = logging.getLogger(__name__)

SCRIPT_SUFFIXES = {".vpy", ".py"}
SOURCE, DECODED, REFINED = 0, 1, 2


@dataclass(frozen=True)
class OpenOptions:
    """How files are opened.

    :param model_dir: model folder for ``.gnvc`` files; ``None`` = the shipped default model.
    :param device: torch device for decoding (``None`` = CUDA if present, else CPU).
    :param cache_gops: decoded GOPs / refined windows kept in memory.
    :param source: the encoder's input, to compare against (``.gnvc`` only); ``None`` = the header's path.
    """

    model_dir: Path | None = None
    device: str | None = None
    cache_gops: int = 4
    source: Path | None = None


@dataclass
class Slot:
    """One tab: a clip, or the reason there is none."""

    name: str
    clip: Clip | None = None
    reason: str = ""


@dataclass(frozen=True)
class FrameStats:
    """What the info panel shows for one rendered request."""

    n: int
    bits: FrameBits | None
    psnr: dict[int, tuple[float, float] | None]  # slot -> (Y, YUV) dB against the reference; None = n/a


@dataclass
class Session:
    path: Path
    kind: str  # "gnvc" | "vpy" | "video"
    slots: list[Slot]
    current: int = 0
    split_left: int = 0
    reference: int | None = None  # slot PSNR is measured against (else the left side of a split view)
    stats: StreamStats | None = None
    decoder: Decoder | None = None
    environment: ScriptEnvironment | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def available(self) -> list[int]:
        return [i for i, s in enumerate(self.slots) if s.clip is not None]

    def clip(self, i: int) -> Clip:
        clip = self.slots[i].clip
        if clip is None:
            raise ValueError(f"{self.slots[i].name} is not available: {self.slots[i].reason}")
        return clip

    @property
    def num_frames(self) -> int:
        return max(self.clip(i).num_frames for i in self.available)

    @property
    def fps(self) -> Fraction:
        return self.clip(self.current).info.fps

    def notes(self, i: int) -> list[str]:
        clip = self.slots[i].clip
        if clip is None:
            return []
        out = [n for n in (color_note(clip), getattr(clip, "note", None)) if n]
        return out

    def render(self, request: FrameRequest) -> FrameResult:
        """Frames of ``request`` as RGB plus their stats (runs on a worker thread)."""
        import time

        t0 = time.perf_counter()
        frames = {}
        images: dict[int, np.ndarray] = {}
        for i in dict.fromkeys(request.clips):
            clip = self.clip(i)
            n = min(request.n, clip.num_frames - 1)  # shorter clips hold their last frame
            frames[i] = clip.get_frame(n)
            images[i] = frame_to_rgb8(frames[i], clip.info)
        psnr: dict[int, tuple[float, float] | None] = {}
        ref = self.reference
        if ref is None and len(request.clips) > 1:
            ref = request.clips[0]  # no source known: the split view's left side is the reference
        if ref is not None and any(i != ref for i in frames):
            ref_clip = self.clip(ref)
            ref_frame = None
            if request.n < ref_clip.num_frames:
                ref_frame = frames[ref] if ref in frames else ref_clip.get_frame(request.n)
            for i, frame in frames.items():
                if i == ref:
                    continue
                clip = self.clip(i)
                comparable = clip.info.pix_fmt == ref_clip.info.pix_fmt and request.n < clip.num_frames
                if ref_frame is None or not comparable:
                    psnr[i] = None
                else:
                    psnr[i] = frame_psnr(frame, ref_frame, ref_clip.info.pix_fmt.bit_depth)
        bits = self.stats.frame_bits(request.n) if self.stats is not None and request.n < self.num_frames else None
        return FrameResult(request, images, FrameStats(request.n, bits, psnr), time.perf_counter() - t0)

    def close(self) -> None:
        for slot in self.slots:
            if slot.clip is not None:
                slot.clip.close()
                slot.clip = None
        if self.decoder is not None:
            self.decoder.close()
        if self.environment is not None:
            self.environment.close()


# --------------------------------------------------------------------------- models

_models: dict[Path, GnvcModel] = {}
_models_lock = threading.Lock()


def load_model(model_dir: Path | None) -> GnvcModel:
    """The model of ``model_dir`` (default: the shipped one), loaded once per process."""
    folder = Path(model_dir).resolve() if model_dir is not None else default_model_path()
    with _models_lock:
        model = _models.get(folder)
        if model is None:
            if not (folder / INDEX_NAME).is_file():
                hint = "" if model_dir is not None else " (the default model is not installed; pass --model DIR)"
                raise FileNotFoundError(f"{folder} is not a vsgnvc model folder: no {INDEX_NAME}{hint}")
            model = GnvcModel.from_pretrained(folder)
            _models[folder] = model
        return model


# --------------------------------------------------------------------------- opening


def open_session(path: Path, options: OpenOptions = OpenOptions()) -> Session:
    """Open any supported file (slow: call it off the GUI thread).

    :raises GNVCFormatError | ModelMismatchError | SourceError | ScriptError | FileNotFoundError: bad input.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a video file")
    suffix = path.suffix.lower()
    if suffix == ".gnvc":
        return _open_gnvc(path, options)
    if suffix in SCRIPT_SUFFIXES:
        return _open_script(path)
    clip = VideoFileClip(path)
    return Session(path, "video", [Slot(clip.name, clip)])


def _open_script(path: Path) -> Session:
    env, nodes = run_script(path)
    slots: list[Slot] = []
    try:
        for index, node in nodes:
            try:
                slots.append(Slot(f"Output {index}", VapourSynthClip(node, index, env)))
            except Exception as exc:  # one unusable output does not hide the others
                slots.append(Slot(f"Output {index}", None, str(exc)))
    finally:
        del nodes
    session = Session(path, "vpy", slots, environment=env)
    if not session.available:
        session.close()
        raise SourceError(f"{path.name}: no output can be previewed: " + "; ".join(s.reason for s in slots))
    session.current = session.available[0]
    session.split_left = session.current
    session.warnings = [f"{s.name}: {s.reason}" for s in slots if s.clip is None]
    return session


def _open_gnvc(path: Path, options: OpenOptions) -> Session:
    model = load_model(options.model_dir)
    decoder = Decoder(path, model, options.device, options.cache_gops, refine=model.refiner is not None)
    try:
        stats = StreamStats(decoder)
        slots = [
            Slot("source"),
            Slot("decoded", DecoderClip(decoder, False, "decoded")),
            Slot("refined"),
        ]
        if decoder.refines:
            slots[REFINED].clip = DecoderClip(decoder, True, "refined")
        else:
            slots[REFINED].reason = f"model {model.name!r} has no refiner"
        warnings: list[str] = []
        source, reason = _open_source(decoder, options.source)
        if source is not None:
            slots[SOURCE].clip = source
        else:
            slots[SOURCE].reason = reason
            if options.source is not None:
                warnings.append(f"source not loaded: {reason}")
    except BaseException:
        decoder.close()
        raise
    session = Session(path, "gnvc", slots, stats=stats, decoder=decoder, warnings=warnings)
    session.current = REFINED if slots[REFINED].clip is not None else DECODED
    session.split_left = SOURCE if source is not None else DECODED
    session.reference = SOURCE if source is not None else None
    return session


def _open_source(decoder: Decoder, explicit: Path | None) -> tuple[Clip | None, str]:
    """The encoder's input as a clip, or why it cannot be shown."""
    if explicit is None:  # a .gnvc does not record where it was made from
        return None, "no source given; pass --source to compare with the original"
    path = Path(explicit)
    if not path.exists():
        return None, f"source {path} not found; pass --source"
    try:
        clip = VideoFileClip(path, name="source")
    except Exception as exc:  # an unreadable source must not stop the .gnvc from opening
        return None, f"source {path} cannot be read: {exc}"
    info, want = clip.info, decoder.info
    if (info.width, info.height) != (want.width, want.height) or info.pix_fmt != want.pix_fmt:
        clip.close()
        return None, (
            f"source {path.name} is {info.width}x{info.height} {info.pix_fmt.value}, the stream "
            f"{want.width}x{want.height} {want.pix_fmt.value} (encoded with a resize?)"
        )
    if clip.num_frames < decoder.num_frames:
        logger.warning("source %s has %d frames, the stream %d", path, clip.num_frames, decoder.num_frames)
    return clip, ""
