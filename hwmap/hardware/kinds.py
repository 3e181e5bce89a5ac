"""The registry of template kinds: the one place that says which kinds exist and what each provides.

A kind is a schema class (a :class:`~hwmap.hardware.schema.TemplateSpec` subclass whose ``kind`` is a Literal of
its name), a cost module and YAML files. The cost module exposes the protocol of :mod:`hwmap.cost.kinds`
(``hardware_view``, ``spatial_space``, ``estimate``); everything that used to ask "which kind is this?" asks the
registry instead: :func:`kind_info` gives whether the mapper covers the kind (``mappable``), the 2-D array a design
space's ``square: true`` ties (``sweep_axes``), the estimate settings it takes (``settings``) and its cost module.

Both the schema and the cost module are named by their import path and imported on first use, so this base module
imports nothing of hwmap's cost layer, and registering a kind costs no import. Every registration is at the bottom
of this file; ``tests/hardware/test_kinds.py`` runs its contract tests over every registered kind and fails on kind
chains (``kind == "systolic"``, ``isinstance(spec, SystolicSpec)``) anywhere outside the registered modules.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hwmap.errors import HwmapError, TemplateError

__all__ = ["KindInfo", "is_registered", "is_timeline", "kind_info", "kinds_taking", "register_kind", "registered_kinds"]

# How `hwmap bounds` draws a kind's curves (KindInfo.bounds): None = it does not.
BOUNDS_ROUTES: tuple[str | None, ...] = (None, "candidates", "levels")
# The EstimateSettings fields a kind may take (hwmap.cost.settings.EstimateSettings.check_applies refuses the rest).
SETTING_FIELDS: tuple[str, ...] = ("fusion", "mode", "dtype", "calibration", "tf32", "dataflow", "mapping",
                                   "objective")


@dataclass(frozen=True)
class KindInfo:
    """What one registered kind provides.

    schema: a TemplateSpec subclass or ``"module:Class"``; cost: the cost module's import path (None for a kind
    registered with a schema only, through :func:`hwmap.hardware.schema.register_template_kind`: its templates
    load but cannot be costed). sweep_axes: (leader, follower) template fields that a design space's
    ``square: true`` ties, None when the kind has no such pair. sweepable: its templates may be a design space's
    base (hwmap.dse; default: whether it has sweep_axes).
    mappable: a mapper (loop orders and tiles per layer, ``hwmap map``) covers it. bounds: how ``hwmap bounds``'
    traffic-vs-capacity curves cover it: "candidates" (the single-level mapper's candidate tables,
    hwmap.cost.bounds), "levels" (every level of a hierarchy, hwmap.cost.hierarchy_bounds); None: not covered.
    label: how messages name its templates ("GPU templates"). settings: the estimate settings it takes; ignores:
    those it accepts but has no use for (a GPU has no mapper: a sweep or a path costing that sets the mapper's
    mapping or objective for every template still runs on a GPU); any other setting given is refused.
    timeline: its costs come from a timeline of kernel launches rather than a clocked array (GPU): latency is the
    sum of its layers' latencies and its utilisation a nominal-MAC rate that may exceed 1 (Winograd convs).
    """

    name: str
    schema: Any
    cost: str | None
    sweep_axes: tuple[str, str] | None = None
    sweepable: bool = False
    mappable: bool = True
    bounds: str | None = None
    description: str = ""
    label: str = ""
    settings: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()
    timeline: bool = False

    def schema_class(self) -> type:
        """The schema class (a lazy ``"module:Class"`` reference is imported here; hwmap.hardware.schema checks
        that it is a TemplateSpec subclass when it validates a template)."""
        schema = self.schema
        if isinstance(schema, str):
            module_name, _, attr = schema.partition(":")
            try:
                schema = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise TemplateError(
                    f"schema {self.schema!r} registered for kind {self.name!r} cannot be imported: {exc}") from exc
            if not isinstance(schema, type):
                raise TemplateError(f"{self.schema!r} registered for kind {self.name!r} is not a class")
            object.__setattr__(self, "schema", schema)  # resolved once
        return schema

    def cost_module(self) -> ModuleType:
        """The kind's cost module (hwmap.cost.kinds.KindCostModule), imported on first use."""
        if self.cost is None:
            raise HwmapError(f"no cost model for template kind {self.name!r} (registered with a schema only)")
        return importlib.import_module(self.cost)


_KINDS: dict[str, KindInfo] = {}


def register_kind(name: str, *, schema: Any, cost: str | None, sweep_axes: tuple[str, str] | None = None,
                  sweepable: bool | None = None, mappable: bool = True, bounds: str | None = None,
                  description: str = "", label: str | None = None,
                  settings: tuple[str, ...] = ("objective", "fusion"), ignores: tuple[str, ...] = (),
                  timeline: bool = False, replace: bool = False) -> KindInfo:
    """Register a template kind (see :class:`KindInfo` for the fields); a name already registered is refused
    unless ``replace=True`` (no silent overwrite, as the op registry)."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise TemplateError(f"template kind must be a lower_snake_case name, got {name!r}")
    if isinstance(schema, str):
        if ":" not in schema:
            raise TemplateError(f"lazy schema reference must read 'module:Class', got {schema!r}")
    elif not isinstance(schema, type):
        raise TemplateError(f"schema for kind {name!r} must be a TemplateSpec subclass, got {schema!r}")
    unknown = [s for s in (*settings, *ignores) if s not in SETTING_FIELDS]
    if unknown:
        raise TemplateError(f"kind {name!r}: unknown estimate settings {unknown}; expected some of {SETTING_FIELDS}")
    if sweep_axes is not None and (len(sweep_axes) != 2 or not all(isinstance(a, str) for a in sweep_axes)):
        raise TemplateError(f"kind {name!r}: sweep_axes must be two template field paths, got {sweep_axes!r}")
    if bounds not in BOUNDS_ROUTES:
        raise TemplateError(f"kind {name!r}: bounds {bounds!r}; expected one of {BOUNDS_ROUTES}")
    if name in _KINDS and not replace:
        raise TemplateError(f"template kind {name!r} is already registered ({_KINDS[name].schema!r})")
    if sweepable is None:
        sweepable = sweep_axes is not None
    if sweepable and cost is None:
        raise TemplateError(f"kind {name!r}: sweepable needs a cost module (a sweep costs every point)")
    info = KindInfo(name=name, schema=schema, cost=cost, sweep_axes=tuple(sweep_axes) if sweep_axes else None,
                    sweepable=bool(sweepable), mappable=mappable, bounds=bounds, description=description,
                    label=label or name, settings=tuple(settings), ignores=tuple(ignores), timeline=timeline)
    _KINDS[name] = info
    return info


def registered_kinds() -> tuple[str, ...]:
    """The registered kind names, sorted."""
    return tuple(sorted(_KINDS))


def is_registered(name: object) -> bool:
    return isinstance(name, str) and name in _KINDS


def kind_info(name: str) -> KindInfo:
    """The registration of a kind, or ONE TemplateError naming the registered kinds."""
    info = _KINDS.get(name) if isinstance(name, str) else None
    if info is None:
        raise TemplateError(f"unknown template kind {name!r}; registered: {', '.join(registered_kinds())}")
    return info


def is_timeline(kind: object) -> bool:
    """Whether results of this kind come from a launch timeline (GPU: latency the layers' sum, utilisation a
    nominal-MAC rate that may exceed 1); False for an unregistered name (a result file from elsewhere)."""
    return is_registered(kind) and _KINDS[kind].timeline


def kinds_taking(setting: str) -> tuple[str, ...]:
    """The kinds that take an estimate setting (for messages: 'dataflow applies to systolic templates')."""
    return tuple(k for k in registered_kinds() if setting in _KINDS[k].settings)


# ------------------------------------------------------------------------------------------------ the registrations

register_kind(
    "systolic", schema="hwmap.hardware.schema:SystolicSpec", cost="hwmap.cost.systolic_kind",
    sweep_axes=("array.rows", "array.cols"), bounds="candidates",
    settings=("dataflow", "mapping", "objective", "fusion"),
    description="a rows x cols systolic MAC array with ifmap/filter/ofmap SRAMs (SCALE-Sim's template, with energy)")
register_kind(
    "vector_pe", schema="hwmap.hardware.schema:VectorPESpec", cost="hwmap.cost.vector_pe_kind",
    sweep_axes=("pe_array.lanes", "pe_array.vector_width"), bounds="candidates", label="vector-PE",
    settings=("objective", "fusion"),
    description="PEs of vector MAC lanes with per-PE buffers and a global buffer (MAGNet/Simba-like)")
register_kind(
    "gpu", schema="hwmap.hardware.gpu_schema:GpuSpec", cost="hwmap.cost.gpu_kind", mappable=False, label="GPU",
    settings=("mode", "dtype", "calibration", "tf32"), ignores=("mapping", "objective"), timeline=True,
    description="a GPU: published peaks, a roofline timeline calibrated by measurements")
register_kind(
    "hierarchy", schema="hwmap.hardware.hierarchy_schema:HierarchySpec", cost="hwmap.cost.hierarchy_kind",
    bounds="levels", settings=("objective", "fusion"), sweepable=True,
    description="an N-level memory hierarchy and a PE array as data (Timeloop/ZigZag-like), mapped level by level")
