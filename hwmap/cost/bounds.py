"""Data movement as a function of buffer size: the least DRAM traffic attainable with at most B bytes at a memory
level, for every B, over the mapper's whole mapping space (after Orojenesis: Huang et al., "Mind the Gap:
Attainable Data Movement and Operational Intensity Bounds for Tensor Algorithms", ISCA 2024). This module does
the single-level kinds (systolic, vector-PE); hwmap.cost.hierarchy_bounds every level of ``kind: hierarchy``
templates, with the same result classes.

For each conv/GEMM layer the candidate table of its shape (:class:`hwmap.cost.mapping.CandidateTable`: every
minimal tiling of N, K, C, P, Q at the DRAM-facing level with its best loop order) gives, per candidate, the bytes
it needs at each DRAM-facing buffer and the DRAM bytes it moves. A level's curve is the Pareto front of (capacity
needed, DRAM bytes) over the candidates that fit the template's other levels, as a step function: its value at B is
the least traffic of a candidate needing at most B. It follows the mapper's rules exactly, so its value at the
template's own capacity is the DRAM traffic ``hwmap map`` reports (tests/cost/test_bounds.py checks every layer):

- capacity is the level's size as a template states it: a double-buffered level needs twice the tile;
- the array's spatial floor (tiles cover at least the array's K and C unrolling) applies wherever some floored
  tile fits, as in the mapper; below that the floor is dropped (the array runs partial folds), so the first
  steps of a curve may come from floorless tilings. The mapper itself is not monotone there: just above the
  smallest floored tiling it must use one, which can move more bytes than the best floorless tiling just below.
  A tiling that fits a smaller capacity fits a larger one too, so the curve is the running minimum (the least
  traffic attainable with *at most* B bytes) and it never rises; where that minimum comes from a smaller
  capacity's floorless tiling the mapper, held to the floor, moves more (no shipped template's own capacity is
  such a point on ResNet-50, SegFormer-B2 or MobileNetV3: the tests check every layer);
- where the template's buffer energies per byte differ, the mapper minimises energy and may move more bytes than
  the curve (the curve is then a lower bound of the mapper's traffic); every shipped template has equal ones.

Levels: a template's DRAM-facing buffers by name (systolic: ifmap, filter, ofmap; each swept alone, the others
kept at the template's sizes; vector_pe: global, which holds all three operands) and, where there are several,
"all": every DRAM-facing buffer scaled by the same factor, its capacity the buffers' total size. Only "all" and
shared levels reach the compulsory traffic (a lone buffer's curve stops where the fixed buffers bind).

Compulsory traffic: each operand moved once: the input's touched extent including its padding (hwmap.cost.mapping
counts padded rows and columns like real ones), the weights, and the outputs at the output width. The whole
network's curve is the sum of its layers' step functions, evaluated on the union of their breakpoints; it starts
where every layer has a tiling that fits. Vector-unit and data-movement layers (norms, activations, copies) are
not in these curves: their traffic does not depend on the buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np

from hwmap.cost.mapping import CandidateTable, LoopNest, MapTarget, candidate_table
from hwmap.errors import ParameterError

ALL_LEVELS = "all"
OPERANDS = ("input", "weight", "output")


@dataclass(frozen=True)
class TrafficCurve:
    """A step function: traffic_bytes[i] is the least DRAM traffic with capacity in [capacity_bytes[i],
    capacity_bytes[i + 1]); below capacity_bytes[0] nothing fits. Capacities ascend and traffic strictly
    descends."""

    capacity_bytes: np.ndarray
    traffic_bytes: np.ndarray
    compulsory_bytes: float

    def at(self, capacity_bytes: float) -> float:
        """Least traffic with at most capacity_bytes (inf when nothing fits)."""
        i = np.searchsorted(self.capacity_bytes, capacity_bytes, side="right") - 1
        return float(self.traffic_bytes[i]) if i >= 0 else float("inf")

    @property
    def min_capacity_bytes(self) -> float:
        return float(self.capacity_bytes[0])

    @property
    def floor_bytes(self) -> float:
        """The least traffic of the curve (the compulsory traffic where the level can hold everything)."""
        return float(self.traffic_bytes[-1])

    @property
    def compulsory_capacity_bytes(self) -> float | None:
        """The smallest capacity at which the traffic is the compulsory one (None if the curve never gets there)."""
        reached = np.flatnonzero(self.traffic_bytes <= self.compulsory_bytes)
        return float(self.capacity_bytes[reached[0]]) if len(reached) else None

    def points(self) -> list[tuple[float, float]]:
        return [(float(c), float(t)) for c, t in zip(self.capacity_bytes, self.traffic_bytes, strict=True)]


@dataclass(frozen=True)
class LayerCurve:
    layer: str
    module: str
    curve: TrafficCurve
    mapped_bytes: float  # the mapper's DRAM bytes on the template (hwmap map)


@dataclass(frozen=True)
class LevelBounds:
    """One level's curves: per conv/GEMM layer and the sum over them."""

    level: str
    template_capacity_bytes: float
    double_buffered: bool
    layers: tuple[LayerCurve, ...]
    network: TrafficCurve
    above: str = "DRAM"  # the level(s) the traffic crosses from (hierarchy templates: hwmap.cost.hierarchy_bounds)

    @property
    def mapped_bytes(self) -> float:
        return float(sum(lc.mapped_bytes for lc in self.layers))


@dataclass(frozen=True)
class TrafficBounds:
    model: str
    accelerator: str
    levels: tuple[LevelBounds, ...]
    notes: tuple[str, ...]

    def level(self, name: str) -> LevelBounds:
        for lb in self.levels:
            if lb.level == name:
                return lb
        raise ParameterError("level", f"{name!r} is not among {', '.join(lb.level for lb in self.levels)}")

    def record(self) -> dict:
        """Everything as JSON-ready data."""
        def curve(c: TrafficCurve) -> dict:
            return {"compulsory_bytes": c.compulsory_bytes, "min_capacity_bytes": c.min_capacity_bytes,
                    "compulsory_capacity_bytes": c.compulsory_capacity_bytes,
                    "points": [{"capacity_bytes": x, "traffic_bytes": y} for x, y in c.points()]}

        return {"model": self.model, "accelerator": self.accelerator, "notes": list(self.notes),
                "levels": [{"level": lb.level, "above": lb.above,
                            "template_capacity_bytes": lb.template_capacity_bytes,
                            "double_buffered": lb.double_buffered, "mapped_bytes": lb.mapped_bytes,
                            "at_template_bytes": lb.network.at(lb.template_capacity_bytes),
                            "network": curve(lb.network),
                            "layers": [{"layer": lc.layer, "module": lc.module, "mapped_bytes": lc.mapped_bytes,
                                        **curve(lc.curve)} for lc in lb.layers]} for lb in self.levels]}

    def rows(self) -> list[dict]:
        """One row per step of every curve (CSV): level, layer ('network' for the sum), capacity, traffic."""
        out = []
        for lb in self.levels:
            for name, c in (("network", lb.network), *((lc.layer, lc.curve) for lc in lb.layers)):
                for x, y in c.points():
                    out.append({"level": lb.level, "above": lb.above, "layer": name, "capacity_bytes": x,
                                "traffic_bytes": y,
                                "compulsory_bytes": c.compulsory_bytes,
                                "template_capacity_bytes": lb.template_capacity_bytes})
        return out


# ---------------------------------------------------------------- one layer shape


@dataclass(frozen=True)
class _Needs:
    """Per candidate of a table (flattened column x P tile): usable bytes needed per operand, DRAM bytes of one
    group, and whether the array's spatial floor holds."""

    need: dict[str, np.ndarray]
    dram: np.ndarray
    floored: np.ndarray


def _needs(table: CandidateTable, t: MapTarget) -> _Needs:
    p = table.p_tiles[None, :]
    need_in = table.input_need(p)
    need_out = table.out_per_p[:, None] * p
    need_w = np.broadcast_to(table.w_tile[:, None], need_in.shape)
    nest = table.nest
    floored = (table.tiles[:, 1] >= min(t.min_k, nest.k)) & (table.tiles[:, 2] >= min(t.min_c, nest.c))
    # Keep a P tile only where it moves fewer bytes than the next smaller one of its column (else dominated).
    d = table.dram
    useful = np.ones(d.shape, dtype=bool)
    useful[:, 1:] = d[:, 1:] < d[:, :-1]
    return _Needs({"input": need_in[useful], "weight": need_w[useful], "output": need_out[useful]}, d[useful],
                  np.broadcast_to(floored[:, None], d.shape)[useful])


def front(capacity: np.ndarray, dram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto front (ascending capacity, strictly descending traffic) of points."""
    order = np.argsort(capacity)
    c, d = capacity[order], dram[order]
    keep = d < np.r_[np.inf, np.minimum.accumulate(d)[:-1]]
    c, d = c[keep], d[keep]
    last = np.r_[c[1:] != c[:-1], True]  # equal capacities: the last kept has the least traffic
    return c[last], d[last]


def _level_capacity(needs: _Needs, t: MapTarget, level: _Level) -> tuple[np.ndarray, np.ndarray]:
    """(capacity of the level each candidate needs, mask of candidates that fit the template's other levels)."""
    n = needs.need
    if level.shared:  # the mapper's shared-buffer test: input + output + weight tiles <= usable bytes
        usable = n["input"] + n["output"] + n["weight"]
        return usable * level.size_per_usable, np.ones(len(usable), dtype=bool)
    caps = {"input": t.cap_input, "weight": t.cap_weight, "output": t.cap_output}
    if level.operand is None:  # all buffers scaled together: the largest fraction of its template size needed
        scale = np.maximum.reduce([n[op] / caps[op] for op in OPERANDS])
        return scale * level.template_bytes, np.ones(len(scale), dtype=bool)
    fits = np.ones(len(needs.dram), dtype=bool)
    for op in OPERANDS:
        if op != level.operand:
            fits &= n[op] <= caps[op]
    return n[level.operand] * level.size_per_usable, fits


def _shape_curve(table: CandidateTable, t: MapTarget, level: _Level, groups: int, *,
                 running_min: bool = True, needs: _Needs | None = None) -> TrafficCurve | None:
    needs = needs or _needs(table, t)
    capacity, fits = _level_capacity(needs, t, level)
    d = needs.dram * groups
    floored = fits & needs.floored
    if not fits.any():
        return None
    compulsory = float((table.nest.input_words * t.input_bytes + table.nest.weight_words * t.weight_bytes
                        + table.nest.output_words * t.output_bytes) * groups)
    c_any, d_any = front(capacity[fits], d[fits])
    if not floored.any():
        return TrafficCurve(c_any, d_any, compulsory)
    c_floor, d_floor = front(capacity[floored], d[floored])
    below = c_any < c_floor[0]  # no floored tiling fits there: the mapper drops the floor
    c, d = np.r_[c_any[below], c_floor], np.r_[d_any[below], d_floor]
    if running_min:  # a floorless tiling chosen below the first floored one still fits above it
        keep = d < np.r_[np.inf, np.minimum.accumulate(d)[:-1]]
        c, d = c[keep], d[keep]
    return TrafficCurve(c, d, compulsory)


# ---------------------------------------------------------------- levels of a template


@dataclass(frozen=True)
class _Level:
    name: str
    operand: str | None  # the operand a per-operand buffer holds; None: shared, or all buffers together
    shared: bool
    template_bytes: float  # the level's size in the template (all: the buffers' total)
    size_per_usable: float  # the level's multiple buffering (from the hardware view): 2 when double-buffered
    double_buffered: bool


def template_levels(memory) -> list[_Level]:
    """The levels a template's curves can sweep (see the module docstring)."""
    facing = {op: memory.dram_facing(op) for op in OPERANDS}
    if memory.shared:
        lv = facing["input"]
        return [_Level(lv.name, None, True, lv.size_bytes, lv.multiple_buffering, lv.double_buffered)]
    levels = [_Level(lv.name, op, False, lv.size_bytes, lv.multiple_buffering, lv.double_buffered)
              for op, lv in facing.items()]
    total = float(sum(lv.size_bytes for lv in facing.values()))
    levels.append(_Level(ALL_LEVELS, None, False, total, 1.0, all(lv.double_buffered for lv in facing.values())))
    return levels


# ---------------------------------------------------------------- whole networks


def sum_curves(curves: list[TrafficCurve]) -> TrafficCurve:
    """The sum of step functions on the union of their breakpoints, from where every one is defined."""
    start = max(c.min_capacity_bytes for c in curves)
    xs = np.unique(np.concatenate([c.capacity_bytes for c in curves]))
    xs = xs[xs >= start]
    total = np.zeros(len(xs))
    for c in curves:
        total += c.traffic_bytes[np.searchsorted(c.capacity_bytes, xs, side="right") - 1]
    keep = np.r_[True, total[1:] < total[:-1]]
    return TrafficCurve(xs[keep], total[keep], float(sum(c.compulsory_bytes for c in curves)))


def traffic_bounds(cost, graph_arrays, target: MapTarget, memory, *, levels: list[str] | None = None,
                   layer: str | None = None) -> TrafficBounds:
    """Curves of every conv/GEMM layer of an estimate (cost: its GraphCost with the mapper's mappings;
    graph_arrays: hwmap.cost.layers.LayerArrays of the same graph; target: the mapper's view of the template)."""
    available = template_levels(memory)
    names = [lv.name for lv in available]
    if levels:
        unknown = [lv for lv in levels if lv not in names]
        if unknown:
            raise ParameterError("level", f"{unknown[0]!r} is not a level the mapper handles on {cost.accelerator} "
                                          f"(levels: {', '.join(names)})")
        available = [lv for lv in available if lv.name in levels]
    mappings = cost.layers.mappings
    rows = [i for i, m in enumerate(mappings) if m is not None and m.mode == "best"
            and (layer is None or fnmatchcase(cost.layers.names[i], layer)
                 or fnmatchcase(cost.layers.scopes[i], layer))]
    if not rows:
        raise ParameterError("layer", f"{layer!r} matches no conv/GEMM layer of {cost.model}" if layer else
                             f"{cost.model} has no conv/GEMM layer the mapper maps")
    nests = {i: LoopNest(*(int(v) for v in graph_arrays.nest[i])).canonical() for i in rows}
    out = []
    cache: dict = {}
    needs: dict = {}
    for lv in available:
        layer_curves = []
        for i in rows:
            nest = nests[i]
            key = (nest, lv.name)
            if key not in cache:
                if nest not in needs:
                    needs[nest] = _needs(candidate_table(nest, target), target)
                cache[key] = _shape_curve(candidate_table(nest, target), target, lv, 1, needs=needs[nest])
            per_group = cache[key]
            if per_group is None:
                continue
            g = nest.groups
            curve = TrafficCurve(per_group.capacity_bytes, per_group.traffic_bytes * g, per_group.compulsory_bytes * g)
            layer_curves.append(LayerCurve(cost.layers.names[i], cost.layers.scopes[i], curve,
                                           float(mappings[i].dram_bytes)))
        if not layer_curves:
            continue
        out.append(LevelBounds(lv.name, lv.template_bytes, lv.double_buffered, tuple(layer_curves),
                               sum_curves([lc.curve for lc in layer_curves])))
    notes = ("capacity: the level's size as the template states it (a double-buffered level needs twice the tile)",
             "compulsory traffic counts the input's padded extent, as the mapper does",
             "conv/GEMM layers only: vector-unit and data-movement traffic does not depend on the buffers")
    return TrafficBounds(cost.model, cost.accelerator, tuple(out), notes)
