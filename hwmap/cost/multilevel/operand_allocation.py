"""Per-operand loop allocation: ZigZag LOMA's split of one loop order over each operand's memories (issue 17).

The single-nest space of :mod:`.search` cuts its one loop nest at every memory level in the same place for all the
operands the level keeps, and a level listed inside another holds a subset of its loops: on Eyeriss, whose per-PE
scratchpads each keep one operand, the inputs' scratchpad can hold no loop the outputs' 16-byte register does not.
ZigZag 3.9.1's LOMA allocates per operand: each operand's memory levels take a contiguous run of the one loop
order, bottom up, as their capacity allows, the cut points differing per operand (hwmap.interop.fixed_mapping
evaluates such mappings one nest per operand, exactly as ZigZag on its 144 cross-check layers).

The space covered
-----------------
For one single-nest mapping (the base: its spatial loops, keeps and temporal loops, every level's flattened into
one order, outermost first) an **allocation** (:class:`OperandAllocation`) is an order of the base's temporal
loops and, per operand, a cut position per level that keeps it: 0 at the outermost level (DRAM), non-decreasing
inward; the level's tile is the loops from its cut inward and the operand's spatial loops below the level.
Operand o sees one nest (:meth:`OperandAllocation.nest`): each of its levels holds its run of the order, the
spatial loops stay where the base puts them, the levels that do not keep o hold none of its loops; it is
evaluated by :func:`.evaluate.evaluate_operand_nests` (each operand's counts and words from its own nest, each
level's capacity summed over the operands it keeps at their own tiles). The base is the allocation whose cuts are
its levels' first loops, and evaluates exactly as evaluate_mapping evaluates the base.

:func:`refine` searches the allocations that are **LOMA's fill** (:func:`filled`) of an order of the base's loops:
level by level from the innermost, every operand the level keeps extends its run outward, one loop at a time and
the operands in turn, while the level's tiles fit (a pre-check, :class:`_Capacity`, computes the tiles as the
evaluation's capacity check does; the evaluation checks again and an allocation that overflows is never kept).
A loop of the base's DRAM that runs its dim past the layer's edge (the search pads only DRAM's loops) stays at
DRAM for every operand: below DRAM, ZigZag bills a padded tile otherwise than hwmap's model (ZigZag's own cost
model, benchmarks/zigzag_rescore.py, differed by 0.36% on the one cross-check layer whose refined allocation had
one there).
When the loops have at most EXHAUSTIVE_ORDERS distinct orders, every order is filled (the result is the best of
that space and the base: tested against brute force on small layers); otherwise a hill climb from the base's
order by adjacent swaps (each filled), at most ``rounds`` passes. The loops, their factors, the spatial unrolling
and the keeps are the base's: nothing is re-tiled.

What it is not: the fill takes as many loops as fit, so allocations that leave a level short of its capacity
(ZigZag's LOMA leaves some: meta_prototype's layer4.1.conv1 keeps three loops in the input's 32 KB buffer where
five fit) are not reached; neither are other factorisations of the dims than the winner's. Moving one operand's
cut by a loop either way, after the climb, found nothing more on the 144 cross-check layers at about twice the
time, so it is not done. Only the search in a peer's model (search.map_problem with ``conventions``) refines.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

from hwmap.cost import objectives
from hwmap.cost.multilevel.evaluate import LevelResult, evaluate_mapping, evaluate_operand_nests
from hwmap.cost.multilevel.nest import LevelLoops, Loop, Nest, NestMapping, nested, unnested_operand_nest
from hwmap.cost.multilevel.problem import LoopProblem, tile_elements
from hwmap.hardware.hierarchy import OPERANDS, Hierarchy

__all__ = ["EXHAUSTIVE_ORDERS", "OperandAllocation", "evaluate_allocation", "filled", "refine", "refine_winner"]

#: refine tries every order of the loops when they have at most this many distinct orders (4 distinct loops: 24)
EXHAUSTIVE_ORDERS = 24


@dataclass(frozen=True)
class OperandAllocation:
    """One loop order split over each operand's keepers on its own (the module docstring).

    base: the single-nest mapping whose spatial loops, keeps and loop order it keeps; order: its temporal loops,
    outermost first; cuts[op]: per keeper of op (outermost first, DRAM's 0 included) the position in ``order``
    where the keeper's tile starts."""

    base: NestMapping
    order: tuple[tuple[str, int], ...]
    cuts: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def of(cls, base: NestMapping) -> OperandAllocation:
        """The allocation a single nest is: every keeper's cut at its level's first loop."""
        order, starts = [], []
        for level in base.levels:
            starts.append(len(order))
            order += level.temporal
        cuts = tuple((op, tuple(start for start, level in zip(starts, base.levels, strict=True) if op in level.keeps))
                     for op in OPERANDS)
        return cls(base, tuple(tuple(loop) for loop in order), cuts)

    def cuts_of(self, op: str) -> tuple[int, ...]:
        return dict(self.cuts)[op]

    def with_cuts(self, op: str, cuts: tuple[int, ...]) -> OperandAllocation:
        return OperandAllocation(self.base, self.order, tuple((o, cuts if o == op else c) for o, c in self.cuts))

    @property
    def single_nest(self) -> bool:
        """Whether one nest of the hierarchy expresses it: every level cuts the order in one place for all the
        operands it keeps, and the cuts do not decrease from a level to the levels inside it."""
        return self.level_starts() is not None

    def level_starts(self) -> tuple[int, ...] | None:
        """Each level's cut when the allocation is a single nest (single_nest), else None."""
        at: dict[int, int] = {}
        for op, cuts in self.cuts:
            for keeper, cut in zip(self.keepers(op), cuts, strict=True):
                if at.setdefault(keeper, cut) != cut:
                    return None
        starts = tuple(at.get(i, -1) for i in range(len(self.base.levels)))
        return starts if all(a <= b for a, b in zip(starts, starts[1:], strict=False)) else None

    def single_mapping(self) -> NestMapping | None:
        """The one nest (single_nest) as a mapping: each level's loops from its cut to the next level's; None when
        the operands' cuts differ."""
        starts = self.level_starts()
        if starts is None:
            return None
        stops = (*starts[1:], len(self.order))
        levels = tuple(LevelLoops.model_construct(level=lv.level, keeps=lv.keeps, temporal=self.order[start:stop])
                       for lv, start, stop in zip(self.base.levels, starts, stops, strict=True))
        return NestMapping.model_construct(spatial=self.base.spatial, levels=levels)

    def keepers(self, op: str) -> tuple[int, ...]:
        return tuple(i for i, level in enumerate(self.base.levels) if op in level.keeps)

    def mapping(self, op: str) -> NestMapping:
        """The nest operand ``op`` sees, as a mapping of the whole hierarchy: each of its keepers holds its run of
        the order, every other level none."""
        runs = dict.fromkeys(range(len(self.base.levels)), ())
        cuts = self.cuts_of(op)
        for keeper, start, stop in zip(self.keepers(op), cuts, (*cuts[1:], len(self.order)), strict=True):
            runs[keeper] = self.order[start:stop]
        levels = tuple(LevelLoops.model_construct(level=lv.level, keeps=lv.keeps, temporal=runs[i])
                       for i, lv in enumerate(self.base.levels))
        return NestMapping.model_construct(spatial=self.base.spatial, levels=levels)

    def nest(self, op: str) -> Nest:
        """flatten(self.mapping(op)), built directly (valid by construction: the base's levels, loops and spatial
        loops); its ``mapping`` is the base."""
        cuts, loops = self.cuts_of(op), []
        runs = dict(zip(self.keepers(op), zip(cuts, (*cuts[1:], len(self.order)), strict=True), strict=True))
        for index, spatial in enumerate(self._spatial_loops):
            if index in runs:
                start, stop = runs[index]
                loops += [Loop(index, dim, factor) for dim, factor in self.order[start:stop]]
            loops += spatial
        return Nest(tuple(loops), self._keeps, self.base)

    def nests(self) -> dict[str, Nest]:
        """Per operand the nest it sees (:meth:`nest`)."""
        return {op: self.nest(op) for op in OPERANDS}

    @functools.cached_property
    def _spatial_loops(self) -> tuple[tuple[Loop, ...], ...]:
        """Per level the base's spatial loops below it, as flatten makes them."""
        return tuple(tuple(Loop(index, s.dim, s.factor, s.axis) for s in self.base.spatial if s.level == lv.level)
                     for index, lv in enumerate(self.base.levels))

    @functools.cached_property
    def _keeps(self) -> tuple[frozenset[str], ...]:
        return tuple(frozenset(lv.keeps) for lv in self.base.levels)

    def loops_text(self) -> str:
        """'input: DRAM: - | glb: K2 OY2 | ispad: C2; weight: ...; output: ...': each operand's keepers and their
        loops, outermost first."""
        parts = []
        for op in OPERANDS:
            levels = self.mapping(op).levels
            parts.append(f"{op}: " + " | ".join(f"{levels[k].level}: " + (" ".join(f"{d}{f}" for d, f in
                                                                                  levels[k].temporal) or "-")
                                                 for k in self.keepers(op)))
        return "; ".join(parts)


def evaluate_allocation(hierarchy: Hierarchy, problem: LoopProblem, allocation: OperandAllocation, *, bits: dict,
                        conventions, ceiling_pj: float | None = None) -> LevelResult | None:
    """The allocation's LevelResult (evaluate.evaluate_operand_nests); None when a level overflows or (ceiling_pj)
    its energy floor is above the ceiling."""
    return evaluate_operand_nests(hierarchy, problem, allocation.nests(), operand_bits=bits,
                                  conventions=conventions, ceiling_pj=ceiling_pj)


class _Capacity:
    """Per operand and keeper, whether the operand's tile at a cut fits the level, for the fills (the tile as
    evaluate's capacity check builds it: the loops from the cut inward and the operand's spatial loops below the
    keeper, fractional as the conventions make them, clipped to the layer; the evaluation checks again)."""

    def __init__(self, hierarchy: Hierarchy, problem: LoopProblem, start: OperandAllocation, bits: dict,
                 conventions) -> None:
        self.h, self.problem, self.bits, self.clip = hierarchy, problem, bits, conventions.clip_input_to_tensor
        self.sizes = problem.sizes
        self._bytes: dict[tuple, float] = {}
        self.spatial: dict[str, list[tuple[int, str, float]]] = {}
        flat = nested(hierarchy)
        for op, nest in start.nests().items():
            view = nest if flat else unnested_operand_nest(nest, hierarchy, op)
            loops = [lp for lp in view.loops if lp.spatial]
            factors = [float(lp.factor) for lp in loops]
            if conventions.fractional_spatial_unrolling:  # evaluate._FractionalTiles' rule
                for dim in {lp.dim for lp in loops}:
                    at = [i for i, lp in enumerate(loops) if lp.dim == dim]
                    unrolled = math.prod(factors[i] for i in at)
                    if self.sizes[dim] % unrolled:
                        widest = max(at, key=lambda i: (factors[i], -i))
                        factors[widest] = (self.sizes[dim] / math.ceil(self.sizes[dim] / unrolled)
                                           / (unrolled / factors[widest]))
            self.spatial[op] = [(lp.level, lp.dim, f) for lp, f in zip(loops, factors, strict=True)]
        unrolled = {dim: math.prod(f for _, d, f in self.spatial["output"] if d == dim) for dim in self.sizes}
        stepped = {dim: math.prod(f for d, f in start.order if d == dim) for dim in self.sizes}
        #: the base's DRAM loops of dims whose loops run past the layer's edge: they stay at DRAM (module docstring)
        self.pinned = frozenset(tuple(loop) for loop in start.base.levels[0].temporal
                                if stepped[loop[0]] * unrolled[loop[0]] > self.sizes[loop[0]] * (1 + 1e-9))

    def tile_bytes(self, op: str, keeper: int, loops) -> float:
        """Bytes of op's tile at ``keeper`` holding the temporal ``loops`` (their order does not matter)."""
        key = (op, keeper, tuple(sorted(loops)))
        if key not in self._bytes:
            self._bytes[key] = self._tile_bytes(op, keeper, loops)
        return self._bytes[key]

    def _tile_bytes(self, op: str, keeper: int, loops) -> float:
        if any(tuple(loop) in self.pinned for loop in loops):
            return math.inf  # a padded loop below DRAM
        tile = dict.fromkeys(self.sizes, 1.0)
        for dim, factor in loops:
            tile[dim] *= factor
        for level, dim, factor in self.spatial[op]:
            if level >= keeper:
                tile[dim] *= factor
        tile = {d: min(self.sizes[d], t) for d, t in tile.items()}
        bits = self.bits["psum"] if op == "output" else self.bits[op]
        return float(tile_elements(self.problem, tile, op, clip_to_tensor=self.clip)) * bits / 8

    def allocation_fits(self, allocation: OperandAllocation) -> bool:
        """Whether every level holds the tiles of the operands it keeps (a pre-check: the evaluation checks too)."""
        need: dict[int, dict[str, float]] = {}
        for op, cuts in allocation.cuts:
            for keeper, cut in zip(allocation.keepers(op), cuts, strict=True):
                if keeper:
                    need.setdefault(keeper, {})[op] = self.tile_bytes(op, keeper, allocation.order[cut:])
        return all(self.fits(keeper, tiles) for keeper, tiles in need.items())

    def fits(self, keeper: int, need: dict[str, float]) -> bool:
        level = self.h.levels[keeper]
        parts = level.capacity_bytes_per_operand
        if parts is not None:
            return all(b <= parts.get(op, 0.0) / level.multiple_buffering for op, b in need.items())
        return sum(need.values()) <= level.usable_bytes


def filled(allocation: OperandAllocation, capacity: _Capacity) -> OperandAllocation:
    """LOMA's fill of ``allocation``'s order: level by level from the innermost, every operand's keeper takes the
    loops above its inner keeper's run while the level's tiles fit (the operands a level keeps extend in turn, one
    loop at a time); DRAM takes the rest."""
    keepers = {op: allocation.keepers(op) for op in OPERANDS}
    cuts = {op: [0] * len(keepers[op]) for op in OPERANDS}
    inner = dict.fromkeys(OPERANDS, len(allocation.order))  # each operand's last cut so far
    order = allocation.order
    for level in range(len(allocation.base.levels) - 1, 0, -1):
        ops = [op for op in OPERANDS if level in keepers[op]]
        cut = {op: inner[op] for op in ops}
        need = {op: capacity.tile_bytes(op, level, order[cut[op]:]) for op in ops}
        growing = [op for op in ops if capacity.fits(level, need)]
        while growing:
            for op in list(growing):
                if cut[op] == 0:
                    growing.remove(op)
                    continue
                trial = dict(need, **{op: capacity.tile_bytes(op, level, order[cut[op] - 1:])})
                if capacity.fits(level, trial):
                    cut[op], need = cut[op] - 1, trial
                else:
                    growing.remove(op)
        for op in ops:
            cuts[op][keepers[op].index(level)] = inner[op] = cut[op]
    return OperandAllocation(allocation.base, order, tuple((op, tuple(cuts[op])) for op in OPERANDS))


class _Climb:
    """The best allocation found so far; offer() evaluates a candidate and keeps it when it is better."""

    def __init__(self, hierarchy: Hierarchy, problem: LoopProblem, start: OperandAllocation, result: LevelResult, *,
                 objective: str, bits: dict, conventions) -> None:
        self.h, self.problem, self.objective, self.bits, self.conventions = hierarchy, problem, objective, bits, \
            conventions
        self.best, self.result = start, result
        self.key = objectives.choice_key(objective, result.energy_pj, result.cycles)
        self.capacity = _Capacity(hierarchy, problem, start, bits, conventions)
        self.tried = {(start.order, start.cuts)}
        self.nests: dict[tuple, Nest] = {}  # (order, operand, its cuts) -> its nest: fills often share one
        self.views: dict = {}  # evaluate_operand_nests' view_cache
        self.evaluations = 0

    def offer(self, candidate: OperandAllocation, *, fits: bool = False) -> bool:
        """Evaluate ``candidate`` (once) and keep it when it fits and beats the best; whether it did. fits: the
        capacity pre-check is known to pass (a fill)."""
        if (candidate.order, candidate.cuts) in self.tried:
            return False
        self.tried.add((candidate.order, candidate.cuts))
        if not fits and not self.capacity.allocation_fits(candidate):
            return False
        self.evaluations += 1
        nests = {}
        for op, cuts in candidate.cuts:
            nest = self.nests.get((candidate.order, op, cuts))
            if nest is None:
                nest = self.nests[(candidate.order, op, cuts)] = candidate.nest(op)
            nests[op] = nest
        result = evaluate_operand_nests(self.h, self.problem, nests, operand_bits=self.bits,
                                        conventions=self.conventions, view_cache=self.views,
                                        ceiling_pj=self.result.energy_pj if self.objective == "energy" else None)
        if result is None or not result.fits:
            return False
        key = objectives.choice_key(self.objective, result.energy_pj, result.cycles)
        if key >= self.key:
            return False
        self.best, self.result, self.key = candidate, result, key
        return True


def refine(hierarchy: Hierarchy, problem: LoopProblem, base: NestMapping, base_result: LevelResult, *,
           objective: str, bits: dict, conventions, rounds: int = 8) -> tuple[OperandAllocation, LevelResult]:
    """The best allocation of the module docstring's space found from ``base`` (a single nest that fits, evaluated
    as ``base_result`` under ``conventions``) and its LevelResult: the base's own when nothing beats it.
    rounds: at most this many passes over the adjacent swaps of the best order."""
    start = OperandAllocation.of(base)
    climb = _Climb(hierarchy, problem, start, base_result, objective=objective, bits=bits, conventions=conventions)
    orders = _few_orders(start.order)
    if orders is not None:  # every order, each filled
        for order in orders:
            climb.offer(filled(OperandAllocation(base, order, start.cuts), climb.capacity), fits=True)
        return climb.best, climb.result
    climb.offer(filled(start, climb.capacity), fits=True)
    for _ in range(rounds):
        current = climb.best
        improved = False
        for i in range(len(current.order) - 1):
            improved |= climb.offer(filled(swapped(current, i), climb.capacity), fits=True)
        if not improved:
            break
    return climb.best, climb.result


def refine_winner(hierarchy: Hierarchy, problem: LoopProblem, mapping: NestMapping, result: LevelResult, *,
                  objective: str, bits: dict, conventions) -> tuple[NestMapping, LevelResult, OperandAllocation | None]:
    """refine for the search (search._map_under's winner): (mapping, result, allocation) with allocation None when
    one nest expresses the best allocation found (mapping is then that nest, result its evaluate_mapping), else
    the base mapping, the allocation's evaluation and the allocation."""
    allocation, refined = refine(hierarchy, problem, mapping, result, objective=objective, bits=bits,
                                 conventions=conventions)
    if refined is result:
        return mapping, result, None
    single = allocation.single_mapping()
    if single is None:
        return mapping, refined, allocation
    return single, evaluate_mapping(hierarchy, problem, single, operand_bits=bits, strict=False,
                                    conventions=conventions), None


def _few_orders(order: tuple) -> list[tuple] | None:
    """Every distinct order of ``order``'s loops when there are at most EXHAUSTIVE_ORDERS of them, else None."""
    if math.factorial(len(order)) > 24 * EXHAUSTIVE_ORDERS:  # too many even with repeated loops
        return None
    distinct = sorted(set(itertools.permutations(order)))
    return distinct if len(distinct) <= EXHAUSTIVE_ORDERS else None


def swapped(allocation: OperandAllocation, i: int) -> OperandAllocation:
    """The allocation with loops i and i + 1 of its order swapped (cuts unchanged)."""
    order = list(allocation.order)
    order[i], order[i + 1] = order[i + 1], order[i]
    return OperandAllocation(allocation.base, tuple(order), allocation.cuts)
