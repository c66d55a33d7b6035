"""Measure a model folder on held-out clips and write MODEL_CARD.md's results table.

    .venv/bin/python benchmarks/model_card.py [--model DIR] [--frames 49] [--clips his_girl_friday,lego_robot]
        [--write-index]   # also store the measured bpp per rate point in the model's model_index.json

Per rate point: bpp (real bytes), PSNR-YUV, MS-SSIM, VMAF and warping error for the plain and the
refined decode, next to x264 (veryslow) and x265 (veryslow) matched to the same bpp.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from vsgnvc.eval import load_benchmark_clip, match_bitrate
from vsgnvc.eval.ours import evaluate_gnvc, quality
from vsgnvc.models.bundle import INDEX_NAME, GnvcModel, ModelIndex, default_model_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=default_model_path())
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--clips", default="his_girl_friday,lego_robot")
    p.add_argument("--rates", default=None, help="comma list (default: all)")
    p.add_argument("--baselines", default="x264,x265")
    p.add_argument("--out", type=Path, default=Path("out/model_card"))
    p.add_argument("--write-index", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    model = GnvcModel.from_pretrained(args.model)
    rates = [int(r) for r in args.rates.split(",")] if args.rates else list(range(len(model.index.rates)))
    rows = []
    for name in args.clips.split(","):
        clip = load_benchmark_clip(name, num_frames=args.frames)
        for rate in rates:
            with tempfile.TemporaryDirectory() as tmp:
                ours = evaluate_gnvc(model, clip, rate, Path(tmp))
                row = {"clip": name, "rate": rate, "ours": ours.to_dict()}
                for enc in args.baselines.split(","):
                    m = match_bitrate(enc, clip, ours.bpp, workdir=Path(tmp) / enc)
                    q = quality(clip, m.result.load_decoded())
                    row[enc] = {"bpp": m.result.bpp, "q": m.result.q, "within_tol": m.within_tol, **q.__dict__}
            rows.append(row)
            logging.info("%s", json.dumps(row)[:300])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "| clip | rate | bpp | PSNR-YUV plain / refined | MS-SSIM plain / refined | VMAF plain / refined | warp-err plain / refined |"
        + " | ".join(f" {e} bpp, PSNR, VMAF, warp-err" for e in args.baselines.split(",")) + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(args.baselines.split(",")),
    ]
    for r in rows:
        o, pl, rf = r["ours"], r["ours"]["plain"], r["ours"]["refined"] or r["ours"]["plain"]
        cells = [
            r["clip"], str(r["rate"]), f"{o['bpp']:.4f}",
            f"{pl['psnr_yuv']:.2f} / {rf['psnr_yuv']:.2f}", f"{pl['ms_ssim']:.3f} / {rf['ms_ssim']:.3f}",
            f"{pl['vmaf']:.1f} / {rf['vmaf']:.1f}", f"{pl['warping_error']:.1f} / {rf['warping_error']:.1f}",
        ]  # fmt: skip
        for e in args.baselines.split(","):
            b = r[e]
            cells.append(f"{b['bpp']:.4f}, {b['psnr_yuv']:.2f}, {b['vmaf']:.1f}, {b['warping_error']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    speed = rows[0]["ours"] if rows else {}
    lines.append("")
    if speed:
        lines.append(
            f"Speed (first clip, rate {rows[0]['rate']}, CPU, 2 cores): encode {speed['encode_fps']:.2f} fps, "
            f"decode {speed['decode_fps']:.2f} fps, decode+refine {speed['refine_decode_fps'] or 0:.2f} fps, "
            f"peak RSS {speed['peak_rss_mb']:.0f} MB."
        )
    table = "\n".join(lines)
    (args.out / "results.md").write_text(table + "\n")
    print(table)
    if args.write_index:
        index = ModelIndex.load(args.model / INDEX_NAME)
        measured = {
            rate: statistics.mean(r["ours"]["bpp"] for r in rows if r["rate"] == rate) for rate in rates
        }
        new_rates = tuple(replace(rp, bpp=round(measured[rp.index], 5)) if rp.index in measured else rp for rp in index.rates)
        (args.model / INDEX_NAME).write_text(replace(index, rates=new_rates).to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
