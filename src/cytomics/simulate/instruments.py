"""Instrument variants and tube layouts: channel names, marker spellings, spillover, keywords.

Three variants mimic the exports the pipeline meets (DOMAIN §1):

``canto_ii``
    BD FACSCanto II, FACSDiva 8: FCS 3.0, big-endian, ``SPILL``; violet channels ``HV450-A`` /
    ``HV500-A``; FSC/SSC A, H, W; Time last; EuroFlow marker spellings (``cyCD3``...).
``canto_ii_pacb``
    Older FACSCanto II exports of the same lab: FCS 3.0, big-endian, ``SPILL``; ``PacB-A`` /
    ``PacO-A``; Time first, FSC-A/FSC-H/SSC-A only; legacy spellings (``CyCD3``, ``Cy 79a``,
    ``MPO``, ``CD3``, ``CD66c/CD123``).
``lyric``
    BD FACSLyric, FACSuite: FCS 3.1, little-endian, ``$SPILLOVER``; ``BV421-A`` / ``V500-C-A``;
    short spellings (``cCD3``, ``cCD79a``, ``cMPO``, ``CD3``, ``CD123_CD66c``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cytomics.errors import ConfigError

#: Fluorochrome slots (order of the base spillover matrix).
SLOTS: tuple[str, ...] = ("FITC", "PE", "PerCP-Cy5.5", "PE-Cy7", "APC", "APC-H7", "V450", "V500")

#: Tube layouts: panel name -> ((slot, canonical markers), ...). Same markers and
#: fluorochromes as ``panels/*.yaml`` (checked by tests/test_simulate.py).
TUBES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "alot": (
        ("FITC", ("cyMPO",)), ("PE", ("cyCD79a",)), ("PerCP-Cy5.5", ("CD34",)),
        ("PE-Cy7", ("CD19",)), ("APC", ("CD7",)), ("APC-H7", ("smCD3",)),
        ("V450", ("cyCD3",)), ("V500", ("CD45",)),
    ),
    "bcp_all_mrd_tube1": (
        ("FITC", ("CD81",)), ("PE", ("CD66c", "CD123")), ("PerCP-Cy5.5", ("CD34",)),
        ("PE-Cy7", ("CD19",)), ("APC", ("CD10",)), ("APC-H7", ("CD38",)),
        ("V450", ("CD20",)), ("V500", ("CD45",)),
    ),
    "bcp_all_mrd_tube2": (
        ("FITC", ("CD58",)), ("PE", ("CD73", "CD304")), ("PerCP-Cy5.5", ("CD34",)),
        ("PE-Cy7", ("CD19",)), ("APC", ("CD10",)), ("APC-H7", ("CD38",)),
        ("V450", ("CD20",)), ("V500", ("CD45",)),
    ),
    # AIEOP-BFM tube (Reiter 2019); fluorochromes are the project's placeholders (panels/).
    # CD45 is PerCP, read in the PerCP-Cy5.5 detector.
    "bfm_bcp_mrd": (
        ("FITC", ("CD20",)), ("PE", ("CD10",)), ("PerCP-Cy5.5", ("CD45",)),
        ("PE-Cy7", ("CD34",)), ("APC", ("CD19",)), ("APC-H7", ("CD38",)),
        ("V450", ("SYTO41",)),
    ),
}

TUBE_NAMES: dict[str, str] = {
    "alot": "ALOT", "bcp_all_mrd_tube1": "BCP-ALL MRD T1", "bcp_all_mrd_tube2": "BCP-ALL MRD T2",
    "bfm_bcp_mrd": "BFM MRD",
}

_SPELLINGS: dict[str, dict[str, str]] = {
    "euroflow": {},
    "legacy": {"cyCD3": "CyCD3", "cyCD79a": "Cy 79a", "cyMPO": "MPO", "smCD3": "CD3",
               "CD66c+CD123": "CD66c/CD123", "CD73+CD304": "CD73/CD304", "SYTO41": "SYTO 41"},
    "lyric": {"cyCD3": "cCD3", "cyCD79a": "cCD79a", "cyMPO": "cMPO", "smCD3": "CD3",
              "CD66c+CD123": "CD123_CD66c", "CD73+CD304": "CD73 CD304", "SYTO41": "Syto-41"},
}

# Base spillover (rows: source fluorochrome, columns: receiving detector), Canto II 4-2-2.
_CANTO_S = np.array([
    # FITC   PE     PerCP  PE-Cy7 APC    APC-H7 V450   V500
    [1.0,   0.185, 0.032, 0.006, 0.000, 0.000, 0.000, 0.004],   # FITC
    [0.012, 1.0,   0.150, 0.022, 0.000, 0.002, 0.000, 0.000],   # PE
    [0.000, 0.001, 1.0,   0.310, 0.022, 0.060, 0.000, 0.000],   # PerCP-Cy5.5
    [0.000, 0.018, 0.010, 1.0,   0.002, 0.055, 0.000, 0.000],   # PE-Cy7
    [0.000, 0.000, 0.008, 0.004, 1.0,   0.115, 0.000, 0.000],   # APC
    [0.000, 0.000, 0.000, 0.060, 0.025, 1.0,   0.000, 0.000],   # APC-H7
    [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 1.0,   0.210],   # V450 (PacB/HV450)
    [0.022, 0.008, 0.003, 0.000, 0.000, 0.000, 0.020, 1.0],     # V500 (PacO/HV500)
])
_LYRIC_S = np.array([
    [1.0,   0.160, 0.028, 0.004, 0.000, 0.000, 0.000, 0.010],
    [0.010, 1.0,   0.120, 0.030, 0.000, 0.002, 0.000, 0.000],
    [0.000, 0.002, 1.0,   0.260, 0.030, 0.050, 0.000, 0.000],
    [0.000, 0.025, 0.012, 1.0,   0.003, 0.070, 0.000, 0.000],
    [0.000, 0.000, 0.010, 0.005, 1.0,   0.090, 0.000, 0.000],
    [0.000, 0.000, 0.000, 0.045, 0.030, 1.0,   0.000, 0.000],
    [0.002, 0.000, 0.000, 0.000, 0.000, 0.000, 1.0,   0.120],   # BV421
    [0.030, 0.012, 0.005, 0.000, 0.000, 0.000, 0.012, 1.0],     # V500-C
])


@dataclass(frozen=True)
class Variant:
    """One instrument/export variant."""

    name: str
    cytometer: str
    creator: str
    serial_prefix: str
    fcs_version: str
    byteorder: str
    slot_channels: dict[str, str]
    scatter: tuple[str, ...]
    time_first: bool
    spelling: str
    base_spillover: np.ndarray
    voltages: dict[str, float]
    photon_q: dict[str, float]  # linear units per photoelectron (photon-noise scale)


_CANTO_CH = {"FITC": "FITC-A", "PE": "PE-A", "PerCP-Cy5.5": "PerCP-Cy5-5-A", "PE-Cy7": "PE-Cy7-A",
             "APC": "APC-A", "APC-H7": "APC-H7-A", "V450": "HV450-A", "V500": "HV500-A"}
_VOLTS = {"FSC": 420, "SSC": 470, "FITC": 505, "PE": 455, "PerCP-Cy5.5": 575, "PE-Cy7": 620,
          "APC": 600, "APC-H7": 560, "V450": 415, "V500": 480}
_Q = {"FITC": 30.0, "PE": 12.0, "PerCP-Cy5.5": 30.0, "PE-Cy7": 18.0, "APC": 20.0,
      "APC-H7": 30.0, "V450": 35.0, "V500": 45.0}

VARIANTS: dict[str, Variant] = {
    "canto_ii": Variant(
        "canto_ii", "FACSCanto II", "BD FACSDiva Software Version 8.0.1", "V96300",
        "3.0", "big", _CANTO_CH,
        ("FSC-A", "FSC-H", "FSC-W", "SSC-A", "SSC-H", "SSC-W"), False, "euroflow",
        _CANTO_S, _VOLTS, _Q,
    ),
    "canto_ii_pacb": Variant(
        "canto_ii_pacb", "FACSCanto II", "BD FACSDiva Software Version 6.1.3", "V96300",
        "3.0", "big", {**_CANTO_CH, "V450": "PacB-A", "V500": "PacO-A"},
        ("FSC-A", "FSC-H", "SSC-A"), True, "legacy",
        _CANTO_S, {**_VOLTS, "V450": 400, "V500": 460}, _Q,
    ),
    "lyric": Variant(
        "lyric", "BD FACSLyric", "BD FACSuite Clinical Application v1.5.0.12345", "R6584",
        "3.1", "little",
        {**_CANTO_CH, "PerCP-Cy5.5": "PerCP-Cy5.5-A", "V450": "BV421-A", "V500": "V500-C-A"},
        ("FSC-A", "FSC-H", "FSC-W", "SSC-A", "SSC-H"), False, "lyric",
        _LYRIC_S, {**_VOLTS, "FSC": 380, "SSC": 440, "V450": 390}, {**_Q, "V450": 25.0},
    ),
}


def get_variant(name: str) -> Variant:
    """Return a variant by name, raising :class:`ConfigError` for an unknown one."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown instrument variant {name!r}; known: {sorted(VARIANTS)}") from None


def get_tube(panel: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Return the tube layout of ``panel``, raising :class:`ConfigError` when unknown."""
    try:
        return TUBES[panel]
    except KeyError:
        raise ConfigError(f"panel {panel!r} cannot be simulated; known: {sorted(TUBES)}") from None


def marker_label(markers: tuple[str, ...], spelling: str) -> str:
    """``$PnS`` text for a channel carrying ``markers`` in a variant's spelling."""
    canonical = "+".join(markers)
    return _SPELLINGS[spelling].get(canonical, canonical)


def file_spillover(variant: Variant, slots: list[str], rng: np.random.Generator) -> np.ndarray:
    """The file's spillover sub-matrix for ``slots``: base values jittered per setup (±10 %)."""
    idx = [SLOTS.index(s) for s in slots]
    s = variant.base_spillover[np.ix_(idx, idx)].copy()
    jitter = rng.uniform(0.9, 1.1, size=s.shape)
    s *= jitter
    np.fill_diagonal(s, 1.0)
    return np.round(s, 5)
