"""The benchmark's ``results.json``: its name, schema version and reader (written by :mod:`.bench`, read by
:mod:`.report` and by ``--resume``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
"""2: the autoencoder-only ceiling (rows of codec :data:`AUTOENCODER_ONLY`, config ``ceiling``)."""
RESULTS_NAME = "results.json"
READABLE_SCHEMAS = (1, SCHEMA_VERSION)
"""Version 1 differs only by having no ceiling; it is read as version 2 with ``ceiling`` off."""

AUTOENCODER_ONLY = "gnvc-autoencoder"
"""Codec name of the autoencoder-only ceiling's rows: frames through the model's autoencoder alone, nothing coded,
so their ``rate``, ``bpp`` and ``bytes`` are ``None``."""


def load_results(run_dir: Path) -> dict[str, Any]:
    """Read ``<run_dir>/results.json`` (an older readable schema comes back as the current one).

    :raises ValueError: missing, unreadable or not a benchmark result.
    """
    path = Path(run_dir) / RESULTS_NAME
    if not path.is_file():
        raise ValueError(f"no {RESULTS_NAME} in {run_dir}")
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE_SCHEMAS or "points" not in doc:
        raise ValueError(f"{path}: not a gnvc bench result (schema {', '.join(map(str, READABLE_SCHEMAS))})")
    if doc["schema"] == 1:
        doc["config"] = {**doc.get("config", {}), "ceiling": False}
        doc["schema"] = SCHEMA_VERSION
    return doc
