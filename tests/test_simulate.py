"""Simulator: determinism, realised vs requested proportions, physics, FCS + truth round trips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cytomics.errors import ConfigError, FCSError
from cytomics.fcs.reader import read_fcs
from cytomics.populations import LABEL_CODES, QC_REMOVED
from cytomics.simulate import (
    CASE_KINDS,
    PANELS,
    VARIANTS,
    simulate_case,
    simulate_to_file,
    write_case,
)
from cytomics.simulate.engine import CEILING
from cytomics.simulate.figures import display_values

REPO = Path(__file__).resolve().parents[1]


def _nucleated(labels: np.ndarray) -> np.ndarray:
    return ~np.isin(labels, [LABEL_CODES[n] for n in QC_REMOVED])


@pytest.mark.parametrize("kind", sorted(CASE_KINDS))
def test_every_kind_simulates(kind):
    case = simulate_case(kind, seed=11, n_events=4_000)
    assert case.events.shape == (4_000, len(case.channels))
    assert case.events.dtype == np.float32
    assert case.labels.shape == (4_000,) and case.labels.dtype == np.uint8
    assert case.truth["lineage_class"] == CASE_KINDS[kind][0]
    has_blasts = CASE_KINDS[kind][0] != "no_abnormal_blasts"
    assert (case.truth["blast_events"] > 0) == has_blasts
    assert "SIMULATED" in case.keywords["$COM"]


def test_deterministic_by_seed():
    a = simulate_case("aml_cd34pos", seed=5, n_events=3_000, variant="lyric")
    b = simulate_case("aml_cd34pos", seed=5, n_events=3_000, variant="lyric")
    c = simulate_case("aml_cd34pos", seed=6, n_events=3_000, variant="lyric")
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.keywords == b.keywords
    assert not np.array_equal(a.events, c.events)


@pytest.mark.parametrize("fraction", [0.3, 0.02])
def test_realised_blast_fraction_within_sampling_error(fraction):
    case = simulate_case("b_all_pro_pre_b", seed=3, n_events=60_000, blast_fraction=fraction)
    nuc = _nucleated(case.labels)
    # blasts can also turn into QC events (doublets/margins/disturbance); count among nucleated
    n = int(nuc.sum())
    k = int((case.labels == LABEL_CODES["blasts"]).sum())
    sd = np.sqrt(n * fraction * (1 - fraction))
    assert abs(k - n * fraction) < 4.5 * sd + 2
    assert case.truth["blast_percent_of_nucleated"] == pytest.approx(100 * k / n)


def test_qc_artefact_rates_match_plan():
    case = simulate_case("normal_bm", seed=9, n_events=60_000, debris_fraction=0.1,
                         doublet_fraction=0.04, disturbance=False)
    lab = case.labels
    n = lab.size
    debris = (lab == LABEL_CODES["debris"]).sum() / n
    doublets = (lab == LABEL_CODES["doublet"]).sum() / n
    margin = (lab == LABEL_CODES["margin"]).sum() / n
    assert debris == pytest.approx(0.1, abs=0.01)
    # aggregates (0.2-0.8 %) are also doublet-like; some doublets saturate (-> margin)
    assert 0.035 < doublets + margin < 0.06
    assert 0 < margin < 0.02
    assert (lab == LABEL_CODES["time_unstable"]).sum() == 0


def test_scatter_physics():
    case = simulate_case("normal_bm", seed=4, n_events=40_000, disturbance=True)
    names = [c.name for c in case.channels]
    ev, lab = case.events, case.labels
    fa, fh = ev[:, names.index("FSC-A")], ev[:, names.index("FSC-H")]
    fw = ev[:, names.index("FSC-W")]
    # margin events pile at the 18-bit ceiling and are labelled margin
    sat = (fa >= CEILING) | (ev[:, names.index("SSC-A")] >= CEILING)
    assert sat.sum() > 0 and np.all(lab[sat] == LABEL_CODES["margin"])
    assert ev.max() <= CEILING
    # doublets: larger A/H ratio and width than singlets
    single = lab == LABEL_CODES["granulocytes"]
    dbl = lab == LABEL_CODES["doublet"]
    assert np.median(fa[dbl] / fh[dbl]) > 1.3 * np.median(fa[single] / fh[single])
    assert np.median(fw[dbl]) > np.median(fw[single])
    # debris: low FSC
    deb = lab == LABEL_CODES["debris"]
    assert np.median(fa[deb]) < 0.4 * np.median(fa[lab == LABEL_CODES["lymphocytes_t"]])
    # a disturbance window exists and Time is monotone in raw ticks
    assert (lab == LABEL_CODES["time_unstable"]).sum() > 0
    t = ev[:, names.index("Time")]
    assert np.all(np.diff(t) >= 0)


def test_compensated_phenotypes_alot():
    """After compensation with the file's SPILL the textbook ALOT patterns hold."""
    case = simulate_case("b_all_pro_b", seed=21, n_events=40_000, blast_fraction=0.5)
    vals, cols = display_values(case)
    lab = case.labels
    blasts, t = lab == LABEL_CODES["blasts"], lab == LABEL_CODES["lymphocytes_t"]
    neut = lab == LABEL_CODES["granulocytes"]
    cd34 = vals[:, cols["CD34"]]
    assert np.mean(cd34[blasts] > 0.45) > 0.8  # CD34 on >= 80 % of pro-B blasts
    assert np.median(vals[blasts, cols["CD19"]]) > 0.45
    assert np.median(vals[blasts, cols["CD45"]]) < np.median(vals[t, cols["CD45"]]) - 0.2
    assert np.median(vals[t, cols["cyCD3"]]) > 0.65
    assert np.median(vals[neut, cols["cyMPO"]]) > 0.7
    assert np.median(vals[blasts, cols["cyMPO"]]) < 0.3
    # electronic noise: compensated negatives go below zero
    raw = case.events.astype(np.float64)
    names = [c.name for c in case.channels]
    dets, s = case.spillover
    idx = [names.index(d) for d in dets]
    comp = raw[:, idx] @ np.linalg.inv(s)
    assert (comp < 0).mean() > 0.05


def test_t_all_and_mpal_intensities():
    t_all = simulate_case("t_all", seed=2, n_events=20_000, blast_fraction=0.6)
    v, c = display_values(t_all)
    bl, t = t_all.labels == LABEL_CODES["blasts"], t_all.labels == LABEL_CODES["lymphocytes_t"]
    assert np.median(v[bl, c["cyCD3"]]) > 0.6
    assert np.median(v[bl, c["smCD3"]]) < np.median(v[t, c["smCD3"]]) - 0.2
    mpal = simulate_case("mpal_b_myeloid", seed=2, n_events=20_000, blast_fraction=0.6)
    v, c = display_values(mpal)
    bl = mpal.labels == LABEL_CODES["blasts"]
    neut = mpal.labels == LABEL_CODES["granulocytes"]
    # MPO on part of the blasts exceeds 50 % of neutrophil intensity (WHO-HAEM5)
    from cytomics.preprocess.transforms import logicle_inverse

    half = logicle(0.5 * logicle_inverse(np.median(v[neut, c["cyMPO"]])))
    assert np.mean(v[bl, c["cyMPO"]] > half) > 0.1


def logicle(x):
    from cytomics.preprocess.transforms import logicle as _l

    return _l(x)


def test_mrd_same_laip_across_timepoints_and_backgrounds():
    kw = dict(panel="bcp_all_mrd_tube1", patient_id="PX", variant="canto_ii_pacb")
    dx = simulate_case("b_all_pro_b", seed=1, n_events=5_000, timepoint="dx", **kw)
    d19 = simulate_case("b_all_pro_b", seed=2, n_events=30_000, timepoint="d19",
                        blast_fraction=1e-3, **kw)
    d33 = simulate_case("b_all_pro_b", seed=3, n_events=30_000, timepoint="d33",
                        blast_fraction=1e-3, **kw)
    assert dx.truth["blast_design"] == d19.truth["blast_design"] == d33.truth["blast_design"]
    assert dx.truth["genetics"] == d33.truth["genetics"]
    assert d19.truth["background"] == "depleted" and d33.truth["background"] == "regenerating"
    hg = LABEL_CODES["b_precursors"]
    assert (d19.labels == hg).mean() < (d33.labels == hg).mean()
    assert d33.truth["mrd_percent_of_nucleated"] is not None
    # blasts differ from hematogones: lower CD38, CD81 (LAIP)
    v, c = display_values(d33)
    b = d33.labels == LABEL_CODES["blasts"]
    h = d33.labels == hg
    assert b.sum() > 5
    assert np.median(v[b, c["CD38"]]) < np.median(v[h, c["CD38"]]) - 0.1


def test_tiny_mrd_fraction():
    case = simulate_case("b_all_pre_b", seed=8, n_events=200_000, blast_fraction=5e-5,
                         panel="bcp_all_mrd_tube2", timepoint="d33")
    k = int((case.labels == LABEL_CODES["blasts"]).sum())
    assert 0 < k < 40  # expectation ~9


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("panel", PANELS)
def test_write_read_back_panel_match(tmp_path, variant, panel):
    from cytomics.panel import match_panel

    kind = "b_all_pro_b"
    case = simulate_case(kind, seed=1, n_events=1_500, variant=variant, panel=panel)
    path = write_case(case, tmp_path / "x.fcs", truth_dir=tmp_path / "truth")
    acq = read_fcs(path)
    np.testing.assert_array_equal(acq.events, case.events)
    assert acq.fcs_version == VARIANTS[variant].fcs_version
    match = match_panel(acq, panel)
    tube_markers = {"+".join(m) for _, m in __import__(
        "cytomics.simulate.instruments", fromlist=["TUBES"]).TUBES[panel]}
    assert set(match.markers) == tube_markers
    for marker, idx in match.markers.items():
        assert acq.channels[idx].name in case.spillover[0], marker


def test_write_case_keywords_spillover_and_truth(tmp_path):
    import flowkit as fk

    case = simulate_case("t_all", seed=4, n_events=3_000, variant="canto_ii")
    path = write_case(case, tmp_path / "t.fcs", truth_dir=tmp_path / "truth")
    acq = read_fcs(path)
    kw = acq.keywords
    for key in ("$CYT", "$CYTSN", "$DATE", "$BTIM", "$ETIM", "$FIL", "$SRC", "TUBE NAME",
                "EXPERIMENT NAME", "CST BASELINE DATE", "CST SETUP STATUS", "SPILL"):
        assert kw.get(key), key
    assert kw["$FIL"] == "t.fcs" and kw["$TIMESTEP"] == "0.01"
    assert "SIMULATED DATA" in kw["$COM"]
    assert kw["$BYTEORD"] == "4,3,2,1"
    for i, ch in enumerate(acq.channels, start=1):
        assert kw[f"$P{i}B"] == "32" and kw[f"$P{i}E"] == "0,0" and kw[f"$P{i}R"] == "262144"
        if ch.marker:
            assert ch.voltage is not None
    assert tuple(acq.spillover.detectors) == tuple(case.spillover[0])
    np.testing.assert_allclose(acq.spillover.matrix, case.spillover[1], rtol=1e-5)
    # FlowKit reads the same values and compensates with the same matrix
    s = fk.Sample(str(path))
    raw = s.get_events(source="raw")
    names = [c.name for c in acq.channels]
    nt = [i for i, n in enumerate(names) if n != "Time"]
    np.testing.assert_array_equal(raw[:, nt].astype(np.float32), acq.events[:, nt])
    # truth sidecar
    npz = np.load(tmp_path / "truth" / "t.fcs.truth.npz")
    np.testing.assert_array_equal(npz["labels"], case.labels)
    truth = json.loads((tmp_path / "truth" / "t.fcs.truth.json").read_text())
    assert truth["simulated"] is True and "SIMULATED DATA" in truth["note"]
    for key in ("lineage_class", "blast_percent_of_nucleated", "patient_id", "timepoint", "seed",
                "panel", "instrument_variant", "mrd_percent_of_nucleated"):
        assert key in truth


def test_streamed_file_equals_in_memory(tmp_path):
    opts = dict(seed=12, n_events=7_000, panel="bfm_bcp_mrd", timepoint="d19", patient_id="Q1")
    truth = simulate_to_file("b_all_pro_b", tmp_path / "s.fcs", **opts)
    case = simulate_case("b_all_pro_b", **opts)
    acq = read_fcs(tmp_path / "s.fcs")
    np.testing.assert_array_equal(acq.events, case.events)
    assert truth["blast_events"] == case.truth["blast_events"]


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError):
        simulate_case("no_such_kind", seed=1, n_events=10)
    with pytest.raises(ConfigError):
        simulate_case("t_all", seed=1, n_events=10, variant="aria")
    with pytest.raises(ConfigError):
        simulate_case("t_all", seed=1, n_events=10, timepoint="week2")
    with pytest.raises(ConfigError):
        simulate_case("t_all", seed=1, n_events=10, blast_fraction=1.5)
    with pytest.raises(ConfigError):
        simulate_case("normal_bm", seed=1, n_events=10, blast_fraction=0.2)


def test_cli_case_and_kinds(tmp_path, capsys):
    from cytomics.cli import main

    assert main(["simulate", "kinds"]) == 0
    assert "b_all_pro_b" in capsys.readouterr().out
    out = tmp_path / "c.fcs"
    rc = main(["simulate", "case", "undetermined", "--seed", "3", "--n-events", "2000",
               "--out", str(out), "--variant", "lyric"])
    assert rc == 0 and out.exists() and (tmp_path / "c.fcs.truth.json").exists()
    assert read_fcs(out).keywords["$CYT"] == "BD FACSLyric"


def test_demo_batch_sheet_and_files():
    sheet = REPO / "config" / "samples.tsv"
    with sheet.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert list(rows[0]) == ["sample_id", "patient_id", "timepoint", "tube", "fcs", "specimen",
                             "dna_index", "etv6_runx1", "bcr_abl1"]
    total = 0
    broken = 0
    for row in rows:
        path = REPO / row["fcs"]
        total += path.stat().st_size
        truth = json.loads((path.parent / "truth" / f"{path.name}.truth.json").read_text())
        assert truth["panel"] == row["tube"] and truth["timepoint"] == row["timepoint"]
        if "deliberately_broken" in truth:
            broken += 1
            with pytest.raises(FCSError):
                read_fcs(path)
            continue
        acq = read_fcs(path)
        assert acq.n_events == truth["n_events"]
        labels = np.load(path.parent / "truth" / f"{path.name}.truth.npz")["labels"]
        assert labels.shape[0] == acq.n_events
    assert broken == 1
    assert total < 30e6


def test_options_pass_through_to_the_plan(tmp_path):
    """simulate_case and simulate_to_file share build_plan's options (one definition)."""
    genetics = {"dna_index": 1.2, "etv6_runx1": "no"}
    opts = dict(seed=3, n_events=2_000, timepoint="d33", patient_id="G1", genetics=genetics)
    case = simulate_case("b_all_pro_b", **opts)
    truth = simulate_to_file("b_all_pro_b", tmp_path / "g.fcs", **opts)
    for t in (case.truth, truth):
        assert t["genetics"]["dna_index"] == 1.2 and t["genetics"]["etv6_runx1"] == "no"
        assert set(t["genetics"]) == {"dna_index", "etv6_runx1", "bcr_abl1"}
    assert case.keywords["$FIL"] == "G1_alot_d33.fcs"
    with pytest.raises(ConfigError, match="unknown genetics keys"):
        simulate_case("b_all_pro_b", seed=3, n_events=10, genetics={"flt3": "yes"})
    with pytest.raises(TypeError, match="no_such_option"):
        simulate_case("b_all_pro_b", seed=3, n_events=10, no_such_option=1)
