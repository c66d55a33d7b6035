"""Paths that ``vspipe -a name=PATH`` hands a script, read as the user meant them.

vspipe runs a script with the working directory set to the script's folder (``os.chdir`` to the folder of
the script path as typed), so inside ``examples/decode.vpy`` a relative ``-a src=out/demo/clip.gnvc`` would
be looked up under ``examples/``. :func:`path_arg` resolves it against the folder vspipe was started
from, the way every other command-line tool reads a relative path::

    from vsgnvc.vs.script_args import path_arg

    args = globals()
    clip = vsgnvc.decode(path_arg(args, "src", required="the .gnvc to decode"))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import vapoursynth as vs


def _same_dir(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def invocation_dir(script: str | None) -> Path:
    """The folder the script's runner was started from, given the script's ``__file__`` as the runner got it.

    vspipe changed into ``dirname(script)``, relative to where it started. With a relative script path that
    start is the folder ``D`` for which ``D/dirname(script)`` is the current folder: the shell's ``PWD`` when
    it fits, else the current folder with as many trailing parts dropped. With an absolute script path
    nothing in the path tells, and the shell's ``PWD`` is used. Hosts that do not change folders
    (``gnvc encode x.vpy``, the previewer) leave the current folder as it was, and it is returned.
    """
    here = Path.cwd()
    script_dir = os.path.dirname(script or "")
    if script_dir in ("", "."):
        return here
    pwd = os.environ.get("PWD", "")
    if os.path.isabs(script_dir):
        moved = _same_dir(here, script_dir)
        return Path(pwd) if moved and pwd and os.path.isdir(pwd) else here
    candidates = [pwd] if pwd else []
    depth = len(Path(script_dir).parts)
    if ".." not in Path(script_dir).parts and depth <= len(here.parents):
        candidates.append(str(here.parents[depth - 1]))
    for start in candidates:
        if os.path.isdir(start) and _same_dir(os.path.join(start, script_dir), here):
            return Path(start)
    return here


def path_arg(args: Mapping[str, object], name: str, *, required: str | None = None) -> Path | None:
    """The ``-a name=PATH`` argument of a script as an absolute path, relative ones taken from
    :func:`invocation_dir`.

    :param args: the script's ``globals()`` (vspipe puts ``-a`` arguments there).
    :param required: what the argument is (e.g. ``"the .gnvc to decode"``); when given, a missing argument
        raises ``vs.Error`` saying how to pass it. Without it a missing argument gives ``None``.
    """
    value = args.get(name)
    script = str(args.get("__file__") or "")
    if value is None or value == "":
        if required is None:
            return None
        raise vs.Error(f"{os.path.basename(script) or 'script'}: give {required} with -a {name}=PATH")
    path = Path(os.fsdecode(value) if isinstance(value, (bytes, os.PathLike)) else str(value)).expanduser()
    return path if path.is_absolute() else invocation_dir(script) / path
