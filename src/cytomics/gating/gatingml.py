"""Gating-ML 2.0 import (document -> :class:`GatingStrategy`) and export (cytomics gates -> XML).

Import uses FlowKit's parser (``flowkit.parse_gating_xml``, imported lazily) and translates
its gates, transformations and spectrum matrices into the cytomics gate dataclasses of
:mod:`cytomics.gating.gates` plus plain tables; evaluation is done by
:mod:`cytomics.gating.apply` with the numba kernels. Quadrant gates become one
:class:`~cytomics.gating.gates.RectangleGate` per quadrant (id = quadrant id). A ratio
dimension is a :class:`~cytomics.gating.gates.Dimension` whose ``channel`` is the id of an
``fratio`` transformation (listed in :attr:`GatingStrategy.ratios`).

Export writes the namespaces FlowKit and FlowJo read: ``transforms:transformation``
(``logicle``/``fasinh``/``flin``) for each transform referenced by a dimension,
``transforms:spectrumMatrix`` for the spillover of compensated dimensions (or
``compensation-ref="FCS"`` on request) and one gate element per gate with
``gating:parent_id`` for non-root gates.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cytomics.errors import GatingMLError
from cytomics.fcs.model import Spillover
from cytomics.gating.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    Gate,
    PolygonGate,
    RectangleGate,
)
from cytomics.preprocess.model import ChannelTransform, Events

__all__ = [
    "NS_DATATYPE",
    "NS_GATING",
    "NS_TRANSFORMS",
    "UNCOMPENSATED",
    "CompensationMatrix",
    "GatingStrategy",
    "RatioSpec",
    "TransformSpec",
    "export_gatingml",
    "gatingml_string",
    "read_gatingml",
    "sanitize_id",
    "transform_table",
    "write_gatingml",
]

NS_GATING = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
NS_DATATYPE = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"
NS_TRANSFORMS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
UNCOMPENSATED = "uncompensated"


# --------------------------------------------------------------------------------------
# strategy model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TransformSpec:
    """A Gating-ML 2.0 scale transformation.

    Attributes
    ----------
    kind
        ``"linear"`` (flin), ``"log"`` (flog), ``"asinh"`` (fasinh), ``"hyperlog"`` or
        ``"logicle"``.
    T, W, M, A
        Parameters (unused ones are 0).
    """

    kind: str
    T: float
    W: float = 0.0
    M: float = 0.0
    A: float = 0.0


@dataclass(frozen=True, slots=True)
class RatioSpec:
    """``fratio``: ``A * (x - B) / (y - C)`` on the raw (uncompensated) channels x, y."""

    numerator: str
    denominator: str
    A: float
    B: float
    C: float


@dataclass(frozen=True, slots=True)
class CompensationMatrix:
    """A ``spectrumMatrix``: spillover rows per fluorochrome, columns per detector."""

    id: str
    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    matrix: np.ndarray


@dataclass(slots=True)
class GatingStrategy:
    """An imported Gating-ML document, ready for :func:`cytomics.gating.apply.evaluate`.

    Attributes
    ----------
    gates
        Gates in evaluation order (every parent and Boolean operand before its user).
    compensation
        Gate id -> compensation reference per dimension (``"uncompensated"``, ``"FCS"`` or a
        key of :attr:`matrices`).
    transforms
        Transformation id -> :class:`TransformSpec`.
    ratios
        ``fratio`` transformation id -> :class:`RatioSpec`.
    matrices
        ``spectrumMatrix`` id -> :class:`CompensationMatrix`.
    source
        The document read, if any.
    """

    gates: tuple[Gate, ...]
    compensation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    transforms: dict[str, TransformSpec] = field(default_factory=dict)
    ratios: dict[str, RatioSpec] = field(default_factory=dict)
    matrices: dict[str, CompensationMatrix] = field(default_factory=dict)
    source: Path | None = None

    @property
    def gate_ids(self) -> tuple[str, ...]:
        """Gate ids in evaluation order."""
        return tuple(g.id for g in self.gates)

    def gate(self, gate_id: str) -> Gate:
        """Return the gate with id ``gate_id`` (``KeyError`` if absent)."""
        for g in self.gates:
            if g.id == gate_id:
                return g
        raise KeyError(gate_id)


# --------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------
def _translate_transform(xform_id: str, xform, path: Path) -> TransformSpec | RatioSpec:
    from flowkit import transforms as fkt

    if isinstance(xform, fkt.RatioTransform):
        num, den = xform.dimensions
        return RatioSpec(num, den, float(xform.param_a), float(xform.param_b), float(xform.param_c))
    if isinstance(xform, fkt.LinearTransform):
        return TransformSpec("linear", float(xform.param_t), A=float(xform.param_a))
    if isinstance(xform, fkt.LogTransform):
        return TransformSpec("log", float(xform.param_t), M=float(xform.param_m))
    if isinstance(xform, fkt.AsinhTransform):
        return TransformSpec(
            "asinh", float(xform.param_t), M=float(xform.param_m), A=float(xform.param_a)
        )
    if isinstance(xform, fkt.HyperlogTransform | fkt.LogicleTransform):
        kind = "hyperlog" if isinstance(xform, fkt.HyperlogTransform) else "logicle"
        return TransformSpec(
            kind,
            float(xform.param_t),
            W=float(xform.param_w),
            M=float(xform.param_m),
            A=float(xform.param_a),
        )
    raise GatingMLError(
        f"transformation {xform_id!r} of type {type(xform).__name__} is not supported", path=path
    )


def _dimension(dim, path: Path, gate_id: str) -> tuple[Dimension, str]:
    from flowkit._models.dimension import RatioDimension

    comp = dim.compensation_ref or UNCOMPENSATED
    channel = dim.ratio_ref if isinstance(dim, RatioDimension) else dim.id
    if not channel:
        raise GatingMLError(f"gate {gate_id!r} has a dimension without a name", path=path)
    return (
        Dimension(
            channel=channel, compensated=comp != UNCOMPENSATED, transform=dim.transformation_ref
        ),
        comp,
    )


def _bound(value) -> float | None:
    return None if value is None else float(value)


def _translate_gate(
    gate, parent: str | None, path: Path
) -> tuple[list[Gate], dict[str, tuple[str, ...]]]:
    from flowkit import gates as fkg

    gid = gate.gate_name
    comp: dict[str, tuple[str, ...]] = {}
    if isinstance(gate, fkg.BooleanGate):
        ops = tuple((ref["ref"], bool(ref["complement"])) for ref in gate.gate_refs)
        if gate.type == "not" and len(ops) != 1:
            raise GatingMLError(f"Boolean 'not' gate {gid!r} needs exactly one operand", path=path)
        return [BooleanGate(id=gid, parent=parent, op=gate.type, operands=ops)], comp
    if isinstance(gate, fkg.QuadrantGate):
        out: list[Gate] = []
        dividers = {d.id: d for d in gate.dimensions}
        for q_id, quad in gate.quadrants.items():
            dims, refs, mins, maxs = [], [], [], []
            for div_ref in quad.divider_refs:
                div = dividers[div_ref]
                c = div.compensation_ref or UNCOMPENSATED
                dims.append(
                    Dimension(
                        div.dimension_ref,
                        compensated=c != UNCOMPENSATED,
                        transform=div.transformation_ref,
                    )
                )
                refs.append(c)
                lo, hi = quad.get_divider_range(div_ref)
                mins.append(_bound(lo))
                maxs.append(_bound(hi))
            out.append(
                RectangleGate(
                    id=q_id,
                    parent=parent,
                    dimensions=tuple(dims),
                    mins=tuple(mins),
                    maxs=tuple(maxs),
                )
            )
            comp[q_id] = tuple(refs)
        return out, comp
    dims_refs = [_dimension(d, path, gid) for d in gate.dimensions]
    dims = tuple(d for d, _ in dims_refs)
    comp[gid] = tuple(c for _, c in dims_refs)
    if isinstance(gate, fkg.RectangleGate):
        g: Gate = RectangleGate(
            id=gid,
            parent=parent,
            dimensions=dims,
            mins=tuple(_bound(getattr(d, "min", None)) for d in gate.dimensions),
            maxs=tuple(_bound(getattr(d, "max", None)) for d in gate.dimensions),
        )
        if any(lo is None and hi is None for lo, hi in zip(g.mins, g.maxs, strict=True)):
            raise GatingMLError(
                f"rectangle gate {gid!r} has a dimension without min or max", path=path
            )
    elif isinstance(gate, fkg.PolygonGate):
        verts = np.asarray(gate.vertices, dtype=np.float64)
        if len(dims) != 2 or verts.ndim != 2 or verts.shape[1] != 2 or verts.shape[0] < 3:
            raise GatingMLError(
                f"polygon gate {gid!r} needs 2 dimensions and >= 3 vertices", path=path
            )
        g = PolygonGate(id=gid, parent=parent, dimensions=(dims[0], dims[1]), vertices=verts)
    elif isinstance(gate, fkg.EllipsoidGate):
        mean = np.asarray(gate.coordinates, dtype=np.float64)
        cov = np.asarray(gate.covariance_matrix, dtype=np.float64)
        if cov.shape != (len(dims), len(dims)) or mean.shape != (len(dims),):
            raise GatingMLError(
                f"ellipsoid gate {gid!r}: mean/covariance do not match its dimensions", path=path
            )
        if not np.all(np.isfinite(cov)) or abs(np.linalg.det(cov)) == 0.0:
            raise GatingMLError(f"ellipsoid gate {gid!r}: covariance matrix is singular", path=path)
        g = EllipsoidGate(
            id=gid,
            parent=parent,
            dimensions=dims,
            mean=mean,
            covariance=cov,
            distance_square=float(gate.distance_square),
        )
    else:
        raise GatingMLError(
            f"gate {gid!r} of type {type(gate).__name__} is not supported", path=path
        )
    return [g], comp


def read_gatingml(path: str | Path) -> GatingStrategy:
    """Parse a Gating-ML 2.0 document.

    Parameters
    ----------
    path
        The XML file.

    Returns
    -------
    GatingStrategy
        Gates (quadrants expanded), compensation refs, transforms, ratios, matrices.

    Raises
    ------
    GatingMLError
        The file is missing, not Gating-ML 2.0, or references undefined gates,
        transformations or matrices (the message names the file and the defect).
    """
    p = Path(path)
    if not p.is_file():
        raise GatingMLError("Gating-ML file not found", path=p)
    try:
        import flowkit
        from flowkit.exceptions import QuadrantReferenceError

        fk_gs = flowkit.parse_gating_xml(str(p))
    except GatingMLError:
        raise
    except Exception as exc:  # flowkit raises ValueError/KeyError/lxml errors for bad documents
        raise GatingMLError(f"not a valid Gating-ML 2.0 document: {exc}", path=p) from exc

    transforms: dict[str, TransformSpec] = {}
    ratios: dict[str, RatioSpec] = {}
    for xid, xform in fk_gs.transformations.items():
        spec = _translate_transform(xid, xform, p)
        if isinstance(spec, RatioSpec):
            ratios[xid] = spec
        else:
            transforms[xid] = spec
    matrices = {
        mid: CompensationMatrix(
            id=mid,
            fluorochromes=tuple(m.fluorochromes),
            detectors=tuple(m.detectors),
            matrix=np.asarray(m.matrix, dtype=np.float64),
        )
        for mid, m in fk_gs.comp_matrices.items()
    }
    for m in matrices.values():
        k = len(m.detectors)
        if m.matrix.shape != (k, k) or len(m.fluorochromes) != k:
            raise GatingMLError(
                f"spectrumMatrix {m.id!r} is not square with one row per fluorochrome and "
                f"one column per detector (shape {m.matrix.shape}, {k} detectors)",
                path=p,
            )

    gates: list[Gate] = []
    comp: dict[str, tuple[str, ...]] = {}
    try:
        gate_ids = fk_gs.get_gate_ids()
    except Exception as exc:
        raise GatingMLError(f"gate hierarchy unusable: {exc}", path=p) from exc
    for gid, gpath in gate_ids:
        try:
            fk_gate = fk_gs.get_gate(gid, gpath)
        except QuadrantReferenceError:
            continue  # emitted with its quadrant gate
        parent = None if gpath[-1] == "root" else gpath[-1]
        new, new_comp = _translate_gate(fk_gate, parent, p)
        gates.extend(new)
        comp.update(new_comp)

    strategy = GatingStrategy(
        gates=_evaluation_order(gates, p),
        compensation=comp,
        transforms=transforms,
        ratios=ratios,
        matrices=matrices,
        source=p,
    )
    _check_references(strategy, p)
    return strategy


def _evaluation_order(gates: list[Gate], path: Path) -> tuple[Gate, ...]:
    by_id = {g.id: g for g in gates}
    done: dict[str, Gate] = {}
    visiting: set[str] = set()

    def visit(g: Gate) -> None:
        if g.id in done:
            return
        if g.id in visiting:
            raise GatingMLError(f"cyclic gate dependency through {g.id!r}", path=path)
        visiting.add(g.id)
        deps = [g.parent] if g.parent is not None else []
        if isinstance(g, BooleanGate):
            deps += [ref for ref, _ in g.operands]
        for d in deps:
            if d not in by_id:
                raise GatingMLError(f"gate {g.id!r} references undefined gate {d!r}", path=path)
            visit(by_id[d])
        visiting.discard(g.id)
        done[g.id] = g

    for g in gates:
        visit(g)
    return tuple(done.values())


def _check_references(strategy: GatingStrategy, path: Path) -> None:
    for g in strategy.gates:
        if isinstance(g, BooleanGate):
            continue
        refs = strategy.compensation.get(g.id, ())
        for dim, ref in zip(g.dimensions, refs, strict=False):
            if ref not in (UNCOMPENSATED, "FCS") and ref not in strategy.matrices:
                raise GatingMLError(
                    f"gate {g.id!r} references undefined compensation {ref!r}", path=path
                )
            if dim.transform is not None and dim.transform not in strategy.transforms:
                raise GatingMLError(
                    f"gate {g.id!r} references undefined transformation {dim.transform!r}",
                    path=path,
                )
        for ref, spec in strategy.ratios.items():
            if not spec.numerator or not spec.denominator:
                raise GatingMLError(f"ratio {ref!r} needs two fcs-dimensions", path=path)


# --------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------
def sanitize_id(name: str) -> str:
    """Turn ``name`` into a valid XML id (NCName): invalid characters become ``_``."""
    s = re.sub(r"[^A-Za-z0-9_.\-]", "_", name.strip())
    if not s or not re.match(r"[A-Za-z_]", s[0]):
        s = "_" + s
    return s


def transform_table(
    channels: Sequence[str], transforms: Sequence[ChannelTransform]
) -> dict[str, ChannelTransform]:
    """Transforms table keyed ``"<kind>_<channel>"`` for every non-``none`` column.

    This is the naming convention of :attr:`cytomics.gating.gates.Dimension.transform`
    for gates drawn on :class:`~cytomics.preprocess.model.Events` columns (e.g.
    ``"logicle_FITC-A"``).
    """
    return {
        f"{t.kind}_{ch}": t for ch, t in zip(channels, transforms, strict=True) if t.kind != "none"
    }


def _num(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"non-finite gate coordinate {value!r}")
    return repr(v)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _add_transform(root: ET.Element, xid: str, t: ChannelTransform) -> None:
    el = ET.SubElement(root, _q(NS_TRANSFORMS, "transformation"), {_q(NS_TRANSFORMS, "id"): xid})
    if t.kind == "logicle":
        attrs = {"T": t.T, "W": t.W, "M": t.M, "A": t.A}
        tag = "logicle"
    elif t.kind == "arcsinh":
        attrs = {"T": t.T, "M": t.M, "A": t.A}
        tag = "fasinh"
    elif t.kind == "linear":
        attrs = {"T": t.T, "A": t.A}
        tag = "flin"
    else:
        raise ValueError(f"transform {xid!r} of kind {t.kind!r} has no Gating-ML element")
    ET.SubElement(
        el, _q(NS_TRANSFORMS, tag), {_q(NS_TRANSFORMS, k): _num(v) for k, v in attrs.items()}
    )


def _add_matrix(root: ET.Element, mid: str, spill: Spillover, fluorochromes: Sequence[str]) -> None:
    el = ET.SubElement(root, _q(NS_TRANSFORMS, "spectrumMatrix"), {_q(NS_TRANSFORMS, "id"): mid})
    fl = ET.SubElement(el, _q(NS_TRANSFORMS, "fluorochromes"))
    for name in fluorochromes:
        ET.SubElement(fl, _q(NS_DATATYPE, "fcs-dimension"), {_q(NS_DATATYPE, "name"): name})
    de = ET.SubElement(el, _q(NS_TRANSFORMS, "detectors"))
    for name in spill.detectors:
        ET.SubElement(de, _q(NS_DATATYPE, "fcs-dimension"), {_q(NS_DATATYPE, "name"): name})
    for row in np.asarray(spill.matrix, dtype=np.float64):
        sp = ET.SubElement(el, _q(NS_TRANSFORMS, "spectrum"))
        for v in row:
            ET.SubElement(
                sp, _q(NS_TRANSFORMS, "coefficient"), {_q(NS_TRANSFORMS, "value"): _num(v)}
            )


def _add_dimensions(
    gate_el: ET.Element,
    dims: Sequence[Dimension],
    comp_ref: str,
    xform_ids: Mapping[str, str],
    bounds: Sequence[tuple[float | None, float | None]] | None = None,
) -> None:
    for i, dim in enumerate(dims):
        attrs = {_q(NS_GATING, "compensation-ref"): comp_ref if dim.compensated else UNCOMPENSATED}
        if dim.transform is not None and dim.transform in xform_ids:
            attrs[_q(NS_GATING, "transformation-ref")] = xform_ids[dim.transform]
        if bounds is not None:
            lo, hi = bounds[i]
            if lo is not None:
                attrs[_q(NS_GATING, "min")] = _num(lo)
            if hi is not None:
                attrs[_q(NS_GATING, "max")] = _num(hi)
        d_el = ET.SubElement(gate_el, _q(NS_GATING, "dimension"), attrs)
        ET.SubElement(
            d_el, _q(NS_DATATYPE, "fcs-dimension"), {_q(NS_DATATYPE, "name"): dim.channel}
        )


def _gate_element(
    root: ET.Element,
    gate: Gate,
    gid: str,
    parent: str | None,
    comp_ref: str,
    xform_ids: Mapping[str, str],
    ids: Mapping[str, str],
) -> None:
    attrs = {_q(NS_GATING, "id"): gid}
    if parent is not None:
        attrs[_q(NS_GATING, "parent_id")] = parent
    if isinstance(gate, RectangleGate):
        if not (len(gate.dimensions) == len(gate.mins) == len(gate.maxs)) or not gate.dimensions:
            raise ValueError(f"rectangle gate {gate.id!r}: dimensions/mins/maxs differ in length")
        el = ET.SubElement(root, _q(NS_GATING, "RectangleGate"), attrs)
        bounds = list(zip(gate.mins, gate.maxs, strict=True))
        if any(lo is None and hi is None for lo, hi in bounds):
            raise ValueError(f"rectangle gate {gate.id!r} has a dimension open on both sides")
        _add_dimensions(el, gate.dimensions, comp_ref, xform_ids, bounds)
    elif isinstance(gate, PolygonGate):
        el = ET.SubElement(root, _q(NS_GATING, "PolygonGate"), attrs)
        _add_dimensions(el, gate.dimensions, comp_ref, xform_ids)
        verts = np.asarray(gate.vertices, dtype=np.float64)
        if verts.ndim != 2 or verts.shape[1] != 2 or verts.shape[0] < 3:
            raise ValueError(f"polygon gate {gate.id!r} needs >= 3 vertices")
        for x, y in verts:
            v = ET.SubElement(el, _q(NS_GATING, "vertex"))
            ET.SubElement(v, _q(NS_GATING, "coordinate"), {_q(NS_DATATYPE, "value"): _num(x)})
            ET.SubElement(v, _q(NS_GATING, "coordinate"), {_q(NS_DATATYPE, "value"): _num(y)})
    elif isinstance(gate, EllipsoidGate):
        el = ET.SubElement(root, _q(NS_GATING, "EllipsoidGate"), attrs)
        _add_dimensions(el, gate.dimensions, comp_ref, xform_ids)
        mean_el = ET.SubElement(el, _q(NS_GATING, "mean"))
        for c in np.asarray(gate.mean, dtype=np.float64).reshape(-1):
            ET.SubElement(mean_el, _q(NS_GATING, "coordinate"), {_q(NS_DATATYPE, "value"): _num(c)})
        cov_el = ET.SubElement(el, _q(NS_GATING, "covarianceMatrix"))
        for row in np.asarray(gate.covariance, dtype=np.float64):
            r_el = ET.SubElement(cov_el, _q(NS_GATING, "row"))
            for v in row:
                ET.SubElement(r_el, _q(NS_GATING, "entry"), {_q(NS_DATATYPE, "value"): _num(v)})
        ET.SubElement(
            el,
            _q(NS_GATING, "distanceSquare"),
            {_q(NS_DATATYPE, "value"): _num(gate.distance_square)},
        )
    elif isinstance(gate, BooleanGate):
        op = gate.op.lower()
        if (
            op not in ("and", "or", "not")
            or not gate.operands
            or (op == "not" and len(gate.operands) != 1)
        ):
            raise ValueError(f"boolean gate {gate.id!r}: invalid op {gate.op!r} / operands")
        el = ET.SubElement(root, _q(NS_GATING, "BooleanGate"), attrs)
        op_el = ET.SubElement(el, _q(NS_GATING, op))
        for ref, complement in gate.operands:
            if ref not in ids:
                raise ValueError(f"boolean gate {gate.id!r} references unknown gate {ref!r}")
            r_attrs = {_q(NS_GATING, "ref"): ids[ref]}
            if complement:
                r_attrs[_q(NS_GATING, "use-as-complement")] = "true"
            ET.SubElement(op_el, _q(NS_GATING, "gateReference"), r_attrs)
    else:
        raise ValueError(f"gate {gate.id!r} of type {type(gate).__name__} cannot be exported")


def gatingml_string(
    gates: Sequence[Gate],
    *,
    transforms: Mapping[str, ChannelTransform] | None = None,
    spillover: Spillover | None = None,
    compensation: str = "matrix",
    matrix_id: str = "Spillover",
    fluorochromes: Sequence[str] | None = None,
) -> tuple[str, dict[str, str]]:
    """Serialise cytomics gates as a Gating-ML 2.0 document.

    Parameters
    ----------
    gates
        Gates; parents and Boolean operands must be in the list (any order).
    transforms
        Transforms table: ``Dimension.transform`` key -> :class:`ChannelTransform`
        (see :func:`transform_table`); ``kind="none"`` entries export as no transform.
    spillover
        The spillover matrix the compensated dimensions were computed with.
    compensation
        ``"matrix"``: embed ``spillover`` as a ``spectrumMatrix`` (id ``matrix_id``) and
        reference it; ``"FCS"``: reference the file's own matrix (``compensation-ref="FCS"``).
    matrix_id
        Id of the embedded matrix.
    fluorochromes
        Fluorochrome (marker) labels of the matrix rows; defaults to the detector names.

    Returns
    -------
    tuple
        ``(xml_text, id_map)``: the document and the map from cytomics gate id to the
        (sanitised, unique) XML id written.

    Raises
    ------
    ValueError
        Inconsistent gates (unknown parent/operand/transform, compensated dimension
        without a spillover): a programming error of the caller.
    """
    table = dict(transforms or {})
    ids: dict[str, str] = {}
    used: set[str] = set()
    for g in gates:
        base = sanitize_id(g.id)
        xid, k = base, 1
        while xid in used:
            k += 1
            xid = f"{base}_{k}"
        used.add(xid)
        ids[g.id] = xid

    needs_comp = any(
        d.compensated for g in gates if not isinstance(g, BooleanGate) for d in g.dimensions
    )
    if compensation not in ("matrix", "FCS"):
        raise ValueError(f"compensation must be 'matrix' or 'FCS', got {compensation!r}")
    if needs_comp and compensation == "matrix" and spillover is None:
        raise ValueError("compensated dimensions need the spillover matrix (or compensation='FCS')")
    comp_ref = sanitize_id(matrix_id) if compensation == "matrix" else "FCS"

    ET.register_namespace("gating", NS_GATING)
    ET.register_namespace("data-type", NS_DATATYPE)
    ET.register_namespace("transforms", NS_TRANSFORMS)
    root = ET.Element(_q(NS_GATING, "Gating-ML"))

    xform_ids: dict[str, str] = {}
    for g in gates:
        if isinstance(g, BooleanGate):
            continue
        for d in g.dimensions:
            if d.transform is None or d.transform in xform_ids:
                continue
            if d.transform not in table:
                raise ValueError(
                    f"gate {g.id!r}: transform {d.transform!r} not in the transforms table"
                )
            t = table[d.transform]
            if t.kind == "none":
                continue
            xid = sanitize_id(d.transform)
            while xid in used or xid in xform_ids.values():
                xid += "_"
            xform_ids[d.transform] = xid
            _add_transform(root, xid, t)
    if needs_comp and compensation == "matrix" and spillover is not None:
        fl = list(fluorochromes) if fluorochromes is not None else list(spillover.detectors)
        if len(fl) != len(spillover.detectors):
            raise ValueError("one fluorochrome label per detector is required")
        _add_matrix(root, comp_ref, spillover, fl)

    for g in gates:
        parent = None
        if g.parent is not None:
            if g.parent not in ids:
                raise ValueError(f"gate {g.id!r}: parent {g.parent!r} is not among the gates")
            parent = ids[g.parent]
        _gate_element(root, g, ids[g.id], parent, comp_ref, xform_ids, ids)

    ET.indent(root, space="  ")
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    return text, ids


def write_gatingml(
    gates: Sequence[Gate],
    path: str | Path,
    *,
    transforms: Mapping[str, ChannelTransform] | None = None,
    spillover: Spillover | None = None,
    compensation: str = "matrix",
    matrix_id: str = "Spillover",
    fluorochromes: Sequence[str] | None = None,
) -> dict[str, str]:
    """Write :func:`gatingml_string` to ``path`` (atomically) and return the id map."""
    text, ids = gatingml_string(
        gates,
        transforms=transforms,
        spillover=spillover,
        compensation=compensation,
        matrix_id=matrix_id,
        fluorochromes=fluorochromes,
    )
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return ids


def export_gatingml(gates: Sequence[Gate], events: Events, *, compensation: str = "matrix") -> str:
    """Gating-ML 2.0 text of gates drawn on ``events`` (DESIGN §8 ``gates.xml``).

    The transforms table comes from ``events.transforms`` (keys ``"<kind>_<$PnN>"``, see
    :func:`transform_table`) and the compensated dimensions reference ``events.spillover``
    (embedded as a ``spectrumMatrix``, or ``compensation="FCS"`` when it is the file's own
    matrix and the consumer should read it from the file).

    Parameters
    ----------
    gates
        Gates whose dimensions name ``$PnN`` channels of ``events``.
    events
        The pre-processed events the gates were drawn on.
    compensation
        ``"matrix"`` (default) or ``"FCS"``.

    Returns
    -------
    str
        The XML document.
    """
    channels = [ch.name for ch in events.acquisition.channels]
    text, _ = gatingml_string(
        gates,
        transforms=transform_table(channels, events.transforms),
        spillover=events.spillover,
        compensation=compensation,
    )
    return text
