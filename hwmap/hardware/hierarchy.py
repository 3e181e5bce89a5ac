"""An accelerator as data: an N-level memory hierarchy, a compute level and the spatial unrolling (issue 17).

One neutral description that the Timeloop and ZigZag readers (:mod:`hwmap.interop.timeloop`,
:mod:`hwmap.interop.zigzag_hardware`) produce and their writers consume, and that every template kind's cost
module builds as the kind's hardware view (``hardware_view``, :mod:`hwmap.cost.kinds`; in the cost layer: hardware
imports nothing above it): the one source of capacities, buffering and energies for every consumer.

Semantics (those of both Timeloop and ZigZag):

- ``levels`` run from DRAM inward. An operand travels down through the levels that keep it and passes by the
  levels that bypass it, so the hierarchy of one operand is the sub-chain of levels keeping it. A level that
  neither keeps nor bypasses an operand leaves the choice to the mapper (Timeloop's default without constraints).
- A level's ``mesh`` is its instance count along each axis of the PE array (``array_axes``; Timeloop's meshX,
  meshY; ZigZag's D1, D2, ...); its fanout to the next level holding the same operand (or to the MACs) is the
  ratio of the two meshes, axis by axis, and must be a whole number. The compute level's mesh is the whole array.
- Per-action energies are per access of ``access_width_bits`` (Timeloop: one access of ``width`` bits, priced by
  Accelergy's ERT; ZigZag: one access of the port's ``bandwidth_max`` bits); ``*_pj_per_byte`` convert.
- ``capacity_bytes`` is the level's size (all operands share it) or ``capacity_bytes_per_operand`` sizes one
  partition per operand; neither means unbounded (DRAM). ``multiple_buffering`` 2 = double-buffered: a tile may
  use ``capacity / multiple_buffering``.
- Loop dimensions use ZigZag's names: B (batch), G (groups), K (output channels), C (input channels), OY/OX
  (output rows/columns), FY/FX (filter rows/columns); Timeloop's N, M, C, P, Q, R, S map to B, K, C, OY, OX, FY, FX.

Every semantic problem ends in ONE :class:`~hwmap.errors.TemplateError` line naming the file, the component and the
field (:func:`check_hierarchy`).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwmap.errors import TemplateError

__all__ = [
    "LOOP_DIMS",
    "OPERANDS",
    "ActionEnergies",
    "ComputeLevel",
    "Hierarchy",
    "MemoryLevel",
    "SpatialUnrolling",
    "build_hierarchy",
    "check_hierarchy",
    "load_architecture_yaml",
]

OPERANDS: tuple[str, ...] = ("input", "weight", "output")
LOOP_DIMS: tuple[str, ...] = ("B", "G", "K", "C", "OY", "OX", "FY", "FX")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ActionEnergies(_Frozen):
    """Energy of one access of the level's ``access_width_bits`` per action, and leakage per cycle per instance."""

    read_pj: float
    write_pj: float
    update_pj: float
    leakage_pj_per_cycle: float = 0.0


class MemoryLevel(_Frozen):
    name: str = Field(min_length=1)
    keeps: tuple[str, ...] = ()
    bypasses: tuple[str, ...] = ()
    capacity_bytes: float | None = None
    capacity_bytes_per_operand: dict[str, float] | None = None
    word_bits: int
    access_width_bits: int
    energy: ActionEnergies
    read_bandwidth_bytes_per_cycle: float | None = None
    write_bandwidth_bytes_per_cycle: float | None = None
    mesh: tuple[int, ...]
    multiple_buffering: float = 1.0

    @property
    def instances(self) -> int:
        return math.prod(self.mesh)

    @property
    def may_keep(self) -> tuple[str, ...]:
        """Operands this level keeps or may keep (those it does not bypass)."""
        return tuple(op for op in OPERANDS if op not in self.bypasses)

    @property
    def read_bytes_per_cycle(self) -> float:
        """The read bandwidth; inf when the file states none (unlimited, as Timeloop assumes)."""
        return self.read_bandwidth_bytes_per_cycle or math.inf

    @property
    def read_pj_per_byte(self) -> float:
        return self.energy.read_pj * 8 / self.access_width_bits

    @property
    def write_pj_per_byte(self) -> float:
        return self.energy.write_pj * 8 / self.access_width_bits

    @property
    def update_pj_per_byte(self) -> float:
        return self.energy.update_pj * 8 / self.access_width_bits

    @property
    def usable_bytes(self) -> float:
        """Bytes one tile may use (all operands): the capacity over the multiple buffering; inf when unbounded."""
        if self.capacity_bytes_per_operand is not None:
            return sum(self.capacity_bytes_per_operand.values()) / self.multiple_buffering
        return math.inf if self.capacity_bytes is None else self.capacity_bytes / self.multiple_buffering


class ComputeLevel(_Frozen):
    name: str = Field(min_length=1)
    mac_energy_pj: float
    mac_width_bits: int | None = None
    leakage_pj_per_cycle: float = 0.0
    mesh: tuple[int, ...]
    systolic_axes: tuple[str, ...] = ()

    @property
    def instances(self) -> int:
        return math.prod(self.mesh)


class SpatialUnrolling(_Frozen):
    """Loop dimensions that may spread over one array axis.

    fixed: True when the hardware fixes the dims on the axis (a systolic array's dataflow, a ZigZag mapping file),
    False when the mapper chooses among ``dims``. factors: exact unrolling factors the file states (others: free).
    """

    axis: str
    dims: tuple[str, ...]
    fixed: bool = False
    factors: dict[str, int] = Field(default_factory=dict)


class Hierarchy(_Frozen):
    name: str = Field(min_length=1)
    array_axes: tuple[str, ...]
    levels: tuple[MemoryLevel, ...]
    compute: ComputeLevel
    spatial: tuple[SpatialUnrolling, ...] = ()

    def leakage_pj_per_cycle(self) -> float:
        """Leakage of every instance of every memory level and of the compute level, pJ per cycle."""
        return sum(lv.energy.leakage_pj_per_cycle * lv.instances for lv in self.levels) \
            + self.compute.leakage_pj_per_cycle * self.compute.instances

    def level(self, name: str) -> MemoryLevel:
        for level in self.levels:
            if level.name == name:
                return level
        names = ", ".join(lv.name for lv in self.levels)
        raise TemplateError(f"{self.name}: no memory level {name!r} (levels: {names})")

    def fanout(self, name: str, operand: str) -> tuple[int, ...]:
        """Instances of the next level holding ``operand`` below ``name`` (or of the compute level) per instance
        of ``name``, per array axis: how far one instance's data of that operand spreads."""
        chain = [*self.operand_levels(operand), self.compute]
        index = [lv.name for lv in chain].index(self.level(name).name)
        return tuple(b // a for a, b in zip(chain[index].mesh, chain[index + 1].mesh, strict=True))

    def operand_levels(self, operand: str) -> tuple[MemoryLevel, ...]:
        """The levels that may hold ``operand``, DRAM first."""
        return tuple(level for level in self.levels if operand in level.may_keep)


# ------------------------------------------------------------------------------------------------------------
# Building and checking
# ------------------------------------------------------------------------------------------------------------


def build_hierarchy(data: dict[str, Any], *, source: str) -> Hierarchy:
    """A checked Hierarchy from plain data (what the readers assemble), or ONE TemplateError line."""
    try:
        hierarchy = Hierarchy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(data, first["loc"])
        raise TemplateError(f"{source}: {where}: {first['msg']}") from None
    check_hierarchy(hierarchy, source=source)
    return hierarchy


def _where(data: dict[str, Any], loc: tuple) -> str:
    """'levels[shared_glb].energy.read_pj' from a pydantic location, naming the component, not its index."""
    parts: list[str] = []
    node: Any = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, (list, tuple)) and key < len(node):
            node = node[key]
            name = node.get("name") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{name if name else key}]"
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def check_hierarchy(h: Hierarchy, *, source: str) -> None:
    """The semantic checks; the first problem found raises ONE TemplateError naming file, component and field."""
    def fail(component: str, field: str, message: str) -> None:
        raise TemplateError(f"{source}: {component}: {field}: {message}")

    if not h.levels:
        fail(h.name, "levels", "expected at least one memory level (DRAM)")
    axes = len(h.array_axes)
    if len(set(h.array_axes)) != axes:
        fail(h.name, "array_axes", f"axis names repeat: {list(h.array_axes)}")
    seen: set[str] = set()
    for level in h.levels:
        if level.name in seen or level.name == h.compute.name:
            fail(level.name, "name", "appears twice: a cycle in the hierarchy (a level cannot feed itself)")
        seen.add(level.name)
        _check_level(level, axes, fail)
    outer = h.levels[0]
    if set(outer.may_keep) != set(OPERANDS) or outer.bypasses:
        fail(outer.name, "keeps", f"the outermost level must keep every operand {list(OPERANDS)}")
    for level in h.levels[1:]:
        if level.capacity_bytes is None and level.capacity_bytes_per_operand is None:
            fail(level.name, "capacity_bytes", "missing: only the outermost level (DRAM) is unbounded")
    if h.compute.mac_energy_pj < 0 or h.compute.leakage_pj_per_cycle < 0:
        fail(h.compute.name, "mac_energy_pj", "negative energy; expected pJ >= 0")
    if len(h.compute.mesh) != axes or min(h.compute.mesh, default=1) < 1:
        fail(h.compute.name, "mesh", f"expected {axes} counts >= 1 (one per array axis {list(h.array_axes)})")
    for axis in h.compute.systolic_axes:
        if axis not in h.array_axes:
            fail(h.compute.name, "systolic_axes", f"unknown axis {axis!r}; expected one of {list(h.array_axes)}")
    for operand in OPERANDS:  # an operand's data spreads down the levels that hold it, then to the MACs
        chain = [*h.operand_levels(operand), h.compute]
        for upper, lower in zip(chain, chain[1:], strict=False):
            for axis, a, b in zip(h.array_axes, upper.mesh, lower.mesh, strict=True):
                if b % a:
                    fail(lower.name, "mesh", f"{b} instances along {axis} is not a whole fanout of the {a} of "
                         f"{upper.name}, the level above it for {operand}s")
    for unrolling in h.spatial:
        _check_unrolling(unrolling, h, fail)


def _check_level(level: MemoryLevel, axes: int, fail) -> None:
    for field in ("keeps", "bypasses"):
        for op in getattr(level, field):
            if op not in OPERANDS:
                fail(level.name, field, f"unknown operand {op!r}; expected {' / '.join(OPERANDS)}")
    both = set(level.keeps) & set(level.bypasses)
    if both:
        fail(level.name, "bypasses", f"{sorted(both)} both kept and bypassed")
    if not level.may_keep:
        fail(level.name, "keeps", "the level keeps no operand (every operand bypasses it)")
    if level.capacity_bytes is not None and level.capacity_bytes_per_operand is not None:
        fail(level.name, "capacity_bytes", "give a shared capacity or per-operand capacities, not both")
    if level.capacity_bytes is not None and level.capacity_bytes <= 0:
        fail(level.name, "capacity_bytes", f"{level.capacity_bytes:g} bytes; expected a capacity > 0")
    for op, size in (level.capacity_bytes_per_operand or {}).items():
        if op not in level.may_keep:
            fail(level.name, "capacity_bytes_per_operand", f"operand {op!r} is not one the level keeps")
        if size <= 0:
            fail(level.name, f"capacity_bytes_per_operand.{op}", f"{size:g} bytes; expected a capacity > 0")
    for field in ("word_bits", "access_width_bits"):
        if getattr(level, field) < 1:
            fail(level.name, field, f"{getattr(level, field)}; expected bits >= 1")
    for action, value in level.energy.model_dump().items():
        if value < 0:
            fail(level.name, f"energy.{action}", f"{value:g} is a negative energy; expected pJ >= 0")
    for field in ("read_bandwidth_bytes_per_cycle", "write_bandwidth_bytes_per_cycle"):
        value = getattr(level, field)
        if value is not None and value <= 0:
            fail(level.name, field, f"{value:g}; expected bytes/cycle > 0")
    if level.multiple_buffering < 1:
        fail(level.name, "multiple_buffering", f"{level.multiple_buffering:g}; expected >= 1")
    if len(level.mesh) != axes or min(level.mesh, default=1) < 1:
        fail(level.name, "mesh", f"{list(level.mesh)}; expected {axes} instance counts >= 1, one per array axis")


def _check_unrolling(unrolling: SpatialUnrolling, h: Hierarchy, fail) -> None:
    name = f"spatial[{unrolling.axis}]"
    if unrolling.axis not in h.array_axes:
        fail(name, "axis", f"unknown axis {unrolling.axis!r}; expected one of {list(h.array_axes)}")
    for dim in (*unrolling.dims, *unrolling.factors):
        if dim not in LOOP_DIMS:
            fail(name, "dims", f"unknown loop dimension {dim!r}; expected one of {list(LOOP_DIMS)}")
    size = h.compute.mesh[h.array_axes.index(unrolling.axis)]
    product = math.prod(unrolling.factors.values())
    if min(unrolling.factors.values(), default=1) < 1 or product > size:
        fail(name, "factors", f"{unrolling.factors} unrolls {product} on an axis of {size}")


# ------------------------------------------------------------------------------------------------------------
# YAML: the project's loader, through one function
# ------------------------------------------------------------------------------------------------------------


def load_architecture_yaml(text: str, *, source: str) -> Any:
    """Parse an architecture file's YAML with the project's strict loader (the one place to change with it)."""
    from hwmap.hardware.loader import parse_template_text

    return parse_template_text(text, source=source)[0]
