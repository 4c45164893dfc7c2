"""Locate the project's data directories (panels, schemas) from an installed package.

The editable install (``make run``/``make test``) keeps ``src/cytomics`` inside the checkout,
so the checkout root is found by walking up to the directory holding ``Snakefile``.
``CYTOMICS_HOME`` overrides the search (e.g. a lab's deployment directory).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


@cache
def project_root() -> Path | None:
    """Directory holding ``Snakefile``, ``panels/`` and ``workflow/``, or ``None``."""
    env = os.environ.get("CYTOMICS_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Snakefile").is_file() and (parent / "workflow" / "schemas").is_dir():
            return parent
    return None


def schema_path(name: str) -> Path:
    """Path of ``workflow/schemas/<name>``.

    Raises
    ------
    FileNotFoundError
        When the project directory cannot be found (installation problem, not bad input).
    """
    root = project_root()
    if root is None:
        raise FileNotFoundError(
            "cytomics project directory not found; set CYTOMICS_HOME to the checkout"
        )
    return root / "workflow" / "schemas" / name
