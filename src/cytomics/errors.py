"""Typed exceptions.

Every error raised for *bad input* derives from :class:`CytomicsInputError`, carries the
offending file (when there is one) and a stable machine-readable ``code`` that flows into
``result.json`` (``errors[].code``) and the batch summary. Bugs are not wrapped: they
propagate as ordinary exceptions and fail loudly.
"""

from __future__ import annotations

from pathlib import Path


class CytomicsError(Exception):
    """Base class of every exception cytomics raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.detail = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class CytomicsInputError(CytomicsError):
    """Input that cannot be processed: the sample is *rejected*, the batch goes on."""

    code = "bad_input"


# --- FCS files -------------------------------------------------------------------------
class FCSError(CytomicsInputError):
    """The file is not a readable FCS data set."""

    code = "fcs_invalid"


class FCSHeaderError(FCSError):
    """HEADER segment missing or malformed (not an FCS file)."""

    code = "fcs_header"


class FCSTextError(FCSError):
    """TEXT segment unparsable or a required keyword missing/invalid."""

    code = "fcs_text"


class FCSTruncatedError(FCSError):
    """A segment declared in HEADER/TEXT extends beyond the end of the file."""

    code = "fcs_truncated"


class FCSDataError(FCSError):
    """DATA segment inconsistent with the keywords (size, type, layout)."""

    code = "fcs_data"


class FCSUnsupportedError(FCSError):
    """A valid FCS feature this reader does not support (e.g. $MODE other than L)."""

    code = "fcs_unsupported"


# --- panels and channels ---------------------------------------------------------------
class PanelError(CytomicsInputError):
    """A panel definition (YAML) is missing or invalid."""

    code = "panel_invalid"


class PanelMismatchError(CytomicsInputError):
    """The file does not carry the markers/channels its panel requires."""

    code = "panel_mismatch"


# --- compensation / transforms -----------------------------------------------------------
class CompensationError(CytomicsInputError):
    """Spillover matrix missing, malformed, singular or not matching the file's channels."""

    code = "compensation"


# --- sample sheet / config -------------------------------------------------------------
class SampleSheetError(CytomicsInputError):
    """The sample sheet is invalid (schema, duplicates, unknown panel, missing file)."""

    code = "sample_sheet"


class ConfigError(CytomicsInputError):
    """The configuration is invalid."""

    code = "config"


# --- analysis outcomes that reject a sample ---------------------------------------------
class InsufficientEventsError(CytomicsInputError):
    """Too few events (acquired or after QC) for a valid analysis."""

    code = "insufficient_events"


class GatingMLError(CytomicsInputError):
    """A Gating-ML document cannot be parsed or applied."""

    code = "gatingml_invalid"
