"""The bundled demo batch (``data/sample_fcs``): synthetic files, truth sidecars, sample sheet.

Regenerate with ``cytomics simulate demo-batch --out data/sample_fcs --seed 20250
--sheet config/samples.tsv``. Sizes are kept small (the whole folder < 30 MB), so the MRD
files hold 60k-120k events: enough for MRD down to ~0.05 % (LLOQ 50 events), not the
4 M-event NGF sensitivity; use ``cytomics simulate case ... --n-events 4000000`` for that.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cytomics.simulate.api import simulate_case, write_case


@dataclass(frozen=True)
class DemoFile:
    """One row of the demo batch."""

    sample_id: str
    patient_id: str
    kind: str
    panel: str
    timepoint: str
    variant: str
    n_events: int
    blast_fraction: float | None = None
    specimen: str = "BM"
    broken: bool = False
    genetics: tuple[tuple[str, object], ...] = ()


_P02 = (("dna_index", 1.0), ("etv6_runx1", "yes"), ("bcr_abl1", "no"))

#: The demo batch. Seeds are derived from the batch seed and the row number.
DEMO_FILES: tuple[DemoFile, ...] = (
    DemoFile("P01_ALOT_dx", "P01", "b_all_pro_b", "alot", "dx", "canto_ii", 30_000, 0.78),
    DemoFile(
        "P01_MRD1_dx",
        "P01",
        "b_all_pro_b",
        "bcp_all_mrd_tube1",
        "dx",
        "canto_ii_pacb",
        30_000,
        0.78,
    ),
    DemoFile(
        "P01_MRD1_d19",
        "P01",
        "b_all_pro_b",
        "bcp_all_mrd_tube1",
        "d19",
        "canto_ii_pacb",
        100_000,
        0.004,
    ),
    DemoFile(
        "P01_MRD1_d33",
        "P01",
        "b_all_pro_b",
        "bcp_all_mrd_tube1",
        "d33",
        "canto_ii_pacb",
        120_000,
        0.0006,
    ),
    DemoFile("P02_ALOT_dx", "P02", "b_all_pro_pre_b", "alot", "dx", "lyric", 30_000, 0.62, genetics=_P02),
    DemoFile(
        "P02_MRD2_dx", "P02", "b_all_pro_pre_b", "bcp_all_mrd_tube2", "dx", "lyric", 25_000, 0.62,
        genetics=_P02,
    ),
    DemoFile(
        "P02_MRD2_d33", "P02", "b_all_pro_pre_b", "bcp_all_mrd_tube2", "d33", "lyric", 80_000, 0.0,
        genetics=_P02,
    ),
    DemoFile("P03_ALOT_dx", "P03", "t_all", "alot", "dx", "canto_ii_pacb", 25_000, 0.70),
    DemoFile("P04_ALOT_dx", "P04", "aml_cd34pos", "alot", "dx", "canto_ii", 25_000, 0.45),
    DemoFile("P05_ALOT_dx", "P05", "normal_bm", "alot", "dx", "canto_ii", 30_000),
    DemoFile(
        "P06_ALOT_dx", "P06", "undetermined", "alot", "dx", "canto_ii", 20_000, 0.5, broken=True
    ),
)


def write_demo_batch(
    out: str | Path, *, seed: int = 20250, sheet: str | Path | None = None, root: str | Path = "."
) -> list[dict[str, str]]:
    """Write the demo batch into ``out`` (FCS) and ``out/truth`` (sidecars).

    Parameters
    ----------
    out
        Output folder (e.g. ``data/sample_fcs``).
    seed
        Batch seed; file ``i`` uses ``seed + i``.
    sheet
        If given, also write the sample sheet (TSV, DESIGN §4 columns) there.
    root
        Folder the sheet's ``fcs`` paths are made relative to (the repository root).

    Returns
    -------
    list of dict
        The sample-sheet rows.
    """
    out = Path(out)
    truth_dir = out / "truth"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for i, f in enumerate(DEMO_FILES):
        case = simulate_case(
            f.kind,
            seed=seed + i,
            n_events=f.n_events,
            blast_fraction=f.blast_fraction,
            variant=f.variant,
            panel=f.panel,
            timepoint=f.timepoint,
            patient_id=f.patient_id,
            specimen=f.specimen,
            genetics=dict(f.genetics) or None,
        )
        path = out / f"{f.sample_id}.fcs"
        write_case(case, path, truth_dir=truth_dir)
        if f.broken:
            size = path.stat().st_size
            with path.open("r+b") as fh:
                fh.truncate(int(size * 0.6))
            js = truth_dir / f"{path.name}.truth.json"
            truth = json.loads(js.read_text())
            truth["deliberately_broken"] = (
                "file truncated to 60% of its size after writing: DATA extends beyond the end "
                "of the file; expected outcome: rejected (fcs_truncated)"
            )
            js.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
        g = case.truth["genetics"]
        rel = os.path.relpath(path.resolve(), Path(root).resolve())
        rows.append(
            {
                "sample_id": f.sample_id,
                "patient_id": f.patient_id,
                "timepoint": f.timepoint,
                "tube": f.panel,
                "fcs": Path(rel).as_posix(),
                "specimen": f.specimen,
                "dna_index": "" if g["dna_index"] is None else f"{g['dna_index']:.2f}",
                "etv6_runx1": g["etv6_runx1"] or "",
                "bcr_abl1": g["bcr_abl1"] or "",
            }
        )
    if sheet is not None:
        sheet = Path(sheet)
        sheet.parent.mkdir(parents=True, exist_ok=True)
        with sheet.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return rows
