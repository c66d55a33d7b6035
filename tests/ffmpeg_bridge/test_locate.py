"""Finding ffmpeg: GNVC_FFMPEG, then PATH, then the imageio-ffmpeg wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffmpeg_bridge.errors import FfmpegNotFoundError
from ffmpeg_bridge.locate import ENV_VAR, FfmpegSource, locate_ffmpeg


@pytest.fixture
def no_ffmpeg_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(empty))
    return empty


def test_default_is_the_imageio_wheel(no_ffmpeg_on_path: Path, ffmpeg_exe: str) -> None:
    found = locate_ffmpeg()
    assert found.source is FfmpegSource.IMAGEIO
    assert found.path == Path(ffmpeg_exe).resolve()
    assert found.version.startswith("n") or found.version[0].isdigit()
    assert found.version in found.describe()


def test_path_comes_before_the_wheel(no_ffmpeg_on_path: Path, ffmpeg_exe: str) -> None:
    (no_ffmpeg_on_path / "ffmpeg").symlink_to(ffmpeg_exe)
    found = locate_ffmpeg()
    assert found.source is FfmpegSource.PATH
    assert found.path == Path(ffmpeg_exe).resolve()


def test_env_var_comes_first(no_ffmpeg_on_path: Path, ffmpeg_exe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (no_ffmpeg_on_path / "ffmpeg").symlink_to(ffmpeg_exe)
    monkeypatch.setenv(ENV_VAR, ffmpeg_exe)
    found = locate_ffmpeg()
    assert found.source is FfmpegSource.ENV
    assert found == locate_ffmpeg()  # frozen and comparable; version probe cached


def test_env_var_pointing_nowhere_is_an_error(no_ffmpeg_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(no_ffmpeg_on_path / "nope"))
    with pytest.raises(FfmpegNotFoundError, match=f"{ENV_VAR}=.*not an executable"):
        locate_ffmpeg()


def test_env_var_pointing_at_something_else_is_an_error(
    no_ffmpeg_on_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "not_ffmpeg"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    monkeypatch.setenv(ENV_VAR, str(fake))
    with pytest.raises(FfmpegNotFoundError, match="is not ffmpeg"):
        locate_ffmpeg()
