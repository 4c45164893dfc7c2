"""Locate the project's data directories (tube panels, JSON schemas) from the installed package.

This is the one place that knows where ``panels/`` and ``workflow/schemas/`` live.

Data roots, searched in order for ``panels/`` and ``workflow/schemas/``:

1. the project root (:func:`project_root`), see below;
2. the installed data directory ``<prefix>/share/cytomics`` (:func:`installed_data_dir`): a
   non-editable install (``pip install .`` or a wheel) copies ``panels/*.yaml`` and
   ``workflow/schemas/*.yaml`` there (``[tool.setuptools.data-files]`` in pyproject.toml).

Project root (:func:`project_root`):

1. ``$CYTOMICS_HOME`` (a lab's deployment directory or a checkout), when set;
2. else the checkout holding this module: the first parent directory with a ``Snakefile`` and
   ``workflow/schemas/`` (editable installs: ``make run``, ``make test``, the CLI run anywhere).

Panels directory (:func:`panels_dir`), first that applies:

1. ``$CYTOMICS_PANELS_DIR`` (a lab's own directory of tube YAMLs; must be a directory);
2. ``panels/`` under the project root (so ``$CYTOMICS_HOME/panels`` when that is set);
3. ``panels/`` under the installed data directory.

Schemas (:func:`schema_path`): ``workflow/schemas/<name>`` under the first data root holding it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from functools import cache
from pathlib import Path

from cytomics.errors import PanelError

__all__ = ["installed_data_dir", "panels_dir", "project_root", "schema_path"]

#: environment variable naming the project (deployment) directory.
HOME_ENV = "CYTOMICS_HOME"
#: environment variable naming a directory of tube YAMLs (overrides the project's ``panels/``).
PANELS_ENV = "CYTOMICS_PANELS_DIR"


@cache
def _checkout_root() -> Path | None:
    """The checkout this module lives in (editable install), or ``None``."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "Snakefile").is_file() and (parent / "workflow" / "schemas").is_dir():
            return parent
    return None


def project_root() -> Path | None:
    """Directory holding ``Snakefile``, ``panels/`` and ``workflow/``, or ``None``.

    ``$CYTOMICS_HOME`` is read on every call (not cached), so a changed environment is honoured.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return _checkout_root()


def _install_data_prefixes() -> list[Path]:
    """Where pip puts a wheel's data files: the environment's prefix, then the user base."""
    prefixes = [Path(sysconfig.get_path("data")), Path(sys.prefix)]
    try:
        prefixes.append(Path(sysconfig.get_path("data", sysconfig.get_preferred_scheme("user"))))
    except KeyError:  # no user scheme on this platform
        pass
    return list(dict.fromkeys(prefixes))


@cache
def installed_data_dir() -> Path | None:
    """``<prefix>/share/cytomics`` of a non-editable install, or ``None`` when absent.

    ``<prefix>`` is where pip installs a wheel's data files: ``sysconfig``'s ``data`` path of
    the running interpreter (``sys.prefix``, the virtualenv) or of the user scheme
    (``pip install --user``). Other layouts (``--prefix``, ``--target``) need ``$CYTOMICS_HOME``.
    """
    for prefix in _install_data_prefixes():
        path = prefix / "share" / "cytomics"
        if path.is_dir():
            return path
    return None


def _data_roots() -> list[Path]:
    """Directories searched, in order, for ``panels/`` and ``workflow/schemas/``."""
    return [r for r in (project_root(), installed_data_dir()) if r is not None]


def panels_dir() -> Path:
    """Directory that bare panel names resolve in (order in the module docstring).

    Raises
    ------
    PanelError
        ``$CYTOMICS_PANELS_DIR`` is set but not a directory, or no panels directory is found.
    """
    env = os.environ.get(PANELS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise PanelError(f"{PANELS_ENV} is not a directory", path=path)
        return path
    for root in _data_roots():
        if (root / "panels").is_dir():
            return root / "panels"
    raise PanelError(
        f"no panels directory found (set {PANELS_ENV} or {HOME_ENV}, or pass a YAML path)"
    )


def schema_path(name: str) -> Path:
    """Path of the schema ``workflow/schemas/<name>``.

    Raises
    ------
    FileNotFoundError
        When the schema cannot be found (installation problem, not bad input).
    """
    candidates = [root / "workflow" / "schemas" / name for root in _data_roots()]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"cytomics schema {name} not found (looked in: "
        + (", ".join(map(str, candidates)) or "no project or installed data directory")
        + f"); set {HOME_ENV} to the checkout"
    )
