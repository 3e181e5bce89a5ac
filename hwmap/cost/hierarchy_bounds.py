"""Traffic-vs-capacity curves for every memory level of a ``kind: hierarchy`` template (hwmap.cost.bounds does
the single-level kinds): for level L, the least traffic across the boundary between L and the level above it
attainable with at most B bytes at L, for every B, as a step function (after Orojenesis, Huang et al., ISCA 2024).

Traffic: per operand L keeps, the bytes its parent (the next level above L keeping that operand: DRAM for the
level right below DRAM, and for an operand bypassing the levels between) moves for L, as
:mod:`hwmap.cost.multilevel.evaluate` counts them: inputs and weights read from the parent (a multicast to
several L instances read once), outputs updated in the parent (partial sums at the accumulator width, the last
drain into DRAM at the output width) and partial sums read back from it to refill L. For the level right below
DRAM this is the DRAM traffic of the operands it keeps (weights bypassing eyeriss_like's global buffer go from
DRAM straight to the first scratchpad the mapper keeps them in and are on that level's curve). Capacity: the
bytes of L's tiles (all operands L keeps, partial sums at the accumulator width, inputs with their halo) times
the level's multiple buffering: one instance's size as the template states it (a per-PE scratchpad's own).

The mapping space, per layer: the spatial unrolling and the bypass (which levels keep which operand) as the
multi-level mapper chose them for that layer; L's tile (per dim, the unrolling below L times any minimal tile
of the dim's trips over the whole unrolling, as the mapper's first-level tiles; G kept at 1: a G tile above 1
only takes room, G loops being relevant to every operand); every loop above L at DRAM in any of the six orders
of the mapper's loop classes K | C, FY, FX | B, OY, OX (G outermost), the levels between DRAM and L holding no
temporal loop and not held to their capacities, the levels below L not held either (the bound of L alone, as
Orojenesis' single buffer with an unbounded backing store). Every point is a mapping
:func:`~hwmap.cost.multilevel.evaluate.evaluate_mapping` evaluates to the same traffic and tile bytes
(tests/cost/test_hierarchy_bounds.py checks it by brute force).

What the curve at the template's capacity bounds: the mapper minimises energy (or its objective) over every
level jointly and splits the loops above L over the levels in between, so its traffic at L is at least the
curve's value at L's capacity (an order of merged loop classes is never worse per operand than an interleaving:
only the innermost class of loops above L decides which operand is reused; an argument, not a proof through
every padded edge, hence the tests), and can be above it: it trades traffic at one level for traffic and
accesses elsewhere, and holds the levels between to their capacities. The tests check curve(capacity) <=
mapped traffic on every layer and every level of the shipped hierarchy templates, and equality on a one-buffer
hierarchy whose energy is its DRAM traffic (where the mapper's exhaustive optimum is the curve's minimum).

Compulsory traffic (the floor): the traffic when L's tile is every dim's largest, each L instance holding its
whole share: each operand L keeps moved once, the input's touched extent including its padded rows and columns
(as the evaluator counts padding), outputs at the output width into DRAM and at the accumulator width into an
on-chip parent; below a level that fans out, also the copies and the halo overlaps the unrolling above L makes
unavoidable (a per-PE parent sends each PE its own copy of an operand the unrolling does not split). Right below
DRAM, with no unrolling above, it is each operand's size (tested).
"""

from __future__ import annotations

import itertools
import math
from fnmatch import fnmatchcase

import numpy as np

from hwmap.cost.bounds import LayerCurve, LevelBounds, TrafficBounds, TrafficCurve, front, sum_curves
from hwmap.cost.multilevel.evaluate import LevelResult
from hwmap.cost.multilevel.nest import Nest, operand_nest, resolve
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, extent_sum, tile_elements
from hwmap.cost.multilevel.search import minimal_tiles
from hwmap.errors import ParameterError
from hwmap.hardware.hierarchy import LOOP_DIMS, Hierarchy, MemoryLevel

__all__ = ["CLASS_DIMS", "bounded_levels", "hierarchy_traffic_bounds", "layer_curve", "mapped_boundary_bytes",
           "space_mappings"]

# The mapper's loop classes (within a class every loop is relevant to the same operands; hwmap.cost.multilevel.
# search.CLASSES): the class each operand finds irrelevant.
CLASS_DIMS: tuple[tuple[str, ...], ...] = (("K",), ("C", "FY", "FX"), ("B", "OY", "OX"))
_IRRELEVANT_CLASS = {"input": 0, "weight": 2, "output": 1}
_ORDERS = tuple(itertools.permutations(range(3)))  # outermost class first


def bounded_levels(h: Hierarchy) -> list[int]:
    """Indices of the levels a curve is drawn for: every on-chip level with a capacity (DRAM is the top)."""
    return [i for i, lv in enumerate(h.levels) if i > 0 and _template_bytes(lv) is not None]


def _template_bytes(level: MemoryLevel) -> float | None:
    if level.capacity_bytes_per_operand is not None:
        return float(sum(level.capacity_bytes_per_operand.values()))
    return level.capacity_bytes


def _effective_trips(nest: Nest, problem: LoopProblem) -> list[int]:
    """Per loop of a nest, the non-empty tiles it steps through (the evaluator's rule: ceil(min(size, tile with
    it) / tile below it))."""
    padded = dict.fromkeys(LOOP_DIMS, 1)
    eff = [0] * len(nest.loops)
    for i in range(len(nest.loops) - 1, -1, -1):
        lp = nest.loops[i]
        below = padded[lp.dim]
        padded[lp.dim] = below * lp.factor
        eff[i] = -(-min(problem.size(lp.dim), padded[lp.dim]) // below)
    return eff


def _parent(view: Nest, operand: str, level: int) -> int:
    return max(k for k in view.keepers(operand) if k < level)


def mapped_boundary_bytes(h: Hierarchy, problem: LoopProblem, nest: Nest, result: LevelResult, level: int,
                          bits: dict[str, int]) -> float:
    """Bytes crossing the boundary above ``level`` in an evaluated mapping (the module docstring's traffic),
    read from the evaluator's per-level accesses."""
    total_bits = 0.0
    for op in sorted(nest.keeps[level]):
        view = operand_nest(nest, h, op)
        p = _parent(view, op, level)
        parent = h.levels[p]
        a = result.access(parent.name, op)
        if op != "output":
            total_bits += a.read_words * parent.access_width_bits
            continue
        # The parent's output reads are the refills of L and, below DRAM, its own drains upward: R_p x F, its
        # writes (R_p - 1) x F, F = the copies of the reduction loops unrolled above it x the output elements.
        eff = _effective_trips(view, problem)
        copies = math.prod(e for e, lp in zip(eff, view.loops, strict=True)
                           if lp.spatial and lp.level < p and lp.dim not in RELEVANT[op])
        refills = a.reads if p == 0 else a.reads - a.writes - copies * problem.elements(op)
        total_bits += a.update_words * parent.access_width_bits + refills * bits["psum"]
    return total_bits / 8


# ------------------------------------------------------------------------------------------------ the space


class _Space:
    """The candidates of one layer at one level (module docstring): L's temporal tile u per dim (a flat grid)."""

    def __init__(self, h: Hierarchy, problem: LoopProblem, nest: Nest, level: int,
                 flat: np.ndarray | None = None) -> None:
        """flat: the grid's flat indices to hold (default every one; the last is every dim's largest tile)."""
        self.h, self.problem, self.nest, self.level = h, problem, nest, level
        self.sizes = problem.sizes
        self.spatial = dict.fromkeys(LOOP_DIMS, 1)
        for lp in nest.loops:
            if lp.spatial:
                self.spatial[lp.dim] *= lp.factor
        choices = [np.array([1]) if d == "G" else np.array(minimal_tiles(-(-self.sizes[d] // self.spatial[d])))
                   for d in LOOP_DIMS]
        self.grid_size = math.prod(len(c) for c in choices)
        flat = np.arange(self.grid_size) if flat is None else flat
        position = np.unravel_index(flat, [len(c) for c in choices])
        self.u = {d: c[i].astype(np.int64) for d, c, i in zip(LOOP_DIMS, choices, position, strict=True)}
        self.trips = {d: -(-self.sizes[d] // (self.u[d] * self.spatial[d])) for d in LOOP_DIMS}  # DRAM's loops

    def mapping(self, i: int, order: int) -> dict:
        """Candidate i with class order ``order`` as a form-C mapping (what the brute-force tests evaluate)."""
        base = self.nest.mapping
        levels = []
        for index, lv in enumerate(base.levels):
            temporal = []
            if index == 0:
                temporal = [["G", int(self.trips["G"][i])]] + [
                    [d, int(self.trips[d][i])] for cls in _ORDERS[order] for d in CLASS_DIMS[cls]]
            elif index == self.level:
                temporal = [[d, int(self.u[d][i])] for d in LOOP_DIMS]
            levels.append({"level": lv.level, "keeps": list(lv.keeps),
                           "temporal": [t for t in temporal if t[1] > 1]})
        return {"spatial": [s.model_dump() for s in base.spatial], "levels": levels}

    def operand_side(self, op: str, bits: dict[str, int]):
        """(bytes of op's tile at L, bits moved per class order (6 x N)) of every candidate."""
        view = operand_nest(self.nest, self.h, op)
        p = _parent(view, op, self.level)
        spatial = [lp for lp in view.loops if lp.spatial]
        at_or_below = dict.fromkeys(LOOP_DIMS, 1)
        for lp in spatial:
            if lp.level >= self.level:
                at_or_below[lp.dim] *= lp.factor
        tile = {d: self.u[d] * at_or_below[d] for d in LOOP_DIMS}  # padded tile at L
        # effective trips of the spatial loops above L: the padded tile below each one is u x the spatial
        # factors after it (no temporal loop between DRAM and L)
        grow = dict.fromkeys(LOOP_DIMS, 1)
        copies = 1
        for j, lp in enumerate(spatial):
            if lp.level >= self.level:
                continue
            below = self.u[lp.dim] * math.prod(s.factor for s in spatial[j + 1:] if s.dim == lp.dim)
            eff = -(-np.minimum(self.sizes[lp.dim], below * lp.factor) // below)
            if lp.level >= p:
                grow[lp.dim] = grow[lp.dim] * eff
            elif lp.dim not in RELEVANT[op]:
                copies = copies * eff
        clipped = {d: np.minimum(self.sizes[d], tile[d]) for d in LOOP_DIMS}
        width = bits["psum"] if op == "output" else bits[op]
        need_bytes = tile_elements(self.problem, clipped, op) * width / 8
        repeats = self._refetches(op)
        if op == "output":
            final = bits["output"] if p == 0 else bits["psum"]
            first = copies * self.problem.elements(op)
            moved = first * (2 * (repeats - 1) * bits["psum"] + final)
        else:
            union = {d: np.minimum(self.sizes[d], tile[d] * grow[d]) for d in LOOP_DIMS}
            moved = repeats * (copies * extent_sum(self.problem, union, op) * bits[op])
        return np.broadcast_to(need_bytes, self.u["K"].shape), moved

    def _refetches(self, op: str) -> np.ndarray:
        """R of the evaluator's refetch rule per class order (6 x N): the loops of op's irrelevant class count
        when a class inside them has a loop with more than one trip (G, outermost, never counts)."""
        trips = [np.prod([self.trips[d] for d in dims], axis=0) for dims in CLASS_DIMS]
        irrelevant = _IRRELEVANT_CLASS[op]
        rows = []
        for order in _ORDERS:
            inside = order[order.index(irrelevant) + 1:]
            seen = np.zeros(len(self.u["K"]), dtype=bool)
            for cls in inside:
                seen |= trips[cls] > 1
            rows.append(np.where(seen, trips[irrelevant], 1))
        return np.array(rows, dtype=float)


def space_mappings(h: Hierarchy, problem: LoopProblem, nest: Nest, level: int):
    """Every mapping of the curve's space for one layer at one level (form-C dicts), for brute-force checks."""
    space = _Space(h, problem, nest, level)
    for i in range(space.grid_size):
        for order in range(len(_ORDERS)):
            yield space.mapping(i, order)


def layer_curve(h: Hierarchy, problem: LoopProblem, nest: Nest, level: int, bits: dict[str, int]) -> TrafficCurve:
    """The step function of one layer at one level (bytes): the Pareto front over the space, taken over chunks of
    at most CHUNK candidates (the fronts of the chunks merged) so that memory stays bounded on large layers."""
    size = _Space(h, problem, nest, level, flat=np.zeros(1, dtype=np.int64)).grid_size
    capacity, traffic = [], []
    for start in range(0, size, CHUNK):
        c, t, last = _chunk_front(_Space(h, problem, nest, level, flat=np.arange(start, min(size, start + CHUNK))),
                                  bits)
        capacity.append(c)
        traffic.append(t)
    c, t = front(np.concatenate(capacity), np.concatenate(traffic))
    return TrafficCurve(c, t, last)  # compulsory: the last candidate's traffic (every dim's largest tile)


CHUNK = 1 << 18


def _chunk_front(space: _Space, bits: dict[str, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """(capacity, traffic) front of a chunk of candidates, and its last candidate's traffic."""
    lv = space.h.levels[space.level]
    parts = lv.capacity_bytes_per_operand
    moved = 0.0
    needs = {}
    for op in sorted(space.nest.keeps[space.level]):
        needs[op], bits_moved = space.operand_side(op, bits)
        moved = moved + bits_moved
    if parts is None:
        capacity = sum(needs.values()) * lv.multiple_buffering
    else:  # partitions scaled together: the largest fraction of its partition an operand needs
        scale = np.maximum.reduce([needs[op] * lv.multiple_buffering / parts[op] if parts.get(op) else
                                   np.full(needs[op].shape, np.inf) for op in needs])
        capacity = scale * sum(parts.values())
    traffic = np.asarray(moved, dtype=float) / 8
    capacity = np.broadcast_to(capacity, traffic.shape)
    ok = np.isfinite(capacity)
    c, t = front(capacity[ok].ravel(), traffic[ok].ravel())
    return c, t, float(traffic[0, -1])


# ------------------------------------------------------------------------------------------------ whole networks


def hierarchy_traffic_bounds(cost, accelerator, *, levels: list[str] | None = None,
                             layer: str | None = None) -> TrafficBounds:
    """Curves of every mapped conv/GEMM layer of an estimate on a hierarchy template (cost: its GraphCost, whose
    mappings are the multi-level mapper's MappedProblems). levels: the levels to draw (default: the level right
    below DRAM); layer: only layers whose name or module matches this glob."""
    from hwmap.cost.hierarchy_kind import _bits as mapper_bits  # the word widths the kind maps with
    from hwmap.cost.hierarchy_kind import hardware_view

    h, bits = hardware_view(accelerator), mapper_bits(accelerator.spec)
    names = [h.levels[i].name for i in bounded_levels(h)]
    if not names:
        raise ParameterError("accel", f"{cost.accelerator!r} has no on-chip level with a capacity to draw a curve for")
    chosen = levels or names[:1]
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ParameterError("level", f"{unknown[0]!r} is not a level the mapper handles on {cost.accelerator} "
                                      f"(levels: {', '.join(names)})")
    mappings = cost.layers.mappings
    rows = [i for i, m in enumerate(mappings) if m is not None
            and (layer is None or fnmatchcase(cost.layers.names[i], layer)
                 or fnmatchcase(cost.layers.scopes[i], layer))]
    if not rows:
        raise ParameterError("layer", f"{layer!r} matches no conv/GEMM layer of {cost.model}" if layer else
                             f"{cost.model} has no conv/GEMM layer the mapper maps")
    nests = {i: resolve(mappings[i].mapping, h, mappings[i].problem) for i in rows}
    out = []
    cache: dict = {}
    for name in chosen:
        index = [lv.name for lv in h.levels].index(name)
        layer_curves, parents = [], set()
        for i in rows:
            mapped, nest = mappings[i], nests[i]
            key = (mapped.problem.shape_key(), mapped.mapping.model_dump_json(), index)
            if key not in cache:
                cache[key] = (layer_curve(h, mapped.problem, nest, index, bits),
                              mapped_boundary_bytes(h, mapped.problem, nest, mapped.result, index, bits))
            curve, mapped_bytes = cache[key]
            parents |= {h.levels[_parent(operand_nest(nest, h, op), op, index)].name for op in nest.keeps[index]}
            layer_curves.append(LayerCurve(cost.layers.names[i], cost.layers.scopes[i], curve, mapped_bytes))
        lv = h.levels[index]
        out.append(LevelBounds(name, _template_bytes(lv), lv.multiple_buffering >= 2, tuple(layer_curves),
                               sum_curves([lc.curve for lc in layer_curves]), above=", ".join(sorted(parents))))
    notes = ("traffic: the bytes the level above moves for the level (inputs and weights read, multicast once; "
             "outputs updated, partial sums refilled), as hwmap.cost.multilevel.evaluate counts them",
             "capacity: one instance's bytes as the template states it (its tiles x its multiple buffering)",
             "space: the mapper's spatial unrolling and bypass per layer; the level's tile; loops above it in any "
             "class order; other levels not held to their capacities (a bound for the level alone)",
             "compulsory traffic counts the input's padded extent, as the evaluator does",
             "conv/GEMM layers only: vector-unit and data-movement traffic does not depend on the buffers")
    return TrafficBounds(cost.model, cost.accelerator, tuple(out), notes)
