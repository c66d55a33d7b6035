"""Convert codec weights saved with compressai's entropy layers (bitstream format 1) to vsgnvc's own, or set
a codec's coding options.

The learned parameters keep their names and values; compressai's CDF buffers are dropped and the
integer coding tables are built once, here, and stored, so every machine that loads the converted
weights codes with the same tables. Usage: ``python -m vsgnvc.models.convert MODEL_OR_CODEC_FOLDER...``;
``--inter-step-scale S`` (inter steps S x the intra ones), ``--motion-block B`` (motion compensation with one
vector per B x B latent cell, 0 for none) and ``--motion-search R`` rewrite the codec's coding options (new
streams only: streams written before decode with the codec they were written with).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import load_file, save_file

from .io import is_compressai_state, load_state_dict_resizing
from .latent_codec import WEIGHTS_NAME, ContextualLatentCodec


def codec_folder(folder: Path) -> Path:
    """``folder`` itself or its ``codec/`` subfolder (a whole model), whichever holds codec weights."""
    for candidate in (folder, folder / "codec"):
        if (candidate / WEIGHTS_NAME).is_file() and (candidate / ContextualLatentCodec.config_name).is_file():
            return candidate
    raise FileNotFoundError(f"{folder}: no codec weights ({WEIGHTS_NAME} and {ContextualLatentCodec.config_name})")


def convert_codec_weights(folder: Path) -> bool:
    """Rewrite ``folder``'s codec weights in place (atomically); False if they were already converted."""
    folder = codec_folder(Path(folder))
    path = folder / WEIGHTS_NAME
    state = load_file(str(path))
    if not is_compressai_state(state):
        return False
    model = ContextualLatentCodec.from_config(json.loads((folder / ContextualLatentCodec.config_name).read_text()))
    load_state_dict_resizing(model, state)
    model.entropy_bottleneck.update()
    model.gaussian_conditional.update()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)
        os.chmod(tmp, path.stat().st_mode & 0o777)  # mkstemp made it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def set_coding_options(folder: Path, **options: float) -> Path:
    """Rewrite ``folder``'s codec (config and weights) with other coding options
    (:data:`ContextualLatentCodec.CODING_OPTIONS`); the old folder is replaced only once the new one is complete."""
    folder = codec_folder(Path(folder))
    codec = ContextualLatentCodec.from_pretrained(folder).with_coding_options(**options)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        codec.save_pretrained(tmp)
        for extra in folder.iterdir():  # licence texts, notes
            if not (tmp / extra.name).exists():
                shutil.copy2(extra, tmp / extra.name)
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsgnvc.models.convert", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="model folder (with codec/) or codec folder")
    parser.add_argument("--inter-step-scale", type=float, help="set the codec's inter steps to this x the intra ones")
    parser.add_argument("--motion-block", type=int, help="motion compensation, one vector per this many latent pixels square (0: none)")
    parser.add_argument("--motion-search", type=int, help="the motion search range in latent pixels")
    parser.add_argument("--pixel-copy-block", type=int, help="copy blocks of this many pixels square in inter frames (0: none)")
    parser.add_argument("--pixel-copy-search", type=int, help="the copy vectors' range in pixels")
    args = parser.parse_args(argv)
    options = {name: getattr(args, name) for name in ContextualLatentCodec.CODING_OPTIONS if getattr(args, name) is not None}
    for folder in args.folders:
        try:
            if options:
                done = set_coding_options(folder, **options)
                print(f"{done}: " + ", ".join(f"{k} = {v}" for k, v in options.items()))
                continue
            done = convert_codec_weights(folder)
        except (OSError, ValueError, RuntimeError) as exc:
            parser.exit(1, f"vsgnvc convert: {exc}\n")
        print(f"{codec_folder(folder)}: {'converted' if done else 'already in the current format'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
