"""Build a frozen settings dataclass of numbers from a config mapping (gating stages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from cytomics.errors import ConfigError

T = TypeVar("T")


def numeric_settings(cls: type[T], d: Mapping[str, Any] | None, *, section: str) -> T:
    """Instantiate ``cls`` (a dataclass whose fields are all ``int`` or ``float``) from ``d``.

    Parameters
    ----------
    cls
        The settings dataclass; fields absent from ``d`` keep their documented defaults.
    d
        Overrides from the configuration (``None`` or empty: all defaults). Values are
        converted to the field's type, so ``"96"`` is accepted for an ``int`` field.
    section
        Where the mapping sits in the configuration (``"gating"``), named in errors.

    Returns
    -------
    cls
        The settings.

    Raises
    ------
    ConfigError
        On an unknown key (the message lists the known ones) or a value that is not a
        number.
    """
    d = dict(d or {})
    names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ConfigError(f"{section}: unknown setting(s) {unknown}; known: {sorted(names)}")
    kw: dict[str, Any] = {}
    for k, v in d.items():
        typ = int if names[k].type in ("int", int) else float
        try:
            kw[k] = typ(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{section}: setting {k}={v!r} is not a number") from None
    return cls(**kw)
