"""How long ``gnvc`` takes to answer when it has no work to do: argument and path errors, ``--help``, ``info``.

Usage::

    python benchmarks/bench_startup.py                   # 5 runs of each, median wall time
    python benchmarks/bench_startup.py --runs 9 --json startup.json

Every measurement is a fresh process of the installed ``gnvc`` entry point (what users run). Baselines in the
same run: a bare interpreter (``python -c pass``) and ``python -c "import torch"``, which the error paths
must not pay for. The report gives each command's median seconds and its ratio to the bare interpreter;
the pass criterion is that every error path stays below a third of the torch import.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GNVC = Path(sys.executable).with_name("gnvc")


def wall_seconds(cmd: list[str], runs: int) -> float:
    """Median wall time of ``runs`` fresh processes (exit status ignored: errors are what is measured)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cases(work: Path) -> dict[str, list[str]]:
    missing = str(work / "missing.mp4")
    real = str(work / "real.y4m")
    Path(real).write_bytes(b"YUV4MPEG2 W16 H16 F25:1 C420jpeg\n")
    gnvc = [str(GNVC)] if GNVC.exists() else [sys.executable, "-m", "vsgnvc.cli.main"]
    return {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "python -c 'import torch' (baseline)": [sys.executable, "-c", "import torch"],
        "gnvc --help": [*gnvc, "--help"],
        "gnvc encode MISSING out.gnvc": [*gnvc, "encode", missing, str(work / "out.gnvc")],
        "gnvc encode in.y4m out.gnvc --rate 99": [*gnvc, "encode", real, str(work / "out.gnvc"), "--rate", "99"],
        "gnvc decode MISSING -o out.y4m": [*gnvc, "decode", missing, "-o", str(work / "out.y4m")],
        "gnvc info MISSING": [*gnvc, "info", missing],
        "gnvc ffmpeg -version": [*gnvc, "ffmpeg", "-version"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: wall_seconds(cmd, args.runs) for name, cmd in cases(Path(tmp)).items()}
    bare = results["python -c pass (baseline)"]
    torch_s = results["python -c 'import torch' (baseline)"]
    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds:6.3f} s  {seconds / bare:5.1f}x bare python", file=sys.stderr)
    errors = {k: v for k, v in results.items() if k.startswith("gnvc") and "ffmpeg" not in k}
    ok = all(v < torch_s / 3 for v in errors.values())
    print(f"every error path < 1/3 of the torch import ({torch_s:.2f} s): {'PASS' if ok else 'FAIL'}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "median_s": results, "pass": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
