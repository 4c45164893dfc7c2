"""Spillover keyword parsing (``$SPILLOVER`` / ``SPILL`` / ``$SPILL`` / ``SPILLOVER``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cytomics.errors import CompensationError
from cytomics.fcs.model import Spillover

#: Keywords that may hold a spillover matrix, in order of preference.
SPILLOVER_KEYWORDS: tuple[str, ...] = ("$SPILLOVER", "SPILL", "$SPILL", "SPILLOVER")


def parse_spillover(value: str, *, source: str, path: str | Path | None = None) -> Spillover:
    """Parse a spillover keyword value ``"n,det_1,...,det_n,s_11,...,s_nn"`` (row-major).

    Parameters
    ----------
    value
        The keyword value as read from TEXT.
    source
        Recorded as :attr:`Spillover.source` (e.g. the keyword name).
    path
        The file the value came from (named in errors).

    Returns
    -------
    Spillover
        ``matrix`` is float64 ``[n, n]``; detector names are stripped.

    Raises
    ------
    CompensationError
        The value is not a well-formed, finite ``n x n`` matrix with ``n >= 1`` and
        ``n`` distinct, non-empty detector names.
    """
    tokens = [t.strip() for t in value.split(",")]
    if not tokens or not tokens[0]:
        raise CompensationError(f"{source} is empty", path=path)
    try:
        n = int(float(tokens[0]))
    except ValueError:
        raise CompensationError(
            f"{source} must start with the matrix size n, found {tokens[0][:20]!r}", path=path
        ) from None
    if n < 1:
        raise CompensationError(f"{source} declares a {n} x {n} matrix", path=path)
    expected = 1 + n + n * n
    if len(tokens) != expected:
        raise CompensationError(
            f"{source} declares {n} detectors, so it needs {expected} comma-separated "
            f"fields (n, {n} names, {n * n} values) but has {len(tokens)}",
            path=path,
        )
    detectors = tuple(tokens[1 : 1 + n])
    if any(not d for d in detectors):
        raise CompensationError(f"{source} has an empty detector name", path=path)
    if len(set(detectors)) != n:
        raise CompensationError(f"{source} names a detector twice: {detectors}", path=path)
    try:
        values = np.array([float(t) for t in tokens[1 + n :]], dtype=np.float64)
    except ValueError:
        raise CompensationError(
            f"{source} has a non-numeric matrix entry", path=path
        ) from None
    if not np.all(np.isfinite(values)):
        raise CompensationError(f"{source} has a non-finite matrix entry", path=path)
    return Spillover(detectors=detectors, matrix=values.reshape(n, n), source=source)


def spillover_from_keywords(
    keywords: Mapping[str, str], *, path: str | Path | None = None
) -> tuple[Spillover | None, list[str]]:
    """Find and parse the file's own spillover matrix.

    The first keyword of :data:`SPILLOVER_KEYWORDS` that parses wins; malformed ones and a
    second keyword with a different matrix produce warnings instead of errors.

    Returns
    -------
    spillover, warnings
        ``spillover`` is ``None`` when no usable keyword exists.
    """
    warnings: list[str] = []
    found: Spillover | None = None
    for name in SPILLOVER_KEYWORDS:
        raw = keywords.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            tokens0 = raw.split(",", 1)[0].strip()
            if tokens0 in {"0", "0.0"}:
                continue  # explicitly "no matrix"
            parsed = parse_spillover(raw, source=name, path=path)
        except CompensationError as exc:
            warnings.append(f"ignored malformed spillover keyword: {exc.detail}")
            continue
        if found is None:
            found = parsed
        elif found.detectors != parsed.detectors or not np.allclose(
            found.matrix, parsed.matrix
        ):
            warnings.append(
                f"{name} differs from {found.source}; using {found.source}"
            )
    return found, warnings
