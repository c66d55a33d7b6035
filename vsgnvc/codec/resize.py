"""Resize a frame stream (area/bilinear with antialiasing) before encoding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch.nn.functional as F

from ffmpeg_bridge.video import Frame, VideoInfo

from .color import rgb_to_yuv, yuv_to_rgb
from .sizes import parse_size


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
