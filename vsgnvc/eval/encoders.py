"""The traditional baseline encoders and their exact ffmpeg settings.

All four run through the imageio-ffmpeg binary in a **low-delay** structure (no picture reordering):

========  ===========  ======================================================================  ==========
name      ffmpeg       settings                                                                 rate knob
========  ===========  ======================================================================  ==========
x264      libx264      ``-preset veryslow -bf 0``, keyint = GOP, no scene-cut I-frames          CRF 0-51
x265      libx265      ``-preset veryslow``, ``bframes=0``, keyint = GOP, ``info=0``            CRF 0-51
svtav1    libsvtav1    ``-preset 4``, ``pred-struct=1`` (SVT-AV1's low-delay structure)         CRF 1-63
vvenc     libvvenc     ``-preset medium``, ``GOPSize=8:PicReordering=0:DecodingRefreshType=none``
                       (VVenC's low-delay B), ``-qpa 0`` (no perceptual QPA, as the VTM anchor)  QP 0-63
========  ===========  ======================================================================  ==========

VVenC's low-delay mode refuses periodic refresh (``DecodingRefreshType`` must be ``none``), so GOPs are
made the same way for every encoder: the clip is cut into GOP-long segments, each segment is encoded
as its own closed stream starting with an intra frame, and the streams are concatenated (a valid
elementary stream for all four codecs; decoding is checked frame by frame).

Rate accounting: bytes are the size of the raw elementary stream (Annex-B for H.264/HEVC/VVC, low-overhead
OBUs for AV1) with the units a decoder does not need removed by ffmpeg's ``filter_units`` bitstream filter:
SEI and access-unit delimiters for H.26x (x264 writes ~600 bytes of settings text per segment, x265 ~2.4 kB),
metadata and padding OBUs for AV1. Parameter sets, start codes and AV1 temporal delimiters are counted.

Bit depth: x264, x265 and SVT-AV1 code 8 bits. libvvenc only takes ``yuv420p10le``; ffmpeg shifts the
8-bit input left by 2 and the decoded 10-bit output is mapped back with ``(v + 2) >> 2``.
VVenC pads sizes that are not multiples of 8 itself and signals a conformance window, so any even size works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderSpec:
    """How one baseline encoder is driven through ffmpeg.

    :param name: short name (``"x264"``).
    :param library: ffmpeg encoder (``"libx264"``).
    :param muxer: ffmpeg muxer writing the raw elementary stream.
    :param suffix: file suffix of that stream.
    :param q_flag: option of the quality knob (``"-crf"`` or ``"-qp"``); higher means fewer bits.
    :param q_min: lowest (best quality) knob value searched.
    :param q_max: highest (fewest bits) knob value; the encoder's floor.
    :param fractional: whether the knob accepts non-integer values.
    :param pix_fmt: pixel format handed to the encoder.
    :param strip_units: ``filter_units`` ``remove_types`` value (NAL/OBU types that carry no picture data).
    :param options: further ffmpeg options; ``{gop}`` and ``{intra_period}`` are substituted.
    """

    name: str
    library: str
    muxer: str
    suffix: str
    q_flag: str
    q_min: int
    q_max: int
    fractional: bool
    pix_fmt: str
    strip_units: str
    options: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.q_min >= self.q_max:
            raise ValueError(f"{self.name}: q_min must be < q_max")

    def format_q(self, q: float) -> str:
        """The knob value as passed on the command line (integer unless fractional)."""
        if not self.q_min <= q <= self.q_max:
            raise ValueError(f"{self.name}: {self.q_flag} must be in [{self.q_min}, {self.q_max}], got {q}")
        if not self.fractional:
            if q != int(q):
                raise ValueError(f"{self.name}: {self.q_flag} must be an integer, got {q}")
            return str(int(q))
        return f"{q:.3f}".rstrip("0").rstrip(".")

    def args(self, q: float, gop: int) -> list[str]:
        """Encoder arguments (after ``-i``, before the output) for knob ``q`` and GOP length ``gop``."""
        intra_period = -(-gop // 8) * 8  # multiple of VVenC's GOPSize, never inside a segment
        opts = [o.format(gop=gop, intra_period=intra_period) for o in self.options]
        out = ["-c:v", self.library, *opts, self.q_flag, self.format_q(q), "-pix_fmt", self.pix_fmt]
        if self.strip_units:
            out += ["-bsf:v", f"filter_units=remove_types={self.strip_units}"]
        return out


ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in (
        EncoderSpec(
            name="x264",
            library="libx264",
            muxer="h264",
            suffix=".264",
            q_flag="-crf",
            q_min=0,
            q_max=51,
            fractional=True,
            pix_fmt="yuv420p",
            strip_units="6|9",  # SEI, AUD
            options=("-preset", "veryslow", "-bf", "0", "-g", "{gop}", "-keyint_min", "{gop}", "-sc_threshold", "0"),
        ),
        EncoderSpec(
            name="x265",
            library="libx265",
            muxer="hevc",
            suffix=".265",
            q_flag="-crf",
            q_min=0,
            q_max=51,
            fractional=True,
            pix_fmt="yuv420p",
            strip_units="35|39|40",  # AUD, prefix SEI, suffix SEI
            options=(
                "-preset",
                "veryslow",
                "-x265-params",
                "bframes=0:keyint={gop}:min-keyint={gop}:scenecut=0:info=0:log-level=error",
            ),
        ),
        EncoderSpec(
            name="svtav1",
            library="libsvtav1",
            muxer="obu",
            suffix=".obu",
            q_flag="-crf",
            q_min=1,
            q_max=63,
            fractional=False,
            pix_fmt="yuv420p",
            strip_units="5|15",  # metadata, padding
            options=("-preset", "4", "-g", "{gop}", "-svtav1-params", "pred-struct=1"),
        ),
        EncoderSpec(
            name="vvenc",
            library="libvvenc",
            muxer="vvc",
            suffix=".266",
            q_flag="-qp",
            q_min=0,
            q_max=63,
            fractional=False,
            pix_fmt="yuv420p10le",
            strip_units="20|23|24",  # AUD, prefix SEI, suffix SEI
            options=(
                "-preset",
                "medium",
                "-qpa",
                "0",
                "-vvenc-params",
                "GOPSize=8:PicReordering=0:DecodingRefreshType=none:IntraPeriod={intra_period}",
            ),
        ),
    )
}
"""The four baselines by name: ``x264``, ``x265``, ``svtav1``, ``vvenc``."""


def get_encoder(encoder: str | EncoderSpec) -> EncoderSpec:
    """Look up a baseline by name (or pass a spec through).

    :raises ValueError: for an unknown name.
    """
    if isinstance(encoder, EncoderSpec):
        return encoder
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
    return ENCODERS[encoder]
