"""Data model of one acquired FCS data set (the output of ingestion)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class Channel:
    """One FCS parameter.

    Attributes
    ----------
    index
        0-based column in :attr:`Acquisition.events`.
    name
        ``$PnN`` (detector/channel name, e.g. ``"PE-Cy7-A"``).
    marker
        ``$PnS`` stripped, or ``None`` when blank/absent.
    range
        ``$PnR`` as float (e.g. 262144.0).
    bits
        ``$PnB``.
    log_decades, log_offset
        ``$PnE`` (f1, f2) as written; ``(0.0, 0.0)`` for linear. Integer data with
        ``f1 > 0`` have already been linearised by the reader.
    gain
        ``$PnG`` (1.0 when absent).
    voltage
        ``$PnV`` or ``None``.
    """

    index: int
    name: str
    marker: str | None
    range: float
    bits: int
    log_decades: float = 0.0
    log_offset: float = 0.0
    gain: float = 1.0
    voltage: float | None = None

    @property
    def is_scatter(self) -> bool:
        """True for forward/side scatter channels (FSC*, SSC*, FS*, SS*)."""
        n = self.name.upper()
        return n.startswith(("FSC", "SSC", "FS ", "SS ", "FS-", "SS-")) or n in {"FS", "SS"}

    @property
    def is_time(self) -> bool:
        """True for the Time channel."""
        return self.name.strip().upper() in {"TIME", "HDR-T", "TIME1"}


@dataclass(frozen=True, slots=True)
class Spillover:
    """A spillover matrix S (rows: source detector, columns: receiving detector).

    Compensated = raw[:, detectors] @ inv(S).

    Attributes
    ----------
    detectors
        ``$PnN`` names of the compensated channels, in matrix order.
    matrix
        float64 array ``[k, k]``.
    source
        Where it came from: the keyword name (``"$SPILLOVER"``, ``"SPILL"``, ...) or the
        path of a lab override CSV.
    """

    detectors: tuple[str, ...]
    matrix: np.ndarray
    source: str


@dataclass(slots=True)
class Acquisition:
    """One FCS data set as read from disk, with linear-scale events.

    Attributes
    ----------
    path
        The file read (never modified).
    sha256
        Hex SHA-256 of the whole file.
    fcs_version
        ``"2.0"``, ``"3.0"`` or ``"3.1"`` (from the HEADER of the data set read).
    keywords
        TEXT keywords (names upper-cased, stripped; values stripped).
    channels
        One :class:`Channel` per column of :attr:`events`.
    events
        float32 ``[n_events, n_channels]``, C-contiguous, linear scale (integer data masked
        to ``$PnR`` bits and log-amplified channels linearised). Time stays in raw units.
    spillover
        The file's own spillover matrix, or ``None``.
    data_set
        0-based index of the data set read (multi-data-set files).
    warnings
        Human-readable notes about quirks handled while reading.
    """

    path: Path
    sha256: str
    fcs_version: str
    keywords: dict[str, str]
    channels: tuple[Channel, ...]
    events: np.ndarray
    spillover: Spillover | None = None
    data_set: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        """Number of events (rows)."""
        return int(self.events.shape[0])

    @property
    def n_channels(self) -> int:
        """Number of parameters (columns)."""
        return int(self.events.shape[1])

    @property
    def cytometer(self) -> str | None:
        """``$CYT`` or ``None``."""
        return self.keywords.get("$CYT") or None

    @property
    def timestep(self) -> float | None:
        """``$TIMESTEP`` in seconds, or ``None`` when absent/invalid."""
        raw = self.keywords.get("$TIMESTEP")
        try:
            value = float(raw) if raw is not None else None
        except ValueError:
            return None
        return value if value is not None and value > 0 else None

    def channel_index(self, name: str) -> int:
        """Return the column index of a channel by ``$PnN`` (exact, then case-insensitive).

        Raises
        ------
        KeyError
            If no channel has that name (a programming error, not bad input).
        """
        for ch in self.channels:
            if ch.name == name:
                return ch.index
        lowered = name.lower()
        for ch in self.channels:
            if ch.name.lower() == lowered:
                return ch.index
        raise KeyError(name)

    def time_channel(self) -> int | None:
        """Index of the Time channel, or ``None``."""
        for ch in self.channels:
            if ch.is_time:
                return ch.index
        return None
