"""Draft a sample sheet from a folder of FCS files (``cytomics sheet DIR``).

Only the HEADER and TEXT are read. The tube is inferred from the markers (best-matching
known panel), the sample ID from ``$FIL``/the file name (sanitised); fields that FCS files
do not carry reliably (patient, timepoint, specimen, genetics) are left for the lab, marked
``FILL_ME`` where the schema requires a value, so the sheet fails validation until filled.
"""

from __future__ import annotations

from pathlib import Path

from cytomics.errors import CytomicsInputError
from cytomics.samplesheet import COLUMNS, sanitize_id

FCS_SUFFIXES = {".fcs", ".lmd"}
PLACEHOLDER = "FILL_ME"


def draft_samplesheet(directory: str | Path) -> str:
    """Return a TSV draft (header + one row per readable FCS file, sorted by name).

    Unreadable files are listed as comment lines (``# rejected: ...``) so nothing is lost
    silently.

    Parameters
    ----------
    directory
        Folder holding FCS files (searched non-recursively).
    """
    from cytomics.fcs.reader import read_fcs_metadata

    directory = Path(directory)
    lines = ["\t".join(COLUMNS)]
    comments: list[str] = []
    used: set[str] = set()
    for path in sorted(p for p in directory.iterdir() if p.suffix.lower() in FCS_SUFFIXES):
        try:
            meta = read_fcs_metadata(path)
        except CytomicsInputError as exc:
            comments.append(f"# rejected: {path.name}: [{exc.code}] {exc.detail}")
            continue
        keywords = meta.keywords
        sample_id = sanitize_id(Path(keywords.get("$FIL") or path.name).stem)
        base, n = sample_id, 2
        while sample_id in used:
            sample_id, n = f"{base}_{n}", n + 1
        used.add(sample_id)
        tube = _best_tube(path, keywords) or PLACEHOLDER
        specimen = _specimen(keywords.get("$SRC", "") + " " + keywords.get("TUBE NAME", ""))
        row = {
            "sample_id": sample_id,
            "patient_id": PLACEHOLDER,
            "timepoint": PLACEHOLDER,
            "tube": tube,
            "fcs": str(path),
            "specimen": specimen or PLACEHOLDER,
        }
        lines.append("\t".join(row.get(c, "") for c in COLUMNS))
    return "\n".join(lines + comments) + "\n"


def _best_tube(path: Path, keywords: dict[str, str]) -> str | None:
    """Name of the known panel whose markers the file's ``$PnS`` names match best."""
    import numpy as np

    from cytomics.fcs.model import Acquisition, Channel
    from cytomics.panel import best_panel

    try:
        n_par = int(keywords.get("$PAR", "0"))
    except ValueError:
        return None
    channels = tuple(
        Channel(
            index=i - 1,
            name=keywords.get(f"$P{i}N", f"P{i}"),
            marker=keywords.get(f"$P{i}S") or None,
            range=float(keywords.get(f"$P{i}R", "0") or 0),
            bits=32,
        )
        for i in range(1, n_par + 1)
    )
    shell = Acquisition(
        path=path,
        sha256="",
        fcs_version="",
        keywords=keywords,
        channels=channels,
        events=np.empty((0, n_par), dtype=np.float32),
    )
    score = best_panel(shell)
    return None if score is None else score.panel


def _specimen(text: str) -> str | None:
    upper = text.upper()
    if any(tok in upper for tok in ("BM", "MO ", "MEDULA", "MARROW")):
        return "BM"
    if any(tok in upper for tok in ("PB", "SP ", "SANGRE", "BLOOD")):
        return "PB"
    return None
