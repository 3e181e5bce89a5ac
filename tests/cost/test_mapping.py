"""The mapper against a brute force that enumerates its whole mapping space and simulates tile residency."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from hwmap.cost import objectives
from hwmap.cost.mapping import DIMS, LoopNest, MapTarget, map_layer
from hwmap.errors import HwmapError


def _target(cap_in, cap_w, cap_out, *, shared=False, bw=4.0, static=0.5, floor=(1, 1)) -> MapTarget:
    return MapTarget(input_bytes=1.0, weight_bytes=1.0, psum_bytes=4.0, output_bytes=1.0, cap_input=cap_in,
                     cap_weight=cap_w, cap_output=cap_out, shared=shared, dram_pj_per_byte=100.0,
                     fill_input_pj_per_byte=3.0, fill_weight_pj_per_byte=2.0, out_read_pj_per_byte=1.5,
                     out_write_pj_per_byte=2.5, dram_bw_bytes_per_cycle=bw, static_pj_per_cycle=static,
                     min_k=floor[0], min_c=floor[1])


def _simulate(nest: LoopNest, t: MapTarget, order, tiles):
    """Walk the tile loop nest in `order` (outer to inner), holding one tile per operand; count DRAM bytes.

    Independent of the mapper's formulas: tile extents are the real (possibly partial) ones, an operand is
    fetched whenever the nest moves to another of its tiles, an output tile left before its reduction is
    complete is spilled at the partial-sum width and read back on return, and written once when complete.
    Returns None when a tile does not fit.
    """
    dims = dict(zip(DIMS, (nest.n, nest.k, nest.c, nest.p, nest.q), strict=True))
    trips = {d: math.ceil(dims[d] / tiles[d]) for d in DIMS}

    def extent(d, i):
        return min(tiles[d], dims[d] - i * tiles[d])

    se_h, se_w = min(nest.stride_h, nest.r), min(nest.stride_w, nest.s)

    def in_bytes(n, c, p, q):
        rows = (extent("P", p) - 1) * se_h + nest.r
        cols = (extent("Q", q) - 1) * se_w + nest.s
        return extent("N", n) * extent("C", c) * rows * cols * t.input_bytes

    def w_bytes(k, c):
        return extent("K", k) * extent("C", c) * nest.r * nest.s * t.weight_bytes

    def o_words(n, k, p, q):
        return extent("N", n) * extent("K", k) * extent("P", p) * extent("Q", q)

    full_in = tiles["N"] * tiles["C"] * ((tiles["P"] - 1) * se_h + nest.r) * ((tiles["Q"] - 1) * se_w + nest.s)
    sizes = (full_in * t.input_bytes, tiles["K"] * tiles["C"] * nest.r * nest.s * t.weight_bytes,
             tiles["N"] * tiles["K"] * tiles["P"] * tiles["Q"] * t.psum_bytes)
    floors = {"K": min(t.min_k, nest.k), "C": min(t.min_c, nest.c)}
    if any(tiles[d] < f for d, f in floors.items()):
        return None
    if t.shared and sum(sizes) > t.cap_input:
        return None
    if not t.shared and (sizes[0] > t.cap_input or sizes[1] > t.cap_weight or sizes[2] > t.cap_output):
        return None
    held_in = held_w = held_o = None
    done: dict = {}
    spilled: set = set()
    d_in = d_w = d_out = spill_w = spill_r = 0.0

    def leave(o):
        nonlocal d_out, spill_w
        if done[o] < trips["C"]:
            spill_w += o_words(*o) * t.psum_bytes
            spilled.add(o)
        else:
            d_out += o_words(*o) * t.output_bytes

    for point in itertools.product(*(range(trips[d]) for d in order)):
        i = dict(zip(order, point, strict=True))
        ti, tw, to = (i["N"], i["C"], i["P"], i["Q"]), (i["K"], i["C"]), (i["N"], i["K"], i["P"], i["Q"])
        if ti != held_in:
            d_in += in_bytes(*ti)
            held_in = ti
        if tw != held_w:
            d_w += w_bytes(*tw)
            held_w = tw
        if to != held_o:
            if held_o is not None:
                leave(held_o)
            if to in spilled:
                spill_r += o_words(*to) * t.psum_bytes
            held_o = to
        done[to] = done.get(to, 0) + 1
    leave(held_o)
    return d_in, d_w, d_out, spill_w, spill_r


def _brute_force(nest, t, compute, fixed_pj, objective):
    best = None
    for order in itertools.permutations(DIMS):
        for sizes in itertools.product(*(range(1, d + 1) for d in (nest.n, nest.k, nest.c, nest.p, nest.q))):
            got = _simulate(nest, t, order, dict(zip(DIMS, sizes, strict=True)))
            if got is None:
                continue
            d_in, d_w, d_out, s_w, s_r = got
            assert s_w == s_r  # every spilled partial sum comes back
            dram = d_in + d_w + d_out + s_w + s_r
            buf = (d_in * t.fill_input_pj_per_byte + d_w * t.fill_weight_pj_per_byte + s_w * t.out_read_pj_per_byte
                   + s_r * t.out_write_pj_per_byte + d_out * t.out_read_pj_per_byte)
            cycles = max(compute, dram / t.dram_bw_bytes_per_cycle)
            energy = dram * t.dram_pj_per_byte + buf + fixed_pj + cycles * t.static_pj_per_cycle
            key = {"energy": (energy,), "latency": (cycles, energy), "edp": (energy * cycles,)}[objective]
            if best is None or key < best[0]:
                best = (key, energy, cycles, dram)
    return best


SMALL_LAYERS = [
    # conv 2x3 kernel, stride 1 (halo on both axes)
    LoopNest(n=1, k=3, c=2, p=3, q=2, r=2, s=3),
    # strided 3x3 conv with two images
    LoopNest(n=2, k=2, c=2, p=3, q=2, r=3, s=3, stride_h=2, stride_w=2),
    # a GEMM (m x k) @ (k x n): m=5, n=4, k=3
    LoopNest.gemm(5, 4, 3),
]
TARGETS = [
    _target(40, 12, 30),  # tight: forces tiling of every operand
    _target(1e9, 1e9, 1e9),  # everything fits
    _target(80, 80, 80, shared=True),  # one shared buffer
    _target(40, 18, 16, bw=0.5),  # bandwidth-bound
    _target(60, 30, 40, floor=(2, 2)),  # a 2x2 array's spatial unrolling must fit in a tile
]


@pytest.mark.parametrize("objective", objectives.registered_objectives())  # every registered objective
@pytest.mark.parametrize("nest", SMALL_LAYERS, ids=["conv2x3", "conv3x3s2", "gemm"])
@pytest.mark.parametrize("target", TARGETS, ids=["tight", "roomy", "shared", "bw-bound", "floor"])
def test_mapper_reaches_the_brute_force_optimum(nest, target, objective):
    compute, fixed = 7.0, 11.0
    best = _brute_force(nest.canonical(), target, compute, fixed, objective)
    if best is None and (target.min_k, target.min_c) != (1, 1):
        # no tile holds the spatial unrolling: the mapper drops the floor (the array runs partial folds)
        target = dataclasses.replace(target, min_k=1, min_c=1)
        best = _brute_force(nest.canonical(), target, compute, fixed, objective)
    if best is None:  # nothing fits: the mapper says so
        with pytest.raises(HwmapError, match="no tile of the layer fits"):
            map_layer(nest, target, compute_cycles=compute, fixed_energy_pj=fixed, objective=objective)
        return
    got = map_layer(nest, target, compute_cycles=compute, fixed_energy_pj=fixed, objective=objective)
    key = {"energy": got.energy_pj, "latency": got.cycles, "edp": got.energy_pj * got.cycles}[objective]
    expected = best[0][0]
    assert key == pytest.approx(expected, rel=1e-12)
    if objective == "latency":
        assert got.energy_pj == pytest.approx(best[0][1], rel=1e-12)
    # the mapper's own traffic is what the simulation of its chosen mapping counts
    sim = _simulate(nest.canonical(), target, got.order, dict(got.tiles))
    assert sim is not None
    assert sim[0] == pytest.approx(got.input_read_bytes) and sim[1] == pytest.approx(got.weight_read_bytes)
    assert sim[2] == pytest.approx(got.output_write_bytes) and sim[3] == pytest.approx(got.psum_write_bytes)


def test_no_fitting_tile_is_one_clear_error():
    with pytest.raises(HwmapError, match="conv3x3: no tile of the layer fits.*weight 9 of 6"):
        map_layer(SMALL_LAYERS[1], _target(40, 6, 16), compute_cycles=1.0, name="conv3x3")
