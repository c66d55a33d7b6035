"""Checks of ``gnvc``'s arguments that need neither torch nor a model.

They run before any heavy import, so a typo, a missing file or an output that would be overwritten is
reported at once (torch and the model take seconds to load). Every failure is a ``ValueError`` or an
``OSError`` whose message names the argument or path; ``main`` prints it as one ``gnvc: error:`` line.
The library checks the same things again where it does the work.
"""

from __future__ import annotations

from pathlib import Path

from ..codec.presets import SymbolSearch, preset_search
from ..models.index import INDEX_NAME, ModelIndex, default_model_path


def input_file(path: str | Path) -> None:
    """An input that must be a readable file (``-``, stdin, is left to the reader)."""
    if str(path) == "-":
        return
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"input file {p} does not exist")
    if not p.is_file():
        raise IsADirectoryError(f"input {p} is not a file")


def output_file(path: str | Path, overwrite: bool) -> None:
    """A file this program writes itself (temporary name, then rename): its folder must exist, and an
    existing file is kept unless ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"output {p} is a folder")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; pass --overwrite to replace it")
    if not p.parent.is_dir():
        raise FileNotFoundError(f"output folder {p.parent} does not exist")


def preset(name: str) -> SymbolSearch:
    """The ``--preset``'s symbol search."""
    try:
        return preset_search(name)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None


def model_folder(path: Path | None) -> Path:
    """The ``--model`` folder, or the shipped default; it must hold a ``model_index.json``."""
    folder = default_model_path() if path is None else path
    if not (folder / INDEX_NAME).is_file():
        if path is None:
            raise FileNotFoundError(f"the default model is not installed at {folder}; pass --model")
        raise FileNotFoundError(f"--model {folder} is not a vsgnvc model folder (no {INDEX_NAME})")
    return folder


def external_folder(flag: str, path: Path | None) -> None:
    """``--vae``/``--prior``: a diffusers-format folder, when given."""
    if path is not None and not path.is_dir():
        raise FileNotFoundError(f"{flag} {path} is not a folder")


def _index(folder: Path) -> ModelIndex:
    """The model's index, read without loading the model."""
    try:
        return ModelIndex.load(folder / INDEX_NAME)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read {folder / INDEX_NAME}: {exc}") from None


def rate(value: int | None, folder: Path) -> None:
    """``--rate`` must name one of the model's rate points."""
    if value is None:
        return
    count = len(_index(folder).rates)
    if not 0 <= value < count:
        raise ValueError(f"--rate must be in 0..{count - 1} for this model, got {value}")


def at_least(flag: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise ValueError(f"{flag} must be >= {minimum}, got {value}")


def gop_size(value: int | None, folder: Path) -> None:
    """``--gop`` must cover whole latent frames of the model (``ModelIndex.check_gop_size``)."""
    if value is not None:
        _index(folder).check_gop_size(value)


def strength(value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ValueError(f"--strength must be in (0, 1), got {value}")
