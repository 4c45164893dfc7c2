"""A non-editable install carries the tube panels and schemas (``[tool.setuptools.data-files]``).

The build configuration is read with the environment's setuptools (no network, no build
isolation; the venv has no ``wheel`` package to build a wheel offline): every repository panel
and schema must be declared as a data file under ``share/cytomics/`` with the repository's
relative layout, which is where :func:`cytomics.paths.installed_data_dir` looks. The full
``pip wheel`` + install + ``cytomics inspect`` round trip is a manual check (see pyproject.toml).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cytomics import paths
from cytomics.panel import list_panels, load_panel

REPO = Path(__file__).resolve().parents[1]
DATA = ("panels/*.yaml", "workflow/schemas/*.yaml")


def _repo_data_files() -> list[str]:
    return sorted(p.relative_to(REPO).as_posix() for pattern in DATA for p in REPO.glob(pattern))


def test_build_config_ships_panels_and_schemas() -> None:
    code = (
        "import json; from setuptools.dist import Distribution; d = Distribution(); "
        "d.parse_config_files(); print(json.dumps(d.data_files))"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    installed = []
    for target, files in json.loads(proc.stdout.strip().splitlines()[-1]):
        for rel in files:
            assert target == f"share/cytomics/{Path(rel).parent.as_posix()}", (target, rel)
            installed.append(Path(rel).as_posix())
    assert sorted(installed) == _repo_data_files()
    assert "panels/alot.yaml" in installed and "workflow/schemas/panel.schema.yaml" in installed


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An installed layout: no checkout around the package, data in <prefix>/share/cytomics."""
    prefix = tmp_path / "prefix"
    share = prefix / "share" / "cytomics"
    for rel in _repo_data_files():
        (share / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, share / rel)
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.delenv(paths.PANELS_ENV, raising=False)
    monkeypatch.setattr(paths, "_checkout_root", lambda: None)
    monkeypatch.setattr(paths, "_install_data_prefixes", lambda: [tmp_path / "nothing", prefix])
    paths.installed_data_dir.cache_clear()
    yield share
    paths.installed_data_dir.cache_clear()


def test_installed_layout_is_found(installed: Path) -> None:
    assert paths.project_root() is None
    assert paths.installed_data_dir() == installed
    assert paths.panels_dir() == installed / "panels"
    assert paths.schema_path("samples.schema.yaml") == installed / "workflow/schemas/samples.schema.yaml"
    assert set(list_panels()) == {p.stem for p in (REPO / "panels").glob("*.yaml")}
    assert load_panel("alot").source == installed / "panels" / "alot.yaml"


def test_cytomics_home_wins_over_installed_data(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "deploy"
    (home / "panels").mkdir(parents=True)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    assert paths.panels_dir() == home / "panels"
    # schemas missing in CYTOMICS_HOME: the installed copy is the fallback
    assert paths.schema_path("panel.schema.yaml") == installed / "workflow/schemas/panel.schema.yaml"
