"""Synthetic cytometer data with per-event truth (SIMULATED DATA, never patient data).

Populations are defined in compensated, logicle-transformed space, inverse-transformed,
spilled through the instrument's spillover matrix and acquired with photon and electronic
noise, scatter pulse shapes, doublets, debris, margin events and flow disturbances.

Public API
----------
:func:`simulate_case`, :class:`SimulatedCase`, :func:`write_case`, :func:`simulate_to_file`,
:data:`CASE_KINDS`, :data:`VARIANTS`, :data:`PANELS`, :func:`write_demo_batch`.
"""

from __future__ import annotations

from cytomics.simulate.api import SimulatedCase, simulate_case, simulate_to_file, write_case
from cytomics.simulate.cases import CASE_KINDS
from cytomics.simulate.instruments import TUBES, VARIANTS

#: panels the simulator can produce.
PANELS: tuple[str, ...] = tuple(TUBES)

__all__ = [
    "CASE_KINDS",
    "PANELS",
    "VARIANTS",
    "SimulatedCase",
    "simulate_case",
    "simulate_to_file",
    "write_case",
    "write_demo_batch",
]


def __getattr__(name: str):
    if name == "write_demo_batch":
        from cytomics.simulate.demo import write_demo_batch

        return write_demo_batch
    raise AttributeError(name)
