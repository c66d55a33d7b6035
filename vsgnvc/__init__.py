"""vsgnvc: a generative neural video codec (GNVC-VD) for VapourSynth, ffmpeg pipes and a preview GUI."""

__version__ = "0.1.0"
