"""The ``.gnvc`` container: pure byte I/O for vsgnvc streams (no torch, no other vsgnvc package).

A file is a preamble (magic, version), a CRC-protected sequence header, one CRC-protected chunk per
GOP holding the entropy-coded strings of its latent frames, an index of chunk offsets and a
fixed-size trailer pointing at the index. ``docs/bitstream.md`` specifies every byte.

Write with :class:`GnvcWriter`, read with :class:`GnvcReader`; anything wrong in a file raises
:class:`GNVCFormatError` and nothing else, unless the reader salvages (``GnvcReader(path, salvage=True)``):
it then keeps the complete GOPs and describes the rest in a :class:`Damage`.
"""

from vsgnvc.bitstream.container import Damage, GnvcReader, GnvcWriter, read_header
from vsgnvc.bitstream.errors import GNVCFormatError
from vsgnvc.bitstream.gop import GopRecord
from vsgnvc.bitstream.header import PixelFormatCode, RefineSettings, SequenceHeader
from vsgnvc.bitstream.layout import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "Damage",
    "GNVCFormatError",
    "GnvcReader",
    "GnvcWriter",
    "GopRecord",
    "PixelFormatCode",
    "RefineSettings",
    "SequenceHeader",
    "read_header",
]
