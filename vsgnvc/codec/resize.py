"""Resize a frame stream (area/bilinear with antialiasing) before encoding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch.nn.functional as F

from ffmpeg_bridge.video import Frame, VideoInfo

from .color import rgb_to_yuv, yuv_to_rgb


def parse_size(text: str, info: VideoInfo) -> tuple[int, int]:
    """``"WxH"``; ``-1`` keeps the aspect ratio for that side (rounded to even)."""
    try:
        w_text, h_text = text.lower().split("x")
        w, h = int(w_text), int(h_text)
    except ValueError:
        raise ValueError(f"size must look like 320x180 or 320x-1, got {text!r}") from None
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise ValueError(f"invalid size {text!r}")
    if w == -1:
        w = max(2, round(info.width * h / info.height / 2) * 2)
    if h == -1:
        h = max(2, round(info.height * w / info.width / 2) * 2)
    return w, h


def resize_stream(info: VideoInfo, frames: Iterator[Frame], width: int, height: int) -> tuple[VideoInfo, Iterator[Frame]]:
    if (width, height) == (info.width, info.height):
        return info, frames
    out = replace(info, width=width, height=height)

    def gen() -> Iterator[Frame]:
        for frame in frames:
            rgb = yuv_to_rgb(frame, info.pix_fmt, info.color_range, info.matrix)
            rgb = F.interpolate(rgb[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)
            yield rgb_to_yuv(rgb[0].clamp(-1, 1), out.pix_fmt, out.color_range, out.matrix)

    return out, gen()


def limit_frames(frames: Iterator[Frame], count: int | None) -> Iterator[Frame]:
    for i, frame in enumerate(frames):
        if count is not None and i >= count:
            return
        yield frame


__all__ = ["limit_frames", "parse_size", "resize_stream"]
