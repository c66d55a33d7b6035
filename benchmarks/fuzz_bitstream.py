"""Fuzz the ``.gnvc`` reader: 10,000 seeded mutations of valid files, counted per outcome.

Usage::

    python benchmarks/fuzz_bitstream.py                       # synthetic files
    python benchmarks/fuzz_bitstream.py a.gnvc b.gnvc --cases 20000 --json fuzz.json

Every case mutates one input (see ``tests.support.fuzz_bitstream``) and reads the result completely. A clean
read or ``GNVCFormatError`` is fine; any other exception or a case slower than ``--time-limit``
is a reader bug, saved under ``--save-bugs`` and reflected in the exit status. The report goes
to stderr (and to ``--json``); stdout stays empty.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vsgnvc.bitstream import GopRecord, PixelFormatCode, RefineSettings, SequenceHeader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed
from tests.support.fuzz_bitstream import run_fuzz, synthetic_files, write_synthetic
from vsgnvc.bitstream.gop import grid_spans

logger = logging.getLogger("fuzz_bitstream")

# the GNVC-VD test protocol: 96 frames of 1080p in GOPs of 25/25/25/21 frames
PAPER_FRAMES = 96
PAPER_GOP = 25
WAN_TEMPORAL_STRIDE = 4  # Wan2.1 VAE: 1 + T/4 latent frames for 1 + T video frames
PAPER_BPP = 0.02
Z_FRACTION = 0.05  # share of the bits spent on the hyperprior string


def paper_protocol_file(path: Path, seed: int) -> Path:
    """A 1080p, 96-frame stream at about 0.02 bpp with random (incompressible) strings."""
    rng = random.Random(seed)
    header = SequenceHeader(
        width=1920, height=1080, coded_width=1920, coded_height=1088, fps_num=50, fps_den=1,
        num_frames=PAPER_FRAMES, pix_fmt=PixelFormatCode.YUV420P8, color_range=0, matrix=1, transfer=1,
        primaries=1, gop_size=PAPER_GOP, rate_index=2, model_name="gnvc-vd-synthetic",
        weights_hash=rng.randbytes(16), refine=RefineSettings(seed=seed), encoder="fuzz_bitstream",
    )  # fmt: skip
    frame_bytes = int(header.width * header.height * PAPER_BPP / 8)
    gops = []
    for k, frames in enumerate(grid_spans(header.num_frames, header.gop_size)):
        latents = 1 + (len(frames) - 1) // WAN_TEMPORAL_STRIDE
        per_latent = frame_bytes * len(frames) // latents
        strings = tuple(
            (rng.randbytes(int(per_latent * (1 - Z_FRACTION))), rng.randbytes(int(per_latent * Z_FRACTION)))
            for _ in range(latents)
        )
        gops.append(GopRecord(k, frames.start, len(frames), k == 0, strings))
    return write_synthetic(path, header, gops)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="valid .gnvc files to mutate (default: synthetic)")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=1.0, help="seconds per case")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--save-bugs", type=Path, help="directory for the inputs of bug cases")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="gnvc-fuzz-") as tmp:
        work = Path(tmp)
        paths = list(args.files) or [*synthetic_files(work, args.seed), paper_protocol_file(work / "paper.gnvc", 1)]
        inputs = [p.read_bytes() for p in paths]
        for p, data in zip(paths, inputs, strict=True):
            logger.info("input %s: %d bytes", p.name, len(data))
        start = time.perf_counter()
        report = run_fuzz(inputs, args.cases, seed=args.seed, scratch=work / "case.gnvc", time_limit=args.time_limit)
        elapsed = time.perf_counter() - start

    logger.info("%d cases in %.1f s (%.2f ms per case)", report.cases, elapsed, 1e3 * elapsed / max(report.cases, 1))
    report.log_summary(logger)
    if args.save_bugs:
        report.save_bugs(args.save_bugs)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "inputs": [str(p) for p in args.files] or "synthetic",
                    "seed": args.seed,
                    "seconds": elapsed,
                    **report.counts(),
                },
                indent=2,
            )
        )
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
