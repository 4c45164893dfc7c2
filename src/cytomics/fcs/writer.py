"""Write list-mode FCS 3.0 / 3.1 files (float32), the way BD FACSDiva / FACSuite export them.

Used by the simulator (:mod:`cytomics.simulate`) and for FCS export of gated populations.
The writer is streaming-friendly: ``events`` may be a 2-D array or an iterable of row
chunks (then ``n_events`` must be given), and the data are converted to the target byte order
block by block, so a 10-million-event file needs little more memory than its DATA.
Files are written atomically (a temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cytomics.errors import FCSDataError

__all__ = ["ChannelSpec", "format_spillover", "write_fcs"]

_HEADER_LEN = 58
_TEXT_START = 256  # FACSDiva leaves room after the HEADER; keeps offsets stable
_BLOCK_ROWS = 262_144
_DELIM = "|"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One parameter to write.

    Attributes
    ----------
    name
        ``$PnN`` (e.g. ``"PE-Cy7-A"``).
    marker
        ``$PnS`` or ``None`` (keyword omitted).
    range
        ``$PnR`` (262144 for an 18-bit BD channel).
    voltage
        ``$PnV`` (detector voltage) or ``None``.
    gain
        ``$PnG`` or ``None``.
    """

    name: str
    marker: str | None = None
    range: float = 262144.0
    voltage: float | None = None
    gain: float | None = None


def _num(value: float) -> str:
    """Compact text for a number (integers without a decimal point)."""
    f = float(value)
    return str(int(f)) if f.is_integer() else repr(f)


def format_spillover(detectors: Sequence[str], matrix: np.ndarray) -> str:
    """Format a spillover matrix as the FCS ``$SPILLOVER``/``SPILL`` value.

    Parameters
    ----------
    detectors
        ``$PnN`` names in matrix order.
    matrix
        ``[k, k]`` spillover values (rows: source, columns: receiving detector).

    Returns
    -------
    str
        ``"k,det1,...,detk,v11,v12,...,vkk"`` (row-major).
    """
    m = np.asarray(matrix, dtype=np.float64)
    k = len(detectors)
    if m.shape != (k, k):
        raise FCSDataError(f"spillover matrix shape {m.shape} does not match {k} detectors")
    values = ",".join(f"{v:.6g}" for v in m.ravel())
    return f"{k}," + ",".join(detectors) + "," + values


def _escape(value: str) -> str:
    text = str(value).replace(_DELIM, _DELIM * 2)
    return text if text else " "  # FCS 3.1: values must not be empty


def _build_text(pairs: list[tuple[str, str]]) -> bytes:
    parts = [_DELIM]
    for key, value in pairs:
        parts.append(f"{_escape(key)}{_DELIM}{_escape(value)}{_DELIM}")
    return "".join(parts).encode("latin-1", errors="replace")


def _channel_attr(ch: Any, name: str, default: Any = None) -> Any:
    if isinstance(ch, Mapping):
        return ch.get(name, default)
    return getattr(ch, name, default)


def write_fcs(
    path: str | Path,
    events: np.ndarray | Iterable[np.ndarray],
    channels: Sequence[ChannelSpec | Any],
    keywords: Mapping[str, str] | None = None,
    *,
    version: Literal["3.0", "3.1"] = "3.1",
    byteorder: Literal["big", "little"] = "little",
    spillover: tuple[Sequence[str], np.ndarray] | Any | None = None,
    spill_keyword: str | None = None,
    n_events: int | None = None,
) -> Path:
    """Write one FCS data set (``$DATATYPE`` F, ``$MODE`` L, ``$PnB`` 32).

    Parameters
    ----------
    path
        Output file; written atomically (temporary file + rename).
    events
        float32-convertible ``[n, p]`` array, or an iterable of ``[m, p]`` chunks (then
        ``n_events`` is required and checked).
    channels
        ``p`` channel descriptions: :class:`ChannelSpec`, :class:`cytomics.fcs.model.Channel`
        or mappings with ``name``, ``marker``, ``range`` (and optional ``voltage``, ``gain``).
    keywords
        Extra TEXT keywords (``$CYT``, ``$DATE``, ``TUBE NAME``, ...). Keywords the writer
        owns (offsets, ``$PAR``, ``$TOT``, ``$Pn*``, byte order, data type) are ignored here.
    version
        ``"3.0"`` (FACSDiva style) or ``"3.1"`` (FACSuite style).
    byteorder
        ``"big"`` (``$BYTEORD`` 4,3,2,1) or ``"little"`` (1,2,3,4).
    spillover
        ``(detectors, matrix)`` or a :class:`cytomics.fcs.model.Spillover`; ``None`` for none.
    spill_keyword
        Keyword for the spillover; defaults to ``"$SPILLOVER"`` for 3.1 and ``"SPILL"`` for 3.0.
    n_events
        Number of rows, required when ``events`` is an iterable of chunks.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    cytomics.errors.FCSDataError
        If shapes disagree (channels vs columns, chunk widths, total rows vs ``n_events``).
    """
    path = Path(path)
    if version not in ("3.0", "3.1"):
        raise FCSDataError(f"unsupported FCS version {version!r}", path=path)
    if byteorder not in ("big", "little"):
        raise FCSDataError(f"unsupported byte order {byteorder!r}", path=path)
    p = len(channels)
    if isinstance(events, np.ndarray):
        if events.ndim != 2 or events.shape[1] != p:
            raise FCSDataError(f"events shape {events.shape} does not match {p} channels", path=path)
        n_total = int(events.shape[0])
        chunks: Iterable[np.ndarray] = (events,)
    else:
        if n_events is None:
            raise FCSDataError("n_events is required when events is an iterable of chunks", path=path)
        n_total = int(n_events)
        chunks = events
    data_len = n_total * p * 4

    owned = {"$BEGINANALYSIS", "$ENDANALYSIS", "$BEGINSTEXT", "$ENDSTEXT", "$BEGINDATA",
             "$ENDDATA", "$BYTEORD", "$DATATYPE", "$MODE", "$NEXTDATA", "$PAR", "$TOT"}
    base: list[tuple[str, str]] = [
        ("$BYTEORD", "4,3,2,1" if byteorder == "big" else "1,2,3,4"),
        ("$DATATYPE", "F"),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", str(p)),
        ("$TOT", str(n_total)),
    ]
    extra: list[tuple[str, str]] = []
    for key, value in (keywords or {}).items():
        k = str(key)
        ku = k.upper()
        if ku in owned or (ku.startswith("$P") and ku[2:3].isdigit()):
            continue
        extra.append((k, str(value)))
    if spillover is not None:
        if hasattr(spillover, "detectors") and hasattr(spillover, "matrix"):
            dets, mat = spillover.detectors, spillover.matrix
        else:
            dets, mat = spillover
        key = spill_keyword or ("$SPILLOVER" if version == "3.1" else "SPILL")
        extra = [(k, v) for k, v in extra if k.upper() not in {"$SPILLOVER", "SPILL", "$SPILL"}]
        extra.append((key, format_spillover(list(dets), mat)))
    params: list[tuple[str, str]] = []
    for i, ch in enumerate(channels, start=1):
        name = _channel_attr(ch, "name")
        if not name:
            raise FCSDataError(f"channel {i} has no name", path=path)
        params.append((f"$P{i}N", str(name)))
        marker = _channel_attr(ch, "marker")
        if marker:
            params.append((f"$P{i}S", str(marker)))
        params.append((f"$P{i}B", "32"))
        params.append((f"$P{i}E", "0,0"))
        params.append((f"$P{i}R", _num(_channel_attr(ch, "range", 262144.0) or 262144.0)))
        gain = _channel_attr(ch, "gain")
        if gain is not None:
            params.append((f"$P{i}G", _num(gain)))
        volt = _channel_attr(ch, "voltage")
        if volt is not None:
            params.append((f"$P{i}V", _num(volt)))

    # Offsets appear inside TEXT: iterate until the TEXT length is stable.
    begin_data = end_data = 0
    text = b""
    for _ in range(5):
        offsets = [
            ("$BEGINANALYSIS", "0"), ("$ENDANALYSIS", "0"),
            ("$BEGINSTEXT", "0"), ("$ENDSTEXT", "0"),
            ("$BEGINDATA", str(begin_data)), ("$ENDDATA", str(end_data)),
        ]
        text = _build_text(offsets + base + params + extra)
        new_begin = _TEXT_START + len(text)
        new_end = new_begin + data_len - 1 if data_len else new_begin
        if (new_begin, new_end) == (begin_data, end_data):
            break
        begin_data, end_data = new_begin, new_end
    text_end = _TEXT_START + len(text) - 1

    def field(v: int) -> str:
        return f"{v if v <= 99_999_999 else 0:>8d}"

    header = f"FCS{version}    " + field(_TEXT_START) + field(text_end)
    header += field(begin_data) + field(end_data) + field(0) + field(0)
    header_b = header.encode("ascii").ljust(_TEXT_START, b" ")

    dtype = np.dtype(">f4" if byteorder == "big" else "<f4")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header_b)
            fh.write(text)
            written = 0
            for chunk in chunks:
                arr = np.asarray(chunk)
                if arr.ndim != 2 or arr.shape[1] != p:
                    raise FCSDataError(f"chunk shape {arr.shape} does not match {p} channels", path=path)
                for start in range(0, arr.shape[0], _BLOCK_ROWS):
                    block = np.ascontiguousarray(arr[start:start + _BLOCK_ROWS], dtype=dtype)
                    fh.write(block.tobytes())
                written += arr.shape[0]
                if written > n_total:
                    raise FCSDataError(f"more than n_events={n_total} rows supplied", path=path)
            if written != n_total:
                raise FCSDataError(f"{written} rows supplied but n_events={n_total}", path=path)
            fh.write(b"00000000")  # CRC field (FCS 3.x; 0 = not computed, as FACSDiva writes)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
