"""Fixtures of the previewer tests: an offscreen Qt platform, a real tiny ``.gnvc`` and open windows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before any QApplication exists (pytest-qt creates it lazily): no display is needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

GNVC_TIMEOUT_MS = 60_000  # a GOP of the tiny model decodes in a few seconds on 2 CPU cores


@pytest.fixture(scope="session")
def gnvc_file(small_clip_y4m: Path, tiny_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """13 real frames (96x40) encoded with the tiny model: 2 GOPs (9 + 4 frames)."""
    from vsgnvc.api import encode_file

    out = tmp_path_factory.mktemp("gnvc") / "bikes.gnvc"
    encode_file(small_clip_y4m, out, tiny_model, device="cpu", progress=False)
    return out


def close_window(window) -> None:
    window.close()
    window.deleteLater()


@pytest.fixture
def make_window(qtbot, tiny_model_dir: Path) -> Iterator:
    """``make_window(**options)`` -> a shown MainWindow using the tiny model on CPU; closed afterwards."""
    from gui.session import OpenOptions
    from gui.window import MainWindow

    windows = []

    def make(**kwargs):
        options = OpenOptions(model_dir=tiny_model_dir, device="cpu", **kwargs)
        window = MainWindow(options)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
