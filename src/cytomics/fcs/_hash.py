"""Private: SHA-256 of an FCS file, with the DATA bytes hashed from memory as they are read.

The whole-file checksum (provenance) of a large file used to be computed by a thread
reading the file a second time. Here the bytes before DATA and after it are read from
the file by the hashing thread, and the DATA bytes are taken from the event buffer
chunk by chunk, right after the reader has filled each chunk: no second copy of the DATA
segment, and hashing runs alongside the read. The digest is that of the file bytes in
order, so it equals ``hashlib.sha256(path.read_bytes())``.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path

_BLOCK = 1 << 20
_END = None  # queue sentinel: no more DATA chunks


class StreamingSha256:
    """SHA-256 of ``path`` whose bytes ``[start, start + nbytes)`` are fed by :meth:`feed`.

    Parameters
    ----------
    path
        The file.
    size
        Its size in bytes.
    start, nbytes
        The span the caller reads into memory and passes to :meth:`feed`, in order and
        without gaps, before calling :meth:`end_data`.
    """

    def __init__(self, path: Path, size: int, *, start: int, nbytes: int) -> None:
        self._path = path
        self._size = size
        self._start = start
        self._stop = start + nbytes
        self._fed = 0
        self._hashed = 0  # DATA bytes hashed so far (the worker's progress)
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._data_hashed = threading.Event()
        self._digest = ""
        self._error: BaseException | None = None
        self._complete = True  # whether the fed chunks covered the whole span
        self._thread = threading.Thread(target=self._work, name="cytomics-sha256", daemon=True)
        self._thread.start()

    def _file_range(self, h, fh, a: int, b: int) -> None:
        fh.seek(a)
        while a < b:
            block = fh.read(min(_BLOCK, b - a))
            if not block:
                raise OSError(f"{self._path}: file shorter than expected while hashing")
            h.update(block)
            a += len(block)

    def _work(self) -> None:
        try:
            h = hashlib.sha256()
            with open(self._path, "rb") as fh:
                self._file_range(h, fh, 0, self._start)
                while True:
                    chunk = self._chunks.get()
                    if chunk is _END:
                        break
                    h.update(chunk)
                    self._hashed += len(chunk)
                self._data_hashed.set()
                if self._complete:
                    self._file_range(h, fh, self._stop, self._size)
            self._digest = h.hexdigest()
        except BaseException as exc:  # re-raised by result()
            self._error = exc
        finally:
            self._data_hashed.set()

    def feed(self, chunk: memoryview) -> None:
        """Hash the next ``len(chunk)`` DATA bytes (must not be modified until
        :meth:`wait_data` returns)."""
        self._fed += len(chunk)
        self._chunks.put(chunk)

    def end_data(self) -> None:
        """No more DATA chunks (call also on failure, so the thread ends)."""
        self._complete = self._fed == self._stop - self._start
        self._chunks.put(_END)

    def hashed(self) -> int:
        """DATA bytes hashed so far: the first ``hashed()`` fed bytes may be modified."""
        return self._hashed

    def wait_data(self) -> None:
        """Block until every fed chunk is hashed (the buffer may then be modified)."""
        self._data_hashed.wait()

    def result(self) -> str:
        """The hex digest (waits for the thread)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if not self._complete:
            raise RuntimeError("DATA span not fully fed to the hash")
        return self._digest
