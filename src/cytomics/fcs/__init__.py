"""FCS reading (and writing, for the simulator).

Public API: :func:`read_fcs`, :func:`write_fcs`, :class:`Acquisition`, :class:`Channel`,
:class:`Spillover`.
"""

from __future__ import annotations

from cytomics.fcs.model import Acquisition, Channel, Spillover

__all__ = ["Acquisition", "Channel", "Spillover", "read_fcs", "write_fcs"]


def __getattr__(name: str):  # lazy: keep `import cytomics.fcs` cheap
    if name == "read_fcs":
        from cytomics.fcs.reader import read_fcs

        return read_fcs
    if name == "write_fcs":
        from cytomics.fcs.writer import write_fcs

        return write_fcs
    raise AttributeError(name)
