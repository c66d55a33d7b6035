"""The benchmark's ``results.json``: its name, schema version and reader (written by :mod:`.bench`, read by
:mod:`.report` and by ``--resume``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RESULTS_NAME = "results.json"


def load_results(run_dir: Path) -> dict[str, Any]:
    """Read ``<run_dir>/results.json``.

    :raises ValueError: missing, unreadable or not a benchmark result.
    """
    path = Path(run_dir) / RESULTS_NAME
    if not path.is_file():
        raise ValueError(f"no {RESULTS_NAME} in {run_dir}")
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION or "points" not in doc:
        raise ValueError(f"{path}: not a gnvc bench result (schema {SCHEMA_VERSION})")
    return doc
