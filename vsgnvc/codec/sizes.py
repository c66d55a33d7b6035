"""``--resize WxH`` parsing, apart from the resizing itself so the CLI can check it without importing torch."""

from __future__ import annotations

from ffmpeg_bridge.video import VideoInfo


def parse_size_spec(text: str) -> tuple[int, int]:
    """``"WxH"`` as two ints, ``-1`` for a side that keeps the aspect ratio; a clear ``ValueError`` otherwise."""
    try:
        w_text, h_text = text.lower().split("x")
        w, h = int(w_text), int(h_text)
    except ValueError:
        raise ValueError(f"size must look like 320x180 or 320x-1, got {text!r}") from None
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise ValueError(f"invalid size {text!r}")
    return w, h


def parse_size(text: str, info: VideoInfo) -> tuple[int, int]:
    """``"WxH"``; ``-1`` keeps the aspect ratio for that side (rounded to even)."""
    w, h = parse_size_spec(text)
    if w == -1:
        w = max(2, round(info.width * h / info.height / 2) * 2)
    if h == -1:
        h = max(2, round(info.height * w / info.width / 2) * 2)
    return w, h
