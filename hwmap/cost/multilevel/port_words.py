"""ZigZag 3.9.1's memory word accesses, what its energy prices (AccessConventions.port_word_energy).

ZigZag does not price the elements it counts (Mapping.calc_data_access, which AccessConventions' counting rules
reproduce) but word accesses of the ports, per data direction (zigzag/cost_model/cost_model.py,
CostModelEvaluation.calc_memory_word_access and _calc_memory_access; the periods from zigzag/mapping/mapping.py,
Mapping.calc_req_mem_bw_and_data_transfer_rate):

    words = int(ceil(amount x precision / bandwidth_min) x bandwidth_min / bandwidth_max x periods x instances)

per memory level and operand and each of the four directions, where ``amount`` is the elements one instance moves
in one period, rounded up to whole ``bandwidth_min`` words (hwmap's ``word_bits``) and priced per
``bandwidth_max`` access (``access_width_bits``); ``periods`` = the layer's temporal cycles over the period:

- towards the level below (read out to low; for outputs also written in by low): one period is the temporal
  loops of every level below (the MACs: 1, or for inputs and weights the run of innermost loops they are held
  over, TemporalMapping.mac_level_data_stationary_cycle), the amount the tile of the level below times its unique
  instances under one instance of this level (SpatialMappingInternal.mem_bw_boost; for inputs the input rows of
  the spatial loops, LayerNode.calc_tensor_dim as in decouple_pr_loop);
- towards the level above (written in by high; for outputs also read out to high): one period is the temporal
  loops of this level and below, the amount this level's tile (Mapping.data_elem_per_level_unrolled);
- an output level reads partial sums out to low only where it holds partial sums (Mapping.psum_flag: a reduction
  loop at it or above), as many words as it is written from below; written in by high likewise where the level
  above holds them. Output words are at partial-sum precision where the level's partial-sum refill count is
  non-zero, at the final output's precision otherwise (Mapping.calc_data_access's data_precisions);
- the outermost level exchanges nothing with the outside (Mapping.disable_data_traffic_external).

Then energy = read words (to low and to high) x r_cost + written words (by high and by low) x w_cost
(CostModelEvaluation.calc_memory_energy_cost); no leakage; MACs x the MAC's energy (calc_mac_energy_cost).
Unlike the element counts, the words ignore reuse across periods and the word rounding happens per period.
"""

from __future__ import annotations

import math

from hwmap.cost.multilevel.nest import Nest
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["port_words"]


def port_words(hierarchy: Hierarchy, views: dict, problem: LoopProblem, bits: dict[str, int], *,
               held_cycles: dict[str, int], clip: bool, truncate: bool) -> dict[tuple[str, str], list[float]]:
    """(level, operand) -> [read, write, update] word accesses as ZigZag 3.9.1 counts them (module docstring).

    views: operand -> (its nest, its tiles) as evaluate_mapping builds them; held_cycles: operand -> the MACs'
    period at its innermost keeper (ZigZag's mac_level_data_stationary_cycle; 1 for outputs)."""
    names = [lv.name for lv in hierarchy.levels]
    words = {(name, op): [0.0, 0.0, 0.0] for name in names for op in OPERANDS}
    shapes: dict[int, tuple] = {}  # per nest object (operands often share one): its _NestShape
    for op in OPERANDS:
        nest, tiles = views[op]
        shape = shapes.get(id(nest))
        if shape is None:
            shape = shapes[id(nest)] = _nest_shape(nest, len(hierarchy.levels))
        _Operand(hierarchy, nest, tiles, problem, op, bits, clip=clip, truncate=truncate, shape=shape) \
            .add_to(words, names, held_cycles.get(op, 1))
    return words


def _nest_shape(nest: Nest, levels: int) -> tuple:
    """(temporal cycles, spatial loops as (position, level, dim), each level's first loop position) of ``nest``."""
    return (math.prod(lp.factor for lp in nest.loops if lp.axis is None),
            [(i, lp.level, lp.dim) for i, lp in enumerate(nest.loops) if lp.axis is not None],
            [nest.level_start(k) for k in range(levels)])


class _Operand:
    """One operand's view: tiles, periods, instances and unique fanouts per keeper (ZigZag's mem levels)."""

    def __init__(self, hierarchy, nest: Nest, tiles, problem, op, bits, *, clip: bool, truncate: bool,
                 shape: tuple | None = None) -> None:
        self.h, self.nest, self.tiles, self.problem, self.op = hierarchy, nest, tiles, problem, op
        self.bits, self.clip, self.truncate = bits, clip, truncate
        self._own, self._cycles, self._spread = {}, {}, {}  # per keeper (add_to asks each twice or more)
        # the spatial loops (position, level, dim) and each level's first loop, looked up per keeper many times
        self.total_cycles, self._spatial, self._starts = shape or _nest_shape(nest, len(hierarchy.levels))

    def elements(self, tile: dict) -> float:
        if self.op == "input" and hasattr(self.tiles, "input_tile"):
            return self.tiles.input_tile(tile, clip=self.clip, truncate=self.truncate)
        return tile_elements(self.problem, tile, self.op, clip_to_tensor=self.clip)

    def own(self, k: int) -> int:
        """Elements of the tile one instance of keeper k holds (Mapping.data_elem_per_level_unrolled)."""
        if k not in self._own:
            self._own[k] = round(self.elements(self.tiles.clipped(self._starts[k])))
        return self._own[k]

    def cycles(self, k: int | None) -> int:
        """Temporal cycles of keeper k's loops and every loop below (the MACs: None, 1), k's loops including the
        loops irrelevant to the operand right above them (TemporalMapping.innermost_stationary_loop_merge_down)."""
        if k is None:
            return 1
        if k not in self._cycles:
            start = self._starts[k]
            below = math.prod(lp.factor for lp in self.nest.loops[start:] if lp.axis is None)
            self._cycles[k] = below * math.prod(self.nest.loops[i].factor for i in self.merged_down(k))
        return self._cycles[k]

    def merged_down(self, k: int) -> list[int]:
        """Positions of the temporal loops irrelevant to the operand right above keeper k's loops (outward up to
        the first relevant one; loops of factor 1 are no loops): ZigZag moves them into k's level
        (innermost_stationary_loop_merge_down), what hwmap's refetch rule calls reuse."""
        run = []
        for i in range(self._starts[k] - 1, -1, -1):
            lp = self.nest.loops[i]
            if lp.axis is not None or lp.factor == 1:
                continue
            if lp.dim in RELEVANT[self.op]:
                break
            run.append(i)
        return run

    def instances(self, k: int) -> int:
        """Instances of keeper k in use (SpatialMappingInternal.unit_count: its rounded spatial product above)."""
        eff = self.tiles.eff
        return round(round(math.prod(eff[i] for i, level, _ in self._spatial if level < k), 3))

    def spread(self, k: int | None) -> float:
        """Unique elements over the spatial loops below keeper k (cumulative from the MACs; None: none)."""
        if k not in self._spread:
            self._spread[k] = self._spread_of(k)
        return self._spread[k]

    def _spread_of(self, k: int | None) -> float:
        tile = dict.fromkeys(LOOP_DIMS, 1.0)
        if k is not None:
            eff = self.tiles.eff
            for i, level, dim in self._spatial:
                if level >= k:
                    tile[dim] *= eff[i]
        if self.op != "input":
            return math.prod(tile[d] for d in RELEVANT[self.op])
        return self.elements(tile)

    def boost(self, k: int, child: int | None) -> int:
        """Unique instances of the level below per instance of k (SpatialMappingInternal.mem_bw_boost)."""
        return round(self.spread(k) / self.spread(child))

    def reduction_above(self, k: int, child: int | None) -> float:
        """Output: the product of the reduction loops at keeper k or above (temporal ones down to the next keeper
        less those merged down into it, spatial ones above k): Mapping.output_ir_loop_size_caal, what psum_flag
        tests."""
        stop = self._starts[child] if child is not None else len(self.nest.loops)
        moved = set(self.merged_down(child)) if child is not None else set()  # now the child's loops
        product, eff, relevant = 1.0, self.tiles.eff, RELEVANT["output"]
        for i, lp in enumerate(self.nest.loops):
            if lp.dim in relevant or i in moved:
                continue
            if (lp.level < k) if lp.axis is not None else (i < stop):
                product *= eff[i]
        return product

    def add_to(self, words: dict, names: list[str], held: int) -> None:
        keepers = self.nest.keepers(self.op)
        children = [*keepers[1:], None]
        level_of = {k: self.h.levels[k] for k in keepers}
        if self.op == "output":
            outputs = self.problem.elements("output")
            flags = {k: self.reduction_above(k, c) for k, c in zip(keepers, children, strict=True)}
        for index, (k, child) in enumerate(zip(keepers, children, strict=True)):
            level, entry = level_of[k], words[(names[k], self.op)]
            low_amount = (self.own(child) if child is not None else 1) * self.boost(k, child)
            low_periods = self.total_cycles // (self.cycles(child) if child is not None else held)
            high_amount, high_periods = self.own(k), self.total_cycles // self.cycles(k)
            units = self.instances(k)
            top = index == 0

            def w(amount, periods, precision, _level=level, _units=units):
                return _words(amount, precision, periods, _units, _level.word_bits, _level.access_width_bits)

            if self.op != "output":
                entry[0] += w(low_amount, low_periods, self.bits[self.op])
                if not top:
                    entry[1] += w(high_amount, high_periods, self.bits[self.op])
                continue
            psum, final = self.bits["psum"], self.bits["output"]
            refills_here = int(outputs * (flags[k] - 1)) != 0
            entry[2] += w(low_amount, low_periods, psum if refills_here else final)
            if flags[k] > 1 and refills_here:
                entry[0] += w(low_amount, low_periods, psum)
            if top:
                continue
            parent = keepers[index - 1]
            refills_above = int(outputs * (flags[parent] - 1)) != 0
            entry[0] += w(high_amount, high_periods, psum if refills_above else final)
            if flags[parent] > 1 and refills_above:
                entry[1] += w(high_amount, high_periods, psum)


def _words(amount: float, precision: int, periods: int, units: int, word_bits: int, access_bits: int) -> int:
    """CostModelEvaluation._calc_memory_access."""
    if amount == 0 or precision == 0:
        return 0
    return int(math.ceil(amount * precision / word_bits) * (word_bits / access_bits) * periods * units)
