"""Sample sheet: load, validate (JSON-Schema shared with the Snakemake workflow), draft.

The sheet is a TSV with the columns of DESIGN §4. Validation errors name the sheet, the row
(1-based, header = row 1) and the column, so a technician can fix it in a spreadsheet.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from cytomics.errors import SampleSheetError

COLUMNS: tuple[str, ...] = (
    "sample_id",
    "patient_id",
    "timepoint",
    "tube",
    "fcs",
    "specimen",
    "dna_index",
    "etv6_runx1",
    "bcr_abl1",
)
REQUIRED: tuple[str, ...] = COLUMNS[:6]

_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One validated sample-sheet row."""

    sample_id: str
    patient_id: str
    timepoint: str
    tube: str
    fcs: str
    specimen: str
    dna_index: float | None = None
    etv6_runx1: str | None = None
    bcr_abl1: str | None = None

    @property
    def is_diagnosis(self) -> bool:
        """True for the diagnosis timepoint."""
        return self.timepoint == "dx"


def sanitize_id(raw: str) -> str:
    """Make a lab identifier safe for file names: keep ``[A-Za-z0-9._-]``, collapse the rest.

    Parameters
    ----------
    raw
        Identifier as typed by the lab or read from a keyword.

    Returns
    -------
    str
        A non-empty identifier of at most 64 characters that cannot escape a directory.
    """
    cleaned = _SAFE_ID.sub("_", raw.strip()).strip("._-")[:64]
    return cleaned or "sample"


def _coerce(row: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.items():
        if key is None:
            continue
        value = (value or "").strip()
        if key == "dna_index":
            if value == "":
                out[key] = None
            else:
                try:
                    out[key] = float(value)
                except ValueError:
                    out[key] = value  # the schema reports it
        elif key in ("etv6_runx1", "bcr_abl1"):
            out[key] = value.lower() or None
        else:
            out[key] = value
    return out


def load_samplesheet(path: str | Path, *, known_panels: set[str] | None = None) -> list[SampleRow]:
    """Read and validate a sample sheet.

    Parameters
    ----------
    path
        TSV file with a header row naming the columns of :data:`COLUMNS` (optional genetics
        columns may be omitted).
    known_panels
        When given, every ``tube`` must be one of these names.

    Returns
    -------
    list of SampleRow
        Rows in file order.

    Raises
    ------
    SampleSheetError
        Unreadable file, missing columns, a row failing the schema, duplicate ``sample_id``,
        or an unknown tube. The message names the sheet, row and column.
    """
    import jsonschema
    import yaml

    from cytomics.paths import schema_path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleSheetError(f"cannot read sample sheet: {exc}", path=path) from exc
    reader = csv.DictReader(text.splitlines(), delimiter="\t")
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SampleSheetError(
            f"missing column(s) {', '.join(missing)}; header has: {', '.join(header) or '(empty)'}",
            path=path,
        )
    schema = yaml.safe_load(schema_path("samples.schema.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    rows: list[SampleRow] = []
    seen: dict[str, int] = {}
    for line_no, raw in enumerate(reader, start=2):
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue  # blank line
        record = _coerce({k: v for k, v in raw.items() if k in COLUMNS})
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
        if errors:
            err = errors[0]
            column = err.path[0] if err.path else "?"
            raise SampleSheetError(f"row {line_no}, column {column!s}: {err.message}", path=path)
        sid = str(record["sample_id"])
        if sid in seen:
            raise SampleSheetError(
                f"row {line_no}: duplicate sample_id {sid!r} (first on row {seen[sid]})", path=path
            )
        seen[sid] = line_no
        if known_panels is not None and record["tube"] not in known_panels:
            raise SampleSheetError(
                f"row {line_no}, column tube: unknown panel {record['tube']!r}; "
                f"known: {', '.join(sorted(known_panels))}",
                path=path,
            )
        rows.append(SampleRow(**{k: record.get(k) for k in COLUMNS}))  # type: ignore[arg-type]
    if not rows:
        raise SampleSheetError("sample sheet has no rows", path=path)
    return rows
