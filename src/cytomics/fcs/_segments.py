"""Private: FCS HEADER and TEXT segment parsing (bytes in, plain Python values out).

The TEXT scanner follows the FCS standard (the first byte is the delimiter; keyword and
value alternate) with the lenient reading real files need:

* a doubled delimiter *inside* a value is an escaped delimiter (``a//b`` -> ``a/b``);
* a delimiter directly after a keyword's delimiter is an *empty value* (``/$INST//$COM/x/``
  gives ``$INST=""``), which is how CellQuest, Attune and Partec files write blank values;
* a missing final delimiter ends the last value at the end of the segment;
* bytes after the final delimiter (spaces, NULs) are padding;
* keyword names are stripped of surrounding whitespace/NULs and upper-cased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cytomics.errors import FCSHeaderError, FCSTruncatedError

HEADER_SIZE = 58
_VERSION_RE = re.compile(rb"\d\.\d")
_PAD = " \t\r\n\x00"


@dataclass(frozen=True, slots=True)
class Header:
    """Parsed HEADER of one data set (offsets relative to the data set start).

    Attributes
    ----------
    version
        ``"2.0"``, ``"3.0"``, ``"3.1"`` ...
    text
        (first, last) byte of the primary TEXT segment (inclusive).
    data
        (first, last) byte of DATA, or ``None`` when the fields are blank or zero.
    """

    version: str
    text: tuple[int, int]
    data: tuple[int, int] | None


def _field(raw: bytes) -> int | None:
    text = raw.strip(b" \x00")
    if not text or not text.isdigit():
        return None
    return int(text)


def parse_header(raw: bytes, *, path: Path, base: int, file_size: int) -> Header:
    """Parse the 58-byte HEADER found at absolute offset ``base``.

    Raises
    ------
    FCSHeaderError
        No ``FCSx.y`` magic or unusable TEXT offsets.
    FCSTruncatedError
        The file ends inside the HEADER.
    """
    where = "" if base == 0 else f" of the data set at byte {base}"
    if len(raw) == 0 and base == 0:
        raise FCSHeaderError("not an FCS file: the file is empty", path=path)
    if raw[:3] != b"FCS" or not _VERSION_RE.fullmatch(raw[3:6]):
        shown = raw[:10].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise FCSHeaderError(
            f"not an FCS file: HEADER{where} does not start with 'FCSx.y' (found {shown!r})",
            path=path,
        )
    if len(raw) < HEADER_SIZE:
        raise FCSTruncatedError(
            f"file ends inside the HEADER{where} ({file_size} bytes; HEADER needs {HEADER_SIZE})",
            path=path,
        )
    version = raw[3:6].decode("ascii")
    text_start, text_end = _field(raw[10:18]), _field(raw[18:26])
    if not text_start or text_end is None or text_end < text_start:
        raise FCSHeaderError(
            f"HEADER{where} has no usable TEXT offsets ({raw[10:26].decode('latin-1')!r})",
            path=path,
        )
    data_start, data_end = _field(raw[26:34]), _field(raw[34:42])
    data = None
    if data_start and data_end and data_end >= data_start:
        data = (data_start, data_end)
    return Header(version=version, text=(text_start, text_end), data=data)


def _decode(token: bytes, counter: list[int]) -> str:
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        counter[0] += 1
        try:
            return token.decode("cp1252")
        except UnicodeDecodeError:
            return token.decode("latin-1")


def scan_text(raw: bytes) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """Split a TEXT segment into raw (keyword, value) byte pairs.

    Returns
    -------
    pairs, notes
        Pairs in file order (keywords not yet normalised) and notes about leniencies used.
    """
    notes: list[str] = []
    pairs: list[tuple[bytes, bytes]] = []
    if not raw:
        return pairs, notes
    delim = raw[:1]
    n = len(raw)
    pos = 1
    while pos < n:
        j = raw.find(delim, pos)
        if j < 0:  # trailing bytes after the last value: padding or a dangling keyword
            rest = raw[pos:]
            if rest.strip(_PAD.encode()):
                notes.append(f"TEXT ends with keyword {_safe(rest)!r} without a value (ignored)")
            break
        key = raw[pos:j]
        pos = j + 1
        if pos >= n:
            if key.strip(_PAD.encode()):
                notes.append(f"TEXT ends with keyword {_safe(key)!r} without a value (ignored)")
            break
        if raw[pos : pos + 1] == delim:  # empty value
            pairs.append((key, b""))
            pos += 1
            continue
        parts: list[bytes] = []
        while True:
            j = raw.find(delim, pos)
            if j < 0:
                parts.append(raw[pos:])
                pos = n
                notes.append("TEXT has no closing delimiter after its last value")
                break
            if j + 2 < n and raw[j + 1 : j + 2] == delim:  # escaped delimiter inside a value
                parts.append(raw[pos:j] + delim)
                pos = j + 2
                continue
            parts.append(raw[pos:j])
            pos = j + 1
            break
        pairs.append((key, b"".join(parts)))
    return pairs, notes


def _safe(token: bytes) -> str:
    return token.decode("latin-1").strip(_PAD)[:40]


def parse_text(raw: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """Parse TEXT bytes into normalised (KEYWORD, value) string pairs in file order.

    Keyword names are stripped and upper-cased, values stripped. Tokens that are not
    valid UTF-8 are decoded as cp1252 (latin-1 as last resort) and a note is added.
    """
    pairs, notes = scan_text(raw)
    counter = [0]
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        name = _decode(key, counter).strip(_PAD).upper()
        text = _decode(value, counter).strip(_PAD)
        if not name:
            if text:
                notes.append(f"TEXT has a value without keyword ({text[:40]!r}; ignored)")
            continue
        out.append((name, text))
    if counter[0]:
        notes.append(
            f"TEXT is not valid UTF-8 ({counter[0]} token(s) decoded as cp1252/latin-1)"
        )
    return out, notes


def merge_keywords(
    pairs: list[tuple[str, str]], keywords: dict[str, str], notes: list[str], *, origin: str
) -> None:
    """Add ``pairs`` to ``keywords`` keeping the first occurrence; note duplicates."""
    repeats: dict[str, int] = {}
    for name, value in pairs:
        if name in keywords:
            if keywords[name] != value or origin == "TEXT":
                repeats[name] = repeats.get(name, 0) + 1
            continue
        keywords[name] = value
    for name, count in repeats.items():
        notes.append(
            f"duplicate keyword {name} ({count} more occurrence(s) in {origin}); "
            f"kept the first value {keywords[name][:60]!r}"
        )
