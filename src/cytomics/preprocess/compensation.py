"""Spillover matrices: the file's own or a lab override CSV, mapped onto the file's channels.

Detector-to-channel rule (:func:`match_detectors`), applied per matrix detector, first hit wins:

1. exact ``$PnN``;
2. normalised equality, where normalising = strip, case-fold, drop a ``Comp-`` prefix and
   anything from ``" :: "`` on (FlowJo ``"FITC-A :: CD3"`` labels);
3. equality after also dropping a trailing ``-A`` (area) on both sides; when several
   channels match (``FITC``/``FITC-A``), the one whose own name ends in ``-A`` wins;
4. a bare integer ``n`` (some instruments, e.g. Accuri, list parameter numbers) is ``$PnN``
   of parameter ``n`` (1-based) when no channel is named ``n``.

Every detector must match exactly one channel and no channel may be used twice;
otherwise :class:`~cytomics.errors.CompensationError` names the file and the detector.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from cytomics.errors import CompensationError
from cytomics.fcs.model import Acquisition, Channel, Spillover

#: condition number above which a spillover matrix is treated as singular
MAX_CONDITION = 1e12

__all__ = [
    "MAX_CONDITION",
    "load_spillover_csv",
    "match_detectors",
    "resolve_spillover",
    "validate_spillover",
]


# --------------------------------------------------------------------------------------
# CSV reading
# --------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CompensationError(
            f"cannot read spillover CSV: {exc.strerror or exc}", path=path
        ) from None
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise CompensationError(
        "spillover CSV is not text", path=path
    )  # pragma: no cover (latin-1 decodes all)


def _rows(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":  # trailing delimiter
            cells.pop()
        if cells:
            rows.append(cells)
    return rows


def _sniff(text: str) -> tuple[list[list[str]], str]:
    """Split with the delimiter (comma, tab, semicolon) that gives a consistent numeric table.

    Score per delimiter: rows of equal width first, then the number of numeric cells
    (semicolon files with decimal commas count as numeric), then the width.
    """
    best: tuple[list[list[str]], str] = ([], ",")
    best_score: tuple[int, int, int] = (-1, -1, -1)
    for delim in (",", "\t", ";"):
        try:
            rows = _rows(text, delim)
        except csv.Error:
            continue
        # skip leading title lines (e.g. a matrix name) that have a single field
        while len(rows) > 1 and len(rows[0]) == 1 and len(rows[1]) > 1:
            rows = rows[1:]
        if not rows:
            continue
        body = rows[1:]
        consistent = int(len({len(r) for r in body}) == 1 and len(rows[0]) > 1)
        numeric = sum(_is_number(_decimal(c, delim)) for r in body for c in r)
        score = (consistent, numeric, len(rows[0]))
        if score > best_score:
            best, best_score = (rows, delim), score
    return best


def _decimal(cell: str, delim: str) -> str:
    """Accept a decimal comma in non-comma-separated files ("0,18" -> "0.18")."""
    if delim != "," and "," in cell and "." not in cell:
        return cell.replace(",", ".")
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_spillover_csv(path: str | Path) -> Spillover:
    """Read a lab override spillover matrix.

    Format: a header row of detector names, then a square matrix of numbers (rows: source
    detector, in header order). Optionally a first column of row names (with or without a
    blank corner cell in the header); when present the rows may be in any order and are
    matched to the header by name. Comma, tab or semicolon separated; quoted names, a
    leading ``#`` on the header and title lines with a single field are tolerated.

    Parameters
    ----------
    path
        CSV file.

    Returns
    -------
    Spillover
        ``source`` is the path as given.

    Raises
    ------
    CompensationError
        Unreadable file, non-numeric/NaN/infinite values, non-square or singular matrix,
        duplicate or mismatched names.
    """
    path = Path(path)
    rows, delim = _sniff(_read_text(path))
    if len(rows) < 2:
        raise CompensationError(
            "spillover CSV needs a header row and at least one matrix row", path=path
        )
    header = list(rows[0])
    body = rows[1:]
    if header[0].startswith("#"):
        header[0] = header[0].lstrip("#").strip()
    row_names: list[str] | None = None
    if all(not _is_number(_decimal(r[0], delim)) for r in body):
        row_names = [r[0] for r in body]
        body = [r[1:] for r in body]
        if len(header) == len(body[0]) + 1:  # corner cell ("" or a label) above the row names
            header = header[1:]
    detectors = [h.strip() for h in header]
    if any(d == "" for d in detectors):
        raise CompensationError("spillover CSV header has an empty detector name", path=path)
    k = len(detectors)
    if len({d.casefold() for d in detectors}) != k:
        raise CompensationError(
            f"spillover CSV header repeats a detector name: {detectors}", path=path
        )
    for i, r in enumerate(body):
        if len(r) != k:
            raise CompensationError(
                f"spillover matrix is not square: {k} detectors in the header but row {i + 1} has "
                f"{len(r)} values",
                path=path,
            )
    if len(body) != k:
        raise CompensationError(
            f"spillover matrix is not square: {k} detectors but {len(body)} rows", path=path
        )
    matrix = np.empty((k, k), dtype=np.float64)
    for i, r in enumerate(body):
        for j, cell in enumerate(r):
            try:
                matrix[i, j] = float(_decimal(cell, delim))
            except ValueError:
                raise CompensationError(
                    f"non-numeric value {cell!r} at matrix row {i + 1}, column {j + 1} ({detectors[j]})",
                    path=path,
                ) from None
    if row_names is not None:
        order = _row_order(row_names, detectors, path)
        matrix = matrix[order]
    spill = Spillover(detectors=tuple(detectors), matrix=matrix, source=str(path))
    validate_spillover(spill, path=path)
    return spill


def _row_order(row_names: list[str], detectors: list[str], path: Path) -> list[int]:
    keys = [_norm(d) for d in detectors]
    order = []
    for d in keys:
        hits = [i for i, r in enumerate(row_names) if _norm(r) == d]
        if len(hits) != 1:
            raise CompensationError(
                f"row names {row_names} do not match the header detectors {detectors}", path=path
            )
        order.append(hits[0])
    return order


# --------------------------------------------------------------------------------------
# validation and channel mapping
# --------------------------------------------------------------------------------------
def validate_spillover(spill: Spillover, *, path: str | Path | None = None) -> None:
    """Check shape, finiteness and invertibility of a spillover matrix.

    Raises
    ------
    CompensationError
        Non-square, size not matching the detector list, NaN/inf, or singular
        (condition number above :data:`MAX_CONDITION`).
    """
    m = np.asarray(spill.matrix)
    k = len(spill.detectors)
    src = f"spillover ({spill.source})"
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise CompensationError(f"{src} is not square: shape {m.shape}", path=path)
    if m.shape[0] != k:
        raise CompensationError(
            f"{src} is {m.shape[0]}x{m.shape[1]} but names {k} detectors", path=path
        )
    if k == 0:
        raise CompensationError(f"{src} is empty", path=path)
    if not np.all(np.isfinite(m)):
        bad = np.argwhere(~np.isfinite(m))[0]
        raise CompensationError(
            f"{src} holds NaN/infinite values (first at row {bad[0] + 1}, column {bad[1] + 1})",
            path=path,
        )
    cond = np.linalg.cond(m)
    if not math.isfinite(cond) or cond > MAX_CONDITION:
        raise CompensationError(f"{src} is singular (condition number {cond:.3g})", path=path)


def _norm(name: str) -> str:
    n = name.strip().casefold()
    if " :: " in n:
        n = n.split(" :: ", 1)[0].strip()
    if n.startswith("comp-"):
        n = n[5:]
    return n


def _base(name: str) -> str:
    n = _norm(name)
    return n[:-2] if n.endswith("-a") else n


def match_detectors(
    detectors: tuple[str, ...] | list[str],
    channels: tuple[Channel, ...],
    *,
    path: str | Path | None = None,
    source: str = "spillover",
) -> list[int]:
    """Column index of each detector (rule in the module docstring).

    Raises
    ------
    CompensationError
        A detector matches no channel, several channels ambiguously, or two detectors
        match the same channel.
    """
    cols: list[int] = []
    for det in detectors:
        hits = [c.index for c in channels if c.name == det]
        if not hits:
            hits = [c.index for c in channels if _norm(c.name) == _norm(det)]
        if not hits:
            hits = [c.index for c in channels if _base(c.name) == _base(det)]
            if len(hits) > 1:
                area = [i for i in hits if _norm(channels[i].name).endswith("-a")]
                hits = area if len(area) == 1 else hits
        if not hits and det.strip().isdigit() and 1 <= int(det) <= len(channels):
            hits = [int(det) - 1]
        if not hits:
            names = [c.name for c in channels]
            raise CompensationError(
                f"{source}: detector {det!r} is not a channel of the file (channels: {names})",
                path=path,
            )
        if len(hits) > 1:
            raise CompensationError(
                f"{source}: detector {det!r} matches several channels "
                f"{[channels[i].name for i in hits]}",
                path=path,
            )
        if hits[0] in cols:
            raise CompensationError(
                f"{source}: detectors map twice onto channel {channels[hits[0]].name!r}", path=path
            )
        cols.append(hits[0])
    return cols


def resolve_spillover(
    acquisition: Acquisition, *, override: Path | str | None = None
) -> Spillover | None:
    """The spillover matrix to apply to ``acquisition``.

    A lab override CSV wins over the file's own matrix. The returned matrix names the
    file's actual ``$PnN`` channels (after :func:`match_detectors`), so
    ``Events.is_compensated`` works by name.

    Parameters
    ----------
    acquisition
        The data set read from disk.
    override
        Optional path of a lab spillover CSV (:func:`load_spillover_csv`).

    Returns
    -------
    Spillover or None
        ``None`` when there is no override and the file carries no matrix.

    Raises
    ------
    CompensationError
        Invalid matrix, or detectors that are not channels of the file (the message names
        the FCS file and, for an override, the CSV).
    """
    if override is not None:
        spill = load_spillover_csv(override)
        source = f"override {override}"
    elif acquisition.spillover is not None:
        spill = acquisition.spillover
        source = f"file spillover {spill.source}"
        validate_spillover(spill, path=acquisition.path)
    else:
        return None
    cols = match_detectors(
        spill.detectors, acquisition.channels, path=acquisition.path, source=source
    )
    names = tuple(acquisition.channels[c].name for c in cols)
    return Spillover(
        detectors=names, matrix=np.asarray(spill.matrix, dtype=np.float64), source=spill.source
    )


def inverse_spillover(spill: Spillover) -> np.ndarray:
    """``inv(S)`` as float64 C-contiguous (compensated = raw[:, detectors] @ inv(S))."""
    return np.ascontiguousarray(np.linalg.inv(np.asarray(spill.matrix, dtype=np.float64)))
