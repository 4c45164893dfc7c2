"""Private: decode an FCS list-mode DATA segment into one float32 matrix.

Memory: float data are read straight into the final native-endian float32 buffer and
byte-swapped in place; uniform-width integer data are read into one integer buffer,
masked in place and converted to float32 once. Only float64 ($DATATYPE D) and mixed or
24-bit integer layouts go through bounded per-chunk / per-column temporaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cytomics.errors import FCSTruncatedError

_CHUNK_BYTES = 64 * 1024 * 1024
_TAP_BYTES = 8 * 1024 * 1024  # read granularity when the bytes are also handed to a hash
_MAX_READ = 1 << 30  # read at most 1 GiB per system call (Linux caps a read near 2 GiB)
_NATIVE_BIG = not np.little_endian


@dataclass(frozen=True, slots=True)
class DataLayout:
    """How one event row is stored.

    Attributes
    ----------
    datatype
        ``"I"``, ``"F"`` or ``"D"``.
    widths
        Bytes per parameter (1, 2, 3, 4 for I; 4 for F; 8 for D).
    big_endian
        ``$BYTEORD`` 4,3,2,1 / 2,1.
    n_events
        ``$TOT``.
    masks
        Per parameter: integer bit mask to apply, or ``None`` (no masking needed).
    """

    datatype: str
    widths: tuple[int, ...]
    big_endian: bool
    n_events: int
    masks: tuple[int | None, ...]

    @property
    def row_bytes(self) -> int:
        """Bytes per event."""
        return int(sum(self.widths))

    @property
    def n_params(self) -> int:
        """Parameters per event."""
        return len(self.widths)

    @property
    def nbytes(self) -> int:
        """Expected DATA length in bytes (without any off-by-one slack)."""
        return self.row_bytes * self.n_events


def _readinto(fh: BinaryIO, buf: np.ndarray, *, start: int, path: Path, tap=None,
              on_chunk=None) -> None:
    """Fill ``buf`` (C-contiguous) with the bytes at ``start``; never a partial result.

    ``tap`` (e.g. :class:`cytomics.fcs._hash.StreamingSha256`): each filled chunk is passed
    to ``tap.feed`` as soon as it is read, then ``on_chunk()`` is called (if given), and
    ``tap.end_data()`` is called at the end.
    """
    view = memoryview(buf.reshape(-1).view(np.uint8))
    fh.seek(start)
    done = 0
    total = len(view)
    step = _MAX_READ if tap is None else _TAP_BYTES
    try:
        while done < total:
            got = fh.readinto(view[done : min(total, done + step)])
            if not got:
                raise FCSTruncatedError(
                    f"DATA segment ends early: read {done} of {total} bytes starting at "
                    f"byte {start}",
                    path=path,
                )
            if tap is not None:
                tap.feed(view[done : done + got])
            done += got
            if on_chunk is not None:
                on_chunk()
    finally:
        if tap is not None:
            tap.end_data()


def streams_raw_bytes(layout: DataLayout) -> bool:
    """Whether :func:`read_events` reads this layout's DATA bytes unchanged into one buffer
    (so a ``tap`` can see them): float32, or integers of one width of 1, 2 or 4 bytes."""
    if layout.datatype == "F":
        return True
    return layout.datatype == "I" and len(set(layout.widths)) == 1 and layout.widths[0] in (1, 2, 4)


def _uint_dtype(width: int, big_endian: bool) -> np.dtype:
    return np.dtype(f"{'>' if big_endian else '<'}u{width}")


def read_events(fh: BinaryIO, layout: DataLayout, *, start: int, path: Path,
                tap=None) -> np.ndarray:
    """Decode DATA at absolute byte ``start`` into float32 ``[n_events, n_params]``.

    Integer values are masked with :attr:`DataLayout.masks`; no other scaling is applied.
    ``tap`` (only when :func:`streams_raw_bytes`): receives the raw DATA bytes as they are
    read (see :func:`_readinto`); the buffer is modified only after ``tap.wait_data()``.
    """
    n, p = layout.n_events, layout.n_params
    if tap is not None and not streams_raw_bytes(layout):
        raise ValueError("a tap needs a layout read unchanged into one buffer")
    if layout.datatype == "F":
        out = np.empty((n, p), dtype=np.float32)
        if layout.big_endian == _NATIVE_BIG:
            _readinto(fh, out, start=start, path=path, tap=tap)
        elif tap is None:
            _readinto(fh, out, start=start, path=path)
            out.byteswap(inplace=True)
        else:
            _read_swap_hashed(fh, out, start=start, path=path, tap=tap)
        return out
    if layout.datatype == "D":
        out = np.empty((n, p), dtype=np.float32)
        rows = max(1, _CHUNK_BYTES // max(1, layout.row_bytes))
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            chunk = np.empty((r1 - r0, p), dtype=np.float64)
            _readinto(fh, chunk, start=start + r0 * layout.row_bytes, path=path)
            if layout.big_endian != _NATIVE_BIG:
                chunk.byteswap(inplace=True)
            out[r0:r1] = chunk
        return out
    return _read_int(fh, layout, start=start, path=path, tap=tap)


def _read_swap_hashed(fh: BinaryIO, out: np.ndarray, *, start: int, path: Path, tap) -> None:
    """Read float32 DATA of the other byte order into ``out`` and swap it in place, each
    part as soon as ``tap`` has hashed it (between reads, and the rest once hashing ends):
    the swap overlaps the hashing instead of following it."""
    words = out.reshape(-1).view(np.uint32)
    swapped = 0  # words swapped so far

    def swap(stop: int) -> None:
        # a byte-order cast of the words onto themselves (NumPy's cast loop runs without
        # the GIL, ndarray.byteswap holds it and would stall the hashing thread)
        part = words[swapped:stop]
        np.copyto(part, part.view(part.dtype.newbyteorder()), casting="equiv")

    def swap_hashed() -> None:
        nonlocal swapped
        stop = tap.hashed() // 4
        if stop > swapped:
            swap(stop)
            swapped = stop

    _readinto(fh, out, start=start, path=path, tap=tap, on_chunk=swap_hashed)
    tap.wait_data()
    swap(words.size)


def _read_int(fh: BinaryIO, layout: DataLayout, *, start: int, path: Path,
              tap=None) -> np.ndarray:
    n, p = layout.n_events, layout.n_params
    widths = set(layout.widths)
    if len(widths) == 1 and next(iter(widths)) in (1, 2, 4):
        width = next(iter(widths))
        buf = np.empty((n, p), dtype=np.dtype(f"u{width}"))  # native order
        _readinto(fh, buf, start=start, path=path, tap=tap)
        if tap is not None:
            tap.wait_data()
        if width > 1 and layout.big_endian != _NATIVE_BIG:
            buf.byteswap(inplace=True)
        if any(m is not None for m in layout.masks):
            full = (1 << (8 * width)) - 1
            row_mask = np.array([full if m is None else m for m in layout.masks], dtype=buf.dtype)
            np.bitwise_and(buf, row_mask, out=buf)
        return buf.astype(np.float32)
    # mixed widths and/or 24-bit words: decode column by column from the raw bytes
    raw = np.empty((n, layout.row_bytes), dtype=np.uint8)
    _readinto(fh, raw, start=start, path=path)
    out = np.empty((n, p), dtype=np.float32)
    offset = 0
    for j, width in enumerate(layout.widths):
        cols = raw[:, offset : offset + width]
        offset += width
        if width == 3:
            order = (0, 1, 2) if layout.big_endian else (2, 1, 0)
            values = (
                (cols[:, order[0]].astype(np.uint32) << 16)
                | (cols[:, order[1]].astype(np.uint32) << 8)
                | cols[:, order[2]].astype(np.uint32)
            )
        else:
            values = np.ascontiguousarray(cols).view(_uint_dtype(width, layout.big_endian))[:, 0]
            values = values.astype(np.uint32)
        mask = layout.masks[j]
        if mask is not None:
            values &= np.uint32(mask)
        out[:, j] = values
    return out


def linearize_log(events: np.ndarray, column: int, *, decades: float, offset: float,
                  value_range: float) -> None:
    """In place: ``x -> 10**(decades * x / range) * offset`` (offset 0 read as 1)."""
    f2 = offset if offset > 0 else 1.0
    col = events[:, column].astype(np.float64)
    events[:, column] = np.power(10.0, decades * col / value_range) * f2
