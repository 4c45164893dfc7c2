"""Configuration loading/validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytomics.config import config_sha256, load_config
from cytomics.errors import ConfigError


def test_default_config_is_valid() -> None:
    config = load_config()
    assert config["samples"] and config["results"]
    assert config_sha256(config) == config_sha256(dict(config))


def test_unknown_key_rejected_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("samples: s.tsv\nresults: r\nmin_events: {acquired: 0}\n")
    with pytest.raises(ConfigError, match="min_events/acquired"):
        load_config(bad)
    bad.write_text("samples: s.tsv\nresults: r\ntypo_key: 1\n")
    with pytest.raises(ConfigError, match="typo_key"):
        load_config(bad)


def test_missing_and_unparsable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    broken = tmp_path / "b.yaml"
    broken.write_text("samples: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(broken)
