"""Fixtures for the ffmpeg_bridge tests: real ffmpeg runs, real frames, PyAV read-back."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ffmpeg_bridge.video import Frame, VideoInfo

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


@dataclass(frozen=True)
class ReadBack:
    """What PyAV sees in a file the bridge wrote."""

    width: int
    height: int
    fps: Fraction
    pix_fmt: str
    color_range: int
    colorspace: int
    color_primaries: int
    color_trc: int
    frames: list[Frame]
    stream_types: list[str]


@pytest.fixture
def read_back() -> Callable[[Path], ReadBack]:
    def read(path: Path) -> ReadBack:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            cc = stream.codec_context
            frames = []
            for frame in container.decode(stream):
                dtype = np.uint16 if "10" in frame.format.name else np.uint8
                planes = []
                for plane in frame.planes:
                    rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // np.dtype(dtype).itemsize)
                    planes.append(rows[: plane.height, : plane.width].copy())
                frames.append(tuple(planes))
            return ReadBack(
                width=cc.width,
                height=cc.height,
                fps=Fraction(stream.average_rate),
                pix_fmt=cc.pix_fmt,
                color_range=int(cc.color_range),
                colorspace=int(cc.colorspace),
                color_primaries=int(cc.color_primaries),
                color_trc=int(cc.color_trc),
                frames=frames,
                stream_types=[s.type for s in container.streams],
            )

    return read


@pytest.fixture
def random_frames() -> Callable[[VideoInfo, int], list[Frame]]:
    """Noise frames using the whole sample range of the format (so any conversion shows)."""

    def make(info: VideoInfo, count: int, seed: int = 0) -> list[Frame]:
        rng = np.random.default_rng(seed)
        top = 1 << info.pix_fmt.bit_depth
        shapes = info.pix_fmt.plane_shapes(info.width, info.height)
        return [tuple(rng.integers(0, top, s, dtype=info.pix_fmt.dtype) for s in shapes) for _ in range(count)]

    return make


@pytest.fixture
def run_ffmpeg(ffmpeg_exe: str) -> Callable[..., bytes]:
    """Run the real ffmpeg binary; returns its stdout, fails the test with its stderr."""

    def run(*args: str, timeout: float = 60) -> bytes:
        proc = subprocess.run(
            [ffmpeg_exe, "-hide_banner", "-nostdin", "-v", "error", *args],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return proc.stdout

    return run


@pytest.fixture
def vspipe() -> Path:
    exe = VENV_BIN / "vspipe"
    assert exe.exists(), f"{exe} is missing: the project venv ships vspipe"
    return exe
