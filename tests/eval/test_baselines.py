"""The four baseline encoders through the real ffmpeg binary, decoding, and bit-rate matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vsgnvc.eval import (
    ENCODERS,
    Clip,
    EncodeCache,
    EvalError,
    decode,
    encode,
    load_y4m,
    match_bitrate,
    psnr_yuv,
)
from vsgnvc.eval.frames import planes


def _frame_psnr_y(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    mse = ((ref.astype(np.float64) - dist) ** 2).reshape(len(ref), -1).mean(axis=1)
    return 10 * np.log10(255**2 / np.maximum(mse, 1e-12))


@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_each_encoder_round_trips_in_order(encoder: str, odd_clip: Clip, tmp_path: Path) -> None:
    q = {"x264": 26, "x265": 28, "svtav1": 35, "vvenc": 30}[encoder]
    result = encode(encoder, odd_clip, q, gop=4, workdir=tmp_path, decode=True)
    assert result.bitstream.stat().st_size == result.num_bytes > 0
    assert result.bpp == pytest.approx(8 * result.num_bytes / (90 * 50 * 9))
    assert (result.frames, result.width, result.height) == (9, 90, 50)
    assert result.command[result.command.index("-c:v") + 1] == ENCODERS[encoder].library
    _, decoded = load_y4m(result.decoded)  # type: ignore[arg-type]
    assert result.load_decoded()[8][0].shape == (50, 90)
    y, u, _ = planes(decoded)
    assert y.shape == (9, 50, 90) and u.shape == (9, 25, 45)
    assert psnr_yuv(odd_clip.frames, decoded).y > 28
    # Frames come back in display order: each decoded frame matches its own source frame best.
    source_y = planes(odd_clip.frames)[0]
    aligned = _frame_psnr_y(source_y, y)
    assert aligned.min() > 25
    assert aligned[1:].mean() > _frame_psnr_y(source_y[:-1], y[1:]).mean() + 2


def test_gop_length_is_honoured(tiny_y4m: Path, tmp_path: Path) -> None:
    long_gop = encode("x264", tiny_y4m, 28, gop=25, workdir=tmp_path)
    short_gop = encode("x264", tiny_y4m, 28, gop=2, workdir=tmp_path)
    # Six intra frames instead of one cost clearly more bits at the same CRF.
    assert short_gop.num_bytes > 1.3 * long_gop.num_bytes


def test_match_bitrate_converges_within_10_percent(tiny_y4m: Path, tmp_path: Path) -> None:
    cache = EncodeCache()
    trials = 0
    for target in (0.1, 0.3):
        m = match_bitrate("x264", tiny_y4m, target, workdir=tmp_path, cache=cache)
        assert m.within_tol and m.miss_reason is None
        assert abs(m.result.bpp / target - 1) <= 0.10
        assert m.result.bpp == pytest.approx(8 * m.result.bitstream.stat().st_size / (96 * 48 * 11))
        assert m.result.decoded is not None and m.result.decoded.is_file()
        assert len(m.trials) <= 10
        trials += len(m.trials)
    # Both searches start at the middle CRF: the second one reuses that encode instead of redoing it.
    assert len(cache) < trials


def test_match_bitrate_reports_the_floor(tiny_y4m: Path, tmp_path: Path) -> None:
    m = match_bitrate("x264", tiny_y4m, 1e-4, workdir=tmp_path, decode=False)
    assert not m.within_tol
    assert m.miss_reason == "floor"
    assert m.result.q == ENCODERS["x264"].q_max
    assert m.result.bpp > 1e-4
    assert m.result.decoded is None


def test_decode_checks_the_frame_count(tiny_y4m: Path, tmp_path: Path) -> None:
    result = encode("x264", tiny_y4m, 30, workdir=tmp_path)
    with pytest.raises(EvalError, match="expected 12"):
        decode(result.bitstream, width=96, height=48, frames=12)
    with pytest.raises(EvalError, match="expected 64x48"):
        decode(result.bitstream, width=64, height=48, frames=11)


def test_bad_arguments_raise_one_line_errors(tiny_y4m: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown encoder"):
        encode("mpeg2", tiny_y4m, 30, workdir=tmp_path)
    with pytest.raises(ValueError, match=r"must be in \[1, 63\]"):
        encode("svtav1", tiny_y4m, 0, workdir=tmp_path)
    with pytest.raises(ValueError, match="integer"):
        encode("vvenc", tiny_y4m, 30.5, workdir=tmp_path)
    with pytest.raises(ValueError, match="not found"):
        encode("x264", tmp_path / "missing.y4m", 30, workdir=tmp_path)
    with pytest.raises(ValueError, match="target_bpp"):
        match_bitrate("x264", tiny_y4m, 0.0, workdir=tmp_path)
    with pytest.raises(EvalError, match="found no video stream"):
        (tmp_path / "junk.264").write_bytes(b"\x00" * 64)
        decode(tmp_path / "junk.264", width=96, height=48, frames=11)
