"""Project-data lookup (:mod:`cytomics.paths`): checkout walk-up, CYTOMICS_HOME, CYTOMICS_PANELS_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytomics import panel as panel_module
from cytomics import paths
from cytomics.config import default_config_path
from cytomics.errors import PanelError
from cytomics.panel import list_panels, load_panel

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.delenv(paths.PANELS_ENV, raising=False)


def _home(tmp_path: Path, *, panels: bool = True, schemas: bool = True) -> Path:
    """A deployment directory with a renamed copy of the ALOT tube and the schemas."""
    home = tmp_path / "deploy"
    home.mkdir()
    if panels:
        (home / "panels").mkdir()
        text = (REPO / "panels" / "alot.yaml").read_text(encoding="utf-8")
        text = text.replace("name: alot", "name: home_alot", 1)
        (home / "panels" / "home_alot.yaml").write_text(text, encoding="utf-8")
    if schemas:
        shutil.copytree(REPO / "workflow" / "schemas", home / "workflow" / "schemas")
    return home


def test_checkout_is_found_without_env() -> None:
    assert paths.project_root() == REPO
    assert paths.panels_dir() == REPO / "panels"
    assert panel_module.panels_dir is paths.panels_dir  # one implementation
    assert paths.schema_path("panel.schema.yaml") == REPO / "workflow" / "schemas" / "panel.schema.yaml"
    assert "alot" in list_panels()


def test_cytomics_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    assert paths.project_root() == home.resolve()
    assert paths.panels_dir() == home.resolve() / "panels"
    assert paths.schema_path("samples.schema.yaml").parent == home.resolve() / "workflow" / "schemas"
    assert default_config_path() == home.resolve() / "config" / "config.yaml"
    assert list_panels() == ["home_alot"]
    assert load_panel("home_alot").source == home.resolve() / "panels" / "home_alot.yaml"
    with pytest.raises(PanelError, match=r"unknown panel 'alot'.*home_alot"):
        load_panel("alot")
    # read on every call: unsetting it returns to the checkout
    monkeypatch.delenv(paths.HOME_ENV)
    assert paths.panels_dir() == REPO / "panels"


def test_cytomics_home_expands_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(paths.HOME_ENV, "~/deploy")
    assert paths.panels_dir() == home.resolve() / "panels"


def test_cytomics_home_without_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, panels=False, schemas=False)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    monkeypatch.setattr(paths, "installed_data_dir", lambda: None)  # no wheel install either
    with pytest.raises(PanelError, match="no panels directory found"):
        paths.panels_dir()
    with pytest.raises(FileNotFoundError, match=r"config\.schema\.yaml"):
        paths.schema_path("config.schema.yaml")


def test_panels_dir_env_wins_over_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    lab = tmp_path / "lab_panels"
    lab.mkdir()
    text = (REPO / "panels" / "alot.yaml").read_text(encoding="utf-8")
    (lab / "lab_alot.yaml").write_text(text.replace("name: alot", "name: lab_alot", 1), "utf-8")
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    monkeypatch.setenv(paths.PANELS_ENV, str(lab))
    assert paths.panels_dir() == lab
    assert list_panels() == ["lab_alot"]
    assert load_panel("lab_alot").name == "lab_alot"
    # schemas still come from CYTOMICS_HOME
    assert paths.schema_path("panel.schema.yaml").is_relative_to(home.resolve())


def test_panels_dir_env_must_be_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.PANELS_ENV, str(tmp_path / "missing"))
    with pytest.raises(PanelError, match="CYTOMICS_PANELS_DIR is not a directory") as info:
        paths.panels_dir()
    assert info.value.path == tmp_path / "missing"
