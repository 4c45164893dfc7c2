"""Tube (panel) definitions and marker ↔ channel resolution.

A panel is one YAML file per tube (``panels/<name>.yaml``, schema
``workflow/schemas/panel.schema.yaml``). Channels of an acquisition are resolved **by marker
name** (``$PnS``, normalised by :func:`cytomics.markers.marker_key`) first; the fluorochrome's
accepted channel names (``$PnN`` aliases) are only a fallback when ``$PnS`` is blank. A
``$PnS`` naming a different marker on the expected channel is a conflict, never a fallback.

Where panels are found (:func:`panels_dir`, implemented in :mod:`cytomics.paths`, the one
place that locates project data):

1. ``$CYTOMICS_PANELS_DIR`` (a lab's own directory of tube YAMLs);
2. ``$CYTOMICS_HOME/panels``;
3. ``panels/`` of the project checkout, found by walking up from the package to the directory
   holding ``Snakefile`` and ``workflow/schemas/`` (editable installs, tests, CLI run anywhere).

The schema is :func:`cytomics.paths.schema_path` ``("panel.schema.yaml")``, looked up in
``workflow/schemas/`` of the same project root.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cytomics.errors import PanelError, PanelMismatchError
from cytomics.fcs.model import Acquisition, Channel
from cytomics.markers import MarkerKey, channel_key, marker_key
from cytomics.paths import panels_dir, schema_path

__all__ = [
    "MarkerMatch",
    "MarkerSpec",
    "Panel",
    "PanelMatch",
    "PanelScore",
    "ScatterSpec",
    "best_panel",
    "list_panels",
    "load_panel",
    "match_panel",
    "panels_dir",
    "rank_panels",
]

#: how a marker was matched to its channel.
METHOD_PNS = "PnS"
METHOD_PNS_ALIAS = "PnS-alias"
METHOD_CHANNEL_ALIAS = "channel-alias"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


# --- definitions ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarkerSpec:
    """One marker (antibody or dye, or an antibody pair on one fluorochrome) of a tube.

    Attributes
    ----------
    name
        Canonical marker name (``"cyCD3"``, ``"CD66c+CD123"``).
    fluorochrome
        Fluorochrome as documented in the YAML.
    channels
        Accepted ``$PnN`` names of the fluorochrome's detector (fallback when ``$PnS`` is blank).
    aliases
        Other accepted ``$PnS`` spellings (beyond the automatic normalisation).
    role
        ``backbone``, ``lineage_b``, ``lineage_t``, ``lineage_myeloid``, ``immaturity``, ...
    required
        Whether a file lacking this marker is rejected.
    """

    name: str
    fluorochrome: str
    channels: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    role: str = "other"
    required: bool = True

    @property
    def key(self) -> MarkerKey:
        """Normalised key of the canonical name."""
        key = marker_key(self.name)
        assert key is not None  # validated at load time
        return key

    @property
    def alias_keys(self) -> frozenset[MarkerKey]:
        """Normalised keys of the aliases (excluding the canonical key)."""
        keys = {marker_key(a) for a in self.aliases}
        return frozenset(k for k in keys if k is not None and k != self.key)

    @property
    def channel_keys(self) -> frozenset[str]:
        """Normalised ``$PnN`` aliases."""
        return frozenset(channel_key(c) for c in self.channels)


@dataclass(frozen=True, slots=True)
class ScatterSpec:
    """A scatter channel of a tube (matched on ``$PnN``, case/separator-insensitive)."""

    name: str
    required: bool
    aliases: tuple[str, ...] = ()

    @property
    def channel_keys(self) -> frozenset[str]:
        """Normalised accepted ``$PnN`` names."""
        return frozenset(channel_key(c) for c in (self.name, *self.aliases))


@dataclass(frozen=True, slots=True)
class Panel:
    """A validated tube definition.

    Attributes
    ----------
    name, version, description
        From the YAML (``name`` is what the sample sheet's ``tube`` column refers to).
    family
        ``alot``, ``bcp_mrd``, ... ; purpose: ``diagnosis`` or ``mrd``.
    markers
        The marker specifications, in YAML order.
    scatter
        Scatter channels; ``scatter_at_least_one_of`` lists groups of which one must exist.
    time_required, time_aliases
        Whether a Time channel is mandatory and its accepted ``$PnN`` names.
    source, sha256
        The YAML file read and the SHA-256 of its bytes (provenance).
    """

    name: str
    version: str
    description: str
    family: str
    purpose: str
    markers: tuple[MarkerSpec, ...]
    scatter: tuple[ScatterSpec, ...]
    scatter_at_least_one_of: tuple[tuple[str, ...], ...] = ()
    time_required: bool = False
    time_aliases: tuple[str, ...] = ("Time",)
    references: tuple[str, ...] = ()
    notes: str = ""
    source: Path | None = None
    sha256: str = ""

    @property
    def marker_names(self) -> tuple[str, ...]:
        """Canonical marker names in YAML order."""
        return tuple(m.name for m in self.markers)

    def marker(self, name: str) -> MarkerSpec:
        """The spec of a marker by canonical name or any spelling that normalises to it.

        Raises
        ------
        KeyError
            If the panel has no such marker (a programming error).
        """
        key = marker_key(name)
        for spec in self.markers:
            if spec.name == name or (
                key is not None and (key == spec.key or key in spec.alias_keys)
            ):
                return spec
        raise KeyError(name)

    def markers_with_role(self, role: str) -> tuple[MarkerSpec, ...]:
        """Markers whose role is ``role``."""
        return tuple(m for m in self.markers if m.role == role)


# --- locating and loading -------------------------------------------------------------
@cache
def _schema() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(schema_path("panel.schema.yaml").read_text(encoding="utf-8"))


def list_panels(directory: str | Path | None = None) -> list[str]:
    """Names of the panels available in ``directory`` (default :func:`panels_dir`), sorted."""
    base = Path(directory) if directory is not None else panels_dir()
    names = {p.stem for p in base.glob("*.yaml")} | {p.stem for p in base.glob("*.yml")}
    return sorted(n for n in names if _NAME_RE.match(n))


def _looks_like_path(value: str | Path) -> bool:
    if isinstance(value, Path):
        return True
    return os.sep in value or "/" in value or value.lower().endswith((".yaml", ".yml"))


def _resolve_panel_path(name_or_path: str | Path, directory: str | Path | None) -> Path:
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise PanelError("panel file not found", path=path)
        return path
    name = str(name_or_path).strip()
    base = Path(directory) if directory is not None else panels_dir()
    for suffix in (".yaml", ".yml"):
        candidate = base / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    known = ", ".join(list_panels(base)) or "none"
    raise PanelError(
        f"unknown panel {name!r} (known panels in {base}: {known})", path=base / f"{name}.yaml"
    )


def _field_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_panel(name_or_path: str | Path, *, directory: str | Path | None = None) -> Panel:
    """Load and validate a tube definition.

    Parameters
    ----------
    name_or_path
        A bare panel name (``"alot"`` → ``<panels dir>/alot.yaml``) or the path of a lab's YAML.
    directory
        Directory for bare names (default :func:`panels_dir`, e.g. the config's ``panels_dir``).

    Returns
    -------
    Panel

    Raises
    ------
    PanelError
        The file is missing, is not YAML, violates ``panel.schema.yaml`` or is inconsistent
        (duplicate markers or channels); the message names the file and the field.
    """
    path = _resolve_panel_path(name_or_path, directory)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PanelError(f"cannot read panel definition: {exc}", path=path) from exc
    digest = hashlib.sha256(raw).hexdigest()
    panel = _VALIDATED.get((str(path), digest))
    if panel is None:
        panel = _parse_panel(raw, path, digest)
        _VALIDATED[(str(path), digest)] = panel
    if not _looks_like_path(name_or_path) and panel.name != str(name_or_path).strip():
        raise PanelError(
            f"invalid panel definition at 'name': {panel.name!r} does not match the file name "
            f"{path.stem!r}",
            path=path,
        )
    return panel


#: panels already validated in this process, by (file path, SHA-256 of its bytes): parsing
#: and schema validation (~5 ms) run once per file content, not once per sample
_VALIDATED: dict[tuple[str, str], Panel] = {}


def _parse_panel(raw: bytes, path: Path, digest: str) -> Panel:
    """Parse, schema-validate and build a panel from the YAML bytes of ``path``."""
    import jsonschema
    import yaml

    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PanelError(f"cannot read panel definition: {exc}", path=path) from exc
    except yaml.YAMLError as exc:
        raise PanelError(f"panel definition is not valid YAML: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise PanelError("panel definition must be a YAML mapping", path=path)
    validator = jsonschema.Draft202012Validator(_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = _field_path(error.absolute_path)
        raise PanelError(f"invalid panel definition at '{where}': {error.message}", path=path)
    return _build_panel(data, path, digest)


def _build_panel(data: Mapping[str, Any], path: Path, sha256: str) -> Panel:
    markers = tuple(
        MarkerSpec(
            name=m["name"].strip(),
            fluorochrome=m["fluorochrome"],
            channels=tuple(m["channels"]),
            aliases=tuple(m.get("aliases", ())),
            role=m["role"],
            required=m["required"],
        )
        for m in data["markers"]
    )
    seen_keys: dict[MarkerKey, str] = {}
    seen_channels: dict[str, str] = {}
    for i, spec in enumerate(markers):
        for j, text in enumerate((spec.name, *spec.aliases)):
            where = f"markers[{i}].name" if j == 0 else f"markers[{i}].aliases[{j - 1}]"
            key = marker_key(text)
            if key is None:
                raise PanelError(
                    f"invalid panel definition at '{where}': {text!r} is not a marker name",
                    path=path,
                )
            other = seen_keys.setdefault(key, spec.name)
            if other != spec.name:
                raise PanelError(
                    f"invalid panel definition at '{where}': {text!r} is the same marker as {other!r}",
                    path=path,
                )
        for j, ch in enumerate(spec.channels):
            other = seen_channels.setdefault(channel_key(ch), spec.name)
            if other != spec.name:
                raise PanelError(
                    f"invalid panel definition at 'markers[{i}].channels[{j}]': channel {ch!r} "
                    f"is already the channel of {other!r}",
                    path=path,
                )
    scatter_data = data["scatter"]
    scatter = tuple(
        ScatterSpec(name=s["name"], required=s["required"], aliases=tuple(s.get("aliases", ())))
        for s in scatter_data["channels"]
    )
    scatter_names = {s.name for s in scatter}
    groups = tuple(tuple(g) for g in scatter_data.get("at_least_one_of", ()))
    for i, group in enumerate(groups):
        for j, name in enumerate(group):
            if name not in scatter_names:
                raise PanelError(
                    f"invalid panel definition at 'scatter.at_least_one_of[{i}][{j}]': {name!r} "
                    "is not listed in scatter.channels",
                    path=path,
                )
    time = data.get("time", {"required": False})
    return Panel(
        name=data["name"],
        version=str(data["version"]),
        description=" ".join(str(data["description"]).split()),
        family=data["family"],
        purpose=data["purpose"],
        markers=markers,
        scatter=scatter,
        scatter_at_least_one_of=groups,
        time_required=bool(time["required"]),
        time_aliases=tuple(time.get("aliases", ("Time",))),
        references=tuple(data.get("references", ())),
        notes=" ".join(str(data.get("notes", "")).split()),
        source=path,
        sha256=sha256,
    )


# --- matching ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarkerMatch:
    """How one panel marker was found in a file.

    Attributes
    ----------
    marker
        Canonical marker name of the panel.
    channel_index, channel_name
        0-based column and ``$PnN`` of the channel.
    pns
        The channel's ``$PnS`` as written (``None`` when blank).
    method
        ``"PnS"`` (``$PnS`` normalises to the canonical name), ``"PnS-alias"`` (to one of the
        panel's aliases) or ``"channel-alias"`` (blank ``$PnS``, channel is one of the
        fluorochrome's accepted ``$PnN`` names).
    on_expected_channel
        Whether the channel is one of the fluorochrome's accepted ``$PnN`` names.
    """

    marker: str
    channel_index: int
    channel_name: str
    pns: str | None
    method: str
    on_expected_channel: bool


@dataclass(frozen=True, slots=True)
class PanelMatch:
    """Resolution of a panel on one acquisition.

    Attributes
    ----------
    panel
        The panel matched.
    markers
        Canonical marker name → 0-based channel index (matched markers only, panel order);
        the mapping :func:`cytomics.preprocess.pipeline.preprocess` takes.
    records
        Canonical marker name → :class:`MarkerMatch` (how each marker was found).
    scatter
        Scatter name (panel spelling, e.g. ``"FSC-A"``) → channel index (present ones only).
    time
        Index of the Time channel or ``None``.
    missing_optional
        Optional markers not found.
    warnings
        Notes for the report (markers on unexpected channels, optional conflicts).
    """

    panel: Panel
    markers: dict[str, int]
    records: dict[str, MarkerMatch]
    scatter: dict[str, int]
    time: int | None
    missing_optional: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def methods(self) -> dict[str, str]:
        """Marker → how it was matched (``PnS``, ``PnS-alias``, ``channel-alias``)."""
        return {name: m.method for name, m in self.records.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (used by ``cytomics inspect --json`` and the audit record)."""
        return {
            "panel": self.panel.name,
            "version": self.panel.version,
            "source": None if self.panel.source is None else str(self.panel.source),
            "sha256": self.panel.sha256,
            "markers": [
                {
                    "marker": m.marker,
                    "channel": m.channel_name,
                    "index": m.channel_index,
                    "pns": m.pns,
                    "method": m.method,
                    "on_expected_channel": m.on_expected_channel,
                }
                for m in self.records.values()
            ],
            "scatter": dict(self.scatter),
            "time": self.time,
            "missing_optional": list(self.missing_optional),
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class _Resolution:
    markers: dict[str, MarkerMatch] = field(default_factory=dict)
    scatter: dict[str, int] = field(default_factory=dict)
    time: int | None = None
    missing: list[str] = field(default_factory=list)  # required markers/channels (described)
    missing_optional: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # required markers
    warnings: list[str] = field(default_factory=list)
    unexplained: int = 0  # named fluorescence channels the panel does not use


def _describe_channel(ch: Channel) -> str:
    return f"{ch.name} [{ch.marker}]" if ch.marker else ch.name


def _pick(cands: list[Channel], spec: MarkerSpec) -> list[Channel]:
    """Tie-break several channels carrying the same marker name."""
    if len(cands) <= 1:
        return cands
    expected = [c for c in cands if channel_key(c.name) in spec.channel_keys]
    if len(expected) >= 1:
        cands = expected
    if len(cands) > 1:  # Height/Area pairs sharing one $PnS: prefer the area
        area = [c for c in cands if c.name.strip().upper().endswith("-A")]
        if area:
            cands = area
    return cands


def _resolve(acq: Acquisition, panel: Panel) -> _Resolution:
    res = _Resolution()
    fluor = [ch for ch in acq.channels if not ch.is_scatter and not ch.is_time]
    keys = {ch.index: _pns_key(ch) for ch in acq.channels}
    claimed: dict[int, str] = {}

    def fail(spec: MarkerSpec, message: str, *, conflict: bool) -> None:
        if spec.required:
            (res.conflicts if conflict else res.missing).append(message)
        else:
            res.missing_optional.append(spec.name)
            if conflict:
                res.warnings.append(f"optional marker not used: {message}")

    pending: list[MarkerSpec] = []
    for spec in panel.markers:  # pass 1: by marker name ($PnS)
        exact = [ch for ch in fluor if keys[ch.index] == spec.key]
        alias = [ch for ch in fluor if keys[ch.index] in spec.alias_keys]
        cands, method = (exact, METHOD_PNS) if exact else (alias, METHOD_PNS_ALIAS)
        cands = _pick(cands, spec)
        if not cands:
            pending.append(spec)
            continue
        if len(cands) > 1:
            listed = ", ".join(_describe_channel(c) for c in cands)
            fail(
                spec, f"{spec.name}: ambiguous, several channels carry it ({listed})", conflict=True
            )
            continue
        ch = cands[0]
        on_expected = channel_key(ch.name) in spec.channel_keys
        res.markers[spec.name] = MarkerMatch(
            spec.name, ch.index, ch.name, ch.marker, method, on_expected
        )
        claimed[ch.index] = spec.name
        if not on_expected:
            res.warnings.append(
                f"{spec.name} found by $PnS on {ch.name!r}, not on the panel's {spec.fluorochrome} "
                f"channel ({', '.join(spec.channels)}): check the panel's fluorochromes"
            )
    by_channel = {channel_key(ch.name): ch for ch in reversed(fluor)}  # first wins
    for spec in pending:  # pass 2: blank $PnS on the fluorochrome's channel (alias order)
        hits = [by_channel[k] for k in map(channel_key, spec.channels) if k in by_channel]
        if not hits:
            fail(
                spec,
                f"{spec.name} ({spec.fluorochrome}: no $PnS names it and no channel "
                f"{'/'.join(spec.channels)})",
                conflict=False,
            )
            continue
        ch = hits[0]
        if ch.index in claimed:
            fail(
                spec,
                f"{spec.name}: its {spec.fluorochrome} channel {ch.name!r} carries "
                f"{claimed[ch.index]} ($PnS {ch.marker!r})",
                conflict=True,
            )
        elif keys[ch.index] is not None:
            fail(
                spec,
                f"{spec.name}: its {spec.fluorochrome} channel {ch.name!r} is labelled "
                f"{ch.marker!r} (a different marker) in $PnS",
                conflict=True,
            )
        else:
            res.markers[spec.name] = MarkerMatch(
                spec.name, ch.index, ch.name, None, METHOD_CHANNEL_ALIAS, True
            )
            claimed[ch.index] = spec.name
    # keep panel order
    res.markers = {m.name: res.markers[m.name] for m in panel.markers if m.name in res.markers}
    res.unexplained = sum(keys[ch.index] is not None and ch.index not in claimed for ch in fluor)

    by_key = {channel_key(ch.name): ch.index for ch in acq.channels}
    for s in panel.scatter:
        idx = next(
            (by_key[k] for k in (channel_key(n) for n in (s.name, *s.aliases)) if k in by_key), None
        )
        if idx is not None:
            res.scatter[s.name] = idx
        elif s.required:
            res.missing.append(f"scatter channel {s.name}")
    for group in panel.scatter_at_least_one_of:
        if not any(name in res.scatter for name in group):
            res.missing.append(f"one of the scatter channels {' or '.join(group)}")
    time_keys = [channel_key(a) for a in panel.time_aliases]
    res.time = next((by_key[k] for k in time_keys if k in by_key), acq.time_channel())
    if res.time is None and panel.time_required:
        res.missing.append("Time channel")
    return res


def _pns_key(ch: Channel) -> MarkerKey | None:
    """Marker key of a channel's ``$PnS``; a ``$PnS`` repeating the ``$PnN`` counts as blank."""
    if ch.marker is None or channel_key(ch.marker) == channel_key(ch.name):
        return None
    return marker_key(ch.marker)


def _file_channels(acq: Acquisition) -> str:
    return ", ".join(_describe_channel(ch) for ch in acq.channels)


def match_panel(acquisition: Acquisition, panel: Panel | str | Path) -> PanelMatch:
    """Resolve a panel's markers, scatter and Time channels in an acquisition.

    Parameters
    ----------
    acquisition
        The file read by :func:`cytomics.fcs.read_fcs`.
    panel
        A :class:`Panel`, or a name/path passed to :func:`load_panel`.

    Returns
    -------
    PanelMatch

    Raises
    ------
    PanelMismatchError
        A required marker or scatter channel is missing, ambiguous or in conflict (a
        different marker in ``$PnS`` on its channel). The message lists what is missing and
        every channel of the file with its ``$PnS``; the exception carries ``missing`` and
        ``conflicts`` lists.
    """
    if not isinstance(panel, Panel):
        panel = load_panel(panel)
    res = _resolve(acquisition, panel)
    if res.missing or res.conflicts:
        parts = []
        if res.missing:
            parts.append("missing: " + "; ".join(res.missing))
        if res.conflicts:
            parts.append("conflicts: " + "; ".join(res.conflicts))
        exc = PanelMismatchError(
            f"does not match panel {panel.name!r} v{panel.version}: "
            + " | ".join(parts)
            + f" | file channels ($PnN [$PnS]): {_file_channels(acquisition)}",
            path=acquisition.path,
        )
        exc.missing = list(res.missing)  # type: ignore[attr-defined]
        exc.conflicts = list(res.conflicts)  # type: ignore[attr-defined]
        raise exc
    return PanelMatch(
        panel=panel,
        markers={name: m.channel_index for name, m in res.markers.items()},
        records=res.markers,
        scatter=res.scatter,
        time=res.time,
        missing_optional=tuple(res.missing_optional),
        warnings=tuple(res.warnings),
    )


@dataclass(frozen=True, slots=True)
class PanelScore:
    """How well a file fits one panel (for "this file looks like <panel>").

    Attributes
    ----------
    panel
        Panel name.
    by_name
        Markers found by ``$PnS`` (name or alias).
    by_channel
        Markers found only through a blank ``$PnS`` on the expected channel.
    total
        Markers in the panel.
    conflicts
        Markers whose channel carries a different marker name.
    complete
        :func:`match_panel` would succeed.
    unexplained
        Fluorescence channels named in ``$PnS`` that the panel does not use.
    """

    panel: str
    by_name: int
    by_channel: int
    total: int
    conflicts: int
    complete: bool
    unexplained: int = 0

    @property
    def score(self) -> float:
        """Overlap of marker names (0..1): found by name / (panel markers + unexplained named channels).

        1.0 means the file names exactly the panel's markers; a file naming many other markers
        (e.g. a 40-marker mass-cytometry panel that includes CD19 and CD34) scores low.
        """
        denom = self.total + self.unexplained
        return self.by_name / denom if denom else 0.0

    def describe(self) -> str:
        """E.g. ``"alot (8/8 markers by $PnS name)"``."""
        extra = f", {self.unexplained} other named channel(s)" if self.unexplained else ""
        return f"{self.panel} ({self.by_name}/{self.total} markers by $PnS name{extra})"


def rank_panels(
    acquisition: Acquisition, panels: Iterable[Panel | str | Path] | None = None
) -> list[PanelScore]:
    """Score every panel against a file, best first.

    Ordering: by :attr:`PanelScore.score` (overlap between the panel's marker names and the
    names in ``$PnS``), then fewer conflicts, then panels :func:`match_panel` would accept. Blank-``$PnS`` files cannot be told apart by
    channels alone, so ``by_name`` drives the ranking.
    """
    loaded = [p if isinstance(p, Panel) else load_panel(p) for p in (panels or list_panels())]
    scores = []
    for panel in loaded:
        res = _resolve(acquisition, panel)
        by_name = sum(m.method != METHOD_CHANNEL_ALIAS for m in res.markers.values())
        scores.append(
            PanelScore(
                panel=panel.name,
                by_name=by_name,
                by_channel=len(res.markers) - by_name,
                total=len(panel.markers),
                conflicts=len(res.conflicts),
                complete=not res.missing and not res.conflicts,
                unexplained=res.unexplained,
            )
        )
    scores.sort(key=lambda s: (-s.score, s.conflicts, not s.complete, s.panel))
    return scores


def best_panel(
    acquisition: Acquisition,
    panels: Iterable[Panel | str | Path] | None = None,
    *,
    min_score: float = 0.5,
) -> PanelScore | None:
    """The known panel a file looks like, judged by marker names in ``$PnS``.

    Used to catch tubes saved under the wrong tube name.

    Parameters
    ----------
    acquisition
        The file.
    panels
        Panels (objects, names or paths) to consider; default: every panel in :func:`panels_dir`.
    min_score
        Minimum :attr:`PanelScore.score` (default 0.5: at least half of the union of the
        panel's markers and the file's named channels agree).

    Returns
    -------
    PanelScore or None
        ``None`` when no panel reaches ``min_score`` (e.g. blank-``$PnS`` files, which cannot
        be identified by channel names alone).
    """
    ranked = rank_panels(acquisition, panels)
    if not ranked or ranked[0].by_name == 0 or ranked[0].score < min_score:
        return None
    return ranked[0]
