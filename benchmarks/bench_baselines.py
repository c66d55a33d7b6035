"""Benchmark the traditional baselines at matched low bit rates on real clips.

For each clip (default: ``bikes`` and ``his_girl_friday`` at 320x180, 49 frames) and each encoder
(x264 veryslow, x265 veryslow, SVT-AV1 preset 4, VVenC medium; all low delay, GOP 25) the CRF/QP is
searched so the real output lands within 10 % of each target bpp (0.01, 0.02, 0.03, 0.05, 0.1), then the
decoded video is scored: PSNR (YUV 6:1:1 and RGB), MS-SSIM (RGB), VMAF, warping error and tOF.

Writes ``results.json`` (updated after every point, so a partial run keeps its rows) and ``results.md`` to
the run folder given by ``--out``; bitstreams and decoded y4m files go to ``<out>/work``.

Usage::

    .venv/bin/python benchmarks/bench_baselines.py --out runs/baselines-$(date +%Y%m%d)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vsgnvc.eval import (
    DEFAULT_GOP,
    ENCODERS,
    EncodeCache,
    bd_rate,
    load_benchmark_clip,
    match_bitrate,
    ms_ssim_rgb,
    psnr_rgb,
    psnr_yuv,
    reference_flows,
    tof,
    vmaf,
    warping_error,
    yuv420_to_rgb,
)
from vsgnvc.eval._ffmpeg import ffmpeg_version

logger = logging.getLogger("bench_baselines")


@dataclass(frozen=True)
class BenchConfig:
    """Everything one run depends on (recorded in ``results.json``)."""

    out: Path
    clips: tuple[str, ...] = ("bikes", "his_girl_friday")
    encoders: tuple[str, ...] = ("x264", "x265", "svtav1", "vvenc")
    targets: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.1)
    frames: int = 49
    size: tuple[int, int] = (320, 180)
    gop: int = DEFAULT_GOP
    tol: float = 0.10
    report_only: bool = False


def _parse(argv: Sequence[str] | None) -> BenchConfig:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="run folder (created)")
    p.add_argument("--clips", default="bikes,his_girl_friday", help="benchmark clip names, comma separated")
    p.add_argument("--encoders", default=",".join(ENCODERS), help="subset of " + ",".join(ENCODERS))
    p.add_argument("--targets", default="0.01,0.02,0.03,0.05,0.1", help="target bpp values")
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--size", default="320x180", help="WxH")
    p.add_argument("--gop", type=int, default=DEFAULT_GOP)
    p.add_argument("--tol", type=float, default=0.10)
    p.add_argument("--report-only", action="store_true", help="re-render results.md from <out>/results.json")
    a = p.parse_args(argv)
    w, _, h = a.size.partition("x")
    return BenchConfig(
        out=a.out,
        clips=tuple(a.clips.split(",")),
        encoders=tuple(a.encoders.split(",")),
        targets=tuple(float(t) for t in a.targets.split(",")),
        frames=a.frames,
        size=(int(w), int(h)),
        gop=a.gop,
        tol=a.tol,
        report_only=a.report_only,
    )


def _write_report(out: Path, doc: dict) -> None:
    tmp = out / ".results.md.tmp"
    tmp.write_text(_markdown(doc["meta"], doc["rows"]))
    os.replace(tmp, out / "results.md")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _fmt(x: float | None, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "inf" if math.isinf(x) else f"{x:.{digits}f}"


def _bd_table(rows: list[dict], clips: Sequence[str], encoders: Sequence[str], anchor: str) -> list[str]:
    """BD-rate of each encoder against ``anchor`` on PSNR-RGB and VMAF, using only matched points."""
    lines = [
        f"### BD-rate vs {anchor} (matched points only; negative = fewer bits for the same quality)",
        "",
        "| clip | encoder | BD-rate PSNR-RGB | BD-rate VMAF |",
        "|---|---|---|---|",
    ]
    for clip in clips:
        pts = {e: [r for r in rows if r["clip"] == clip and r["encoder"] == e and r["within_tol"]] for e in encoders}
        for enc in encoders:
            if enc == anchor:
                continue
            cells = []
            for key in ("psnr_rgb", "vmaf"):
                try:
                    val = bd_rate(
                        [r["bpp"] for r in pts[anchor]],
                        [r[key] for r in pts[anchor]],
                        [r["bpp"] for r in pts[enc]],
                        [r[key] for r in pts[enc]],
                    )
                    cells.append(f"{val:+.1f} %")
                except ValueError as exc:
                    cells.append(f"n/a ({str(exc).split(': ', 1)[-1]})")
            lines.append(f"| {clip} | {enc} | {cells[0]} | {cells[1]} |")
    return lines


def _markdown(meta: dict, rows: list[dict]) -> str:
    cfg = meta["config"]
    lines = [
        "# Baselines at matched bit rates",
        "",
        f"{cfg['frames']} frames at {cfg['size'][0]}x{cfg['size'][1]}, GOP {cfg['gop']}, low delay, "
        f"rate tolerance {cfg['tol']:.0%}. {meta['ffmpeg']}. {meta['cpus']} CPUs, "
        f"load average {meta['load_start']} at start, {meta.get('load_end', '?')} at end "
        "(other jobs shared the machine: wall times are inflated, CPU times are the better guide).",
        "",
        "Rate: real elementary-stream bytes (SEI/AUD/metadata stripped). PSNR per frame then averaged (dB); "
        "PSNR-YUV is 6:1:1 and is inf when chroma is coded losslessly (b/w sources); "
        "MS-SSIM on RGB, 5 scales; VMAF v0.6.1 mean; WE = warping error on reference DIS flow (0-255 squared "
        "units, lower is steadier); tOF in pixels. A row marked with a reason did not reach the target within "
        "the tolerance and shows the closest encode. trials = encodes looked at by the rate search "
        "(including ones reused from earlier targets).",
        "",
    ]
    for clip in cfg["clips"]:
        info = meta["clips"].get(clip, {})
        lines += [
            f"## {clip}",
            "",
            f"Source warping error (floor): {_fmt(info.get('reference_warping_error'), 2)}; "
            f"scene-cut pairs skipped: {info.get('cut_pairs', [])}.",
            "",
            "| encoder | target bpp | bpp (err) | q | PSNR-Y | PSNR-YUV | PSNR-RGB | MS-SSIM | VMAF | WE | tOF "
            "| enc s (cpu s) | trials |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in (r for r in rows if r["clip"] == clip):
            flag = "" if r["within_tol"] else f" **{r['miss_reason']}**"
            lines.append(
                f"| {r['encoder']} | {r['target_bpp']} | {r['bpp']:.4f} ({r['bpp'] / r['target_bpp'] - 1:+.0%}){flag} "
                f"| {r['q']:g} | {_fmt(r['psnr_y'], 2)} | {_fmt(r['psnr_yuv'], 2)} | {_fmt(r['psnr_rgb'], 2)} "
                f"| {_fmt(r['ms_ssim'], 4)} "
                f"| {_fmt(r['vmaf'], 2)} | {_fmt(r['warping_error'], 2)} | {_fmt(r['tof'], 3)} "
                f"| {r['encode_s']:.1f} ({r['encode_cpu_s']:.1f}) | {r['search_encodes']} |"
            )
        lines.append("")
    if "x264" in cfg["encoders"] and len(cfg["encoders"]) > 1:
        lines += _bd_table(rows, cfg["clips"], cfg["encoders"], "x264")
    return "\n".join(lines) + "\n"


def run(cfg: BenchConfig) -> dict:
    """Run the benchmark described by ``cfg``; returns the JSON document it wrote."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    work = cfg.out / "work"
    work.mkdir(exist_ok=True)
    meta: dict = {
        "config": {**cfg.__dict__, "out": str(cfg.out)},
        "ffmpeg": ffmpeg_version(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commands": {},
        "clips": {},
    }
    rows: list[dict] = []
    doc = {"meta": meta, "rows": rows}
    for clip_name in cfg.clips:
        clip = load_benchmark_clip(clip_name, num_frames=cfg.frames, size=cfg.size)
        source = clip.to_y4m(work / f"{clip.name}.y4m")
        ref_rgb = clip.rgb()
        flows = reference_flows(ref_rgb)
        meta["clips"][clip_name] = {
            "file": str(clip.source),
            "fps": str(clip.fps),
            "reference_warping_error": warping_error(flows, ref_rgb),
            "cut_pairs": [int(i) for i in flows.cut.nonzero()[0]],
        }
        for enc in cfg.encoders:
            cache = EncodeCache()
            for target in cfg.targets:
                logger.info("%s / %s / %.3f bpp", clip_name, enc, target)
                m = match_bitrate(enc, source, target, cfg.tol, gop=cfg.gop, workdir=work, cache=cache)
                res = m.result
                meta["commands"].setdefault(enc, list(res.command))
                if res.decoded is None:
                    raise RuntimeError(f"{enc}: match_bitrate returned an undecoded result")
                dec = res.load_decoded()
                dec_rgb = yuv420_to_rgb(dec)
                p = psnr_yuv(clip.frames, dec)
                rows.append(
                    {
                        "clip": clip_name,
                        "encoder": enc,
                        "target_bpp": target,
                        "bpp": res.bpp,
                        "bytes": res.num_bytes,
                        "within_tol": m.within_tol,
                        "miss_reason": m.miss_reason,
                        "q": res.q,
                        "psnr_yuv": p.yuv,
                        "psnr_y": p.y,
                        "psnr_rgb": psnr_rgb(ref_rgb, dec_rgb),
                        "ms_ssim": ms_ssim_rgb(ref_rgb, dec_rgb),
                        "vmaf": vmaf(source, res.decoded).mean,
                        "warping_error": warping_error(flows, dec_rgb),
                        "tof": tof(flows, dec_rgb),
                        "encode_s": res.encode_seconds,
                        "encode_cpu_s": res.encode_cpu_seconds,
                        "search_encodes": len(m.trials),
                        "trials": m.trials,
                        "bitstream": str(res.bitstream),
                    }
                )
                _write_json(cfg.out / "results.json", doc)
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write_json(cfg.out / "results.json", doc)
    _write_report(cfg.out, doc)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    cfg = _parse(argv)
    if cfg.report_only:
        _write_report(cfg.out, json.loads((cfg.out / "results.json").read_text()))
        return 0
    t0 = time.perf_counter()
    run(cfg)
    logger.info("done in %.0f s; results in %s", time.perf_counter() - t0, cfg.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
