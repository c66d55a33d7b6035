"""``gnvc-preview [FILE] [--source SRC] [--model DIR]``: the previewer's entry point."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from PyQt6.QtWidgets import QApplication

from .errors import describe_error
from .session import OpenOptions
from .window import MainWindow

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gnvc-preview",
        description="Preview .gnvc bitstreams (source / decoded / refined), .vpy scripts and video files.",
    )
    parser.add_argument("file", nargs="?", type=Path, help=".gnvc, .vpy or any video file")
    parser.add_argument("--source", type=Path, help="the original of a .gnvc, to compare with")
    parser.add_argument("--model", type=Path, help="model folder for .gnvc files (default: the shipped model)")
    parser.add_argument("--device", default=None, help="torch device for decoding: cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--cache-gops", type=int, default=4, help="decoded GOPs kept in memory (default: 4)")
    parser.add_argument("--workers", type=int, default=2, help="frame worker threads (default: 2)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    return parser


def _install_excepthook(window: MainWindow) -> None:
    """An unexpected exception in a slot shows a message box instead of aborting the app (PyQt's default)."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        logger.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        window.report_error("Unexpected error", describe_error(exc))

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.cache_gops < 1 or args.workers < 1:
        parser.error("--cache-gops and --workers must be >= 1")
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(2, args.verbose)],
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("gnvc-preview")
    options = OpenOptions(model_dir=args.model, device=args.device, cache_gops=args.cache_gops)
    window = MainWindow(options, workers=args.workers)
    _install_excepthook(window)
    window.show()
    if args.file is not None:
        window.open_path(args.file, args.source)
    elif args.source is not None:
        window.report_error("Nothing to compare", "--source needs a .gnvc FILE to compare with")
    return app.exec()
