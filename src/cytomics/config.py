"""Configuration loading and validation (``config/config.yaml``, schema in workflow/schemas)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cytomics.errors import ConfigError


def default_config_path() -> Path | None:
    """``config/config.yaml`` of the project checkout, if found."""
    from cytomics.paths import project_root

    root = project_root()
    return None if root is None else root / "config" / "config.yaml"


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Load and validate a configuration file.

    Parameters
    ----------
    path
        YAML file; ``None`` loads the project's default ``config/config.yaml``.

    Returns
    -------
    dict
        The validated configuration.

    Raises
    ------
    ConfigError
        Unreadable YAML or a schema violation (message names the file and the key).
    """
    import yaml

    path = Path(path) if path is not None else default_config_path()
    if path is None or not path.is_file():
        raise ConfigError("configuration file not found", path=path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read configuration: {exc}", path=path) from exc
    validate_config(config, source=path)
    return config


def validate_config(config: dict[str, Any], *, source: str | Path | None = None) -> None:
    """Validate a configuration mapping against ``config.schema.yaml``.

    Raises
    ------
    ConfigError
        On the first schema violation, naming the key path.
    """
    import jsonschema
    import yaml

    from cytomics.paths import schema_path

    schema = yaml.safe_load(schema_path("config.schema.yaml").read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.path) or "(top level)"
        raise ConfigError(f"invalid configuration at {where}: {err.message}", path=source)


def config_sha256(config: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form of a configuration (provenance)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
