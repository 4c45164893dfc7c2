"""Process settings applied by the entry points (cytomics._runtime)."""

from __future__ import annotations

import os

from cytomics._runtime import configure_numpy_allocation


def test_openmp_workers_sleep_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    configure_numpy_allocation()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    configure_numpy_allocation()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
