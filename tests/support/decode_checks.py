"""Checks that a ``.gnvc`` file decodes to exactly what was meant: the encoder's reconstruction, and the same
frames in a fresh process or with another thread count."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_DECODE = (
    "import sys, torch\n"
    "torch.set_num_threads(int(sys.argv[3]))\n"
    "from vsgnvc.codec.decoder import Decoder\n"
    "from vsgnvc.models.bundle import GnvcModel\n"
    "from tests.support.decode_checks import frames_digest\n"
    "with Decoder(sys.argv[1], GnvcModel.from_pretrained(sys.argv[2]), 'cpu') as d:\n"
    "    print(frames_digest(d.frames()))\n"
)


def frames_digest(frames: Iterable) -> str:
    """SHA-256 of every plane of every frame, in order."""
    digest = hashlib.sha256()
    for frame in frames:
        for plane in frame:
            digest.update(plane.tobytes())
    return digest.hexdigest()


def decode_digest_in_subprocess(path: Path, model_dir: Path, threads: int = 1) -> str:
    """:func:`frames_digest` of ``path`` decoded by ``model_dir`` in another interpreter with ``threads`` threads."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _DECODE, str(path), str(model_dir), str(threads)],
        capture_output=True, text=True, check=True, cwd=root,
    )  # fmt: skip
    return out.stdout.strip()


def assert_decodes_to_reconstruction(path: Path, model: object, recon: list) -> None:
    """Every GOP of ``path`` decodes (plain) to the encoder's reconstruction ``recon[gop][frame]``, bit for bit."""
    from vsgnvc.codec.decoder import Decoder

    with Decoder(path, model, "cpu") as dec:  # type: ignore[arg-type]
        for k in range(dec.num_gops):
            for a, b in zip(recon[k], dec.gop_frames(k, refine=False), strict=True):
                assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
