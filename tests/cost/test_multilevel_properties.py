"""The multi-level mapper's special case (one on-chip level per operand: today's systolic16x16 through
hierarchy_of) against the single-level mapper, and the compulsory / monotone properties at every level."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.cost.dispatch import map_target
from hwmap.cost.hierarchy_view import hierarchy_of
from hwmap.cost.mapping import LoopNest, clear_mapper_caches, map_layer
from hwmap.cost.memory import memory_hierarchy
from hwmap.cost.multilevel import LoopProblem, MappingError
from hwmap.cost.multilevel.search import map_problem
from hwmap.hardware import load_accelerator
from hwmap.hardware.hierarchy import build_hierarchy

# The 24 distinct conv/FC shapes of ResNet-50 (K, C, OY, OX, FY, FX, stride), batch 1.
RESNET50 = [
    (64, 3, 112, 112, 7, 7, 2), (64, 64, 56, 56, 1, 1, 1), (64, 64, 56, 56, 3, 3, 1), (256, 64, 56, 56, 1, 1, 1),
    (64, 256, 56, 56, 1, 1, 1), (128, 256, 56, 56, 1, 1, 1), (128, 128, 28, 28, 3, 3, 2),
    (512, 128, 28, 28, 1, 1, 1), (512, 256, 28, 28, 1, 1, 2), (128, 512, 28, 28, 1, 1, 1),
    (128, 128, 28, 28, 3, 3, 1), (256, 512, 28, 28, 1, 1, 1), (256, 256, 14, 14, 3, 3, 2),
    (1024, 256, 14, 14, 1, 1, 1), (1024, 512, 14, 14, 1, 1, 2), (256, 1024, 14, 14, 1, 1, 1),
    (256, 256, 14, 14, 3, 3, 1), (512, 1024, 14, 14, 1, 1, 1), (512, 512, 7, 7, 3, 3, 2),
    (2048, 512, 7, 7, 1, 1, 1), (2048, 1024, 7, 7, 1, 1, 2), (512, 2048, 7, 7, 1, 1, 1), (512, 512, 7, 7, 3, 3, 1),
    (1000, 2048, 1, 1, 1, 1, 1),
]
# Where the two mappers' DRAM bytes differ (measured), and why:
# - per-operand tiles: in the hierarchy ifmap -> filter -> ofmap each buffer holds its own tile (loops between
#   them), a mapping the single-level mapper's one common tile cannot express: fewer DRAM bytes here;
# - whole array folds: the multi-level space makes a K tile a multiple of the 16 columns it unrolls over (loop
#   factors are whole), the single-level one also takes minimal tiles above the floor (K = 37 of 256 here).
DIFFERENT = {
    (64, 3, 112, 112, 7, 7, 2): (1040662, 980002),
    (64, 64, 56, 56, 3, 3, 1): (741376, 729088),
    (256, 256, 14, 14, 3, 3, 1): (1098752, 1106944),
}


def _old_dram_bytes(accel, k, c, oy, ox, fy, fx, s):
    target = replace(map_target(memory_hierarchy(accel.spec), accel.spec), static_pj_per_cycle=0.0)
    nest = LoopNest(n=1, k=k, c=c, p=oy, q=ox, r=fy, s=fx, stride_h=s, stride_w=s)
    return map_layer(nest, target, compute_cycles=1.0, objective="energy").dram_bytes


def test_single_level_special_case_matches_the_single_level_mapper():
    accel = load_accelerator("systolic16x16")
    h = hierarchy_of(accel)
    b = accel.spec.operand_bits
    bits = {"input": b.input, "weight": b.weight, "psum": b.output, "output": b.input}
    clear_mapper_caches()
    for shape in RESNET50:
        k, c, oy, ox, fy, fx, s = shape
        problem = LoopProblem(K=k, C=c, OY=oy, OX=ox, FY=fy, FX=fx, stride_y=s, stride_x=s)
        mapped = map_problem(h, problem, operand_bits=bits)
        new = sum(a.read_words + a.write_words + a.update_words for a in mapped.result.accesses if a.level == "dram")
        old = _old_dram_bytes(accel, *shape)
        assert (old, new) == DIFFERENT.get(shape, (old, old)), shape


def _hierarchy(glb, spad, on_chip_pj):
    def level(name, keeps, bypasses=(), capacity=None, mesh=(1, 1), pj=on_chip_pj):
        return {"name": name, "keeps": keeps, "bypasses": bypasses, "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "energy": {"read_pj": pj, "write_pj": pj, "update_pj": pj}, "mesh": mesh}
    return build_hierarchy({
        "name": "prop", "array_axes": ["X", "Y"],
        "levels": [level("DRAM", ["input", "weight", "output"], pj=100.0), level("glb", ["input", "output"],
                                                                                 ["weight"], capacity=glb),
                   level("spad", ["input", "weight", "output"], capacity=spad, mesh=(2, 2))],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]},
        "spatial": [{"axis": "X", "dims": ["K"]}, {"axis": "Y", "dims": ["C", "OY"]}]}, source="prop")


def _dram_elements(mapped):
    return sum(a.reads + a.writes + a.updates for a in mapped.result.accesses if a.level == "DRAM")


problems = st.builds(lambda k, c, oy, fy, s: LoopProblem(K=k, C=c, OY=oy, FY=fy, stride_y=s),
                     st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(1, 3), st.integers(1, 2))
BITS = {"input": 8, "weight": 8, "output": 8}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(problems)
def test_huge_buffers_move_compulsory_dram_traffic(problem):
    mapped = map_problem(_hierarchy(1 << 30, 1 << 30, 1.0), problem, operand_bits=BITS, beam=10**6, shortlist=None)
    compulsory = sum(problem.elements(op) for op in ("input", "weight", "output"))
    assert _dram_elements(mapped) == compulsory


@settings(max_examples=25, deadline=None, derandomize=True)
@given(problems, st.sampled_from(["glb", "spad"]), st.integers(4, 64), st.integers(1, 8))
def test_shrinking_a_level_never_lowers_traffic(problem, which, big, shrink):
    """On-chip accesses free: the energy optimum is the DRAM-traffic optimum, and a smaller level only removes
    mappings (searched exhaustively here)."""
    small = max(1, big // (shrink + 1))
    sizes = {"glb": (big, 64), "spad": (256, big)}[which]
    smaller = {"glb": (small, 64), "spad": (256, small)}[which]
    try:
        roomy = map_problem(_hierarchy(*sizes, 0.0), problem, operand_bits=BITS, beam=10**6, shortlist=None)
    except MappingError:
        return  # nothing fits even the larger level
    try:
        tight = map_problem(_hierarchy(*smaller, 0.0), problem, operand_bits=BITS, beam=10**6, shortlist=None)
    except MappingError:
        return
    assert roomy.exhaustive and tight.exhaustive
    assert _dram_elements(tight) >= _dram_elements(roomy) - 1e-9
    assert tight.result.energy_pj >= roomy.result.energy_pj * (1 - 1e-12)


def test_a_layer_that_fits_nowhere_is_one_line():
    with pytest.raises(MappingError, match=r"^layer: no mapping fits prop's levels: glb: even the smallest tiles "
                                           r"need input 2, output 2 bytes, more than its 2 usable bytes"):
        map_problem(_hierarchy(2, 1, 1.0), LoopProblem(K=4, C=4, OY=4), operand_bits=BITS)
