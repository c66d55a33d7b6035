"""VapourSynth filters for GNVC-VD: ``decode``, ``encode``, ``enhance``, plus ``encode_clip``.

::

    import vsgnvc
    clip = vsgnvc.decode("movie.gnvc")                 # a source filter
    rec = vsgnvc.encode(src, "movie.gnvc")             # writes the file as frames are rendered
    better = vsgnvc.enhance(low_bitrate_clip, 0.3)     # refinement of any clip

Clips: YUV420P8, YUV420P10, YUV444P8, YUV444P10, RGB24, RGBS (see ``vsgnvc.vs.frames``). Bad input
raises ``vs.Error("gnvc.<func>: ...")`` before any model is loaded. Logs go to the ``vsgnvc`` logger
(stderr when configured); stdout is never written.
"""

from .decode import decode
from .encode import encode, encode_clip
from .enhance import enhance
from .script import load_script, open_vpy
from .source import from_frames, load_video

__all__ = ["decode", "encode", "encode_clip", "enhance", "from_frames", "load_script", "load_video", "open_vpy"]
