"""FCS writer: round trips through cytomics.fcs.read_fcs and FlowKit, streaming, atomicity."""

from __future__ import annotations

import numpy as np
import pytest

from cytomics.errors import FCSDataError
from cytomics.fcs.reader import read_fcs
from cytomics.fcs.writer import ChannelSpec, format_spillover, write_fcs

CHANNELS = [
    ChannelSpec("FSC-A", None, 262144, 420, 1.0),
    ChannelSpec("FITC-A", "cyMPO", 262144, 505, 1.0),
    ChannelSpec("PE-A", "cyCD79a", 262144, 455, 1.0),
    ChannelSpec("Time", None, 262144),
]
SPILL = (["FITC-A", "PE-A"], np.array([[1.0, 0.185], [0.012, 1.0]]))


def _events(n: int = 2_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = rng.normal(1000.0, 3000.0, size=(n, len(CHANNELS))).astype(np.float32)
    ev[:, -1] = np.sort(rng.uniform(0, 5000, n)).astype(np.float32)
    return ev


@pytest.mark.parametrize(
    ("version", "byteorder", "spill_key"),
    [("3.0", "big", "SPILL"), ("3.1", "little", "$SPILLOVER")],
)
def test_round_trip_reader_and_flowkit(tmp_path, version, byteorder, spill_key):
    import flowkit as fk

    ev = _events()
    path = tmp_path / f"x_{version}.fcs"
    kw = {"$CYT": "FACSCanto II", "$COM": "SIMULATED DATA", "TUBE NAME": "ALOT", "$TIMESTEP": "0.01"}
    write_fcs(path, ev, CHANNELS, kw, version=version, byteorder=byteorder, spillover=SPILL)

    acq = read_fcs(path)
    assert acq.fcs_version == version
    np.testing.assert_array_equal(acq.events, ev)
    assert acq.keywords["$CYT"] == "FACSCanto II"
    assert acq.keywords["TUBE NAME"] == "ALOT"
    assert spill_key in acq.keywords
    assert acq.keywords["$BYTEORD"] == ("4,3,2,1" if byteorder == "big" else "1,2,3,4")
    assert [c.name for c in acq.channels] == [c.name for c in CHANNELS]
    assert [c.marker for c in acq.channels] == [c.marker for c in CHANNELS]
    assert acq.channels[1].voltage == 505
    assert acq.channels[1].range == 262144
    assert acq.spillover is not None
    assert tuple(acq.spillover.detectors) == tuple(SPILL[0])
    np.testing.assert_allclose(acq.spillover.matrix, SPILL[1], rtol=1e-6)

    sample = fk.Sample(str(path))
    raw = sample.get_events(source="raw")
    np.testing.assert_array_equal(raw[:, :-1].astype(np.float32), ev[:, :-1])
    # FlowKit scales Time by $TIMESTEP (seconds); the file holds raw ticks
    np.testing.assert_allclose(raw[:, -1], ev[:, -1].astype(np.float64) * 0.01, rtol=1e-6)


def test_chunked_write_is_byte_identical(tmp_path):
    ev = _events(5_000)
    a, b = tmp_path / "a.fcs", tmp_path / "b.fcs"
    write_fcs(a, ev, CHANNELS, {"$COM": "x"})
    write_fcs(b, (ev[i : i + 1234] for i in range(0, 5_000, 1234)), CHANNELS, {"$COM": "x"},
              n_events=5_000)
    assert a.read_bytes() == b.read_bytes()


def test_wrong_row_count_raises_and_leaves_no_file(tmp_path):
    ev = _events(100)
    path = tmp_path / "bad.fcs"
    with pytest.raises(FCSDataError):
        write_fcs(path, iter([ev]), CHANNELS, {}, n_events=101)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # temporary file removed too


def test_shape_mismatch_raises(tmp_path):
    with pytest.raises(FCSDataError):
        write_fcs(tmp_path / "x.fcs", np.zeros((5, 3), np.float32), CHANNELS, {})


def test_delimiter_in_value_and_empty_value_round_trip(tmp_path):
    path = tmp_path / "d.fcs"
    write_fcs(path, _events(10), CHANNELS, {"$COM": "a|b", "EMPTY": ""})
    acq = read_fcs(path)
    assert acq.keywords["$COM"] == "a|b"


def test_format_spillover():
    text = format_spillover(*SPILL)
    parts = text.split(",")
    assert parts[0] == "2" and parts[1:3] == SPILL[0]
    assert [float(v) for v in parts[3:]] == pytest.approx(SPILL[1].ravel().tolist())
