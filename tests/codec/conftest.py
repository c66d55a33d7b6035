"""Fixtures for the ``gnvc`` command tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def gnvc_cli() -> list[str]:
    """The installed ``gnvc`` entry point next to this interpreter (what users run), else the module."""
    exe = Path(sys.executable).with_name("gnvc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "vsgnvc.cli.main"]
