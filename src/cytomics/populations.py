"""The shared population vocabulary: one ``uint8`` label per event.

Used by QC/gating (``labels.npy``, ``result.json`` ``label_codes``) and by the simulator's
per-event truth, so that accuracy is measured on the same names. Codes are stable: add new
ones at the end, never renumber.

Aggregates reported in ``result.json`` ``populations`` (see :data:`AGGREGATES`) are unions of
labels, e.g. ``lymphocytes`` = T + B + NK + other lymphocytes.
"""

from __future__ import annotations

from types import MappingProxyType

#: code -> name. QC-removed events carry the code of the *first* QC step that removed them.
LABEL_NAMES: MappingProxyType[int, str] = MappingProxyType(
    {
        0: "margin",  # saturated/off-scale scatter (margin events)
        1: "time_unstable",  # acquired during a flow-rate/signal disturbance
        2: "doublet",
        3: "debris",
        4: "unclassified",  # nucleated, not assigned to a named population
        5: "blasts",  # abnormal (leukemic) blasts
        6: "lymphocytes_t",
        7: "lymphocytes_b",  # mature B cells
        8: "lymphocytes_nk",
        9: "lymphocytes_other",  # lymphocyte gate, not T/B/NK
        10: "monocytes",
        11: "granulocytes",  # neutrophils (and precursors)
        12: "eosinophils",
        13: "cd45_negative",  # nucleated red cells and other CD45- nucleated events
        14: "b_precursors",  # normal B-cell precursors (hematogones)
        15: "myeloid_precursors",  # normal CD34+ myeloid progenitors
        16: "basophils",
        17: "plasma_cells",
    }
)

LABEL_CODES: MappingProxyType[str, int] = MappingProxyType({v: k for k, v in LABEL_NAMES.items()})

QC_REMOVED: frozenset[str] = frozenset({"margin", "time_unstable", "doublet", "debris"})

_NUCLEATED = frozenset(LABEL_NAMES.values()) - QC_REMOVED
_LYMPHOCYTES = frozenset({"lymphocytes_t", "lymphocytes_b", "lymphocytes_nk", "lymphocytes_other"})

#: aggregate name -> member label names (``result.json`` ``populations``).
AGGREGATES: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "nucleated": _NUCLEATED,
        "leukocytes": _NUCLEATED - {"cd45_negative"},
        "lymphocytes": _LYMPHOCYTES,
        "monocytes": frozenset({"monocytes"}),
        "granulocytes": frozenset({"granulocytes", "eosinophils", "basophils"}),
        "neutrophils": frozenset({"granulocytes"}),
        "eosinophils": frozenset({"eosinophils"}),
        "cd45_negative": frozenset({"cd45_negative"}),
        "blasts": frozenset({"blasts"}),
        "b_precursors": frozenset({"b_precursors"}),
        "myeloid_precursors": frozenset({"myeloid_precursors"}),
        "t_cells": frozenset({"lymphocytes_t"}),
        "b_cells": frozenset({"lymphocytes_b"}),
        "nk_cells": frozenset({"lymphocytes_nk"}),
    }
)


def codes_of(names: frozenset[str] | set[str]) -> list[int]:
    """Return the sorted label codes of the given label names.

    Parameters
    ----------
    names
        Label names from :data:`LABEL_NAMES`.

    Returns
    -------
    list of int
        Their codes, sorted.
    """
    return sorted(LABEL_CODES[n] for n in names)
