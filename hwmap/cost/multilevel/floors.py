"""ZigZag 3.9.1's port words and the energy floor of many loop nests at once (numpy), for the search in a peer's
model (:mod:`.search`, "In a peer's model").

The search ranks each option's finalists (64 final states, each with every loop order of the innermost level) under
AccessConventions and skips a finalist whose energy floor (:func:`.evaluate.energy_floor_pj`: the MACs, every
port's word accesses as :mod:`.port_words` counts them, leakage over the compute cycles) is above the best energy
found. :func:`energy_floors_pj` computes the floors of all the finalists together, so the search evaluates them in
ascending floor order and stops at the first floor above the best energy, instead of building every finalist's nest,
its tiles and its words one at a time.

The finalists of one option share everything but their temporal loops: :class:`NestBatch` holds N nests whose levels
list every dim once temporally (a factor of 1 is no loop; it moves and multiplies nothing), in a per-nest order, with
the same spatial loops and keeps. The counts are :mod:`.port_words`' and :mod:`.evaluate`'s tiles (``_Tiles``, or
``_FractionalTiles`` under fractional_spatial_unrolling) computed per nest as arrays, in the same float operations
where a result is not a whole number, so every word count equals port_words' and every floor energy_floor_pj's
(tests/cost/test_multilevel_floors.py, on the search's finalists of ZigZag's example hardware).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwmap.cost.multilevel.nest import Loop, MappingError, Nest, nested, unnested_operand_nest
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, _rows, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["NestBatch", "compute_cycles", "energy_floors_pj", "port_words_batch"]

_ND = len(LOOP_DIMS)
_DIM = {d: i for i, d in enumerate(LOOP_DIMS)}
_RELEVANT_MASK = {op: np.array([d in RELEVANT[op] for d in LOOP_DIMS]) for op in OPERANDS}


@dataclass(frozen=True)
class NestBatch:
    """N loop nests of one hierarchy that differ only in their temporal loops.

    factors: (N, levels, 8) int64, the temporal factor of each dim (LOOP_DIMS order) at each level (1: no loop);
    order: (N, levels, 8), the dim index at each position of a level's temporal loops, outermost first;
    spatial: the spatial loops of every nest, in nest order; keeps: the operands each level keeps."""

    factors: np.ndarray
    order: np.ndarray
    spatial: tuple[Loop, ...]
    keeps: tuple[frozenset[str], ...]

    def __len__(self) -> int:
        return len(self.factors)

    @classmethod
    def from_nests(cls, nests: list[Nest]) -> NestBatch:
        """The batch of ``nests`` (each level's temporal loops with every dim at most once; equal spatial loops
        and keeps); a nest that is not is ONE MappingError line."""
        levels = len(nests[0].keeps)
        spatial = tuple(lp for lp in nests[0].loops if lp.spatial)
        factors = np.ones((len(nests), levels, _ND), dtype=np.int64)
        order = np.empty((len(nests), levels, _ND), dtype=np.intp)
        for n, nest in enumerate(nests):
            if tuple(lp for lp in nest.loops if lp.spatial) != spatial or nest.keeps != nests[0].keeps:
                raise MappingError(f"nest {n}: its spatial loops or keeps differ from the first nest's")
            listed: list[list[int]] = [[] for _ in range(levels)]
            for lp in nest.loops:
                if lp.spatial:
                    continue
                d = _DIM[lp.dim]
                if d in listed[lp.level]:
                    raise MappingError(f"nest {n}: level {lp.level} lists {lp.dim} twice; expected once per level")
                listed[lp.level].append(d)
                factors[n, lp.level, d] = lp.factor
            for level, dims in enumerate(listed):
                order[n, level] = dims + [d for d in range(_ND) if d not in dims]
        return cls(factors, order, spatial, nests[0].keeps)


def energy_floors_pj(hierarchy: Hierarchy, problem: LoopProblem, batch: NestBatch, bits: dict[str, int],
                     conventions) -> np.ndarray:
    """evaluate.energy_floor_pj of every nest of ``batch`` under ``conventions`` (port_word_energy's floor): (N,) pJ,
    the same float operations in the same order."""
    words = port_words_batch(hierarchy, batch, problem, bits, fractional=conventions.fractional_spatial_unrolling,
                             clip=conventions.clip_input_to_tensor, truncate=conventions.truncate_input_tile_rows,
                             held=conventions.mac_operand_held)
    compute = compute_cycles(batch)
    levels = np.zeros(len(batch))
    for level in hierarchy.levels:
        per = [np.zeros(len(batch)) for _ in range(3)]  # read, write, update
        prices = (level.energy.read_pj, level.energy.write_pj, level.energy.update_pj)
        for op in OPERANDS:
            w = words[(level.name, op)]
            per = [per[a] + w[:, a] * prices[a] for a in range(3)]
        levels = levels + ((per[0] + per[1] + per[2]) + level.energy.leakage_pj_per_cycle * level.instances * compute)
    return (problem.macs * hierarchy.compute.mac_energy_pj
            + hierarchy.compute.leakage_pj_per_cycle * hierarchy.compute.instances * compute) + levels


def compute_cycles(batch: NestBatch) -> np.ndarray:
    """Every nest's compute cycles: the product of its temporal factors."""
    return batch.factors.reshape(len(batch), -1).prod(axis=1)


def port_words_batch(hierarchy: Hierarchy, batch: NestBatch, problem: LoopProblem, bits: dict[str, int], *,
                     fractional: bool, clip: bool, truncate: bool, held: bool) -> dict[tuple[str, str], np.ndarray]:
    """(level, operand) -> (N, 3) [read, write, update] word accesses of every nest: port_words' (the views of
    evaluate._views; ``held``: mac_operand_held, the MACs' period at an input's or weight's innermost keeper is its
    stationary run, evaluate._stationary_run)."""
    n = len(batch)
    words = {(lv.name, op): np.zeros((n, 3)) for lv in hierarchy.levels for op in OPERANDS}
    common = _Common(batch)
    for op in OPERANDS:
        _Operand(hierarchy, batch, common, problem, op, bits, fractional=fractional, clip=clip,
                 truncate=truncate).add_to(words, held and op != "output")
    return words


class _Common:
    """What every operand's view shares: the temporal loops in position order, their running products."""

    def __init__(self, batch: NestBatch) -> None:
        n, levels = batch.factors.shape[:2]
        self.positions = levels * _ND
        self.factors_at = np.take_along_axis(batch.factors, batch.order, axis=2).reshape(n, self.positions)
        self.product_before = np.ones((n, self.positions + 1), dtype=np.int64)  # [:, p]: positions < p
        np.cumprod(self.factors_at, axis=1, out=self.product_before[:, 1:])
        self.total = self.product_before[:, -1]  # the temporal cycles
        self.index = np.arange(self.positions)
        self.rows = np.arange(n)


class _Operand:
    """One operand's view of every nest: its tiles (evaluate._Tiles / _FractionalTiles) and port_words._Operand's
    quantities per keeper, as arrays over the nests."""

    def __init__(self, h: Hierarchy, batch: NestBatch, common: _Common, problem: LoopProblem, op: str,
                 bits: dict[str, int], *, fractional: bool, clip: bool, truncate: bool) -> None:
        self.h, self.batch, self.c, self.problem, self.op, self.bits = h, batch, common, problem, op, bits
        self.fractional, self.clip, self.truncate = fractional, clip, truncate
        self.levels = batch.factors.shape[1]
        self.spatial = batch.spatial if nested(h) else \
            tuple(lp for lp in unnested_operand_nest(Nest(batch.spatial, batch.keeps, None), h, op).loops)
        self.sizes = np.array([problem.size(d) for d in LOOP_DIMS], dtype=float)
        self._tiles()
        rel = _RELEVANT_MASK[op][batch.order].reshape(len(batch), -1)
        self.relevant_at = rel
        # the last relevant temporal loop at or before each position that moves (nominal factor > 1):
        # port_words._Operand.merged_down walks out to it
        moving = np.where((common.factors_at > 1) & rel, common.index, -1)
        self.last_relevant = np.maximum.accumulate(moving, axis=1)

    # tiles ---------------------------------------------------------------------------------------------------
    def _tiles(self) -> None:
        """padded[:, k]: the tile from level k's first loop inward per dim (unclipped); eff: effective trips of the
        temporal loops (N, levels, 8) and of the spatial loops (one (N,) array each), evaluate's _Tiles or
        _FractionalTiles (every product in nest order, innermost first, as they make them)."""
        n, levels = len(self.batch), self.levels
        factors = [float(lp.factor) for lp in self.spatial]
        exact: set[str] = set()  # the dims unrolled fractionally
        if self.fractional:
            for dim in LOOP_DIMS:
                at = [i for i, lp in enumerate(self.spatial) if lp.dim == dim]
                if not at:
                    continue
                unrolled = math.prod(factors[i] for i in at)
                size = self.problem.size(dim)
                if size % unrolled == 0:
                    continue
                widest = max(at, key=lambda i: (factors[i], -i))
                factors[widest] = size / math.ceil(size / unrolled) / (unrolled / factors[widest])
                exact.add(dim)
        self.exact = exact
        exact_mask = np.array([d in exact for d in LOOP_DIMS])
        padded = np.ones((n, levels + 1, _ND))
        eff_t = np.empty((n, levels, _ND))
        eff_s: list[np.ndarray | float] = [1.0] * len(self.spatial)
        x = np.ones((n, _ND))
        temporal = self.batch.factors
        for level in range(levels - 1, -1, -1):
            for j in range(len(self.spatial) - 1, -1, -1):
                lp = self.spatial[j]
                if lp.level != level:
                    continue
                d = _DIM[lp.dim]
                before = x[:, d].copy()
                x[:, d] = before * factors[j]
                eff_s[j] = factors[j] if lp.dim in exact else _ceil_div(np.minimum(self.sizes[d], x[:, d]), before)
            inner = x.copy()
            x = x * temporal[:, level]
            padded[:, level] = x
            eff_t[:, level] = np.where(exact_mask, temporal[:, level],
                                       _ceil_div(np.minimum(self.sizes, x), inner))
        self.padded, self.eff_s = padded, eff_s
        self.eff_at = np.take_along_axis(eff_t, self.batch.order, axis=2).reshape(n, -1)

    def elements(self, tile: list) -> np.ndarray:
        """Elements of the operand in tiles of per-dim extents ``tile`` (LOOP_DIMS order): port_words._Operand's."""
        t = dict(zip(LOOP_DIMS, tile, strict=True))
        if self.op == "input" and self.fractional:  # _FractionalTiles.input_tile
            p = self.problem
            total = t["B"] * t["G"] * t["C"]
            for o, f, axis in (("OY", "FY", "y"), ("OX", "FX", "x")):
                outs = np.maximum(1.0, np.floor(t[o] + 1e-9)) if self.truncate else t[o]
                rows = _rows(outs, t[f], getattr(p, f"stride_{axis}"), getattr(p, f"dilation_{axis}"))
                total = total * (np.minimum(rows, p.input_rows(axis)) if self.clip else rows)
            return total
        return tile_elements(self.problem, t, self.op, clip_to_tensor=self.clip)

    def own(self, k: int) -> np.ndarray:
        """Elements of keeper k's tile (Mapping.data_elem_per_level_unrolled), rounded as port_words rounds."""
        clipped = np.minimum(self.sizes, self.padded[:, k])
        return np.rint(self.elements([clipped[:, d] for d in range(_ND)]))

    def _stop(self, k: int) -> np.ndarray:
        """The position of the last relevant temporal loop that moves above level k (-1: none)."""
        return self.last_relevant[:, _ND * k - 1] if k > 0 else np.full(len(self.batch), -1)

    def cycles(self, k: int) -> np.ndarray:
        """port_words._Operand.cycles: the temporal cycles from level k inward times the loops merged down into k
        (the irrelevant loops between k and the last relevant loop that moves above it)."""
        start = _ND * k
        merged = self.c.product_before[:, start] // self.c.product_before[self.c.rows, self._stop(k) + 1]
        return self.c.total // self.c.product_before[:, start] * merged

    def stationary_run(self) -> np.ndarray:
        """evaluate._stationary_run: the effective trips of the innermost temporal loops irrelevant to the operand,
        out to its last relevant loop that moves (whole numbers: exact in any order)."""
        moving = np.where((self.eff_at > 1) & self.relevant_at, self.c.index, -1).max(axis=1)
        after = np.ones((len(self.batch), self.c.positions + 1))  # [:, p]: the product of positions >= p
        after[:, :-1] = np.cumprod(self.eff_at[:, ::-1], axis=1)[:, ::-1]
        return after[self.c.rows, moving + 1]

    def instances(self, k: int) -> np.ndarray:
        """Keeper k's instances in use: round(round(product of the spatial trips above it, 3))."""
        x = np.ones(len(self.batch))
        for j, lp in enumerate(self.spatial):
            if lp.level < k:
                x = x * self.eff_s[j]
        values, inverse = np.unique(x, return_inverse=True)  # Python's round, exactly, on the few distinct ones
        return np.array([round(round(float(v), 3)) for v in values], dtype=float)[inverse]

    def spread(self, k: int | None) -> np.ndarray:
        """Unique elements over the spatial loops below keeper k (None: none)."""
        tile = [np.ones(len(self.batch)) for _ in range(_ND)]
        if k is not None:
            for j, lp in enumerate(self.spatial):
                if lp.level >= k:
                    d = _DIM[lp.dim]
                    tile[d] = tile[d] * self.eff_s[j]
        if self.op != "input":
            return math.prod(tile[d] for d in range(_ND) if LOOP_DIMS[d] in RELEVANT[self.op])
        return self.elements(tile)

    def reduction_above(self, k: int, child: int | None) -> np.ndarray:
        """port_words._Operand.reduction_above: the reduction loops' effective trips at keeper k or above (the
        temporal ones down to the child less those merged down into it; the spatial ones above k)."""
        stop = self._stop(child) if child is not None else np.full(len(self.batch), self.c.positions - 1)
        included = ~self.relevant_at & (self.c.index <= stop[:, None])
        per_level = np.where(included, self.eff_at, 1.0).reshape(len(self.batch), self.levels, _ND).prod(axis=2)
        product = np.ones(len(self.batch))
        for level in range(self.levels):
            product = product * per_level[:, level]
            for j, lp in enumerate(self.spatial):
                if lp.level == level and level < k and lp.dim not in RELEVANT["output"]:
                    product = product * self.eff_s[j]
        return product

    # words ---------------------------------------------------------------------------------------------------
    def add_to(self, words: dict, held: bool) -> None:
        """port_words._Operand.add_to over every nest."""
        op, bits = self.op, self.bits
        keepers = tuple(i for i, kept in enumerate(self.batch.keeps) if op in kept)
        children = [*keepers[1:], None]
        names = [lv.name for lv in self.h.levels]
        total = self.c.total
        spread = {k: self.spread(k) for k in (*keepers, None)}
        own = {k: self.own(k) for k in keepers}
        cycles = {k: self.cycles(k) for k in keepers}
        innermost_period = self.stationary_run() if held else 1
        if op == "output":
            outputs = self.problem.elements("output")
            flags = {k: self.reduction_above(k, c) for k, c in zip(keepers, children, strict=True)}
            refills = {k: np.trunc(outputs * (flags[k] - 1)) != 0 for k in keepers}
        for index, (k, child) in enumerate(zip(keepers, children, strict=True)):
            level, entry = self.h.levels[k], words[(names[k], op)]
            boost = np.rint(spread[k] / spread[child])
            low_amount = (own[child] if child is not None else 1.0) * boost
            low_periods = total // (cycles[child] if child is not None else innermost_period)
            high_amount, high_periods = own[k], total // cycles[k]
            units = self.instances(k)

            def w(amount, periods, precision, _level=level, _units=units):
                return _words(amount, precision, periods, _units, _level.word_bits, _level.access_width_bits)

            if op != "output":
                entry[:, 0] += w(low_amount, low_periods, bits[op])
                if index:
                    entry[:, 1] += w(high_amount, high_periods, bits[op])
                continue
            psum, final = bits["psum"], bits["output"]
            entry[:, 2] += w(low_amount, low_periods, np.where(refills[k], psum, final))
            entry[:, 0] += np.where((flags[k] > 1) & refills[k], w(low_amount, low_periods, psum), 0.0)
            if not index:
                continue
            parent = keepers[index - 1]
            entry[:, 0] += w(high_amount, high_periods, np.where(refills[parent], psum, final))
            entry[:, 1] += np.where((flags[parent] > 1) & refills[parent], w(high_amount, high_periods, psum), 0.0)


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """-(-a // b) of whole numbers held as floats (exact below 2 ** 53), as evaluate's tiles compute it."""
    return -np.floor_divide(-a, b)


def _words(amount, precision, periods, units, word_bits: int, access_bits: int) -> np.ndarray:
    """port_words._words over arrays: int(ceil(amount x precision / word_bits) x (word_bits / access_bits) x periods
    x units), 0 where nothing moves."""
    words = np.trunc(np.ceil(amount * precision / word_bits) * (word_bits / access_bits) * periods * units)
    return np.where((amount == 0) | (precision == 0), 0.0, words)
