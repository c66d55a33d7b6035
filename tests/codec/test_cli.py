"""Bad input to ``gnvc`` ends in one line on stderr and a non-zero exit."""

import subprocess
import sys

import pytest


def gnvc(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vsgnvc.cli.main", *args], capture_output=True, text=True, **kw)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["info", "/nonexistent.gnvc"], "nonexistent"),
        (["encode", "/nonexistent.mp4", "/tmp/x.gnvc"], "nonexistent"),
        (["encode", "-", "/tmp/x.gnvc", "--gop", "10"], "1 + 4k"),
    ],
)
def test_bad_input_is_one_line(args, needle, tiny_model_dir):
    if args[0] == "encode":
        args = [*args, "--model", str(tiny_model_dir)]
    proc = gnvc(*args, input="")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("gnvc: error:") and needle in lines[-1]
    assert "Traceback" not in proc.stderr


def test_not_a_gnvc_file(tmp_path):
    junk = tmp_path / "junk.gnvc"
    junk.write_bytes(b"not a gnvc file at all" * 10)
    proc = gnvc("info", str(junk))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "gnvc: error:" in proc.stderr


def test_existing_output_is_not_overwritten(tmp_path, small_clip_y4m, tiny_model_dir):
    out = tmp_path / "exists.gnvc"
    out.write_bytes(b"precious")
    proc = gnvc("encode", str(small_clip_y4m), str(out), "--model", str(tiny_model_dir))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert out.read_bytes() == b"precious"


def test_info_reports_gops(tmp_path, small_clip_y4m, tiny_model_dir):
    out = tmp_path / "a.gnvc"
    assert gnvc("-q", "encode", str(small_clip_y4m), str(out), "--model", str(tiny_model_dir)).returncode == 0
    proc = gnvc("info", str(out))
    assert proc.returncode == 0 and "96x40" in proc.stdout and "13 frames" in proc.stdout
    import json

    data = json.loads(gnvc("info", "--json", str(out)).stdout)
    assert data["frames"] == 13 and len(data["gops"]) == 2


def test_encode_from_vpy_script(tmp_path, small_clip_y4m, tiny_model_dir):
    script = tmp_path / "src.vpy"
    script.write_text(
        "from vsgnvc.vs import load_video\n"
        f"load_video({str(small_clip_y4m)!r}, max_frames=6).set_output()\n"
    )
    out = tmp_path / "s.gnvc"
    proc = gnvc("-q", "encode", str(script), str(out), "--model", str(tiny_model_dir))
    assert proc.returncode == 0, proc.stderr
    import json

    data = json.loads(gnvc("info", "--json", str(out)).stdout)
    assert (data["frames"], data["width"], data["height"]) == (6, 96, 40)


def test_colour_overrides_reach_the_header(tmp_path, small_clip_y4m, tiny_model_dir):
    # y4m carries only the range: the flags describe what the source really is.
    out = tmp_path / "c.gnvc"
    args = ["-q", "encode", str(small_clip_y4m), str(out), "--model", str(tiny_model_dir), "--frames", "5"]
    proc = gnvc(*args, "--matrix", "bt2020nc", "--transfer", "16", "--primaries", "bt2020", "--range", "full")
    assert proc.returncode == 0, proc.stderr
    from vsgnvc.bitstream import GnvcReader

    with GnvcReader(out) as reader:
        h = reader.header
    assert (h.matrix, h.transfer, h.primaries, h.color_range) == (9, 16, 9, 1)
    bad = gnvc(*args, "--matrix", "nonsense", "--overwrite")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("gnvc: error: --matrix 'nonsense'")
