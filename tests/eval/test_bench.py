"""``gnvc bench`` end to end on a real clip with the tiny model and x264, its report, and its measuring parts."""

from __future__ import annotations

import csv
import json
import mmap
from pathlib import Path

import numpy as np
import pytest

from vsgnvc.cli.main import main
from vsgnvc.eval.bench import sizes_for
from vsgnvc.eval.clips import DEFAULT_BENCHMARK_CLIPS
from vsgnvc.eval.codec_run import CodecJob, run_autoencoder, run_codec
from vsgnvc.eval.frames import load_y4m
from vsgnvc.eval.report import write_report
from vsgnvc.eval.results import AUTOENCODER_ONLY, SCHEMA_VERSION, load_results
from vsgnvc.eval.usage import RSS_RESET, measure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _argv(tmp: Path, bikes_clip: Path, tiny_model_dir: Path, out: Path) -> list[str]:
    broken = tmp / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 10)
    return ["-q", "bench", str(broken), str(bikes_clip), "--out", str(out), "--size", "64x48", "--frames", "5",
            "--model", str(tiny_model_dir), "--rates", "0,3", "--codecs", "x264", "--anchors", "x264"]  # fmt: skip


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, bikes_clip: Path, tiny_model_dir: Path) -> tuple[Path, int]:
    """One real run: a broken file first (must not stop the run), then 5 frames of bikes.mp4 at 64x48."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "run"
    return out, main(_argv(tmp, bikes_clip, tiny_model_dir, out))


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_run_folder_holds_every_point_with_real_rates_and_metrics(bench_run: tuple[Path, int]) -> None:
    out, _ = bench_run
    doc = _results(out)
    assert doc["schema"] == SCHEMA_VERSION and doc["finished"]
    assert doc["model"]["name"] == "tiny-test" and doc["model"]["gop"] == 9
    points = [p for p in doc["points"] if p["codec"] != AUTOENCODER_ONLY]
    assert sorted((p["codec"], p["rate"]) for p in points) == [
        ("gnvc", 0), ("gnvc", 3), ("gnvc-refined", 0), ("gnvc-refined", 3), ("x264", 0), ("x264", 3)
    ]  # fmt: skip
    for p in points:
        assert (p["clip"], p["size"], p["frames"]) == ("bikes", "64x48", 5)
        # Rate comes from the bytes on disk, for our codec and for the baseline alike.
        assert p["bpp"] == pytest.approx(8 * Path(p["bitstream"]).stat().st_size / (64 * 48 * 5))
        for key in ("psnr_yuv", "psnr_rgb", "vmaf", "warping_error", "tof"):
            assert isinstance(p[key], float), key
        assert 5 < p["psnr_rgb"] < 60 and 0 <= p["vmaf"] <= 100 and p["warping_error"] > 0
        assert p["ms_ssim"] is None  # 64x48 is below the standard MS-SSIM's 161 px
        assert p["encode_fps"] > 0 and p["encode_s"] > 0
    ours = [p for p in points if p["codec"].startswith("gnvc")]
    for p in ours:
        assert p["decode_fps"] > 0
        assert p["rss_method"] == RSS_RESET
        assert 50 < p["encode_peak_rss_mb"] < 8000 and 50 < p["decode_peak_rss_mb"] < 8000
    plain = {p["rate"]: p for p in ours if p["codec"] == "gnvc"}
    refined = {p["rate"]: p for p in ours if p["codec"] == "gnvc-refined"}
    assert plain[0]["bitstream"] == refined[0]["bitstream"]  # refinement is decoder-side: same bits
    assert plain[0]["psnr_rgb"] != refined[0]["psnr_rgb"]
    for p in (p for p in points if p["codec"] == "x264"):
        assert p["target_bpp"] == plain[p["rate"]]["bpp"]
        assert p["within_tol"] == (abs(p["bpp"] / p["target_bpp"] - 1) <= 0.10)
        assert p["within_tol"] or p["miss_reason"]
    assert any("MS-SSIM skipped" in n for n in doc["notes"])
    assert any("LPIPS" in n for n in doc["notes"]) or any(p["lpips"] is not None for p in points)
    clip = doc["clips"][0]
    assert clip["clip"] == "bikes" and clip["warping_error_floor"] >= 0


def test_autoencoder_only_ceiling_is_measured_like_a_codec(bench_run: tuple[Path, int]) -> None:
    out, _ = bench_run
    doc = _results(out)
    assert doc["config"]["ceiling"] is True
    (ceiling,) = [p for p in doc["points"] if p["codec"] == AUTOENCODER_ONLY]
    assert (ceiling["clip"], ceiling["size"], ceiling["frames"]) == ("bikes", "64x48", 5)
    # Nothing is coded: no rate, no bits, no bitstream.
    assert ceiling["rate"] is ceiling["bpp"] is ceiling["bytes"] is ceiling["bitstream"] is None
    # The tiny random model reconstructs badly but measurably, through the same metrics as every codec.
    assert 5 < ceiling["psnr_rgb"] < 40 and 0 <= ceiling["vmaf"] <= 100 and ceiling["warping_error"] > 0
    for key in ("psnr_yuv", "psnr_y", "tof"):
        assert isinstance(ceiling[key], float), key
    plain = [p for p in doc["points"] if p["codec"] == "gnvc"]
    assert all(ceiling["psnr_rgb"] != p["psnr_rgb"] for p in plain)  # a different decode from every rate point
    assert ceiling["encode_fps"] > 0 and ceiling["decode_fps"] > 0 and ceiling["rss_method"] == RSS_RESET
    assert 50 < ceiling["encode_peak_rss_mb"] < 8000 and 50 < ceiling["decode_peak_rss_mb"] < 8000
    # Its decoded y4m was scored (same frame count and size as the clip, or scoring raises), then removed.
    work = out / "work" / "64x48" / "bikes" / "gnvc"
    assert not (work / "bikes.autoencoder.y4m").exists() and list(work.glob("bikes.r0.gnvc"))
    summary = (out / "summary.md").read_text()
    assert "## Autoencoder-only ceiling" in summary
    ceiling_row = next(
        line for line in summary.splitlines() if line.startswith("| gnvc autoencoder only (ceiling) | - | - |")
    )
    assert f"| {ceiling['psnr_rgb']:.2f} |" in ceiling_row
    speed = summary.split("## Speed and memory")[1].split("## Every point")[0]
    assert "| 64x48 | gnvc autoencoder only (ceiling) |" in speed
    with (out / "points.csv").open() as f:
        (row,) = [r for r in csv.DictReader(f) if r["codec"] == AUTOENCODER_ONLY]
    assert row["bpp"] == row["rate"] == "" and float(row["psnr_rgb"]) == pytest.approx(ceiling["psnr_rgb"])
    with (out / "bd_rate.csv").open() as f:
        assert AUTOENCODER_ONLY not in {r["codec"] for r in csv.DictReader(f)}  # no rate, no BD-rate


def test_ceiling_of_a_per_frame_autoencoder(tiny_frame_model_dir: Path, tmp_path: Path, bikes_clip: Path) -> None:
    """Temporal factor 1, GOP 6, 7 frames (a last GOP of 1) at 66x40 (padded to the coded size, then cropped)."""
    from vsgnvc.eval import load_clip
    from vsgnvc.models.bundle import GnvcModel

    clip = load_clip(bikes_clip, size=(66, 40), num_frames=7)
    source = clip.to_y4m(tmp_path / "c.y4m")
    job = CodecJob(source, tmp_path / "w", tiny_frame_model_dir, rates=(0,), refine=False, warmup=False,
                   autoencoder_only=True)  # fmt: skip
    result = run_codec(job)
    ceiling = result.autoencoder_only
    assert result.gop == 6 and ceiling is not None
    assert (ceiling.frames, ceiling.width, ceiling.height) == (7, 66, 40)
    assert ceiling.encode.frames == ceiling.decode.frames == 7 and ceiling.encode.fps > 0
    info, frames = load_y4m(ceiling.decoded)
    assert ceiling.decoded == tmp_path / "w" / "c.autoencoder.y4m"
    assert (info.num_frames, info.width, info.height) == (7, 66, 40)
    assert not np.array_equal(frames[0][0], clip.frames[0][0])  # really through the network
    # Per-frame: the GOP split cannot change the result (GOPs of 1 frame, then of 6 + 1).
    model = GnvcModel.from_pretrained(tiny_frame_model_dir)
    single = run_autoencoder(model, source, tmp_path / "gop1.y4m", 1, "cpu")
    _, per_frame = load_y4m(single.decoded)
    for a, b in zip(frames, per_frame, strict=True):
        for plane_a, plane_b in zip(a, b, strict=True):
            assert np.abs(plane_a.astype(int) - plane_b.astype(int)).max() <= 1


def test_report_files_are_written(bench_run: tuple[Path, int]) -> None:
    out, _ = bench_run
    doc = _results(out)
    with (out / "points.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(doc["points"])
    assert {"clip", "codec", "bpp", "psnr_yuv", "vmaf", "warping_error", "encode_fps"} <= set(rows[0])
    with (out / "bd_rate.csv").open() as f:
        bd = list(csv.DictReader(f))
    assert {r["codec"] for r in bd} == {"gnvc", "gnvc-refined"} and {r["anchor"] for r in bd} == {"x264"}
    assert all(r["bd_rate"] or r["error"] for r in bd)  # a value, or the reason there is none
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert {"rd_psnr_yuv.png", "rd_psnr_rgb.png", "rd_vmaf.png", "rd_warping_error.png", "rd_tof.png"} <= set(plots)
    assert "rd_ms_ssim.png" not in plots  # no values, no empty chart
    assert all((out / "plots" / p).read_bytes().startswith(PNG_MAGIC) for p in plots)
    summary = (out / "summary.md").read_text()
    for text in ("# gnvc bench: tiny-test", "encoder preset slow", "## BD-rate vs x264", "## Speed and memory", "### bikes 64x48",
                 "## Failures", "broken", "## Notes"):  # fmt: skip
        assert text in summary, text
    assert not list(out.glob(".*tmp"))


def test_a_failing_clip_is_reported_and_the_run_goes_on(bench_run: tuple[Path, int]) -> None:
    out, code = bench_run
    doc = _results(out)
    assert code == 1  # finished, with failures
    assert [(f["clip"], f["stage"]) for f in doc["failures"]] == [("broken", "load")]
    assert "cannot open" in doc["failures"][0]["error"]
    assert {p["clip"] for p in doc["points"]} == {"bikes"}  # the clip after the broken one was measured


def test_report_regenerates_from_json_alone(bench_run: tuple[Path, int], tmp_path: Path) -> None:
    out, _ = bench_run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((out / "results.json").read_bytes())
    assert main(["-q", "bench", "--report", str(copy)]) == 0
    assert (copy / "points.csv").read_text() == (out / "points.csv").read_text()
    assert (copy / "summary.md").read_text() == (out / "summary.md").read_text()
    assert sorted(p.name for p in (copy / "plots").glob("*.png")) == sorted(
        p.name for p in (out / "plots").glob("*.png")
    )


def test_resume_keeps_finished_clips_and_checks_settings(
    bench_run: tuple[Path, int], tmp_path: Path, bikes_clip: Path, tiny_model_dir: Path
) -> None:
    out, _ = bench_run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((out / "results.json").read_bytes())
    argv = _argv(tmp_path, bikes_clip, tiny_model_dir, copy)
    assert main([*argv, "--resume"]) == 1  # the broken clip fails again; bikes is not re-run
    before, after = _results(out), _results(copy)
    assert after["points"] == before["points"] and len(after["resumed"]) == 1
    assert [f["clip"] for f in after["failures"]] == ["broken"]
    assert not (copy / "work" / "64x48" / "bikes").exists()
    assert main([*argv[: argv.index("--frames") + 1], "6", *argv[argv.index("--frames") + 2 :], "--resume"]) == 2
    assert main([*argv, "--resume", "--no-ceiling"]) == 2  # the ceiling changes the points too
    assert main([*argv, "--resume", "--preset", "fast"]) == 2  # so does the encoder's preset


def _point(codec: str, rate: int, bpp: float, psnr: float, warp: float) -> dict:
    return {"clip": "c", "size": "320x180", "width": 320, "height": 180, "frames": 9, "codec": codec, "rate": rate,
            "target_bpp": None, "bpp": bpp, "psnr_yuv": psnr, "psnr_rgb": psnr - 1, "ms_ssim": None, "vmaf": None,
            "warping_error": warp, "tof": None, "lpips": None, "dists": None}  # fmt: skip


def test_bd_rate_in_the_report_matches_a_hand_computed_case(tmp_path: Path) -> None:
    rates, psnr = [0.01, 0.02, 0.04, 0.08], [30.0, 32.5, 34.0, 36.5]
    points = [_point("x265", i, r, q, 50.0 - i) for i, (r, q) in enumerate(zip(rates, psnr, strict=True))]
    # Half the anchor's rate at every quality: -50 %. Warping error that rises with rate: no BD-rate defined.
    points += [_point("gnvc", i, r / 2, q, 40.0 + i) for i, (r, q) in enumerate(zip(rates, psnr, strict=True))]
    config = {"frames": 9, "sizes": ["320x180"], "codecs": ["x265"], "tol": 0.1, "anchors": ["x265", "vvenc"], "gop": 9}
    doc = {"schema": SCHEMA_VERSION, "config": config, "points": points, "clips": [], "failures": [], "notes": []}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    write_report(tmp_path)
    with (tmp_path / "bd_rate.csv").open() as f:
        bd = {r["metric"]: r for r in csv.DictReader(f)}
    assert float(bd["psnr_yuv"]["bd_rate"]) == pytest.approx(-50.0, abs=1e-6)
    assert float(bd["psnr_rgb"]["bd_rate"]) == pytest.approx(-50.0, abs=1e-6)
    assert bd["warping_error"]["bd_rate"] == "" and "strictly decrease" in bd["warping_error"]["error"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| gnvc (no refinement) | -50.0 % | -50.0 % | n/a |" in summary
    assert "BD-rate vs VVenC" not in summary  # no VVenC points in this run
    assert "## Autoencoder-only ceiling" not in summary


def test_ceiling_rows_stay_out_of_curves_and_older_results_still_report(tmp_path: Path) -> None:
    points = [_point("x265", i, r, 30.0 + i, 50.0 - i) for i, r in enumerate([0.01, 0.02, 0.04])]
    points += [_point("gnvc", i, r, 29.0 + i, 50.0 - i) for i, r in enumerate([0.01, 0.02, 0.04])]
    config = {"frames": 9, "sizes": ["320x180"], "codecs": ["x265"], "tol": 0.1, "anchors": ["x265"], "gop": 9}
    ceiling = {**_point(AUTOENCODER_ONLY, 0, 0.0, 37.25, 41.0), "rate": None, "bpp": None}
    doc = {"schema": SCHEMA_VERSION, "config": {**config, "ceiling": True}, "points": [*points, ceiling],
           "clips": [], "failures": [], "notes": []}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(doc))
    write_report(tmp_path)
    with (tmp_path / "bd_rate.csv").open() as f:
        assert {r["codec"] for r in csv.DictReader(f)} == {"gnvc"}
    summary = (tmp_path / "summary.md").read_text()
    ceiling_table = summary.split("## Autoencoder-only ceiling")[1].split("##")[0]
    assert "| 320x180 | 1 | 37.25 | 36.25 | 41.00 |" in ceiling_table
    assert "| gnvc autoencoder only (ceiling) | - | - | - | 37.25 | 36.25 |" in summary
    # A schema-1 run (before the ceiling existed) still reports, and reads as having it off.
    (tmp_path / "results.json").write_text(json.dumps({**doc, "schema": 1, "config": config, "points": points}))
    assert load_results(tmp_path)["config"]["ceiling"] is False
    write_report(tmp_path)
    assert "## Autoencoder-only ceiling" not in (tmp_path / "summary.md").read_text()


def test_bad_arguments_give_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["--out", str(tmp_path / "a"), "--size", "65x48"], "even"),
        (["--out", str(tmp_path / "a"), "--frames", "1"], "--frames must be >= 2"),
        (["--out", str(tmp_path / "a"), "--codecs", "x263"], "unknown codec"),
        (["--out", str(tmp_path / "a"), "--rates", "a,b"], "--rates"),
        (["--out", str(tmp_path / "a"), "--preset", "placebo"], "--preset must be one of fast, medium, slow"),
        (["--report", str(tmp_path / "missing")], "no results.json"),
        ([], "--out RUN_DIR"),
    ]
    for args, message in cases:
        assert main(["bench", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("gnvc: error:") and message in err[0], err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "results.json").write_text("{}")
    assert main(["bench", "--report", str(tmp_path / "junk")]) == 2
    assert not (tmp_path / "a").exists()


def test_sizes_never_upscale_unless_asked() -> None:
    carphone = next(c for c in DEFAULT_BENCHMARK_CLIPS if c.name == "carphone")
    sizes = ((320, 180), (640, 360))
    assert sizes_for((640, 272), sizes, None, False) == ([(320, 180)], [(640, 360)])
    assert sizes_for((1280, 720), sizes, None, False) == ([(320, 180), (640, 360)], [])
    assert sizes_for((176, 144), sizes, carphone, False) == ([(176, 144)], list(sizes))
    assert sizes_for((176, 144), sizes, None, False) == ([], list(sizes))
    assert sizes_for((176, 144), sizes, None, True) == (list(sizes), [])


def _touch_new_pages(mib: int) -> int:
    """Map ``mib`` MiB of new anonymous memory and write to every page: RSS rises by that much whatever the
    heap already holds. (A numpy array can be carved from freed heap memory that is still resident, so
    allocating one may not raise RSS at all: that made this test fail at random in full runs.)"""
    size = mib * 2**20
    with mmap.mmap(-1, size) as pages:
        for offset in range(0, size, mmap.PAGESIZE):
            pages[offset] = 1
    return size


def _leave_resident_free_heap() -> bytearray:
    """What a long test run leaves behind: ~100 MiB of freed heap that is still resident (glibc keeps it
    below a live block). Returns the live block; drop it to let glibc trim the heap again."""
    threshold = bytearray(16 * 2**20)  # freed mmapped chunk: glibc raises its mmap threshold to 16 MiB
    del threshold
    blocks = [bytearray(2**20) for _ in range(100)]  # now carved from the heap, touched
    return blocks[-1]


def test_each_phase_gets_its_own_peak_rss() -> None:
    live = _leave_resident_free_heap()
    try:
        _, big = measure(lambda: _touch_new_pages(64), frames=1)
        _, small = measure(lambda: 0, frames=1)
    finally:
        del live
    assert big.rss_method == small.rss_method == RSS_RESET
    assert big.peak_rss_mb > small.peak_rss_mb + 50  # the reset forgot the first phase's peak
    assert big.fps > 0 and big.cpu_seconds >= 0


def test_codec_run_rejects_unknown_rates(tiny_model_dir: Path, tmp_path: Path, bikes_clip: Path) -> None:
    from vsgnvc.eval import load_clip

    source = load_clip(bikes_clip, size=(64, 48), num_frames=3).to_y4m(tmp_path / "c.y4m")
    with pytest.raises(ValueError, match="rate 7 does not exist"):
        run_codec(CodecJob(source, tmp_path / "w", tiny_model_dir, rates=(7,)))
