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


def test_resolved_config_writes_out_every_stage_threshold(tmp_path: Path) -> None:
    from dataclasses import fields

    from cytomics.gating.alot import AlotGatingSettings
    from cytomics.gating.small_clusters import SmallClusterSettings
    from cytomics.pipeline import resolve_config
    from cytomics.qc import QCSettings

    config = load_config()
    resolved = resolve_config(config)
    assert config["qc"] == {} and config["gating"] == {}  # input untouched
    assert set(resolved["qc"]) == {f.name for f in fields(QCSettings)}
    assert set(resolved["gating"]) == {f.name for f in fields(AlotGatingSettings)} | {
        "small_clusters"}
    assert resolved["gating"]["sample_events"] == AlotGatingSettings().sample_events
    assert set(resolved["gating"]["small_clusters"]) == {
        f.name for f in fields(SmallClusterSettings)}
    # a resolved config is a valid config, and resolving it again changes nothing
    path = tmp_path / "effective.json"
    import json

    path.write_text(json.dumps(resolved))
    reloaded = load_config(path)
    assert resolve_config(reloaded) == resolved
    assert config_sha256(resolve_config(reloaded)) == config_sha256(resolved)
    # a lab override is kept, and it changes the provenance hash
    override = dict(config, qc={"debris_ssc_nmad": 5.0})
    assert resolve_config(override)["qc"]["debris_ssc_nmad"] == 5.0
    assert config_sha256(resolve_config(override)) != config_sha256(resolved)
    with pytest.raises(ConfigError, match="no_such_threshold"):
        resolve_config(dict(config, gating={"no_such_threshold": 1}))
    # the small-cluster screen's thresholds are a subsection of gating:
    small = dict(config, gating={"small_clusters": {"mpo_review_fraction": 0.02}})
    assert resolve_config(small)["gating"]["small_clusters"]["mpo_review_fraction"] == 0.02
    assert config_sha256(resolve_config(small)) != config_sha256(resolved)
    with pytest.raises(ConfigError, match="no_such_screen_threshold"):
        resolve_config(dict(config, gating={"small_clusters": {"no_such_screen_threshold": 1}}))
