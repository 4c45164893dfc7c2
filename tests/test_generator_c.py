"""Generator C (benchmarks/_generator_c.py): files the reader and panel matcher accept, truth
that matches the events, and the requested blast fraction."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _generator_c import INSTRUMENTS, KINDS, make_case, write_case

from cytomics.fcs import read_fcs
from cytomics.panel import match_panel
from cytomics.populations import AGGREGATES, LABEL_CODES, codes_of

_NUCLEATED = codes_of(AGGREGATES["nucleated"])


@pytest.mark.parametrize(
    ("kind", "instrument", "fraction"),
    [("ball_cd34pos", "canto", 0.6), ("aml_mono", "canto_old", 0.05),
     ("tall", "lyric", 0.3), ("mpal", "canto", 0.95), ("aml_cd34neg", "lyric", 0.01)],
)
def test_written_file_reads_matches_and_keeps_the_blast_fraction(tmp_path, kind, instrument,
                                                                  fraction):
    case = make_case(kind, 11, 8000, fraction, instrument)
    path = write_case(tmp_path / "c.fcs", case, instrument)
    acq = read_fcs(path)
    match = match_panel(acq, "alot")
    assert acq.n_events == 8000 == len(case.truth)
    assert case.truth.dtype == np.uint8
    assert set(match.markers) == {"cyCD3", "CD45", "cyMPO", "cyCD79a", "CD34", "CD19", "CD7",
                                  "smCD3"}
    assert acq.spillover is not None and len(acq.spillover.detectors) == 8
    np.testing.assert_allclose(acq.events, case.events, rtol=0, atol=0)
    nuc = np.isin(case.truth, _NUCLEATED)
    got = float((case.truth[nuc] == LABEL_CODES["blasts"]).mean())
    assert abs(got - fraction) <= 0.02


def test_normal_samples_have_no_blasts_and_the_case_is_reproducible():
    for kind in ("normal_bm", "normal_pb"):
        a = make_case(kind, 3, 5000, 0.5, "canto")
        assert not np.any(a.truth == LABEL_CODES["blasts"])
        b = make_case(kind, 3, 5000, 0.5, "canto")
        np.testing.assert_array_equal(a.events, b.events)
    assert set(KINDS) >= {"normal_bm", "ball_cd34pos", "tall", "aml_cd34pos", "mpal"}
    assert len(INSTRUMENTS) >= 2


def test_doublets_have_low_height_to_area_and_compensation_recovers_negatives(tmp_path):
    case = make_case("normal_bm", 5, 20000, 0.0, "canto")
    names = [c.name for c in case.channels]
    fa, fh = case.events[:, names.index("FSC-A")], case.events[:, names.index("FSC-H")]
    ratio = fh / np.maximum(fa, 1.0)
    dbl = case.truth == LABEL_CODES["doublet"]
    sing = np.isin(case.truth, _NUCLEATED)
    assert np.median(ratio[dbl]) < np.median(ratio[sing])
    # PE-Cy7 (CD19) of neutrophils is spillover only: compensation brings it back to ~0
    dets, s = case.spillover
    raw = case.events[:, [names.index(d) for d in dets]].astype(np.float64)
    comp = raw @ np.linalg.inv(s)
    neut = case.truth == LABEL_CODES["granulocytes"]
    cd19 = comp[neut, dets.index("PE-Cy7-A")]
    assert abs(np.median(cd19)) < 150 < np.median(raw[neut, dets.index("PE-Cy7-A")])
