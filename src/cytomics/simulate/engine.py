"""Event generation: the cytometer physics applied to a :class:`~cytomics.simulate.cases.CasePlan`.

Per chunk of events:

1. draw the event categories (populations among nucleated singlets, debris, doublets,
   aggregates) with a multinomial;
2. draw each cell's marker levels in compensated logicle space, inverse-transform them to
   linear "true" fluorescence (>= 0), and its FSC/SSC area and pulse height;
3. doublets = two cells through the laser together (areas add, height ~ the larger one);
   aggregates = clumps whose scatter saturates (margin events);
4. shuffle, assign acquisition times (Poisson arrivals; flow-rate disturbances change rate
   and signal for a window of events);
5. detector: raw = true · S (spillover), plus photon noise (variance proportional to the
   signal) and electronic noise around zero, so compensated negatives spread below 0;
   FSC-W/SSC-W from area/height; everything clipped at the 18-bit ceiling 262143.

Chunks are seeded independently from (seed, chunk index), so a file is reproducible and can be
written in constant memory.
"""

from __future__ import annotations

import numpy as np

from cytomics.populations import LABEL_CODES
from cytomics.simulate.cases import CasePlan
from cytomics.simulate.phenotypes import PathLevel, PopSpec

#: 18-bit BD ceiling (the value saturated events pile at).
CEILING = 262143.0
#: Width scaling: W = A / H * WIDTH_SCALE (singlets ~ 70k as on a FACSCanto II).
WIDTH_SCALE = 62_000.0
TIMESTEP = 0.01

_LOGICLE = {"t": 262144.0, "m": 4.5, "w": 0.5, "a": 0.0}


def logicle_inverse(y: np.ndarray) -> np.ndarray:
    """Inverse logicle (T=262144, W=0.5, M=4.5, A=0; Gating-ML [0, 1] scale), elementwise."""
    y2 = np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1)
    try:
        from cytomics.preprocess.transforms import logicle_inverse as _inv  # type: ignore

        out = _inv(y2[:, 0], T=_LOGICLE["t"], W=_LOGICLE["w"], M=_LOGICLE["m"], A=_LOGICLE["a"])
    except (ImportError, TypeError):
        from flowutils.transforms import logicle_inverse as _fu_inv

        out = _fu_inv(y2, [0], **_LOGICLE)
    return np.asarray(out, dtype=np.float64).reshape(y.shape)


class _Cells:
    """Struct-of-arrays for drawn cells (true signals, before the detector)."""

    __slots__ = ("fl", "fsc_a", "fsc_h", "label", "ssc_a", "ssc_h")

    def __init__(self, fl, fsc_a, fsc_h, ssc_a, ssc_h, label):
        self.fl, self.fsc_a, self.fsc_h = fl, fsc_a, fsc_h
        self.ssc_a, self.ssc_h, self.label = ssc_a, ssc_h, label

    @staticmethod
    def concat(parts: list[_Cells], k: int) -> _Cells:
        if not parts:
            e = np.empty(0)
            return _Cells(np.empty((0, k)), e, e, e, e, np.empty(0, np.uint8))
        return _Cells(*(np.concatenate([getattr(p, a) for p in parts])
                        for a in ("fl", "fsc_a", "fsc_h", "ssc_a", "ssc_h", "label")))

    def take(self, idx: np.ndarray) -> _Cells:
        return _Cells(self.fl[idx], self.fsc_a[idx], self.fsc_h[idx], self.ssc_a[idx],
                      self.ssc_h[idx], self.label[idx])


def _draw_pop(spec: PopSpec, m: int, rng: np.random.Generator,
              fl_markers: list[tuple[str, ...]]) -> _Cells:
    k = len(fl_markers)
    if m == 0:
        return _Cells.concat([], k)
    needs_t = any(isinstance(spec.level(mk), PathLevel) for ms in fl_markers for mk in ms)
    t = rng.beta(*spec.t_beta, m) if needs_t else None
    cols = [mk for ms in fl_markers for mk in ms]
    y = np.empty((m, len(cols)))
    for j, mk in enumerate(cols):
        y[:, j] = spec.level(mk).sample(rng, m, t)
    lin = np.maximum(logicle_inverse(y), 0.0)
    fl = np.empty((m, k))
    c = 0
    for j, ms in enumerate(fl_markers):
        fl[:, j] = lin[:, c:c + len(ms)].sum(axis=1)
        c += len(ms)
    z = rng.standard_normal((3, m))
    fsc_a = spec.fsc[0] * np.exp(spec.fsc[1] * (0.6 * z[0] + 0.8 * z[1]))
    ssc_a = spec.ssc[0] * np.exp(spec.ssc[1] * (0.5 * z[0] + 0.866 * z[2]))
    ah = np.maximum(rng.normal(spec.ah_ratio[0], spec.ah_ratio[1], m), 0.7)
    ahs = np.maximum(rng.normal(spec.ah_ratio[0] + 0.03, spec.ah_ratio[1], m), 0.7)
    label = np.full(m, LABEL_CODES[spec.label], dtype=np.uint8)
    return _Cells(fl, fsc_a, fsc_a / ah, ssc_a, ssc_a / ahs, label)


def _draw_mixture(plan: CasePlan, m: int, rng: np.random.Generator,
                  fl_markers: list[tuple[str, ...]]) -> _Cells:
    w = np.array([f for _, _, f in plan.pops], dtype=np.float64)
    counts = rng.multinomial(m, w / w.sum())
    parts = [_draw_pop(spec, int(c), rng, fl_markers)
             for (_, spec, _), c in zip(plan.pops, counts, strict=True) if c]
    cells = _Cells.concat(parts, len(fl_markers))
    return cells.take(rng.permutation(cells.label.shape[0]))


def draw_chunk(plan: CasePlan, chunk_index: int, start: int, n: int,
               t0: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Draw events ``start .. start+n-1`` of the file.

    Returns
    -------
    events
        float32 ``[n, p]`` raw linear values in :attr:`CasePlan.channels` order.
    labels
        uint8 ``[n]`` truth labels (:mod:`cytomics.populations` codes).
    t_end
        Acquisition time (s) of the last event, to continue the next chunk.
    """
    rng = np.random.default_rng([plan.seed, 7, chunk_index])
    fl_idx = plan.fluor_channels
    fl_markers = [plan.channels[i][1] for i in fl_idx]
    k = len(fl_idx)

    nuc_w = np.array([f for _, _, f in plan.pops])
    p_nuc = max(0.0, 1.0 - plan.debris - plan.doublets - plan.aggregates)
    probs = np.concatenate([p_nuc * nuc_w / nuc_w.sum(), [plan.debris, plan.doublets,
                                                          plan.aggregates]])
    counts = rng.multinomial(n, probs / probs.sum())
    parts = [_draw_pop(spec, int(c), rng, fl_markers)
             for (_, spec, _), c in zip(plan.pops, counts[:-3], strict=True) if c]
    n_deb, n_dbl, n_agg = (int(c) for c in counts[-3:])
    parts.append(_draw_pop(plan.debris_spec, n_deb, rng, fl_markers))
    if n_dbl:
        a = _draw_mixture(plan, n_dbl, rng, fl_markers)
        b = _draw_mixture(plan, n_dbl, rng, fl_markers)
        lift = rng.uniform(1.0, 1.25, n_dbl)
        parts.append(_Cells(
            a.fl + b.fl, a.fsc_a + b.fsc_a, np.maximum(a.fsc_h, b.fsc_h) * lift,
            a.ssc_a + b.ssc_a, np.maximum(a.ssc_h, b.ssc_h) * lift,
            np.full(n_dbl, LABEL_CODES["doublet"], np.uint8)))
    if n_agg:
        c = _draw_mixture(plan, n_agg, rng, fl_markers)
        size = rng.uniform(2.5, 7.0, n_agg)
        height = size * rng.uniform(0.45, 0.7, n_agg)
        parts.append(_Cells(c.fl * size[:, None], c.fsc_a * size, c.fsc_h * height,
                            c.ssc_a * size, c.ssc_h * height,
                            np.full(n_agg, LABEL_CODES["doublet"], np.uint8)))
    cells = _Cells.concat(parts, k)
    cells = cells.take(rng.permutation(n))

    # --- acquisition time and flow disturbances --------------------------------------
    gaps = rng.exponential(1.0 / plan.event_rate, n)
    unstable = np.zeros(n, dtype=bool)
    signal = np.ones(n)
    for d0, d1, sig, rate in plan.disturbances:
        lo, hi = max(d0, start) - start, min(d1, start + n) - start
        if hi > lo:
            gaps[lo:hi] /= rate
            # signal dips then recovers across the window
            ramp = np.sin(np.linspace(0.0, np.pi, hi - lo))
            signal[lo:hi] = 1.0 - (1.0 - sig) * ramp
            unstable[lo:hi] = ramp > 0.15
    times = t0 + np.cumsum(gaps)

    # --- detector ------------------------------------------------------------------------
    var = plan.variant
    slots = [plan.channels[i][2] for i in fl_idx]
    true = cells.fl * signal[:, None]
    raw = true @ plan.spillover
    q = np.array([var.photon_q[s] for s in slots])
    raw += rng.standard_normal((n, k)) * np.sqrt(q * np.maximum(raw, 0.0))
    raw += rng.normal(0.0, 18.0, (n, k))
    np.minimum(raw, CEILING, out=raw)

    sc = signal ** 0.5
    fsc_a = cells.fsc_a * sc * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 250.0, n)
    fsc_h = cells.fsc_h * sc * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 250.0, n)
    ssc_a = cells.ssc_a * sc * (1.0 + rng.normal(0.0, 0.015, n)) + rng.normal(0.0, 120.0, n)
    ssc_h = cells.ssc_h * sc * (1.0 + rng.normal(0.0, 0.015, n)) + rng.normal(0.0, 120.0, n)
    fsc_h = np.maximum(fsc_h, 200.0)
    ssc_h = np.maximum(ssc_h, 100.0)
    scatter = {
        "FSC-A": fsc_a, "FSC-H": fsc_h, "FSC-W": fsc_a / fsc_h * WIDTH_SCALE,
        "SSC-A": ssc_a, "SSC-H": ssc_h, "SSC-W": ssc_a / ssc_h * WIDTH_SCALE,
    }
    events = np.empty((n, len(plan.channels)), dtype=np.float32)
    saturated = np.zeros(n, dtype=bool)
    j_fl = 0
    for col, (name, markers, _) in enumerate(plan.channels):
        if markers is not None:
            events[:, col] = raw[:, j_fl]
            j_fl += 1
        elif name == "Time":
            events[:, col] = times / TIMESTEP
        else:
            v = np.clip(scatter[name], 0.0, CEILING)
            if name in ("FSC-A", "FSC-H", "SSC-A", "SSC-H"):
                saturated |= v >= CEILING
            events[:, col] = v

    labels = cells.label.copy()
    labels[unstable] = LABEL_CODES["time_unstable"]
    labels[saturated] = LABEL_CODES["margin"]
    return events, labels, float(times[-1]) if n else t0
