"""The multi-level mapper: spatial unrolling, per-level tiles, loop orders and bypass of one layer (issue 17).

The space searched
------------------
- **Spatial unrolling.** Each array axis fans out below one level (the first level whose instances multiply
  along it). Per axis, the template's SpatialUnrolling entries give the choices: a fixed entry with factors is
  taken as it is; a fixed entry without factors unrolls its dims greedily (each min(its size, what is left of the
  axis)); a free entry offers each of its dims with factor min(size, axis) and the largest divisor of the size
  <= the axis. An axis with no entry is not unrolled. Choices that use fewer than half the PEs of the best choice
  are left out. ``spatial=`` (form-C entries) fixes it instead.
- **Bypass.** Operands a level may keep (neither kept nor bypassed by the template): every keep/bypass subset
  when there are at most 4 such choices in the hierarchy, else all kept.
- **Tiles.** Per dim, the tile T(l) each memory level l >= 1 stores (per instance, spatial loops below it
  included): T(1) = S x m with S the dim's spatial unrolling below level 1 and m any *minimal* tile of
  ceil(size / S) (ceil(n / t) for t = 1..n: the smallest tile with each trip count); deeper tiles divide the
  tile above over its spatial loop (T(l) | T(l-1) / spatial(l-1)) and are multiples of the unrolling below them.
  So DRAM's loop may pad (ceil); every loop below it is exact. Each level's loop factor is the ratio of tiles.
- **Loop order.** Per level, the order of the three classes K | C, FY, FX | B, OY, OX (within a class every
  loop is relevant to the same operands, so its order changes nothing in the model of :mod:`.evaluate`); G
  outermost at DRAM. The innermost level's order does not matter (the MACs hold nothing).
- **Capacity.** Every level's tiles fit its usable bytes (per operand where it is partitioned).

The search
----------
Top-down over the levels: stage l chooses T(l) and level l-1's class order for every state kept from stage l-1,
and prices exactly what they fix (the fills of level l and the reads/updates of its parents, through the
refetch recurrence of :mod:`.evaluate`), vectorised with numpy. A stage keeps the ``beam`` states with the best
objective so far (energy so far; cycles so far = max(compute cycles, transfer cycles so far)). Per dim at most
``per_dim`` tile choices per level (geometrically spaced, both ends kept). When neither limit cut anything
(small layers), the result is the exact optimum of the space above (``exhaustive``; tested against brute force
in tests/cost/test_multilevel_search.py); otherwise it is a search, and ``gap`` says how far its objective value
is at most above the lower bound: every operand element read once from each parent and written once into each
level the template makes keep it (outputs drained once), read once by the MACs, MAC energy of every MAC,
leakage over cycles >= MACs / PEs.
The winner is re-evaluated by :func:`.evaluate.evaluate_mapping`: its LevelResult is the one reported.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hwmap.cost import objectives
from hwmap.cost.multilevel.evaluate import LevelResult, evaluate_mapping, operand_bits_of
from hwmap.cost.multilevel.nest import MappingError, NestMapping, fanout_of
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, extent_sum, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["MappedProblem", "lower_bound", "map_problem", "spatial_options"]

CLASSES: tuple[tuple[str, ...], ...] = (("K",), ("C", "FY", "FX"), ("B", "OY", "OX"))
CLASS_ORDERS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(3)))
IRRELEVANT_CLASS = {"input": 0, "weight": 2, "output": 1}
_DIM = {d: i for i, d in enumerate(LOOP_DIMS)}
_ND = len(LOOP_DIMS)


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

    @property
    def gap(self) -> float:
        return self.value / self.lower_bound - 1.0 if self.lower_bound > 0 else 0.0


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
            sp[names.index(e["level"]), _DIM[e["dim"]]] *= int(e["factor"])
        return [(sp, entries)]
    per_axis = []
    for a, axis in enumerate(h.array_axes):
        level = next((i for i in range(m) if fanout_of(h, i)[a] > 1), None)
        per_axis.append([] if level is None else
                        [[(level, axis, d, f) for d, f in choice] for choice in _axis_choices(h, problem, axis,
                                                                                               fanout_of(h, level)[a])])
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


def _axis_choices(h: Hierarchy, problem: LoopProblem, axis: str, fanout: int) -> list[list[tuple[str, int]]]:
    choices: list[list[tuple[str, int]]] = []
    for u in (u for u in h.spatial if u.axis == axis):
        if u.fixed and u.factors:
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


def _bypass_options(h: Hierarchy) -> list[tuple[frozenset, ...]]:
    free = [(i, op) for i, lv in enumerate(h.levels) for op in lv.may_keep if op not in lv.keeps and i > 0]
    base = [set(lv.may_keep) if i == 0 else set(lv.keeps) for i, lv in enumerate(h.levels)]
    if len(free) > 4:
        return [tuple(frozenset(lv.may_keep) for lv in h.levels)]
    out = []
    for mask in itertools.product((False, True), repeat=len(free)):
        keeps = [set(b) for b in base]
        for (i, op), keep in zip(free, mask, strict=True):
            if keep:
                keeps[i].add(op)
        if all(keeps):
            out.append(tuple(frozenset(k) for k in keeps))
    return out


@lru_cache(maxsize=4096)
def _minimal_tiles(n: int) -> tuple[int, ...]:
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
    def __init__(self, h, problem, option: _Option, bits, objective, beam, per_dim):
        self.h, self.p, self.o, self.bits = h, problem, option, bits
        self.objective, self.beam, self.per_dim = objective, beam, per_dim
        self.m = len(h.levels)
        self.size = np.array([problem.size(d) for d in LOOP_DIMS], dtype=np.int64)
        sp = option.sp
        self.s_geq = np.flip(np.cumprod(np.flip(sp, axis=0), axis=0), axis=0)  # (M, 8): unrolling at >= level
        self.keepers = {op: tuple(i for i, k in enumerate(option.keeps) if op in k) for op in OPERANDS}
        self.exhaustive = True
        self.candidates = 0

    # per-dim tile choices of one level, given the tile above (stage >= 2) ------------------------------------
    def _choices(self, level: int, above: int, d: int) -> tuple[int, ...]:
        base = int(self.s_geq[level, d])
        if level == 1:
            top = -(-int(self.size[d]) // int(self.o.sp[0, d]))
            values = tuple(base * m for m in _minimal_tiles(-(-top // base)))
        else:
            q = above // int(self.o.sp[level - 1, d])
            values = tuple(base * x for x in _divisors(q // base))
        thinned, cut = _thin(values, self.per_dim)
        self.exhaustive &= not cut
        return thinned

    def _expand(self, level: int, parents: np.ndarray):
        """Rows (parent state, tile vector) of level ``level`` that fit its capacity."""
        rows = np.arange(len(parents), dtype=np.int64)
        tiles = np.tile(self.s_geq[level], (len(parents), 1))
        for d in range(_ND):
            lists = {}
            for value in np.unique(parents[:, d]):
                lists[int(value)] = self._choices(level, int(value), d)
            if not len(rows):
                break
            counts = np.array([len(lists[int(v)]) for v in parents[rows, d]], dtype=np.int64)
            new_rows = np.repeat(rows, counts)
            values = np.concatenate([lists[int(v)] for v in parents[rows, d]])
            tiles = np.repeat(tiles, counts, axis=0)
            tiles[:, d] = values
            rows = new_rows
            keep = self._fits(level, tiles)
            rows, tiles = rows[keep], tiles[keep]
        return rows, tiles

    def _fits(self, level: int, tiles: np.ndarray) -> np.ndarray:
        lv = self.h.levels[level]
        clipped = {d: np.minimum(tiles[:, i], self.size[i]) for i, d in enumerate(LOOP_DIMS)}
        need = {op: tile_elements(self.p, clipped, op) * self._bits(op) / 8 for op in self.o.keeps[level]}
        if lv.capacity_bytes_per_operand is not None:
            ok = np.ones(len(tiles), dtype=bool)
            for op, b in need.items():
                ok &= b <= lv.capacity_bytes_per_operand.get(op, 0.0) / lv.multiple_buffering
            return ok
        total = sum(need.values()) if need else np.zeros(len(tiles))
        return total <= lv.usable_bytes

    def _bits(self, op: str) -> int:
        return self.bits["psum"] if op == "output" else self.bits[op]

    # the stages ----------------------------------------------------------------------------------------------
    def run(self):
        m, size = self.m, self.size
        n0 = 1
        state = {
            "T": np.zeros((n0, m + 1, _ND), dtype=np.int64), "eff_t": np.ones((n0, m, _ND), dtype=np.int64),
            "eff_sp": np.ones((n0, m, _ND), dtype=np.int64), "R": np.ones((n0, 3)), "A": np.ones((n0, 3)),
            "energy": np.zeros(n0), "bytes_r": np.zeros((n0, m)), "bytes_w": np.zeros((n0, m)),
            "order": np.zeros((n0, m), dtype=np.int64),
        }
        state["T"][:, 0] = size
        for level in range(1, m):
            state = self._stage(level, state)
            if not len(state["energy"]):
                return None
        return self._finish(state)

    def _stage(self, level: int, st: dict) -> dict:
        rows, tiles = self._expand(level, st["T"][:, level - 1] if level > 1 else np.tile(self.size, (len(
            st["energy"]), 1)))
        if not len(rows):
            return {k: v[:0] for k, v in st.items()}
        new = {k: v[rows] for k, v in st.items()}
        new["T"] = new["T"].copy()
        new["T"][:, level] = tiles
        if level == 1:
            sp0 = self.o.sp[0]
            new["T"][:, 0] = -(-self.size // (sp0 * tiles)) * sp0 * tiles
        self._level_effs(new, level - 1)
        # the orders of level - 1 (only where they change the refetch counts)
        n = len(rows)
        rr, aa = [], []
        for order in CLASS_ORDERS:
            r, a = self._recurrence(new, level - 1, order)
            rr.append(r)
            aa.append(a)
        rr, aa = np.stack(rr, 1), np.stack(aa, 1)  # (n, 6, 3)
        distinct = np.ones((n, 6), dtype=bool)
        for j in range(1, 6):
            for i in range(j):
                distinct[:, j] &= ~np.all(rr[:, j] == rr[:, i], axis=1)
        pick_row, pick_order = np.nonzero(distinct)
        self.candidates += len(pick_row)
        out = {k: v[pick_row] for k, v in new.items()}
        out["R"], out["A"] = rr[pick_row, pick_order], aa[pick_row, pick_order]
        out["order"] = out["order"].copy()
        out["order"][:, level - 1] = pick_order
        for k in ("energy", "bytes_r", "bytes_w"):
            out[k] = out[k].copy()
        for op in self.o.keeps[level]:
            self._price(out, op, level)
        if level < self.m - 1 and len(out["energy"]) > self.beam:
            keep = np.argsort(self._score(out, level), kind="stable")[:self.beam]
            self.exhaustive = False
            out = {k: v[keep] for k, v in out.items()}
        return out

    def _level_effs(self, st: dict, level: int) -> None:
        t_here, t_below = st["T"][:, level], st["T"][:, level + 1] if level + 1 < self.m else 1
        sp = self.o.sp[level]
        cap = np.minimum(self.size, t_here)
        st["eff_t"] = st["eff_t"].copy()
        st["eff_sp"] = st["eff_sp"].copy()
        st["eff_t"][:, level] = -(-cap // (sp * t_below))
        st["eff_sp"][:, level] = -(-np.minimum(self.size, sp * t_below) // t_below)

    def _recurrence(self, st: dict, level: int, order: tuple[int, ...]):
        eff = st["eff_t"][:, level]
        trips = np.stack([np.prod(eff[:, [_DIM[d] for d in cls]], axis=1) for cls in CLASSES], 1)  # (n, 3)
        position = {cls: order.index(cls) for cls in range(3)}
        r_new, a_new = [], []
        for k, op in enumerate(OPERANDS):
            x = IRRELEVANT_CLASS[op]
            rel_dims = [_DIM[d] for d in RELEVANT[op]]
            rel = np.any(eff[:, rel_dims] > 1, axis=1)
            inner_rel = np.zeros(len(eff), dtype=bool)
            for cls in range(3):
                if cls != x and position[cls] > position[x]:
                    inner_rel |= trips[:, cls] > 1
            counted = np.where(inner_rel, trips[:, x], 1)
            r_new.append(np.where(rel, st["A"][:, k] * counted, st["R"][:, k]))
            a_new.append(st["A"][:, k] * trips[:, x])
        return np.stack(r_new, 1), np.stack(a_new, 1)

    def _irrelevant_spatial(self, st, op, below: int):
        dims = [_DIM[d] for d in LOOP_DIMS if d not in RELEVANT[op]]
        return np.prod(st["eff_sp"][:, :below][:, :, dims], axis=(1, 2))

    def _price(self, st: dict, op: str, c: int) -> None:
        keepers = self.keepers[op]
        p = keepers[keepers.index(c) - 1]
        k = OPERANDS.index(op)
        repeats = st["R"][:, k]
        above_p, above_c = self._irrelevant_spatial(st, op, p), self._irrelevant_spatial(st, op, c)
        grow = np.prod(st["eff_sp"][:, p:c], axis=1)
        t_c = st["T"][:, c]
        union = extent_sum(self.p, self._dims(np.minimum(self.size, t_c * grow)), op)
        own = extent_sum(self.p, self._dims(np.minimum(self.size, t_c)), op)
        parent, child = self.h.levels[p], self.h.levels[c]
        if op != "output":
            reads, writes = repeats * above_p * union, repeats * above_c * own
            self._charge(st, p, "read", reads, self.bits[op])
            self._charge(st, c, "write", writes, self.bits[op])
            return
        first = above_p * union
        self._charge(st, p, "update", (repeats - 1) * first, self.bits["psum"])
        self._charge(st, p, "update", first, self.bits["output"] if p == 0 else self.bits["psum"])
        self._charge(st, p, "read", (repeats - 1) * first, self.bits["psum"])
        self._charge(st, c, "read", repeats * above_c * own, self.bits["psum"])
        self._charge(st, c, "write", (repeats - 1) * above_c * own, self.bits["psum"])
        del parent, child

    def _charge(self, st: dict, level: int, action: str, elements, bits: int) -> None:
        lv = self.h.levels[level]
        words = elements * (bits / lv.access_width_bits)
        st["energy"] += words * getattr(lv.energy, f"{action}_pj")
        key = "bytes_r" if action == "read" else "bytes_w"
        st[key][:, level] += elements * (bits / 8)

    def _dims(self, tiles: np.ndarray) -> dict:
        return {d: tiles[:, i] for i, d in enumerate(LOOP_DIMS)}

    def _compute_cycles(self, st: dict) -> np.ndarray:
        total_sp = self.s_geq[0]
        return np.prod(st["T"][:, 0] // total_sp, axis=1).astype(float)

    def _cycles(self, st: dict) -> np.ndarray:
        cycles = self._compute_cycles(st)
        for index, lv in enumerate(self.h.levels):
            used = np.prod(st["eff_sp"][:, :index], axis=(1, 2))
            t = np.zeros(len(cycles))
            if lv.read_bandwidth_bytes_per_cycle:
                t = t + st["bytes_r"][:, index] / (lv.read_bandwidth_bytes_per_cycle * used)
            if lv.write_bandwidth_bytes_per_cycle:
                t = t + st["bytes_w"][:, index] / (lv.write_bandwidth_bytes_per_cycle * used)
            cycles = np.maximum(cycles, t)
        return cycles

    def _score(self, st: dict, level: int) -> np.ndarray:
        """The objective of states after stage ``level``, their energy raised by what the next boundary of every
        operand not yet kept below ``level`` costs at least: R(o) >= the refetches a child right below
        ``level`` would see (the refetch count never falls going down), times the operand's compulsory
        elements. A lower bound of what is left, so states are not ranked blind to the operands still to
        come (the weights of a chain ifmap -> filter -> ofmap, say); see _refetch_bound."""
        cycles = self._cycles(st)
        energy = st["energy"] + self._leakage() * cycles
        for k, op in enumerate(OPERANDS):
            later = [c for c in self.keepers[op] if c > level]
            if not later:
                continue
            c = later[0]
            p = max(x for x in self.keepers[op] if x < c)
            energy = energy + self._boundary_bound(st, op, level, p, c)
        return objectives.choice_scores(self.objective, energy, cycles)

    def _boundary_bound(self, st: dict, op: str, level: int, p: int, c: int) -> np.ndarray:
        """Least energy of op's boundary (p, c) below ``level``: evaluate's formulas with the refetch bound and
        every tile pass moving the compulsory elements."""
        parent, child = self.h.levels[p], self.h.levels[c]
        repeats = self._refetch_bound(st, op, level, c)
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

    def _refetch_bound(self, st: dict, op: str, level: int, c: int) -> np.ndarray:
        """A lower bound of op's refetches into its next keeper c below ``level``: R never falls going down, and
        when op's tile at ``level`` does not fit c, a loop relevant to op lies between them, so every irrelevant
        loop above ``level`` re-fetches (R >= A)."""
        k = OPERANDS.index(op)
        lv = self.h.levels[c]
        tile = self._dims(np.minimum(self.size, st["T"][:, level]))
        need = tile_elements(self.p, tile, op) * self._bits(op) / 8
        parts = lv.capacity_bytes_per_operand
        room = parts.get(op, 0.0) / lv.multiple_buffering if parts is not None else lv.usable_bytes
        return np.where(need > room, st["A"][:, k], st["R"][:, k])

    def _leakage(self) -> float:
        c = self.h.compute
        return sum(lv.energy.leakage_pj_per_cycle * lv.instances for lv in self.h.levels) \
            + c.leakage_pj_per_cycle * c.instances

    def _finish(self, st: dict):
        self._level_effs(st, self.m - 1)
        st = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
        for op in OPERANDS:
            c = self.keepers[op][-1]
            dims = [_DIM[d] for d in LOOP_DIMS if d not in RELEVANT[op]]
            below = np.prod(st["eff_sp"][:, c:][:, :, dims], axis=(1, 2))
            accesses = self.p.macs / below
            if op != "output":
                self._charge(st, c, "read", accesses, self.bits[op])
                continue
            own = extent_sum(self.p, self._dims(np.minimum(self.size, st["T"][:, c])), op)
            fresh = self._irrelevant_spatial(st, op, c) * own
            self._charge(st, c, "update", accesses, self.bits["psum"])
            self._charge(st, c, "read", np.maximum(accesses - fresh, 0.0), self.bits["psum"])
        energy = st["energy"] + self.p.macs * self.h.compute.mac_energy_pj
        cycles = self._cycles(st)
        energy = energy + self._leakage() * cycles
        best = int(np.argmin(objectives.choice_scores(self.objective, energy, cycles)))
        return self._mapping(st, best), float(energy[best]), float(cycles[best])

    def _mapping(self, st: dict, row: int) -> NestMapping:
        levels = []
        for index, lv in enumerate(self.h.levels):
            t_here = st["T"][row, index]
            t_below = st["T"][row, index + 1] if index + 1 < self.m else np.ones(_ND, dtype=np.int64)
            factors = t_here // (self.o.sp[index] * t_below)
            temporal = []
            if index == 0 and factors[_DIM["G"]] > 1:
                temporal.append(["G", int(factors[_DIM["G"]])])
            for cls in CLASS_ORDERS[int(st["order"][row, index])]:
                for d in CLASSES[cls]:
                    if factors[_DIM[d]] > 1:
                        temporal.append([d, int(factors[_DIM[d]])])
            if index > 0 and factors[_DIM["G"]] > 1:
                temporal.insert(0, ["G", int(factors[_DIM["G"]])])
            levels.append({"level": lv.name, "keeps": [op for op in OPERANDS if op in self.o.keeps[index]],
                           "temporal": temporal})
        return NestMapping.parse({"spatial": list(self.o.entries), "levels": levels})


def map_problem(hierarchy: Hierarchy, problem: LoopProblem, *, objective: str = "energy", spatial=None,
                operand_bits=None, beam: int = 32, per_dim: int = 16) -> MappedProblem:
    """The best mapping of ``problem`` on ``hierarchy`` in the space of the module docstring.

    operand_bits: input/weight/output(/psum) bits; default every operand at DRAM's word bits.
    A 1 x 1 conv is mapped as its GEMM (LoopProblem.canonical): the result's problem and mapping are that one's.
    spatial: form-C spatial entries to fix the unrolling instead of searching it.
    """
    objectives.check_objective(objective)
    problem = problem.canonical()
    word = hierarchy.levels[0].word_bits
    bits = operand_bits_of(operand_bits or {"input": word, "weight": word, "output": word})
    best = None
    exhaustive, candidates = True, 0
    for sp, entries in spatial_options(hierarchy, problem, spatial):
        for keeps in _bypass_options(hierarchy):
            search = _Search(hierarchy, problem, _Option(sp, entries, keeps), bits, objective, beam, per_dim)
            found = search.run()
            exhaustive &= search.exhaustive
            candidates += search.candidates
            if found is None:
                continue
            mapping, energy, cycles = found
            score = objectives.choice_scores(objective, np.array([energy]), np.array([cycles]))[0]
            key = (score, energy, cycles)
            if best is None or key < best[0]:
                best = (key, mapping)
    if best is None:
        raise MappingError(f"{problem.name}: no mapping fits {hierarchy.name}'s levels (even the smallest tiles "
                           "overflow a level); enlarge the buffers")
    result = evaluate_mapping(hierarchy, problem, best[1], operand_bits=bits, source=f"{problem.name} mapping")
    value = objectives.objective_value(objective, result.energy_pj, result.cycles)
    bound_energy, bound_cycles = lower_bound(hierarchy, problem, bits)
    bound = objectives.objective_value(objective, bound_energy, bound_cycles)
    return MappedProblem(problem, objective, best[1], result, value, bound, exhaustive, candidates)


def lower_bound(hierarchy: Hierarchy, problem: LoopProblem, operand_bits) -> tuple[float, float]:
    """(energy pJ, cycles) no mapping goes below (see the module docstring)."""
    bits = operand_bits_of(operand_bits)
    cycles = float(-(-problem.macs // hierarchy.compute.instances))
    energy = problem.macs * hierarchy.compute.mac_energy_pj
    levels = hierarchy.levels
    for op in OPERANDS:
        size = problem.elements(op)
        chain = [0] + [i for i, lv in enumerate(levels) if i > 0 and op in lv.keeps]
        b = bits["psum"] if op == "output" else bits[op]
        for p, c in zip(chain, chain[1:], strict=False):
            pj_parent = levels[p].energy.update_pj if op == "output" else levels[p].energy.read_pj
            pj_child = levels[c].energy.read_pj if op == "output" else levels[c].energy.write_pj
            pb = bits["output"] if (op == "output" and p == 0) else b
            energy += size * (pb / levels[p].access_width_bits * pj_parent + b / levels[c].access_width_bits
                              * pj_child)
        inner = levels[chain[-1]]
        energy += size * b / inner.access_width_bits * (inner.energy.update_pj if op == "output"
                                                        else inner.energy.read_pj)
    leak = sum(lv.energy.leakage_pj_per_cycle * lv.instances for lv in levels) \
        + hierarchy.compute.leakage_pj_per_cycle * hierarchy.compute.instances
    return energy + leak * cycles, cycles
