"""The multi-level mapper: spatial unrolling, per-level tiles, loop orders and bypass of one layer (issue 17).

The space searched
------------------
- **Spatial unrolling.** Each array axis fans out below every level whose instances multiply along it, one slot
  per such level (Simba's Y: 4 lanes below the input buffers, then a 4-wide MAC vector below the accumulation
  buffers; in a hierarchy whose operands fan out at different levels, one slot above the MACs, each operand seeing
  it below its own keeper where its instances multiply, as :func:`.nest.operand_nest`). Per slot, the template's
  SpatialUnrolling entries give the choices: a fixed entry with factors is taken as it is (at the axis's first
  slot); a fixed entry without factors unrolls its
  dims greedily (each min(its size, what is left of the axis)); a free entry offers each of its dims with factor
  min(size, axis) and the largest divisor of the size <= the axis. An axis with no entry is not unrolled. Choices
  that use fewer than half the PEs of the best choice are left out. ``spatial=`` (form-C entries) fixes it instead.
- **Bypass.** Operands a level may keep (neither kept nor bypassed by the template): every keep/bypass subset
  in which each level has room for one element of each operand it keeps, when there are at most
  MAX_FREE_KEEP_CHOICES such choices in the hierarchy; else two: all kept, and the stated keeps (a level that
  names what it keeps keeps only that).
- **Tiles.** Per dim, the tile T(l) each memory level l >= 1 stores (per instance, spatial loops below it
  included): T(1) = S x m with S the dim's spatial unrolling below level 1 and m any *minimal* tile of
  ceil(size / S) (ceil(n / t) for t = 1..n: the smallest tile with each trip count); deeper tiles divide the
  tile above over its spatial loop (T(l) | T(l-1) / spatial(l-1)) and are multiples of the unrolling below them.
  So DRAM's loop may pad (ceil); every loop below it is exact. Each level's loop factor is the ratio of tiles.
- **Loop order.** Per level, the order of the three classes K | C, FY, FX | B, OY, OX (within a class every
  loop is relevant to the same operands, so its order changes nothing in the model of :mod:`.evaluate`); G
  outermost at DRAM. The innermost level's order does not matter (the MACs hold nothing).
- **Capacity.** Every level's tiles fit its usable bytes (per operand where it is partitioned).

One loop nest serves every operand (:func:`.nest.resolve`): each level's temporal loops are the same for all the
operands it keeps. ZigZag's per-operand allocation (each operand's temporal loops split over its own memories on
their own, hwmap.interop.fixed_mapping's per-operand evaluation) is outside this space; in a peer's model (below)
the winner is refined in it (:mod:`.operand_allocation`).

The search
----------
Per (spatial, bypass) option, top-down over the levels: stage l chooses T(l) and level l-1's class order for
every state kept from stage l-1, and prices exactly what they fix (the fills of level l and the reads/updates of
its parents, through the refetch recurrence of :mod:`.evaluate`), vectorised with numpy. Exact prunings: an
order is dropped when another order's refetch counts are no higher for every operand (every cost grows with
them, now and below); an option is skipped when its lower bound exceeds the best mapping found; with objective
energy, a state whose ranking energy (below: its energy so far plus a lower bound of what is still to come) exceeds
the best mapping an earlier option reached is dropped. Heuristic cuts (each one clears ``exhaustive``):

- a stage keeps the ``beam`` states with the best objective so far, their energy raised by a lower bound of the
  next boundary of every operand still to be kept below (its refetch count cannot fall, and cannot stay below the
  product of the irrelevant loops above when its tile cannot fit the next keeper); of states with the same future
  (the same tile at the stage's level, refetch counts R and A per operand and spatial trips: every cost still to
  come is the same for them, bar the transfer-time terms of the cycles) only the best is kept, so the beam holds
  distinct futures rather than one tile reached by many splits above it; a stage whose states had few children
  keeps more (up to ``widen`` x ``beam``, about STAGE_CHILDREN children in all at the next stage), so small
  layers and deep levels are searched wider for the work a large layer's beam costs;
- at most ``per_dim`` tile choices per dim and level (geometrically spaced, both ends kept), and at level 1 the
  longest lists shortened until their product is at most ``first_level_cap``;
- with more than ``shortlist`` options, only the ``shortlist`` ones with the least lower bounds (below) are
  searched (the bound is dominated by the MACs' scratchpad reads, which the unrolling's multicast sets), and as
  many least-bound options with the template's stated keeps (:func:`stated_keeps`) as were not among them: the bound
  ignores capacity, so it favours keeping every operand in tiny per-PE levels (on eyeriss_like, where each
  scratchpad may also keep the other two operands, the three least bounds all do, and map ResNet-50 to 2.2x the
  energy of the best option).

When nothing was cut (small layers), the result is the exact optimum of the space above (``exhaustive``; tested
against brute force at every level in tests/cost/test_multilevel_search.py). Always, ``gap`` = objective value /
lower bound - 1, the bound being the least over the options of: every operand element read once from each
parent and written once into each level that keeps it (outputs drained once), the MACs' reads of the innermost
keepers with the most multicast the option's unrolling allows, every MAC's energy, leakage over the fewest
cycles (each dim's trips over its unrolling).
The winner is re-evaluated by :func:`.evaluate.evaluate_mapping`: its LevelResult is the one reported.

In a peer's model (``conventions=``, e.g. ZigZag 3.9.1's)
---------------------------------------------------------
The space changes in two ways: a dim whose unrolling does not divide it (fractional in ZigZag, which bills
padded iterations at the fractional width) takes at level 1 only tiles that divide its trips (no padded
iteration), and the innermost level's class order is searched too (ZigZag's MACs hold an operand over the
innermost loops irrelevant to it). The beam prices inputs as ZigZag counts them (clipped to the real tensor,
fractional tiles, rows of whole output rows) and everything else in hwmap's model; no state or option is pruned
by hwmap's bounds or by another option's energy (the heuristic shortlist of options, with the stated keeps, applies
as above). Per option the ``finalists`` best final states, each with every
innermost order, are evaluated under the conventions and the best there wins (objective energy: a finalist whose
port-word energy floor, evaluate.energy_floor_pj, is already above the best's is not evaluated further; the floor
is its energy less the leakage of stall cycles, so the skip never changes the winner). When nothing was cut (small
layers, every final state re-ranked) the result is the optimum in the peer's model over that space (tested
against brute force in tests/cost/test_multilevel_search_conventions.py). Then (``operand_allocation``, on by
default) the winner's loops are re-allocated per operand as ZigZag's LOMA allocates them
(:func:`.operand_allocation.refine`: orders of the winner's loops, each operand's levels filled bottom up as their
capacity allows, the cut points differing per operand), and the cheapest allocation wins, the winner itself when
none is cheaper. The lower bound is then the MACs' energy and the leakage over the fewest cycles (every memory
term of either model is >= 0).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hwmap.cost import objectives
from hwmap.cost.multilevel.evaluate import (
    HWMAP_CONVENTIONS,
    LevelResult,
    evaluate_mapping,
    evaluate_unless_above,
    operand_bits_of,
)
from hwmap.cost.multilevel.floors import NestBatch, floors_and_cycles
from hwmap.cost.multilevel.nest import LevelLoops, MappingError, NestMapping, fanout_of, flatten, nested
from hwmap.cost.multilevel.operand_allocation import OperandAllocation, refine_winner
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, _rows, extent_sum, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["MappedProblem", "lower_bound", "map_problem", "option_bound", "spatial_options"]

CLASSES: tuple[tuple[str, ...], ...] = (("K",), ("C", "FY", "FX"), ("B", "OY", "OX"))
CLASS_ORDERS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(3)))
IRRELEVANT_CLASS = {"input": 0, "weight": 2, "output": 1}
_DIM = {d: i for i, d in enumerate(LOOP_DIMS)}
_ND = len(LOOP_DIMS)
# Per operand, (orders, classes): whether the class is relevant to it and lies inside its irrelevant class.
_EARLIER = np.tril(np.ones((len(CLASS_ORDERS), len(CLASS_ORDERS)), dtype=bool), -1)
_INNER_RELEVANT = {op: np.array([[int(cls != IRRELEVANT_CLASS[op] and order.index(cls) > order.index(
    IRRELEVANT_CLASS[op])) for cls in range(3)] for order in CLASS_ORDERS]) for op in OPERANDS}
# A stage whose states have few children keeps more of them (up to widen x beam): about this many children
# in all at the next stage, the work of 64 states with 128 children each.
STAGE_CHILDREN = 8192
# Random weights that hash a state's future (its tile, refetch counts and spatial trips) to one float.
_HASH = np.random.default_rng(17).uniform(1.0, 2.0, 256)


# Per class order: the dims of a level's temporal loops, outermost first (G first, as _Search._temporal lists them).
_CLASS_DIMS = [[LOOP_DIMS.index(d) for d in dims] for dims in CLASSES]
_ORDER_DIMS = np.array([[LOOP_DIMS.index("G")] + [d for c in order for d in _CLASS_DIMS[c]] for order in CLASS_ORDERS])
# Per set of classes that move at a level (bit c: class c has a factor > 1): the class orders giving distinct loop
# lists (the first of each), ascending: the orders that list only the moving classes alike give one list.
_DISTINCT_ORDERS = [np.array(sorted({tuple(c for c in order if moving >> c & 1): i for i, order in
                                     reversed(list(enumerate(CLASS_ORDERS)))}.values())) for moving in range(8)]


def _order_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per level pattern (bits 0-2: which classes move; bits 3-5: which operands' irrelevant trips can re-fetch):
    per class order and operand whether its irrelevant trips re-fetch (they lie above a relevant class that
    moves), and which orders no other order beats (below, _Search._stage)."""
    keys = np.arange(64)
    moving = (keys[:, None] >> np.arange(3)) & 1  # (64, classes)
    active = ((keys[:, None] >> 3) >> np.arange(3)) & 1  # (64, operands)
    inner = np.stack([(moving @ _INNER_RELEVANT[op].T) > 0 for op in OPERANDS], 2)  # (64, orders, operands)
    bits = inner & active[:, None, :].astype(bool)
    # An order's R exceeds another's for an operand exactly when its bit is set and the other's is not: compare
    # the 3-bit codes as sets; of equal codes the first order is kept.
    code = bits[:, :, 0] + 2 * bits[:, :, 1] + 4 * bits[:, :, 2]  # (64, orders)
    subset = (code[:, :, None] & ~code[:, None, :]) == 0  # [key, i, j]: order i re-fetches no more than j
    beaten = np.any(subset & ((code[:, :, None] != code[:, None, :]) | _EARLIER.T), axis=1)
    return bits, ~beaten


_ORDER_BITS, _ORDER_KEPT = _order_tables()
_K, _CFF, _BOO, _G = [_DIM["K"]], [_DIM[d] for d in CLASSES[1]], [_DIM[d] for d in CLASSES[2]], _DIM["G"]


@dataclass(frozen=True)
class MappedProblem:
    """The best mapping found, its evaluation, the lower bound and the gap (objective value / bound - 1)."""

    problem: LoopProblem
    objective: str
    mapping: NestMapping
    result: LevelResult
    value: float
    lower_bound: float
    exhaustive: bool
    candidates: int
    # under a peer's conventions, the per-operand loop allocation refined from ``mapping`` (operand_allocation;
    # None: ``mapping`` as it is); ``result`` is then its evaluation
    allocation: OperandAllocation | None = None

    @property
    def gap(self) -> float:
        return self.value / self.lower_bound - 1.0 if self.lower_bound > 0 else 0.0

    def loops_text(self) -> str:
        """'DRAM: K4 C2 | glb: OX2 K16 | ...': every level's temporal loops, outermost first (per operand when the
        operands' loops are allocated separately)."""
        if self.allocation is not None:
            return self.allocation.loops_text()
        return " | ".join(f"{lv.level}: " + (" ".join(f"{d}{f}" for d, f in lv.temporal) or "-")
                          for lv in self.mapping.levels)

    def spatial_text(self) -> str:
        return " ".join(f"{s.level}.{s.axis}:{s.dim}{s.factor}" for s in self.mapping.spatial) or "-"

    def record(self) -> dict:
        """Flat columns for --json/--csv: the mapping, its gap, and every level x operand's accesses (elements)."""
        rec = {"map_mode": "multilevel", "map_objective": self.objective, "map_spatial": self.spatial_text(),
               "map_loops": self.loops_text(), "map_gap": self.gap, "map_exhaustive": self.exhaustive}
        for level in self.result.level_energy_pj:
            for op in OPERANDS:
                a = self.result.access(level, op)
                rec.update({f"{level}_{op}_reads": a.reads, f"{level}_{op}_writes": a.writes,
                            f"{level}_{op}_updates": a.updates})
        return rec


@dataclass(frozen=True)
class _Option:
    sp: np.ndarray  # (M, 8) spatial factor of each dim below each level
    entries: tuple[dict, ...]  # form-C spatial entries
    keeps: tuple[frozenset, ...]


# ------------------------------------------------------------------------------------------------ the space


def spatial_options(h: Hierarchy, problem: LoopProblem, spatial=None) -> list[tuple[np.ndarray, tuple[dict, ...]]]:
    """The spatial unrollings of the space (see the module docstring): (factors per level x dim, entries)."""
    m = len(h.levels)
    names = [lv.name for lv in h.levels]
    if spatial is not None:
        sp = np.ones((m, _ND), dtype=np.int64)
        entries = tuple(dict(e) for e in spatial)
        for e in entries:
            if e.get("level") not in names or e.get("dim") not in _DIM:
                raise MappingError(f"spatial: {e}: expected a level of {names} and a dim of {list(LOOP_DIMS)}")
            at = names.index(e["level"]) if nested(h) else m - 1
            sp[at, _DIM[e["dim"]]] *= int(e["factor"])
        return [(sp, entries)]
    per_axis = []
    for a, axis in enumerate(h.array_axes):
        if nested(h):  # every level fanning out along the axis is one slot (Simba's lanes, then its MAC vector)
            slots = [(i, fanout_of(h, i)[a]) for i in range(m) if fanout_of(h, i)[a] > 1]
        else:  # per-operand fanouts: the unrolling sits above the MACs; each operand sees it at its own level
            slots = [(m - 1, h.compute.mesh[a])] if h.compute.mesh[a] > 1 else []
        for j, (level, fanout) in enumerate(slots):
            per_axis.append([[(level, axis, d, f) for d, f in choice]
                             for choice in _axis_choices(h, problem, axis, fanout, first_slot=j == 0)])
    options = []
    for combo in itertools.product(*[choices or [[]] for choices in per_axis]):
        sp = np.ones((m, _ND), dtype=np.int64)
        entries = []
        for choice in combo:
            for level, axis, d, f in choice:
                sp[level, _DIM[d]] *= f
                entries.append({"level": names[level], "axis": axis, "dim": d, "factor": f})
        if all(sp[:, i].prod() <= problem.size(d) for i, d in enumerate(LOOP_DIMS)):
            options.append((sp, tuple(entries)))
    if not options:
        return [(np.ones((m, _ND), dtype=np.int64), ())]
    use = [int(sp.prod()) for sp, _ in options]
    return [o for o, u in zip(options, use, strict=True) if 2 * u >= max(use)]


def _axis_choices(h: Hierarchy, problem: LoopProblem, axis: str, fanout: int, *, first_slot: bool = True
                  ) -> list[list[tuple[str, int]]]:
    """The unrollings of one slot (a level's fanout along ``axis``); an entry's stated factors are the axis's, so
    they go to its first slot only."""
    choices: list[list[tuple[str, int]]] = []
    for u in (u for u in h.spatial if u.axis == axis):
        if u.fixed and u.factors:
            if not first_slot:
                continue
            choices.append([(d, min(f, problem.size(d))) for d, f in u.factors.items()])
        elif u.fixed:
            left, choice = fanout, []
            for d in u.dims:
                f = min(problem.size(d), left)
                left //= f
                choice.append((d, f))
            choices.append(choice)
        else:
            for d in u.dims:
                size = problem.size(d)
                divisor = max(x for x in range(1, min(size, fanout) + 1) if size % x == 0)
                choices += [[(d, f)] for f in sorted({min(size, fanout), divisor}) if f > 1]
    unique = []
    for c in choices:
        if c not in unique:
            unique.append(c)
    return unique


# Free (level, operand) keep choices enumerated exhaustively up to this many (2^10 assignments, pruned by the
# levels' room; eyeriss_like has 6, Timeloop's simple_weight_stationary 9); beyond, the two assignments below.
MAX_FREE_KEEP_CHOICES = 10


def stated_keeps(h: Hierarchy) -> tuple[frozenset, ...]:
    """The template's own reading of its keeps: a level that names what it keeps keeps only that (as Timeloop's
    designs write a register's or scratchpad's ``keep: [Weights]``), one that names none keeps all it may."""
    return tuple(frozenset(lv.may_keep) if i == 0 or not lv.keeps else frozenset(lv.keeps)
                 for i, lv in enumerate(h.levels))


def _bypass_options(h: Hierarchy, bits: dict[str, int] | None = None) -> list[tuple[frozenset, ...]]:
    """Every assignment of the free keep choices (operands a level neither keeps nor bypasses) in which every
    level keeps an operand and, given ``bits``, has room for one element of each operand it keeps; with more than
    MAX_FREE_KEEP_CHOICES free choices, all kept and the stated keeps (:func:`stated_keeps`). When no assignment
    has the room, every one is returned (the search then reports which level overflows)."""
    free = [(i, op) for i, lv in enumerate(h.levels) for op in lv.may_keep if op not in lv.keeps and i > 0]
    if len(free) > MAX_FREE_KEEP_CHOICES:
        every = tuple(frozenset(lv.may_keep) for lv in h.levels)
        stated = stated_keeps(h)
        out = [every] if stated == every else [every, stated]
    else:
        base = [set(lv.may_keep) if i == 0 else set(lv.keeps) for i, lv in enumerate(h.levels)]
        out = []
        for mask in itertools.product((False, True), repeat=len(free)):
            keeps = [set(b) for b in base]
            for (i, op), keep in zip(free, mask, strict=True):
                if keep:
                    keeps[i].add(op)
            if all(keeps):
                out.append(tuple(frozenset(k) for k in keeps))
    if bits is None:
        return out
    roomy = [keeps for keeps in out if all(_holds_one_of_each(lv, kept, bits) for lv, kept in zip(h.levels, keeps,
                                                                                                  strict=True))]
    return roomy or out


def _holds_one_of_each(level, kept: frozenset, bits: dict[str, int]) -> bool:
    """Whether ``level`` has room for one element of every operand in ``kept`` (outputs as partial sums)."""
    need = {op: (bits["psum"] if op == "output" else bits[op]) / 8 for op in kept}
    return bool(np.all(_holds(level, need)))


def _holds(level, need: dict, rows: int = 1) -> np.ndarray:
    """Whether ``level`` holds tiles of ``need`` bytes per operand (``rows`` tilings as arrays, or numbers): each
    within its share where the level is partitioned per operand, else all within its usable bytes."""
    if level.capacity_bytes_per_operand is not None:
        ok = np.ones(rows, dtype=bool)
        for op, b in need.items():
            ok &= b <= level.capacity_bytes_per_operand.get(op, 0.0) / level.multiple_buffering
        return ok
    total = sum(need.values()) if need else np.zeros(rows)
    return total <= level.usable_bytes


@lru_cache(maxsize=4096)
def minimal_tiles(n: int) -> tuple[int, ...]:
    """ceil(n / t) for t = 1..n, ascending: the smallest tile with each trip count."""
    return tuple(np.unique(-(-n // np.arange(1, n + 1))).tolist())


@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple[int, ...]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def _thin(values: tuple[int, ...], most: int) -> tuple[tuple[int, ...], bool]:
    """At most ``most`` values, spaced evenly on a log scale, both ends kept; and whether any was dropped."""
    if len(values) <= most:
        return values, False
    logs = np.log(np.array(values, dtype=float))
    targets = np.linspace(logs[0], logs[-1], most)
    picked = sorted({int(np.argmin(np.abs(logs - t))) for t in targets})
    return tuple(values[i] for i in picked), True


# ------------------------------------------------------------------------------------------------ the search


class _Search:
    def __init__(self, h, problem, option: _Option, bits, objective, beam, per_dim, first_level_cap, widen=1,
                 incumbent: float | None = None, finals: int | None = None, conventions=None):
        self.h, self.p, self.o, self.bits = h, problem, option, bits
        self.conventions = conventions
        # None: the best final state; n: the n best final states, each with every order of the innermost level,
        # as mappings for map_problem to rank under a peer's conventions (_finalists)
        self.finals = finals
        # the best energy another option reached: a state whose score (a lower bound of its energy) exceeds it
        # cannot win (objective energy only; exact)
        self.incumbent = incumbent if objective == "energy" else None
        self.objective, self.beam, self.per_dim, self.widen = objective, beam, per_dim, widen
        self.m = len(h.levels)
        self.leakage = h.leakage_pj_per_cycle()  # pJ per cycle, every stage asks
        # whether a stage's score needs its states' cycles (else the energy alone: the bytes they move, which only
        # the cycles read, are added for the states the stage keeps)
        self.cycles_ranked = not (objective == "energy" and not self.leakage)
        self.size = np.array([problem.size(d) for d in LOOP_DIMS], dtype=np.int64)
        sp = option.sp
        self.s_geq = np.flip(np.cumprod(np.flip(sp, axis=0), axis=0), axis=0)  # (M, 8): unrolling at >= level
        self.keepers = {op: tuple(i for i, k in enumerate(option.keeps) if op in k) for op in OPERANDS}
        self.exhaustive = True
        self.candidates = 0
        self.nested = nested(h)
        # Hierarchies whose operands fan out at different levels: every spatial loop sits at the last level of
        # the nest; operand o sees it below its keeper where its instances multiply (nest.operand_nest): spo[o]
        # places the factors there, outside[o][l] are those the tile at l holds in the nest but not for o.
        self.spo, self.outside = {}, {}
        for op in OPERANDS:
            spo = np.ones((self.m, _ND), dtype=np.int64)
            if not self.nested:
                keepers = self.keepers[op]
                meshes = [h.levels[k].mesh for k in keepers] + [h.compute.mesh]
                for e in option.entries:
                    a = h.array_axes.index(e["axis"])
                    j = next((j for j in range(len(keepers)) if meshes[j + 1][a] > meshes[j][a]), len(keepers) - 1)
                    spo[keepers[j], _DIM[e["dim"]]] *= int(e["factor"])
            self.spo[op] = spo
            outside = np.ones((self.m, _ND), dtype=np.int64)
            if not self.nested:
                outside[1:] = np.cumprod(spo, axis=0)[:-1]
            self.outside[op] = outside
        # the (op, level) pairs whose tile the nest's holds as it is (always, in a nested hierarchy)
        self.own_tile = {(op, lv): self.nested or bool((self.outside[op][lv] == 1).all())
                         for op in OPERANDS for lv in range(self.m)}
        self.choice_memo: dict[tuple[int, int, int], tuple[tuple[int, ...], bool]] = {}
        self.spatial_loops = None  # the option's spatial entries, validated (_unchecked_mapping)
        self.level_loops: dict[tuple[int, tuple], LevelLoops] = {}  # (level, temporal loops) -> its LevelLoops
        # ZigZag's fractional unrolling (evaluate._FractionalTiles): a dim whose unrolling U does not divide it is
        # unrolled size / ceil(size / U) wide, a tile holding that unrolling shrinks by the ratio below
        self.unrolled = np.prod(sp, axis=0)
        exact = self.size % self.unrolled == 0
        self.fraction = np.where(exact, 1.0, self.size / (-(-self.size // self.unrolled) * self.unrolled))
        self.fractional = conventions is not None and conventions.fractional_spatial_unrolling and not exact.all()
        self.first_limit = self._first_level_limits(first_level_cap)

    def _first_level_limits(self, cap: int) -> list[int]:
        """Tile choices per dim at level 1 (the one stage whose choices all rows share): per_dim, then the
        longest lists cut one by one until their product is at most ``cap``."""
        lengths = [len(self._level1_values(d)) for d in range(_ND)]
        limits = [min(n, self.per_dim) for n in lengths]
        while math.prod(limits) > cap and max(limits) > 2:
            limits[limits.index(max(limits))] -= 1
        return limits

    def _level1_values(self, d: int) -> tuple[int, ...]:
        base = int(self.s_geq[1, d])
        top = -(-int(self.size[d]) // int(self.o.sp[0, d]))
        if self.fractional and self.fraction[d] != 1.0:  # ZigZag bills padded trips at the fractional width
            return tuple(base * m for m in _divisors(-(-top // base)))
        return tuple(base * m for m in minimal_tiles(-(-top // base)))

    # per-dim tile choices of one level, given the tile above (stage >= 2) ------------------------------------
    def _choices(self, level: int, above: int, d: int) -> tuple[int, ...]:
        key = (level, above, d)
        hit = self.choice_memo.get(key)
        if hit is None:
            if level == 1:
                values, most = self._level1_values(d), self.first_limit[d]
            else:
                base = int(self.s_geq[level, d])
                q = above // int(self.o.sp[level - 1, d])
                values, most = tuple(base * x for x in _divisors(q // base)), self.per_dim
            hit = self.choice_memo[key] = _thin(values, most)
        self.exhaustive &= not hit[1]
        return hit[0]

    def _expand(self, level: int, parents: np.ndarray):
        """Rows (parent state, tile vector) of level ``level`` that fit its capacity."""
        rows = np.arange(len(parents), dtype=np.int64)
        tiles = np.tile(self.s_geq[level], (len(parents), 1))
        relevant = {_DIM[d] for op in self.o.keeps[level] for d in RELEVANT[op]}
        unchecked = False  # a relevant dim's tile was set since the last capacity check
        for d in range(_ND):
            if not len(rows):
                break
            column = parents[rows, d]
            if column.min() == column.max():  # one parent tile: one list for every row
                values, inverse = column[:1], np.zeros(len(rows), dtype=np.int64)
            else:
                values, inverse = np.unique(column, return_inverse=True)
            lists = [self._choices(level, int(v), d) for v in values]
            if all(len(c) == 1 for c in lists):  # nothing to choose along this dim: checked with the next
                tiles[:, d] = np.array([c[0] for c in lists])[inverse]
                unchecked |= d in relevant
                continue
            if unchecked:  # before multiplying the rows
                keep = self._fits(level, tiles)
                rows, tiles, inverse, unchecked = rows[keep], tiles[keep], inverse[keep], False
            width = max(len(c) for c in lists)
            table = np.zeros((len(lists), width), dtype=np.int64)
            present = np.zeros((len(lists), width), dtype=bool)
            for i, c in enumerate(lists):
                table[i, :len(c)], present[i, :len(c)] = c, True
            mask = present[inverse]
            counts = mask.sum(axis=1)
            tiles = np.repeat(tiles, counts, axis=0)
            tiles[:, d] = table[inverse][mask]
            rows = np.repeat(rows, counts)
            if d in relevant:
                keep = self._fits(level, tiles)
                rows, tiles = rows[keep], tiles[keep]
        if unchecked and len(rows):
            keep = self._fits(level, tiles)
            rows, tiles = rows[keep], tiles[keep]
        return rows, tiles

    def _view(self, eff_sp: np.ndarray, op: str) -> np.ndarray:
        """The spatial trips per level as op sees them (the nest's own in a nested hierarchy)."""
        return eff_sp if self.nested else np.broadcast_to(self.spo[op], eff_sp.shape)

    def _tile_of(self, tiles: np.ndarray, op: str, level: int) -> np.ndarray:
        """op's tile at ``level`` from the nest's tile there (without the spatial loops op sees above it)."""
        return tiles if self.own_tile[(op, level)] else tiles // self.outside[op][level]

    def _need(self, level: int, tiles: np.ndarray) -> dict[str, np.ndarray]:
        """Bytes of every operand's tile at ``level`` (per instance)."""
        need = {}
        for op in (o for o in OPERANDS if o in self.o.keeps[level]):
            own = np.minimum(self._tile_of(tiles, op, level), self.size)
            need[op] = tile_elements(self.p, self._dims(own), op) * self._bits(op) / 8
        return need

    def overflow(self) -> str | None:
        """The first level even the smallest tiles (the unrolling below it only) overflow, as one line."""
        for level in range(1, self.m):
            need = self._need(level, self.s_geq[level][None, :])
            if not self._fits(level, self.s_geq[level][None, :])[0]:
                lv = self.h.levels[level]
                parts = ", ".join(f"{op} {float(b[0]):g}" for op, b in need.items())
                room = (f"{lv.usable_bytes:g} usable bytes" if lv.capacity_bytes_per_operand is None else
                        "per-operand capacities " + ", ".join(f"{op} {b / lv.multiple_buffering:g}" for op, b in
                                                              lv.capacity_bytes_per_operand.items()))
                return f"{lv.name}: even the smallest tiles need {parts} bytes, more than its {room}"
        return None

    def _fits(self, level: int, tiles: np.ndarray) -> np.ndarray:
        return _holds(self.h.levels[level], self._need(level, tiles), len(tiles))

    def _bits(self, op: str) -> int:
        return self.bits["psum"] if op == "output" else self.bits[op]

    # the stages ----------------------------------------------------------------------------------------------
    def run(self):
        m = self.m
        st = {"T": np.zeros((1, m + 1, _ND), dtype=np.int64), "eff_sp": np.ones((1, m, _ND), dtype=np.int64),
              "R": np.ones((1, 3)), "A": np.ones((1, 3)), "energy": np.zeros(1), "bytes_r": np.zeros((1, m)),
              "bytes_w": np.zeros((1, m)), "order": np.zeros((1, m), dtype=np.int64)}
        st["T"][:, 0] = self.size
        if m == 1:
            return None  # nothing on chip to map onto
        for level in range(1, m):
            st = self._stage(level, st)
            if st is None:
                return None
        return st

    def _stage(self, level: int, st: dict):
        """Stage ``level``: every kept state x every fitting tile of the level x the orders of level - 1 that
        change a refetch count; priced, then cut to the beam (or, at the last level, finished)."""
        parents = st["T"][:, level - 1] if level > 1 else np.tile(self.size, (len(st["energy"]), 1))
        rows, tiles = self._expand(level, parents)
        if not len(rows):
            return None
        t = st["T"][rows]
        t[:, level] = tiles
        if level == 1:
            sp0 = self.o.sp[0]
            t[:, 0] = -(-self.size // (sp0 * tiles)) * sp0 * tiles
        eff_sp = st["eff_sp"][rows]
        eff_t = self._effs(t, eff_sp, level - 1)
        rel, x, key = self._recurrence(eff_t)
        # Keep the orders whose refetches no other order beats on every operand (ties: the first order): every
        # cost grows with R, now and below (the recurrence never lowers it), so the others cannot win.
        pick, order = np.nonzero(_ORDER_KEPT[key])
        self.candidates += len(pick)
        from_parent = rows[pick]
        a_prev = st["A"][from_parent]
        repeats = np.where(rel[pick], a_prev * np.where(_ORDER_BITS[key[pick], order], x[pick], 1),
                           st["R"][from_parent])
        above = a_prev * x[pick]
        energy = st["energy"][from_parent]
        charges = []  # (level, action, elements, bits) in pricing order: the bytes each moves (_moved)
        for op in (o for o in OPERANDS if o in self.o.keeps[level]):  # a fixed order: sums as every run sums
            k = OPERANDS.index(op)
            for at, action, bits, x0, x1 in self._price(t, eff_sp, op, level):
                elements = x0[pick] + x1[pick] * repeats[:, k]
                energy += self._pj(at, action, elements, bits)
                charges.append((at, action, elements, bits))
        bytes_r = bytes_w = None  # every row's only where its cycles are needed now; else the kept rows' below
        if level == self.m - 1 or self.cycles_ranked:
            bytes_r, bytes_w = self._moved(st, from_parent, charges)
        if level == self.m - 1:
            self._effs(t, eff_sp, level)
            return self._finish(t, eff_sp, rows, pick, order, st["order"], energy, bytes_r, bytes_w)
        score = self._score(t, eff_sp, pick, repeats, above, energy, bytes_r, bytes_w, level)
        children = len(pick) / len(st["energy"])  # per state kept at the stage above: the next stage's, about
        width = int(min(self.beam * self.widen, max(self.beam, STAGE_CHILDREN / max(children, 1.0))))
        if self.incumbent is not None:
            score = np.where(score <= self.incumbent, score, np.inf)
        keep = self._beam_cut(score, t, eff_sp, pick, repeats, above, level, width)
        if self.incumbent is not None:
            keep = keep[np.isfinite(score[keep])]
            if not len(keep):
                return None
        chosen = pick[keep]
        orders = st["order"][rows[chosen]]
        orders[:, level - 1] = order[keep]
        if bytes_r is None:  # the same additions, in the same order, to the kept rows only
            bytes_r, bytes_w = self._moved(st, from_parent[keep], [(at, action, elements[keep], bits)
                                                                   for at, action, elements, bits in charges])
        else:
            bytes_r, bytes_w = bytes_r[keep], bytes_w[keep]
        return {"T": t[chosen], "eff_sp": eff_sp[chosen], "R": repeats[keep], "A": above[keep],
                "energy": energy[keep], "bytes_r": bytes_r, "bytes_w": bytes_w, "order": orders}

    @staticmethod
    def _moved(st: dict, parents: np.ndarray, charges: list) -> tuple[np.ndarray, np.ndarray]:
        """The bytes read and written per level of the states ``parents`` of the stage above, plus ``charges``."""
        bytes_r, bytes_w = st["bytes_r"][parents], st["bytes_w"][parents]
        for level, action, elements, bits in charges:
            (bytes_r if action == "read" else bytes_w)[:, level] += elements * (bits / 8)
        return bytes_r, bytes_w

    def _beam_cut(self, score, t, eff_sp, pick, repeats, above, level: int, width: int) -> np.ndarray:
        """The indices (into pick) of the states kept: every state, best first, when there are at most ``width``;
        else the ``width`` best of those whose futures differ (module docstring), taken from the best 8 x width."""
        if len(score) <= width:
            return np.argsort(score, kind="stable")
        self.exhaustive = False
        for most in (8 * width, len(score)):
            top = np.argpartition(score, most - 1)[:most] if most < len(score) else np.arange(len(score))
            top = top[np.argsort(score[top], kind="stable")]
            rows = pick[top]
            key = (t[rows, level] @ _HASH[:_ND] + eff_sp[rows].reshape(len(rows), -1) @ _HASH[_ND:_ND + eff_sp[0].size]
                   + repeats[top] @ _HASH[-6:-3] + above[top] @ _HASH[-3:])
            _, first = np.unique(key, return_index=True)
            if len(first) >= width or most >= len(score):
                return top[np.sort(first)[:width]]
        raise AssertionError("unreachable")

    def _effs(self, t: np.ndarray, eff_sp: np.ndarray, level: int) -> np.ndarray:
        """Effective trips of ``level``'s temporal loops (returned) and spatial loops (written into eff_sp)."""
        t_below = t[:, level + 1] if level + 1 < self.m else 1
        sp = self.o.sp[level]
        # ceil of exact integer quotients in floats (exact: the operands are far below 2**53)
        if (sp > 1).any():  # else the level's spatial trips stay 1
            eff_sp[:, level] = np.ceil(np.minimum(self.size, sp * t_below) / t_below)
        return np.ceil(np.minimum(self.size, t[:, level]) / (sp * t_below))

    @staticmethod
    def _recurrence(eff: np.ndarray):
        """The refetch recurrence of .evaluate one level at a time, for a child right below the level whose
        temporal trips are ``eff``: per row and operand whether a loop relevant to it moves (rel) and its
        irrelevant trips here (x); per row the key of _order_tables (which classes move, which operands' x can
        re-fetch): with the class order it says whether x re-fetches (it lies above a relevant class that moves).
        R = rel ? A_prev x (re-fetches ? x : 1) : R_prev, and A = A_prev x."""
        k, cff, boo, g = eff[:, _K[0]], np.prod(eff[:, _CFF], axis=1), np.prod(eff[:, _BOO], axis=1), eff[:, _G]
        x = np.stack([k, boo, cff], 1)  # (n, operands): input, weight, output
        rel = np.stack([cff * boo * g, k * cff * g, k * boo * g], 1) > 1
        key = (k > 1) + 2 * (cff > 1) + 4 * (boo > 1) + 8 * (rel & (x > 1)) @ np.array([1, 2, 4])
        return rel, x, key

    def _spread_levels(self, op: str, lo: int, hi: int) -> list[int]:
        """The levels in [lo, hi) with spatial loops as op sees them: elsewhere every spatial trip is 1."""
        sp = self.o.sp if self.nested else self.spo[op]
        return [level for level in range(lo, hi) if (sp[level] > 1).any()]

    def _irrelevant_spatial(self, eff_sp: np.ndarray, op: str, lo: int, hi: int) -> np.ndarray:
        levels = self._spread_levels(op, lo, hi)
        if not levels:
            return np.ones(len(eff_sp))
        dims = [_DIM[d] for d in LOOP_DIMS if d not in RELEVANT[op]]
        return np.prod(eff_sp[:, levels][:, :, dims], axis=(1, 2))

    def _price(self, t: np.ndarray, eff_sp: np.ndarray, op: str, c: int):
        """op's accesses at the boundary (parent, c) per row, linear in its refetches R: (level, action, bits,
        elements at R = 0, elements per R), the formulas of .evaluate."""
        keepers = self.keepers[op]
        p = keepers[keepers.index(c) - 1]
        eff_sp = self._view(eff_sp, op)
        above_p, above_c = self._irrelevant_spatial(eff_sp, op, 0, p), self._irrelevant_spatial(eff_sp, op, 0, c)
        if op != "input":  # no halo: a pass moves the operand once, whatever the tiles (extent_sum)
            union, own = above_p * self.p.elements(op), above_c * self.p.elements(op)
        else:
            between = self._spread_levels(op, p, c)
            grow = np.prod(eff_sp[:, between], axis=1) if between else 1
            tile = self._tile_of(t[:, c], op, c)
            if self.conventions is not None:
                union, own = above_p * self._input_extent(tile * grow, p), above_c * self._input_extent(tile, c)
            else:
                union = above_p * extent_sum(self.p, self._dims(np.minimum(self.size, tile * grow)), op)
                own = above_c * extent_sum(self.p, self._dims(np.minimum(self.size, tile)), op)
        zero = np.zeros(len(t))
        if op != "output":
            return [(p, "read", self.bits[op], zero, union), (c, "write", self.bits[op], zero, own)]
        psum = self.bits["psum"]
        return [(p, "update", psum, -union, union),
                (p, "update", self.bits["output"] if p == 0 else psum, union, zero),
                (p, "read", psum, -union, union), (c, "read", psum, zero, own), (c, "write", psum, -own, own)]

    def _input_extent(self, tiles: np.ndarray, level: int) -> np.ndarray:
        """Input elements one pass over the tiles ``tiles`` (those of ``level``, the spatial loops below it
        included) moves as the peer's conventions count them (ranking only; the winner is evaluated exactly):
        clipped to the real tensor (clip_input_to_tensor); under fractional_spatial_unrolling, tiles holding a
        fractional unrolling shrink by its ratio, and ZigZag's passes x tile rows, from whole output rows
        (truncate_input_tile_rows), as evaluate._FractionalTiles.extent_sum."""
        rules, p = self.conventions, self.p
        if not self.fractional:
            return extent_sum(p, self._dims(np.minimum(self.size, tiles)), "input",
                              clip_to_tensor=rules.clip_input_to_tensor)
        sp = self.o.sp if self.nested else self.spo["input"]
        holds = np.prod(sp[level:], axis=0) == self.unrolled
        t = np.minimum(self.size, tiles * np.where(holds, self.fraction, 1.0))
        total = float(p.B * p.G * p.C)
        for o, f, axis in (("OY", "FY", "y"), ("OX", "FX", "x")):
            outs, taps = t[:, _DIM[o]], t[:, _DIM[f]]
            whole = np.maximum(1.0, np.floor(outs + 1e-9)) if rules.truncate_input_tile_rows else outs
            rows = _rows(whole, taps, getattr(p, f"stride_{axis}"), getattr(p, f"dilation_{axis}"))
            if rules.clip_input_to_tensor:
                rows = np.minimum(rows, p.input_rows(axis))
            total = total * (p.size(o) / outs) * (p.size(f) / taps) * rows
        return total

    def _charge(self, bytes_r, bytes_w, level: int, action: str, elements, bits: int):
        """Add the bytes to the level's read or write column; return the energy (pJ)."""
        (bytes_r if action == "read" else bytes_w)[:, level] += elements * (bits / 8)
        return self._pj(level, action, elements, bits)

    def _pj(self, level: int, action: str, elements, bits: int):
        """The energy (pJ) of ``elements`` accesses of ``bits`` each at ``level``."""
        lv = self.h.levels[level]
        return elements * (bits / lv.access_width_bits) * getattr(lv.energy, f"{action}_pj")

    def _dims(self, tiles: np.ndarray) -> dict:
        return {d: tiles[:, i] for i, d in enumerate(LOOP_DIMS)}

    def _cycles(self, t, eff_sp, pick, bytes_r, bytes_w, upto: int | None = None) -> np.ndarray:
        """max(compute cycles, every level's transfer cycles) of the picked rows (see .evaluate); levels deeper
        than ``upto`` (which have moved nothing yet) are left out."""
        cycles = np.prod(t[:, 0] // self.s_geq[0], axis=1).astype(float)[pick]
        spread = None
        for index, lv in enumerate(self.h.levels[:None if upto is None else upto + 1]):
            if not (lv.read_bandwidth_bytes_per_cycle or lv.write_bandwidth_bytes_per_cycle):
                continue
            if not self.nested:  # each operand sees the unrolling as the option places it: the same in every row
                kept = next((o for o in OPERANDS if o in self.o.keeps[index]), "input")
                used = float(np.prod(self.spo[kept][:index]))
            else:  # the spatial trips of the levels above, per row
                if spread is None:
                    spread = np.cumprod(np.prod(eff_sp, axis=2), axis=1)[pick]
                used = spread[:, index - 1] if index else 1.0
            time = np.zeros(len(pick))
            if lv.read_bandwidth_bytes_per_cycle:
                time = time + bytes_r[:, index] / (lv.read_bandwidth_bytes_per_cycle * used)
            if lv.write_bandwidth_bytes_per_cycle:
                time = time + bytes_w[:, index] / (lv.write_bandwidth_bytes_per_cycle * used)
            cycles = np.maximum(cycles, time)
        return cycles

    def _score(self, t, eff_sp, pick, repeats, above, energy, bytes_r, bytes_w, level: int) -> np.ndarray:
        """The objective of states after stage ``level``, their energy raised by what the next boundary of every
        operand not yet kept below ``level`` costs at least (_boundary_bound): so states are not ranked blind to
        the operands still to come (the weights of a chain ifmap -> filter -> ofmap, say)."""
        leakage = self.leakage
        if not self.cycles_ranked:
            cycles = np.zeros(len(pick))  # the score is the energy alone: spare computing what it ignores
        else:
            cycles = self._cycles(t, eff_sp, pick, bytes_r, bytes_w, upto=level)
            energy = energy + leakage * cycles
        for k, op in enumerate(OPERANDS):
            later = [c for c in self.keepers[op] if c > level]
            if later:
                c = later[0]
                p = max(x for x in self.keepers[op] if x < c)
                fits = self._fits_below(self._tile_of(t[:, level], op, level), op, c)[pick]
                bound = np.where(fits, repeats[:, k], above[:, k])
                energy = energy + self._boundary_bound(op, p, c, bound)
        return objectives.choice_scores(self.objective, energy, cycles)

    def _fits_below(self, tiles: np.ndarray, op: str, c: int) -> np.ndarray:
        """Whether op's tile ``tiles`` fits level c. When it does not, a loop relevant to op lies between, so
        every irrelevant loop above re-fetches: R >= A (and R never falls going down: R >= R here)."""
        lv = self.h.levels[c]
        need = tile_elements(self.p, self._dims(np.minimum(self.size, tiles)), op) * self._bits(op) / 8
        parts = lv.capacity_bytes_per_operand
        room = parts.get(op, 0.0) / lv.multiple_buffering if parts is not None else lv.usable_bytes
        return need <= room

    def _boundary_bound(self, op: str, p: int, c: int, repeats: np.ndarray) -> np.ndarray:
        """Least energy of op's boundary (p, c) with ``repeats`` refetches: .evaluate's formulas with every tile
        pass moving the compulsory elements."""
        parent, child = self.h.levels[p], self.h.levels[c]
        elements = self.p.elements(op)
        b = self._bits(op)
        if op != "output":
            return repeats * elements * (b / parent.access_width_bits * parent.energy.read_pj
                                         + b / child.access_width_bits * child.energy.write_pj)
        final = self.bits["output"] if p == 0 else b
        per_pass = b / parent.access_width_bits * (parent.energy.update_pj + parent.energy.read_pj) \
            + b / child.access_width_bits * (child.energy.read_pj + child.energy.write_pj)
        last = final / parent.access_width_bits * parent.energy.update_pj \
            + b / child.access_width_bits * child.energy.read_pj
        return elements * ((repeats - 1) * per_pass + last)

    def _finish(self, t, eff_sp, rows, pick, order, orders, energy, bytes_r, bytes_w):
        """Add the MAC side (reads of the innermost keepers, partial-sum updates) and the MACs, pick the best
        state of the objective: (its mapping, energy, cycles)."""
        for op in OPERANDS:
            c = self.keepers[op][-1]
            view = self._view(eff_sp, op)
            accesses = self.p.macs / self._irrelevant_spatial(view, op, c, self.m)
            if op != "output":
                energy += self._charge(bytes_r, bytes_w, c, "read", accesses[pick], self.bits[op])
                continue
            own = extent_sum(self.p, self._dims(np.minimum(self.size, self._tile_of(t[:, c], op, c))), op)
            fresh = self._irrelevant_spatial(view, op, 0, c) * own
            psum = self.bits["psum"]
            energy += self._charge(bytes_r, bytes_w, c, "update", accesses[pick], psum)
            energy += self._charge(bytes_r, bytes_w, c, "read", np.maximum(accesses - fresh, 0.0)[pick], psum)
        energy = energy + self.p.macs * self.h.compute.mac_energy_pj
        cycles = self._cycles(t, eff_sp, pick, bytes_r, bytes_w)
        energy = energy + self.leakage * cycles
        score = objectives.choice_scores(self.objective, energy, cycles)
        if self.finals is not None:
            return self._finalists(t, rows, pick, order, orders, np.lexsort((cycles, score)))
        best = int(np.lexsort((cycles, score))[0])  # of equal scores, the fewest cycles
        row = int(pick[best])
        chosen_orders = orders[rows[row]].copy()
        chosen_orders[self.m - 2] = order[best]
        return self._mapping(t[row], chosen_orders), float(energy[best]), float(cycles[best])

    def _finalists(self, t, rows, pick, order, orders, ranked: np.ndarray) -> _Finalists:
        """The ``finals`` best final states in hwmap's model (``ranked``: best first), each with every class order
        of the innermost level that gives another loop list (hwmap's model ignores it; ZigZag's MACs hold an
        operand over the innermost loops irrelevant to it): the mappings map_problem ranks under the conventions."""
        if len(ranked) > self.finals:
            self.exhaustive = False
        best = ranked[:self.finals]
        chosen = orders[rows[pick[best]]]
        chosen[:, self.m - 2] = order[best]
        tiles = t[pick[best]]
        last = self._level_factors(tiles, self.m - 1)
        moving = np.stack([(last[:, _CLASS_DIMS[c]] > 1).any(axis=1) for c in range(3)], 1) @ np.array([1, 2, 4])
        state = np.concatenate([np.full(len(_DISTINCT_ORDERS[k]), i) for i, k in enumerate(moving)])
        innermost = np.concatenate([_DISTINCT_ORDERS[k] for k in moving])
        chosen = chosen[state]
        chosen[:, self.m - 1] = innermost
        return _Finalists(self, tiles[state], chosen, state)

    def _level_factors(self, t: np.ndarray, index: int) -> np.ndarray:
        """Level ``index``'s temporal factor per dim of every row of tiles ``t`` (rows, levels + 1, dims)."""
        below = t[:, index + 1] if index + 1 < self.m else 1
        return t[:, index] // (self.o.sp[index] * below)

    def _temporal(self, t: np.ndarray, orders: np.ndarray, index: int) -> list[list]:
        """Level ``index``'s temporal loops, outermost first, [dim, factor] each (factors of 1 left out)."""
        t_below = t[index + 1] if index + 1 < self.m else np.ones(_ND, dtype=np.int64)
        factors = t[index] // (self.o.sp[index] * t_below)
        temporal = []
        if index == 0 and factors[_DIM["G"]] > 1:
            temporal.append(["G", int(factors[_DIM["G"]])])
        for cls in CLASS_ORDERS[int(orders[index])]:
            for d in CLASSES[cls]:
                if factors[_DIM[d]] > 1:
                    temporal.append([d, int(factors[_DIM[d]])])
        if index > 0 and factors[_DIM["G"]] > 1:
            temporal.insert(0, ["G", int(factors[_DIM["G"]])])
        return temporal

    def _mapping(self, t: np.ndarray, orders: np.ndarray) -> NestMapping:
        levels = [{"level": lv.name, "keeps": [op for op in OPERANDS if op in self.o.keeps[index]],
                   "temporal": self._temporal(t, orders, index)} for index, lv in enumerate(self.h.levels)]
        return NestMapping.parse({"spatial": list(self.o.entries), "levels": levels})

    def _unchecked_mapping(self, temporals: list[tuple]) -> NestMapping:
        """_mapping from each level's temporal loops (outermost first) without pydantic's validation of every
        field (thousands of finalists per layer): the levels are the hierarchy's, the operands and dims the
        vocabulary's, the factors ints > 1 by construction, and the spatial entries are validated once per option
        (the first call). Equal to _mapping's."""
        if self.spatial_loops is None:
            self.spatial_loops = NestMapping.parse({"spatial": list(self.o.entries), "levels": ()}).spatial
        levels = []
        for index, temporal in enumerate(temporals):
            level = self.level_loops.get((index, temporal))
            if level is None:  # finalists share most levels' loops: one (immutable) object each
                level = self.level_loops[(index, temporal)] = LevelLoops.model_construct(
                    level=self.h.levels[index].name, keeps=tuple(op for op in OPERANDS if op in self.o.keeps[index]),
                    temporal=temporal)
            levels.append(level)
        return NestMapping.model_construct(spatial=self.spatial_loops, levels=tuple(levels))


class _Finalists:
    """An option's finalists (_Search._finalists) in the order map_problem ranks them: per finalist its tiles and
    every level's class order; its mapping built when asked for, the port-word energy floors of all at once."""

    def __init__(self, search: _Search, tiles: np.ndarray, orders: np.ndarray, state: np.ndarray) -> None:
        self.search, self.tiles, self.orders, self.state = search, tiles, orders, state
        self._outer: dict[int, list[tuple]] = {}  # final state -> its outer levels' loops (shared by its orders)

    def __len__(self) -> int:
        return len(self.tiles)

    def mapping(self, i: int) -> NestMapping:
        s, t, orders = self.search, self.tiles[i], self.orders[i]
        outer = self._outer.get(int(self.state[i]))
        if outer is None:
            outer = self._outer[int(self.state[i])] = [tuple(map(tuple, s._temporal(t, orders, index)))
                                                       for index in range(s.m - 1)]
        return s._unchecked_mapping([*outer, tuple(map(tuple, s._temporal(t, orders, s.m - 1)))])

    def batch(self) -> NestBatch:
        """The finalists as one NestBatch (floors.py)."""
        s = self.search
        nest = flatten(self.mapping(0))  # the spatial loops and keeps every finalist shares
        factors = np.stack([s._level_factors(self.tiles, index) for index in range(s.m)], axis=1)
        return NestBatch(factors, _ORDER_DIMS[self.orders], tuple(lp for lp in nest.loops if lp.spatial), nest.keeps)


def map_problem(hierarchy: Hierarchy, problem: LoopProblem, *, objective: str = "energy", spatial=None,
                operand_bits=None, beam: int = 32, widen: int = 8, per_dim: int = 16, shortlist: int | None = 3,
                first_level_cap: int = 8192, conventions=None, finalists: int = 32,
                operand_allocation: bool = True) -> MappedProblem:
    """The best mapping of ``problem`` on ``hierarchy`` in the space of the module docstring.

    operand_bits: input/weight/output(/psum) bits; default every operand at DRAM's word bits.
    A 1 x 1 conv is mapped as its GEMM (LoopProblem.canonical): the result's problem and mapping are that one's.
    When the unrolling may spread B or OX, dims the fold leaves of size 1: a fixed ``spatial`` naming them maps the
    layer as it is (folded, ZigZag's OX x OY unrollings would run idle); a template whose SpatialUnrolling names
    them maps both and keeps the better (the folded layer's tiles are freer; the unfolded one can spread OX).
    spatial: form-C spatial entries to fix the unrolling instead of searching it.
    shortlist: search at most this many (spatial, bypass) options that found a mapping, in the order of their
    lower bounds; None: every option (what the brute-force tests use).
    first_level_cap, beam, widen, per_dim: the search's cuts (module docstring).
    conventions: the model to optimise in (evaluate.AccessConventions, e.g. ZigZag's counting and pricing; None
    or hwmap's: the search above, unchanged). Under a peer's conventions (module docstring, "In a peer's model")
    every option's ``finalists`` best final states are evaluated by evaluate_mapping under the conventions and the
    best there wins: ``value`` and ``result`` are the conventions', ``exhaustive`` says every final state was
    ranked so, and the lower bound is only the MACs' energy and the leakage over the fewest cycles: valid in any
    model, and loose (the gap is large).
    finalists: under conventions, the final states per option re-ranked (>= 1; on ZigZag's example hardware,
    benchmarks/zigzag_crosscheck.py, 16, 32, 64 and 256 put 122, 128, 130 and 130 of 144 layers at most at
    ZigZag's energy in its model with single nests only; 24, 32 and 64 put 131, 133 and 135 with the per-operand
    allocation, 32 about 0.6 s of the 144 layers' ~4.6 s faster than 64: the default).
    operand_allocation: under conventions, refine the winner by per-operand loop allocation (module docstring;
    the result's ``allocation`` when no single nest expresses the best one found, ``mapping`` then the single
    nest it was refined from); False: single nests only.
    """
    objectives.check_objective(objective)
    for name, value in (("beam", beam), ("widen", widen), ("per_dim", per_dim), ("first_level_cap", first_level_cap),
                        ("finalists", finalists)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise MappingError(f"map_problem: {name} = {value!r}; expected an integer >= 1")
    cuts = {"beam": beam, "widen": widen, "per_dim": per_dim, "shortlist": shortlist,
            "first_level_cap": first_level_cap,
            "conventions": None if conventions in (None, HWMAP_CONVENTIONS) else conventions, "finalists": finalists,
            "operand_allocation": operand_allocation}
    canonical = problem.canonical()
    if canonical is problem or not _unrolls_folded_dims(hierarchy, spatial):
        return _map_one(hierarchy, canonical, objective, spatial, operand_bits, **cuts)
    if spatial is not None:
        return _map_one(hierarchy, problem, objective, spatial, operand_bits, **cuts)
    found = []
    for candidate in (canonical, problem):
        try:
            found.append(_map_one(hierarchy, candidate, objective, spatial, operand_bits, **cuts))
        except MappingError:
            continue
    if not found:
        return _map_one(hierarchy, canonical, objective, spatial, operand_bits, **cuts)  # its one-line error
    best = min(found, key=lambda m: (m.value, m.result.energy_pj, m.result.cycles))
    return dataclasses.replace(best, lower_bound=min(m.lower_bound for m in found),
                               exhaustive=all(m.exhaustive for m in found) and len(found) == 2,
                               candidates=sum(m.candidates for m in found))


def _map_one(hierarchy: Hierarchy, problem: LoopProblem, objective: str, spatial, operand_bits, *, beam: int,
             per_dim: int, shortlist: int | None, first_level_cap: int, widen: int = 8,
             conventions=None, finalists: int = 32, operand_allocation: bool = True) -> MappedProblem:
    """map_problem for the problem as given (no fold)."""
    word = hierarchy.levels[0].word_bits
    bits = operand_bits_of(operand_bits or {"input": word, "weight": word, "output": word})
    if conventions is not None:
        return _map_under(hierarchy, problem, objective, spatial, bits, conventions, beam=beam, per_dim=per_dim,
                          shortlist=shortlist, first_level_cap=first_level_cap, widen=widen, finalists=finalists,
                          operand_allocation=operand_allocation)
    options = _ranked_options(hierarchy, problem, objective, spatial, bits)
    bound_energy, bound_cycles = min(o[1] for o in options), min(o[2] for o in options)
    best = None
    exhaustive, candidates = True, 0
    picks = _Shortlist(hierarchy, shortlist)
    for bound, _, _, option in options:
        if best is not None and bound > best[1]:
            continue  # no mapping of this option can beat the best found (exact: the bound is one)
        if not picks.admits(option, found_any=best is not None):
            continue
        run = _Search(hierarchy, problem, option, bits, objective, beam, per_dim, first_level_cap, widen,
                      incumbent=None if best is None else best[0][1])
        found = run.run()
        exhaustive &= run.exhaustive
        candidates += run.candidates
        if found is not None:
            mapping, energy, cycles = found
            key = objectives.choice_key(objective, energy, cycles)
            if best is None or key < best[0]:
                best = (key, objectives.objective_value(objective, energy, cycles), mapping)
    if best is None:
        raise _no_fit(hierarchy, problem, options[0][3], bits, objective)
    exhaustive &= not picks.cut
    result = evaluate_mapping(hierarchy, problem, best[2], operand_bits=bits, source=f"{problem.name} mapping")
    value = objectives.objective_value(objective, result.energy_pj, result.cycles)
    bound = objectives.objective_value(objective, bound_energy, bound_cycles)
    return MappedProblem(problem, objective, best[2], result, value, bound, exhaustive, candidates)


class _Shortlist:
    """Which of the options, least lower bound first, a search runs (module docstring, "shortlist"): every one
    until ``shortlist`` were searched and one found a mapping; after that only options with the template's stated
    keeps (stated_keeps), until ``shortlist`` of those were searched. ``cut``: some option was left out."""

    def __init__(self, hierarchy: Hierarchy, shortlist: int | None) -> None:
        self.stated, self.limit = stated_keeps(hierarchy), shortlist
        self.searched = self.stated_searched = 0
        self.cut = False

    def admits(self, option: _Option, *, found_any: bool) -> bool:
        if self.limit is not None and self.searched >= self.limit and found_any:
            self.cut = True
            if self.stated_searched >= self.limit or option.keeps != self.stated:
                return False
        self.searched += 1
        self.stated_searched += option.keeps == self.stated
        return True


def _ranked_options(hierarchy: Hierarchy, problem: LoopProblem, objective: str, spatial, bits: dict) -> list[tuple]:
    """Every (spatial, bypass) option as (bound's objective value, bound energy pJ, bound cycles, _Option), least
    bound first (option_bound)."""
    options = []
    bypass = _bypass_options(hierarchy, bits)
    for sp, entries in spatial_options(hierarchy, problem, spatial):
        parts: dict = {}  # one operand's bound depends on its own chain of keepers only: computed once per chain
        for keeps in bypass:
            energy, cycles = option_bound(hierarchy, problem, bits, sp, keeps, parts=parts)
            options.append((objectives.objective_value(objective, energy, cycles), energy, cycles,
                            _Option(sp, entries, keeps)))
    options.sort(key=lambda o: o[:3])
    return options


def _no_fit(hierarchy: Hierarchy, problem: LoopProblem, option: _Option, bits: dict, objective: str) -> MappingError:
    """The one-line error when no mapping of any option fits: which level overflows first (the first option's)."""
    why = _Search(hierarchy, problem, option, bits, objective, 1, 1, 1).overflow()
    free = [lv.name for lv in hierarchy.levels[1:] if len(lv.may_keep) > 1 and not lv.keeps]
    hint = (f"; or state what {', '.join(free)} keep{'s' * (len(free) == 1)} (keeps/bypasses: none stated, so "
            "the mapper may keep every operand there; from Timeloop, import with --constraints arch.yaml)"
            if free and why and why.split(":", 1)[0] in free else "")
    return MappingError(f"{problem.name}: no mapping fits {hierarchy.name}'s levels"
                        + (f": {why}" if why else "") + "; enlarge the buffers or narrow the words" + hint)


def _map_under(hierarchy: Hierarchy, problem: LoopProblem, objective: str, spatial, bits: dict, conventions, *,
               beam: int, per_dim: int, shortlist: int | None, first_level_cap: int, widen: int,
               finalists: int, operand_allocation: bool = True) -> MappedProblem:
    """_map_one optimising in the model of ``conventions`` (map_problem's docstring): every option's finalists
    evaluated under them, the best kept. Objective energy under port_word_energy: an option's finalists get their
    energy floors and cycles together (floors.floors_and_cycles, equal to energy_floor_pj's and evaluate_mapping's
    to the bit) and are evaluated least floor first, then fewest cycles; a finalist whose floor is above the best
    energy cannot win (the floor is never above its energy), nor one whose floor equals it (at best a tie in
    energy) with no fewer cycles and a later rank (option, then finalist): every later one is skipped, so mostly
    one finalist per option is evaluated, and the winner is the one evaluating every finalist in order finds."""
    options = _ranked_options(hierarchy, problem, objective, spatial, bits)
    best, exhaustive, candidates, searched = None, True, 0, 0
    source = f"{problem.name} mapping"
    picks = _Shortlist(hierarchy, shortlist)
    for _, _, _, option in options:
        if not picks.admits(option, found_any=best is not None):
            continue
        run = _Search(hierarchy, problem, option, bits, objective, beam, per_dim, first_level_cap, widen,
                      finals=finalists, conventions=conventions)
        found = run.run()
        searched += 1
        exhaustive &= run.exhaustive
        candidates += run.candidates
        if found is None:
            continue
        best = _pick_finalist(hierarchy, problem, objective, bits, conventions, found, best, searched, source)
    if best is None:
        raise _no_fit(hierarchy, problem, options[0][3], bits, objective)
    exhaustive &= not picks.cut
    _, mapping, result = best
    allocation = None
    if operand_allocation:  # ZigZag's per-operand loop allocation, from the winner (operand_allocation.refine)
        mapping, result, allocation = refine_winner(hierarchy, problem, mapping, result, objective=objective,
                                                    bits=bits, conventions=conventions)
    value = objectives.objective_value(objective, result.energy_pj, result.cycles)
    fewest = min(o[2] for o in options)
    floor = problem.macs * hierarchy.compute.mac_energy_pj + hierarchy.leakage_pj_per_cycle() * fewest
    bound = objectives.objective_value(objective, floor, fewest)
    return MappedProblem(problem, objective, mapping, result, value, bound, exhaustive, candidates, allocation)


def _pick_finalist(hierarchy: Hierarchy, problem: LoopProblem, objective: str, bits: dict, conventions,
                   found: _Finalists, best: tuple | None, searched: int, source: str) -> tuple | None:
    """The best of ``best`` ((key, mapping, result), from the options before; None) and the finalists ``found`` of
    option ``searched``, evaluated under ``conventions`` (_map_under's docstring: what is skipped and why)."""
    ranked, floors = range(len(found)), None
    if objective == "energy" and conventions.port_word_energy:  # the least floors first (skips below)
        floors, least_cycles = floors_and_cycles(hierarchy, problem, found.batch(), bits, conventions)
        ranked = np.lexsort((least_cycles, floors))
    for i in ranked:
        if floors is not None and best is not None:
            if floors[i] > best[0][1]:
                break  # its energy (no lower than its floor) and every later one's is above the best's
            if floors[i] == best[0][1] and (least_cycles[i], searched, i) > best[0][2:]:
                continue  # at best a tie in energy, with no fewer cycles, ranked later: it cannot win
        mapping = found.mapping(i)
        result = evaluate_unless_above(hierarchy, problem, mapping, operand_bits=bits, source=source,
                                       conventions=conventions, ceiling_pj=math.inf, trusted=True)
        if not result.fits:
            continue
        energy, cycles = result.energy_pj, result.cycles
        # of equal scores, energies and cycles the first option's, then its first finalist's
        key = (*objectives.choice_key(objective, energy, cycles), searched, int(i))
        if best is None or key < best[0]:
            best = (key, mapping, result)
    return best


def _unrolls_folded_dims(h: Hierarchy, spatial) -> bool:
    """Whether the unrolling may spread B or OX, the dims LoopProblem.canonical folds into OY."""
    folded = {"B", "OX"}
    if spatial is not None:
        return any(e.get("dim") in folded and int(e.get("factor", 1)) > 1 for e in spatial)
    return any(folded & (set(u.dims) | set(u.factors)) for u in h.spatial)


def lower_bound(hierarchy: Hierarchy, problem: LoopProblem, operand_bits, spatial=None) -> tuple[float, float]:
    """(energy pJ, cycles) no mapping of the space goes below: the least option_bound over its spatial unrollings
    and bypass choices."""
    bits = operand_bits_of(operand_bits)
    bounds = [option_bound(hierarchy, problem, bits, sp, keeps) for sp, _ in spatial_options(hierarchy, problem,
                                                                                             spatial)
              for keeps in _bypass_options(hierarchy, bits)]
    return min(b[0] for b in bounds), min(b[1] for b in bounds)


def option_bound(h: Hierarchy, problem: LoopProblem, bits: dict[str, int], sp: np.ndarray,
                 keeps: tuple[frozenset, ...], *, parts: dict | None = None) -> tuple[float, float]:
    """(energy pJ, cycles) below every mapping with spatial factors ``sp`` and these keeps: every operand element
    read once from each parent and written once into each keeper (outputs drained once), the MACs' reads of the
    innermost keepers with the most multicast the unrolling allows, every MAC, leakage over the fewest cycles
    (each dim's trips over its unrolling). ``parts``: a dict kept across calls with the same ``sp`` (each
    operand's terms depend on its own chain of keepers only)."""
    sizes = np.array([problem.size(d) for d in LOOP_DIMS], dtype=np.int64)
    cycles = float(np.prod(-(-sizes // sp.prod(axis=0))))
    energy = problem.macs * h.compute.mac_energy_pj
    for op in OPERANDS:
        chain = tuple(i for i, kept in enumerate(keeps) if op in kept)
        terms = None if parts is None else parts.get((op, chain))
        if terms is None:
            terms = _operand_bound_terms(h, problem, bits, sp, op, chain)
            if parts is not None:
                parts[(op, chain)] = terms
        for term in terms:  # added one by one, in the order of the formula: the same bits with or without parts
            energy += term
    return energy + h.leakage_pj_per_cycle() * cycles, cycles


def _operand_bound_terms(h: Hierarchy, problem: LoopProblem, bits: dict[str, int], sp: np.ndarray, op: str,
                         chain: tuple[int, ...]) -> tuple[float, ...]:
    """One operand's terms of option_bound's energy (pJ), in the order they are added."""
    levels = h.levels
    size = problem.elements(op)
    b = bits["psum"] if op == "output" else bits[op]
    terms = []
    for p, c in zip(chain, chain[1:], strict=False):
        pj_parent = levels[p].energy.update_pj if op == "output" else levels[p].energy.read_pj
        pj_child = levels[c].energy.read_pj if op == "output" else levels[c].energy.write_pj
        pb = bits["output"] if (op == "output" and p == 0) else b
        terms.append(size * (pb / levels[p].access_width_bits * pj_parent + b / levels[c].access_width_bits
                             * pj_child))
    c = chain[-1]
    inner = levels[c]
    irrelevant = [_DIM[d] for d in LOOP_DIMS if d not in RELEVANT[op]]
    accesses = problem.macs / float(np.prod(sp[c:, irrelevant]))
    per_access = b / inner.access_width_bits
    if op != "output":
        terms.append(accesses * per_access * inner.energy.read_pj)
        return tuple(terms)
    # first touches: at most every element once per instance of the innermost keeper (per-operand fanouts:
    # per instance of the whole unrolling, an upper bound whatever level the operand sees it at)
    fresh = size * float(np.prod(sp[:c, irrelevant] if nested(h) else sp[:, irrelevant]))
    terms.append(accesses * per_access * inner.energy.update_pj)
    terms.append(max(accesses - fresh, 0.0) * per_access * inner.energy.read_pj)
    return tuple(terms)
