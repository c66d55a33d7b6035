"""``vsgnvc.api.open_input``: every input kind behind one call (the bridge's own ``open_source`` reads no ``.gnvc``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffmpeg_bridge import SourceError, open_source
from vsgnvc.api import open_input
from vsgnvc.bitstream import GNVCFormatError


def test_gnvc_vpy_y4m_and_video_inputs(small_clip_y4m: Path, bikes_clip: Path, tmp_path: Path) -> None:
    gnvc = tmp_path / "clip.gnvc"
    gnvc.write_bytes(b"GNVC" + bytes(60))
    with pytest.raises(SourceError, match="as video"):
        open_source(gnvc)
    with pytest.raises(GNVCFormatError):  # read by the .gnvc reader
        open_input(gnvc)
    script = tmp_path / "src.vpy"
    script.write_text(f"from vsgnvc.vs import load_video\nload_video({str(small_clip_y4m)!r}).set_output()\n")
    via_script = open_input(script, max_frames=4, resize="48x20")
    via_y4m = open_input(small_clip_y4m, max_frames=4, resize="48x20")
    shape = [(i.width, i.height, i.pix_fmt) for i in (via_script[0], via_y4m[0])]
    assert shape[0] == shape[1] == (48, 20, via_y4m[0].pix_fmt) and via_script[0].num_frames == 4
    for a, b in zip(via_script[1], via_y4m[1], strict=True):
        assert all((p == q).all() for p, q in zip(a, b, strict=True))
    info, frames = open_input(bikes_clip, max_frames=2)
    assert (info.width, info.num_frames, len(list(frames))) == (640, 2, 2)
    with pytest.raises(SourceError, match="does not exist"):
        open_input(tmp_path / "missing.gnvc")
