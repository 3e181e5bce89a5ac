"""Cost of one fixed mapping of one layer on an N-level hierarchy: per level x operand the reads, writes and
updates, per level and action the energy, the MAC energy and the cycles (issue 17, item 4).

The model (the standard analytical one of Timeloop and ZigZag, stated exactly)
------------------------------------------------------------------------------
The mapping is one loop nest, outermost first (:func:`hwmap.cost.multilevel.nest.resolve`): each level's temporal
loops, then the spatial loops of its fanout. The tile a level stores is everything from its first loop inward
(per instance); its extent along a dim is the product of those loops' factors, clipped to the layer. A loop's
effective trips are the non-empty tiles it steps through: ceil(min(size, tile with it) / tile below it)
(padding: iterations past the layer's edge move and compute nothing; the padded iterations still take cycles).

Operand o travels down the levels that keep it. For each pair (parent p, child c) of consecutive keepers:

- **Refetch rule (stationarity).** Scanning the temporal loops above c from the inside out, the loops irrelevant
  to o met before the first relevant loop with more than one effective trip keep o's tile in c (it is reused
  across them); every irrelevant loop above that point re-fetches it. R = product of those irrelevant loops'
  effective trips (1 when there are none).
- **Distinct tiles.** The relevant loops above c step through every tile of o once per refetch: one pass moves
  ``extent_sum`` elements (the operand itself, or for inputs the sum of every tile's rows and columns with its
  halo: halos are fetched again with each tile, no sliding-window reuse).
- **Spatial fanout.** Spatial loops irrelevant to o above c give copies: every child instance is written
  (writes x their trips). Between p and c they multicast: the parent is read once for all the children it
  feeds, the union of their tiles (the tile at c grown by those spatial loops). Irrelevant spatial loops above p
  multiply the parent's reads too (separate parent instances).
  Inputs/weights: parent reads = R x spatial-above-p x extent_sum(union tile); child writes = R x
  spatial-above-c x extent_sum(tile at c).
- **Outputs.** The output tile at c is visited R times (R counts the reduction loops C/FY/FX above the point
  where it stays). Every visit ends with a drain: a read at c and an update at p (reduced over spatial
  reduction loops between p and c). Every visit but the first of a tile starts with a refill of its partial
  sums: a read at p and a write at c. At DRAM the last drain of a tile is the output (``output`` bits), every
  other output word moves at the partial-sum width (``psum`` bits, default the output's).
- **MACs.** The MACs have no storage: every MAC reads its input and weight from the innermost level keeping
  them (one read per group of MACs an irrelevant spatial loop below that level multicasts to) and updates its
  output there (reduced over spatial reduction loops below it); an output update reads the partial sum unless it
  is the first touch of that element in that instance.

Conventions (:class:`AccessConventions`; hwmap's default is every field False, the model above): where peers
count differently by choice rather than by error, an option states the peer's rule so the two can be compared
like with like. ``mac_operand_held`` is ZigZag 3.9.1's ``access_same_data_considered_as_no_access`` (zigzag/
mapping/mapping.py, Mapping.calc_data_access; True in its CostModelEvaluation): an input or weight read from its
innermost keeper is held at the memory's output pins over the innermost run of temporal loops irrelevant to it
(TemporalMapping.innermost_stationary_loop_merge_down's mac_level_data_stationary_cycle), so the MACs' reads are
divided by that run, when the level's read bandwidth (bits per cycle per instance) holds the operand's data below
one instance (what its MACs take at once).
``clip_input_to_tensor`` is ZigZag 3.9.1's clipping of partially relevant dimensions (zigzag/workload/
layer_node.py, LayerNode.calc_tensor_dim: ``pr_dim_size = min(self.pr_layer_dim_sizes[dim], pr_dim_size)``, the
size of IX / IY that mapping_assist_funcs.decouple_pr_loop gives every level's data, so Mapping.calc_data_size and
every access count and capacity derived from it): an input tile's rows (columns) are at most the real tensor's,
the rows all windows touch less the layer's padding (LayerNode.calc_pr_dimension_size_total; the workload's
``pr_loop_sizes`` when given, the same number for hwmap's export). It bounds a tile's extent, not its position: a
border tile still counts its padded rows unless the tile is as large as the tensor. hwmap's default (False): a
tile's padded border is fetched like any other row (LoopProblem.padding_y / padding_x are not read).
``fractional_spatial_unrolling`` is ZigZag 3.9.1's SpatialMappingConversionStage.generate_limited_user_spatial_mapping
(zigzag/stages/mapping/spatial_mapping_conversion.py, "Check 3"): a spatial unrolling that does not divide its
layer dim becomes fractional: size / ceil(size / unrolling), over the dim's other unrollings (OX 7 unrolled
2-wide is unrolled 7 / 4 = 1.75-wide), whatever the temporal loops, so loops that multiply to ceil(size / unrolling)
(as LOMA's do) step through exactly the layer's size; temporal loops past that (hwmap's search pads DRAM's loop)
run past the edge at the fractional width, as in ZigZag (checked by running ZigZag's cost model on hwmap's mappings);
the loop that takes it is the dim's largest spatial loop (check_if_oa_dim_mapping_is_first_max). Every count
then follows ZigZag's Mapping.calc_data_access: an operand's accesses at a level are the iterations of the loops
above the tile it stores times the tile's elements, both fractional; at the MACs, one input read per distinct
element of the spatial tile below the innermost level (output and filter columns unrolled together that meet on
one input column share its read: decouple_pr_loop's IX/IY reuse). hwmap's default (False): the unrolling stays
whole, iterations past the edge move nothing (effective trips) and the idle PEs of the last step still receive
data; the MACs share a read only across loops irrelevant to the input.
``truncate_input_tile_rows`` is LayerNode.calc_tensor_dim's ``int(layer_dim_sizes[related_dim])`` (zigzag/workload/
layer_node.py), which mapping_assist_funcs.decouple_pr_loop applies to the output rows (columns) of every tile: with
fractional tiles an input tile has the input rows of the whole output rows in it (1.75 output columns, 1 column at
a 1 x 1 filter) and a pass over the tiles moves (OX / 1.75) x that. Only fractional tiles (above) are affected.
``psum_per_output_element`` is the output rule of ZigZag's Mapping.calc_data_access (zigzag/mapping/mapping.py:
rd_out_to_low = operand_size_elem[O] x (output_ir_loop_size_caal[level + 1] - 1), wr_in_by_high =
operand_size_elem[O] x (output_ir_loop_size_caal[level + 2] - 1)): partial sums are counted per output element,
not per copy of it in a spatial reduction. The first visit of each output element reads no partial sum (hwmap: the
first visit in each PE of the reduction, each starting from zero), and a refill of partial sums from a parent is
one read there and one write below per element (hwmap: a write into every PE of a spatial reduction below it).
``port_word_energy`` is how ZigZag 3.9.1 turns accesses into energy (zigzag/cost_model/cost_model.py,
CostModelEvaluation.calc_memory_word_access / _calc_memory_access / calc_memory_energy_cost; the module
:mod:`hwmap.cost.multilevel.port_words` states it): not the counted elements but each port direction's word
accesses, per period of the loops below the transfer and per instance, ceil(elements x precision /
bandwidth_min) x bandwidth_min / bandwidth_max, with partial sums at their precision wherever the level holds partial
sums (a reduction loop at it or above: Mapping.psum_flag) and a partial-sum read towards the MACs priced like
an update; reads x r_cost, writes and updates x w_cost. It changes only the words and the energy, not the counted
elements; a template's leakage (ZigZag's hardware has none, its energy no such term) is still added as below.
hwmap's default (False): words = elements x bits / access_width_bits, the final output's bits only for the last
drain into DRAM.

Energies: words = elements x operand bits / the level's access_width_bits, priced per action (read, write,
update); leakage per cycle per instance of every level and MAC; MAC energy per real (unpadded) MAC.
Cycles = max(compute cycles, every level's transfer cycles): compute = the product of every temporal factor
(each step runs one MAC on every used PE); a level's transfer cycles = its read bytes / (read bandwidth x used
instances) + its written and updated bytes / (write bandwidth x used instances) (one port: reads and writes do not
overlap; a level without bandwidth costs no transfer time). Multiple buffering is assumed to hide transfers
behind compute, so the slowest of the two bounds the layer.
Capacity: per level, the tiles of the operands it keeps (inputs with their halo, outputs at the partial-sum
width) must fit its usable bytes (capacity / multiple buffering; per operand when the level is partitioned).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from hwmap.cost.multilevel.nest import MappingError, Nest, NestMapping, flatten, nested, resolve, unnested_operand_nest
from hwmap.cost.multilevel.port_words import port_words
from hwmap.cost.multilevel.problem import RELEVANT, LoopProblem, _rows, extent_sum, tile_elements
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy
from hwmap.vocabulary import ACCESS_CONVENTIONS

__all__ = ["ACTIONS", "CONVENTIONS_BY_NAME", "HWMAP_CONVENTIONS", "ZIGZAG_CONVENTIONS", "AccessConventions",
           "LevelResult", "OperandAccess", "energy_floor_pj", "evaluate_mapping", "evaluate_operand_nests",
           "evaluate_unless_above",
           "operand_bits_of"]

ACTIONS: tuple[str, ...] = ("read", "write", "update")


@dataclass(frozen=True, slots=True)
class AccessConventions:
    """Counting rules that are modelling choices, not errors (module docstring, "Conventions").

    mac_operand_held: ZigZag's access_same_data_considered_as_no_access: an input/weight read from its innermost
    keeper serves the innermost run of temporal loops irrelevant to it (when the level's read bandwidth holds
    what its MACs take at once). hwmap's default (False): one read per MAC (per multicast group).
    clip_input_to_tensor: ZigZag's LayerNode.calc_tensor_dim: an input tile's rows and columns at most the real
    (unpadded) tensor's. hwmap's default (False): padded rows and columns are fetched like real ones.
    fractional_spatial_unrolling: ZigZag's SpatialMappingConversionStage: a spatial unrolling that does not divide
    its dim is fractional (size / ceil(size / unrolling)). hwmap's default (False): whole unrollings,
    iterations past the layer's edge move nothing.
    truncate_input_tile_rows: ZigZag's LayerNode.calc_tensor_dim int(): a fractional tile's input rows are those of
    its whole output rows. hwmap's default (False): not needed (hwmap's tiles are whole).
    psum_per_output_element: ZigZag's Mapping.calc_data_access output rule: partial sums are read and refilled per
    output element, not per copy of it in a spatial reduction. hwmap's default (False): per copy (per PE).
    port_word_energy: ZigZag's CostModelEvaluation.calc_memory_word_access: energy prices each port direction's
    word accesses per period and instance, rounded up to whole words (hwmap.cost.multilevel.port_words). hwmap's
    default (False): elements x bits / access width.
    """

    mac_operand_held: bool = False
    clip_input_to_tensor: bool = False
    fractional_spatial_unrolling: bool = False
    truncate_input_tile_rows: bool = False
    psum_per_output_element: bool = False
    port_word_energy: bool = False


HWMAP_CONVENTIONS = AccessConventions()
ZIGZAG_CONVENTIONS = AccessConventions(mac_operand_held=True, clip_input_to_tensor=True,
                                       fractional_spatial_unrolling=True, truncate_input_tile_rows=True,
                                       psum_per_output_element=True, port_word_energy=True)
#: hwmap.vocabulary.ACCESS_CONVENTIONS -> its rules (`hwmap map --fixed F --conventions NAME`)
CONVENTIONS_BY_NAME: dict[str, AccessConventions] = dict(zip(ACCESS_CONVENTIONS,
                                                             (HWMAP_CONVENTIONS, ZIGZAG_CONVENTIONS), strict=True))


@dataclass(frozen=True, slots=True)
class OperandAccess:
    """Accesses of one operand at one level: elements, and words of the level's access width."""

    level: str
    operand: str
    reads: float
    writes: float
    updates: float
    read_words: float
    write_words: float
    update_words: float


@dataclass(frozen=True)
class LevelResult:
    """Everything evaluate_mapping reports for one layer and one mapping (see the module docstring)."""

    problem: LoopProblem
    mapping: NestMapping
    accesses: tuple[OperandAccess, ...]
    level_energy_pj: dict[str, dict[str, float]]  # level -> action (read/write/update/leakage) -> pJ
    mac_energy_pj: float
    compute_cycles: float
    transfer_cycles: dict[str, float]
    macs: int
    padded_iterations: int
    used_pes: int
    pes: int
    tile_bytes: dict[str, float]
    usable_bytes: dict[str, float]
    violations: tuple[str, ...] = field(default=())

    @property
    def cycles(self) -> float:
        return max(self.compute_cycles, *self.transfer_cycles.values())

    @property
    def energy_pj(self) -> float:
        return self.mac_energy_pj + sum(sum(v.values()) for v in self.level_energy_pj.values())

    @property
    def utilisation(self) -> float:
        """Real MACs over what the whole array could run in the compute cycles."""
        return self.macs / (self.compute_cycles * self.pes)

    @property
    def padding(self) -> float:
        """Fraction of the iteration space that is padding (past the layer's edge)."""
        return 1.0 - self.macs / self.padded_iterations

    @property
    def fits(self) -> bool:
        return not self.violations

    def access(self, level: str, operand: str) -> OperandAccess:
        for a in self.accesses:
            if a.level == level and a.operand == operand:
                return a
        return OperandAccess(level, operand, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def level_energy(self, level: str) -> float:
        return sum(self.level_energy_pj[level].values())

    def records(self) -> list[dict]:
        """One flat row per level x operand (for --json/--csv)."""
        return [{"level": a.level, "operand": a.operand, "reads": a.reads, "writes": a.writes,
                 "updates": a.updates, "read_words": a.read_words, "write_words": a.write_words,
                 "update_words": a.update_words} for a in self.accesses]


def operand_bits_of(operand_bits) -> dict[str, int]:
    """input/weight/output/psum bits from a dict or an object with those attributes (psum defaults to output)."""
    get = operand_bits.get if isinstance(operand_bits, dict) else (lambda k, d=None: getattr(operand_bits, k, d))
    bits = {k: get(k) for k in ("input", "weight", "output")}
    bits["psum"] = get("psum") or bits["output"]
    for name, value in bits.items():
        if not isinstance(value, int) or value < 1:
            raise MappingError(f"operand_bits.{name} = {value!r}; expected an integer >= 1")
    return bits


@functools.lru_cache(maxsize=64)
def _sizes(problem: LoopProblem) -> dict[str, int]:
    """problem.sizes, made once per layer for the thousands of tile sets of its search (read only)."""
    return problem.sizes


@functools.lru_cache(maxsize=64)
def _input_axes(problem: LoopProblem) -> tuple:
    """Per spatial axis of the input: (output dim, filter dim, stride, dilation, real input rows), for input_tile."""
    return tuple((o, f, getattr(problem, f"stride_{axis}"), getattr(problem, f"dilation_{axis}"),
                  problem.input_rows(axis)) for o, f, axis in (("OY", "FY", "y"), ("OX", "FX", "x")))


class _Tiles:
    """Per loop position i: the padded tile below it (loops i.. inward) per dim, and effective trips."""

    def __init__(self, nest: Nest, problem: LoopProblem) -> None:
        self.sizes = _sizes(problem)
        n = len(nest.loops)
        self.padded = [dict.fromkeys(LOOP_DIMS, 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            self.padded[i] = dict(self.padded[i + 1])
            loop = nest.loops[i]
            self.padded[i][loop.dim] *= loop.factor
        self.eff = [-(-min(self.sizes[lp.dim], self.padded[i][lp.dim]) // self.padded[i + 1][lp.dim])
                    for i, lp in enumerate(nest.loops)]
        self._clipped: dict[int, dict[str, int]] = {}

    def clipped(self, i: int, grow: dict[str, int] | None = None) -> dict[str, int]:
        """The tile below loop position i (grown by ``grow``'s factors), clipped to the layer (callers only read
        it: the ungrown ones are kept)."""
        if not grow:
            if i not in self._clipped:
                self._clipped[i] = {d: min(self.sizes[d], self.padded[i][d]) for d in LOOP_DIMS}
            return self._clipped[i]
        return {d: min(self.sizes[d], self.padded[i][d] * grow.get(d, 1)) for d in LOOP_DIMS}


class _FractionalTiles(_Tiles):
    """_Tiles under ZigZag's fractional spatial unrolling (AccessConventions.fractional_spatial_unrolling): a dim
    whose unrolling does not divide its size takes the excess off its largest spatial loop (the first in the nest
    on a tie), which becomes size / ceil(size / unrolling) / (the dim's other spatial loops) as
    SpatialMappingConversionStage makes it, whatever the temporal loops; the dim's loops then step their whole
    (fractional) factors (exactly its size when the temporal loops multiply to ceil(size / unrolling)). A dim
    whose unrolling divides it, or that has none, keeps hwmap's effective trips."""

    def __init__(self, nest: Nest, problem: LoopProblem) -> None:
        self.sizes = _sizes(problem)
        self.problem = problem
        self._axes = _input_axes(problem)
        factors: list[float] = [float(lp.factor) for lp in nest.loops]
        exact = set()
        by_dim: dict[str, list[int]] = {}  # each dim's spatial loop positions, innermost last
        for i, lp in enumerate(nest.loops):
            if lp.axis is not None:  # spatial
                by_dim.setdefault(lp.dim, []).append(i)
        for dim in LOOP_DIMS:
            spatial = by_dim.get(dim)
            if not spatial:
                continue
            unrolled = math.prod(factors[i] for i in spatial)
            if self.sizes[dim] % unrolled == 0:
                continue
            widest = max(spatial, key=lambda i: (factors[i], -i))
            # generate_limited_user_spatial_mapping: size / ceil(size / unrolling), over the dim's other unrollings
            factors[widest] = self.sizes[dim] / math.ceil(self.sizes[dim] / unrolled) / (unrolled / factors[widest])
            exact.add(dim)
        self.fractional = bool(exact)
        if not exact:
            super().__init__(nest, problem)
            return
        n = len(nest.loops)
        self.padded = [dict.fromkeys(LOOP_DIMS, 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            self.padded[i] = dict(self.padded[i + 1])
            self.padded[i][nest.loops[i].dim] *= factors[i]
        # the other dims' effective trips as _Tiles makes them: their padded extents are products of whole factors
        # (floats here, exact below 2 ** 53), so int() of the same quotient
        self.eff = [factors[i] if lp.dim in exact else
                    int(-(-min(self.sizes[lp.dim], self.padded[i][lp.dim]) // self.padded[i + 1][lp.dim]))
                    for i, lp in enumerate(nest.loops)]
        self._clipped = {}

    def extent_sum(self, tile: dict, op: str, *, clip: bool, truncate: bool):
        """Elements one pass over all tiles of ``tile`` moves: ZigZag's (layer / tile) x tile for every dim; an
        input tile's rows and columns from its whole output rows (``truncate``: LayerNode.calc_tensor_dim's int())
        and at most the real tensor's (``clip``)."""
        p = self.problem
        if op != "input":
            return extent_sum(p, tile, op, clip_to_tensor=clip)
        passes = math.prod(self.sizes[d] / tile[d] for d in RELEVANT["input"])
        return passes * self.input_tile(tile, clip=clip, truncate=truncate)

    def input_tile(self, tile: dict, *, clip: bool, truncate: bool):
        """Input elements of one tile: the rows (columns) of its output rows, whole ones with ``truncate``."""
        total = tile["B"] * tile["G"] * tile["C"]
        for o, f, stride, dilation, real_rows in self._axes:
            outs = max(1, int(tile[o] + 1e-9)) if truncate else tile[o]
            rows = _rows(outs, tile[f], stride, dilation)
            total *= min(rows, real_rows) if clip else rows
        return total

    def mac_reads(self, nest: Nest, c: int, *, clip: bool, truncate: bool) -> float:
        """The MACs' input reads from level c as ZigZag counts them (Mapping.calc_data_access's data_access_raw at
        the MAC level): one read per element of the spatial tile below c, per step of every other loop; the MACs
        of a spatial tile that read the same input element (irrelevant loops, and output and filter rows that
        meet on the same input row) share it."""
        tile = dict.fromkeys(LOOP_DIMS, 1.0)
        for i, lp in enumerate(nest.loops):
            if lp.spatial and lp.level >= c:
                tile[lp.dim] *= self.eff[i]
        return self.problem.macs / math.prod(tile.values()) * self.input_tile(tile, clip=clip, truncate=truncate)


def evaluate_mapping(hierarchy: Hierarchy, problem: LoopProblem, mapping, *, operand_bits,
                     strict: bool = True, source: str = "mapping",
                     conventions: AccessConventions | None = HWMAP_CONVENTIONS) -> LevelResult:
    """The cost of ``mapping`` (a form-C dict or a NestMapping) for ``problem`` on ``hierarchy``.

    conventions: counting and pricing rules of a peer (AccessConventions; default, or None, hwmap's own).

    strict: a mapping whose tiles overflow a level is ONE MappingError line naming the level; otherwise the
    overflow is reported in ``violations``.
    """
    conventions = conventions or HWMAP_CONVENTIONS
    nest = resolve(mapping, hierarchy, problem, source=source)
    bits = operand_bits_of(operand_bits)
    views = _views(hierarchy, problem, nest, conventions)
    return _evaluated(hierarchy, problem, nest, views, bits, conventions, strict=strict, source=source)


def evaluate_unless_above(hierarchy: Hierarchy, problem: LoopProblem, mapping, *, operand_bits,
                          conventions: AccessConventions, ceiling_pj: float, source: str = "mapping",
                          trusted: bool = False) -> LevelResult | None:
    """evaluate_mapping(strict=False), or None when the mapping's energy is certainly above ``ceiling_pj``: under
    port_word_energy its energy_floor_pj (the MACs, the word accesses as priced, leakage over the compute cycles)
    is computed first, and it is the whole energy but the leakage of the cycles the bandwidth adds.
    trusted: ``mapping`` is a NestMapping valid on this hierarchy and layer by construction (the search's
    finalists): flattened without resolve's checks."""
    conventions = conventions or HWMAP_CONVENTIONS
    nest = flatten(mapping) if trusted else resolve(mapping, hierarchy, problem, source=source)
    bits = operand_bits_of(operand_bits)
    views = _views(hierarchy, problem, nest, conventions)
    if not conventions.port_word_energy:
        return _evaluated(hierarchy, problem, nest, views, bits, conventions, strict=False, source=source)
    words = _port_words(hierarchy, problem, views, bits, conventions)
    if energy_floor_pj(hierarchy, problem, nest, words) > ceiling_pj:
        return None
    return _evaluated(hierarchy, problem, nest, views, bits, conventions, strict=False, source=source, words=words)


def evaluate_operand_nests(hierarchy: Hierarchy, problem: LoopProblem, nests: dict[str, Nest], *, operand_bits,
                           conventions: AccessConventions, ceiling_pj: float | None = None,
                           view_cache: dict | None = None) -> LevelResult | None:
    """evaluate_mapping(strict=False) of a per-operand loop allocation: ``nests[op]`` is the nest operand ``op``
    sees (every operand's nest has the same temporal loops in the same order, cut at the operand's own keepers;
    hwmap.cost.multilevel.operand_allocation builds them). Every count and word of an operand comes from its own
    nest (as evaluate_mapping's per-operand views), the capacities add the operands' own tiles per level; the
    result's ``mapping`` is nests["output"]'s. ceiling_pj: as evaluate_unless_above, None when the energy floor
    under port_word_energy is above it; None too when an operand's tile overflows a level (checked first: the
    allocations tried are mostly ones that do not fit). view_cache: a dict the caller keeps over calls with the
    same problem and conventions: each operand's view of a Nest object seen before is reused."""
    conventions = conventions or HWMAP_CONVENTIONS
    bits = operand_bits_of(operand_bits)
    flat, views = nested(hierarchy), {}
    cache = {} if view_cache is None else view_cache
    for op in OPERANDS:
        cached = cache.get((op, id(nests[op])))
        if cached is None or cached[0] is not nests[op]:
            op_nest = nests[op] if flat else unnested_operand_nest(nests[op], hierarchy, op)
            cached = cache[(op, id(nests[op]))] = (nests[op], (op_nest, _FractionalTiles(op_nest, problem)
                                                               if conventions.fractional_spatial_unrolling
                                                               else _Tiles(op_nest, problem)))
        views[op] = cached[1]
    if _capacity(hierarchy, nests["output"], views, problem, bits, clip=conventions.clip_input_to_tensor)[2]:
        return None
    words = None
    if conventions.port_word_energy:
        words = _port_words(hierarchy, problem, views, bits, conventions)
        if ceiling_pj is not None and energy_floor_pj(hierarchy, problem, nests["output"], words) > ceiling_pj:
            return None
    return _evaluated(hierarchy, problem, nests["output"], views, bits, conventions, strict=False,
                      source="per-operand allocation", words=words)


def energy_floor_pj(hierarchy: Hierarchy, problem: LoopProblem, nest: Nest, words: dict) -> float:
    """Energy (pJ) no evaluation of ``nest`` under port_word_energy goes below, given its port_words: the MACs,
    every word access priced as _priced prices it, and every leakage over the compute cycles (the cycles are at least
    those; the energy adds nothing else, and every term is >= 0). The float operations are LevelResult.energy_pj's in
    its order with the compute cycles for the cycles, so the floor is the energy, to the bit, when no transfer
    stalls, and never above it (each term no lower, and rounding is monotonic)."""
    compute = math.prod(lp.factor for lp in nest.loops if not lp.spatial)
    levels = 0
    for level in hierarchy.levels:
        per = dict.fromkeys(ACTIONS, 0.0)
        pj = (level.energy.read_pj, level.energy.write_pj, level.energy.update_pj)
        for op in OPERANDS:
            for action, w, price in zip(ACTIONS, words[(level.name, op)], pj, strict=True):
                per[action] += w * price
        levels += sum(per.values()) + level.energy.leakage_pj_per_cycle * level.instances * compute
    return (problem.macs * hierarchy.compute.mac_energy_pj
            + hierarchy.compute.leakage_pj_per_cycle * hierarchy.compute.instances * compute) + levels


def _views(hierarchy: Hierarchy, problem: LoopProblem, nest: Nest, conventions: AccessConventions) -> dict:
    """Each operand's view of the nest (the nest itself unless operands fan out at different levels) and its
    tiles."""
    views, flat = {}, nested(hierarchy)
    for op in OPERANDS:
        op_nest = nest if flat else unnested_operand_nest(nest, hierarchy, op)
        shared = next((v for v in views.values() if v[0] is op_nest), None)  # one nest, one set of tiles
        views[op] = shared or (op_nest, _FractionalTiles(op_nest, problem) if conventions.fractional_spatial_unrolling
                               else _Tiles(op_nest, problem))
    return views


def _port_words(hierarchy: Hierarchy, problem: LoopProblem, views: dict, bits: dict,
                conventions: AccessConventions) -> dict:
    return port_words(hierarchy, views, problem, bits, clip=conventions.clip_input_to_tensor,
                      truncate=conventions.truncate_input_tile_rows,
                      held_cycles={op: _stationary_run(*views[op], op) if conventions.mac_operand_held else 1
                                   for op in OPERANDS if op != "output"})


def _evaluated(hierarchy: Hierarchy, problem: LoopProblem, nest: Nest, views: dict, bits: dict,
               conventions: AccessConventions, *, strict: bool, source: str, words: dict | None = None
               ) -> LevelResult:
    """evaluate_mapping's counts, pricing, cycles and capacities for a resolved nest and its views (``words``:
    its port_words when already computed)."""
    names = [lv.name for lv in hierarchy.levels]
    acc = {(lv, op): [0.0] * 6 for lv in names for op in OPERANDS}  # reads, writes, updates; then their bits
    for op in OPERANDS:
        op_nest, tiles = views[op]
        keepers = op_nest.keepers(op)
        for p, c in zip(keepers, keepers[1:], strict=False):
            _boundary(op_nest, tiles, problem, bits, acc, names, op, p, c, clip=conventions.clip_input_to_tensor,
                      conventions=conventions)
        held = _held_run(op_nest, tiles, problem, bits, hierarchy.levels[keepers[-1]], op, keepers[-1],
                         clip=conventions.clip_input_to_tensor) \
            if conventions.mac_operand_held and op != "output" else 1
        _mac_side(op_nest, tiles, problem, bits, acc, names[keepers[-1]], op, keepers[-1], held,
                  conventions=conventions)
    if words is None and conventions.port_word_energy:
        words = _port_words(hierarchy, problem, views, bits, conventions)
    accesses, energy = _priced(hierarchy, acc, words)
    compute = math.prod(lp.factor for lp in nest.loops if not lp.spatial)
    used = _used_instances(nest, views, len(names))
    transfer = {}
    for index, level in enumerate(hierarchy.levels):
        read_b = sum(acc[(level.name, op)][3] for op in OPERANDS) / 8
        write_b = sum(acc[(level.name, op)][4] + acc[(level.name, op)][5] for op in OPERANDS) / 8
        t = 0.0
        if level.read_bandwidth_bytes_per_cycle:
            t += read_b / (level.read_bandwidth_bytes_per_cycle * used[index])
        if level.write_bandwidth_bytes_per_cycle:
            t += write_b / (level.write_bandwidth_bytes_per_cycle * used[index])
        transfer[level.name] = t
    cycles = max(compute, *transfer.values())
    for level in hierarchy.levels:
        energy[level.name]["leakage"] = level.energy.leakage_pj_per_cycle * level.instances * cycles
    mac_pj = problem.macs * hierarchy.compute.mac_energy_pj \
        + hierarchy.compute.leakage_pj_per_cycle * hierarchy.compute.instances * cycles
    tile_bytes, usable, violations = _capacity(hierarchy, nest, views, problem, bits,
                                               clip=conventions.clip_input_to_tensor)
    if strict and violations:
        raise MappingError(f"{source}: {violations[0]}")
    padded = math.prod(views["input"][1].padded[0].values())
    return LevelResult(problem=problem, mapping=nest.mapping, accesses=accesses, level_energy_pj=energy,
                       mac_energy_pj=mac_pj, compute_cycles=float(compute), transfer_cycles=transfer,
                       macs=problem.macs, padded_iterations=padded, used_pes=used[-1],
                       pes=hierarchy.compute.instances, tile_bytes=tile_bytes, usable_bytes=usable,
                       violations=tuple(violations))


def _refetches(nest: Nest, tiles: _Tiles, op: str, start: int) -> int:
    """R of the refetch rule for a tile stored from loop position ``start`` on."""
    relevant, seen, repeats = RELEVANT[op], False, 1
    for i in range(start - 1, -1, -1):
        loop = nest.loops[i]
        if loop.spatial:
            continue
        if loop.dim in relevant:
            seen = seen or tiles.eff[i] > 1
        elif seen:
            repeats *= tiles.eff[i]
    return repeats


def _spatial_copies(nest: Nest, tiles: _Tiles, op: str, below_level: int) -> int:
    """Product of the effective trips of the spatial loops irrelevant to op at levels above ``below_level``."""
    return math.prod(tiles.eff[i] for i, lp in enumerate(nest.loops)
                     if lp.spatial and lp.level < below_level and lp.dim not in RELEVANT[op])


def _boundary(nest, tiles, problem, bits, acc, names, op, p, c, *, clip: bool = False,
              conventions: AccessConventions = HWMAP_CONVENTIONS) -> None:
    start = nest.level_start(c)
    repeats = _refetches(nest, tiles, op, start)
    above_p, above_c = _spatial_copies(nest, tiles, op, p), _spatial_copies(nest, tiles, op, c)
    grow: dict[str, int] = {}
    for i, lp in enumerate(nest.loops):
        if lp.spatial and p <= lp.level < c:
            grow[lp.dim] = grow.get(lp.dim, 1) * tiles.eff[i]
    if getattr(tiles, "fractional", False):
        union = tiles.extent_sum(tiles.clipped(start, grow), op, clip=clip,
                                 truncate=conventions.truncate_input_tile_rows)
        own = tiles.extent_sum(tiles.clipped(start), op, clip=clip, truncate=conventions.truncate_input_tile_rows)
    else:
        union = extent_sum(problem, tiles.clipped(start, grow), op, clip_to_tensor=clip)
        own = extent_sum(problem, tiles.clipped(start), op, clip_to_tensor=clip)
    parent, child = acc[(names[p], op)], acc[(names[c], op)]
    if op != "output":
        _add(parent, "read", repeats * above_p * union, bits[op])
        _add(child, "write", repeats * above_c * own, bits[op])
        return
    if conventions.psum_per_output_element:
        _psum_per_output_element(parent, child, bits, repeats, above_p, above_c, union, own, p)
        return
    first = above_p * union
    _add(parent, "update", (repeats - 1) * first, bits["psum"])
    _add(parent, "update", first, bits["output"] if p == 0 else bits["psum"])
    _add(parent, "read", (repeats - 1) * first, bits["psum"])
    _add(child, "read", repeats * above_c * own, bits["psum"])
    _add(child, "write", (repeats - 1) * above_c * own, bits["psum"])


def _held_run(nest, tiles, problem, bits, level, op, c, *, clip: bool = False) -> int:
    """ZigZag's mac_level_data_stationary_cycle: the effective trips of the innermost temporal loops irrelevant to
    op, up to its first relevant loop that moves; 1 when the level's read bandwidth cannot deliver, in one cycle,
    op's data below one instance of level c (its spatial loops' tile)."""
    below = dict.fromkeys(LOOP_DIMS, 1)
    for i, lp in enumerate(nest.loops):
        if lp.spatial and lp.level >= c:
            below[lp.dim] *= tiles.eff[i]
    below = {d: min(problem.sizes[d], f) for d, f in below.items()}
    width = level.read_bandwidth_bytes_per_cycle
    if width is not None and tile_elements(problem, below, op, clip_to_tensor=clip) * bits[op] > width * 8:
        return 1
    return _stationary_run(nest, tiles, op)


def _stationary_run(nest, tiles, op) -> int:
    """The effective trips of the innermost temporal loops irrelevant to op, up to its first relevant loop that
    moves (ZigZag's mac_level_data_stationary_cycle, whatever the bandwidth)."""
    run = 1
    for i in range(len(nest.loops) - 1, -1, -1):
        lp = nest.loops[i]
        if lp.spatial or tiles.eff[i] == 1:
            continue
        if lp.dim in RELEVANT[op]:
            break
        run *= tiles.eff[i]
    return run


def _psum_per_output_element(parent, child, bits, repeats, above_p, above_c, union, own, p) -> None:
    """_boundary's output counts under ZigZag's rule (AccessConventions.psum_per_output_element): the tile at the
    child is visited R x (parent copies) times per output element; the parent is updated on every visit, read and
    written back below on every visit but the first of each element (Mapping.calc_data_access: rd_out_to_low /
    wr_in_by_high = outputs x (output_ir_loop_size_caal - 1)); the child is drained on every visit of every copy."""
    visits = repeats * above_p * union
    refills = max(visits - union, 0.0)
    _add(parent, "update", refills, bits["psum"])
    _add(parent, "update", union, bits["output"] if p == 0 else bits["psum"])
    _add(parent, "read", refills, bits["psum"])
    _add(child, "read", repeats * above_c * own, bits["psum"])
    _add(child, "write", refills, bits["psum"])


def _mac_side(nest, tiles, problem, bits, acc, name, op, c, held: int = 1, *,
              conventions: AccessConventions = HWMAP_CONVENTIONS) -> None:
    below = math.prod(tiles.eff[i] for i, lp in enumerate(nest.loops)
                      if lp.spatial and lp.level >= c and lp.dim not in RELEVANT[op])
    accesses = problem.macs / below / held
    if op == "input" and isinstance(tiles, _FractionalTiles):  # ZigZag's MAC-level count, whole tiles or not
        accesses = tiles.mac_reads(nest, c, clip=conventions.clip_input_to_tensor,
                                   truncate=conventions.truncate_input_tile_rows) / held
    if op != "output":
        _add(acc[(name, op)], "read", accesses, bits[op])
        return
    fresh = _spatial_copies(nest, tiles, op, c) * extent_sum(problem, tiles.clipped(nest.level_start(c)), op)
    if conventions.psum_per_output_element:  # ZigZag: the first touch of each output element, not of each copy
        fresh = problem.elements(op)
    _add(acc[(name, op)], "update", accesses, bits["psum"])
    _add(acc[(name, op)], "read", max(accesses - fresh, 0.0), bits["psum"])


def _add(entry: list[float], action: str, elements: float, operand_bits: int) -> None:
    i = ACTIONS.index(action)
    entry[i] += float(elements)
    entry[3 + i] += float(elements) * operand_bits


def _priced(h: Hierarchy, acc, port_words_of: dict | None = None
            ) -> tuple[tuple[OperandAccess, ...], dict[str, dict[str, float]]]:
    """Accesses and energy per level and action: words of access_width_bits (bits moved / the width), or, given
    ``port_words_of`` ((level, operand) -> words per action, AccessConventions.port_word_energy), those."""
    accesses, energy = [], {}
    for level in h.levels:
        per = dict.fromkeys(ACTIONS, 0.0)
        pj = {"read": level.energy.read_pj, "write": level.energy.write_pj, "update": level.energy.update_pj}
        for op in OPERANDS:
            e = acc[(level.name, op)]
            words = [b / level.access_width_bits for b in e[3:]] if port_words_of is None \
                else port_words_of[(level.name, op)]
            if any(e[:3]):
                accesses.append(OperandAccess(level.name, op, *e[:3], *words))
            for action, w in zip(ACTIONS, words, strict=True):
                per[action] += w * pj[action]
        energy[level.name] = per
    return tuple(accesses), energy


def _used_instances(nest: Nest, views: dict, levels: int) -> list[int]:
    """Used instances of every level (and, last, of the MACs): the spatial trips above it, as the first operand
    the level keeps sees them."""
    used = []
    for index in range(levels + 1):
        op = next((o for o in OPERANDS if index < levels and o in nest.keeps[index]), "input")
        op_nest, tiles = views[op]
        used.append(math.prod(tiles.eff[i] for i, lp in enumerate(op_nest.loops)
                              if lp.spatial and lp.level < index))
    return used


def _capacity(h: Hierarchy, nest: Nest, views: dict, problem, bits, *, clip: bool = False):
    tile_bytes, usable, violations = {}, {}, []
    for index, level in enumerate(h.levels):
        need = {}
        for op in nest.keeps[index]:
            op_nest, tiles = views[op]
            tile = tiles.clipped(op_nest.level_start(index))
            need[op] = tile_elements(problem, tile, op, clip_to_tensor=clip) \
                * (bits["psum"] if op == "output" else bits[op]) / 8
        tile_bytes[level.name] = float(sum(need.values()))
        usable[level.name] = level.usable_bytes
        parts = level.capacity_bytes_per_operand
        if parts is not None:
            for op, b in need.items():
                room = parts.get(op, 0.0) / level.multiple_buffering
                if b > room:
                    violations.append(f"levels[{level.name}]: capacity_bytes_per_operand.{op}: the {op} tile needs "
                                      f"{b:g} bytes, {room:g} usable")
        elif tile_bytes[level.name] > level.usable_bytes:
            violations.append(f"levels[{level.name}]: capacity_bytes: the tiles need {tile_bytes[level.name]:g} "
                              f"bytes ({', '.join(f'{o} {b:g}' for o, b in need.items())}), "
                              f"{level.usable_bytes:g} usable")
    return tile_bytes, usable, violations
