"""Evaluate gates on events with the numba kernels: Gating-ML templates on FCS files, and
cytomics gates on pre-processed :class:`~cytomics.preprocess.model.Events`.

Two entry points:

* :func:`evaluate` — a :class:`~cytomics.gating.gatingml.GatingStrategy` (imported
  Gating-ML) on a :class:`GatingInput` (raw FCS scale values): compensation and transforms
  are computed here per distinct (channel, compensation, transform) column, exactly as the
  Gating-ML 2.0 reference (FlowKit) does;
* :func:`evaluate_on_events` — cytomics gates drawn on :class:`Events` columns (already
  compensated/transformed): no pre-processing, the kernels read ``events.values`` in place.

:func:`apply_template` runs a lab template over a batch of FCS files and returns count rows
(one file's bad input never stops the batch).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cytomics.errors import (
    CytomicsInputError,
    FCSError,
    GatingMLError,
    PanelMismatchError,
)
from cytomics.fcs.model import Spillover
from cytomics.gating import kernels
from cytomics.gating.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    Gate,
    PolygonGate,
    RectangleGate,
)
from cytomics.gating.gatingml import UNCOMPENSATED, GatingStrategy, TransformSpec, read_gatingml

__all__ = [
    "COUNT_COLUMNS",
    "GatingInput",
    "apply_template",
    "count_rows",
    "evaluate",
    "evaluate_on_events",
    "load_input",
    "transform_column",
    "write_counts",
]

COUNT_COLUMNS = (
    "file",
    "gate_id",
    "parent",
    "count",
    "pct_of_parent",
    "pct_of_total",
    "status",
    "error",
)


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------
@dataclass(slots=True)
class GatingInput:
    """Events in FCS *scale values* (Gating-ML 2.0: log-amplified channels linearised,
    channels divided by ``$PnG``, Time in ``$TIMESTEP`` units), uncompensated.

    Attributes
    ----------
    data
        float32/float64 ``[n_events, n_channels]``.
    channels
        ``$PnN`` per column.
    markers
        ``$PnS`` per column (``None`` when blank).
    spillover
        The file's own spillover (used by ``compensation-ref="FCS"``), or ``None``.
    path
        Source file, for messages.
    multiplier, divisor
        Optional per-column factors turning ``data`` into scale values
        (``data[:, j] * multiplier[j] / divisor[j]``), applied lazily per column so that
        no float64 copy of the whole matrix is made; ``None`` = all 1.
    """

    data: np.ndarray
    channels: tuple[str, ...]
    markers: tuple[str | None, ...]
    spillover: Spillover | None = None
    path: Path | None = None
    multiplier: np.ndarray | None = None
    divisor: np.ndarray | None = None

    def is_scaled(self, j: int) -> bool:
        """Whether column ``j`` needs a factor to become scale values."""
        return (self.multiplier is not None and self.multiplier[j] != 1.0) or (
            self.divisor is not None and self.divisor[j] != 1.0
        )

    def column(self, j: int) -> np.ndarray:
        """float64 scale values of column ``j`` (new array)."""
        x = self.data[:, j].astype(np.float64)
        if self.multiplier is not None and self.multiplier[j] != 1.0:
            x *= self.multiplier[j]
        if self.divisor is not None and self.divisor[j] != 1.0:
            x /= self.divisor[j]
        return x

    def factor(self, j: int) -> float:
        """``multiplier[j] / divisor[j]``."""
        m = 1.0 if self.multiplier is None else float(self.multiplier[j])
        d = 1.0 if self.divisor is None else float(self.divisor[j])
        return m / d

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.data.shape[0])


def _from_acquisition(acq) -> GatingInput:
    """Scale values from a cytomics Acquisition, as FlowIO/FlowKit compute them: Time
    multiplied by ``$TIMESTEP``, every other channel divided by ``$PnG`` (when not 0 or 1).
    The float32 events are kept; factors are applied per column when read."""
    p = len(acq.channels)
    mult = np.ones(p, dtype=np.float64)
    div = np.ones(p, dtype=np.float64)
    time_col = acq.time_channel()
    for ch in acq.channels:
        if ch.index == time_col:
            mult[ch.index] = acq.timestep or 1.0
        elif ch.gain not in (0.0, 1.0):
            div[ch.index] = ch.gain
    return GatingInput(
        data=acq.events,
        channels=tuple(ch.name for ch in acq.channels),
        markers=tuple(ch.marker for ch in acq.channels),
        spillover=acq.spillover,
        path=Path(acq.path),
        multiplier=mult,
        divisor=div,
    )


def _from_flowkit(path: Path) -> GatingInput:
    import flowkit

    try:
        sample = flowkit.Sample(str(path), ignore_offset_error=True)
    except Exception as exc:  # flowkit/flowio raise assorted errors for bad files
        raise FCSError(f"unreadable FCS file: {exc}", path=path) from exc
    spill = None
    meta = sample.get_metadata()
    text = meta.get("spillover", meta.get("spill"))
    if text:
        from flowutils.compensate import get_spill

        try:
            matrix, dets = get_spill(text)
            spill = Spillover(
                detectors=tuple(dets),
                matrix=np.asarray(matrix, dtype=np.float64),
                source="$SPILLOVER",
            )
        except Exception:  # an unusable spillover keyword behaves as absent
            spill = None
    return GatingInput(
        data=sample.get_events(source="raw"),
        channels=tuple(sample.pnn_labels),
        markers=tuple(m or None for m in sample.pns_labels),
        spillover=spill,
        path=path,
    )


def load_input(path: str | Path, *, reader: str = "auto") -> GatingInput:
    """Read an FCS file into a :class:`GatingInput`.

    Parameters
    ----------
    path
        FCS file.
    reader
        ``"cytomics"`` (:func:`cytomics.fcs.read_fcs`), ``"flowkit"`` or ``"auto"``
        (cytomics when available).

    Raises
    ------
    FCSError
        (or a subclass) when the file cannot be read.
    """
    p = Path(path)
    if reader == "flowkit":
        return _from_flowkit(p)
    try:
        from cytomics.fcs.reader import read_fcs
    except ImportError:
        if reader == "cytomics":
            raise
        return _from_flowkit(p)
    return _from_acquisition(read_fcs(p))


# --------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------
def transform_column(
    spec: TransformSpec, x: np.ndarray, *, source: Path | None = None
) -> np.ndarray:
    """Apply a Gating-ML transformation to a float64 column (new array).

    ``flin``/``flog`` are closed forms; ``logicle`` and ``fasinh`` use the numba kernels
    of :mod:`cytomics.preprocess.transforms` (exact logicle, agreeing with flowutils to
    ~1e-10); ``hyperlog`` uses flowutils (no cytomics kernel).

    Raises
    ------
    GatingMLError
        Parameters outside their Gating-ML 2.0 domain (``source`` names the template).
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if spec.kind == "linear":
            return (x + spec.A) / (spec.T + spec.A)
        if spec.kind == "log":
            return (1.0 / spec.M) * np.log10(x / spec.T) + 1.0
    if spec.kind in ("logicle", "asinh"):
        from cytomics.errors import ConfigError
        from cytomics.preprocess.model import ChannelTransform
        from cytomics.preprocess.transforms import apply_transform

        kind = "logicle" if spec.kind == "logicle" else "arcsinh"
        try:
            return apply_transform(x, ChannelTransform(kind, spec.T, spec.W, spec.M, spec.A))
        except ConfigError as exc:
            raise GatingMLError(f"transformation parameters: {exc.detail}", path=source) from exc
    if spec.kind == "hyperlog":
        import flowutils.transforms as fut

        out = fut.hyperlog(x.reshape(-1, 1), None, t=spec.T, w=spec.W, m=spec.M, a=spec.A)
        return np.asarray(out, dtype=np.float64).reshape(-1)
    raise GatingMLError(f"unsupported transformation kind {spec.kind!r}", path=source)


# --------------------------------------------------------------------------------------
# column resolution for imported strategies
# --------------------------------------------------------------------------------------
class _Columns:
    """Resolve gate dimensions to columns; cache derived (compensated/transformed) ones."""

    def __init__(self, strategy: GatingStrategy, inp: GatingInput) -> None:
        self.s = strategy
        self.inp = inp
        self.cache: dict[tuple[str, str, str | None], np.ndarray] = {}
        self.inverses: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        fj = [c.replace("/", "_") for c in inp.channels]
        self.lookup: dict[str, int] = {}
        for table in (fj, [m or "" for m in inp.markers], list(inp.channels)):  # PnN wins
            for i, name in enumerate(table):
                if name:
                    self.lookup[name] = i

    def _missing(self, what: str) -> PanelMismatchError:
        src = f" (template {self.s.source})" if self.s.source else ""
        return PanelMismatchError(f"{what}{src}", path=self.inp.path)

    def raw_index(self, name: str) -> int | None:
        return self.lookup.get(name)

    def _matrix(self, ref: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]] | None:
        if ref == "FCS":
            sp = self.inp.spillover
            if sp is None:  # Gating-ML 2.0: 'FCS' without a matrix in the file = uncompensated
                return None
            return sp.detectors, sp.matrix, sp.detectors
        m = self.s.matrices[ref]
        return m.detectors, m.matrix, m.fluorochromes

    def _compensated(self, channel: str, ref: str) -> np.ndarray | int:
        mat = self._matrix(ref)
        idx = self.raw_index(channel)
        if mat is None:
            if idx is None:
                raise self._missing(f"channel {channel!r} not in the file")
            return idx
        detectors, matrix, fluoros = mat
        if idx is not None:
            detector = self.inp.channels[idx]
        elif channel in fluoros:
            detector = detectors[fluoros.index(channel)]
        else:
            raise self._missing(f"channel {channel!r} not in the file nor in matrix {ref!r}")
        if detector not in detectors:
            idx = self.raw_index(detector)
            if idx is None:
                raise self._missing(f"detector {detector!r} not in the file")
            return idx  # not part of the matrix: compensation leaves it unchanged
        key = (detector, ref, None)
        if key in self.cache:
            return self.cache[key]
        if ref not in self.inverses:
            cols = []
            for d in detectors:
                j = self.raw_index(d)
                if j is None:
                    raise self._missing(f"matrix {ref!r} detector {d!r} not in the file")
                cols.append(j)
            try:
                inv = np.linalg.inv(np.asarray(matrix, dtype=np.float64))
            except np.linalg.LinAlgError as exc:
                raise GatingMLError(
                    f"compensation matrix {ref!r} is singular", path=self.s.source
                ) from exc
            self.inverses[ref] = (tuple(cols), inv)
        cols, inv = self.inverses[ref]
        coef = inv[:, detectors.index(detector)] * np.array([self.inp.factor(j) for j in cols])
        col = kernels.linear_combination(self.inp.data, cols, coef)
        self.cache[key] = col
        return col

    def _ratio(self, ref: str) -> np.ndarray:
        key = (ref, "ratio", None)
        if key not in self.cache:
            spec = self.s.ratios[ref]
            i, j = self.raw_index(spec.numerator), self.raw_index(spec.denominator)
            if i is None or j is None:
                raise self._missing(
                    f"ratio {ref!r} channels {spec.numerator!r}/{spec.denominator!r} not in the file"
                )
            x = self.inp.column(i)
            y = self.inp.column(j)
            with np.errstate(divide="ignore", invalid="ignore"):
                self.cache[key] = spec.A * ((x - spec.B) / (y - spec.C))
        return self.cache[key]

    def column(self, dim: Dimension, ref: str) -> np.ndarray | int:
        """float64 column (derived) or an int index into ``inp.data`` (raw, untransformed)."""
        if dim.channel in self.s.ratios:
            base: np.ndarray | int = self._ratio(dim.channel)
            base_key = (dim.channel, "ratio")
        elif ref == UNCOMPENSATED:
            idx = self.raw_index(dim.channel)
            if idx is None:
                raise self._missing(f"channel {dim.channel!r} not in the file")
            base_key = (self.inp.channels[idx], UNCOMPENSATED)
            base = idx
        else:
            base = self._compensated(dim.channel, ref)
            base_key = (dim.channel, ref)
        if isinstance(base, int) and self.inp.is_scaled(base):
            key0 = (self.inp.channels[base], "scaled", None)
            if key0 not in self.cache:
                self.cache[key0] = self.inp.column(base)
            base = self.cache[key0]
        if dim.transform is None:
            return base
        key = (base_key[0], base_key[1], dim.transform)
        if key not in self.cache:
            x = self.inp.column(base) if isinstance(base, int) else base
            self.cache[key] = transform_column(
                self.s.transforms[dim.transform], x, source=self.s.source
            )
        return self.cache[key]

    def matrix_for(self, gate: Gate, dims: Sequence[Dimension]) -> tuple[np.ndarray, list[int]]:
        refs = self.s.compensation.get(gate.id, (UNCOMPENSATED,) * len(dims))
        resolved = [self.column(d, r) for d, r in zip(dims, refs, strict=True)]
        if all(isinstance(r, int) for r in resolved):
            return self.inp.data, [int(r) for r in resolved]
        cols = [self.inp.column(r) if isinstance(r, int) else r for r in resolved]
        return np.ascontiguousarray(np.column_stack(cols)), list(range(len(cols)))


def _geometry_mask(gate: Gate, data: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    if isinstance(gate, RectangleGate):
        return kernels.rectangle_mask(data, cols, gate.mins, gate.maxs)
    if isinstance(gate, PolygonGate):
        return kernels.polygon_mask(data, cols[0], cols[1], gate.vertices)
    if isinstance(gate, EllipsoidGate):
        return kernels.ellipsoid_mask(data, cols, gate.mean, gate.covariance, gate.distance_square)
    raise TypeError(f"gate {gate.id!r}: unsupported gate type {type(gate).__name__}")


def _run(
    gates: Iterable[Gate],
    n_events: int,
    geometry: Callable[[Gate], np.ndarray],
) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    for gate in gates:
        if isinstance(gate, BooleanGate):
            missing = [ref for ref, _ in gate.operands if ref not in masks]
            if missing:
                raise ValueError(
                    f"boolean gate {gate.id!r}: operands {missing} not evaluated before it"
                )
            mask = kernels.combine_masks(
                [masks[ref] for ref, _ in gate.operands],
                gate.op,
                [c for _, c in gate.operands],
            )
        else:
            mask = geometry(gate)
        if gate.parent is not None:
            if gate.parent not in masks:
                raise ValueError(
                    f"gate {gate.id!r}: parent {gate.parent!r} not evaluated before it"
                )
            mask &= masks[gate.parent]
        if mask.shape[0] != n_events:
            raise AssertionError("mask length mismatch")
        masks[gate.id] = mask
    return masks


def evaluate(strategy: GatingStrategy, inp: GatingInput) -> dict[str, np.ndarray]:
    """Evaluate every gate of an imported strategy on one file's events.

    Returns
    -------
    dict
        gate id -> bool ``[n_events]`` membership (parent gates applied), in evaluation
        order.

    Raises
    ------
    PanelMismatchError
        A channel the template needs is missing from the file.
    GatingMLError
        The template's compensation matrix is singular.
    """
    resolver = _Columns(strategy, inp)

    def geometry(gate: Gate) -> np.ndarray:
        data, cols = resolver.matrix_for(gate, gate.dimensions)
        return _geometry_mask(gate, data, cols)

    return _run(strategy.gates, inp.n_events, geometry)


def _order(gates: Sequence[Gate]) -> list[Gate]:
    by_id = {g.id: g for g in gates}
    done: dict[str, Gate] = {}

    def visit(g: Gate, stack: tuple[str, ...]) -> None:
        if g.id in done:
            return
        if g.id in stack:
            raise ValueError(f"cyclic gate dependency through {g.id!r}")
        deps = ([g.parent] if g.parent else []) + (
            [r for r, _ in g.operands] if isinstance(g, BooleanGate) else []
        )
        for d in deps:
            if d not in by_id:
                raise ValueError(f"gate {g.id!r} references unknown gate {d!r}")
            visit(by_id[d], (*stack, g.id))
        done[g.id] = g

    for g in gates:
        visit(g, ())
    return list(done.values())


def evaluate_on_events(gates: Sequence[Gate], events) -> dict[str, np.ndarray]:
    """Evaluate cytomics gates drawn on :class:`~cytomics.preprocess.model.Events` columns.

    A dimension's ``channel`` is a ``$PnN`` (or panel marker) of ``events``; its values are
    read as they are in ``events.values`` (compensated/transformed by pre-processing). Its
    ``compensated``/``transform`` must describe that column (transform key
    ``"<kind>_<$PnN>"``, ``None`` for ``kind="none"``) so that the export reproduces it;
    a mismatch raises ``ValueError`` (a bug in the caller).

    Returns
    -------
    dict
        gate id -> bool membership (parents applied).
    """
    values = events.values

    def geometry(gate: Gate) -> np.ndarray:
        try:
            cols = [events.column(d.channel) for d in gate.dimensions]
        except KeyError as exc:
            raise PanelMismatchError(
                f"gate {gate.id!r} needs channel {exc.args[0]!r}", path=events.acquisition.path
            ) from exc
        for d, j in zip(gate.dimensions, cols, strict=True):
            t = events.transforms[j]
            key = None if t.kind == "none" else f"{t.kind}_{events.acquisition.channels[j].name}"
            if d.transform != key or d.compensated != events.is_compensated(j):
                raise ValueError(
                    f"gate {gate.id!r}: dimension {d} does not describe events column {j} "
                    f"(transform {key!r}, compensated={events.is_compensated(j)})"
                )
        return _geometry_mask(gate, values, cols)

    return _run(_order(gates), events.n_events, geometry)


# --------------------------------------------------------------------------------------
# counts and batch
# --------------------------------------------------------------------------------------
def count_rows(
    gates: Sequence[Gate], masks: Mapping[str, np.ndarray], n_total: int, *, file: str = ""
) -> list[dict[str, str]]:
    """One row per gate: count, % of parent (of total for root gates), % of total."""
    counts = {gid: int(np.count_nonzero(m)) for gid, m in masks.items()}
    rows = []
    for g in gates:
        c = counts[g.id]
        parent_n = counts[g.parent] if g.parent is not None else n_total
        rows.append(
            {
                "file": file,
                "gate_id": g.id,
                "parent": g.parent or "",
                "count": str(c),
                "pct_of_parent": f"{100.0 * c / parent_n:.4f}" if parent_n else "0.0000",
                "pct_of_total": f"{100.0 * c / n_total:.4f}" if n_total else "0.0000",
                "status": "ok",
                "error": "",
            }
        )
    return rows


def _labels(
    strategy: GatingStrategy, masks: Mapping[str, np.ndarray], n: int
) -> tuple[np.ndarray, dict[str, str]]:
    parents = {g.parent for g in strategy.gates if g.parent is not None}
    leaves = [g.id for g in strategy.gates if g.id not in parents]
    if len(leaves) > 255:
        raise GatingMLError(
            "more than 255 leaf gates: cannot encode uint8 labels", path=strategy.source
        )
    labels = np.zeros(n, dtype=np.uint8)
    for code, gid in enumerate(leaves, start=1):
        labels[masks[gid]] = code
    codes = {"0": "ungated", **{str(k): gid for k, gid in enumerate(leaves, start=1)}}
    return labels, codes


def apply_template(
    template: str | Path | GatingStrategy,
    fcs_paths: Sequence[str | Path],
    *,
    labels_dir: str | Path | None = None,
    reader: str = "auto",
    progress: Callable[[Path], None] | None = None,
) -> list[dict[str, str]]:
    """Apply a Gating-ML template to a batch of FCS files.

    Parameters
    ----------
    template
        Gating-ML file (or an already imported strategy).
    fcs_paths
        FCS files.
    labels_dir
        If given, write ``<stem>.labels.npy`` (uint8 per event: 1-based leaf-gate code of
        the last leaf gate containing the event, 0 = none) and ``<stem>.label_codes.json``.
    reader
        FCS reader, see :func:`load_input`.
    progress
        Called with each path before it is processed.

    Returns
    -------
    list of dict
        Count rows (:data:`COUNT_COLUMNS`); a file that cannot be read or lacks a channel
        gives one row with ``status="rejected"`` and ``error="<code>: <message>"``.

    Raises
    ------
    GatingMLError
        The template itself is invalid.
    """
    strategy = template if isinstance(template, GatingStrategy) else read_gatingml(template)
    out_dir = Path(labels_dir) if labels_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for raw_path in fcs_paths:
        path = Path(raw_path)
        if progress is not None:
            progress(path)
        try:
            inp = load_input(path, reader=reader)
            masks = evaluate(strategy, inp)
        except CytomicsInputError as exc:
            if isinstance(exc, GatingMLError) and exc.path == strategy.source:
                raise
            rows.append(
                dict.fromkeys(COUNT_COLUMNS, "")
                | {"file": str(path), "status": "rejected", "error": f"{exc.code}: {exc.detail}"}
            )
            continue
        rows.extend(count_rows(strategy.gates, masks, inp.n_events, file=str(path)))
        if out_dir is not None:
            labels, codes = _labels(strategy, masks, inp.n_events)
            np.save(out_dir / f"{path.stem}.labels.npy", labels)
            (out_dir / f"{path.stem}.label_codes.json").write_text(
                json.dumps(codes, indent=1) + "\n"
            )
    return rows


def write_counts(rows: Sequence[Mapping[str, str]], path: str | Path | None) -> str:
    """Write count rows as TSV to ``path`` (atomically) or return the TSV text if ``None``."""
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COUNT_COLUMNS), delimiter="\t", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COUNT_COLUMNS})
    text = buf.getvalue()
    if path is not None:
        out = Path(path)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    return text
