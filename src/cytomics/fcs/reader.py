"""Read FCS 2.0 / 3.0 / 3.1 list-mode files into an :class:`~cytomics.fcs.model.Acquisition`.

Public API
----------
read_fcs(path, *, data_set=None, linearize=True) -> Acquisition
read_fcs_header_text(path, *, data_set=None) -> (fcs_version, keywords)
read_fcs_metadata(path, *, data_set=None) -> FCSMetadata   (no DATA read)
list_data_sets(path) -> list[DataSetInfo]

Decisions (each quirk handled adds a human-readable note to ``Acquisition.warnings``):

* **Data-set choice** (``$NEXTDATA`` chains): by default the data set with the highest
  FCS version, then the highest ``$PnR`` (resolution), then the first; the others are named
  in a warning. ``data_set=k`` reads data set ``k`` (0-based).
* **DATA offsets**: the HEADER span and the TEXT ``$BEGINDATA``/``$ENDDATA`` span are both
  candidates. A candidate is *plausible* when it does not overlap the HEADER/primary TEXT,
  ``$TOT`` x row bytes fit in the file from its start, and its declared length is exactly
  ``$TOT`` x row bytes or one byte more (a common writer bug). The HEADER wins when both
  are plausible (it is the FCS primary location); blank/zero HEADER fields fall back to
  TEXT. No plausible span -> :class:`FCSTruncatedError` (span beyond EOF) or
  :class:`FCSDataError` (size mismatch).
* **Integers** are masked to the next power of two >= ``$PnR`` (FCS 3.1), and to ``$PnB``
  bits when the word is wider (``$PnB=10`` in 16-bit words). Log-amplified integer
  channels (``$PnE`` f1 > 0) are linearised ``10**(f1*x/$PnR) * f2`` (f2 = 0 read as 1);
  ``$PnE`` is ignored on float data.
"""

from __future__ import annotations

import hashlib
import math
import operator
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cytomics.errors import (
    FCSDataError,
    FCSError,
    FCSTextError,
    FCSTruncatedError,
    FCSUnsupportedError,
)
from cytomics.fcs._data import DataLayout, linearize_log, read_events, streams_raw_bytes
from cytomics.fcs._hash import StreamingSha256
from cytomics.fcs._segments import HEADER_SIZE, Header, merge_keywords, parse_header, parse_text
from cytomics.fcs.model import Acquisition, Channel, Spillover
from cytomics.fcs.spillover import spillover_from_keywords

__all__ = [
    "DataSetInfo",
    "FCSMetadata",
    "list_data_sets",
    "read_fcs",
    "read_fcs_header_text",
    "read_fcs_metadata",
]

_MAX_DATA_SETS = 256
#: Descriptive keywords a data set may inherit from a sibling data set of the same file
#: (Beckman LMD files write $CYT etc. only into the FCS 2.0 copy).
_SHARED_KEYWORDS: tuple[str, ...] = (
    "$CYT", "$CYTSN", "$DATE", "$BTIM", "$ETIM", "$FIL", "$SRC", "$INST", "$OP", "$PROJ",
    "$SMNO", "$EXP", "$CELLS", "$SYS",
)


@dataclass(slots=True)
class _DataSet:
    index: int
    base: int
    header: Header
    keywords: dict[str, str]
    text_span: tuple[int, int]  # absolute, inclusive
    notes: list[str] = field(default_factory=list)

    def version_key(self) -> tuple[int, int]:
        major, minor = self.header.version.split(".")
        return int(major), int(minor)

    def max_range(self) -> float:
        best = 0.0
        n = min(_lenient_int(self.keywords.get("$PAR")) or 0, len(self.keywords))
        for i in range(1, n + 1):
            best = max(best, _lenient_float(self.keywords.get(f"$P{i}R")) or 0.0)
        return best


@dataclass(frozen=True, slots=True)
class DataSetInfo:
    """Summary of one data set of a (possibly multi-data-set) FCS file.

    Attributes
    ----------
    index
        0-based position in the ``$NEXTDATA`` chain.
    offset
        Absolute byte offset of its HEADER.
    fcs_version
        From its HEADER.
    n_events, n_params
        ``$TOT`` and ``$PAR`` (``None`` when missing/invalid).
    """

    index: int
    offset: int
    fcs_version: str
    n_events: int | None
    n_params: int | None


@dataclass(slots=True)
class FCSMetadata:
    """HEADER/TEXT metadata of one data set, read without touching DATA.

    Attributes
    ----------
    path
        The file.
    fcs_version
        HEADER version of the data set described.
    keywords
        Its TEXT keywords (same normalisation as :attr:`Acquisition.keywords`).
    data_set
        0-based index of the data set described.
    data_sets
        Every data set of the file.
    warnings
        Notes about TEXT quirks handled.
    """

    path: Path
    fcs_version: str
    keywords: dict[str, str]
    data_set: int = 0
    data_sets: tuple[DataSetInfo, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def n_events(self) -> int | None:
        """``$TOT`` (``None`` when missing/invalid)."""
        return _lenient_int(self.keywords.get("$TOT"))

    @property
    def n_params(self) -> int | None:
        """``$PAR`` (``None`` when missing/invalid)."""
        return _lenient_int(self.keywords.get("$PAR"))

    @property
    def cytometer(self) -> str | None:
        """``$CYT`` or ``None``."""
        return self.keywords.get("$CYT") or None

    def channel_names(self) -> list[str]:
        """``$PnN`` for n = 1..$PAR (``""`` where missing)."""
        n = min(self.n_params or 0, len(self.keywords))
        return [self.keywords.get(f"$P{i}N", "") for i in range(1, n + 1)]

    def markers(self) -> list[str | None]:
        """``$PnS`` for n = 1..$PAR (``None`` where blank/missing)."""
        n = min(self.n_params or 0, len(self.keywords))
        return [self.keywords.get(f"$P{i}S", "") or None for i in range(1, n + 1)]


# --------------------------------------------------------------------------- helpers
def _lenient_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            f = float(value)
        except ValueError:
            return None
        return int(f) if math.isfinite(f) and f == int(f) else None


def _lenient_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _open(path: Path) -> tuple[BinaryIO, int]:
    if path.is_dir():
        raise FCSError("is a directory, not an FCS file", path=path)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise FCSError("file not found", path=path) from None
    except OSError as exc:
        raise FCSError(f"cannot open file ({exc.strerror or exc})", path=path) from None
    try:
        size = os.fstat(fh.fileno()).st_size
    except OSError as exc:  # pragma: no cover - exotic
        fh.close()
        raise FCSError(f"cannot stat file ({exc.strerror or exc})", path=path) from None
    return fh, size


def _chain_of(path: Path) -> list[_DataSet]:
    fh, size = _open(path)
    with fh:
        try:
            return _read_chain(fh, size=size, path=path)
        except OSError as exc:
            raise FCSError(f"I/O error while reading ({exc.strerror or exc})",
                           path=path) from None


_HASH_INLINE_MAX = 16 * 2**20  # smaller files are hashed inline, larger ones in a thread


def _sha256_of(path: Path, size: int) -> Callable[[], str]:
    """Start hashing the file; returns a function that waits for the SHA-256 hex digest.

    Large files are hashed in a background thread while the DATA segment is read
    (hashlib releases the GIL), so the checksum costs no extra wall time.
    """
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            with open(path, "rb") as fh:
                result["hex"] = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            result["error"] = exc

    if size <= _HASH_INLINE_MAX:
        work()
        thread = None
    else:
        thread = threading.Thread(target=work, name="cytomics-sha256", daemon=True)
        thread.start()

    def wait() -> str:
        if thread is not None:
            thread.join()
        if "error" in result:
            raise result["error"]
        return result["hex"]

    return wait


def _read_data_set(fh: BinaryIO, *, index: int, base: int, size: int, path: Path) -> _DataSet:
    fh.seek(base)
    header = parse_header(fh.read(HEADER_SIZE), path=path, base=base, file_size=size)
    ts, te = base + header.text[0], base + header.text[1]
    label = "" if index == 0 else f" of data set {index}"
    if te >= size:
        raise FCSTruncatedError(
            f"TEXT segment{label} is declared at bytes {ts}-{te} but the file has only "
            f"{size} bytes",
            path=path,
        )
    fh.seek(ts)
    raw = fh.read(te - ts + 1)
    pairs, notes = parse_text(raw)
    keywords: dict[str, str] = {}
    merge_keywords(pairs, keywords, notes, origin="TEXT")
    _merge_supplemental(fh, keywords, notes, base=base, primary=header.text, size=size,
                        delimiter=raw[:1])
    return _DataSet(index=index, base=base, header=header, keywords=keywords,
                    text_span=(ts, te), notes=notes)


def _merge_supplemental(fh: BinaryIO, keywords: dict[str, str], notes: list[str], *,
                        base: int, primary: tuple[int, int], size: int,
                        delimiter: bytes) -> None:
    s = _lenient_int(keywords.get("$BEGINSTEXT"))
    e = _lenient_int(keywords.get("$ENDSTEXT"))
    if not s or not e or (s, e) == primary:
        return
    if e < s or base + e >= size:
        notes.append(f"supplemental TEXT offsets {s}-{e} are invalid or beyond end of file; "
                     "ignored")
        return
    fh.seek(base + s)
    raw = fh.read(e - s + 1)
    if raw[:1] != delimiter:
        notes.append(f"supplemental TEXT at {s}-{e} does not start with the TEXT delimiter "
                     f"(not keyword text); ignored")
        return
    pairs, sub_notes = parse_text(raw)
    notes.extend(f"supplemental TEXT: {n}" for n in sub_notes)
    merge_keywords(pairs, keywords, notes, origin="supplemental TEXT")


def _read_chain(fh: BinaryIO, *, size: int, path: Path) -> list[_DataSet]:
    sets = [_read_data_set(fh, index=0, base=0, size=size, path=path)]
    seen = {0}
    while len(sets) < _MAX_DATA_SETS:
        cur = sets[-1]
        raw = cur.keywords.get("$NEXTDATA")
        step = _lenient_int(raw) if raw is not None else 0
        if not step:
            if raw is not None and step is None:
                cur.notes.append(f"$NEXTDATA {raw!r} is not a number; ignored")
            break
        nxt = cur.base + step
        if nxt in seen or nxt + HEADER_SIZE > size or step < 0:
            cur.notes.append(f"$NEXTDATA={raw} points outside the file or backwards; ignored")
            break
        seen.add(nxt)
        try:
            sets.append(_read_data_set(fh, index=len(sets), base=nxt, size=size, path=path))
        except FCSError as exc:
            cur.notes.append(f"$NEXTDATA={raw} does not lead to a readable data set "
                             f"({exc.detail}); ignored")
            break
    return sets


def _inherit_descriptive(chosen: _DataSet, sets: list[_DataSet]) -> list[str]:
    """Fill instrument/sample keywords missing in ``chosen`` from sibling data sets.

    Only descriptive keywords (:data:`_SHARED_KEYWORDS`) are shared: a data set's layout,
    channel and compensation keywords always come from the data set itself.
    """
    taken: list[str] = []
    for name in _SHARED_KEYWORDS:
        if chosen.keywords.get(name):
            continue
        for other in sets:
            if other is not chosen and other.keywords.get(name):
                chosen.keywords[name] = other.keywords[name]
                taken.append(name)
                break
    return taken


def _select(sets: list[_DataSet], data_set: int | None, path: Path) -> tuple[_DataSet, list[str]]:
    if data_set is not None:
        try:
            data_set = operator.index(data_set)
        except TypeError:
            raise TypeError(f"data_set must be an int, not {type(data_set).__name__}") from None
        if not 0 <= data_set < len(sets):
            raise FCSError(
                f"data set {data_set!r} requested but the file holds {len(sets)} data set(s) "
                f"(valid: 0..{len(sets) - 1})",
                path=path,
            )
        chosen = sets[data_set]
    else:
        chosen = max(sets, key=lambda d: (d.version_key(), d.max_range(), -d.index))
    notes: list[str] = []
    inherited = _inherit_descriptive(chosen, sets)
    if inherited:
        notes.append(f"keywords {', '.join(inherited)} absent in data set {chosen.index}; "
                     "taken from another data set of the same file")
    if len(sets) > 1:
        others = "; ".join(
            f"data set {d.index}: FCS {d.header.version}, "
            f"{d.keywords.get('$TOT', '?')} events x {d.keywords.get('$PAR', '?')} params"
            for d in sets
            if d is not chosen
        )
        how = "as requested" if data_set is not None else (
            "highest FCS version / resolution")
        notes.append(
            f"file holds {len(sets)} data sets; read data set {chosen.index} "
            f"(FCS {chosen.header.version}, {how}); others: {others} "
            "(use data_set=k to read another)"
        )
    return chosen, notes


# ------------------------------------------------------------------- channels and layout
def _require_int(kw: dict[str, str], name: str, path: Path, *, minimum: int) -> int:
    raw = kw.get(name)
    if raw is None or raw == "":
        raise FCSTextError(f"required keyword {name} is missing", path=path)
    value = _lenient_int(raw)
    if value is None or value < minimum:
        raise FCSTextError(f"keyword {name} has an invalid value {raw[:40]!r}", path=path)
    return value


def _byte_order(kw: dict[str, str], path: Path, *, needed: bool) -> bool:
    raw = kw.get("$BYTEORD", "").replace(" ", "")
    if not raw:
        if needed:
            raise FCSTextError("required keyword $BYTEORD is missing", path=path)
        return False
    try:
        order = [int(t) for t in raw.split(",")]
    except ValueError:
        raise FCSTextError(f"$BYTEORD {raw!r} is not a byte order", path=path) from None
    if order == list(range(1, len(order) + 1)):
        return False
    if order == list(range(len(order), 0, -1)):
        return True
    if not needed:
        return False
    raise FCSUnsupportedError(f"mixed-endian $BYTEORD {raw!r} is not supported", path=path)


def _mask_for(bits: int, width: int, value_range: float | None) -> int | None:
    full = (1 << (8 * width)) - 1
    mask = full
    if bits < 8 * width:
        mask = (1 << bits) - 1
    if value_range is not None and value_range > 0:
        range_bits = max(1, math.ceil(math.log2(value_range)))
        if 2 ** range_bits < value_range:  # float rounding guard
            range_bits += 1
        mask = min(mask, (1 << range_bits) - 1)
    return None if mask == full else mask


@dataclass(slots=True)
class _Plan:
    layout: DataLayout
    channels: tuple[Channel, ...]
    log_columns: list[int]
    notes: list[str]


def _plan(ds: _DataSet, path: Path, *, linearize: bool) -> _Plan:
    kw = ds.keywords
    notes: list[str] = []
    mode = kw.get("$MODE", "L").upper()
    if mode != "L":
        raise FCSUnsupportedError(
            f"$MODE={mode!r}: only list-mode (L) data are supported", path=path
        )
    datatype = kw.get("$DATATYPE", "").upper()
    if not datatype:
        raise FCSTextError("required keyword $DATATYPE is missing", path=path)
    if datatype not in {"I", "F", "D"}:
        raise FCSUnsupportedError(
            f"$DATATYPE={datatype!r} is not supported (only I, F and D)", path=path
        )
    n_par = _require_int(kw, "$PAR", path, minimum=1)
    if n_par > len(kw):  # every parameter needs at least $PnB and $PnR: guards absurd $PAR
        raise FCSTextError(
            f"$PAR={n_par} but TEXT holds only {len(kw)} keywords (too few to describe "
            f"{n_par} parameters)",
            path=path,
        )
    n_tot = _tot(ds, path, notes)

    widths: list[int] = []
    masks: list[int | None] = []
    channels: list[Channel] = []
    log_columns: list[int] = []
    float_log: list[str] = []
    for i in range(1, n_par + 1):
        name = kw.get(f"$P{i}N", "")
        if not name:
            name = f"P{i}"
            notes.append(f"$P{i}N is missing; channel named {name!r}")
        raw_bits = kw.get(f"$P{i}B")
        bits = _lenient_int(raw_bits)
        value_range = _lenient_float(kw.get(f"$P{i}R"))
        if datatype == "I":
            if raw_bits is None:
                raise FCSTextError(f"required keyword $P{i}B ({name}) is missing", path=path)
            if bits is None or not 1 <= bits <= 32:
                raise FCSUnsupportedError(
                    f"$P{i}B={raw_bits!r} ({name}): integer widths of 1-32 bits are supported",
                    path=path,
                )
            width = (bits + 7) // 8
            if value_range is None:
                notes.append(f"$P{i}R ({name}) missing or invalid; masked to $P{i}B bits")
            masks.append(_mask_for(bits, width, value_range))
        else:
            width = 4 if datatype == "F" else 8
            if bits != 8 * width:
                notes.append(f"$P{i}B={raw_bits!r} ({name}) ignored: $DATATYPE {datatype} "
                             f"stores {8 * width} bits")
            bits = 8 * width
            masks.append(None)
        widths.append(width)
        if value_range is None:
            value_range = float(2**bits) if datatype == "I" else 0.0
        decades, offset = _pne(kw, i, name, notes)
        if decades > 0:
            if datatype != "I":
                float_log.append(name)
            elif value_range <= 0:
                notes.append(f"$P{i}E log scale on {name} not applied: $P{i}R is not positive")
            elif linearize:
                log_columns.append(i - 1)
        marker = kw.get(f"$P{i}S", "") or None
        channels.append(Channel(
            index=i - 1, name=name, marker=marker, range=float(value_range), bits=bits,
            log_decades=decades, log_offset=offset,
            gain=_lenient_float(kw.get(f"$P{i}G")) or 1.0,
            voltage=_lenient_float(kw.get(f"$P{i}V")),
        ))
    if float_log:
        notes.append(f"$PnE log scale ignored on float data (already linear): "
                     f"{', '.join(float_log)}")
    if not linearize and any(c.log_decades > 0 for c in channels) and datatype == "I":
        notes.append("log-amplified integer channels left as raw channel numbers "
                     "(linearize=False)")
    big = _byte_order(kw, path, needed=any(w > 1 for w in widths))
    layout = DataLayout(datatype=datatype, widths=tuple(widths), big_endian=big,
                        n_events=n_tot, masks=tuple(masks))
    return _Plan(layout=layout, channels=tuple(channels), log_columns=log_columns, notes=notes)


def _tot(ds: _DataSet, path: Path, notes: list[str]) -> int:
    if "$TOT" in ds.keywords:
        return _require_int(ds.keywords, "$TOT", path, minimum=0)
    raise FCSTextError("required keyword $TOT (number of events) is missing", path=path)


def _pne(kw: dict[str, str], i: int, name: str, notes: list[str]) -> tuple[float, float]:
    raw = kw.get(f"$P{i}E")
    if not raw:
        return 0.0, 0.0
    parts = raw.replace(" ", "").split(",")
    try:
        f1, f2 = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        f1 = f2 = None
    if f1 is None or f2 is None or not (math.isfinite(f1) and math.isfinite(f2)) or f1 < 0:
        notes.append(f"$P{i}E={raw!r} ({name}) is not 'f1,f2'; channel read as linear")
        return 0.0, 0.0
    return f1, f2


# ----------------------------------------------------------------------------- offsets
def _data_start(ds: _DataSet, layout: DataLayout, *, size: int, path: Path) -> tuple[int, list[str]]:
    """Absolute first byte of DATA chosen from the HEADER and TEXT candidates."""
    notes: list[str] = []
    need = layout.nbytes
    cands: list[tuple[str, int, int]] = []
    if ds.header.data is not None:
        cands.append(("HEADER", ds.base + ds.header.data[0], ds.base + ds.header.data[1]))
    b = _lenient_int(ds.keywords.get("$BEGINDATA"))
    e = _lenient_int(ds.keywords.get("$ENDDATA"))
    if b and e:
        cands.append(("TEXT", ds.base + b, ds.base + e))
    if need == 0:
        return (cands[0][1] if cands else 0), notes
    if not cands:
        raise FCSTextError(
            "no DATA offsets: HEADER fields are blank/zero and $BEGINDATA/$ENDDATA are "
            "missing",
            path=path,
        )
    ts, te = ds.text_span
    verdicts: list[tuple[str, int, int, str]] = []
    for src, s, end in cands:
        length = end - s + 1
        last = s + need - 1
        if s <= ds.base + HEADER_SIZE - 1 and last >= ds.base:
            why = f"overlaps the HEADER ({ds.base}-{ds.base + HEADER_SIZE - 1})"
        elif s <= te and last >= ts:
            why = f"overlaps the TEXT segment ({ts}-{te})"
        elif s + need > size or end > size:
            why = f"extends beyond the end of the file ({size} bytes)"
        elif length not in (need, need + 1):
            why = (f"is {length} bytes but $TOT x row size = {layout.n_events} x "
                   f"{layout.row_bytes} = {need} bytes")
        else:
            why = ""
        verdicts.append((src, s, end, why))
    good = [v for v in verdicts if not v[3]]
    if not good:
        detail = "; ".join(f"{src} span {s}-{end} {why}" for src, s, end, why in verdicts)
        if any("beyond the end" in v[3] for v in verdicts):
            raise FCSTruncatedError(f"DATA segment is truncated: {detail}", path=path)
        raise FCSDataError(f"DATA segment size is inconsistent: {detail}", path=path)
    src, s, end, _ = good[0]
    for osrc, os_, oend, why in verdicts:
        if (os_, oend) != (s, end):
            reason = why or "also plausible; HEADER is the primary location"
            notes.append(f"HEADER and TEXT DATA offsets disagree: used {src} {s}-{end}; "
                         f"{osrc} {os_}-{oend} {reason}")
            break
    if end - s + 1 == need + 1:
        notes.append(f"DATA end offset is one byte past $TOT x row size ({src} {s}-{end}); "
                     "extra byte ignored")
    return s, notes


def _resolve_detector_numbers(spill: Spillover, channels: tuple[Channel, ...],
                              warnings: list[str]) -> Spillover:
    """Accuri/Gallios write parameter numbers instead of $PnN names: map them."""
    names = {c.name for c in channels}
    if any(d in names for d in spill.detectors):
        return spill
    if not all(d.isdigit() and 1 <= int(d) <= len(channels) for d in spill.detectors):
        return spill
    mapped = tuple(channels[int(d) - 1].name for d in spill.detectors)
    warnings.append(f"{spill.source} names detectors by parameter number "
                    f"({', '.join(spill.detectors)}); mapped to {', '.join(mapped)}")
    return Spillover(detectors=mapped, matrix=spill.matrix, source=spill.source)


# --------------------------------------------------------------------------- public API
def list_data_sets(path: str | Path) -> list[DataSetInfo]:
    """Describe every data set of ``path`` (HEADER and TEXT only, DATA is not read).

    Raises
    ------
    FCSError
        (or a subclass) when the first data set cannot be read.
    """
    return list(read_fcs_metadata(path, data_set=0).data_sets)


def read_fcs_header_text(
    path: str | Path, *, data_set: int | None = None
) -> tuple[str, dict[str, str]]:
    """Cheap metadata read: HEADER version and TEXT keywords, without loading DATA.

    A shorthand for :func:`read_fcs_metadata` (same parameters and errors).

    Returns
    -------
    fcs_version, keywords
        Keywords with names upper-cased and stripped, values stripped (supplemental TEXT
        merged, first occurrence kept).
    """
    meta = read_fcs_metadata(path, data_set=data_set)
    return meta.fcs_version, meta.keywords


def read_fcs_metadata(path: str | Path, *, data_set: int | None = None) -> FCSMetadata:
    """Cheap metadata read (HEADER + TEXT of every data set; DATA is not read or checked).

    Parameters
    ----------
    path
        FCS file.
    data_set
        As in :func:`read_fcs` (default: the data set :func:`read_fcs` would return).

    Returns
    -------
    FCSMetadata

    Raises
    ------
    FCSError
        (or a subclass) when HEADER/TEXT cannot be read. A file whose DATA is truncated
        still gives its metadata here; :func:`read_fcs` rejects it.
    """
    p = Path(path)
    sets = _chain_of(p)
    chosen, notes = _select(sets, data_set, p)
    infos = tuple(
        DataSetInfo(index=d.index, offset=d.base, fcs_version=d.header.version,
                    n_events=_lenient_int(d.keywords.get("$TOT")),
                    n_params=_lenient_int(d.keywords.get("$PAR")))
        for d in sets
    )
    return FCSMetadata(path=p, fcs_version=chosen.header.version,
                       keywords=dict(chosen.keywords), data_set=chosen.index,
                       data_sets=infos, warnings=[*chosen.notes, *notes])


def read_fcs(
    path: str | Path, *, data_set: int | None = None, linearize: bool = True
) -> Acquisition:
    """Read one list-mode data set of an FCS 2.0/3.0/3.1 file.

    Parameters
    ----------
    path
        The FCS file (never modified).
    data_set
        0-based data set of a ``$NEXTDATA`` chain; ``None`` picks the highest FCS version,
        then the highest resolution (a warning names the other data sets).
    linearize
        Convert log-amplified integer channels (``$PnE`` f1 > 0) to linear values
        ``10**(f1*x/$PnR) * f2``. ``False`` keeps the (masked) raw channel numbers.

    Returns
    -------
    Acquisition
        ``events`` float32 ``[n_events, n_params]`` C-contiguous.

    Raises
    ------
    FCSHeaderError
        Not an FCS file (empty, no ``FCSx.y`` magic, bad HEADER offsets).
    FCSTruncatedError
        A segment extends beyond the end of the file.
    FCSTextError
        A required keyword is missing or invalid.
    FCSDataError
        The DATA segment size does not match ``$TOT`` x row size.
    FCSUnsupportedError
        ``$MODE`` other than L, ``$DATATYPE`` A, mixed-endian byte order, >32-bit integers.
    FCSError
        File missing, a directory, unreadable, or ``data_set`` out of range.
    """
    p = Path(path)
    fh, size = _open(p)
    with fh:
        try:
            return _read(fh, p, size=size, data_set=data_set, linearize=linearize)
        except OSError as exc:
            raise FCSError(f"I/O error while reading ({exc.strerror or exc})", path=p) from None


def _read(fh: BinaryIO, path: Path, *, size: int, data_set: int | None,
          linearize: bool) -> Acquisition:
    stream = size > _HASH_INLINE_MAX
    sha256 = None if stream else _sha256_of(path, size)
    sets = _read_chain(fh, size=size, path=path)
    chosen, warnings = _select(sets, data_set, path)
    warnings = [*chosen.notes, *warnings]
    plan = _plan(chosen, path, linearize=linearize)
    warnings.extend(plan.notes)
    start, span_notes = _data_start(chosen, plan.layout, size=size, path=path)
    warnings.extend(span_notes)
    tap = None
    if stream and streams_raw_bytes(plan.layout):
        # large file: DATA hashed from the event buffer as it is read (no second read)
        tap = StreamingSha256(path, size, start=start, nbytes=plan.layout.nbytes)
        sha256 = tap.result
    elif stream:
        sha256 = _sha256_of(path, size)
    events = read_events(fh, plan.layout, start=start, path=path, tap=tap)
    if tap is not None:
        tap.wait_data()
    for j in plan.log_columns:
        ch = plan.channels[j]
        linearize_log(events, j, decades=ch.log_decades, offset=ch.log_offset,
                      value_range=ch.range)
    spill, spill_notes = spillover_from_keywords(chosen.keywords, path=path)
    warnings.extend(spill_notes)
    if spill is not None:
        spill = _resolve_detector_numbers(spill, plan.channels, warnings)
        names = {c.name for c in plan.channels}
        missing = [d for d in spill.detectors if d not in names]
        if missing:
            warnings.append(f"{spill.source} names detectors that are not channels: "
                            f"{', '.join(missing)}")
    raw_step = chosen.keywords.get("$TIMESTEP")
    if raw_step is not None and _lenient_float(raw_step) is None:
        warnings.append(f"$TIMESTEP={raw_step[:20]!r} is not a number; timestep unknown")
    return Acquisition(
        path=path,
        sha256=sha256(),
        fcs_version=chosen.header.version,
        keywords=dict(chosen.keywords),
        channels=plan.channels,
        events=events,
        spillover=spill,
        data_set=chosen.index,
        warnings=warnings,
    )
