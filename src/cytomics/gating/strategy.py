"""Shared hierarchy runner: build gate objects on :class:`Events` and evaluate them.

Automated strategies (ALOT, later MRD) decide *where* gates go; this module turns those
decisions into :mod:`cytomics.gating.gates` objects whose dimensions name the FCS channels
and transforms (so they export to Gating-ML), evaluates a gate list on the events (each
gate's mask is its own membership AND its parent's mask), and assigns per-event labels
from terminal gates. Labels are therefore always *computed from the gates*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from cytomics.gating.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    Gate,
    PolygonGate,
    RectangleGate,
)
from cytomics.preprocess.model import Events

__all__ = ["GateBuilder", "assign_labels", "dimension_of", "evaluate_gates", "transform_key"]


def transform_key(events: Events, column: int) -> str | None:
    """Key naming the transform of ``column`` (``"<kind>_<$PnN>"``), ``None`` for raw."""
    t = events.transforms[column]
    if t.kind == "none":
        return None
    return f"{t.kind}_{events.acquisition.channels[column].name}"


def dimension_of(events: Events, column: int) -> Dimension:
    """The gate :class:`Dimension` of an event column (channel, compensation, transform)."""
    return Dimension(
        channel=events.acquisition.channels[column].name,
        compensated=events.is_compensated(column),
        transform=transform_key(events, column),
    )


def _polygon(data: np.ndarray, cx: int, cy: int, vertices: np.ndarray) -> np.ndarray:
    try:
        from cytomics.gating.kernels import polygon_mask
    except ImportError:  # pragma: no cover - kernels module not available yet
        from cytomics.gating.density import points_in_polygon

        return points_in_polygon(data[:, cx], data[:, cy], vertices)
    return polygon_mask(data, cx, cy, vertices)


def _rectangle(data: np.ndarray, cols: Sequence[int], mins, maxs) -> np.ndarray:
    try:
        from cytomics.gating.kernels import rectangle_mask
    except ImportError:  # pragma: no cover
        out = np.ones(data.shape[0], dtype=bool)
        for c, lo, hi in zip(cols, mins, maxs, strict=True):
            v = data[:, c]
            if lo is not None:
                out &= v >= lo
            if hi is not None:
                out &= v < hi
        return out
    return rectangle_mask(data, list(cols), list(mins), list(maxs))


def evaluate_gates(
    gates: Sequence[Gate],
    events: Events,
    *,
    root_mask: np.ndarray | None = None,
    external: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Evaluate gates in order (parents before children); returns gate id -> bool mask.

    Parameters
    ----------
    gates
        Gates, each parent listed before its children (or present in ``external``).
    events
        The events (display scale).
    root_mask
        Mask applied to gates whose parent is ``None`` (default: all events).
    external
        Masks of gates evaluated elsewhere (e.g. QC gates), referenced as parents/operands.
    """
    data = events.values
    n = events.n_events
    masks: dict[str, np.ndarray] = dict(external or {})
    root = np.ones(n, dtype=bool) if root_mask is None else np.asarray(root_mask, dtype=bool)

    def col(dim: Dimension) -> int:
        return events.acquisition.channel_index(dim.channel)

    for g in gates:
        if isinstance(g, PolygonGate):
            own = _polygon(data, col(g.dimensions[0]), col(g.dimensions[1]), g.vertices)
        elif isinstance(g, RectangleGate):
            own = _rectangle(data, [col(d) for d in g.dimensions], g.mins, g.maxs)
        elif isinstance(g, EllipsoidGate):
            x = data[:, [col(d) for d in g.dimensions]].astype(np.float64) - g.mean
            inv = np.linalg.inv(g.covariance)
            own = np.einsum("ij,jk,ik->i", x, inv, x) <= g.distance_square
        elif isinstance(g, BooleanGate):
            ops = [(~masks[i] if comp else masks[i]) for i, comp in g.operands]
            if g.op == "and":
                own = np.logical_and.reduce(ops)
            elif g.op == "or":
                own = np.logical_or.reduce(ops)
            elif g.op == "not":
                own = ~ops[0]
            else:
                raise ValueError(f"unknown boolean op {g.op!r} in gate {g.id}")
        else:  # pragma: no cover - programming error
            raise TypeError(f"unsupported gate type {type(g).__name__}")
        parent = root if g.parent is None else masks[g.parent]
        masks[g.id] = own & parent
    return masks


def assign_labels(
    base: np.ndarray,
    masks: Mapping[str, np.ndarray],
    terminals: Iterable[tuple[str, int]],
) -> np.ndarray:
    """Labels from terminal gates: start from a copy of ``base`` (uint8), then set each
    terminal gate's code where its mask holds.

    Terminal gates are expected to be disjoint; if two overlap, the later one wins (and
    the caller's tests should catch it).
    """
    lab = np.asarray(base, dtype=np.uint8).copy()
    for gid, code in terminals:
        lab[masks[gid]] = np.uint8(code)
    return lab


class GateBuilder:
    """Collects gates with unique ids; small helpers for the gate shapes strategies use."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self.gates: list[Gate] = []
        self._ids: set[str] = set()

    def _add(self, gate: Gate) -> str:
        if gate.id in self._ids:
            raise ValueError(f"duplicate gate id {gate.id}")
        self._ids.add(gate.id)
        self.gates.append(gate)
        return gate.id

    def polygon(
        self, gid: str, parent: str | None, cx: int, cy: int, vertices: np.ndarray
    ) -> str:
        """Add a polygon gate on columns ``cx`` (x) and ``cy`` (y)."""
        dims = (dimension_of(self.events, cx), dimension_of(self.events, cy))
        v = np.asarray(vertices, dtype=np.float64)
        return self._add(PolygonGate(id=gid, parent=parent, dimensions=dims, vertices=v))

    def rectangle(
        self,
        gid: str,
        parent: str | None,
        bounds: Mapping[int, tuple[float | None, float | None]],
    ) -> str:
        """Add a rectangle gate: column -> (min or None, max or None)."""
        cols = list(bounds)
        return self._add(
            RectangleGate(
                id=gid,
                parent=parent,
                dimensions=tuple(dimension_of(self.events, c) for c in cols),
                mins=tuple(None if bounds[c][0] is None else float(bounds[c][0]) for c in cols),
                maxs=tuple(None if bounds[c][1] is None else float(bounds[c][1]) for c in cols),
            )
        )

    def boolean(
        self, gid: str, parent: str | None, op: str, operands: Sequence[tuple[str, bool]]
    ) -> str:
        """Add a Boolean gate (``op`` in and/or/not) over (gate id, complement) pairs."""
        return self._add(BooleanGate(id=gid, parent=parent, op=op, operands=tuple(operands)))
