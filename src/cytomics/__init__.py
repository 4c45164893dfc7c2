"""cytomics: flow-cytometry pipeline for pediatric acute leukemia.

The public API is small and explicit; heavy modules are imported lazily so that
``import cytomics`` stays cheap (the CLI and Snakemake jobs pay start-up per process).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
