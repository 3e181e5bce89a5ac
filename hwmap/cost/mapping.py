"""The mapper: for each conv / GEMM layer, the loop order and tile sizes at the DRAM-facing memory level that
minimise energy (default), latency or energy-delay product, and the DRAM traffic per operand they imply.

The loop nest
-------------
Every GEMM-like layer is the 7-deep conv nest over N (images), K (output channels), C (input channels per group),
P, Q (output rows, cols), R, S (kernel rows, cols), repeated for ``groups`` independent problems (grouped convs,
attention heads). A GEMM ``(m x k) @ (k x n)`` is the nest N = 1, K = n, C = k, P = m, Q = R = S = 1. A conv with a
1 x 1 kernel is the same GEMM with P = N * P * Q (any stride: the input words it touches are the outputs' pixels),
so a pointwise conv and the equivalent linear layer get the same mapping and the same cost.

Operands: input[N, C, rows, cols] (relevant loops N, C, P, Q; irrelevant K), weight[K, C, R, S] (relevant K, C;
irrelevant N, P, Q) and output[N, K, P, Q] (relevant N, K, P, Q; irrelevant C, the reduction).
An input tile of Pt x Qt outputs covers ((Pt - 1) * se + R) rows (se = min(stride, R): rows between windows that
no window touches are skipped), so the halo is counted once per tile and the input's compulsory size is its real
touched extent ((P - 1) * se + R) x ((Q - 1) * se + S) x C x N, not its im2col copy. Assumes: padding rows and
columns are fetched like real ones (no zero skipping), i.e. the input extent is the padded one.

The mapping space (searched exactly)
------------------------------------
- Tile sizes at the DRAM-facing level: Nt, Kt, Ct, Pt, Qt, each any integer in [1, dim]; R and S are never split
  at this level (a tile holds whole kernel windows). Groups run one after another, one group's tiles at a time.
- Loop order of the tile loops above that level: any of the 5! orders of N, K, C, P, Q.
- Residency: the buffer holds one tile of each operand (two when double-buffered: the next one is filled while
  the current one is used, so each tile may use half of the level). A tile is fetched from DRAM whenever the
  loop nest moves to a tile of that operand other than the one held, so an operand is re-fetched once per
  iteration of every loop irrelevant to it that sits above its innermost relevant loop with more than one trip.
- Outputs: the output tile accumulates on chip at the partial-sum width. When the nest leaves an output tile
  before its reduction (C) is complete, the partial sums are written to DRAM at the partial-sum width and read
  back when the nest returns: with f passes over the output, (f - 1) spill writes and (f - 1) reads of the output
  at the partial-sum width, plus one final write at the output precision. With f = 1 the output is written once.
  Assumes: the output tile is held at the partial-sum width even when its reduction completes inside the tile
  (SCALE-Sim's counts hold output words instead, so where only the 32-bit tile overflows the buffer, this mapper
  splits the output and re-reads the input halo while `--mapping scalesim` does not).
- Spatial floor: a tile covers at least the array's spatial unrolling of the weight dimensions K and C (e.g. a ws
  systolic array's rows of C and columns of K; clipped to the layer), so the array works on full folds as its
  cycle count assumes. When no tile with that floor fits, the floor is dropped (the array runs partial folds).
- Capacities: per-operand levels bound each tile (input tile with its halo, weight tile, output tile at the
  partial-sum width); a shared level bounds their sum.
Inner levels (the array's PE registers, a vector PE's local buffers) follow from the kind's spatial organisation
(:mod:`hwmap.cost.systolic`, :mod:`hwmap.cost.vector`); the mapper does not change them.

Why the search below is exact over that space: the traffic of every operand depends on a loop order only through
which of three loop classes (K, C, and N/P/Q together) lie above one another, because N, P and Q are relevant to
the same operands; and it depends on a tile size only through its trip count t = ceil(dim / tile) (an input's
rows over all P tiles are se * P + t * (R - se)), while the smallest tile with t trips, ceil(dim / t), needs the
least capacity. Traffic never grows when a tile grows (fewer trips: fewer refetches, less halo) and the
capacities are linear in the P tile, so for given N, K, C, Q tiles the largest P tile that fits is optimal. So
the search enumerates the 6 class orders x every distinct minimal tile of N, K, C and Q with the largest fitting
P tile, vectorised with numpy, and returns the exact optimum of the space; tests/cost/test_mapping.py checks it
against a brute force that enumerates all 120 orders x all tile sizes and simulates the tile residency loop by
loop.

Objectives: energy (DRAM and buffer-fill energy of the traffic, plus the mapping-independent array and MAC
energy, plus static power x cycles), latency (cycles = max(compute cycles, DRAM bytes / bandwidth): double
buffering hides transfers behind compute; ties broken by energy) and EDP (energy x cycles).
Caching: the candidate grid of a layer shape is built once per memory configuration (capacities, word sizes,
buffer energies) and pruned to the candidates that can be optimal for some design point (per K and C tile, the
front in DRAM bytes and buffer energy); each design point (array size and dataflow, clock, DRAM bandwidth and
energy, static power) then only runs a choice over the survivors. The choice is cached too, by (shape, template,
compute cycles, objective). Once a shape meets a second capacity configuration in a process (a sweep or a loop over
buffer sizes) and the template's buffer energies per byte are equal, its tilings are searched once into a
:class:`CandidateTable` (every tiling with its best order, stored on disk by :mod:`hwmap.cost.candidate_store`)
and every capacity configuration is looked up in it, with the same mappings bit for bit; traffic-vs-buffer curves
(:mod:`hwmap.cost.bounds`) read the same tables.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from hwmap.cost import objectives
from hwmap.errors import HwmapError

DIMS: tuple[str, ...] = ("N", "K", "C", "P", "Q")
# The three loop classes: K (irrelevant to the input), C (irrelevant to the output), N/P/Q (irrelevant to weights).
_CLASSES: tuple[str, ...] = ("K", "C", "NPQ")
CLASS_ORDERS: tuple[tuple[str, ...], ...] = tuple(itertools.permutations(_CLASSES))


@dataclass(frozen=True, slots=True)
class LoopNest:
    """One layer's loop nest (per group); see the module docstring."""

    n: int
    k: int
    c: int
    p: int
    q: int
    r: int = 1
    s: int = 1
    stride_h: int = 1
    stride_w: int = 1
    groups: int = 1

    @classmethod
    def gemm(cls, m: int, n: int, k: int, *, batch: int = 1) -> LoopNest:
        return cls(n=1, k=n, c=k, p=m, q=1, groups=batch)

    def canonical(self) -> LoopNest:
        """A 1 x 1 kernel is a GEMM: fold N, P, Q into P (stride no longer matters)."""
        if self.r == 1 and self.s == 1:
            return LoopNest(n=1, k=self.k, c=self.c, p=self.n * self.p * self.q, q=1, groups=self.groups)
        return self

    @property
    def se_h(self) -> int:
        return min(self.stride_h, self.r)

    @property
    def se_w(self) -> int:
        return min(self.stride_w, self.s)

    @property
    def macs(self) -> int:
        return self.groups * self.n * self.k * self.c * self.p * self.q * self.r * self.s

    @property
    def input_words(self) -> int:
        """Compulsory input words of one group: the touched extent, halo included."""
        return self.n * self.c * ((self.p - 1) * self.se_h + self.r) * ((self.q - 1) * self.se_w + self.s)

    @property
    def weight_words(self) -> int:
        return self.k * self.c * self.r * self.s

    @property
    def output_words(self) -> int:
        return self.n * self.k * self.p * self.q


@dataclass(frozen=True, slots=True)
class MapTarget:
    """What the objective needs from the template, per byte (hashable: it is part of the cache key).

    cap_*: usable bytes of the DRAM-facing level of each operand (half the level when double-buffered);
    shared: one level holds all three (cap_input = cap_weight = cap_output = its usable bytes).
    fill_*_pj_per_byte: energy to write a DRAM byte into the operand's buffer; out_read/out_write: energy to read
    an output (or spilled partial sum) out of its buffer towards DRAM / write a partial sum read back into it.
    """

    input_bytes: float
    weight_bytes: float
    psum_bytes: float
    output_bytes: float
    cap_input: float
    cap_weight: float
    cap_output: float
    shared: bool
    dram_pj_per_byte: float
    fill_input_pj_per_byte: float
    fill_weight_pj_per_byte: float
    out_read_pj_per_byte: float
    out_write_pj_per_byte: float
    dram_bw_bytes_per_cycle: float
    static_pj_per_cycle: float
    min_k: int = 1  # spatial unrolling: a tile covers at least this much of K and C (clipped to the layer)
    min_c: int = 1


@dataclass(frozen=True, slots=True)
class LayerMapping:
    """The chosen mapping of one layer and the traffic it implies (bytes and energies for all groups).

    order: the tile loops outer to inner; tiles: tile size per dimension at the DRAM-facing level (R, S whole);
    refetch_*: DRAM reads of the operand / its compulsory size; psum_passes: passes over the output (1 = no
    spill). mode: "best" (the mapper's) or "scalesim" (SCALE-Sim's fold order and its DRAM counts).
    """

    mode: str
    objective: str
    order: tuple[str, ...]
    tiles: tuple[tuple[str, int], ...]
    input_read_bytes: float
    weight_read_bytes: float
    output_write_bytes: float
    psum_write_bytes: float
    psum_read_bytes: float
    input_compulsory_bytes: float
    weight_compulsory_bytes: float
    output_compulsory_bytes: float
    psum_passes: int
    candidates: int
    buffer_energy_pj: float = 0.0  # fills of the DRAM-facing level and drains towards DRAM
    energy_pj: float = 0.0  # objective's energy (incl. mapping-independent terms and static)
    cycles: float = 0.0

    @property
    def dram_bytes(self) -> float:
        return (self.input_read_bytes + self.weight_read_bytes + self.output_write_bytes + self.psum_write_bytes
                + self.psum_read_bytes)

    @property
    def refetch_input(self) -> float:
        return self.input_read_bytes / self.input_compulsory_bytes if self.input_compulsory_bytes else 0.0

    @property
    def refetch_weight(self) -> float:
        return self.weight_read_bytes / self.weight_compulsory_bytes if self.weight_compulsory_bytes else 0.0

    def tile(self, dim: str) -> int:
        return dict(self.tiles)[dim]

    def order_text(self) -> str:
        return ">".join(self.order) if self.order else "-"

    def tiles_text(self) -> str:
        return " ".join(f"{d}{t}" for d, t in self.tiles) if self.tiles else "-"

    def record(self) -> dict:
        """Flat columns for JSON/CSV."""
        rec = {"map_mode": self.mode, "map_order": self.order_text(), "map_tiles": self.tiles_text()}
        for name in ("input_read_bytes", "weight_read_bytes", "output_write_bytes", "psum_write_bytes",
                     "psum_read_bytes"):
            rec[f"dram_{name}"] = getattr(self, name)
        rec.update(map_refetch_input=self.refetch_input, map_refetch_weight=self.refetch_weight,
                   map_psum_passes=self.psum_passes)
        return rec


@lru_cache(maxsize=4096)
def _candidates(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct minimal tiles ceil(dim / t) for t = 1..dim (ascending) and their trip counts."""
    t = np.arange(1, dim + 1, dtype=np.int64)
    tiles = np.unique(-(-dim // t))
    return tiles, -(-dim // tiles)


def _order_positions(order: tuple[str, ...]) -> tuple[int, int, int]:
    return order.index("K"), order.index("C"), order.index("NPQ")


def _expand(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(itertools.chain.from_iterable(("N", "P", "Q") if c == "NPQ" else (c,) for c in order))


def class_traffic_factors(order: tuple[str, ...], tk, tc, tg):
    """(input refetch, weight refetch, output passes) for a class order (outer to inner) and trip counts.

    An operand is re-fetched once per trip of its irrelevant class when that class lies above one of its
    relevant classes with more than one trip.
    """
    return _factors(*_order_positions(order), tk, tc, tg)


def _factors(pa, pb, pg, tk, tc, tg):
    """class_traffic_factors for class positions (K, C, NPQ) that may be arrays (one order per candidate)."""
    in_f = np.where(((pa < pb) & (tc > 1)) | ((pa < pg) & (tg > 1)), tk, 1)
    w_f = np.where(((pg < pa) & (tk > 1)) | ((pg < pb) & (tc > 1)), tg, 1)
    passes = np.where(((pb < pa) & (tk > 1)) | ((pb < pg) & (tg > 1)), tc, 1)
    return in_f, w_f, passes


# Positions of the classes K, C and NPQ in each class order: rows of (K, C, NPQ) positions, one per order.
ORDER_POSITIONS = np.array([_order_positions(o) for o in CLASS_ORDERS], dtype=np.int64)
# Every order at once, shaped to broadcast against a vector of candidates: (orders, 1) per class.
_ALL_ORDER_POSITIONS = tuple(ORDER_POSITIONS[:, i:i + 1] for i in range(3))


def _traffic(nest: LoopNest, t: MapTarget, positions, kk, cc, nn, qq, pp):
    """DRAM bytes per operand, output passes and buffer energy of candidates given by trip counts.

    positions: the (K, C, NPQ) class positions of each candidate's order (_ALL_ORDER_POSITIONS: every order,
    giving (orders, candidates) arrays). The one formula of both the per-capacity grid and the candidate tables,
    so that both give the same bits.
    """
    tg = nn * pp * qq
    in_pass = (nest.n * nest.c * t.input_bytes) * (nest.se_h * nest.p + pp * (nest.r - nest.se_h)) \
        * (nest.se_w * nest.q + qq * (nest.s - nest.se_w))
    w_pass = float(nest.weight_words) * t.weight_bytes
    out_words = float(nest.output_words)
    out_final = out_words * t.output_bytes
    in_f, w_f, passes = _factors(*positions, kk, cc, tg)
    dram_in = in_f * in_pass
    dram_w = w_f * w_pass
    spill = (passes - 1) * (out_words * t.psum_bytes)
    dram = dram_in + dram_w + out_final + 2 * spill
    buffer_pj = (dram_in * t.fill_input_pj_per_byte + dram_w * t.fill_weight_pj_per_byte
                 + spill * (t.out_read_pj_per_byte + t.out_write_pj_per_byte) + out_final * t.out_read_pj_per_byte)
    return dram_in, dram_w, passes, spill, dram, buffer_pj, out_final


def map_layer(nest: LoopNest, target: MapTarget, *, compute_cycles: float, fixed_energy_pj: float = 0.0,
              objective: str = "energy", name: str = "layer") -> LayerMapping:
    """The best mapping of ``nest`` (all groups) on ``target``.

    compute_cycles and fixed_energy_pj are for the whole layer (all groups): the array's compute cycles and the
    energy that does not depend on the mapping (MACs, array-side buffer reads); they matter for the latency and
    EDP objectives and for the reported energy.
    """
    objectives.check_objective(objective)
    canon = _canonical(nest)
    g = canon.groups
    per = _group_mapping(canon, target, float(compute_cycles) / g, float(fixed_energy_pj) / g, objective)
    if per is None and (target.min_k, target.min_c) != (1, 1):
        # The buffers cannot hold the array's spatial unrolling: the array runs partial folds instead.
        floorless = replace(target, min_k=1, min_c=1)
        per = _group_mapping(canon, floorless, float(compute_cycles) / g, float(fixed_energy_pj) / g, objective)
    if per is None:
        smallest = _smallest_tiles(canon, target)
        raise HwmapError(f"{name}: no tile of the layer fits the buffers (the smallest tiles need {smallest}); "
                         "enlarge the buffers")
    return _scaled(per, g)


@lru_cache(maxsize=4096)
def _canonical(nest: LoopNest) -> LoopNest:
    """nest.canonical(), one object per shape: the mapper's caches below then meet the very key they hold and
    skip comparing its fields."""
    return nest.canonical()


def _smallest_tiles(nest: LoopNest, t: MapTarget) -> str:
    k, c = min(t.min_k, nest.k), min(t.min_c, nest.c)
    i = c * nest.r * nest.s * t.input_bytes
    w = k * c * nest.r * nest.s * t.weight_bytes
    o = k * t.psum_bytes
    if t.shared:
        return f"{i + w + o:g} bytes of a shared buffer with {t.cap_input:g} usable"
    return (f"input {i:g} of {t.cap_input:g}, weight {w:g} of {t.cap_weight:g}, output {o:g} of {t.cap_output:g} "
            "usable bytes")


def _scaled(m: LayerMapping, groups: int) -> LayerMapping:
    if groups == 1:
        return m
    return replace(m, **{f: getattr(m, f) * groups for f in (
        "input_read_bytes", "weight_read_bytes", "output_write_bytes", "psum_write_bytes", "psum_read_bytes",
        "input_compulsory_bytes", "weight_compulsory_bytes", "output_compulsory_bytes", "buffer_energy_pj",
        "energy_pj", "cycles")})


@dataclass(frozen=True)
class _Grid:
    """The candidates of one layer shape and memory configuration that can be optimal for some design point.

    Built floorless over all six class orders, then pruned: a candidate is dropped when another one with the same
    K and C tiles (so meeting the same spatial floors) moves no more DRAM bytes and spends no more buffer energy.
    Energy, cycles and EDP all grow with DRAM bytes and buffer energy, so the optimum of every objective, floor,
    clock, bandwidth and static power is among the survivors. Cached by (shape,
    capacities, word sizes, buffer energies): a sweep reuses it and runs only the cheap choice per design point.
    """

    order: np.ndarray  # (F,) index into CLASS_ORDERS
    tiles: np.ndarray  # (F, 5) int64: N, K, C, P, Q tiles
    passes: np.ndarray  # (F,)
    dram_in: np.ndarray  # (F,) bytes
    dram_w: np.ndarray
    spill: np.ndarray  # partial-sum bytes written (= read back)
    dram: np.ndarray  # all DRAM bytes
    buffer_pj: np.ndarray
    out_final: float
    candidates: int  # before pruning


@lru_cache(maxsize=256)  # ~24 shapes x 10 buffer configurations of a sweep; a grid is tens to hundreds of kB
def _grid(nest: LoopNest, t: MapTarget) -> _Grid | None:
    # Grid over the minimal tiles of N, K, C, Q; P takes the largest tile that fits with them (see _largest_p).
    dims4 = (nest.n, nest.k, nest.c, nest.q)
    tiles4, trips4 = zip(*(_candidates(d) for d in dims4), strict=True)
    shapes = [[1] * 4 for _ in range(4)]
    for i in range(4):
        shapes[i][i] = -1
    tn, tk, tc, tq = (tiles4[i].reshape(shapes[i]) for i in range(4))
    cols = (tq - 1) * nest.se_w + nest.s
    w_tile = tk * tc * (nest.r * nest.s * t.weight_bytes)
    pt = _largest_p(nest, t, tn * tc * cols * t.input_bytes, tn * tk * tq * t.psum_bytes, w_tile)
    idx = np.nonzero(pt >= 1)
    if len(idx[0]) == 0:
        return None
    pt = pt[idx]
    nn, kk, cc, qq = (trips4[i][idx[i]] for i in range(4))
    pp = -(-nest.p // pt)
    traffic = _traffic(nest, t, _ALL_ORDER_POSITIONS, kk, cc, nn, qq, pp)
    dram_in, dram_w, passes, spill, dram, buffer_pj, out_final = traffic
    tiles = np.stack([tiles4[0][idx[0]], tiles4[1][idx[1]], tiles4[2][idx[2]], -(-nest.p // pp),
                      tiles4[3][idx[3]]], axis=1)
    n_orders, n_cols = dram.shape
    order = np.repeat(np.arange(n_orders), n_cols)
    column = np.tile(np.arange(n_cols), n_orders)
    group = np.tile(idx[1] * len(tiles4[2]) + idx[2], n_orders)
    near = _near_group_front(dram.ravel(), buffer_pj.ravel(), group)
    keep = near[_undominated(dram.ravel()[near], buffer_pj.ravel()[near], tiles[column[near], 1],
                             tiles[column[near], 2])]
    o, j = order[keep], column[keep]
    return _Grid(o, tiles[j], passes[o, j], dram_in[o, j], dram_w[o, j], spill[o, j], dram[o, j],
                 buffer_pj[o, j], out_final, int(dram.size))


def _near_group_front(d: np.ndarray, b: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Ascending indices of the points that can be on their group's (d, b) front: those at the group's least
    DRAM bytes with the least buffer energy among them, and those spending less buffer energy than that point
    (every other point is dominated by it). An exact, sort-free pre-filter for _undominated."""
    size = int(group.max()) + 1
    d_min = np.full(size, np.inf)
    np.minimum.at(d_min, group, d)
    at_min = d == d_min[group]
    b_at = np.full(size, np.inf)
    np.minimum.at(b_at, group[at_min], b[at_min])
    return np.flatnonzero((b < b_at[group]) | (at_min & (b == b_at[group])))


def _undominated(d: np.ndarray, b: np.ndarray, k: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Indices of the points that no point with the same K and C tiles dominates in (DRAM bytes, buffer energy).

    Floors only test the K and C tiles, so among points with equal tiles only their (d, b) Pareto front can be
    optimal (exact ties keep the first). Points dominated across different tiles are kept: harmless, as the choice
    is exact over whatever survives. Sorted by (k, c, d, b), a point survives when its b is below every earlier b
    of its (k, c) group: a prefix minimum per group, computed on exact integer keys (the group's rank from the
    end, then b's rank) so that one running minimum over all points restarts at each group.
    """
    order = np.lexsort((b, d, c, k))
    if len(order) == 0:
        return order
    k_s, c_s = k[order], c[order]
    start = np.r_[True, (k_s[1:] != k_s[:-1]) | (c_s[1:] != c_s[:-1])]
    group = np.cumsum(start) - 1
    _, b_rank = np.unique(b[order], return_inverse=True)
    width = np.int64(b_rank.max()) + 2
    key = (group[-1] - group).astype(np.int64) * width + b_rank.reshape(-1)
    prev_min = np.r_[np.iinfo(np.int64).max, np.minimum.accumulate(key)[:-1]]
    return order[key < prev_min]


@lru_cache(maxsize=1024)  # one object per memory configuration (see _canonical)
def _grid_key(t: MapTarget) -> MapTarget:
    """The fields a grid depends on (floors, DRAM energy and bandwidth, static power only enter the choice)."""
    return MapTarget(t.input_bytes, t.weight_bytes, t.psum_bytes, t.output_bytes, t.cap_input, t.cap_weight,
                     t.cap_output, t.shared, 0.0, t.fill_input_pj_per_byte, t.fill_weight_pj_per_byte,
                     t.out_read_pj_per_byte, t.out_write_pj_per_byte, 1.0, 0.0)


@lru_cache(maxsize=8192)
def _floored(nest: LoopNest, key: MapTarget, min_k: int, min_c: int) -> np.ndarray | None:
    """Grid indices that meet the spatial floor and lie on its (DRAM bytes, buffer energy) Pareto front."""
    grid = _grid(nest, key)
    if grid is None:
        return None
    keep = np.flatnonzero((grid.tiles[:, 1] >= min_k) & (grid.tiles[:, 2] >= min_c))
    if len(keep) == 0:
        return None
    d, b = grid.dram[keep], grid.buffer_pj[keep]
    order = np.lexsort((b, d))
    b_sorted = b[order]
    prev_min = np.r_[np.inf, np.minimum.accumulate(b_sorted)[:-1]]
    return keep[order[prev_min > b_sorted]]


def _group_mapping(nest: LoopNest, t: MapTarget, compute: float, fixed_pj: float,
                   objective: str) -> LayerMapping | None:
    """One group's best mapping: looked up in the shape's candidate table once it has one (_use_table; the
    lookup is cached, the design point's scoring is a few float operations), else searched (_map_group)."""
    key = _grid_key(t)
    if _use_table(nest, key):
        choice = _lookup_choice(nest, key, min(t.min_k, nest.k), min(t.min_c, nest.c))
        return None if choice is None else _chosen_mapping(nest, t, compute, fixed_pj, objective, *choice)
    return _map_group(nest, t, compute, fixed_pj, objective)


@lru_cache(maxsize=20_000)
def _map_group(nest: LoopNest, t: MapTarget, compute: float, fixed_pj: float, objective: str) -> LayerMapping | None:
    """One group's best mapping by the per-capacity search (cached by design point)."""
    key = _grid_key(t)
    floors = (min(t.min_k, nest.k), min(t.min_c, nest.c))
    grid, keep = _grid(nest, key), _floored(nest, key, *floors)
    if keep is None:
        return None
    dram = grid.dram[keep]
    buffer_pj = grid.buffer_pj[keep]
    cycles = np.maximum(compute, dram / t.dram_bw_bytes_per_cycle)
    energy = dram * t.dram_pj_per_byte + buffer_pj + fixed_pj + cycles * t.static_pj_per_cycle
    score = objectives.choice_scores(objective, energy, cycles)
    jj = int(np.argmin(score))
    j = keep[jj]
    tiles = dict(zip(DIMS, (int(v) for v in grid.tiles[j]), strict=True))
    spill = float(grid.spill[j])
    return LayerMapping(
        mode="best", objective=objective, order=_expand(CLASS_ORDERS[int(grid.order[j])]),
        tiles=(*((d, tiles[d]) for d in DIMS), ("R", nest.r), ("S", nest.s)),
        input_read_bytes=float(grid.dram_in[j]), weight_read_bytes=float(grid.dram_w[j]),
        output_write_bytes=grid.out_final, psum_write_bytes=spill, psum_read_bytes=spill,
        input_compulsory_bytes=nest.input_words * t.input_bytes,
        weight_compulsory_bytes=nest.weight_words * t.weight_bytes,
        output_compulsory_bytes=grid.out_final, psum_passes=int(grid.passes[j]), candidates=grid.candidates,
        buffer_energy_pj=float(buffer_pj[jj]), energy_pj=float(energy[jj]), cycles=float(cycles[jj]),
    )


@dataclass(frozen=True, slots=True)
class _Winner:
    """One candidate of a candidate table, as the LayerMapping fields that do not depend on the design point
    (Python numbers taken from the one-row grid the per-capacity path would score)."""

    order: tuple[str, ...]
    tiles: tuple[tuple[str, int], ...]
    input_read_bytes: float
    weight_read_bytes: float
    output_write_bytes: float
    spill_bytes: float
    psum_passes: int
    dram_bytes: float
    buffer_energy_pj: float


def _chosen_mapping(nest: LoopNest, t: MapTarget, compute: float, fixed_pj: float, objective: str, w: _Winner,
                    candidates: int) -> LayerMapping:
    """The LayerMapping of a table's chosen candidate: _map_group's scoring of a one-row grid, in Python floats
    (the same IEEE operations in the same order as numpy's, so the same bits; with one row every objective picks
    it)."""
    cycles = max(compute, w.dram_bytes / t.dram_bw_bytes_per_cycle)
    energy = w.dram_bytes * t.dram_pj_per_byte + w.buffer_energy_pj + fixed_pj + cycles * t.static_pj_per_cycle
    return LayerMapping(
        mode="best", objective=objective, order=w.order, tiles=w.tiles,
        input_read_bytes=w.input_read_bytes, weight_read_bytes=w.weight_read_bytes,
        output_write_bytes=w.output_write_bytes, psum_write_bytes=w.spill_bytes, psum_read_bytes=w.spill_bytes,
        input_compulsory_bytes=nest.input_words * t.input_bytes,
        weight_compulsory_bytes=nest.weight_words * t.weight_bytes,
        output_compulsory_bytes=w.output_write_bytes, psum_passes=w.psum_passes, candidates=candidates,
        buffer_energy_pj=w.buffer_energy_pj, energy_pj=float(energy), cycles=float(cycles),
    )


# ---------------------------------------------------------------- candidate tables: one search per layer shape


@dataclass(frozen=True)
class CandidateTable:
    """Every candidate of one layer shape (per group), whatever the capacities: the grid of minimal N, K, C, Q
    tiles (columns, row-major) x every minimal P tile, with the best class order of each (least DRAM bytes, then
    least buffer energy, then the first order) and its DRAM bytes. Built once per shape, word sizes and buffer
    energies; a capacity is then answered by looking up, for each column, the largest P tile that fits
    (_largest_p) and its DRAM bytes, instead of searching the six orders again. Traffic curves
    (hwmap.cost.bounds) read it whole.
    """

    nest: LoopNest
    trips: np.ndarray  # (G, 4) int64: trip counts of N, K, C, Q per column
    tiles: np.ndarray  # (G, 4) int64: N, K, C, Q tiles per column
    in_per_row: np.ndarray  # (G,) bytes of one input row of the column's tile (times rows: the input tile)
    out_per_p: np.ndarray  # (G,) partial-sum bytes per P of the output tile
    w_tile: np.ndarray  # (G,) weight tile bytes
    p_tiles: np.ndarray  # (T,) minimal P tiles, ascending
    p_trips: np.ndarray  # (T,) their trip counts, descending
    best_order: np.ndarray  # (G, T) int8: index into CLASS_ORDERS
    dram: np.ndarray  # (G, T) DRAM bytes of one group with that order (a view of dram_cells)
    buffer_pj: np.ndarray  # (G, T) its buffer fill and drain energy
    dram_cells: np.ndarray  # (G * T + 1,) dram flattened, then inf: a lookup's cell -1 (nothing fits) reads inf

    def input_need(self, p_tiles: np.ndarray) -> np.ndarray:
        """(G, len(p_tiles)) input tile bytes of every column with each P tile (halo included), as the mapper's
        capacity test computes them."""
        return self.in_per_row[:, None] * ((p_tiles.reshape(1, -1) - 1) * self.nest.se_h + self.nest.r)


def _table_key(t: MapTarget) -> tuple:
    """What a candidate table depends on: word sizes and buffer energies (not capacities)."""
    return (t.input_bytes, t.weight_bytes, t.psum_bytes, t.output_bytes, t.fill_input_pj_per_byte,
            t.fill_weight_pj_per_byte, t.out_read_pj_per_byte, t.out_write_pj_per_byte)


def _table_target(t: MapTarget) -> MapTarget:
    return _table_target_of(_table_key(t))


def _table_target_of(key: tuple) -> MapTarget:
    return MapTarget(*key[:4], 0.0, 0.0, 0.0, False, 0.0, *key[4:], 1.0, 0.0)


def _table_columns(nest: LoopNest, t: MapTarget):
    dims4 = (nest.n, nest.k, nest.c, nest.q)
    tiles4, trips4 = zip(*(_candidates(d) for d in dims4), strict=True)
    index = [i.ravel() for i in np.meshgrid(*(np.arange(len(x)) for x in tiles4), indexing="ij")]
    tiles = np.stack([tiles4[i][index[i]] for i in range(4)], axis=1)
    trips = np.stack([trips4[i][index[i]] for i in range(4)], axis=1)
    tn, tk, tc, tq = tiles.T
    cols = (tq - 1) * nest.se_w + nest.s
    return tiles, trips, tn * tc * cols * t.input_bytes, tn * tk * tq * t.psum_bytes, \
        tk * tc * (nest.r * nest.s * t.weight_bytes)


def build_candidate_table(nest: LoopNest, t: MapTarget, best_order: np.ndarray | None = None) -> CandidateTable:
    """The candidate table of one group of nest (best_order: a stored one, else searched here)."""
    t = _table_target(t)
    tiles, trips, in_per_row, out_per_p, w_tile = _table_columns(nest, t)
    p_tiles, p_trips = _candidates(nest.p)
    best_order, dram_cells, b_best = _best_orders(nest, t, trips, p_trips, best_order)
    return CandidateTable(nest, trips, tiles, in_per_row, out_per_p, w_tile, p_tiles, p_trips, best_order,
                          dram_cells[:-1].reshape(best_order.shape), b_best, dram_cells)


def _first_orders() -> np.ndarray:
    """(8, 3) table: for the set U of classes with more than one trip (bit mask K = 1, C = 2, NPQ = 4) and a
    class x of U, the first class order (index into CLASS_ORDERS) in which x is U's innermost member (0 when U
    has at most one class: every order then moves the same bytes)."""
    first = np.full((8, 3), len(CLASS_ORDERS), dtype=np.int8)
    for mask in range(8):
        members = [c for i, c in enumerate(_CLASSES) if mask >> i & 1]
        for o, order in reversed(list(enumerate(CLASS_ORDERS))):
            if len(members) <= 1:
                first[mask, :] = 0
            else:
                first[mask, _CLASSES.index([c for c in order if c in members][-1])] = o
    return first


_FIRST_ORDERS = _first_orders()
_BLOCK_ELEMENTS = 8192  # candidates per block of the order search: its temporaries stay in the CPU's cache


def _best_orders(nest: LoopNest, t: MapTarget, trips: np.ndarray, p_trips: np.ndarray,
                 stored: np.ndarray | None = None):
    """Every candidate's best class order (least DRAM bytes, then least buffer energy, then the first order), its
    DRAM bytes (flattened, then an inf sentinel: CandidateTable.dram_cells) and buffer energy: what the six
    orders' _traffic gives, without evaluating six orders. With ``stored`` orders (the on-disk store's), their
    bytes and energies instead (_traffic of those orders), without a search.

    An operand is re-fetched per trip of its irrelevant class when that class lies above a class with more than
    one trip (_factors); a class with one trip re-fetches nothing. So with U the classes with more than one trip,
    an order refetches for every class of U except U's innermost member x: the six orders move only (at most)
    three different traffics, one per x in U (one in all when U has at most one class). Each is computed with
    _traffic's formula, term by term in its order, so its bits are those of every order with that x; the first
    order of the winning x (_FIRST_ORDERS) is the six-order search's first minimum
    (tests/cost/test_candidate_search.py compares both on many shapes)."""
    nn, kk, cc, qq = (trips[:, i:i + 1] for i in range(4))
    columns, width = len(trips), len(p_trips)
    best_order = np.empty((columns, width), dtype=np.int8) if stored is None else stored
    dram_cells, b_best = np.empty(columns * width + 1), np.empty((columns, width))
    dram_cells[-1] = np.inf
    dram_best = dram_cells[:-1].reshape(columns, width)
    step = max(1, _BLOCK_ELEMENTS // max(columns, 1))
    for j in range(0, width, step):
        block = slice(j, j + step)
        best_order[:, block], dram_best[:, block], b_best[:, block] = _best_orders_block(
            nest, t, nn, kk, cc, qq, p_trips[None, block], None if stored is None else stored[:, block])
    return best_order, dram_cells, b_best


def _best_orders_block(nest: LoopNest, t: MapTarget, nn, kk, cc, qq, pp, stored):
    """_best_orders for columns x P trips given as (G, 1) and (1, T) trip counts (stored: their orders)."""
    if stored is not None:  # the stored orders' traffic: _traffic on the same numbers, so the same bits
        order = stored.astype(np.int64)
        traffic = _traffic(nest, t, tuple(ORDER_POSITIONS[order, i] for i in range(3)), kk, cc, nn, qq, pp)
        return stored, traffic[4], traffic[5]
    tg = nn * pp * qq
    in_pass = (nest.n * nest.c * t.input_bytes) * (nest.se_h * nest.p + pp * (nest.r - nest.se_h)) \
        * (nest.se_w * nest.q + qq * (nest.s - nest.se_w))
    w_pass = float(nest.weight_words) * t.weight_bytes
    out_words = float(nest.output_words)
    out_final = out_words * t.output_bytes
    spill_c = (cc - 1) * (out_words * t.psum_bytes)  # C's passes re-read and re-write the partial sums
    refetched_in = kk * in_pass
    refetched_w = tg * w_pass
    u_k, u_c, u_g = kk > 1, cc > 1, tg > 1
    none = ~(u_k | u_c | u_g)
    mask = (u_k.astype(np.int8) + 2 * u_c.astype(np.int8)) + 4 * u_g.astype(np.int8)
    out_pj = t.out_read_pj_per_byte + t.out_write_pj_per_byte
    # Innermost class of U: K (no input refetch), C (no spill), NPQ (no weight refetch); the others refetch.
    cases = ((u_k, 1 * in_pass, refetched_w, spill_c), (u_c, refetched_in, refetched_w, 0 * spill_c),
             (u_g, refetched_in, 1 * w_pass, spill_c))
    dram, buffer_pj, valid = [], [], []
    for u, dram_in, dram_w, spill in cases:
        dram.append(dram_in + dram_w + out_final + 2 * spill)
        buffer_pj.append(dram_in * t.fill_input_pj_per_byte + dram_w * t.fill_weight_pj_per_byte + spill * out_pj
                         + out_final * t.out_read_pj_per_byte)
        valid.append(u | none)
    d_least = np.minimum.reduce([np.where(v, d, np.inf) for v, d in zip(valid, dram, strict=True)])
    tied = [v & (d == d_least) for v, d in zip(valid, dram, strict=True)]
    b_least = np.minimum.reduce([np.where(e, b, np.inf) for e, b in zip(tied, buffer_pj, strict=True)])
    first = [np.where(e & (b == b_least), _FIRST_ORDERS[mask, x], len(CLASS_ORDERS))
             for x, (e, b) in enumerate(zip(tied, buffer_pj, strict=True))]
    return np.minimum.reduce(first), d_least, b_least


_TABLES: dict[tuple[LoopNest, tuple], CandidateTable] = {}
_TABLES_MAX = 1024
_CAPACITIES_SEEN: dict[tuple[LoopNest, tuple], set] = {}
_TABLES_ON = [True]


@contextlib.contextmanager
def per_capacity_search():
    """Within this block every layer is searched per capacity configuration (the cold path), never read from a
    candidate table: what benchmarks and tests compare the tables against."""
    before = _TABLES_ON[0]
    _TABLES_ON[0] = False
    _map_group.cache_clear()
    try:
        yield
    finally:
        _TABLES_ON[0] = before
        _map_group.cache_clear()


def candidate_table(nest: LoopNest, t: MapTarget) -> CandidateTable:
    """The candidate table of nest's shape for t's word sizes and energies: in memory, else from the on-disk
    store (hwmap.cost.candidate_store), else built and stored there."""
    key = (nest, _table_key(t))
    table = _TABLES.get(key)
    if table is None:
        from hwmap.cost import candidate_store

        target = _table_target(t)
        store_key = candidate_store.table_key({"nest": [getattr(nest, f) for f in nest.__slots__],
                                               "target": [float(v) for v in key[1]]})
        stored = _checked_table(candidate_store.load(store_key), nest, store_key)
        table = build_candidate_table(nest, target, stored)
        if stored is None:
            candidate_store.store(store_key, table.best_order)
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = table
    return table


def _checked_table(stored: np.ndarray | None, nest: LoopNest, store_key: dict) -> np.ndarray | None:
    """A stored best-order array if it can be nest's (its shape, every entry a loop order), else None (logged)."""
    if stored is None:
        return None
    why = None
    if stored.shape != _table_shape(nest):
        why = f"shape {stored.shape}, expected {_table_shape(nest)}"
    elif stored.size and not 0 <= stored.min() <= stored.max() < len(CLASS_ORDERS):
        why = "a loop order index out of range"
    if why is None:
        return stored
    from hwmap.cache_files import log
    from hwmap.cost.candidate_store import entry_name, store_dir

    log.info("ignoring cache entry %s: %s; recomputing it", store_dir() / entry_name(store_key), why)
    return None


def _table_shape(nest: LoopNest) -> tuple[int, int]:
    columns = 1
    for dim in (nest.n, nest.k, nest.c, nest.q):
        columns *= len(_candidates(dim)[0])
    return columns, len(_candidates(nest.p)[0])


def _use_table(nest: LoopNest, t: MapTarget) -> bool:
    """Whether to answer from the shape's candidate table: once the shape meets a second capacity configuration
    (a sweep or a loop over buffer sizes), when every buffer energy per byte is the same. Then every objective's
    optimum is the fitting candidate with the least (DRAM bytes, buffer energy, K tile, C tile, order, column),
    which is what the per-capacity grid's choice returns too (buffer energy grows with DRAM bytes), so both paths
    give the same mapping bit for bit (tests/cost/test_candidate_tables.py)."""
    if not _TABLES_ON[0] or not (t.fill_input_pj_per_byte == t.fill_weight_pj_per_byte == t.out_read_pj_per_byte
                                 == t.out_write_pj_per_byte):
        return False
    key = (nest, _table_key(t))
    if key in _TABLES:
        return True
    if len(_CAPACITIES_SEEN) > 100_000:
        _CAPACITIES_SEEN.clear()
    seen = _CAPACITIES_SEEN.setdefault(key, set())
    seen.add((t.cap_input, t.cap_weight, t.cap_output, t.shared))
    return len(seen) > 1


@dataclass(frozen=True, slots=True)
class _Fitting:
    """The candidates of a candidate table that can win under one capacity configuration, in the order every
    floor's choice ranks them: their columns and P tile indices, their K and C tiles, and the number of fitting
    columns."""

    columns: list[int]
    at: list[int]
    k_tiles: list[int]
    c_tiles: list[int]
    n_fit: int


@lru_cache(maxsize=16384)  # a few kB each: every (shape, capacities) of a sweep, reused by its array shapes
def _fitting(nest: LoopNest, key: MapTarget) -> _Fitting | None:
    """The candidates of the shape's candidate table under this capacity configuration that can win for some
    floors (None when nothing fits), ranked by (DRAM bytes, buffer energy, K tile, C tile, order, column): the
    per-capacity grid's choice under floors is the first ranked candidate that meets them.

    Each column holds one candidate (its largest fitting P tile). A candidate is left out when another one with K
    and C tiles at least as large moves fewer DRAM bytes: that one meets every floor the first meets, and wins
    (usually ~1/30 of the fitting columns remain). Ranking the few that remain once per configuration makes each
    floor's choice one masked search."""
    table = candidate_table(nest, key)
    if key.shared:
        cells = _cells(nest, _largest_p(nest, key, table.in_per_row, table.out_per_p, table.w_tile))
    else:  # the least of the levels' largest P tiles is the least of their cells (_p_tile_index is monotone)
        table_key = _table_key(key)
        cells = np.minimum(_operand_cells(nest, table_key, "input", float(key.cap_input), float(key.cap_weight)),
                           _operand_cells(nest, table_key, "output", float(key.cap_output), 0.0))
    fits = cells >= 0
    n_fit = int(np.count_nonzero(fits))
    if n_fit == 0:
        return None
    dram = table.dram_cells[cells]
    keep = np.flatnonzero(fits & _least_with_larger_kc(nest, dram))
    cells = cells[keep]
    k_tiles, c_tiles = table.tiles[keep, 1], table.tiles[keep, 2]
    rank = np.lexsort((keep, table.best_order.ravel()[cells], c_tiles, k_tiles, table.buffer_pj.ravel()[cells],
                       dram[keep]))
    return _Fitting(keep[rank].tolist(), (cells - _row_starts(nest)[keep])[rank].tolist(), k_tiles[rank].tolist(),
                    c_tiles[rank].tolist(), n_fit)


def _cells(nest: LoopNest, pt: np.ndarray) -> np.ndarray:
    """Each column's candidate with P tile pt in the table's flattened (column, P tile) arrays; -1 where pt is 0
    (nothing fits)."""
    return np.where(pt >= 1, _row_starts(nest) + _p_tile_index(nest.p)[pt], -1)


@lru_cache(maxsize=2048)  # one int per column: ~60 shapes x 2 operands x 10 sizes in a sweep
def _operand_cells(nest: LoopNest, table_key: tuple, operand: str, capacity: float, cap_weight: float) -> np.ndarray:
    """_cells of the largest P tile that one separate level of this size allows (_largest_p_of), the input's
    where the weight tile fits cap_weight too: cached per level size, as a sweep meets far fewer sizes per level
    than combinations of them."""
    pt = _largest_p_operand(nest, table_key, operand, capacity)
    if operand == "input":
        pt = np.where(candidate_table(nest, _table_target_of(table_key)).w_tile <= cap_weight, pt, 0)
    cells = _cells(nest, pt)
    cells.flags.writeable = False  # shared by every capacity configuration with this level's size
    return cells


@lru_cache(maxsize=4096)
def _row_starts(nest: LoopNest) -> np.ndarray:
    """Where each column's row starts in the shape's flattened (column, P tile) table arrays."""
    columns, width = _table_shape(nest)
    return np.arange(columns, dtype=np.int64) * width


def _least_with_larger_kc(nest: LoopNest, dram: np.ndarray) -> np.ndarray:
    """For every column of the shape's table (row-major over N, K, C, Q tiles, each ascending), whether its
    ``dram`` is the least over the columns whose K and C tiles are at least its own (ties included)."""
    sizes = _table_dims(nest)
    dram = dram.reshape(sizes)
    least = dram.min(axis=(0, 3))  # per (K tile, C tile)
    least = np.minimum.accumulate(least[::-1], axis=0)[::-1]
    least = np.minimum.accumulate(least[:, ::-1], axis=1)[:, ::-1]
    return (dram <= least[None, :, :, None]).ravel()


@lru_cache(maxsize=4096)
def _table_dims(nest: LoopNest) -> tuple[int, int, int, int]:
    """The number of minimal N, K, C and Q tiles: the table's columns as a 4-D grid."""
    return tuple(len(_candidates(d)[0]) for d in (nest.n, nest.k, nest.c, nest.q))


@lru_cache(maxsize=4096)
def _p_tile_index(p: int) -> np.ndarray:
    """For every P tile 1..p (index 0 unused), the index in the table's P columns (_candidates(p), trips
    descending) of the minimal tile with its trip count ceil(p / tile): one gather per lookup instead of a
    division and a search."""
    pt = np.arange(1, p + 1, dtype=np.int64)
    trips = -(-p // pt)
    at = np.searchsorted(-_candidates(p)[1], -trips)
    return np.r_[0, at].astype(np.int64)


@lru_cache(maxsize=65536)  # a few hundred bytes each: every (shape, capacities, floors) of a large sweep
def _lookup_choice(nest: LoopNest, key: MapTarget, min_k: int, min_c: int) -> tuple[_Winner, int] | None:
    """The one candidate that every objective picks under this capacity configuration and these floors, and the
    number of candidates searched: the first of the fitting candidates' ranking (_fitting) whose K and C tiles
    meet the floors, i.e. the least (DRAM bytes, buffer energy), then the per-capacity grid's tie order (K tile,
    C tile, order, column)."""
    found = _fitting(nest, key)
    if found is None:
        return None
    for i, (k_tile, c_tile) in enumerate(zip(found.k_tiles, found.c_tiles, strict=True)):
        if k_tile >= min_k and c_tile >= min_c:  # the best-ranked candidates mostly have large tiles: found soon
            return _winner(nest, _table_key(key), found.columns[i], found.at[i]), 6 * found.n_fit
    return None


@lru_cache(maxsize=65536)
def _winner(nest: LoopNest, table_key: tuple, column: int, at: int) -> _Winner:
    """One candidate of a table (column, P tile index): the same candidate wins many capacity configurations and
    floors of a sweep. Its traffic is _traffic's formula on Python numbers (numpy's float64 operations on one
    element give the same bits)."""
    target = _table_target_of(table_key)
    table = candidate_table(nest, target)
    order = int(table.best_order[column, at])
    nn, kk, cc, qq = (int(v) for v in table.trips[column])
    pp = int(table.p_trips[at])
    positions = tuple(int(v) for v in ORDER_POSITIONS[order])
    dram_in, dram_w, passes, spill, dram_all, buffer_pj, out_final = _traffic(nest, target, positions, kk, cc, nn,
                                                                              qq, pp)
    n_tile, k_tile, c_tile, q_tile = (int(v) for v in table.tiles[column])
    tiles = {"N": n_tile, "K": k_tile, "C": c_tile, "P": -(-nest.p // pp), "Q": q_tile}
    return _Winner(order=_expand(CLASS_ORDERS[order]),
                   tiles=(*((d, tiles[d]) for d in DIMS), ("R", nest.r), ("S", nest.s)),
                   input_read_bytes=float(dram_in), weight_read_bytes=float(dram_w),
                   output_write_bytes=out_final, spill_bytes=float(spill), psum_passes=int(passes),
                   dram_bytes=float(dram_all), buffer_energy_pj=float(buffer_pj))


def _largest_p_of(nest: LoopNest, key: MapTarget, operand: str, capacity: float) -> np.ndarray:
    """_largest_p of every column of the shape's candidate table with separate levels, one operand at a time: the
    largest P tile (0 when none) that the input ("input") or output ("output") level of this capacity allows,
    whatever the other levels. Cached by (shape, operand, capacity): a sweep over per-operand sizes meets far fewer
    capacities per operand than combinations of them.

    _largest_p is the minimum of the two (where the weight tile fits), with the same bits: floor, clipping and the
    rounding guard are monotone, so floor(min(a, b)) = min(floor(a), floor(b)); and below its own (guarded)
    bound an operand's tile always fits, so the guard of the minimum is the guard of the operand that sets it
    (tests/cost/test_candidate_tables.py compares both on every candidate of many shapes and capacities)."""
    return _largest_p_operand(nest, _table_key(key), operand, float(capacity))


def _largest_p_operand(nest: LoopNest, table_key: tuple, operand: str, capacity: float) -> np.ndarray:
    table = candidate_table(nest, _table_target_of(table_key))
    se, r = nest.se_h, nest.r
    with np.errstate(divide="ignore", invalid="ignore"):
        if operand == "input":
            bound = ((capacity / table.in_per_row) - r) / se + 1
        else:
            bound = capacity / table.out_per_p
    pt = np.minimum(np.maximum(np.floor(bound + 1e-9), 0), nest.p).astype(np.int64)
    p = np.maximum(pt, 1)
    fits = table.in_per_row * ((p - 1) * se + r) <= capacity if operand == "input" else \
        table.out_per_p * p <= capacity
    return np.where((pt >= 1) & ~fits, pt - 1, pt)


def _largest_p(nest: LoopNest, t: MapTarget, in_per_row, out_per_p, w_tile) -> np.ndarray:
    """Largest P tile (0 when none) that fits beside the given N, K, C, Q tiles.

    Exact because traffic never grows when a tile grows (fewer trips: fewer refetches, less halo) and capacities
    are linear in the P tile: input tile = in_per_row * ((Pt - 1) * se + R), output tile = out_per_p * Pt.
    """
    se, r = nest.se_h, nest.r
    with np.errstate(divide="ignore", invalid="ignore"):
        if t.shared:
            bound = (t.cap_input - w_tile - in_per_row * (r - se)) / (in_per_row * se + out_per_p)
        else:
            by_in = ((t.cap_input / in_per_row) - r) / se + 1
            bound = np.minimum(by_in, t.cap_output / out_per_p)
            bound = np.where(w_tile <= t.cap_weight, bound, 0.0)
    pt = np.minimum(np.maximum(np.floor(bound + 1e-9), 0), nest.p).astype(np.int64)

    def fits(p):
        need_in = in_per_row * ((p - 1) * se + r)
        need_out = out_per_p * p
        if t.shared:
            return need_in + need_out + w_tile <= t.cap_input
        return (need_in <= t.cap_input) & (need_out <= t.cap_output)  # pt >= 1 only where the weight tile fits

    return np.where((pt >= 1) & ~fits(np.maximum(pt, 1)), pt - 1, pt)  # float rounding guard


def clear_mapper_caches() -> None:
    """Empty every in-process cache of the mapper (grids, candidate tables, choices): the next layer is cold."""
    for cached in (_canonical, _grid_key, _map_group, _grid, _floored, _fitting, _operand_cells, _table_dims,
                   _row_starts, _lookup_choice, _winner):
        cached.cache_clear()
    _TABLES.clear()
    _CAPACITIES_SEEN.clear()


def mapping_cache_info():
    """Hits and misses of the per-group mapping cache (functools.lru_cache statistics)."""
    return _map_group.cache_info()
