"""ZigZag 3.9.1's port words, the energy floor and the cycles of many loop nests at once (numpy), for the search in
a peer's model (:mod:`.search`, "In a peer's model").

The search ranks each option's finalists (32 final states by default, each with every loop order of the innermost
level) under AccessConventions and skips a finalist whose energy floor (:func:`.evaluate.energy_floor_pj`: the MACs,
every port's word accesses as :mod:`.port_words` counts them, leakage over the compute cycles; never above the
energy) is above the best energy found, or equal to it with no fewer cycles. :func:`floors_and_cycles` computes the
floors and the cycles of all the finalists together, so the search evaluates them least floor first and mostly
evaluates one, instead of building every finalist's nest, its tiles, words and counts one at a time.

The finalists of one option share everything but their temporal loops: :class:`NestBatch` holds N nests whose levels
list every dim once temporally (a factor of 1 is no loop; it moves and multiplies nothing), in a per-nest order, with
the same spatial loops and keeps. The counts are :mod:`.port_words`' and :mod:`.evaluate`'s (its tiles, ``_Tiles``
or ``_FractionalTiles`` under fractional_spatial_unrolling, its element counts ``_boundary`` and ``_mac_side`` and
its transfer times) computed per nest as arrays, in the same float operations in the same order where a result is
not a whole number, so every word count equals port_words', every floor energy_floor_pj's and every cycle count
evaluate_mapping's, to the bit (tests/cost/test_multilevel_floors.py, on the search's finalists of ZigZag's example
hardware under three sets of rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwmap.cost.multilevel.nest import Loop, MappingError, Nest, nested, unnested_operand_nest
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, _rows, extent_sum, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["NestBatch", "compute_cycles", "energy_floors_pj", "floors_and_cycles", "port_words_batch"]

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
    return floors_and_cycles(hierarchy, problem, batch, bits, conventions)[0]


def floors_and_cycles(hierarchy: Hierarchy, problem: LoopProblem, batch: NestBatch, bits: dict[str, int],
                      conventions) -> tuple[np.ndarray, np.ndarray]:
    """(energy_floors_pj, the cycles evaluate_mapping reports) of every nest of ``batch`` under ``conventions``:
    the cycles from evaluate's element counts (_boundary, _mac_side) and transfer times, in the same float
    operations."""
    operands = _operands(hierarchy, batch, problem, bits, conventions.fractional_spatial_unrolling,
                         conventions.clip_input_to_tensor, conventions.truncate_input_tile_rows)
    words = _port_words(hierarchy, batch, operands, conventions.mac_operand_held)
    compute = compute_cycles(batch)
    return _floors(hierarchy, problem, words, compute), _cycles(hierarchy, batch, operands, conventions, compute)


def _floors(hierarchy: Hierarchy, problem: LoopProblem, words: dict, compute: np.ndarray) -> np.ndarray:
    levels = np.zeros(len(compute))
    for level in hierarchy.levels:
        per = [np.zeros(len(compute)) for _ in range(3)]  # read, write, update
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
    return _port_words(hierarchy, batch, _operands(hierarchy, batch, problem, bits, fractional, clip, truncate), held)


def _operands(hierarchy, batch, problem, bits, fractional: bool, clip: bool, truncate: bool) -> dict:
    common = _Common(batch)
    return {op: _Operand(hierarchy, batch, common, problem, op, bits, fractional=fractional, clip=clip,
                         truncate=truncate) for op in OPERANDS}


def _port_words(hierarchy: Hierarchy, batch: NestBatch, operands: dict, held: bool) -> dict:
    words = {(lv.name, op): np.zeros((len(batch), 3)) for lv in hierarchy.levels for op in OPERANDS}
    for op in OPERANDS:
        operands[op].add_to(words, held and op != "output")
    return words


def _cycles(h: Hierarchy, batch: NestBatch, operands: dict, conventions, compute: np.ndarray) -> np.ndarray:
    """evaluate._evaluated's cycles: max(compute, every level's transfer time), the bits each level reads and
    writes summed from evaluate's element counts in evaluate's order."""
    names = [lv.name for lv in h.levels]
    acc = {(name, op): [0.0] * 6 for name in names for op in OPERANDS}  # reads, writes, updates; then their bits
    for op in OPERANDS:
        operands[op].count(acc, conventions)
    cycles = compute
    for index, level in enumerate(h.levels):
        kept = next((o for o in OPERANDS if o in batch.keeps[index]), "input")
        used = operands[kept].spatial_product(lambda lp, _index=index: lp.level < _index)
        read_b = sum(acc[(level.name, op)][3] for op in OPERANDS) / 8
        write_b = sum(acc[(level.name, op)][4] + acc[(level.name, op)][5] for op in OPERANDS) / 8
        t = 0.0
        if level.read_bandwidth_bytes_per_cycle:
            t += read_b / (level.read_bandwidth_bytes_per_cycle * used)
        if level.write_bandwidth_bytes_per_cycle:
            t += write_b / (level.write_bandwidth_bytes_per_cycle * used)
        cycles = np.maximum(cycles, t)
    return cycles


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
        self.tiles: dict[tuple, tuple] = {}  # an operand's spatial loops -> its tiles (_Operand._tiles)


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
        shared = common.tiles.get(self.spatial)  # operands seeing the same spatial loops have the same tiles
        if shared is None:
            shared = common.tiles[self.spatial] = self._tiles()
        self.exact, self.padded, self.eff_s, self.eff_at = shared
        rel = _RELEVANT_MASK[op][batch.order].reshape(len(batch), -1)
        self.relevant_at = rel
        # the last relevant temporal loop at or before each position that moves (nominal factor > 1):
        # port_words._Operand.merged_down walks out to it
        moving = np.where((common.factors_at > 1) & rel, common.index, -1)
        self.last_relevant = np.maximum.accumulate(moving, axis=1)

    # tiles ---------------------------------------------------------------------------------------------------
    def _tiles(self) -> tuple:
        """(the dims unrolled fractionally, padded, eff_s, eff_at): padded[:, k] is the tile from level k's first
        loop inward per dim (unclipped); eff_s and eff_at the effective trips of the spatial loops (one (N,) array or
        number each) and of the temporal loops by position (N, levels x 8): evaluate's _Tiles or _FractionalTiles,
        every product in nest order, innermost first, as they make them."""
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
        return exact, padded, eff_s, np.take_along_axis(eff_t, self.batch.order, axis=2).reshape(n, -1)

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

    def instances(self, k: int) -> np.ndarray | int:
        """Keeper k's instances in use: round(round(product of the spatial trips above it, 3))."""
        x = self.spatial_product(lambda lp: lp.level < k)
        if np.ndim(x) == 0:
            return round(round(float(x), 3))
        values, inverse = np.unique(x, return_inverse=True)  # Python's round, exactly, on the few distinct ones
        return np.array([round(round(float(v), 3)) for v in values], dtype=float)[inverse]

    def spread(self, k: int | None):
        """Unique elements over the spatial loops below keeper k (None: none)."""
        tile = [1.0] * _ND
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

    # element counts (evaluate._boundary, _mac_side) ----------------------------------------------------------
    def spatial_product(self, keep) -> np.ndarray | float:
        """The product of the effective trips of the spatial loops ``keep`` selects, in nest order."""
        product = 1
        for j, lp in enumerate(self.spatial):
            if keep(lp):
                product = product * self.eff_s[j]
        return product

    def copies(self, below_level: int):
        """evaluate._spatial_copies: the spatial loops irrelevant to the operand above ``below_level``."""
        return self.spatial_product(lambda lp: lp.level < below_level and lp.dim not in RELEVANT[self.op])

    def refetches(self, c: int) -> np.ndarray:
        """evaluate._refetches of keeper c's tile: the irrelevant temporal loops above its last relevant loop that
        moves above c (effective trips; whole numbers)."""
        start = _ND * c
        moving = np.where((self.eff_at[:, :start] > 1) & self.relevant_at[:, :start], self.c.index[:start], -1)
        last = moving.max(axis=1) if start else np.full(len(self.batch), -1)
        outer = ~self.relevant_at & (self.c.index < last[:, None])
        return np.where(outer, self.eff_at, 1.0).prod(axis=1)

    def clipped(self, k: int, grow: dict | None = None) -> list:
        """evaluate._Tiles.clipped: the tile from level k inward per dim, grown by ``grow``, clipped."""
        padded = self.padded[:, k]
        return [np.minimum(self.sizes[d], padded[:, d] * grow[LOOP_DIMS[d]] if grow and LOOP_DIMS[d] in grow
                           else padded[:, d]) for d in range(_ND)]

    def extent_sum(self, tile: list, clip: bool):
        """Elements one pass over every tile moves: _FractionalTiles.extent_sum where a dim is unrolled
        fractionally, else problem.extent_sum."""
        t = dict(zip(LOOP_DIMS, tile, strict=True))
        if self.op != "input":
            return self.problem.elements(self.op)
        if self.fractional and self.exact:
            passes = math.prod(self.problem.size(d) / t[d] for d in RELEVANT["input"])  # its order, to the bit
            return passes * self.elements(tile)
        return extent_sum(self.problem, t, "input", clip_to_tensor=clip)

    def count(self, acc: dict, conventions) -> None:
        """evaluate._evaluated's counts of this operand: every boundary between its keepers, then the MACs'."""
        op, bits, clip = self.op, self.bits, conventions.clip_input_to_tensor
        names = [lv.name for lv in self.h.levels]
        keepers = tuple(i for i, kept in enumerate(self.batch.keeps) if op in kept)
        for p, c in zip(keepers, keepers[1:], strict=False):
            repeats = self.refetches(c)
            above_p, above_c = self.copies(p), self.copies(c)
            grow: dict[str, np.ndarray] = {}
            for j, lp in enumerate(self.spatial):
                if p <= lp.level < c:
                    grow[lp.dim] = grow.get(lp.dim, 1) * self.eff_s[j]
            union = self.extent_sum(self.clipped(c, grow), clip)
            own = self.extent_sum(self.clipped(c), clip)
            parent, child = acc[(names[p], op)], acc[(names[c], op)]
            if op != "output":
                _add(parent, 0, repeats * above_p * union, bits[op])
                _add(child, 1, repeats * above_c * own, bits[op])
                continue
            psum, final = bits["psum"], bits["output"] if p == 0 else bits["psum"]
            if conventions.psum_per_output_element:
                visits = repeats * above_p * union
                refills = np.maximum(visits - union, 0.0)
                _add(parent, 2, refills, psum)
                _add(parent, 2, union, final)
                _add(parent, 0, refills, psum)
                _add(child, 0, repeats * above_c * own, psum)
                _add(child, 1, refills, psum)
                continue
            first = above_p * union
            _add(parent, 2, (repeats - 1) * first, psum)
            _add(parent, 2, first, final)
            _add(parent, 0, (repeats - 1) * first, psum)
            _add(child, 0, repeats * above_c * own, psum)
            _add(child, 1, (repeats - 1) * above_c * own, psum)
        self._count_macs(acc[(names[keepers[-1]], op)], keepers[-1], conventions)

    def _count_macs(self, entry: list, c: int, conventions) -> None:
        """evaluate._mac_side (with _held_run under mac_operand_held)."""
        op, bits, macs = self.op, self.bits, self.problem.macs
        held = self._held_run(c, conventions.clip_input_to_tensor) \
            if conventions.mac_operand_held and op != "output" else 1
        below = self.spatial_product(lambda lp: lp.level >= c and lp.dim not in RELEVANT[op])
        accesses = macs / below / held
        if op == "input" and self.fractional:  # _FractionalTiles.mac_reads
            tile = [1.0] * _ND
            for j, lp in enumerate(self.spatial):
                if lp.level >= c:
                    tile[_DIM[lp.dim]] = tile[_DIM[lp.dim]] * self.eff_s[j]
            accesses = macs / math.prod(tile) * self.elements(tile) / held
        if op != "output":
            _add(entry, 0, accesses, bits[op])
            return
        if conventions.psum_per_output_element:
            fresh = self.problem.elements(op)
        else:
            fresh = self.copies(c) * self.problem.elements(op)
        _add(entry, 2, accesses, bits["psum"])
        _add(entry, 0, np.maximum(accesses - fresh, 0.0), bits["psum"])

    def _held_run(self, c: int, clip: bool):
        """evaluate._held_run: the stationary run, or 1 where keeper c's read bandwidth cannot deliver the
        operand's data below one instance in a cycle."""
        below = [1] * _ND
        for j, lp in enumerate(self.spatial):
            if lp.level >= c:
                below[_DIM[lp.dim]] = below[_DIM[lp.dim]] * self.eff_s[j]
        below = [np.minimum(self.problem.size(d), f) for d, f in zip(LOOP_DIMS, below, strict=True)]
        width = self.h.levels[c].read_bandwidth_bytes_per_cycle
        run = self.stationary_run()
        if width is None:
            return run
        need = tile_elements(self.problem, dict(zip(LOOP_DIMS, below, strict=True)), self.op, clip_to_tensor=clip)
        return np.where(need * self.bits[self.op] > width * 8, 1, run)

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


def _add(entry: list, action: int, elements, operand_bits: int) -> None:
    """evaluate._add: the elements of one action (0 read, 1 write, 2 update) and their bits."""
    entry[action] = entry[action] + elements
    entry[3 + action] = entry[3 + action] + elements * operand_bits


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """-(-a // b) of whole numbers held as floats (exact below 2 ** 53), as evaluate's tiles compute it."""
    return -np.floor_divide(-a, b)


def _words(amount, precision, periods, units, word_bits: int, access_bits: int) -> np.ndarray:
    """port_words._words over arrays: int(ceil(amount x precision / word_bits) x (word_bits / access_bits) x periods
    x units), 0 where nothing moves."""
    words = np.trunc(np.ceil(amount * precision / word_bits) * (word_bits / access_bits) * periods * units)
    return np.where((amount == 0) | (precision == 0), 0.0, words)
