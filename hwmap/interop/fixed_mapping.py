"""Fixed mappings from Timeloop and ZigZag files -> hwmap's neutral mapping (issue 17 item 4, interfaces C).

:func:`read_fixed_mapping` reads one of

- **Timeloop** ``*.map.yaml`` as ``timeloop-mapper`` writes it: ``mapping: [{target, type, factors, permutation,
  split, keep, bypass}]``. ``type: temporal`` -> the target level's loops (``permutation`` lists them INNERMOST
  first; factors 1 are dropped); ``type: spatial`` -> spatial loops below the target, the permutation's first
  ``split`` dims on the first array axis (X), the rest on the second (Y); ``type: datatype`` / ``bypass`` -> the
  operands the level keeps. Targets that are not levels of the hierarchy are Timeloop's spatial containers
  (``inter_<container>_spatial``, dummy storage that keeps nothing): their loops belong to the nearest real level
  above them (their temporal loops join its own, innermost). Dims: N M C P Q R S -> B K C OY OX FY FX.
- **ZigZag** (3.9.1): a mapping YAML (``[{name, spatial_mapping, temporal_ordering?, memory_operand_links}]``,
  the entry named after the layer or ``default``), or the per-layer records of a ZigZag run
  (benchmarks/reference/zigzag_resnet50_*.json: ``spatial_mapping``, and ``temporal_mapping`` = per operand, per
  memory level innermost first, that level's loops innermost first; the record whose ``loop_dims`` equal the
  layer's). ZigZag allocates the loops of one ordering to each operand's memories separately; the neutral form is
  one nest, so a level's loops are those ZigZag gives it, and the levels are ordered by how many loops they hold
  (a level shared by operands must hold the same loops for each). A mapping YAML with only a
  ``temporal_ordering`` (no allocation) is allocated as ZigZag does it: each level, innermost first, takes the
  next loops of the ordering while the tiles of the operands it keeps fit its usable capacity.

When ZigZag's allocation needs parallel levels (per-operand memories no operand shares) in another order than the
template lists them, the returned mapping lists them in the order that expresses it and
:func:`hierarchy_in_order` gives the same hardware with its levels in that order (every operand's chain kept).
When no single nest expresses it (a level shared by all PEs holding fewer loops than a per-PE level: ZigZag's
spatial loops sit below each operand's own last shared level, a nest has them in one place),
:func:`zigzag_operand_mappings` gives one mapping per operand, each on the operand's own chain of levels, whose
accesses are that operand's (:func:`evaluate_fixed` combines them).

Every problem is ONE :class:`~hwmap.cost.multilevel.nest.MappingError` line naming the file, the level and field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwmap.cost.multilevel.evaluate import (
    CONVENTIONS_BY_NAME,
    HWMAP_CONVENTIONS,
    AccessConventions,
    evaluate_mapping,
    operand_bits_of,
)
from hwmap.cost.multilevel.nest import MappingError, fanout_of
from hwmap.cost.multilevel.problem import LoopProblem
from hwmap.errors import HwmapError, TemplateError
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy, build_hierarchy, load_architecture_yaml

__all__ = [
    "FixedEvaluation",
    "FixedMappings",
    "evaluate_fixed",
    "hierarchy_in_order",
    "map_fixed",
    "read_fixed_mapping",
    "zigzag_operand_mappings",
    "zigzag_record_mapping",
    "zigzag_spatial_entries",
]

TIMELOOP_DIMS = {"N": "B", "M": "K", "C": "C", "P": "OY", "Q": "OX", "R": "FY", "S": "FX"}
TIMELOOP_DATASPACES = {"Inputs": "input", "Weights": "weight", "Outputs": "output"}
ZIGZAG_OPERANDS = {"I": "input", "W": "weight", "O": "output"}
# hwmap exports a GEMM to ZigZag as D (rows) x C x K, B the batch (hwmap.interop.zigzag); the multi-level
# mapper's GEMM is OY x C x K with the batch as G (hwmap.cost.multilevel.problem)
ZIGZAG_GEMM_DIMS = {"D": "OY", "B": "G"}


def _zigzag_dims(record: dict) -> dict[str, str]:
    """ZigZag loop dim -> hwmap's for one record (a GEMM's D and B renamed)."""
    gemm = "D" in (record.get("loop_dims") or {})
    return {d: ZIGZAG_GEMM_DIMS.get(d, d) if gemm else d for d in (*LOOP_DIMS, *ZIGZAG_GEMM_DIMS)}


def read_fixed_mapping(path: str | Path, hierarchy: Hierarchy, problem: LoopProblem, *,
                       layer: str | None = None) -> dict:
    """The mapping of ``problem`` in ``path`` (Timeloop map.yaml, ZigZag mapping YAML or ZigZag run records), in
    the neutral form C; ``layer``: the layer's name (a ZigZag mapping YAML's entry of that name)."""
    source = str(path)
    data = _load(Path(path))
    if isinstance(data, dict) and isinstance(data.get("mapping"), list):
        return timeloop_mapping(data["mapping"], hierarchy, source=source)
    if isinstance(data, dict) and isinstance(data.get("layers"), list):
        record = zigzag_record_for(data["layers"], problem, source=source, layer=layer)
        return zigzag_record_mapping(record, hierarchy, source=f"{source}: {record.get('name', 'layer')}")
    if isinstance(data, dict) and "temporal_mapping" in data:
        return zigzag_record_mapping(data, hierarchy, source=source)
    if isinstance(data, list) and all(isinstance(e, dict) for e in data):
        return zigzag_yaml_mapping(data, hierarchy, problem, layer=layer, source=source)
    raise MappingError(f"{source}: expected a Timeloop map.yaml (mapping: [...]), a ZigZag mapping YAML (a list of "
                       "{name, spatial_mapping, ...}) or ZigZag run records (layers: [...])")


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise MappingError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from None
    try:
        return load_architecture_yaml(text, source=str(path))
    except TemplateError as exc:
        raise MappingError(str(exc)) from None


def _whole(value: Any, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MappingError(f"{where}: {value!r}; expected a whole number >= 1")
    return value


# ------------------------------------------------------------------------------------------------------------
# Timeloop
# ------------------------------------------------------------------------------------------------------------


def timeloop_mapping(entries: list, hierarchy: Hierarchy, *, source: str) -> dict:
    """Form C of a Timeloop ``mapping:`` list (see the module docstring)."""
    names = [level.name for level in hierarchy.levels]
    keeps: dict[str, list[str]] = {}
    temporal: dict[str, list[tuple[str, int]]] = {}
    spatial: dict[str, list[tuple[int, str, int]]] = {}  # target -> (index in permutation, dim, factor), split
    splits: dict[str, int] = {}
    order: list[str] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("target"), str):
            raise MappingError(f"{source}: mapping[{i}]: expected {{target, type, ...}}")
        target, kind = entry["target"], entry.get("type")
        where = f"{source}: {target}"
        if target not in order:
            order.append(target)
        if kind in ("datatype", "bypass"):
            keeps[target] = _dataspaces(entry.get("keep"), f"{where}: keep")
        elif kind == "temporal":
            temporal[target] = _timeloop_loops(entry, where, "temporal")
        elif kind == "spatial":
            loops = _timeloop_loops(entry, where, "spatial")
            spatial[target] = loops
            splits[target] = _split(entry.get("split"), where, len(loops))
        else:
            raise MappingError(f"{where}: type: {kind!r}; expected temporal, spatial, datatype or bypass")
    level_of = _real_levels(order, names, keeps, source)
    outer_first = list(reversed(order)) if _inner_first(order, names) else order
    levels = []
    for name in names:  # the level's own loops, then its containers' (inner), each outermost first
        loops = [loop for target in outer_first if level_of[target] == name
                 for loop in reversed(temporal.get(target, [])) if loop[1] > 1]
        kept = keeps.get(name)
        level = hierarchy.level(name)
        levels.append({"level": name, "keeps": kept if kept is not None else list(level.keeps or level.may_keep),
                       "temporal": [list(loop) for loop in loops]})
    out_spatial = []
    for target in order:
        for index, (dim, factor) in enumerate(spatial.get(target, [])):
            if factor == 1:
                continue
            level = level_of[target]
            axis = _timeloop_axis(hierarchy, level, index < splits[target], f"{source}: {target}")
            out_spatial.append({"level": level, "axis": axis, "dim": dim, "factor": factor})
    return {"spatial": out_spatial, "levels": levels}


def _dataspaces(values: Any, where: str) -> list[str]:
    if values is None:
        values = []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MappingError(f"{where}: expected a list of {' / '.join(TIMELOOP_DATASPACES)}")
    for value in values:
        if value not in TIMELOOP_DATASPACES:
            raise MappingError(f"{where}: unknown dataspace {value!r}; expected {' / '.join(TIMELOOP_DATASPACES)}")
    return [TIMELOOP_DATASPACES[v] for v in values]


def _timeloop_loops(entry: dict, where: str, kind: str) -> list[tuple[str, int]]:
    """(dim, factor) in the permutation's order (innermost first for temporal; X dims first for spatial)."""
    raw = entry.get("factors")
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise MappingError(f"{where}: {kind}.factors: expected 'N1 M4 ...' or a list of N=1 entries")
    factors: dict[str, int] = {}
    for item in items:
        text = str(item).replace("=", "")
        dim, value = text[:1], text[1:]
        if dim not in TIMELOOP_DIMS or not value.isdigit():
            raise MappingError(f"{where}: {kind}.factors: {item!r}; expected <dim><int> with dim one of "
                               f"{' '.join(TIMELOOP_DIMS)}")
        factors[dim] = _whole(int(value), f"{where}: {kind}.factors.{dim}")
    permutation = entry.get("permutation", "")
    perm = list(permutation) if isinstance(permutation, str) else permutation
    if not isinstance(perm, list) or not all(isinstance(d, str) and d in TIMELOOP_DIMS for d in perm):
        raise MappingError(f"{where}: {kind}.permutation: {permutation!r}; expected dims of "
                           f"{''.join(TIMELOOP_DIMS)}, innermost first")
    missing = [d for d, f in factors.items() if f > 1 and d not in perm]
    if missing:
        raise MappingError(f"{where}: {kind}.permutation: {''.join(perm)} lacks {missing[0]} (factor "
                           f"{factors[missing[0]]})")
    return [(TIMELOOP_DIMS[d], factors.get(d, 1)) for d in perm]


def _split(value: Any, where: str, size: int) -> int:
    if value is None:
        return size
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingError(f"{where}: spatial.split: {value!r}; expected a whole number >= 0")
    return value


def _inner_first(order: list[str], names: list[str]) -> bool:
    """Whether a map file lists its targets innermost first (as timeloop-mapper writes them)."""
    known = [t for t in order if t in names]
    return len(known) < 2 or names.index(known[0]) > names.index(known[1])


def _real_levels(order: list[str], names: list[str], keeps: dict[str, list[str]], source: str) -> dict[str, str]:
    """Every target -> the hierarchy level its loops belong to (a container's dummy: the real level above it)."""
    walk = order if _inner_first(order, names) else list(reversed(order))  # innermost first
    level_of: dict[str, str] = {}
    pending: list[str] = []
    for target in walk:
        if target in names:
            level_of[target] = target
            for dummy in pending:
                level_of[dummy] = target
            pending = []
            continue
        if keeps.get(target) or not (target.startswith("inter_") and target.endswith("_spatial")):
            raise MappingError(f"{source}: {target}: target: unknown level; expected one of {names} (or a "
                               "container's inter_<name>_spatial that keeps nothing)")
        pending.append(target)
    if pending:
        raise MappingError(f"{source}: {pending[0]}: target: unknown level above every level of the hierarchy; "
                           f"expected one of {names}")
    return level_of


def _timeloop_axis(h: Hierarchy, level: str, first: bool, where: str) -> str:
    """The array axis of a spatial loop below ``level``: the one that fans out, else split's choice."""
    fanout = fanout_of(h, [lv.name for lv in h.levels].index(level))
    spreading = [axis for axis, f in zip(h.array_axes, fanout, strict=True) if f > 1]
    if len(spreading) == 1:
        return spreading[0]
    if len(h.array_axes) < 2:
        return h.array_axes[0]
    if not spreading:
        raise MappingError(f"{where}: spatial: {level} has no fanout (its instances equal the next level's)")
    return h.array_axes[0] if first else h.array_axes[1]


# ------------------------------------------------------------------------------------------------------------
# ZigZag
# ------------------------------------------------------------------------------------------------------------


def zigzag_record_for(records: list, problem: LoopProblem, *, source: str, layer: str | None = None) -> dict:
    """The record of a ZigZag run for the layer: the one that represents it by name (``layer``, else the
    problem's name; layers of one shape but another stride share loop_dims), else the one whose ``loop_dims``
    are the layer's."""
    sizes = problem.sizes
    named = [r for r in records if isinstance(r, dict) and (layer or problem.name) in (r.get("represents") or [])]
    for record in named + list(records):
        if not isinstance(record, dict) or not isinstance(record.get("loop_dims"), dict):
            continue
        rename = _zigzag_dims(record)
        dims = dict.fromkeys(LOOP_DIMS, 1) | {rename.get(d, d): s for d, s in record["loop_dims"].items()}
        if dims == sizes:
            if "error" in record:
                raise MappingError(f"{source}: {record.get('name')}: ZigZag found no mapping: {record['error']}")
            return record
    shown = " ".join(f"{d}{s}" for d, s in sizes.items() if s > 1)
    raise MappingError(f"{source}: layers: no record with loop_dims {shown} (layer {problem.name})")


def _zigzag_spatial(spatial: Any, h: Hierarchy, where: str, rename: dict[str, str] | None = None
                    ) -> list[tuple[str, str, int]]:
    """(axis, dim, factor) from {D1: {K: 14}} (run records) or {D1: ['K, 14']} (mapping YAML), clamped to the axis
    as ZigZag unrolls them."""
    if not isinstance(spatial, dict):
        raise MappingError(f"{where}: spatial_mapping: expected <axis>: {{<dim>: <factor>}}")
    out = []
    for axis, items in spatial.items():
        if axis not in h.array_axes:
            raise MappingError(f"{where}: spatial_mapping.{axis}: unknown axis; expected one of {list(h.array_axes)}")
        pairs = list(items.items()) if isinstance(items, dict) else [str(i).split(",") for i in items or []]
        size = h.compute.mesh[h.array_axes.index(axis)]
        used = 1
        for pair in pairs:
            dim, factor = (str(pair[0]).strip(), pair[1]) if len(pair) == 2 else ("?", None)
            if isinstance(factor, str):
                factor = float(factor.strip()) if factor.strip().replace(".", "", 1).isdigit() else factor
            dim = (rename or {}).get(dim, dim)
            if dim not in LOOP_DIMS:
                raise MappingError(f"{where}: spatial_mapping.{axis}: {pair!r}; expected <dim>, <factor> with dim "
                                   f"one of {list(LOOP_DIMS)}")
            factor = min(_whole(factor, f"{where}: spatial_mapping.{axis}.{dim}"), size // used)
            if factor > 1:
                out.append((axis, dim, factor))
                used *= factor
    return out


def _zigzag_loops(loops: Any, where: str, rename: dict[str, str] | None = None) -> list[tuple[str, int]]:
    if not isinstance(loops, list):
        raise MappingError(f"{where}: expected a list of [dim, factor]")
    rename = rename or {d: d for d in LOOP_DIMS}
    out = []
    for loop in loops:
        if not isinstance(loop, (list, tuple)) or len(loop) != 2 or loop[0] not in rename:
            raise MappingError(f"{where}: {loop!r}; expected [dim, factor] with dim one of {list(LOOP_DIMS)}")
        out.append((rename[loop[0]], _whole(loop[1], f"{where}: {loop[0]}")))
    return out


def zigzag_spatial_entries(record: dict, hierarchy: Hierarchy, *, source: str = "record") -> list[dict]:
    """ZigZag's spatial unrolling of a run record as form-C entries below the first level that fans out along each
    axis (how the mapper places them): the ``spatial=`` that confines hwmap's search to ZigZag's unrolling."""
    out = []
    for axis, dim, factor in _zigzag_spatial(record.get("spatial_mapping"), hierarchy, source, _zigzag_dims(record)):
        a = hierarchy.array_axes.index(axis)
        level = next((lv.name for i, lv in enumerate(hierarchy.levels) if fanout_of(hierarchy, i)[a] > 1), None)
        if level is None:
            raise MappingError(f"{source}: spatial_mapping.{axis}: no level fans out along {axis}")
        out.append({"level": level, "axis": axis, "dim": dim, "factor": factor})
    return out


def _allocation(record: dict, h: Hierarchy, where: str) -> tuple[list[tuple[str, int]], dict[str, list[str]],
                                                                  dict[str, dict[str, int]]]:
    """ZigZag's loops (innermost first), every operand's levels (innermost first) and, per operand, each level's
    top boundary (how many loops, innermost first, lie at or below it), from a run record."""
    temporal, names = record.get("temporal_mapping"), record.get("memory_levels")
    if not isinstance(temporal, dict) or not isinstance(names, dict):
        raise MappingError(f"{where}: temporal_mapping/memory_levels: missing; expected ZigZag's per-operand levels")
    known = {lv.name for lv in h.levels}
    ordering: list[tuple[str, int]] | None = None
    chains: dict[str, list[str]] = {}
    tops: dict[str, dict[str, int]] = {}
    for letter, operand in ZIGZAG_OPERANDS.items():
        per_level, levels = temporal.get(letter), names.get(letter)
        if not isinstance(per_level, list) or not isinstance(levels, list) or len(per_level) != len(levels):
            raise MappingError(f"{where}: temporal_mapping.{letter}: expected one loop list per memory level")
        flat: list[tuple[str, int]] = []
        tops[operand] = {}
        for level, loops in zip(levels, per_level, strict=True):
            if level not in known:
                raise MappingError(f"{where}: temporal_mapping.{letter}: unknown level {level!r}; expected one of "
                                   f"{sorted(known)}")
            flat += _zigzag_loops(loops, f"{where}: temporal_mapping.{letter}.{level}", _zigzag_dims(record))
            tops[operand][level] = len(flat)
        if ordering is None:
            ordering = flat
        elif flat != ordering:
            raise MappingError(f"{where}: temporal_mapping.{letter}: its loops {flat} differ from another "
                               f"operand's {ordering}")
        chains[operand] = list(levels)
    return ordering or [], chains, tops


def _shared_tops(tops: dict[str, dict[str, int]], where: str) -> dict[str, int]:
    """One top boundary per level, or ONE MappingError when operands sharing a level give it different loops."""
    top: dict[str, int] = {}
    for operand, per_level in tops.items():
        for level, boundary in per_level.items():
            if top.setdefault(level, boundary) != boundary:
                raise MappingError(f"{where}: {level}: temporal_mapping: holds the first {top[level]} loops for one "
                                   f"operand and {boundary} for the {operand}s; one nest needs the same")
    return top


def zigzag_record_mapping(record: dict, hierarchy: Hierarchy, *, source: str) -> dict:
    """Form C of one ZigZag run record (one nest; raises when none expresses ZigZag's per-operand allocation)."""
    loops, chains, tops = _allocation(record, hierarchy, source)
    top = _shared_tops(tops, source)
    spatial = _zigzag_spatial(record.get("spatial_mapping"), hierarchy, source, _zigzag_dims(record))
    index = {lv.name: i for i, lv in enumerate(hierarchy.levels)}
    kept = {name: [op for op in OPERANDS if name in chains[op]] for name in index}
    order = sorted(index, key=lambda name: (-top.get(name, len(loops)), index[name]))  # outermost first
    return _nest(order, loops, top, kept, spatial, hierarchy, source)


def _nest(order: list[str], loops: list[tuple[str, int]], top: dict[str, int], kept: dict[str, list[str]],
          spatial: list[tuple[str, str, int]], h: Hierarchy, source: str) -> dict:
    """One nest: loop p (innermost first) at the innermost level in ``order`` whose top boundary lies above it;
    each spatial loop below the innermost level that has one instance along its axis."""
    start = {name: 0 for name in order}  # loops below a level's own: the next boundary inward
    boundaries = sorted({top.get(name, len(loops)) for name in order})
    for name in order:
        own = top.get(name, len(loops))
        start[name] = max([b for b in boundaries if b < own], default=0)
    owner: dict[int, str] = {}
    for name in order:  # outermost first: an inner level with the same boundary takes the loops
        for p in range(start[name], top.get(name, len(loops))):
            owner[p] = name
    levels = [{"level": name, "keeps": kept[name],
               "temporal": [list(loops[p]) for p in reversed(range(len(loops))) if owner.get(p) == name]}
              for name in order]
    reordered = hierarchy_in_order(h, order, source=source)
    out_spatial = []
    for axis, dim, factor in spatial:
        a = reordered.array_axes.index(axis)
        single = [i for i, lv in enumerate(reordered.levels) if lv.mesh[a] == 1]
        level = reordered.levels[max(single)].name if single else None
        if level is None or any(lv.mesh[a] == 1 for lv in reordered.levels[max(single) + 1:]) or any(
                reordered.levels[i].mesh[a] > 1 for i in range(max(single))):
            raise MappingError(f"{source}: spatial_mapping.{axis}: ZigZag's allocation puts a level with one "
                               f"instance along {axis} inside a per-PE level; no single nest expresses it (use "
                               "zigzag_operand_mappings)")
        out_spatial.append({"level": level, "axis": axis, "dim": dim, "factor": factor})
    return {"spatial": out_spatial, "levels": levels}


def hierarchy_in_order(h: Hierarchy, order: list[str], *, source: str = "mapping") -> Hierarchy:
    """The same hardware with its levels in ``order`` (outermost first): allowed when every operand meets its
    levels in the template's order (parallel per-operand levels may swap); else ONE MappingError line."""
    names = [lv.name for lv in h.levels]
    if order == names:
        return h
    if sorted(order) != sorted(names):
        raise MappingError(f"{source}: levels: {order} is not an order of the hierarchy's levels {names}")
    for op in OPERANDS:
        theirs = [lv.name for lv in h.levels if op in lv.may_keep]
        ours = [name for name in order if name in theirs]
        if ours != theirs:
            raise MappingError(f"{source}: levels: {op}s would meet {ours}, the template has {theirs}")
    by_name = {lv.name: lv for lv in h.levels}
    data = h.model_dump()
    data["levels"] = [by_name[name].model_dump() for name in order]
    return build_hierarchy(data, source=source)


def zigzag_operand_mappings(record: dict, hierarchy: Hierarchy, *, source: str
                            ) -> dict[str, tuple[Hierarchy, dict]]:
    """Per operand: the operand's own chain of levels (the others bypass them) and the one nest on it that is
    ZigZag's allocation for that operand, its spatial loops below its last level with one instance per axis."""
    loops, chains, tops = _allocation(record, hierarchy, source)
    spatial = _zigzag_spatial(record.get("spatial_mapping"), hierarchy, source, _zigzag_dims(record))
    out = {}
    for op in OPERANDS:
        chain = list(reversed(chains[op]))  # outermost first
        levels = []
        for level in hierarchy.levels:
            if level.name not in chain:
                continue
            others = () if level.name == chain[0] else tuple(o for o in OPERANDS if o != op)
            levels.append(level.model_copy(update={"keeps": (op,) if others else OPERANDS, "bypasses": others,
                                                   "capacity_bytes_per_operand": None}))
        data = hierarchy.model_dump()
        data["levels"] = [lv.model_dump() for lv in levels]
        data["spatial"] = []
        sub = build_hierarchy(data, source=source)
        kept = {name: ([op] if name != chain[0] else list(OPERANDS)) for name in chain}
        out[op] = (sub, _nest(chain, loops, tops[op], kept, spatial, sub, f"{source}: {op}"))
    return out


# ------------------------------------------------------------------------------------------------------------
# ZigZag mapping YAML (spatial_mapping + temporal_ordering)
# ------------------------------------------------------------------------------------------------------------


def zigzag_yaml_mapping(entries: list[dict], hierarchy: Hierarchy, problem: LoopProblem, *, layer: str | None,
                        source: str) -> dict:
    """Form C of a ZigZag mapping YAML entry: its spatial mapping and temporal ordering, the loops allocated to
    levels as ZigZag's allocator does (innermost level first, as many loops as its usable capacity holds)."""
    named = {e.get("name"): e for e in entries}
    entry = named.get(layer) or named.get("default")
    if entry is None:
        raise MappingError(f"{source}: no entry named {layer!r} or 'default'")
    where = f"{source}: {entry.get('name')}"
    ordering = entry.get("temporal_ordering")
    if ordering is None:
        raise MappingError(f"{where}: temporal_ordering: missing; a fixed mapping needs the loop order (ZigZag's "
                           "[[dim, factor], ...], innermost first)")
    loops = _zigzag_loops(ordering, f"{where}: temporal_ordering")
    spatial = _zigzag_spatial(entry.get("spatial_mapping"), hierarchy, where)
    for dim in LOOP_DIMS:
        covered = math.prod(f for d, f in loops if d == dim) * math.prod(f for _, d, f in spatial if d == dim)
        if covered < problem.size(dim):
            raise MappingError(f"{where}: temporal_ordering: {dim} multiplies to {covered}, less than the layer's "
                               f"{problem.size(dim)}")
    return _allocate(loops, spatial, hierarchy, problem, where)


def _allocate(loops: list[tuple[str, int]], spatial: list[tuple[str, str, int]], h: Hierarchy,
              problem: LoopProblem, where: str) -> dict:
    """Innermost level first: take the next loops while the kept operands' tiles (8-bit elements per byte of
    the level's word) fit its usable bytes; DRAM takes the rest."""
    from hwmap.cost.multilevel.problem import tile_elements

    spatial_tile = dict.fromkeys(LOOP_DIMS, 1)
    for _, dim, factor in spatial:
        spatial_tile[dim] *= factor
    top: dict[str, int] = {}
    taken = 0
    for level in reversed(h.levels[1:]):
        shared = all(m == 1 for m in level.mesh)
        while taken < len(loops):
            tile = dict(spatial_tile) if shared else dict.fromkeys(LOOP_DIMS, 1)
            for dim, factor in loops[:taken + 1]:
                tile[dim] *= factor
            tile = {d: min(t, problem.size(d)) for d, t in tile.items()}
            need = sum(tile_elements(problem, tile, op) * level.word_bits / 8 for op in (level.keeps or
                                                                                         level.may_keep))
            if need > level.usable_bytes:
                break
            taken += 1
        top[level.name] = taken
    top[h.levels[0].name] = len(loops)
    kept = {lv.name: list(lv.keeps or lv.may_keep) for lv in h.levels}
    order = [lv.name for lv in h.levels]
    return _nest(order, loops, top, kept, spatial, h, where)


# ------------------------------------------------------------------------------------------------------------
# Evaluation of a fixed mapping (one nest, or one per operand)
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedEvaluation:
    """Accesses (elements and words) per level x operand and energies of a fixed mapping of one layer."""

    layer: str
    accesses: tuple[dict, ...]  # {level, operand, reads, writes, updates, read_words, write_words, update_words}
    level_energy_pj: dict[str, float]
    mac_energy_pj: float
    cycles: float
    per_operand: bool  # True: one nest per operand (ZigZag's allocation has no single nest)
    operand_bits: dict | None = None  # the bits it was evaluated at (input, weight, output, psum)

    @property
    def energy_pj(self) -> float:
        return self.mac_energy_pj + sum(self.level_energy_pj.values())

    def access(self, level: str, operand: str) -> dict:
        for row in self.accesses:
            if row["level"] == level and row["operand"] == operand:
                return row
        return {"level": level, "operand": operand, "reads": 0.0, "writes": 0.0, "updates": 0.0,
                "read_words": 0.0, "write_words": 0.0, "update_words": 0.0}

    def to_dict(self) -> dict:
        return {"layer": self.layer, "energy_pj": self.energy_pj, "mac_energy_pj": self.mac_energy_pj,
                "level_energy_pj": dict(self.level_energy_pj), "cycles": self.cycles,
                "per_operand": self.per_operand, "operand_bits": self.operand_bits,
                "accesses": [dict(a) for a in self.accesses]}


def evaluate_fixed(path: str | Path, hierarchy: Hierarchy, problem: LoopProblem, *, operand_bits,
                   layer: str | None = None, conventions: AccessConventions = HWMAP_CONVENTIONS,
                   record_bits: bool = False) -> FixedEvaluation:
    """Read the fixed mapping of ``problem`` from ``path`` and evaluate it (hwmap.cost.multilevel's
    evaluate_mapping; tiles that overflow a level are reported, not refused: a peer's mapping is evaluated as it
    is). record_bits: a ZigZag run record is evaluated at its own operand precisions (its workload's I, W, partial
    sums O and final outputs O_final, ``operand_precision_bits``) instead of ``operand_bits``."""
    source = str(path)
    name = layer or problem.name
    data = _load(Path(path))
    record = None
    if isinstance(data, dict) and isinstance(data.get("layers"), list):
        record = zigzag_record_for(data["layers"], problem, source=source, layer=layer)
        source = f"{source}: {record.get('name', 'layer')}"
    elif isinstance(data, dict) and "temporal_mapping" in data:
        record = data
    if record is not None and record_bits and "operand_precision_bits" in record:
        operand_bits = _record_bits(record, source)
    if record is not None:
        try:
            mapping = zigzag_record_mapping(record, hierarchy, source=source)
        except MappingError:
            return _per_operand(record, hierarchy, problem, operand_bits, source, name, conventions)
        order = [level["level"] for level in mapping["levels"]]
        h = hierarchy_in_order(hierarchy, order, source=source)
    else:
        mapping = read_fixed_mapping(path, hierarchy, problem, layer=layer)
        h = hierarchy
    result = evaluate_mapping(h, problem, mapping, operand_bits=operand_bits, strict=False, source=source,
                              conventions=conventions)
    return FixedEvaluation(name, tuple(result.records()),
                           {lv: sum(v.values()) for lv, v in result.level_energy_pj.items()},
                           result.mac_energy_pj, result.cycles, False, operand_bits_of(operand_bits))


def _record_bits(record: dict, source: str) -> dict[str, int]:
    """A ZigZag run record's operand precisions as hwmap's operand bits (O: partial sums, O_final: outputs)."""
    given = record["operand_precision_bits"]
    names = {"I": "input", "W": "weight", "O": "psum", "O_final": "output"}
    if not isinstance(given, dict) or not all(isinstance(given.get(k), int) and given[k] >= 1 for k in names):
        raise MappingError(f"{source}: operand_precision_bits: {given!r}; expected integers >= 1 for "
                           f"{', '.join(names)}")
    return {ours: given[theirs] for theirs, ours in names.items()}


def _per_operand(record, hierarchy, problem, operand_bits, source, name, conventions) -> FixedEvaluation:
    rows: list[dict] = []
    energy = {lv.name: 0.0 for lv in hierarchy.levels}
    mac_pj, cycles = 0.0, 0.0
    for op, (sub, mapping) in zigzag_operand_mappings(record, hierarchy, source=source).items():
        result = evaluate_mapping(sub, problem, mapping, operand_bits=operand_bits, strict=False, source=source,
                                  conventions=conventions)
        mac_pj, cycles = result.mac_energy_pj, max(cycles, result.cycles)
        for row in result.records():
            if row["operand"] != op:
                continue
            rows.append(row)
            level = sub.level(row["level"])
            energy[row["level"]] += (row["read_words"] * level.energy.read_pj
                                     + row["write_words"] * level.energy.write_pj
                                     + row["update_words"] * level.energy.update_pj)
    return FixedEvaluation(name, tuple(rows), energy, mac_pj, cycles, True, operand_bits_of(operand_bits))


# ------------------------------------------------------------------------------------------------------------
# A model's layers under one fixed-mapping file (hwmap map MODEL --accel T --fixed FILE)
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedMappings:
    """map_layers(fixed=...)'s answer: every conv/GEMM layer asked for, evaluated under the file's mapping."""

    model: str
    accelerator: str
    fixed: str
    names: tuple[str, ...]
    scopes: tuple[str, ...]
    results: tuple[FixedEvaluation, ...]
    conventions: str = "hwmap"  # the counting and pricing rules (hwmap.vocabulary.ACCESS_CONVENTIONS)

    @property
    def energy_pj(self) -> float:
        return sum(r.energy_pj for r in self.results)

    def to_dict(self) -> dict:
        return {"model": self.model, "accelerator": self.accelerator, "fixed": self.fixed,
                "conventions": self.conventions, "energy_pj": self.energy_pj,
                "layers": [{"layer": n, "module": s, **r.to_dict()}
                           for n, s, r in zip(self.names, self.scopes, self.results, strict=True)]}


def map_fixed(graph, accelerator, fixed: str | Path, *, layer: str | None = None,
              conventions: str = "hwmap") -> FixedMappings:
    """Evaluate the mapping ``fixed`` gives each conv/GEMM layer of ``graph`` (``layer``: a glob over layer names
    and modules) on the template's hierarchy, at the template's operand bits, under the counting and pricing
    rules named ``conventions`` (hwmap.vocabulary.ACCESS_CONVENTIONS: hwmap's own, or ZigZag 3.9.1's,
    hwmap.cost.multilevel.evaluate.CONVENTIONS_BY_NAME; under ZigZag's, ZigZag run records are evaluated at their
    own operand precisions, the workload's, as ZigZag evaluated them)."""
    from fnmatch import fnmatchcase

    from hwmap.cost.kinds import hardware_view
    from hwmap.cost.multilevel.problem import problem_of
    from hwmap.errors import ParameterError, UnsupportedOpError
    from hwmap.ops.work import Conv, Gemm

    if conventions not in CONVENTIONS_BY_NAME:
        raise ParameterError("conventions", f"{conventions!r} is not one of {', '.join(CONVENTIONS_BY_NAME)}")
    rules = CONVENTIONS_BY_NAME[conventions]
    hierarchy = hardware_view(accelerator)
    bits = accelerator.spec.operand_bits
    names, scopes, results = [], [], []
    for node in graph.nodes:
        if not isinstance(node.work, (Conv, Gemm)) or node.work.macs == 0:
            continue
        if layer is not None and not (fnmatchcase(node.name, layer) or fnmatchcase(node.scope or "", layer)):
            continue
        try:
            problem = problem_of(node)
        except HwmapError as exc:
            raise UnsupportedOpError(f"{node.name}: {exc}") from None
        try:
            results.append(evaluate_fixed(fixed, hierarchy, problem, operand_bits=bits, layer=node.name,
                                          conventions=rules, record_bits=conventions == "zigzag"))
        except MappingError as exc:
            raise MappingError(f"{exc} (layer {node.name}; choose layers with --layer)") from None
        names.append(node.name)
        scopes.append(node.scope or "")
    if not results:
        raise ParameterError("layer", f"{layer!r} matches no conv/GEMM layer of {graph.model}")
    return FixedMappings(graph.model, accelerator.name, str(fixed), tuple(names), tuple(scopes), tuple(results),
                         conventions)
