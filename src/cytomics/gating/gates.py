"""Gate geometry: what automated gating produces and Gating-ML 2.0 import/export speaks.

Coordinates are in the *display scale* of :class:`cytomics.preprocess.model.Events`
(compensated where the dimension is compensated, then transformed by the column's
:class:`~cytomics.preprocess.model.ChannelTransform`), so a gate exports to Gating-ML with
the compensation and transform references of its dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Dimension:
    """A gate axis.

    Attributes
    ----------
    channel
        ``$PnN`` of the FCS channel.
    compensated
        Whether the axis is on compensated values.
    transform
        Transform applied before gating: a key of the transforms table of the gating
        strategy (e.g. ``"logicle_FITC-A"``), or ``None`` for raw linear values.
    """

    channel: str
    compensated: bool = False
    transform: str | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """Base of all gates. ``parent`` is the id of the parent gate, or ``None`` for root."""

    id: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class RectangleGate(Gate):
    """Hyper-rectangle; ``None`` in ``mins``/``maxs`` leaves that side open. Inclusive
    minimum, exclusive maximum (Gating-ML 2.0 §5.3.1)."""

    dimensions: tuple[Dimension, ...] = ()
    mins: tuple[float | None, ...] = ()
    maxs: tuple[float | None, ...] = ()


@dataclass(frozen=True, slots=True)
class PolygonGate(Gate):
    """2-D polygon (even-odd rule for non-simple polygons, as Gating-ML 2.0)."""

    dimensions: tuple[Dimension, Dimension] = (Dimension(""), Dimension(""))
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


@dataclass(frozen=True, slots=True)
class EllipsoidGate(Gate):
    """Ellipse/ellipsoid: (x - mean)^T inv(cov) (x - mean) <= distance_square."""

    dimensions: tuple[Dimension, ...] = ()
    mean: np.ndarray = field(default_factory=lambda: np.zeros(2))
    covariance: np.ndarray = field(default_factory=lambda: np.eye(2))
    distance_square: float = 1.0


@dataclass(frozen=True, slots=True)
class BooleanGate(Gate):
    """``op`` in {"and", "or", "not"} over other gates: (gate id, complement) pairs."""

    op: str = "and"
    operands: tuple[tuple[str, bool], ...] = ()
