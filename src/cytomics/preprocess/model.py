"""Data model of pre-processed events (compensated + transformed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from cytomics.fcs.model import Acquisition, Spillover

TransformKind = Literal["logicle", "arcsinh", "linear", "none"]


@dataclass(frozen=True, slots=True)
class ChannelTransform:
    """How one column was put on its display scale.

    All scales follow the Gating-ML 2.0 conventions so that gates drawn on them export
    as-is: ``logicle`` (flogicle, T/W/M/A; output ~[0, 1], T maps to 1), ``arcsinh``
    (fasinh, T/M/A; output ~[0, 1]), ``linear`` (flin, T/A: (x + A) / (T + A)), ``none``
    (raw values; e.g. Time in seconds).

    Attributes
    ----------
    kind
        Transform family.
    T, W, M, A
        Parameters (W is unused by arcsinh/linear; M, W unused by linear).
    """

    kind: TransformKind
    T: float = 262144.0
    W: float = 0.5
    M: float = 4.5
    A: float = 0.0


@dataclass(slots=True)
class Events:
    """Pre-processed events of one acquisition.

    Attributes
    ----------
    acquisition
        The source :class:`~cytomics.fcs.model.Acquisition` (raw, linear events).
    values
        float32 ``[n_events, n_channels]``, same columns as ``acquisition.events``: each
        column compensated (if listed in ``spillover``) and transformed by ``transforms[j]``.
    transforms
        One :class:`ChannelTransform` per column.
    spillover
        The spillover matrix applied, or ``None`` when no compensation was done.
    markers
        Canonical marker name (panel) -> column index; empty without a panel.
    time_seconds
        float64 acquisition time of each event in seconds, or ``None`` without a Time channel.
    raw_overwritten
        ``True`` when pre-processing wrote ``values`` over ``acquisition.events`` (in place);
        use :meth:`raw_column` for raw values then.
    """

    acquisition: Acquisition
    values: np.ndarray
    transforms: tuple[ChannelTransform, ...]
    spillover: Spillover | None = None
    markers: dict[str, int] = field(default_factory=dict)
    time_seconds: np.ndarray | None = None
    raw_overwritten: bool = False

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.values.shape[0])

    def column(self, marker_or_channel: str) -> int:
        """Column of a panel marker (canonical name) or, failing that, a ``$PnN`` name."""
        if marker_or_channel in self.markers:
            return self.markers[marker_or_channel]
        return self.acquisition.channel_index(marker_or_channel)

    def raw_column(self, column: int) -> np.ndarray:
        """Raw (linear, uncompensated) values of one column.

        A view of ``acquisition.events`` normally; after in-place pre-processing, the inverse
        transform of ``values`` (exact for scatter on a power-of-two ``$PnR``, else within
        one float32 ulp). Compensated columns cannot be recovered once overwritten.

        Raises
        ------
        ValueError
            For a compensated column after in-place pre-processing (a programming error).
        """
        if not self.raw_overwritten:
            return self.acquisition.events[:, column]
        if self.is_compensated(column):
            raise ValueError(
                f"raw values of compensated column {column} were overwritten in place"
            )
        from cytomics.preprocess.transforms import inverse_transform

        transform = self.transforms[column]
        if transform.kind == "none":
            return self.values[:, column]
        return np.asarray(
            inverse_transform(self.values[:, column], transform), dtype=np.float32
        )

    def is_compensated(self, column: int) -> bool:
        """Whether column ``column`` was compensated."""
        if self.spillover is None:
            return False
        return self.acquisition.channels[column].name in self.spillover.detectors
