"""vsgnvc: a generative neural video codec (GNVC-VD) for VapourSynth, ffmpeg pipes and a preview GUI."""

from typing import Any

from ._version import __version__

# VapourSynth filters, imported on first use so `import vsgnvc` loads neither vapoursynth nor torch.
_VS_EXPORTS = ("decode", "encode", "enhance", "encode_clip")

__all__ = ["__version__", *_VS_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _VS_EXPORTS:
        from . import vs

        return getattr(vs, name)
    raise AttributeError(f"module 'vsgnvc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_VS_EXPORTS])
