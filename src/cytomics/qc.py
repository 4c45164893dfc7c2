"""Event quality control: margins → time stability → doublets → debris.

:func:`run_qc` removes, in this order (DOMAIN §3.1, PeacoQC/flowAI in spirit):

1. **margins** – off-scale scatter on FSC-A, SSC-A, FSC-H (optionally fluorescence);
2. **time_unstable** – time bins with an abnormal flow rate or a jump in the mean signal;
3. **doublet** – FSC-A/(FSC-H + offset) above ``median + nmad * MAD`` (PeacoQC
   ``RemoveDoublets``; FSC-W above ``median + nmad * MAD`` when there is no FSC-H);
4. **debris** – low FSC-A **and** low-to-moderate SSC-A (see *Debris rule* below).

Each step only looks at the events still kept; a removed event carries the label of the first
step that removed it (:data:`cytomics.populations.LABEL_CODES`), survivors get
``unclassified``. Every step that removes events also yields a gate whose parent is the
previous step's gate, so that evaluating the chain reproduces ``keep`` exactly. Gates use
``Dimension(channel=$PnN, compensated=False, transform=None)``, i.e. Gating-ML 2.0 / FlowKit
*scale values*: raw linear values divided by ``$PnG`` (when not 0 or 1), and Time multiplied
by ``$TIMESTEP`` (= ``Events.time_seconds``). Semantics: rectangle min inclusive, max
exclusive; thresholds are representable in the column's dtype (float32 raw values) so float32
and float64 evaluators agree; the singlet polygon matches the ratio rule up to float rounding
of points lying exactly on its edges.

Margin rule (documented for pnr-nominal instruments)
----------------------------------------------------
For each margin channel, over the events still kept, with ``R`` the channel's effective range
(``$PnR``; ``f2 * 10**f1`` for log-amplified integer channels):

* *upper*: if the maximum reaches ``R * (1 - margin_tolerance)`` every event at or above that
  value is removed; otherwise, if the events exactly at the maximum form a **pile** (at least
  ``margin_spike_min_events`` and ``margin_spike_factor`` times more than the average count per
  distinct value in the band just below the maximum), those events are removed. MACSQuant
  floats exceed a nominal ``$PnR``: there the maximum is a single event, not a pile, and nothing
  is removed;
* *lower*: events below ``-margin_negative_factor * R`` (pulse-processing artefacts such as the
  23 FSC-A < -4.7e6 events of CytoExploreR ``Compensation-Unstained.fcs``) and, with
  ``margin_low_spike``, a pile at the minimum.

Debris rule
-----------
On the smoothed FSC-A density of the events still kept (log10 for log-amplified integer data):
the *debris mode* is the first peak near zero (at most ``debris_peak_max_position`` of the way
to the next significant peak); the *smallest cells* are the first significant peak above it
(lymphocytes/NRBC, not the highest peak). The FSC-A cut ``t_f`` is the lowest point between
them, i.e. the **first** valley above the debris mode — the deeper valley between
lymphocytes and granulocytes is never a debris boundary. The valley is read on the density
per log-FSC-A unit (``FSC-A x density``, ``debris_log_axis_valley``), where the debris tail
flattens where it ends, and a *minor* peak there (1 % lymphocytes next to 95 % large blasts,
``debris_minor_peak_*``: prominence relative to the debris mode, Poisson noise, position
relative to the big peak) ends the search: the cut lies below the smallest nucleated cells,
not in the dip just below a dominant large-cell population. Both only lower the plain
(linear-density) valley, and only when at most ``debris_valley_max_shift`` of the events lie
between the two (a thin valley floor; a plateau of many events stays below the cut). Without a debris mode or a deep
enough valley the cut falls back to ``debris_fallback_peak_fraction`` x the smallest cells'
FSC-A (``debris_threshold_fallback``; with no cell peak at all a low quantile). A cut that
would remove more than ``debris_cap_fraction`` of events is kept only when the valley is
clearly deep (``debris_above_cap``), otherwise it is capped at that quantile
(``debris_capped``). The SSC-A limit ``t_s`` is median + ``debris_ssc_nmad`` x MAD of
log10 SSC-A below ``t_f`` (robust to a few high-SSC cells there). Debris = ``FSC-A < t_f and SSC-A < t_s``; the
gate ``qc_nondebris`` is the complementary L-shaped PolygonGate in FSC-A/SSC-A (a
RectangleGate on FSC-A when there is no SSC-A). ``t_f``/``t_s`` are midpoints of adjacent
float32 values, so no event lies on a polygon edge and every evaluator agrees exactly.

Implementation (speed and memory at millions of events)
--------------------------------------------------------
No scatter column is materialised from the event matrix: kernels read the raw values in
place through a :class:`ScaleColumn` (after in-place pre-processing, the float32-rounded
inverse ``flin`` of the display value, exactly :meth:`Events.raw_column`). One fused pass
(:func:`cytomics.qc_kernels.margin_pass`) gives the margin statistics of all scatter
channels, lists the events any margin bound can remove (removed by index) and copies
FSC-A/SSC-A/FSC-H as raw float32 (12 bytes per event) for the doublet and debris passes,
which then no longer stream the whole matrix. Samples, statistics and thresholds are those
of the channel-by-channel algorithm, so results are identical to it. Kernels run in
parallel over event chunks from :data:`PARALLEL_MIN_EVENTS` events on (on one thread below,
see :func:`_qc_threads`).

Flags (``QCResult.flags``; human text in ``QCResult.messages``)
----------------------------------------------------------------
Skipped steps: ``margins_skipped_no_scatter``, ``time_qc_skipped_no_time``,
``time_qc_skipped_too_few_events``, ``time_qc_skipped_not_monotonic``,
``time_qc_skipped_constant_time``, ``time_qc_skipped_low_resolution``,
``time_qc_not_applied_excessive``, ``doublets_skipped_no_fsc_pair``,
``doublets_skipped_too_few_events``, ``doublets_skipped_degenerate``, ``debris_skipped_no_fsc``,
``debris_skipped_too_few_events``, ``no_events``. Method notes: ``doublets_by_width``,
``debris_threshold_fallback``, ``debris_capped``. Large removals: ``high_margin_fraction``,
``high_time_fraction``, ``high_doublet_fraction``, ``high_debris_fraction``,
``debris_above_cap``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from cytomics import qc_kernels as K
from cytomics.errors import ConfigError
from cytomics.fcs.model import Acquisition, Channel
from cytomics.gating.gates import BooleanGate, Dimension, Gate, PolygonGate, RectangleGate
from cytomics.order_stats import median as _median
from cytomics.order_stats import quantiles as _quantiles
from cytomics.peaks import find_peaks
from cytomics.populations import LABEL_CODES
from cytomics.preprocess.model import Events

CODE_MARGIN = LABEL_CODES["margin"]
CODE_TIME = LABEL_CODES["time_unstable"]
CODE_DOUBLET = LABEL_CODES["doublet"]
CODE_DEBRIS = LABEL_CODES["debris"]
CODE_KEPT = LABEL_CODES["unclassified"]

STEPS = ("margins", "time", "doublets", "debris")

#: below this many events the QC kernels run on one thread: waking the worker threads of a
#: parallel region costs more than it saves on small files (much more on a busy machine)
PARALLEL_MIN_EVENTS = 1_000_000


def _qc_threads(n: int, threads: int) -> int:
    """Threads for the QC kernels: one below :data:`PARALLEL_MIN_EVENTS` events, else all
    numba threads. The thread budget of a process is set from outside (the workflow gives
    each sample job ``threads`` cores through ``NUMBA_NUM_THREADS``), so parallel regions
    do not wait for workers that get no core."""
    if n < PARALLEL_MIN_EVENTS or threads <= 1:
        return 1
    return threads


@dataclass(frozen=True, slots=True)
class QCSettings:
    """Thresholds of :func:`run_qc` (all configurable under ``qc:`` in the config).

    Attributes
    ----------
    margin_tolerance
        Relative distance below the effective range at which scatter counts as saturated (0.001).
    margin_negative_factor
        Events below ``-factor * range`` are margin events (1.0).
    margin_spike_min_events
        Minimum events exactly at the maximum to call a pile (5).
    margin_spike_factor
        A pile must hold this many times the mean count per distinct value in the band below
        the maximum (10.0).
    margin_spike_band
        Width of that band, as a fraction of (maximum − median) (0.02).
    margin_low_spike
        Also remove a pile at the minimum (True; PeacoQC removes events at the minimum too).
    margin_fluorescence
        Also remove fluorescence saturation piles (False).
    margin_max_pile_fraction
        A "pile" holding more than this fraction of events is not a margin: the channel is
        constant and left alone (0.5).
    margin_max_fraction
        Flag ``high_margin_fraction`` above this removed fraction (0.1).
    time_events_per_bin
        Target events per time bin (500).
    time_min_bins, time_max_bins
        Bounds on the number of time bins (10, 1000).
    time_min_events
        Time QC is skipped below this many events (1000).
    time_monotonic_min_fraction
        Fraction of non-decreasing Time steps required; below it time QC is skipped (0.99).
    time_min_nonempty_fraction
        Fraction of non-empty bins required (coarse Time resolution otherwise) (0.5).
    time_rate_nmad, time_rate_min_rel
        A bin's event count is abnormal beyond ``nmad`` robust SDs and at least ``min_rel`` of
        the median count (5.0, 0.2).
    time_signal_nmad, time_signal_min_delta
        A bin's mean (clipped) signal is abnormal beyond ``nmad`` robust SDs and at least
        ``min_delta`` of the channel's 0.5–99.5 % range (5.0, 0.05).
    time_signal_min_bin_events
        Bins with fewer events are not judged on signal (20).
    time_max_signal_channels
        Signal channels followed over time (12).
    time_min_good_run
        Runs of good bins shorter than this between bad bins are removed too (3).
    time_refine_factor
        Boundaries of flagged segments are searched on bins this many times finer (8; 1 =
        whole coarse bins).
    time_max_fraction
        Flag ``high_time_fraction`` above this removed fraction (0.2).
    time_abort_fraction
        Above this fraction nothing is removed and ``time_qc_not_applied_excessive`` is flagged
        (0.8).
    doublet_nmad
        PeacoQC ``RemoveDoublets`` ``nmad`` (4.0).
    doublet_lower_nmad
        Optional lower limit of the ratio (``None``: one-sided as PeacoQC).
    doublet_ratio_offset
        ``ratio = FSC-A / (FSC-H + offset)`` in raw units (1.0 as PeacoQC).
    doublet_max_fraction
        Flag ``high_doublet_fraction`` above this removed fraction (0.2).
    debris_bins, debris_smooth_bins
        FSC-A histogram bins and Gaussian smoothing SD in bins (256, 3.0).
    debris_min_peak_fraction
        Minimum peak prominence relative to the highest density (0.02).
    debris_cell_peak_fraction
        A peak of real cells reaches this fraction of the highest density (0.1).
    debris_peak_max_position
        The debris mode lies at most this fraction of the smallest cells' FSC-A (0.35).
    debris_valley_max_ratio
        The valley must be at most this fraction of the lower of its two peaks (0.6).
    debris_fallback_peak_fraction
        Without a valley, the cut is this fraction of the smallest cells' FSC-A (0.35).
    debris_fallback_quantile
        FSC-A quantile used as threshold when there is no cell peak at all (0.01).
    debris_cap_fraction
        A cut removing more than this fraction of events needs a clearly deep valley,
        otherwise it is capped at this quantile (0.4).
    debris_clear_valley_ratio
        A valley this deep (relative to its lower peak) is trusted beyond the cap (0.25).
    debris_log_axis_valley
        Look for the valley (and minor cell peaks) on the density per log-FSC-A unit,
        ``FSC-A x density``, as on a log-FSC display: the slowly decaying debris tail is
        flattened there, so the cut sits where that tail ends, below the smallest cells
        rather than in the dip just below a dominant large-cell peak (True).
    debris_minor_peak_prominence
        A minor population between the debris mode and the first big cell peak (e.g. 1 %
        lymphocytes next to 95 % large blasts) counts as the smallest cells when its peak
        stands out by this fraction of the debris mode's height (same density) (0.15).
    debris_minor_peak_nsd
        ... and by this many Poisson standard deviations of the smoothed counts (4.0).
    debris_minor_peak_min_position
        ... and lies at at least this fraction of the big cell peak's FSC-A (lymphocytes are
        about half the FSC of granulocytes or myeloid blasts; lower bumps are debris) (0.4).
    debris_valley_max_shift
        The two rules above may lower the cut below the plain (linear-density) valley only
        when at most this fraction of the events lies between the two cuts: a minority
        population in the thin floor of a deep valley is spared, a plateau holding many
        events (dead cells, red cells in mouse spleen) stays below the cut (0.05).
    debris_ssc_nmad
        SSC-A limit of debris: median + nmad x MAD of log10 SSC-A below the FSC-A cut (4.0).
    debris_ssc_min_events
        Below this many events under the FSC-A cut no SSC-A limit is used (20).
    debris_max_fraction
        Flag ``high_debris_fraction`` above this removed fraction (0.3).
    stats_max_events
        Robust statistics use a strided subsample of at most this many events (1_000_000).
    """

    margin_tolerance: float = 0.001
    margin_negative_factor: float = 1.0
    margin_spike_min_events: int = 5
    margin_spike_factor: float = 10.0
    margin_spike_band: float = 0.02
    margin_low_spike: bool = True
    margin_fluorescence: bool = False
    margin_max_pile_fraction: float = 0.5
    margin_max_fraction: float = 0.1
    time_events_per_bin: int = 500
    time_min_bins: int = 10
    time_max_bins: int = 1000
    time_min_events: int = 1000
    time_monotonic_min_fraction: float = 0.99
    time_min_nonempty_fraction: float = 0.5
    time_rate_nmad: float = 5.0
    time_rate_min_rel: float = 0.2
    time_signal_nmad: float = 5.0
    time_signal_min_delta: float = 0.05
    time_signal_min_bin_events: int = 20
    time_max_signal_channels: int = 12
    time_min_good_run: int = 3
    time_refine_factor: int = 16
    time_max_fraction: float = 0.2
    time_abort_fraction: float = 0.8
    doublet_nmad: float = 4.0
    doublet_lower_nmad: float | None = None
    doublet_ratio_offset: float = 1.0
    doublet_max_fraction: float = 0.2
    debris_bins: int = 256
    debris_smooth_bins: float = 3.0
    debris_min_peak_fraction: float = 0.02
    debris_peak_max_position: float = 0.35
    debris_valley_max_ratio: float = 0.6
    debris_cell_peak_fraction: float = 0.1
    debris_fallback_peak_fraction: float = 0.35
    debris_fallback_quantile: float = 0.01
    debris_cap_fraction: float = 0.4
    debris_clear_valley_ratio: float = 0.25
    debris_log_axis_valley: float = 1.0
    debris_minor_peak_prominence: float = 0.15
    debris_minor_peak_nsd: float = 4.0
    debris_minor_peak_min_position: float = 0.4
    debris_valley_max_shift: float = 0.05
    debris_ssc_nmad: float = 4.0
    debris_ssc_min_events: int = 20
    debris_max_fraction: float = 0.3
    stats_max_events: int = 1_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "doublet_lower_nmad" and v is None:
                continue
            if isinstance(v, bool):
                continue
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"qc.{f.name} must be a finite number >= 0, got {v!r}")
        if self.time_min_bins < 2 or self.time_max_bins < self.time_min_bins:
            raise ConfigError("qc.time_min_bins must be >= 2 and <= qc.time_max_bins")
        if self.debris_bins < 16:
            raise ConfigError("qc.debris_bins must be >= 16")
        if self.time_events_per_bin < 1 or self.stats_max_events < 1000:
            raise ConfigError("qc.time_events_per_bin must be >= 1 and stats_max_events >= 1000")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> QCSettings:
        """Build settings from a mapping (``qc:`` section of the config).

        Raises
        ------
        ConfigError
            On unknown keys or invalid values.
        """
        if not d:
            return cls()
        if not isinstance(d, Mapping):
            raise ConfigError(f"qc settings must be a mapping, got {type(d).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(f"unknown qc setting(s): {', '.join(map(str, unknown))}")
        kwargs: dict[str, Any] = {}
        for k, v in d.items():
            default = known[k].default
            if isinstance(default, bool):
                if not isinstance(v, bool):
                    raise ConfigError(f"qc.{k} must be true/false, got {v!r}")
            elif isinstance(default, int) and not isinstance(v, bool):
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                if not isinstance(v, int) or isinstance(v, bool):
                    raise ConfigError(f"qc.{k} must be an integer, got {v!r}")
            elif v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise ConfigError(f"qc.{k} must be a number, got {v!r}")
            kwargs[k] = v
        return cls(**kwargs)


@dataclass(slots=True)
class QCResult:
    """Outcome of :func:`run_qc`.

    Attributes
    ----------
    keep
        bool ``[n]``: events surviving every step ("nucleated" candidates).
    labels
        uint8 ``[n]``: QC label of removed events, ``unclassified`` for survivors.
    removed
        Events removed per step: ``margins``, ``time``, ``doublets``, ``debris``.
    events_total, events_after_qc
        Event counts before and after QC.
    flags
        Machine-readable flags (e.g. ``time_qc_skipped_no_time``); see ``messages``.
    messages
        Flag → human-readable explanation.
    gates
        The QC gates in application order, chained by ``parent``; evaluating them on the
        raw events reproduces ``keep``.
    final_gate_id
        Id of the last QC gate (parent for downstream gating), ``None`` when no gate.
    time_intervals
        Kept acquisition-time intervals in seconds ``(start, end)``; empty when time QC was
        not run.
    details
        Thresholds and diagnostics per step (JSON-friendly).
    """

    keep: np.ndarray
    labels: np.ndarray
    removed: dict[str, int]
    events_total: int
    events_after_qc: int
    flags: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    final_gate_id: str | None = None
    time_intervals: list[tuple[float, float]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _f32(v: float) -> float:
    """Round to the nearest float32-representable value (exact in float32 and float64)."""
    return float(np.float32(v))


def _next_up(v: float, x: np.ndarray) -> float:
    """Smallest value of ``x``'s dtype strictly greater than ``v`` (a value of that dtype)."""
    if x.dtype == np.float32:
        return float(np.nextafter(np.float32(v), np.float32(np.inf)))
    return float(np.nextafter(float(v), np.inf))


def _norm(name: str) -> str:
    return name.strip().upper().replace("_", "-").replace(" ", "-")


def find_scatter(acquisition: Acquisition) -> dict[str, int]:
    """Locate scatter channels by ``$PnN``.

    Parameters
    ----------
    acquisition
        The acquisition.

    Returns
    -------
    dict
        Role → column for the roles found among ``fsc_a``, ``fsc_h``, ``fsc_w``, ``ssc_a``,
        ``ssc_h``, ``ssc_w``. A bare ``FSC``/``FS``/``FS-INT`` counts as area; ``PEAK`` as
        height.
    """
    found: dict[str, int] = {}
    for ch in acquisition.channels:
        n = _norm(ch.name)
        if n.startswith("FSC"):
            fam, rest = "fsc", n[3:]
        elif n.startswith("FS") and (len(n) == 2 or n[2] in "-0123456789"):
            fam, rest = "fsc", n[2:]
        elif n.startswith("SSC"):
            fam, rest = "ssc", n[3:]
        elif n.startswith("SS") and (len(n) == 2 or n[2] in "-0123456789"):
            fam, rest = "ssc", n[2:]
        else:
            continue
        rest = rest.lstrip("-")
        if rest in {"", "A", "AREA", "INT", "LIN", "A-LIN", "INT-LIN"}:
            role = "a"
        elif rest in {"H", "HEIGHT", "PEAK", "H-LIN", "PEAK-LIN"}:
            role = "h"
        elif rest in {"W", "WIDTH", "TOF"}:
            role = "w"
        else:
            continue
        found.setdefault(f"{fam}_{role}", ch.index)
    return found


def effective_range(channel: Channel, acquisition: Acquisition) -> float:
    """Upper end of a channel's linear scale: ``$PnR``, or ``f2 * 10**f1`` for a
    log-amplified integer channel (already linearised by the reader)."""
    is_int = acquisition.keywords.get("$DATATYPE", "").strip().upper() == "I"
    if is_int and channel.log_decades > 0:
        f2 = channel.log_offset if channel.log_offset > 0 else 1.0
        return float(f2 * 10.0**channel.log_decades)
    return float(channel.range)


def scale_column(events: Events, column: int) -> np.ndarray:
    """Gating-ML/FlowKit *scale values* of a non-time channel: the raw linear column
    (:meth:`Events.raw_column`, also after in-place pre-processing), divided by ``$PnG`` when
    the gain is not 0 or 1 (float64 then, as FlowKit computes it).

    :func:`run_qc` does not materialise this column: its kernels read the same values
    event by event from the event matrix (see :class:`ScaleColumn`)."""
    ch = events.acquisition.channels[column]
    x = events.raw_column(column)
    if ch.gain not in (0.0, 1.0) and math.isfinite(ch.gain):
        return x.astype(np.float64) / ch.gain
    return x


@dataclass(frozen=True, slots=True)
class ScaleColumn:
    """How the QC kernels read :func:`scale_column` values of one column in place.

    Attributes
    ----------
    src
        float32 matrix read: ``acquisition.events``, the display values after in-place
        pre-processing (linear scatter scale), or the materialised raw column ``[n, 1]``
        after in-place pre-processing on a non-linear scale.
    col
        Column of ``src``.
    a, b
        ``a == 0``: ``src`` holds raw values; else raw = ``float32(y * a - b)`` (inverse
        ``flin``, as :meth:`Events.raw_column`).
    gain
        ``$PnG`` divisor (1.0 when none).
    dtype
        dtype of the equivalent :func:`scale_column` array (thresholds are representable
        in it).
    """

    src: np.ndarray
    col: int
    a: float
    b: float
    gain: float
    dtype: np.dtype

    @property
    def spec(self) -> tuple[np.ndarray, int, float, float, float]:
        """``(src, col, a, b, gain)`` as the kernels take them."""
        return self.src, self.col, self.a, self.b, self.gain


_NO_COLUMN = (np.zeros((1, 1), dtype=np.float32), -1, 0.0, 0.0, 1.0)


def scale_spec(events: Events, column: int) -> ScaleColumn:
    """The :class:`ScaleColumn` of ``column`` (no data copied for raw or linear columns).

    Raises
    ------
    ValueError
        For a compensated column after in-place pre-processing (a programming error).
    """
    ch = events.acquisition.channels[column]
    gain = _gain(ch)
    a = b = 0.0
    src = events.acquisition.events
    col = int(column)
    base = src.dtype
    if events.raw_overwritten:
        if events.is_compensated(column):
            raise ValueError(
                f"raw values of compensated column {column} were overwritten in place"
            )
        transform = events.transforms[column]
        base = np.dtype(np.float32)
        src = events.values
        if transform.kind == "linear":  # Gating-ML flin: y = (x + A) / (T + A)
            a, b = float(transform.T) + float(transform.A), float(transform.A)
        elif transform.kind != "none":
            src = events.raw_column(column).reshape(-1, 1)
            col = 0
    dtype = np.dtype(np.float64) if gain != 1.0 else base
    return ScaleColumn(src, col, a, b, float(gain), dtype)


def _gain(ch: Channel) -> float:
    return ch.gain if ch.gain not in (0.0, 1.0) and math.isfinite(ch.gain) else 1.0


def _bound(v: float, x: np.ndarray) -> float:
    """A threshold exactly representable in the dtype of ``x`` (so float32 and float64
    evaluators of the exported gate agree)."""
    return _f32(v) if x.dtype == np.float32 else float(v)


def _stride(n: int, cap: int) -> int:
    return max(1, -(-n // cap))


def _sample(x: ScaleColumn, st: _State, stride: int, n_kept: int) -> np.ndarray:
    """Finite values of every ``stride``-th kept event of ``x`` (float64)."""
    _, _, smp = K.scan(st.keep, st.labels, *_NO_COLUMN, -math.inf, math.inf, 0, *x.spec, stride)
    return smp


def _remove_outside_range(x: ScaleColumn, st: _State, lo: float, hi: float, code: int) -> int:
    """Remove kept events not satisfying ``lo <= x < hi``; return how many."""
    removed, _, _ = K.scan(st.keep, st.labels, *x.spec, lo, hi, code, *_NO_COLUMN, 1)
    return int(removed)


def _robust(x: np.ndarray) -> tuple[float, float]:
    """Median and MAD (scaled by 1.4826) of a temporary array (reordered in place)."""
    med = _median(x, overwrite_input=True)
    return med, 1.4826 * _median(np.abs(x - med), overwrite_input=True)


class _State:
    """Mutable per-run state: masks, flags, gates."""

    def __init__(self, n: int) -> None:
        self.keep = np.ones(n, dtype=np.bool_)
        self.labels = np.full(n, CODE_KEPT, dtype=np.uint8)
        self.removed = dict.fromkeys(STEPS, 0)
        self.flags: list[str] = []
        self.messages: dict[str, str] = {}
        self.gates: list[Gate] = []
        self.parent: str | None = None
        self.details: dict[str, Any] = {}
        self.time_intervals: list[tuple[float, float]] = []
        #: scatter columns (FSC-A/SSC-A/FSC-H) the margin pass reads first
        self.scatter_roles: set[int] = set()
        #: compact raw copies of those columns (column -> ScaleColumn), when made
        self.compact: dict[int, ScaleColumn] | None = None

    def spec(self, events: Events, column: int) -> ScaleColumn:
        """The :class:`ScaleColumn` of ``column``: its compact copy when there is one."""
        if self.compact is not None and column in self.compact:
            return self.compact[column]
        return scale_spec(events, column)

    def flag(self, code: str, message: str) -> None:
        if code not in self.messages:
            self.flags.append(code)
        self.messages[code] = message

    def n_kept(self) -> int:
        return int(np.count_nonzero(self.keep))


# --------------------------------------------------------------------------------------
# 1. margins
# --------------------------------------------------------------------------------------
_PILE_BAND_CAP = 200_000


def _pile_levels(vals: np.ndarray, m: int) -> float:
    """Mean events per distinct value among the (first ``_PILE_BAND_CAP``) band values."""
    levels = len(np.unique(vals[: min(m, len(vals))])) if m else 0
    return m / levels if levels else 0.0


def _margin_bounds(
    x: ScaleColumn,
    stats: np.ndarray,
    smp: Callable[[], np.ndarray],
    rng: float,
    n_kept: int,
    st: _State,
    s: QCSettings,
) -> tuple[float, float, list[str], float]:
    """Lower/upper margin bounds of one channel from its :func:`K.scan` statistics;
    ``smp()`` gives the strided sample (only asked for when a pile is possible)."""
    lo_v, hi_v, nf = float(stats[0]), float(stats[1]), int(stats[2])
    upper = math.inf
    lower = -math.inf
    why: list[str] = []
    if nf > 0:
        # $PnR is a real bound only when no value exceeds it (pnr-nominal: MACSQuant)
        bounded = rng > 0 and hi_v <= rng * (1.0 + s.margin_tolerance)
        at_range = bounded and hi_v >= rng * (1.0 - s.margin_tolerance)
        # pile candidates: events exactly at the max (+inf) / at the min (-inf); the median
        # (the band below/above) is only needed when such a count could make a pile
        n_max, n_min = int(stats[4] + stats[6]), int(stats[3] + stats[5])

        def countable(c: int) -> bool:
            return s.margin_spike_min_events <= c <= s.margin_max_pile_fraction * n_kept

        check_max = not at_range and countable(n_max)
        check_min = s.margin_low_spike and (countable(n_min) or countable(int(stats[2] + stats[6])))
        med = float(np.median(smp(), overwrite_input=True)) if check_max or check_min else math.nan
        piles: list[tuple[str, int, float, float]] = []
        if check_max and hi_v > med:
            edge = hi_v - s.margin_spike_band * (hi_v - med)
            piles.append(("max", n_max, edge, hi_v))
        if check_min and lo_v < med:
            edge = lo_v + s.margin_spike_band * (med - lo_v)
            if edge > lo_v:
                piles.append(("min", n_min, _next_up(lo_v, x), edge))
            else:  # zero-width band: every kept value counts (never a pile)
                piles.append(("min", int(stats[2] + stats[6]), edge, lo_v))
        judged = [pl for pl in piles if countable(pl[1])]
        is_pile = {"max": False, "min": False}
        if judged:
            bands = {name: (lo, hi) for name, _, lo, hi in judged}
            empty = np.empty(0, dtype=np.float64)
            buf_hi = np.empty(_PILE_BAND_CAP, np.float64) if "max" in bands else empty
            buf_lo = np.empty(_PILE_BAND_CAP, np.float64) if "min" in bands else empty
            lo1, hi1 = bands.get("max", (math.inf, -math.inf))
            lo2, hi2 = bands.get("min", (math.inf, -math.inf))
            m_hi, m_lo = K.band_values(st.keep, *x.spec, lo1, hi1, buf_hi, lo2, hi2, buf_lo)
            for name, pile, _, _ in judged:
                vals, m = (buf_hi, int(m_hi)) if name == "max" else (buf_lo, int(m_lo))
                expected = _pile_levels(vals, m)
                is_pile[name] = pile >= s.margin_spike_factor * max(expected, 1.0)
        if at_range:
            upper = _bound(rng * (1.0 - s.margin_tolerance), x)
            why.append("at_range")
        elif is_pile["max"]:
            upper = hi_v
            why.append("pile_at_max")
        if rng > 0:
            lower = _bound(-s.margin_negative_factor * rng, x)
        if is_pile["min"]:
            lower = max(lower, _next_up(lo_v, x))
            why.append("pile_at_min")
    return lower, upper, why, hi_v


@dataclass(slots=True)
class _MarginRecord:
    """Margin gate dimensions and details, filled channel by channel."""

    n_kept: int
    n_total: int
    dims: list[Dimension] = field(default_factory=list)
    mins: list[float | None] = field(default_factory=list)
    maxs: list[float | None] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def bounds(
        self,
        events: Events,
        j: int,
        x: ScaleColumn,
        stats: np.ndarray,
        smp: Callable[[], np.ndarray],
        st: _State,
        s: QCSettings,
    ) -> tuple[float, float] | None:
        """Bounds of channel ``j`` (``None``: nothing to remove), recorded for the gate."""
        acq = events.acquisition
        ch = acq.channels[j]
        rng = effective_range(ch, acq) / _gain(ch)
        lower, upper, why, hi_v = _margin_bounds(x, stats, smp, rng, self.n_kept, st, s)
        if int(stats[2]) < self.n_total:  # NaN/inf are margin events: any finite bound excludes them
            if not math.isfinite(lower) and not math.isfinite(upper):
                lower = _f32(-np.finfo(np.float32).max)
        if not math.isfinite(lower) and not math.isfinite(upper):
            return None
        self.dims.append(Dimension(channel=ch.name, compensated=False, transform=None))
        self.mins.append(lower if math.isfinite(lower) else None)
        self.maxs.append(upper if math.isfinite(upper) else None)
        self.detail[ch.name] = {
            "min": self.mins[-1],
            "max": self.maxs[-1],
            "range": rng,
            "rules": why,
            "pnr_nominal": bool(rng > 0 and hi_v > rng * (1.0 + s.margin_tolerance)),
            "removed": 0,
        }
        return lower, upper

    def removed(self, events: Events, j: int, count: int, st: _State) -> None:
        st.removed["margins"] += count
        self.detail[events.acquisition.channels[j].name]["removed"] = count


def _margins_sequential(
    events: Events,
    cols: list[int],
    specs: list[ScaleColumn],
    st: _State,
    s: QCSettings,
    stride: int,
    rec: _MarginRecord,
) -> None:
    """Margins channel by channel: one pass each, the previous channel's removal fused with
    this channel's statistics."""
    pending: tuple[int, ScaleColumn, float, float] | None = None

    def scan(nxt: ScaleColumn | None) -> tuple[np.ndarray, np.ndarray]:
        nonlocal pending
        removed, stats, smp = K.scan(
            st.keep,
            st.labels,
            *(pending[1].spec if pending is not None else _NO_COLUMN),
            pending[2] if pending is not None else -math.inf,
            pending[3] if pending is not None else math.inf,
            CODE_MARGIN,
            *(nxt.spec if nxt is not None else _NO_COLUMN),
            stride,
        )
        if pending is not None:
            rec.removed(events, pending[0], int(removed), st)
        pending = None
        return stats, smp

    for j, x in zip(cols, specs, strict=True):
        stats, smp = scan(x)
        b = rec.bounds(events, j, x, stats, lambda smp=smp: smp, st, s)
        if b is not None:
            pending = (j, x, b[0], b[1])
    if pending is not None:
        scan(None)


#: candidate events of the fused margin pass kept by index (beyond: sequential passes)
MARGIN_CANDIDATE_CAP = 65536


def _margins_fused(
    events: Events,
    cols: list[int],
    specs: list[ScaleColumn],
    st: _State,
    s: QCSettings,
    stride: int,
    rec: _MarginRecord,
) -> int:
    """Margins of all channels from one pass (:func:`K.margin_pass`), removals by index.

    Each channel's statistics over the events kept at its turn come from the clean
    extremes and the values of the candidates not removed yet (read by index); its
    sample, when needed (a pile is possible) after earlier removals, from one more pass.
    When a previous channel removed clean events (a pile) or the lists overflow, the
    function returns the number of channels done (the caller starts a new pass there);
    0 when the candidates overflow.
    """
    acq = events.acquisition
    k = len(cols)
    thr_lo = np.full(k, -np.inf)
    thr_hi = np.full(k, np.inf)
    for q, (j, x) in enumerate(zip(cols, specs, strict=True)):
        ch = acq.channels[j]
        rng = effective_range(ch, acq) / _gain(ch)
        if rng > 0:  # the range bounds _margin_bounds can set, exactly as it rounds them
            thr_hi[q] = _bound(rng * (1.0 - s.margin_tolerance), x)
            thr_lo[q] = _bound(-s.margin_negative_factor * rng, x)
    cap = MARGIN_CANDIDATE_CAP
    # the first pass over all events also copies the scatter columns (raw float32) that
    # doublets and debris read several times: 12 bytes per event instead of the full row
    n_copy = sum(1 for j in cols if j in st.scatter_roles)
    first = st.n_kept() == len(st.keep) and n_copy > 0 and st.compact is None
    copy = np.empty((len(st.keep), n_copy) if first else (0, 0), dtype=np.float32)
    clean, cl_min, cl_max, cand, n_cand, n_seen, sample = K.margin_pass(
        st.keep,
        specs[0].src,
        np.asarray([x.col for x in specs], dtype=np.int64),
        np.asarray([x.a for x in specs], dtype=np.float64),
        np.asarray([x.b for x in specs], dtype=np.float64),
        np.asarray([x.gain for x in specs], dtype=np.float64),
        thr_lo,
        thr_hi,
        stride,
        st.n_kept(),
        cap,
        copy,
    )
    if first:
        st.compact = {
            j: ScaleColumn(copy, q, 0.0, 0.0, x.gain, x.dtype)
            for q, (j, x) in enumerate(zip(cols[:n_copy], specs[:n_copy], strict=True))
        }
        specs = [st.spec(events, j) for j in cols]  # reads by index/band from the copy
    if n_cand > cap:
        return 0
    n_clean = int(n_seen - n_cand)  # clean events are finite in every column
    gone = np.zeros(len(cand), dtype=np.bool_)  # candidates removed by previous channels
    gone_clean = np.empty(0, dtype=np.int64)  # clean events removed (piles at an extreme)
    for q, (j, x) in enumerate(zip(cols, specs, strict=True)):
        if clean[q, 2] > cap or clean[q, 3] > cap:
            return q  # the next channels need a new pass
        cl_lo = cl_min[q, : int(clean[q, 2])]
        cl_hi = cl_max[q, : int(clean[q, 3])]
        if len(gone_clean):
            cl_lo = cl_lo[~np.isin(cl_lo, gone_clean)]
            cl_hi = cl_hi[~np.isin(cl_hi, gone_clean)]
            if n_clean > len(gone_clean) and not (len(cl_lo) and len(cl_hi)):
                return q  # a clean extreme was removed: the next channels need a new pass
        n_alive = n_clean - len(gone_clean)
        # the kept events now: the clean ones and the candidates not removed yet
        v = K.values_at(cand, *x.spec)
        alive = ~gone
        fin = alive & np.isfinite(v)
        nf = n_alive + int(fin.sum())
        sj = np.zeros(8, dtype=np.float64)
        sj[2] = nf
        sj[5] = np.sum(alive & (v == -np.inf))
        sj[6] = np.sum(alive & (v == np.inf))
        sj[7] = n_alive + int(alive.sum())
        at_lo = at_hi = np.zeros(len(cand), dtype=np.bool_)
        clean_lo = clean_hi = np.empty(0, dtype=np.int64)
        if nf > 0:
            c_lo = clean[q, 0] if n_alive else math.inf
            c_hi = clean[q, 1] if n_alive else -math.inf
            lo = min(c_lo, float(v[fin].min()) if fin.any() else math.inf)
            hi = max(c_hi, float(v[fin].max()) if fin.any() else -math.inf)
            at_lo, at_hi = alive & (v == lo), alive & (v == hi)
            if c_lo == lo:
                clean_lo = cl_lo
            if c_hi == hi:
                clean_hi = cl_hi
            sj[0], sj[1] = lo, hi
            sj[3] = len(clean_lo) + int(at_lo.sum())
            sj[4] = len(clean_hi) + int(at_hi.sum())
        else:
            sj[0] = sj[1] = math.nan
        exact_sample = not gone.any() and not len(gone_clean)

        def smp(q: int = q, x: ScaleColumn = x, exact: bool = exact_sample) -> np.ndarray:
            if exact:
                row = sample[q].astype(np.float64)
                if x.gain != 1.0:
                    row = row / x.gain
                return row[np.isfinite(row)]
            # the sample over the events kept now (removals shift it): one more pass
            _, _, own = K.scan(
                st.keep, st.labels, *_NO_COLUMN, -math.inf, math.inf, 0, *x.spec, stride
            )
            return own

        b = rec.bounds(events, j, x, sj, smp, st, s)
        if b is None:
            continue
        # every event the bounds can remove: candidates and clean events at an extreme
        out_c = alive & ~((v >= b[0]) & (v < b[1]))
        ext = np.concatenate([clean_lo, clean_hi])
        ve = K.values_at(ext, *x.spec)
        out_e = np.unique(ext[~((ve >= b[0]) & (ve < b[1]))])
        out = np.concatenate([cand[out_c], out_e])
        st.keep[out] = False
        st.labels[out] = CODE_MARGIN
        rec.removed(events, j, len(out), st)
        gone |= out_c
        gone_clean = np.union1d(gone_clean, out_e)
    return k


def _margins(events: Events, scatter: dict[str, int], st: _State, s: QCSettings) -> None:
    acq = events.acquisition
    cols = [scatter[r] for r in ("fsc_a", "ssc_a", "fsc_h") if r in scatter]
    st.scatter_roles = set(cols)
    if s.margin_fluorescence:
        tcol = acq.time_channel()
        scat = set(scatter.values())
        fluorescence = [
            ch.index
            for ch in acq.channels
            if ch.index not in scat and ch.index != tcol and not ch.is_scatter
        ]
        if events.raw_overwritten:  # raw compensated channels are gone after in-place preprocess
            kept = [j for j in fluorescence if not events.is_compensated(j)]
            if len(kept) < len(fluorescence):
                st.flag(
                    "fluorescence_margins_skipped_inplace",
                    "fluorescence margins not checked on compensated channels "
                    "(pre-processed in place)",
                )
            fluorescence = kept
        cols += fluorescence
    if not cols:
        st.flag("margins_skipped_no_scatter", "no FSC-A/SSC-A/FSC-H channel: margins not checked")
        return
    n_kept = st.n_kept()
    n_total = len(st.keep)
    stride = _stride(n_kept, s.stats_max_events)
    rec = _MarginRecord(n_kept=n_kept, n_total=n_total)
    done = 0
    while done < len(cols):  # a new pass when a pile was removed before a channel
        specs = [st.spec(events, j) for j in cols[done:]]  # the compact copy once made
        if len({id(x.src) for x in specs}) != 1 or specs[0].src.dtype != np.float32:
            break  # the fused pass keeps raw values as float32
        d = _margins_fused(events, cols[done:], specs, st, s, stride, rec)
        done += d
        if d == 0:
            break
    if done < len(cols):
        specs = [st.spec(events, j) for j in cols[done:]]
        _margins_sequential(events, cols[done:], specs, st, s, stride, rec)
    dims, mins, maxs, detail = rec.dims, rec.mins, rec.maxs, rec.detail
    st.details["margins"] = detail
    if dims:
        gate = RectangleGate(
            id="qc_margins",
            parent=st.parent,
            dimensions=tuple(dims),
            mins=tuple(mins),
            maxs=tuple(maxs),
        )
        st.gates.append(gate)
        st.parent = gate.id
    n = len(st.keep)
    if n and st.removed["margins"] > s.margin_max_fraction * n:
        st.flag(
            "high_margin_fraction",
            f"{100.0 * st.removed['margins'] / n:.1f}% margin events (saturated/off-scale scatter)",
        )


# --------------------------------------------------------------------------------------
# 2. time stability
# --------------------------------------------------------------------------------------
def _signal_columns(events: Events, scatter: dict[str, int], tcol: int, cap: int) -> list[int]:
    acq = events.acquisition
    cols = [scatter[r] for r in ("fsc_a", "ssc_a") if r in scatter]
    hw = {scatter[r] for r in ("fsc_h", "fsc_w", "ssc_h", "ssc_w") if r in scatter}
    for ch in acq.channels:
        j = ch.index
        if j == tcol or j in cols or j in hw or ch.is_scatter or ch.is_time:
            continue
        if j < len(events.transforms) and events.transforms[j].kind == "none":
            continue
        n = _norm(ch.name)
        if n.endswith(("-H", "-W")):
            continue
        cols.append(j)
    return cols[:cap]


def _bin_means(
    levsum: np.ndarray, nfinite: np.ndarray, counts: np.ndarray, los: np.ndarray, his: np.ndarray,
    nlev: int,
) -> np.ndarray:
    """Per-bin means of the clipped signal quantised to ``nlev`` levels per channel.

    The mean (of level centres, values clipped to the channel's 0.5–99.5 % range) is used
    rather than the median: with bimodal data (lymphocytes/granulocytes) a bin median jumps
    between modes. Non-finite values count in ``counts`` but add nothing.
    """
    width = (his - los) / nlev
    tot = los[None, :] * nfinite + width[None, :] * (levsum + 0.5 * nfinite)
    return tot / np.maximum(counts, 1)[:, None]


def _time(events: Events, scatter: dict[str, int], st: _State, s: QCSettings) -> None:
    acq = events.acquisition
    tcol = acq.time_channel()
    if events.time_seconds is None or tcol is None:
        st.flag("time_qc_skipped_no_time", "no usable Time channel: time stability not checked")
        return
    # Gating-ML/FlowKit scale value of Time: raw x $TIMESTEP (float64), i.e. time_seconds
    t = np.asarray(events.time_seconds, dtype=np.float64)
    if t.shape != (len(st.keep),):
        raise ValueError("events.time_seconds must hold one value per event")
    n_kept = st.n_kept()
    if n_kept < s.time_min_events:
        st.flag(
            "time_qc_skipped_too_few_events",
            f"{n_kept} events (< {s.time_min_events}): time stability not checked",
        )
        return
    n = len(t)
    n_nondec, tmin, tmax, nf = K.time_scan(t, st.keep)
    nondec = int(n_nondec) / max(n - 1, 1)
    if nondec < s.time_monotonic_min_fraction:
        st.flag(
            "time_qc_skipped_not_monotonic",
            f"Time is non-decreasing for only {100.0 * nondec:.1f}% of steps (events not in "
            "acquisition order): time stability not checked",
        )
        return
    if nf == 0 or not tmax > tmin:
        st.flag("time_qc_skipped_constant_time", "Time is constant: time stability not checked")
        return
    nbins = int(np.clip(n_kept // s.time_events_per_bin, s.time_min_bins, s.time_max_bins))
    edges = np.unique(np.linspace(tmin, tmax, nbins + 1))
    if len(edges) < s.time_min_bins + 1:
        st.flag("time_qc_skipped_low_resolution", "Time resolution too coarse for time QC")
        return
    nbins = len(edges) - 1
    cols = _signal_columns(events, scatter, tcol, s.time_max_signal_channels)
    vals = events.values
    stride = _stride(n_kept, s.stats_max_events // max(1, len(cols)) or 1)
    los, his, use = [], [], []
    rows = K.rows_sample(vals, np.asarray(cols, dtype=np.int64), st.keep, stride, n_kept // stride + 1)
    for jj, j in enumerate(cols):
        smp = rows[:, jj]
        smp = smp[np.isfinite(smp)]
        if len(smp) < 10:
            continue
        lo, hi = _quantiles(smp, [0.005, 0.995])
        if hi > lo:
            los.append(lo)
            his.append(hi)
            use.append(j)
    del rows
    nlev = 128
    counts, levsum, nfinite = K.time_bin_levels(
        t,
        st.keep,
        edges,
        vals,
        np.asarray(use, dtype=np.int64),
        np.asarray(los, np.float64),
        np.asarray(his, np.float64),
        nlev,
    )
    nonempty = counts > 0
    if nonempty.mean() < s.time_min_nonempty_fraction:
        st.flag(
            "time_qc_skipped_low_resolution",
            f"only {int(nonempty.sum())} of {nbins} time bins hold events (coarse Time): "
            "time stability not checked",
        )
        return
    c = counts[nonempty].astype(np.float64)
    med_c, mad_c = _robust(c)
    dev = np.abs(counts - med_c)
    # robust SD, never below Poisson noise; the deviation must also exceed min_rel of the median
    scale_c = max(mad_c, math.sqrt(med_c))
    rate_bad = nonempty & (dev > s.time_rate_nmad * scale_c) & (dev > s.time_rate_min_rel * med_c)
    sig_bad = np.zeros(nbins, dtype=np.bool_)
    sig_channels: list[str] = []
    sig_ref: list[tuple[float | None, float, float]] = [(None, 0.0, 0.0)] * len(use)
    if use:
        los_a, his_a = np.asarray(los), np.asarray(his)
        meds = _bin_means(levsum, nfinite, counts, los_a, his_a, nlev)
        judged = counts >= s.time_signal_min_bin_events
        if judged.sum() >= 3:
            for jj, j in enumerate(use):
                m = meds[judged, jj]
                mm, mad = _robust(m)
                floor = s.time_signal_min_delta * (his_a[jj] - los_a[jj])
                sig_ref[jj] = (mm, mad, floor)
                bad = judged & (np.abs(meds[:, jj] - mm) > max(s.time_signal_nmad * mad, floor))
                if bad.any():
                    sig_channels.append(acq.channels[j].name)
                sig_bad |= bad
    bad = rate_bad | sig_bad
    # short runs of good bins between bad bins are removed too (PeacoQC consecutive_bins)
    idx = np.flatnonzero(nonempty)
    flags_ne = bad[idx]
    i = 0
    while i < len(idx):
        if flags_ne[i]:
            i += 1
            continue
        j = i
        while j < len(idx) and not flags_ne[j]:
            j += 1
        if i > 0 and j < len(idx) and (j - i) < s.time_min_good_run:
            bad[idx[i:j]] = True
        i = j
    width = (tmax - tmin) / nbins
    bad_iv = _bad_intervals(bad, edges)
    refined = 0
    if s.time_refine_factor > 1 and bad_iv:
        bad_iv, refined = _refine_intervals(
            bad, edges, t, st.keep, vals, use, los, his, sig_ref, med_c, mad_c, s
        )
    starts = np.asarray([-np.inf if a is None else a for a, _ in bad_iv], dtype=np.float64)
    stops = np.asarray([np.inf if b is None else b for _, b in bad_iv], dtype=np.float64)
    would = (
        int(K.remove_in_intervals(t, st.keep, st.labels, starts, stops, CODE_TIME, False))
        if bad_iv
        else 0
    )
    st.details["time"] = {
        "bins": nbins,
        "bin_width_seconds": width,
        "median_events_per_bin": med_c,
        "bad_bins_rate": int(rate_bad.sum()),
        "bad_bins_signal": int(sig_bad.sum()),
        "signal_channels_jumping": sig_channels,
        "bad_intervals_seconds": [(a, b) for a, b in bad_iv],
        "boundaries_refined": refined,
        "would_remove": would,
    }
    if would > s.time_abort_fraction * n_kept:
        st.flag(
            "time_qc_not_applied_excessive",
            f"time QC would remove {100.0 * would / n_kept:.1f}% of events: not applied",
        )
        st.time_intervals = [(tmin, tmax)]
        return
    if would == 0:
        st.time_intervals = [(tmin, tmax)]
        return
    removed = int(K.remove_in_intervals(t, st.keep, st.labels, starts, stops, CODE_TIME, True))
    st.removed["time"] = removed
    # kept ranges: the complement of the bad intervals (min inclusive, max exclusive)
    runs: list[tuple[float | None, float | None]] = []
    lo: float | None = None
    for a, b in bad_iv:
        if a is not None:
            runs.append((lo, a))
        lo = b
        if b is None:
            break
    else:
        runs.append((lo, None))
    runs = [(a, b) for a, b in runs if a is None or b is None or b > a]
    tname = acq.channels[tcol].name
    dim = (Dimension(channel=tname, compensated=False, transform=None),)
    rects = []
    intervals = []
    for k, (lo_k, hi_k) in enumerate(runs):
        rects.append(
            RectangleGate(
                id=f"qc_time_{k + 1}" if len(runs) > 1 else "qc_time",
                parent=st.parent,
                dimensions=dim,
                mins=(lo_k,),
                maxs=(hi_k,),
            )
        )
        intervals.append((tmin if lo_k is None else lo_k, tmax if hi_k is None else hi_k))
    st.time_intervals = intervals
    if len(rects) == 1:
        st.gates.append(rects[0])
        st.parent = rects[0].id
    elif rects:
        st.gates.extend(rects)
        bg = BooleanGate(
            id="qc_time",
            parent=st.parent,
            op="or",
            operands=tuple((r.id, False) for r in rects),
        )
        st.gates.append(bg)
        st.parent = bg.id
    if removed > s.time_max_fraction * len(st.keep):
        st.flag(
            "high_time_fraction",
            f"{100.0 * removed / len(st.keep):.1f}% of events in unstable acquisition time",
        )


def _bad_intervals(bad: np.ndarray, edges: np.ndarray) -> list[tuple[float | None, float | None]]:
    """Runs of bad bins as ``[start, stop)`` times; ``None`` = open (first/last bin)."""
    nbins = len(bad)
    out: list[tuple[float | None, float | None]] = []
    b = 0
    while b < nbins:
        if not bad[b]:
            b += 1
            continue
        e = b
        while e + 1 < nbins and bad[e + 1]:
            e += 1
        out.append(
            (None if b == 0 else float(edges[b]), None if e == nbins - 1 else float(edges[e + 1]))
        )
        b = e + 1
    return out


def _refine_intervals(bad, edges, t, keep, vals, use, los, his, sig_ref, med_c, mad_c, s):
    """Sub-bin boundaries of each run of bad bins.

    Around every run (extended by one bin on each side) the acquisition is re-binned
    ``time_refine_factor`` times finer and each fine bin judged with the same rate and signal
    rules, scaled to the fine bin size (Poisson/mean noise grow as sqrt(factor)). The run
    becomes the span of its bad fine bins; a run without any bad fine bin keeps its coarse
    bounds. Returns the merged intervals and the number of refined runs.
    """
    f = int(s.time_refine_factor)
    nbins = len(bad)
    coarse = _bad_intervals(bad, edges)
    out: list[tuple[float | None, float | None]] = []
    refined = 0
    b = 0
    k = 0
    cols = np.asarray(use, dtype=np.int64)
    los_a = np.asarray(los, np.float64)
    his_a = np.asarray(his, np.float64)
    lam = med_c / f
    scale_r = max(math.sqrt(max(lam, 1.0)), mad_c / math.sqrt(f))
    while b < nbins:
        if not bad[b]:
            b += 1
            continue
        e = b
        while e + 1 < nbins and bad[e + 1]:
            e += 1
        w0, w1 = max(b - 1, 0), min(e + 2, nbins)
        fine = np.linspace(edges[w0], edges[w1], (w1 - w0) * f + 1)
        counts, sums = K.time_bin_sums(t, keep, fine, vals, cols, los_a, his_a)
        dev = np.abs(counts - lam)
        fbad = (dev > s.time_rate_nmad * scale_r) & (dev > s.time_rate_min_rel * lam)
        judged = counts >= s.time_signal_min_bin_events
        if len(cols) and judged.any():
            means = sums / np.maximum(counts, 1)[:, None]
            for jj, (mm, mad, floor) in enumerate(sig_ref):
                if mm is None:
                    continue
                # fine-bin means are noisier: their own robust spread in the window counts
                _, mad_w = _robust(means[judged, jj]) if judged.sum() >= 5 else (0.0, 0.0)
                thr = max(s.time_signal_nmad * max(mad * math.sqrt(f), mad_w), floor)
                fbad |= judged & (np.abs(means[:, jj] - mm) > thr)
        lo_c, hi_c = coarse[k]
        k += 1
        idx = np.flatnonzero(fbad)
        if len(idx):
            refined += 1
            i0, i1 = int(idx[0]), int(idx[-1])
            last = len(counts) - 1
            lo = None if (w0 == 0 and i0 == 0) else float(fine[i0])
            hi = None if (w1 == nbins and i1 == last) else float(fine[i1 + 1])
            out.append((lo, hi))
        else:
            out.append((lo_c, hi_c))
        b = e + 1
    # merge overlapping/adjacent intervals (sorted by start; None = -inf)
    out.sort(key=lambda iv: -math.inf if iv[0] is None else iv[0])
    merged: list[tuple[float | None, float | None]] = []
    for lo, hi in out:
        if merged:
            plo, phi = merged[-1]
            if phi is None or (lo is not None and lo <= phi) or lo is None:
                merged[-1] = (plo, None if (phi is None or hi is None) else max(phi, hi))
                continue
        merged.append((lo, hi))
    return merged, refined


# --------------------------------------------------------------------------------------
# 3. doublets
# --------------------------------------------------------------------------------------
def _clip_halfplane(poly: list[tuple[float, float]], a: float, b: float, c: float):
    """Sutherland–Hodgman: keep the part of convex ``poly`` where ``a*x + b*y + c >= 0``."""
    out: list[tuple[float, float]] = []
    m = len(poly)
    for i in range(m):
        p, q = poly[i], poly[(i + 1) % m]
        fp = a * p[0] + b * p[1] + c
        fq = a * q[0] + b * q[1] + c
        if fp >= 0:
            out.append(p)
        if (fp >= 0) != (fq >= 0):
            r = fp / (fp - fq)
            out.append((p[0] + r * (q[0] - p[0]), p[1] + r * (q[1] - p[1])))
    return out


def _doublets(events: Events, scatter: dict[str, int], st: _State, s: QCSettings) -> None:
    acq = events.acquisition
    if "fsc_a" not in scatter or ("fsc_h" not in scatter and "fsc_w" not in scatter):
        st.flag(
            "doublets_skipped_no_fsc_pair",
            "no FSC-A with FSC-H/FSC-W: doublets not removed",
        )
        return
    n_kept = st.n_kept()
    stride = _stride(n_kept, s.stats_max_events)
    a_ch = acq.channels[scatter["fsc_a"]]
    a = st.spec(events, a_ch.index)
    if "fsc_h" in scatter:
        h_ch = acq.channels[scatter["fsc_h"]]
        h = st.spec(events, h_ch.index)
        off = float(s.doublet_ratio_offset)
        # the sample and the extremes of FSC-A/FSC-H (for the polygon) in one pass
        r, ext = K.ratio_scan(
            st.keep, *a.spec, *h.spec, off, stride
        )
        if len(r) < 50:
            st.flag("doublets_skipped_too_few_events", "too few events to estimate FSC-A/FSC-H")
            return
        med, mad = _robust(r)
        if not mad > 0:
            st.flag("doublets_skipped_degenerate", "FSC-A/FSC-H ratio has no spread")
            return
        c_hi = med + s.doublet_nmad * mad
        c_lo = med - s.doublet_lower_nmad * mad if s.doublet_lower_nmad is not None else math.nan
        amin, amax, hmin, hmax = (float(v) for v in ext)
        removed = int(
            K.remove_outside_band(
                st.keep, st.labels, *a.spec, *h.spec, c_hi, c_lo, off, CODE_DOUBLET
            )
        )
        pa = 1.0 + 0.01 * (amax - amin)
        ph = 1.0 + 0.01 * (hmax - hmin)
        box = [
            (amin - pa, hmin - ph),
            (amax + pa, hmin - ph),
            (amax + pa, hmax + ph),
            (amin - pa, hmax + ph),
        ]
        # a < c_hi (h + off)  <=>  -a + c_hi h + c_hi off > 0
        poly = _clip_halfplane(box, -1.0, c_hi, c_hi * off)
        if math.isfinite(c_lo):
            poly = _clip_halfplane(poly, 1.0, -c_lo, -c_lo * off)
        verts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        gate: Gate = PolygonGate(
            id="qc_singlets",
            parent=st.parent,
            dimensions=(
                Dimension(channel=a_ch.name, compensated=False, transform=None),
                Dimension(channel=h_ch.name, compensated=False, transform=None),
            ),
            vertices=verts,
        )
        st.details["doublets"] = {
            "method": "ratio_area_height",
            "ratio_median": med,
            "ratio_mad": mad,
            "ratio_max": c_hi,
            "ratio_min": None if math.isnan(c_lo) else c_lo,
            "ratio_offset": off,
            "nmad": s.doublet_nmad,
        }
    else:
        w_ch = acq.channels[scatter["fsc_w"]]
        w = st.spec(events, w_ch.index)
        smp = _sample(w, st, stride, n_kept)
        if len(smp) < 50:
            st.flag("doublets_skipped_too_few_events", "too few events to estimate FSC-W")
            return
        med, mad = _robust(smp)
        if not mad > 0:
            st.flag("doublets_skipped_degenerate", "FSC-W has no spread")
            return
        upper = _bound(med + s.doublet_nmad * mad, w)
        lower = (
            _bound(med - s.doublet_lower_nmad * mad, w)
            if s.doublet_lower_nmad is not None
            else None
        )
        removed = _remove_outside_range(
            w, st, -math.inf if lower is None else lower, upper, CODE_DOUBLET
        )
        gate = RectangleGate(
            id="qc_singlets",
            parent=st.parent,
            dimensions=(Dimension(channel=w_ch.name, compensated=False, transform=None),),
            mins=(lower,),
            maxs=(upper,),
        )
        st.flag("doublets_by_width", "no FSC-H: doublets removed on FSC-W")
        st.details["doublets"] = {
            "method": "width",
            "width_median": med,
            "width_mad": mad,
            "width_max": upper,
            "width_min": lower,
            "nmad": s.doublet_nmad,
        }
    st.removed["doublets"] = removed
    st.gates.append(gate)
    st.parent = gate.id
    if n_kept and removed > s.doublet_max_fraction * n_kept:
        st.flag(
            "high_doublet_fraction",
            f"{100.0 * removed / n_kept:.1f}% doublets among events after margins/time QC",
        )


# --------------------------------------------------------------------------------------
# 4. debris
# --------------------------------------------------------------------------------------
def _smooth(y: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return y
    r = max(1, math.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(y, r, mode="reflect"), k, mode="valid")


def _smooth_variance_factor(sigma: float) -> float:
    """Variance of :func:`_smooth` of Poisson counts per unit of their mean: the sum of the
    squared kernel weights (1 without smoothing)."""
    if sigma <= 0:
        return 1.0
    r = max(1, math.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    return float(np.sum(k * k))


def _peaks(y: np.ndarray, min_prominence: float) -> list[int]:
    """Local maxima of ``y`` (a maximum at either end counts) with at least this prominence
    (``scipy.signal.find_peaks(..., prominence=min_prominence)`` on ``y`` padded with -1;
    not imported: scipy.signal alone costs ~45 MiB of resident memory)."""
    x = np.concatenate([[-1.0], np.asarray(y, dtype=np.float64), [-1.0]])
    return [int(p) - 1 for p in find_peaks(x, prominence=min_prominence)[0]]


@dataclass(frozen=True, slots=True)
class DebrisValley:
    """Outcome of :func:`find_debris_valley` (bin indices into the density; ``None`` = absent).

    Attributes
    ----------
    debris_peak
        The debris mode near the low end.
    cell_peak
        The smallest real cells: the first significant peak above the debris mode (or the
        first significant peak when there is no debris mode). With ``minor_peak`` settings
        this can be a minor population below the first big peak.
    valley
        The lowest point between ``debris_peak`` and ``cell_peak`` when deep enough.
    depth
        ``density[valley] / min(density[debris_peak], density[big cell peak])`` (NaN without
        valley).
    minor_peak
        ``True`` when ``cell_peak`` is a minor population found below the first big peak.
    """

    debris_peak: int | None
    cell_peak: int | None
    valley: int | None
    depth: float = math.nan
    minor_peak: bool = False


def _first_minor_peak(
    w: np.ndarray,
    var: np.ndarray | None,
    q0: int,
    p1: int,
    pos: np.ndarray,
    *,
    prominence: float,
    nsd: float,
    min_position: float,
) -> int | None:
    """First local maximum ``m`` of ``w`` strictly between ``q0`` and ``p1`` that stands out
    by ``prominence * w[q0]`` (and ``nsd`` noise SDs when ``var`` is given) above the lower
    of its two bases within ``[q0, p1]``, at ``pos[m] >= min_position * pos[p1]``."""
    if p1 - q0 < 3 or not prominence > 0:
        return None
    seg = w[q0 : p1 + 1]
    interior = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])
    for off in np.flatnonzero(interior) + 1:
        m = q0 + int(off)
        if pos[m] < min_position * pos[p1]:
            continue
        left = q0 + int(np.argmin(w[q0 : m + 1]))
        right = m + int(np.argmin(w[m : p1 + 1]))
        base = left if w[left] >= w[right] else right
        prom = float(w[m] - w[base])
        if prom < prominence * float(w[q0]):
            continue
        if var is not None and prom < nsd * math.sqrt(float(var[m] + var[base])):
            continue
        return m
    return None


def find_debris_valley(
    density: np.ndarray,
    *,
    min_peak_fraction: float,
    cell_peak_fraction: float,
    peak_max_position: float,
    valley_max_ratio: float,
    positions: np.ndarray | None = None,
    log_axis: float = 0.0,
    minor_peak_prominence: float = 0.0,
    minor_peak_nsd: float = 0.0,
    minor_peak_min_position: float = 0.4,
    variance: np.ndarray | None = None,
    max_shift_fraction: float = 1.0,
) -> DebrisValley:
    """Locate the debris mode, the smallest cells above it and the valley between them.

    The valley is the **first** significant one above the debris mode, never the deepest one
    anywhere: the valley between lymphocytes and granulocytes is not a debris boundary.

    With ``log_axis`` (linear ``positions``) the valley and minor peaks are looked for on
    ``w = positions x density``, the density per log-FSC unit: there the tail of the debris
    mode flattens where it ends, so a small-cell shoulder next to a dominant large-cell peak
    is not mistaken for the debris tail. With ``minor_peak_prominence > 0`` a minor peak of
    ``w`` between the debris mode and the first big cell peak (a 1 % lymphocyte population
    next to 95 % large blasts) ends the valley search: the cut lies below it. Both only ever
    lower the valley (``w`` rises wherever the density does not fall).

    Parameters
    ----------
    density
        Smoothed 1-D density (histogram) of FSC-A, low to high.
    min_peak_fraction
        Peaks whose prominence is below this fraction of the highest density are ignored.
    cell_peak_fraction
        A cell peak must reach this fraction of the highest density.
    peak_max_position
        The debris mode must lie at most this fraction of the cell peak's position.
    valley_max_ratio
        The valley must be at most this fraction of the lower of its two peaks.
    positions
        Linear FSC-A value of each bin (default: the bin index).
    log_axis
        Search the valley on ``positions x density`` (for a linear-scale histogram).
    minor_peak_prominence, minor_peak_nsd, minor_peak_min_position
        A minor cell peak must stand out by this fraction of the debris mode's height and by
        ``nsd`` noise SDs (with ``variance``), at ``>= min_position`` x the big peak's position.
    variance
        Variance of each ``density`` value (Poisson counts through the smoothing), or ``None``.
    max_shift_fraction
        The log-axis / minor-peak valley replaces the plain lowest point between the debris
        mode and the first big peak only when at most this fraction of the density lies
        between the two.

    Returns
    -------
    DebrisValley
    """
    y = np.asarray(density, dtype=np.float64)
    m = len(y)
    if m < 3 or not y.max() > 0:
        return DebrisValley(None, None, None)
    top = float(y.max())
    pos = np.arange(m, dtype=np.float64) if positions is None else np.asarray(positions, float)
    peaks = _peaks(y, min_peak_fraction * top)
    if not peaks:
        return DebrisValley(None, None, None)
    p0 = peaks[0]
    big = [p for p in peaks[1:] if y[p] >= cell_peak_fraction * top]
    if not big or not pos[big[0]] > 0 or pos[p0] > peak_max_position * pos[big[0]]:
        # no debris mode: the first significant peak is the smallest cells
        first = next((p for p in peaks if y[p] >= cell_peak_fraction * top), None)
        return DebrisValley(None, first, None)
    p1 = big[0]
    v = p0 + int(np.argmin(y[p0 : p1 + 1]))
    w, var, q0 = y, variance, p0
    if log_axis and pos[p0] > 0:
        scale = (np.maximum(pos, 0.0) / pos[p1]) ** float(log_axis)
        w = y * scale
        var = None if variance is None else np.asarray(variance, float) * scale**2
        # the debris mode on the log axis: within the upper half-width of the linear mode
        half = np.flatnonzero(y[p0 : v + 1] <= 0.5 * y[p0])
        h = p0 + (int(half[0]) if half.size else v - p0)
        q0 = p0 + int(np.argmax(w[p0 : h + 1]))
    cell = _first_minor_peak(
        w,
        var,
        q0,
        p1,
        pos,
        prominence=minor_peak_prominence,
        nsd=minor_peak_nsd,
        min_position=minor_peak_min_position,
    )
    end = p1 if cell is None else cell
    if w is not y or cell is not None:
        v_low = q0 + int(np.argmin(w[q0 : end + 1]))
        # a lower cut only through the thin floor of a deep valley (a minority population
        # hides there); a plateau holding many events is debris/dead cells, as before
        if float(y[v_low:v].sum()) <= max_shift_fraction * float(y.sum()):
            v = v_low
        else:
            cell = None
    depth = float(y[v] / min(y[p0], y[p1]))
    out_cell = p1 if cell is None else cell
    if depth > valley_max_ratio:
        return DebrisValley(p0, out_cell, None, depth, cell is not None)
    return DebrisValley(p0, out_cell, v, depth, cell is not None)


def find_valley(
    density: np.ndarray,
    *,
    min_peak_fraction: float,
    peak_max_position: float,
    valley_max_ratio: float,
    positions: np.ndarray | None = None,
    cell_peak_fraction: float = 0.1,
) -> int | None:
    """Bin of the first valley above a debris mode (see :func:`find_debris_valley`), or
    ``None`` when there is no such valley."""
    return find_debris_valley(
        density,
        min_peak_fraction=min_peak_fraction,
        cell_peak_fraction=cell_peak_fraction,
        peak_max_position=peak_max_position,
        valley_max_ratio=valley_max_ratio,
        positions=positions,
    ).valley


def _between(v: float, x: np.ndarray) -> float:
    """A threshold next to ``v`` that no value of float32 ``x`` can equal (the midpoint of
    two adjacent float32 values, exact in float64), so every evaluator, whatever its rule for
    points on a polygon edge, agrees. For float64 columns ``v`` itself."""
    if x.dtype != np.float32:
        return float(v)
    a = np.float32(v)
    b = np.nextafter(a, np.float32(np.inf))
    return (float(a) + float(b)) / 2.0


def _debris_threshold(
    x, keep, smp, log_scale, s: QCSettings, lin_range: tuple[float, float]
) -> tuple[float | None, dict]:
    """FSC-A debris threshold from the density of kept events (``None``: no cell peak).

    ``lin_range``: the 0.1 % and 99.5 % quantiles of ``smp`` (the histogram range on a
    linear scale)."""
    info: dict[str, Any] = {}
    if log_scale:
        space = np.log10(smp[smp > 0])
        if len(space) < 100:
            return None, info
        lo, hi = (float(v) for v in _quantiles(space, [0.001, 0.995]))
    else:
        lo, hi = lin_range
    if not hi > lo:
        return None, info
    hist = K.kept_histogram(keep, *x.spec, lo, hi, s.debris_bins, log_scale)
    dens = _smooth(hist, s.debris_smooth_bins)
    centers = lo + (np.arange(s.debris_bins) + 0.5) * (hi - lo) / s.debris_bins
    lin = 10.0**centers if log_scale else centers
    res = find_debris_valley(
        dens,
        positions=lin,
        min_peak_fraction=s.debris_min_peak_fraction,
        cell_peak_fraction=s.debris_cell_peak_fraction,
        peak_max_position=s.debris_peak_max_position,
        valley_max_ratio=s.debris_valley_max_ratio,
        log_axis=0.0 if log_scale else s.debris_log_axis_valley,
        minor_peak_prominence=s.debris_minor_peak_prominence,
        minor_peak_nsd=s.debris_minor_peak_nsd,
        minor_peak_min_position=s.debris_minor_peak_min_position,
        variance=dens * _smooth_variance_factor(s.debris_smooth_bins),
        max_shift_fraction=s.debris_valley_max_shift,
    )
    info["debris_peak"] = None if res.debris_peak is None else float(lin[res.debris_peak])
    info["cell_peak"] = None if res.cell_peak is None else float(lin[res.cell_peak])
    info["valley_depth"] = None if math.isnan(res.depth) else res.depth
    info["minor_cell_peak"] = res.minor_peak
    if res.valley is not None:
        info["method"] = "valley"
        return float(lin[res.valley]), info
    if res.cell_peak is not None:
        info["method"] = "fallback_cell_peak"
        return s.debris_fallback_peak_fraction * float(lin[res.cell_peak]), info
    return None, info


def _debris(events: Events, scatter: dict[str, int], st: _State, s: QCSettings) -> None:
    acq = events.acquisition
    if "fsc_a" not in scatter:
        st.flag("debris_skipped_no_fsc", "no FSC-A channel: debris not removed")
        return
    ch = acq.channels[scatter["fsc_a"]]
    x = st.spec(events, ch.index)
    n_kept = st.n_kept()
    stride = _stride(n_kept, s.stats_max_events)
    smp = _sample(x, st, stride, n_kept)
    if len(smp) < 100:
        st.flag("debris_skipped_too_few_events", "too few events to find a debris threshold")
        return
    is_int = acq.keywords.get("$DATATYPE", "").strip().upper() == "I"
    log_scale = bool(is_int and ch.log_decades > 0)
    # every quantile of the sample from one pass
    q_lo, q_hi, cap, q_fallback = (
        float(v)
        for v in _quantiles(
            smp, [0.001, 0.995, s.debris_cap_fraction, s.debris_fallback_quantile]
        )
    )
    threshold, info = _debris_threshold(x, st.keep, smp, log_scale, s, (q_lo, q_hi))
    method = info.get("method", "fallback_quantile")
    if threshold is None:
        threshold = q_fallback
    if method != "valley":
        threshold = min(threshold, cap)
        st.flag(
            "debris_threshold_fallback",
            "no clear FSC-A valley between debris and the smallest cells: threshold at "
            + (
                f"{s.debris_fallback_peak_fraction:g} x the smallest cells' FSC-A"
                if method == "fallback_cell_peak"
                else f"the {100 * s.debris_fallback_quantile:g}% FSC-A quantile"
            ),
        )
    elif threshold > cap:
        depth = info.get("valley_depth")
        if depth is not None and depth <= s.debris_clear_valley_ratio:
            st.flag(
                "debris_above_cap",
                f"a deep FSC-A valley puts more than {100 * s.debris_cap_fraction:g}% of "
                "events below the debris threshold",
            )
        else:
            threshold = cap
            method = "capped"
            st.flag(
                "debris_capped",
                f"the FSC-A valley would remove more than {100 * s.debris_cap_fraction:g}% "
                "of events and is shallow: threshold capped",
            )
    t_f = _between(threshold, x)
    # SSC limit: debris is low FSC AND low-to-moderate SSC (granulocytes keep high SSC)
    t_s: float | None = None
    if "ssc_a" in scatter:
        sch = acq.channels[scatter["ssc_a"]]
        y = st.spec(events, sch.index)
        low = K.sample_below(
            st.keep, *y.spec, *x.spec, t_f, stride, n_kept // stride + 1
        )
        if len(low) >= s.debris_ssc_min_events:
            # robust upper limit of the debris SSC-A (log scale): a few high-SSC cells
            # among the low-FSC events do not move it
            med, mad = _robust(np.log10(np.maximum(low, 1.0)))
            t_s = _between(10.0 ** (med + s.debris_ssc_nmad * max(mad, 0.05)), y)
    if t_s is None:
        removed = _remove_outside_range(x, st, t_f, math.inf, CODE_DEBRIS)
        gate: Gate = RectangleGate(
            id="qc_nondebris",
            parent=st.parent,
            dimensions=(Dimension(channel=ch.name, compensated=False, transform=None),),
            mins=(t_f,),
            maxs=(None,),
        )
    else:
        # removal and the extremes of what is kept (polygon frame) in one pass
        r_box, ext = K.remove_in_box(
            st.keep, st.labels, *x.spec, *y.spec, t_f, t_s, CODE_DEBRIS
        )
        removed = int(r_box)
        xmin, xmax, ymin, ymax = (float(v) for v in ext)
        x0 = min(xmin, t_f) - 1.0 - 0.01 * abs(xmax - xmin)
        x1 = max(xmax, t_f) + 1.0 + 0.01 * abs(xmax - xmin)
        y0 = min(ymin, t_s) - 1.0 - 0.01 * abs(ymax - ymin)
        y1 = max(ymax, t_s) + 1.0 + 0.01 * abs(ymax - ymin)
        if not all(math.isfinite(v) for v in (x0, x1, y0, y1)):  # nothing kept
            x0, x1, y0, y1 = t_f - 1.0, t_f + 1.0, t_s - 1.0, t_s + 1.0
        # the complement of the debris corner {x < t_f and y < t_s}: an L-shaped polygon
        verts = np.array(
            [(t_f, y0), (x1, y0), (x1, y1), (x0, y1), (x0, t_s), (t_f, t_s)], dtype=np.float64
        )
        gate = PolygonGate(
            id="qc_nondebris",
            parent=st.parent,
            dimensions=(
                Dimension(channel=ch.name, compensated=False, transform=None),
                Dimension(channel=sch.name, compensated=False, transform=None),
            ),
            vertices=verts,
        )
    st.removed["debris"] = removed
    st.gates.append(gate)
    st.parent = gate.id
    st.details["debris"] = {
        "method": method,
        "fsc_a_min": t_f,
        "ssc_a_min": t_s,
        "log_scale": log_scale,
        **{k: v for k, v in info.items() if k != "method"},
    }
    if n_kept and removed > s.debris_max_fraction * n_kept:
        st.flag(
            "high_debris_fraction",
            f"{100.0 * removed / n_kept:.1f}% debris among singlets",
        )


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------
def run_qc(events: Events, *, settings: QCSettings | None = None) -> QCResult:
    """Run margin, time-stability, doublet and debris QC on one acquisition.

    Parameters
    ----------
    events
        Pre-processed events; raw linear scatter/Time values are read from
        ``events.acquisition.events`` and display-scale signals from ``events.values``.
    settings
        Thresholds (defaults: :class:`QCSettings`).

    Returns
    -------
    QCResult
        Keep mask, labels, per-step removed counts, flags, gates and kept time intervals.
    """
    s = settings or QCSettings()
    n = events.n_events
    st = _State(n)
    if n == 0:
        st.flag("no_events", "the file holds no events")
    else:
        scatter = find_scatter(events.acquisition)
        st.details["scatter_channels"] = {
            k: events.acquisition.channels[v].name for k, v in scatter.items()
        }
        import numba

        threads = numba.get_num_threads()
        numba.set_num_threads(_qc_threads(n, threads))
        try:
            _margins(events, scatter, st, s)
            _time(events, scatter, st, s)
            _doublets(events, scatter, st, s)
            _debris(events, scatter, st, s)
        finally:
            numba.set_num_threads(threads)
    after = st.n_kept()
    return QCResult(
        keep=st.keep,
        labels=st.labels,
        removed=st.removed,
        events_total=n,
        events_after_qc=after,
        flags=st.flags,
        messages=st.messages,
        gates=st.gates,
        final_gate_id=st.parent,
        time_intervals=st.time_intervals,
        details=st.details,
    )
