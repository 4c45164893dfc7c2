"""In-place pre-processing gives the same values and recoverable raw scatter/time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytomics.fcs import read_fcs
from cytomics.preprocess.pipeline import preprocess
from cytomics.simulate import simulate_case, write_case


@pytest.fixture(scope="module")
def fcs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inplace") / "t.fcs"
    write_case(simulate_case("aml_cd34pos", seed=5, n_events=20_000), path)
    return path


def test_inplace_equals_copy_and_raw_scatter_recovers(fcs_file: Path) -> None:
    copy_events = preprocess(read_fcs(fcs_file))
    acquisition = read_fcs(fcs_file)
    raw = acquisition.events.copy()
    inplace = preprocess(acquisition, inplace=True)
    assert inplace.values is acquisition.events  # no second matrix
    np.testing.assert_array_equal(inplace.values, copy_events.values)
    np.testing.assert_array_equal(inplace.time_seconds, copy_events.time_seconds)
    for ch in acquisition.channels:
        if ch.is_scatter or ch.is_time:
            # $PnR = 262144 = 2**18: flin and its inverse are exact in float32
            np.testing.assert_array_equal(inplace.raw_column(ch.index), raw[:, ch.index])
            np.testing.assert_array_equal(copy_events.raw_column(ch.index), raw[:, ch.index])


def test_raw_of_compensated_column_is_refused_after_inplace(fcs_file: Path) -> None:
    events = preprocess(read_fcs(fcs_file), inplace=True)
    assert events.spillover is not None
    column = events.acquisition.channel_index(events.spillover.detectors[0])
    with pytest.raises(ValueError, match="overwritten in place"):
        events.raw_column(column)


@pytest.mark.parametrize(
    "relative",
    [
        "cytoexplorerdata/inst/extdata/Compensation/Compensation-Unstained.fcs",
        "cytoflow/cytoflow/tests/data/module_examples/stabilize.fcs",  # $PnR 1000 (not 2**k)
        "flowcal/test/Data002.fcs",
    ],
)
def test_qc_identical_in_place_and_copy(corpus: Path, relative: str) -> None:
    from cytomics.qc import run_qc

    path = corpus / relative
    copy_qc = run_qc(preprocess(read_fcs(path)))
    inplace_qc = run_qc(preprocess(read_fcs(path), inplace=True))
    np.testing.assert_array_equal(inplace_qc.labels, copy_qc.labels)
    assert inplace_qc.removed == copy_qc.removed
