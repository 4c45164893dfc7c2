"""Panels: YAML loading/validation, marker-name normalisation, marker -> channel matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cytomics.errors import CytomicsInputError, PanelError, PanelMismatchError
from cytomics.fcs.model import Acquisition, Channel
from cytomics.markers import channel_key, describe_key, marker_key
from cytomics.panel import (
    Panel,
    best_panel,
    list_panels,
    load_panel,
    match_panel,
    panels_dir,
    rank_panels,
)

REPO = Path(__file__).resolve().parents[1]


def acq(channels: list[tuple[str, str | None]], path: str = "sample.fcs") -> Acquisition:
    """An Acquisition with the given ($PnN, $PnS) channels and a few zero events."""
    chs = tuple(
        Channel(index=i, name=n, marker=m, range=262144.0, bits=32)
        for i, (n, m) in enumerate(channels)
    )
    return Acquisition(
        path=Path(path),
        sha256="0" * 64,
        fcs_version="3.0",
        keywords={"$CYT": "FACSCanto II"},
        channels=chs,
        events=np.zeros((5, len(chs)), dtype=np.float32),
    )


SCATTER = [("Time", None), ("FSC-A", None), ("FSC-H", None), ("SSC-A", None)]
ALOT_CHANNELS = [
    ("FITC-A", "cyMPO"),
    ("PE-A", "cyCD79a"),
    ("PerCP-Cy5-5-A", "CD34"),
    ("PE-Cy7-A", "CD19"),
    ("APC-A", "CD7"),
    ("APC-H7-A", "smCD3"),
    ("HV450-A", "cyCD3"),
    ("HV500-A", "CD45"),
]
ALOT_EXPECTED = {  # marker -> $PnN
    "cyMPO": "FITC-A",
    "cyCD79a": "PE-A",
    "CD34": "PerCP-Cy5-5-A",
    "CD19": "PE-Cy7-A",
    "CD7": "APC-A",
    "smCD3": "APC-H7-A",
    "cyCD3": "HV450-A",
    "CD45": "HV500-A",
}


def mrd_tube(pe_label: str, fitc_label: str = "CD81") -> Acquisition:
    return acq(
        [
            *SCATTER,
            ("FITC-A", fitc_label),
            ("PE-A", pe_label),
            ("PerCP-Cy5-5-A", "CD34"),
            ("PE-Cy7-A", "CD19"),
            ("APC-A", "CD10"),
            ("APC-H7-A", "CD38"),
            ("PacB-A", "CD20"),
            ("PacO-A", "CD45"),
        ]
    )


def names(a: Acquisition, m: dict[str, int]) -> dict[str, str]:
    return {k: a.channels[v].name for k, v in m.items()}


# --- normalisation ------------------------------------------------------------------------
SAME = [
    # DOMAIN 1.1 marker drift
    ("Cy 79a", "cyCD79a"),
    ("Cy79a", "cyCD79a"),
    ("CD79a", "cyCD79a"),
    ("CyCD3", "cyCD3"),
    ("cyCD3", "cyCD3"),
    ("CD3 cy", "cyCD3"),
    ("cy CD3", "cyCD3"),
    ("cCD3", "cyCD3"),
    ("CD3 (cy)", "cyCD3"),
    ("HLADR", "HLA-DR"),
    ("HLA DR", "HLA-DR"),
    ("hla_dr", "HLA-DR"),
    ("IREM2", "CD300e"),
    # surface
    ("CD3", "smCD3"),
    ("sCD3", "smCD3"),
    ("CD3 surface", "smCD3"),
    # dyes / intracellular-by-nature
    ("Syto 41", "SYTO41"),
    ("SYTO41", "SYTO41"),
    ("syto-41", "SYTO41"),
    ("MPO", "cyMPO"),
    ("cMPO", "cyMPO"),
    ("myeloperoxidase", "cyMPO"),
    ("TdT", "nuTdT"),
    ("7-AAD", "7AAD"),
    # case, spaces, hyphens/underscores
    ("cd34", "CD34"),
    (" CD34 ", "CD34"),
    ("CD-34", "CD34"),
    ("CD_45", "CD45"),
    # multi-antibody channels: unordered sets
    ("CD66c/CD123", "CD66c+CD123"),
    ("CD123_CD66c", "CD66c+CD123"),
    ("CD66c-CD123", "CD66c+CD123"),
    ("CD123+CD66c", "CD66c+CD123"),
    ("CD73 CD304", "CD73+CD304"),
    ("CD304/CD73", "CD73+CD304"),
    ("CD8+sIgλ", "CD8+sIgLambda"),
    # fluorochrome written into $PnS
    ("CD19 PE-Cy7", "CD19"),
    ("CD3 APC-H7", "smCD3"),
    ("CD45 V500-C", "CD45"),
]
DIFFERENT = [
    ("cyCD3", "smCD3"),
    ("cyCD3", "CD3"),
    ("CyCD3", "CD3"),
    ("CD3 cy", "CD3"),
    ("Cy 79a", "CD79b"),
    ("CD66c", "CD66c+CD123"),
    ("CD123", "CD66c+CD123"),
    ("CD73+CD304", "CD66c+CD123"),
    ("CD34", "CD3"),
    ("CD3", "CD38"),
    ("CD7", "CD79a"),
    ("sIgM", "cyIgM"),
]


@pytest.mark.parametrize(("text", "canonical"), SAME)
def test_marker_key_equivalences(text: str, canonical: str) -> None:
    assert marker_key(text) is not None
    assert marker_key(text) == marker_key(canonical)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_marker_key_distinctions(a: str, b: str) -> None:
    assert marker_key(a) != marker_key(b)


@pytest.mark.parametrize(
    "text", [None, "", "  ", "FITC-A", "PE", "PerCP-Cy5-5-A", "Pacific Blue", "EMPTY", "V500-C"]
)
def test_marker_key_blank_or_fluorochrome_only(text: str | None) -> None:
    assert marker_key(text) is None


def test_describe_key_and_channel_key() -> None:
    assert describe_key(marker_key("CD3 cy")) == "cyCD3"
    assert describe_key(marker_key("CD123_CD66c")) == "CD123+CD66c"
    assert describe_key(None) == "(blank)"
    assert channel_key("PerCP-Cy5.5-A") == channel_key("PerCP-Cy5-5-A")
    assert channel_key("Pacific Blue-A") == channel_key("pacific_blue-a")
    assert channel_key("FITC-A") != channel_key("FITC-H")


# --- loading ------------------------------------------------------------------------------
def test_shipped_panels_load_and_validate() -> None:
    assert {"alot", "bcp_all_mrd_tube1", "bcp_all_mrd_tube2", "bfm_bcp_mrd"} <= set(list_panels())
    for name in list_panels():
        panel = load_panel(name)
        assert isinstance(panel, Panel)
        assert panel.name == name
        assert panel.source is not None and panel.source.parent == panels_dir()
        assert len(panel.sha256) == 64
        assert panel.purpose in {"diagnosis", "mrd"}


def test_alot_definition_matches_domain() -> None:
    alot = load_panel("alot")
    assert alot.family == "alot" and alot.purpose == "diagnosis"
    got = {m.name: (m.fluorochrome, m.channels[0]) for m in alot.markers}
    assert {k: v[1] for k, v in got.items()} == ALOT_EXPECTED
    assert "PacB-A" in alot.marker("cyCD3").channels
    assert "PacO-A" in alot.marker("CD45").channels
    assert "APC-Cy7-A" in alot.marker("smCD3").channels
    assert all(m.required for m in alot.markers)
    assert alot.marker("CD3").name == "smCD3"
    assert alot.marker("Cy CD3").name == "cyCD3"


def test_mrd_tubes_share_backbone() -> None:
    t1, t2 = load_panel("bcp_all_mrd_tube1"), load_panel("bcp_all_mrd_tube2")
    backbone = {"CD19", "CD34", "CD10", "CD20", "CD38", "CD45"}
    assert backbone < set(t1.marker_names) and backbone < set(t2.marker_names)
    assert set(t1.marker_names) - backbone == {"CD81", "CD66c+CD123"}
    assert set(t2.marker_names) - backbone == {"CD58", "CD73+CD304"}
    bfm = load_panel("bfm_bcp_mrd")
    assert bfm.marker("Syto 41").role == "dna"
    assert {"FSC-A", "SSC-A"} <= {s.name for s in bfm.scatter if s.required}
    assert ("FSC-W", "FSC-H") in bfm.scatter_at_least_one_of


def _write(tmp_path: Path, data: dict, name: str = "lab_alot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _alot_data() -> dict:
    return yaml.safe_load((REPO / "panels" / "alot.yaml").read_text(encoding="utf-8"))


def test_lab_yaml_by_path(tmp_path: Path) -> None:
    data = _alot_data()
    data["name"] = "lab_alot"
    data["markers"][4]["fluorochrome"] = "BB515"  # CD34 moved to a lab reagent
    data["markers"][4]["channels"] = ["BB515-A"]
    data["markers"][0]["channels"] = ["FITC-A"]
    data["markers"][2]["channels"] = ["PerCP-Cy5-5-A"]
    path = _write(tmp_path, data)
    for ref in (path, str(path)):
        panel = load_panel(ref)
        assert panel.name == "lab_alot" and panel.source == path
        assert panel.marker("CD34").channels == ("BB515-A",)


def test_panels_dir_env_and_unknown_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _alot_data()
    data["name"] = "my_tube"
    _write(tmp_path, data, "my_tube.yaml")
    monkeypatch.setenv("CYTOMICS_PANELS_DIR", str(tmp_path))
    assert list_panels() == ["my_tube"]
    assert load_panel("my_tube").name == "my_tube"
    with pytest.raises(PanelError, match=r"unknown panel 'alot'.*my_tube"):
        load_panel("alot")
    assert load_panel("alot", directory=REPO / "panels").name == "alot"
    monkeypatch.setenv("CYTOMICS_PANELS_DIR", str(tmp_path / "nope"))
    with pytest.raises(PanelError, match="CYTOMICS_PANELS_DIR"):
        panels_dir()


def test_name_must_match_file_stem(tmp_path: Path) -> None:
    _write(tmp_path, _alot_data(), "other.yaml")  # name: alot inside other.yaml
    with pytest.raises(PanelError, match=r"'name'.*other"):
        load_panel("other", directory=tmp_path)


def _mutate(data: dict, field: str, value) -> dict:
    parts = field.split(".")
    obj = data
    for p in parts[:-1]:
        obj = obj[int(p)] if p.isdigit() else obj[p]
    last = parts[-1]
    if value is KeyError:
        del obj[last]
    else:
        obj[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("markers.0.role", "t_cells", r"markers\[0\]\.role"),
        ("markers.3.required", "yes", r"markers\[3\]\.required"),
        ("markers.1.channels", [], r"markers\[1\]\.channels"),
        ("markers.2.fluorochrom", "FITC", r"markers\[2\]"),  # typo -> unknown key
        ("purpose", "screening", "'purpose'"),
        ("markers", KeyError, "markers"),
        ("version", 1, "'version'"),
        ("scatter.at_least_one_of", [["FSC-X"]], r"scatter\.at_least_one_of\[0\]\[0\]"),
        ("markers.1.name", "CD3 cy", r"markers\[1\]\.name.*same marker as 'cyCD3'"),
        ("markers.1.channels", ["HV450-A"], r"markers\[1\]\.channels\[0\].*cyCD3"),
        ("markers.0.name", "FITC", r"markers\[0\]\.name.*not a marker name"),
    ],
)
def test_schema_rejection_names_file_and_field(
    tmp_path: Path, field: str, value, expected: str
) -> None:
    path = _write(tmp_path, _mutate(_alot_data(), field, value), "bad.yaml")
    with pytest.raises(PanelError, match=expected) as info:
        load_panel(path)
    assert "bad.yaml" in str(info.value)
    assert info.value.path == path
    assert info.value.code == "panel_invalid"


def test_unreadable_panel_files(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(PanelError, match="not valid YAML") as info:
        load_panel(bad)
    assert "broken.yaml" in str(info.value)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(PanelError, match="mapping"):
        load_panel(listy)
    with pytest.raises(PanelError, match="not found"):
        load_panel(tmp_path / "missing.yaml")
    assert issubclass(PanelError, CytomicsInputError)


# --- matching -----------------------------------------------------------------------------
def test_alot_exact_labels() -> None:
    a = acq([*SCATTER, *ALOT_CHANNELS])
    m = match_panel(a, load_panel("alot"))
    assert names(a, m.markers) == ALOT_EXPECTED
    assert list(m.markers) == list(load_panel("alot").marker_names)  # panel order
    assert set(m.methods.values()) == {"PnS"}
    assert m.scatter == {"FSC-A": 1, "FSC-H": 2, "SSC-A": 3}
    assert m.time == 0
    assert m.warnings == ()
    assert m.to_dict()["markers"][0]["marker"] == "cyCD3"


def test_alot_marker_drift_and_bare_cd3_is_surface() -> None:
    drift = {
        "cyMPO": "MPO",
        "cyCD79a": "Cy 79a",
        "CD34": "cd34",
        "CD19": "CD19 PE-Cy7",
        "CD7": "CD7",
        "smCD3": "CD3",
        "cyCD3": "CyCD3",
        "CD45": "CD 45",
    }
    inverse = {v: k for k, v in ALOT_EXPECTED.items()}
    a = acq([*SCATTER, *[(n, drift[inverse[n]]) for n, _ in ALOT_CHANNELS]])
    m = match_panel(a, "alot")
    assert names(a, m.markers) == ALOT_EXPECTED
    assert m.methods["smCD3"] == "PnS" and m.methods["cyCD3"] == "PnS"


def test_cy_and_sm_cd3_never_confused() -> None:
    # labels swapped by the lab: resolution follows $PnS, with a warning per marker
    swapped = [(n, {"cyCD3": "CD3", "smCD3": "cyCD3"}.get(s, s)) for n, s in ALOT_CHANNELS]
    a = acq([*SCATTER, *swapped])
    m = match_panel(a, "alot")
    assert a.channels[m.markers["cyCD3"]].name == "APC-H7-A"
    assert a.channels[m.markers["smCD3"]].name == "HV450-A"
    assert not m.records["cyCD3"].on_expected_channel
    assert sum("smCD3" in w or "cyCD3" in w for w in m.warnings) == 2
    # only a bare 'CD3' on the Pacific Blue channel and nothing on APC-H7: that 'CD3' is
    # surface CD3, so cyCD3 is NOT silently taken from it
    only = [
        (n, "CD3" if n == "HV450-A" else (None if n == "APC-H7-A" else s)) for n, s in ALOT_CHANNELS
    ]
    with pytest.raises(PanelMismatchError, match=r"cyCD3: its .* channel 'HV450-A' carries smCD3"):
        match_panel(acq([*SCATTER, *only]), "alot")


def test_fallback_to_channel_aliases_when_pns_blank() -> None:
    layouts = [
        ["FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-H7-A", "HV450-A", "HV500-A"],
        ["FITC-A", "PE-A", "PerCP-Cy5.5-A", "PE-Cy7-A", "APC-A", "APC-Cy7-A", "PacB-A", "PacO-A"],
        ["FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-H7-A", "V450-A", "V500-C-A"],
        [
            "FITC-A",
            "PE-A",
            "PerCP-Cy5-5-A",
            "PE-Cy7-A",
            "APC-A",
            "APC-H7-A",
            "Pacific Blue-A",
            "Pacific Orange-A",
        ],
        ["FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-H7-A", "BV421-A", "BV510-A"],
        [
            "FITC-A",
            "PE-A",
            "PerCP-Cy5-5-A",
            "PE-Cy7-A",
            "APC-A",
            "APC-H7-A",
            "Bd Horizon V450-A",
            "OC515-A",
        ],
    ]
    for layout in layouts:
        a = acq([*SCATTER, *[(n, None) for n in layout]])
        m = match_panel(a, "alot")
        assert set(m.methods.values()) == {"channel-alias"}, layout
        assert a.channels[m.markers["cyCD3"]].name == layout[6]
        assert a.channels[m.markers["CD45"]].name == layout[7]
        assert a.channels[m.markers["smCD3"]].name == layout[5]
    # a $PnS holding only the fluorochrome name counts as blank
    a = acq([*SCATTER, *[(n, n.removesuffix("-A")) for n, _ in ALOT_CHANNELS]])
    assert set(match_panel(a, "alot").methods.values()) == {"channel-alias"}


def test_mixed_pns_and_channel_alias() -> None:
    mixed = [(n, s if n in {"HV450-A", "APC-H7-A"} else None) for n, s in ALOT_CHANNELS]
    a = acq([*SCATTER, *mixed])
    m = match_panel(a, "alot")
    assert m.methods["cyCD3"] == "PnS" and m.methods["smCD3"] == "PnS"
    assert m.methods["CD45"] == "channel-alias"
    assert names(a, m.markers) == ALOT_EXPECTED


def test_different_marker_on_expected_channel_is_conflict() -> None:
    labelled = [(n, "CD20" if n == "FITC-A" else None) for n, _ in ALOT_CHANNELS]
    with pytest.raises(PanelMismatchError) as info:
        match_panel(acq([*SCATTER, *labelled]), "alot")
    msg = str(info.value)
    assert "cyMPO" in msg and "'FITC-A' is labelled 'CD20'" in msg
    assert info.value.conflicts and not info.value.missing
    assert info.value.code == "panel_mismatch"


def test_missing_marker_lists_file_channels() -> None:
    chans = [(n, s) for n, s in ALOT_CHANNELS if n != "APC-A"]
    a = acq([*SCATTER, *chans], path="/data/patient7_alot.fcs")
    with pytest.raises(PanelMismatchError) as info:
        match_panel(a, "alot")
    msg = str(info.value)
    assert "patient7_alot.fcs" in msg
    assert "missing: CD7" in msg
    assert "PE-Cy7-A [CD19]" in msg and "HV450-A [cyCD3]" in msg and "FSC-A" in msg
    assert len(info.value.missing) == 1


def test_scatter_requirements() -> None:
    a = acq([("FSC-A", None), ("FSC-W", None), ("SSC-A", None), *ALOT_CHANNELS])
    m = match_panel(a, "alot")
    assert m.scatter == {"FSC-A": 0, "FSC-W": 1, "SSC-A": 2} and m.time is None
    with pytest.raises(PanelMismatchError, match="FSC-H or FSC-W"):
        match_panel(acq([("FSC-A", None), ("SSC-A", None), *ALOT_CHANNELS]), "alot")
    with pytest.raises(PanelMismatchError, match="scatter channel SSC-A"):
        match_panel(acq([("FSC-A", None), ("FSC-H", None), *ALOT_CHANNELS]), "alot")


@pytest.mark.parametrize(
    "label",
    ["CD66c+CD123", "CD66c/CD123", "CD123_CD66c", "CD66c-CD123", "CD123 CD66c", "cd66c + cd123"],
)
def test_multi_antibody_channel_matches_as_set(label: str) -> None:
    a = mrd_tube(label)
    m = match_panel(a, "bcp_all_mrd_tube1")
    assert a.channels[m.markers["CD66c+CD123"]].name == "PE-A"
    assert m.methods["CD66c+CD123"] == "PnS"


def test_multi_antibody_partial_label_is_conflict() -> None:
    with pytest.raises(PanelMismatchError, match=r"CD66c\+CD123.*'PE-A' is labelled 'CD66c'"):
        match_panel(mrd_tube("CD66c"), "bcp_all_mrd_tube1")


def test_tube2_and_wrong_tube_name_detection() -> None:
    tube2 = mrd_tube("CD73 CD304", fitc_label="CD58")
    m = match_panel(tube2, "bcp_all_mrd_tube2")
    assert tube2.channels[m.markers["CD73+CD304"]].name == "PE-A"
    # saved under the tube-1 name: rejected, and best_panel says what it looks like
    with pytest.raises(PanelMismatchError, match="CD81"):
        match_panel(tube2, "bcp_all_mrd_tube1")
    best = best_panel(tube2)
    assert best is not None and best.panel == "bcp_all_mrd_tube2" and best.complete
    ranked = rank_panels(tube2)
    assert ranked[0].panel == "bcp_all_mrd_tube2" and ranked[0].score == 1.0
    tube1 = next(r for r in ranked if r.panel == "bcp_all_mrd_tube1")
    assert tube1.by_name == 6 and tube1.conflicts == 2 and not tube1.complete
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    alot_file = acq([*SCATTER, *ALOT_CHANNELS])
    assert best_panel(alot_file).panel == "alot"
    mrd_only = ["bcp_all_mrd_tube1", "bcp_all_mrd_tube2"]
    assert best_panel(alot_file, mrd_only, min_score=0.0).by_name == 3  # CD34, CD19, CD45
    assert best_panel(alot_file, mrd_only) is None  # 3/8 named: not "looks like"
    assert best_panel(acq([*SCATTER, *[(n, None) for n, _ in ALOT_CHANNELS]])) is None


def test_pns_alias_and_dna_dye() -> None:
    a = acq(
        [
            ("FSC-A", None),
            ("FSC-W", None),
            ("SSC-A", None),
            ("FITC-A", "CD20"),
            ("PE-A", "CD10"),
            ("PerCP-A", "CD45"),
            ("PE-Cy7-A", "CD34"),
            ("APC-A", "CD19"),
            ("APC-H7-A", "CD38"),
            ("Pacific Blue-A", "DNA"),
        ]
    )
    m = match_panel(a, "bfm_bcp_mrd")
    assert m.methods["SYTO41"] == "PnS-alias"
    assert a.channels[m.markers["SYTO41"]].name == "Pacific Blue-A"
    b = acq([*[(c.name, c.marker) for c in a.channels[:9]], ("PacB-A", "Syto 41")])
    assert match_panel(b, "bfm_bcp_mrd").methods["SYTO41"] == "PnS"


def test_duplicate_pns_prefers_area_and_ambiguity_is_conflict() -> None:
    chans = [*ALOT_CHANNELS, ("PE-Cy7-H", "CD19")]
    a = acq([*SCATTER, *chans])
    assert a.channels[match_panel(a, "alot").markers["CD19"]].name == "PE-Cy7-A"
    moved = [(n, "CD19" if n == "PE-Cy7-A" else s) for n, s in ALOT_CHANNELS]
    moved = [(n if n != "PE-Cy7-A" else "FL9-A", s) for n, s in moved] + [("FL10-A", "CD19")]
    with pytest.raises(PanelMismatchError, match="CD19: ambiguous"):
        match_panel(acq([*SCATTER, *moved]), "alot")


def test_optional_marker_may_be_absent(tmp_path: Path) -> None:
    data = _alot_data()
    data["name"] = "lab_opt"
    data["markers"].append(
        {
            "name": "CD56",
            "fluorochrome": "BV605",
            "channels": ["BV605-A"],
            "role": "lineage_nk",
            "required": False,
        }
    )
    panel = load_panel(_write(tmp_path, data))
    m = match_panel(acq([*SCATTER, *ALOT_CHANNELS]), panel)
    assert m.missing_optional == ("CD56",) and "CD56" not in m.markers
    m2 = match_panel(acq([*SCATTER, *ALOT_CHANNELS, ("BV605-A", "HLA-DR")]), panel)
    assert m2.missing_optional == ("CD56",)
    assert any("CD56" in w and "HLA-DR" in w for w in m2.warnings)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("CD19;APC-H7;780/60@640/A", "CD19"),  # marker;fluorochrome;filter@laser labels
        ("CD22-PC5", "CD22"),
        ("CD7 RD1", "CD7"),
        ("cd45 VioBlue-A", "CD45"),
        ("IL-12", "IL12"),
        ("L/D", "Live/Dead"),
    ],
)
def test_marker_key_real_world_labels(text: str, canonical: str) -> None:
    assert marker_key(text) == marker_key(canonical) is not None


@pytest.mark.parametrize("text", ["Alexa Fluor™ 405-A", "PacOrange-A", "Ax700-A", "Qdot605-A"])
def test_detector_names_in_pns_are_blank(text: str) -> None:
    assert marker_key(text) is None


def test_pns_repeating_pnn_counts_as_blank() -> None:
    a = acq([*SCATTER, *[(n, n) for n, _ in ALOT_CHANNELS]])  # $PnS == $PnN
    m = match_panel(a, "alot")
    assert set(m.methods.values()) == {"channel-alias"}
    assert names(a, m.markers) == ALOT_EXPECTED


def test_channel_alias_priority_follows_yaml_order() -> None:
    # bfm CD38: Alexa700-A is listed before APC-Cy7-A; both blank -> Alexa700-A
    a = acq(
        [
            ("FSC-A", None),
            ("FSC-W", None),
            ("SSC-A", None),
            ("APC-Cy7-A", None),
            ("FITC-A", "CD20"),
            ("PE-A", "CD10"),
            ("PerCP-A", "CD45"),
            ("PE-Cy7-A", "CD34"),
            ("PacificBlue-A", "Syto 41"),
            ("APC-A", "CD19"),
            ("Alexa700-A", None),
        ]
    )
    m = match_panel(a, "bfm_bcp_mrd")
    assert a.channels[m.markers["CD38"]].name == "Alexa700-A"
    assert m.methods["CD38"] == "channel-alias"


def test_many_other_named_markers_do_not_look_like_a_panel() -> None:
    # a large panel that happens to include 5 of the 8 ALOT markers is not "an ALOT tube"
    others = [(f"Ch{i}-A", f"CD{100 + i}") for i in range(12)]
    a = acq([*SCATTER, *ALOT_CHANNELS[:5], *others])
    score = rank_panels(a, ["alot"])[0]
    assert score.by_name == 5 and score.unexplained == 12
    assert best_panel(a, ["alot"]) is None
    assert "12 other named channel(s)" in score.describe()


def test_real_aieop_bfm_mrd_tube_from_corpus(corpus: Path) -> None:
    """fcsparser's FACSDiva test file is a real AIEOP-BFM B-ALL MRD tube (with Syto 41)."""
    from cytomics.fcs import read_fcs

    a = read_fcs(
        corpus / "fcsparser/fcsparser/tests/data/FlowCytometers/FACS_Diva/facs_diva_test.fcs"
    )
    m = match_panel(a, "bfm_bcp_mrd")
    assert set(m.methods.values()) == {"PnS"}
    assert all(r.on_expected_channel for r in m.records.values()) and m.warnings == ()
    assert a.channels[m.markers["SYTO41"]].name == "PacificBlue-A"
    assert set(m.scatter) >= {"FSC-A", "FSC-W", "SSC-A"}
    best = best_panel(a)
    assert best is not None and best.panel == "bfm_bcp_mrd" and best.score == 1.0
    for other in ("alot", "bcp_all_mrd_tube1", "bcp_all_mrd_tube2"):
        with pytest.raises(PanelMismatchError):
            match_panel(a, other)


def test_validated_once_per_file_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cytomics.panel as panel_mod

    path = _write(tmp_path, _alot_data(), "alot.yaml")
    calls = []
    parse = panel_mod._parse_panel
    monkeypatch.setattr(panel_mod, "_parse_panel", lambda *a: calls.append(1) or parse(*a))
    first = load_panel(path)
    assert load_panel(path) is first and load_panel("alot", directory=tmp_path).name == "alot"
    assert len(calls) == 1  # parsed and validated once, not once per call
    _write(tmp_path, _mutate(_alot_data(), "version", 3), "alot.yaml")  # edited in place
    with pytest.raises(PanelError, match="version"):
        load_panel(path)
    with pytest.raises(PanelError, match="version"):
        load_panel("alot", directory=tmp_path)
