"""map_problem against brute force over the stated space on small layers, 2- and 3-level hierarchies."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hwmap.cost import objectives
from hwmap.cost.multilevel import LoopProblem, MappingError, evaluate_mapping
from hwmap.cost.multilevel.search import CLASS_ORDERS, CLASSES, map_problem, spatial_options
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}


def _level(name, keeps, bypasses=(), capacity=None, mesh=(1, 1), pj=1.0, bw=None):
    return {"name": name, "keeps": keeps, "bypasses": bypasses, "capacity_bytes": capacity, "word_bits": 8,
            "access_width_bits": 8, "energy": {"read_pj": pj, "write_pj": pj, "update_pj": pj}, "mesh": mesh,
            "read_bandwidth_bytes_per_cycle": bw, "write_bandwidth_bytes_per_cycle": bw}


def two_level(capacity, spatial=()):
    return build_hierarchy({
        "name": "two", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"], pj=100.0, bw=4.0),
                   _level("buf", ["input", "weight", "output"], capacity=capacity)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]}, "spatial": list(spatial)}, source="two")


def three_level(glb, spad, spatial=()):
    return build_hierarchy({
        "name": "three", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"], pj=100.0, bw=2.0),
                   _level("glb", ["input", "output"], ["weight"], capacity=glb, pj=6.0),
                   _level("spad", ["input", "weight", "output"], capacity=spad, mesh=(2, 2), pj=1.0)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]}, "spatial": list(spatial)},
        source="three")


def _chains(size, sp, m, *, fractional_divides: bool = False):
    """Every tile chain (T(1), ..., T(m-1)) of one dim in the stated space, enumerated directly. fractional_divides:
    the space under a peer's conventions, where a dim whose unrolling does not divide it takes only tiles that
    divide its trips at DRAM (no padded iteration runs)."""
    s_geq = [math.prod(sp[j] for j in range(i, m)) for i in range(m)]
    top = -(-size // sp[0])
    n = math.ceil(top / s_geq[1])
    if fractional_divides and size % math.prod(sp):
        firsts = [s_geq[1] * d for d in range(1, n + 1) if n % d == 0]
    else:
        firsts = sorted({s_geq[1] * math.ceil(n / t) for t in range(1, n + 1)})
    chains = [(t,) for t in firsts]
    for level in range(2, m):
        chains = [c + (t,) for c in chains for t in range(1, c[-1] + 1)
                  if (c[-1] // sp[level - 1]) % t == 0 and t % s_geq[level] == 0]
    return chains


def tilings(h, problem, *, fractional_divides: bool = False):
    """Every (spatial factors, form-C entries, tiles per level x dim) of the stated space: each spatial option
    with every combination of the dims' tile chains (_chains)."""
    m = len(h.levels)
    for sp, entries in spatial_options(h, problem):
        per_dim = [_chains(problem.size(d), [int(sp[i, k]) for i in range(m)], m,
                           fractional_divides=fractional_divides) for k, d in enumerate(LOOP_DIMS)]
        for chain in itertools.product(*per_dim):
            yield sp, entries, np.array([[problem.size(d) for d in LOOP_DIMS]] + [list(x) for x in zip(*chain,
                                                                                                       strict=True)])


def brute_force(h, problem, objective):
    m = len(h.levels)
    best = None
    for sp, entries, tiles in tilings(h, problem):
        for orders in itertools.product(range(6), repeat=m - 1):
            mapping = _mapping(h, problem, sp, entries, tiles, orders)
            r = evaluate_mapping(h, problem, mapping, operand_bits=BITS, strict=False)
            if not r.fits:
                continue
            key = objectives.choice_key(objective, r.energy_pj, r.cycles)
            if best is None or key < best[0]:
                best = (key, key[0], mapping)
    return best


def _mapping(h, problem, sp, entries, tiles, orders):
    m = len(h.levels)
    levels = []
    for index, lv in enumerate(h.levels):
        below = tiles[index + 1] if index + 1 < m else np.ones(len(LOOP_DIMS), dtype=int)
        if index == 0:
            factors = -(-tiles[0] // (sp[0] * below))
        else:
            factors = tiles[index] // (sp[index] * below)
        temporal = [["G", int(factors[1])]] if factors[1] > 1 else []
        order = CLASS_ORDERS[orders[index]] if index < len(orders) else CLASS_ORDERS[0]
        for cls in order:
            temporal += [[d, int(factors[LOOP_DIMS.index(d)])] for d in CLASSES[cls]
                         if factors[LOOP_DIMS.index(d)] > 1]
        levels.append({"level": lv.name, "keeps": [o for o in OPERANDS if o in lv.may_keep], "temporal": temporal})
    return {"spatial": list(entries), "levels": levels}


SMALL = [
    LoopProblem(K=2, C=2, OY=4, FY=2, name="conv1d"),
    LoopProblem(K=4, C=2, OY=2, OX=2, name="pointwise"),
    LoopProblem(B=2, K=2, C=3, OY=2, FY=2, stride_y=2, name="strided"),
    LoopProblem(G=2, K=3, C=2, OY=2, name="grouped"),
]


@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
@pytest.mark.parametrize("objective", objectives.registered_objectives())  # every registered objective
@pytest.mark.parametrize("capacity", [8, 14, 24, 1 << 30])
def test_two_level_equals_brute_force(problem, objective, capacity):
    h = two_level(capacity, spatial=[{"axis": "X", "dims": ["K", "OY"]}, {"axis": "Y", "dims": ["C"]}])
    _check(h, problem, objective)


@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
@pytest.mark.parametrize("objective", ["energy", "edp"])
@pytest.mark.parametrize(("glb", "spad"), [(16, 6), (40, 10), (1 << 30, 1 << 30)])
def test_three_level_equals_brute_force(problem, objective, glb, spad):
    h = three_level(glb, spad, spatial=[{"axis": "X", "dims": ["K"]}, {"axis": "Y", "dims": ["OY", "C"]}])
    _check(h, problem, objective)


def _check(h, problem, objective):
    brute = brute_force(h, problem, objective)
    if brute is None:
        with pytest.raises(MappingError, match="no mapping fits"):
            map_problem(h, problem, objective=objective, operand_bits=BITS, beam=10**6, shortlist=None)
        return
    mapped = map_problem(h, problem, objective=objective, operand_bits=BITS, beam=10**6, shortlist=None)
    assert mapped.exhaustive
    assert mapped.value == pytest.approx(brute[1], rel=1e-12)
    assert mapped.value >= mapped.lower_bound * (1 - 1e-12)


def non_nested(sram):
    """Operands fanning out at different levels: output registers per column (2 x 1), then input registers per
    row (1 x 2), under a shared SRAM for inputs and weights."""
    return build_hierarchy({
        "name": "trees", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"], pj=100.0, bw=2.0),
                   _level("sram", ["input", "weight"], ["output"], capacity=sram, pj=6.0),
                   _level("orf", ["output"], ["input", "weight"], capacity=8, mesh=(2, 1)),
                   _level("irf", ["input"], ["weight", "output"], capacity=4, mesh=(1, 2))],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]},
        "spatial": [{"axis": "X", "dims": ["K"]}, {"axis": "Y", "dims": ["C"]}]}, source="trees")


@pytest.mark.parametrize("problem", [LoopProblem(K=2, C=2, OY=4, name="gemm"),
                                     LoopProblem(K=4, C=2, OY=2, FY=2, name="conv1d")], ids=lambda p: p.name)
@pytest.mark.parametrize("sram", [12, 1 << 20])
def test_per_operand_fanouts_equal_brute_force(problem, sram):
    _check(non_nested(sram), problem, "energy")
