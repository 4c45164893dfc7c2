"""Marker-name normalisation for ``$PnS`` values and panel definitions.

Labs write the same marker many ways (``cyCD3``, ``CyCD3``, ``CD3 cy``, ``Cy 79a``, ``HLADR``,
``Syto 41``); one fluorochrome sometimes carries two antibodies (``CD66c+CD123``,
``CD123_CD66c``, ``CD73 CD304``). :func:`marker_key` maps such a text to a comparable key: a
frozenset of ``(compartment, name)`` pairs, where ``compartment`` is ``"i"`` (intracellular:
cy/c/nu prefixes or suffixes) or ``""`` (surface / unspecified), and ``name`` is the lower-case
marker without separators (``"cd79a"``, ``"hladr"``, ``"syto41"``).

Rules (in order):

1. Greek letters are spelled out (λ→l, κ→k, γδ→gd, αβ→ab); text is lower-cased.
2. Fluorochrome names written into ``$PnS`` (``"CD19 PE-Cy7"``, ``"FITC-A"``) are removed; a
   ``$PnS`` holding only a fluorochrome/detector name counts as blank (key ``None``).
3. ``+ / , ; &`` always separate antibodies. Spaces, ``_``, ``-``, ``.`` and parentheses are
   weak separators: pieces are re-joined when they belong to one name (``HLA-DR``,
   ``SYTO 41``, ``TCR gd``, ``Cy 79a``) and otherwise start a new antibody
   (``CD66c-CD123``, ``CD73 CD304``).
4. Compartment words (``cy``, ``cyto``, ``cytoplasmic``, ``nu``, ``nuclear``, ``ic``,
   ``intracellular`` → intracellular; ``sm``, ``surface``, ``membrane`` → surface) apply to the
   antibody they precede or, when trailing (``CD3 cy``), to the one before. Glued prefixes
   ``cy``/``c``/``nu``/``n``/``sm``/``s`` before ``CD``-numbers and known names are split off
   (``cyCD3``, ``cCD3``, ``smCD3``, ``sIgM``, ``nuTdT``, ``cyMPO``); ``Cy79a`` is ``cy`` + ``79a``.
5. A bare number (``79a``, ``3``) is a CD number (``cd79a``) unless it follows an incomplete
   name such as ``syto``/``ki``/``draq``.
6. Synonyms are unified (``IREM2`` → ``cd300e``, ``kappa`` → ``igk``, ``myeloperoxidase`` →
   ``mpo``). Markers that are intracellular by nature (MPO, CD79a, TdT, lysozyme, Ki67) default
   to the intracellular compartment, so ``MPO`` = ``cyMPO`` and ``CD79a`` = ``cyCD79a``, while
   a bare ``CD3`` stays *surface* CD3 and never matches ``cyCD3``.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: A comparable marker key: unordered set of (compartment, name) pairs.
MarkerKey = frozenset[tuple[str, str]]

INTRACELLULAR = "i"
SURFACE = ""

_GREEK = {
    "λ": "l",
    "κ": "k",
    "γ": "g",
    "δ": "d",
    "α": "a",
    "β": "b",
}

_COMPARTMENT_WORDS: dict[str, str] = {
    "cy": INTRACELLULAR,
    "cyt": INTRACELLULAR,
    "cyto": INTRACELLULAR,
    "cytoplasmic": INTRACELLULAR,
    "ic": INTRACELLULAR,
    "intracellular": INTRACELLULAR,
    "intra": INTRACELLULAR,
    "nu": INTRACELLULAR,
    "nuc": INTRACELLULAR,
    "nuclear": INTRACELLULAR,
    "sm": SURFACE,
    "surf": SURFACE,
    "surface": SURFACE,
    "mb": SURFACE,
    "membrane": SURFACE,
}

#: names that are intracellular unless stated otherwise.
_INTRACELLULAR_BY_DEFAULT = frozenset({"mpo", "cd79a", "tdt", "lysozyme", "ki67"})
#: names for which the compartment is meaningless (dyes): always surface/unspecified.
_NO_COMPARTMENT = frozenset(
    {
        "syto41",
        "syto16",
        "syto13",
        "dapi",
        "7aad",
        "draq5",
        "draq7",
        "hoechst",
        "dna",
        "livedead",
        "viability",
    }
)

_SYNONYMS = {
    "irem2": "cd300e",
    "myeloperoxidase": "mpo",
    "kappa": "igk",
    "igkappa": "igk",
    "lambda": "igl",
    "iglambda": "igl",
    "hladr": "hladr",
    "tcrgammadelta": "tcrgd",
    "tcralphabeta": "tcrab",
    "tcrbeta": "tcrb",
    "lysozym": "lysozyme",
    "ki67": "ki67",
    "viab": "viability",
    "live": "viability",
    "dead": "viability",
    "livedead": "viability",
}

#: alphabetic pieces that need the next piece to form a name (``HLA-DR``, ``SYTO 41``).
_INCOMPLETE = frozenset(
    {
        "cd",
        "il",
        "hla",
        "syto",
        "tcr",
        "ig",
        "sig",
        "ki",
        "draq",
        "ng",
        "fixable",
        "live",
        "cyig",
        "sytox",
    }
)

#: known names that may carry a glued compartment prefix (``cympo``, ``nutdt``, ``sigm``).
_PREFIXABLE = ("cd", "mpo", "tdt", "ig", "tcr", "lyso", "ki67")

# Fluorochrome / detector phrases to drop from $PnS (longest first where they overlap).
_FLUOR_PATTERNS = [
    r"percp[\s_.-]*cy[\s_.-]*5[\s_.-]*5",
    r"percp[\s_.-]*e?fluor[\s_.-]*710",
    r"pe[\s_.-]*cy[\s_.-]*[57]",
    r"pe[\s_.-]*dazzle[\s_.-]*594",
    r"pe[\s_.-]*texas[\s_.-]*red",
    r"pe[\s_.-]*cf594",
    r"apc[\s_.-]*(?:h7|cy[\s_.-]*7|fire[\s_.-]*750|r700|alexa[\s_.-]*fluor[\s_.-]*750)",
    r"alexa[\s_.-]*fluor[\s_.-]*\d{3}",
    r"\baf\d{3}\b",
    r"pacific[\s_.-]*(?:blue|orange)",
    r"\bpac[\s_.-]*[bo]\b",
    r"(?:bd[\s_.-]*)?horizon[\s_.-]*v\d{3}(?:[\s_.-]*c)?",
    r"\bh?v\d{3}(?:[\s_.-]*c)?\b",
    r"\bbv\d{3}\b",
    r"\bbuv\d{3}\b",
    r"\bbb\d{3}\b",
    r"\boc\d{3}\b",
    r"\bkrome[\s_.-]*orange\b",
    r"\bpac(?:ific)?[\s_.-]*(?:blue|orange)\b",
    r"\bvio[\s_.-]*(?:blue|green|bright[\s_.-]*\w+)\b",
    r"\bax[\s_.-]*\d{3}\b",
    r"\balexa[\s_.-]*\d{3}\b",
    r"\bq[\s_.-]*dot[\s_.-]*\d{3}\b",
    r"\bpe[\s_.-]*tr\b",
    r"\bpc[\s_.-]*(?:5[\s_.-]*5|5|7)\b",
    r"\brd1\b",
    r"\bfitc\b",
    r"\bpercp\b",
    r"\bapc\b",
    r"\bpe\b",
    r"\becd\b",
]
_FLUOR_RE = re.compile("|".join(f"(?:{p})" for p in _FLUOR_PATTERNS))
_FILTER_SPEC_RE = re.compile(r"\d{3}/\d{1,3}\s*@\s*\d{3}")
_DETECTOR_SUFFIX_RE = re.compile(r"[\s_-][ahw]$")
_STRONG_SEP_RE = re.compile(r"[+/,;&]")
_WEAK_SEP_RE = re.compile(r"[\s_.\-()\[\]:]+")
_CD_RE = re.compile(r"^cd\d+[a-z]?$")
_NUMBER_RE = re.compile(r"^\d+[a-z]?$")
_GLUED_RE = re.compile(r"^(cy|nu|sm|c|n|s)(?=(?:cd\d|mpo|tdt|ig|tcr|lyso|ki67))")
_GLUED_NUMBER_RE = re.compile(r"^(cy|nu|sm)(\d+[a-z]?)$")


def _split_glued(piece: str) -> tuple[str | None, str]:
    """Split a glued compartment prefix: ``cycd3`` -> (``i``, ``cd3``); ``cy79a`` -> (``i``, ``79a``)."""
    m = _GLUED_NUMBER_RE.match(piece)
    if m:
        return _COMPARTMENT_WORDS[m.group(1)], m.group(2)
    m = _GLUED_RE.match(piece)
    if m:
        prefix = m.group(1)
        comp = SURFACE if prefix in {"sm", "s"} else INTRACELLULAR
        rest = piece[len(prefix) :]
        if rest.startswith(_PREFIXABLE):
            return comp, rest
    return None, piece


def _finish(compartment: str | None, name: str) -> tuple[str, str]:
    name = _SYNONYMS.get(name, name)
    if name in _NO_COMPARTMENT:
        return SURFACE, name
    if compartment is None:
        compartment = INTRACELLULAR if name in _INTRACELLULAR_BY_DEFAULT else SURFACE
    return compartment, name


def _parse_group(text: str) -> list[tuple[str, str]]:
    """Parse one strong-separator group into (compartment, name) antibodies."""
    pieces = [p for p in _WEAK_SEP_RE.split(text) if p]
    # tokens: [compartment or None, name or ""]
    tokens: list[list] = []
    pending: str | None = None  # compartment waiting for the next name
    for piece in pieces:
        if piece in _COMPARTMENT_WORDS:
            comp = _COMPARTMENT_WORDS[piece]
            if (
                tokens
                and tokens[-1][0] is None
                and pending is None
                and _is_last_piece_of(piece, pieces)
            ):
                tokens[-1][0] = comp  # trailing: "CD3 cy"
            else:
                pending = comp
            continue
        comp, body = _split_glued(piece)
        if comp is not None:
            pending = comp
        prev = tokens[-1] if tokens else None
        if _NUMBER_RE.match(body):
            if prev is not None and pending is None and prev[1] in _INCOMPLETE:
                prev[1] += body  # "syto" + "41"
                continue
            body = "cd" + body  # "Cy 79a", "79a"
        elif (
            prev is not None
            and pending is None
            and prev[1] in _INCOMPLETE
            and not _CD_RE.match(body)
        ):
            prev[1] += body  # "hla" + "dr", "tcr" + "gd"
            continue
        elif (
            prev is not None and pending is None and body in {"ra", "ro"} and _CD_RE.match(prev[1])
        ):
            prev[1] += body  # "CD45 RA"
            continue
        tokens.append([pending, body])
        pending = None
    if pending is not None and tokens and tokens[-1][0] is None:
        tokens[-1][0] = pending
    return [_finish(comp, name) for comp, name in tokens if name]


def _is_last_piece_of(piece: str, pieces: list[str]) -> bool:
    """True when ``piece`` is followed only by other compartment words (trailing position)."""
    idx = len(pieces) - 1 - pieces[::-1].index(piece)
    return all(p in _COMPARTMENT_WORDS for p in pieces[idx + 1 :])


@lru_cache(maxsize=4096)
def marker_key(text: str | None) -> MarkerKey | None:
    """Normalise a marker text (``$PnS`` or a panel name/alias) to a comparable key.

    Parameters
    ----------
    text
        The marker text, e.g. ``"CyCD3"``, ``"CD66c/CD123"``, ``"HLADR"``.

    Returns
    -------
    frozenset of (compartment, name) or None
        ``None`` when the text is blank or names only a fluorochrome/detector.

    Examples
    --------
    >>> marker_key("Cy 79a") == marker_key("cyCD79a") == marker_key("CD79a")
    True
    >>> marker_key("CD3") == marker_key("smCD3") != marker_key("cyCD3")
    True
    >>> marker_key("CD123_CD66c") == marker_key("CD66c+CD123")
    True
    """
    if text is None:
        return None
    s = text.strip().replace("™", "").replace("®", "")
    for greek, latin in _GREEK.items():
        s = s.replace(greek, latin).replace(greek.upper(), latin)
    s = s.lower()
    if _FILTER_SPEC_RE.search(s):  # "CD19;APC-H7;780/60@640/A": marker;fluor;filter@laser
        s = s.split(";")[0]
    if s.replace("/", "").replace(" ", "") in {"livedead", "ld"}:  # one reagent
        s = "livedead"
    s = re.sub(r"7[\s_.-]*aad", "7aad", s)
    stripped = _FLUOR_RE.sub(" ", s).strip()
    if stripped != s.strip():  # a fluorochrome/detector was written into $PnS
        stripped = _DETECTOR_SUFFIX_RE.sub("", stripped).strip(" -_.")
    s = stripped
    if not s or s in {"-", "empty", "none", "na", "n/a", "blank", "unused"}:
        return None
    antibodies: list[tuple[str, str]] = []
    for group in _STRONG_SEP_RE.split(s):
        antibodies.extend(_parse_group(group))
    if not antibodies:
        return None
    return frozenset(antibodies)


def describe_key(key: MarkerKey | None) -> str:
    """Human-readable form of a key (``"cyCD3"``, ``"CD123+CD66c"``), for messages."""
    if not key:
        return "(blank)"
    parts = []
    for comp, name in sorted(key, key=lambda t: t[1]):
        shown = "CD" + name[2:] if _CD_RE.match(name) else name.upper()
        prefix = "cy" if comp == INTRACELLULAR else ""
        parts.append(prefix + shown)
    return "+".join(parts)


def channel_key(pnn: str) -> str:
    """Normalise a ``$PnN`` for alias comparison: lower case, no spaces/``-``/``_``/``.``."""
    return re.sub(r"[\s_.\-]+", "", pnn.strip().lower())
