"""Decode a ``.gnvc`` file in a fresh Python process: bit-exactness across processes and thread counts."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

_DECODE = (
    "import sys, torch\n"
    "torch.set_num_threads(int(sys.argv[3]))\n"
    "from vsgnvc.codec.decoder import Decoder\n"
    "from vsgnvc.models.bundle import GnvcModel\n"
    "from tests.support.other_process import frames_digest\n"
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
