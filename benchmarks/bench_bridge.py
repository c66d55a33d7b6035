"""Pipe throughput of ffmpeg_bridge against a pure-ffmpeg pipe (the ceiling).

Rows (same frame count and size, ``--repeat`` interleaved rounds, best and median):

- ``bridge``: numpy frames -> FfmpegSink (Y4M on ffmpeg's stdin) -> ``ffmpeg -f null -``;
- ``ceiling``: ``ffmpeg -f lavfi -i testsrc2 -f yuv4mpegpipe - | ffmpeg -i - -f null -``;
- ``writer + pipe``: numpy frames -> Y4MWriter -> ``cat > /dev/null`` (the bridge's own cost
  plus the kernel pipe copy, without ffmpeg's demuxing);
- ``testsrc2 only``: the ceiling's producer alone into /dev/null (what the ceiling pays
  to generate its frames, which the bridge does not).

Run: ``.venv/bin/python benchmarks/bench_bridge.py [--frames 300] [--size 1920x1080]``.
The target is ``bridge / ceiling <= 1.20``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ffmpeg_bridge import FfmpegSink, VideoInfo, locate_ffmpeg
from ffmpeg_bridge.y4m import Y4MWriter

logger = logging.getLogger(__name__)

DISTINCT_FRAMES = 8  # cycled: generating noise per frame would measure numpy, not the pipe


@dataclass(frozen=True)
class Row:
    name: str
    times: tuple[float, ...]
    frames: int
    frame_bytes: int

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def fps(self) -> float:
        return self.frames / self.best

    @property
    def mb_per_s(self) -> float:
        return self.frames * self.frame_bytes / self.best / 1e6


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _frames(info: VideoInfo) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(0)
    shapes = info.pix_fmt.plane_shapes(info.width, info.height)
    return [tuple(rng.integers(16, 236, s, dtype=np.uint8) for s in shapes) for _ in range(DISTINCT_FRAMES)]


def run_bridge(info: VideoInfo, frames: list, count: int) -> None:
    with FfmpegSink(info, ["-f", "null", "-"]) as sink:
        written = sink.write_all(frames[i % len(frames)] for i in range(count))
    if written != count:
        raise RuntimeError(f"ffmpeg took {written} of {count} frames")


def run_writer_to_cat(info: VideoInfo, frames: list, count: int) -> None:
    cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0)
    assert cat.stdin is not None
    Y4MWriter(cat.stdin, info).write_all(frames[i % len(frames)] for i in range(count))
    cat.stdin.close()
    if cat.wait() != 0:
        raise RuntimeError("cat failed")


def _testsrc(ffmpeg: str, info: VideoInfo, count: int) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-v", "error",
        "-f", "lavfi", "-i", f"testsrc2=size={info.width}x{info.height}:rate={info.fps}",
        "-frames:v", str(count), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "-",
    ]  # fmt: skip


def run_ceiling(ffmpeg: str, info: VideoInfo, count: int) -> None:
    producer = subprocess.Popen(_testsrc(ffmpeg, info, count), stdout=subprocess.PIPE)
    consumer = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", "-", "-f", "null", "-"],
        stdin=producer.stdout,
        check=False,
    )
    assert producer.stdout is not None
    producer.stdout.close()
    if producer.wait() != 0 or consumer.returncode != 0:
        raise RuntimeError("the ceiling pipeline failed")


def run_testsrc_only(ffmpeg: str, info: VideoInfo, count: int) -> None:
    subprocess.run(_testsrc(ffmpeg, info, count), stdout=subprocess.DEVNULL, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    info = VideoInfo(width, height, Fraction(25))
    binary = locate_ffmpeg()
    ffmpeg = str(binary.path)
    frames = _frames(info)
    n = args.frames

    cases: dict[str, Callable[[], None]] = {
        "bridge (numpy -> FfmpegSink -> ffmpeg -f null)": lambda: run_bridge(info, frames, n),
        "ceiling (ffmpeg testsrc2 | ffmpeg -f null)": lambda: run_ceiling(ffmpeg, info, n),
        "writer + pipe (numpy -> Y4MWriter -> cat)": lambda: run_writer_to_cat(info, frames, n),
        "testsrc2 only (ffmpeg testsrc2 -> /dev/null)": lambda: run_testsrc_only(ffmpeg, info, n),
    }
    # Interleaved rounds, so load changes on a shared machine hit every case alike.
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            times[name].append(_timed(fn))
    rows = [Row(name, tuple(t), n, info.frame_bytes) for name, t in times.items()]
    ratio = rows[0].best / rows[1].best
    ratio_median = rows[0].median / rows[1].median

    out = sys.stdout
    out.write(f"{binary.describe()}\n{n} frames {width}x{height} yuv420p 8-bit, {args.repeat} interleaved rounds\n\n")
    out.write(f"{'path':<48} {'best s':>7} {'median s':>9} {'frames/s':>9} {'MB/s':>8}\n")
    for row in rows:
        out.write(f"{row.name:<48} {row.best:>7.3f} {row.median:>9.3f} {row.fps:>9.1f} {row.mb_per_s:>8.1f}\n")
    verdict = "within" if ratio <= 1.2 else "over"
    out.write(
        f"\nbridge / ceiling time: best {ratio:.3f} ({(ratio - 1) * 100:+.1f} %, {verdict} the 20 % target), "
        f"median {ratio_median:.3f}\n"
    )
    if args.json is not None:
        payload = {
            "rows": [asdict(r) | {"fps": r.fps, "mb_per_s": r.mb_per_s} for r in rows],
            "ratio_best": ratio,
            "ratio_median": ratio_median,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
