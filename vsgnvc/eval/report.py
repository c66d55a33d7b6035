"""Turn a benchmark's ``results.json`` into CSV tables, BD-rates, RD-curve plots and a Markdown summary.

Everything here is derived from the JSON alone, so ``gnvc bench --report RUN_DIR`` can regenerate it at any
time (after editing the report code, or on a partial run). Files written into the run folder:

* ``points.csv``: one row per (clip, size, codec, rate point) with rate, every metric, speed and memory;
* ``bd_rate.csv``: BD-rate of every codec against each anchor, per clip, size and metric (or why it is
  undefined: too few distinct points, a non-monotone curve, no overlap);
* ``plots/rd_<metric>.png``: RD curves, one panel per clip and size, one line per codec, the autoencoder-only
  ceiling as a dashed horizontal line;
* ``summary.md``: mean BD-rates, the autoencoder-only ceiling, speed and memory, every point, failures and notes.

The ceiling's rows (codec :data:`~vsgnvc.eval.results.AUTOENCODER_ONLY`) have no rate: they take no part in
curves or BD-rates.

BD-rate uses :func:`~vsgnvc.eval.bdrate.bd_rate` (PCHIP, percent; negative means fewer bits at equal quality)
on all real points of a curve, whether or not the bit-rate match hit its tolerance (a miss is still a real
encode with its real rate); points with the same rate (a search that bottomed out twice) are counted once.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vsgnvc.eval.bdrate import bd_rate
from vsgnvc.eval.results import AUTOENCODER_ONLY, load_results
from vsgnvc.eval.score import METRICS, MetricInfo

logger = logging.getLogger(__name__)

RD_METRICS: tuple[MetricInfo, ...] = tuple(m for m in METRICS if m.rd)
_FIRST_COLUMNS = ("clip", "size", "width", "height", "frames", "codec", "rate", "target_bpp", "bpp", "bytes", "q",
                  "within_tol", "miss_reason")  # fmt: skip
_CODEC_ORDER = (AUTOENCODER_ONLY, "gnvc", "gnvc-refined", "x264", "x265", "svtav1", "vvenc")
_COLOURS = {AUTOENCODER_ONLY: "#17becf", "gnvc": "#1f77b4", "gnvc-refined": "#d62728", "x264": "#7f7f7f",
            "x265": "#2ca02c", "svtav1": "#9467bd", "vvenc": "#ff7f0e"}  # fmt: skip
_CODEC_LABELS = {AUTOENCODER_ONLY: "gnvc autoencoder only (ceiling)", "gnvc": "gnvc (no refinement)",
                 "gnvc-refined": "gnvc (refined)", "x264": "x264 veryslow", "x265": "x265 veryslow",
                 "svtav1": "SVT-AV1 p4", "vvenc": "VVenC medium"}  # fmt: skip


def _codec_key(codec: str) -> tuple[int, str]:
    return (_CODEC_ORDER.index(codec) if codec in _CODEC_ORDER else len(_CODEC_ORDER), codec)


def _size_key(size: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in size.split("x"))
    except ValueError:
        return (0,)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def curve(points: Iterable[dict[str, Any]], metric: str) -> tuple[list[float], list[float]]:
    """``(bpp, metric)`` of one codec's points, sorted by rate, points without a value or with a repeated rate
    dropped."""
    seen: dict[float, float] = {}
    for p in points:
        v, r = p.get(metric), p.get("bpp")
        if v is None or r is None or not math.isfinite(v) or r in seen:
            continue
        seen[float(r)] = float(v)
    rates = sorted(seen)
    return rates, [seen[r] for r in rates]


def _groups(points: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, list[dict[str, Any]]]]:
    """``{(size, clip): {codec: [points]}}``."""
    out: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for p in points:
        out.setdefault((p["size"], p["clip"]), {}).setdefault(p["codec"], []).append(p)
    return out


def bd_rates(points: Sequence[dict[str, Any]], anchors: Sequence[str]) -> list[dict[str, Any]]:
    """BD-rate of every codec against every anchor present, per (size, clip, metric).

    :returns: rows ``{size, clip, anchor, codec, metric, bd_rate, error}``; ``bd_rate`` is ``None`` (and
        ``error`` says why) where the delta is undefined.
    """
    rows = []
    for (size, clip), codecs in sorted(_groups(points).items(), key=lambda kv: (_size_key(kv[0][0]), kv[0][1])):
        for anchor in anchors:
            if anchor not in codecs:
                continue
            for codec in sorted(codecs, key=_codec_key):
                if codec in (anchor, AUTOENCODER_ONLY):
                    continue
                for m in RD_METRICS:
                    ra, qa = curve(codecs[anchor], m.key)
                    rt, qt = curve(codecs[codec], m.key)
                    if not qa and not qt:
                        continue
                    value, error = None, None
                    try:
                        value = bd_rate(ra, qa, rt, qt, higher_is_better=m.higher_is_better)
                    except ValueError as exc:
                        error = str(exc)
                    rows.append({"size": size, "clip": clip, "anchor": anchor, "codec": codec, "metric": m.key,
                                 "bd_rate": value, "error": error})  # fmt: skip
    return rows


def bd_means(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str], tuple[float | None, int, int]]:
    """Mean BD-rate over clips: ``{(size, anchor, codec, metric): (mean or None, clips with a value, clips)}``."""
    acc: dict[tuple[str, str, str, str], list[float | None]] = {}
    for r in rows:
        acc.setdefault((r["size"], r["anchor"], r["codec"], r["metric"]), []).append(r["bd_rate"])
    out = {}
    for key, values in acc.items():
        defined = [v for v in values if v is not None]
        out[key] = (statistics.fmean(defined) if defined else None, len(defined), len(values))
    return out


def _csv_bytes(rows: Sequence[dict[str, Any]], first: Sequence[str]) -> bytes:
    columns = list(first)
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue().encode()


def _fmt(x: Any, digits: int) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else "-"
    return f"{x:.{digits}f}"


def plot_rd(doc: dict[str, Any], folder: Path) -> list[Path]:
    """One PNG per RD metric with at least one value: a panel per (size, clip), a line per codec."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = _groups(doc["points"])
    panels = sorted(groups, key=lambda k: (_size_key(k[0]), k[1]))
    written = []
    model = (doc.get("model") or {}).get("name", "gnvc")
    for m in RD_METRICS:
        with_data = [k for k in panels if any(curve(pts, m.key)[0] for pts in groups[k].values())]
        if not with_data:
            continue
        ncols = min(4, len(with_data))
        nrows = math.ceil(len(with_data) / ncols)
        fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, (size, clip) in zip(axes.flat, with_data, strict=False):
            for codec in sorted(groups[(size, clip)], key=_codec_key):
                x, y = curve(groups[(size, clip)][codec], m.key)
                if x:
                    ax.plot(x, y, marker="o", ms=4, color=_COLOURS.get(codec), label=_CODEC_LABELS.get(codec, codec))
            for p in groups[(size, clip)].get(AUTOENCODER_ONLY, [])[:1]:
                if p.get(m.key) is not None and math.isfinite(p[m.key]):
                    ax.axhline(p[m.key], ls="--", lw=1.2, color=_COLOURS[AUTOENCODER_ONLY],
                               label=_CODEC_LABELS[AUTOENCODER_ONLY])  # fmt: skip
            ax.set_title(f"{clip} {size}", fontsize=10)
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(m.label + ("" if m.higher_is_better else "  (lower is better)"))
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(with_data) :]:
            ax.set_visible(False)
        fig.suptitle(f"{model}: {m.label} vs rate")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        path = folder / f"rd_{m.key}.png"
        _atomic_write(path, buf.getvalue())
        written.append(path)
    return written


def _median(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    return statistics.median(vals) if vals else None


def _max(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return max(vals) if vals else None


BdMeans = dict[tuple[str, str, str, str], tuple[float | None, int, int]]


def _bd_section(doc: dict[str, Any], means: BdMeans) -> list[str]:
    lines: list[str] = []
    anchors = [a for a in doc["config"].get("anchors", []) if any(k[1] == a for k in means)]
    sizes = sorted({k[0] for k in means}, key=_size_key)
    metrics = [m for m in RD_METRICS if any(k[3] == m.key for k in means)]
    for anchor in anchors:
        lines += [f"## BD-rate vs {_CODEC_LABELS.get(anchor, anchor)}", "",
                  "Mean over clips, percent; negative = fewer bits than the anchor for the same quality "
                  "(for lower-is-better metrics too). (k/n): defined on k of n clips; n/a: undefined on every "
                  "clip (see bd_rate.csv).", ""]  # fmt: skip
        for size in sizes:
            codecs = sorted({k[2] for k in means if k[0] == size and k[1] == anchor}, key=_codec_key)
            if not codecs:
                continue
            lines += [f"### {size}", "", "| codec | " + " | ".join(m.label for m in metrics) + " |",
                      "|---" * (len(metrics) + 1) + "|"]  # fmt: skip
            for codec in codecs:
                cells = []
                for m in metrics:
                    mean, k, n = means.get((size, anchor, codec, m.key), (None, 0, 0))
                    if n == 0:
                        cells.append("-")
                    elif mean is None:
                        cells.append("n/a")
                    else:
                        cells.append(f"{mean:+.1f} %" + ("" if k == n else f" ({k}/{n})"))
                lines.append(f"| {_CODEC_LABELS.get(codec, codec)} | " + " | ".join(cells) + " |")
            lines.append("")
    return lines


_DIGITS = {"ms_ssim": 4, "lpips": 4, "dists": 4, "tof": 3}


def _ceiling_section(doc: dict[str, Any]) -> list[str]:
    """Mean over clips of the autoencoder-only ceiling, per size (per clip: in "Every point")."""
    ceiling = [p for p in doc["points"] if p["codec"] == AUTOENCODER_ONLY]
    if not ceiling:
        return []
    metrics = [m for m in RD_METRICS if any(p.get(m.key) is not None for p in ceiling)]
    lines = ["## Autoencoder-only ceiling", "",
             "The clips through the model's autoencoder alone (encode -> decode GOP by GOP as the encoder pads "
             "them; no latent coding, no refinement): what our plain decode would be with lossless latent coding. "
             "Mean over clips.", "",
             "| size | clips | " + " | ".join(m.label for m in metrics) + " |",
             "|---" * (len(metrics) + 2) + "|"]  # fmt: skip
    for size in sorted({p["size"] for p in ceiling}, key=_size_key):
        pts = [p for p in ceiling if p["size"] == size]
        cells = []
        for m in metrics:
            values = [float(p[m.key]) for p in pts if p.get(m.key) is not None and math.isfinite(p[m.key])]
            cells.append(_fmt(statistics.fmean(values) if values else None, _DIGITS.get(m.key, 2)))
        lines.append(f"| {size} | {len(pts)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _speed_section(doc: dict[str, Any]) -> list[str]:
    points = doc["points"]
    sizes = sorted({p["size"] for p in points}, key=_size_key)
    lines = ["## Speed and memory", "",
             "Our codec: median fps over clips and rate points, peak RSS the maximum (MiB, a fresh worker process "
             "holding Python, torch and the model; each encode/decode measured separately). Decode+refine is the "
             "whole decode with generative refinement; autoencoder only: its encoder and decoder alone. Baselines: "
             "wall-time fps of the final matched encode through ffmpeg (CPU seconds in points.csv).", "",
             "| size | codec | encode fps | decode fps | peak RSS encode | peak RSS decode | CUDA peak enc / dec |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for size in sizes:
        for codec in sorted({p["codec"] for p in points if p["size"] == size}, key=_codec_key):
            pts = [p for p in points if p["size"] == size and p["codec"] == codec]
            cuda = [_max(p.get("encode_cuda_peak_mb") for p in pts), _max(p.get("decode_cuda_peak_mb") for p in pts)]
            lines.append(
                f"| {size} | {_CODEC_LABELS.get(codec, codec)} | {_fmt(_median(p.get('encode_fps') for p in pts), 2)} "
                f"| {_fmt(_median(p.get('decode_fps') for p in pts), 2)} "
                f"| {_fmt(_max(p.get('encode_peak_rss_mb') for p in pts), 0)} "
                f"| {_fmt(_max(p.get('decode_peak_rss_mb') for p in pts), 0)} "
                f"| {'-' if cuda == [None, None] else f'{_fmt(cuda[0], 0)} / {_fmt(cuda[1], 0)}'} |"
            )
    model = doc.get("model") or {}
    if model:
        lines += ["", f"Model load {model.get('load_s', 0):.1f} s; RSS with the model loaded "
                  f"{model.get('rss_after_load_mb', 0):.0f} MiB (the floor under every phase)."]  # fmt: skip
    return [*lines, ""]


def _points_section(doc: dict[str, Any]) -> list[str]:
    lines = ["## Every point", "",
             "bpp from real bytes (none for the autoencoder-only ceiling: nothing is coded); a baseline's (±x %) is "
             "its distance from our bpp, **reason** when the match missed the tolerance. PSNR per frame then "
             "averaged; MS-SSIM 5-scale on RGB; WE = warping error on the source's DIS flow (0-255 squared; floor = "
             "the source's own); tOF in pixels.", ""]  # fmt: skip
    clip_info = {(c["size"], c["clip"]): c for c in doc.get("clips", [])}
    perceptual = [k for k in ("lpips", "dists") if any(p.get(k) is not None for p in doc["points"])]
    for (size, clip), codecs in sorted(_groups(doc["points"]).items(), key=lambda kv: (_size_key(kv[0][0]), kv[0][1])):
        info = clip_info.get((size, clip), {})
        lines += [f"### {clip} {size}", "",
                  f"{info.get('frames', '?')} frames; WE floor {_fmt(info.get('warping_error_floor'), 2)}; "
                  f"scene-cut pairs skipped: {info.get('cut_pairs', [])}.", "",
                  "| codec | rate | bpp | q | PSNR-YUV | PSNR-RGB | MS-SSIM | VMAF | WE | tOF | "
                  + "".join(f"{k.upper()} | " for k in perceptual),
                  "|---" * (10 + len(perceptual)) + "|"]  # fmt: skip
        for codec in sorted(codecs, key=_codec_key):
            for p in sorted(codecs[codec], key=lambda p: -1.0 if p["bpp"] is None else p["bpp"]):
                bpp = _fmt(p["bpp"], 4)
                if p.get("target_bpp"):
                    bpp += f" ({p['bpp'] / p['target_bpp'] - 1:+.0%})"
                    if not p.get("within_tol"):
                        bpp += f" **{p.get('miss_reason')}**"
                lines.append(
                    f"| {_CODEC_LABELS.get(codec, codec)} | {_fmt(p['rate'], 0)} | {bpp} | {_fmt(p.get('q'), 2)} "
                    f"| {_fmt(p.get('psnr_yuv'), 2)} | {_fmt(p.get('psnr_rgb'), 2)} | {_fmt(p.get('ms_ssim'), 4)} "
                    f"| {_fmt(p.get('vmaf'), 2)} | {_fmt(p.get('warping_error'), 2)} | {_fmt(p.get('tof'), 3)} | "
                    + "".join(f"{_fmt(p.get(k), 4)} | " for k in perceptual)
                )
        lines.append("")
    return lines


def summary_markdown(doc: dict[str, Any], bd_rows: Sequence[dict[str, Any]]) -> str:
    """The run's Markdown summary (see the module docstring)."""
    cfg, env, model = doc["config"], doc.get("environment", {}), doc.get("model") or {}
    gop = model.get("gop", cfg.get("gop"))
    preset = f", encoder preset {cfg['preset']}" if "preset" in cfg else ""  # runs before presets existed lack it
    lines = [
        f"# gnvc bench: {model.get('name', 'gnvc')} vs traditional codecs",
        "",
        f"Up to {cfg['frames']} frames per clip, sizes {', '.join(cfg['sizes'])}, GOP {gop}, low delay; baselines "
        f"({', '.join(cfg['codecs']) or 'none'}) matched to each of our bpp points within {cfg['tol']:.0%}. "
        f"Our codec on {model.get('device', '?')}{preset}; {env.get('cpu', '?')}, {env.get('cpus', '?')} CPUs, "
        f"torch {env.get('torch', '?')}; {env.get('ffmpeg', '?')}. "
        f"Started {doc.get('started')}, finished {doc.get('finished') or '(unfinished)'}; load average "
        f"{env.get('load_start')} at start, {env.get('load_end', '?')} at end.",
        "",
    ]
    lines += _bd_section(doc, bd_means(bd_rows))
    lines += _ceiling_section(doc)
    lines += _speed_section(doc)
    lines += _points_section(doc)
    if doc.get("failures"):
        lines += ["## Failures", "", "| clip | size | stage | error |", "|---|---|---|---|"]
        lines += [
            f"| {f['clip']} | {f['size']} | {f['stage']} | {f['error'].replace('|', '/')} |" for f in doc["failures"]
        ]
        lines.append("")
    if doc.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    return "\n".join(lines)


def write_report(run_dir: Path) -> list[Path]:
    """(Re)generate ``points.csv``, ``bd_rate.csv``, ``plots/rd_*.png`` and ``summary.md`` from ``results.json``.

    :returns: the files written.
    :raises ValueError: if ``run_dir`` holds no benchmark result.
    """
    run_dir = Path(run_dir)
    doc = load_results(run_dir)
    points = doc["points"]
    rows = bd_rates(points, doc["config"].get("anchors", []))
    written = []
    for name, data in (
        ("points.csv", _csv_bytes(points, _FIRST_COLUMNS)),
        ("bd_rate.csv", _csv_bytes(rows, ("size", "clip", "anchor", "codec", "metric", "bd_rate", "error"))),
        ("summary.md", summary_markdown(doc, rows).encode()),
    ):
        _atomic_write(run_dir / name, data)
        written.append(run_dir / name)
    written += plot_rd(doc, run_dir / "plots")
    logger.info("report: %s", ", ".join(p.name for p in written))
    return written
