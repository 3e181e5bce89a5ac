"""map_problem with a fixed spatial unrolling of a 1 x 1 conv's OX: the layer is not folded into its GEMM (the
fold would leave OX of size 1 and the unrolling running idle), so ZigZag's OX x OY unrollings are searched as given."""

from __future__ import annotations

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping
from hwmap.cost.multilevel.search import _map_one, map_problem
from hwmap.hardware.hierarchy import build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}


def three_level(glb, spad, spatial):
    def level(name, keeps, bypasses=(), capacity=None, mesh=(1, 1), pj=1.0, bw=None):
        return {"name": name, "keeps": keeps, "bypasses": bypasses, "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "energy": {"read_pj": pj, "write_pj": pj, "update_pj": pj}, "mesh": mesh,
                "read_bandwidth_bytes_per_cycle": bw, "write_bandwidth_bytes_per_cycle": bw}

    return build_hierarchy({
        "name": "three", "array_axes": ["X", "Y"],
        "levels": [level("DRAM", ["input", "weight", "output"], pj=100.0, bw=2.0),
                   level("glb", ["input", "output"], ["weight"], capacity=glb, pj=6.0),
                   level("spad", ["input", "weight", "output"], capacity=spad, mesh=(2, 2), pj=1.0)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]}, "spatial": list(spatial)},
        source="three")

SPATIAL = [{"level": "glb", "axis": "X", "dim": "OX", "factor": 2}]


def test_fixed_ox_unrolling_of_a_pointwise_conv_keeps_its_dims():
    h = three_level(glb=4096, spad=64, spatial=[{"axis": "X", "dims": ["OX"]}])
    problem = LoopProblem(K=4, C=4, OY=2, OX=4, name="pw")
    best = map_problem(h, problem, operand_bits=BITS, spatial=SPATIAL, shortlist=None)
    assert (best.problem.OY, best.problem.OX) == (2, 4)
    assert best.result.padding == 0.0  # OX 4 over 2 PEs: no idle iteration
    assert best.result.used_pes == 2
    # at least as good as a hand-written mapping with that unrolling (everything in the global buffer)
    hand = {"spatial": SPATIAL, "levels": [
        {"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": []},
        {"level": "glb", "keeps": ["input", "output"], "temporal": [["K", 4], ["C", 4], ["OY", 2], ["OX", 2]]},
        {"level": "spad", "keeps": ["input", "weight", "output"], "temporal": []}]}
    fixed = evaluate_mapping(h, problem, hand, operand_bits=BITS)
    assert best.result.energy_pj <= fixed.energy_pj


def test_pointwise_conv_without_ox_unrolling_is_still_mapped_as_its_gemm():
    h = three_level(glb=4096, spad=64, spatial=[{"axis": "X", "dims": ["K"]}, {"axis": "Y", "dims": ["C"]}])
    best = map_problem(h, LoopProblem(K=4, C=4, OY=2, OX=4, name="pw"), operand_bits=BITS, shortlist=None)
    assert (best.problem.OY, best.problem.OX) == (8, 1)


def _two_fanouts():
    """Y fans out twice, as Simba's: 2 lanes below the buffer, then a 2-wide MAC vector below each lane's
    accumulator."""
    def level(name, keeps, bypasses, capacity, mesh, pj):
        return {"name": name, "keeps": keeps, "bypasses": bypasses, "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "energy": {"read_pj": pj, "write_pj": pj, "update_pj": pj}, "mesh": mesh}

    return build_hierarchy({
        "name": "lanes", "array_axes": ["X", "Y"],
        "levels": [level("DRAM", ["input", "weight", "output"], [], None, (1, 1), 100.0),
                   level("buf", ["input", "weight"], ["output"], 4096, (1, 1), 2.0),
                   level("accu", ["output"], ["input", "weight"], 64, (1, 2), 1.0)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [1, 4]},
        "spatial": [{"axis": "Y", "dims": ["K"]}, {"axis": "Y", "dims": ["C"]}]}, source="lanes")


def test_an_axis_fanning_out_at_two_levels_unrolls_at_both():
    from hwmap.cost.multilevel.search import spatial_options

    h = _two_fanouts()
    problem = LoopProblem(K=4, C=4, OY=4, name="fc")
    placed = {tuple((e["level"], e["dim"], e["factor"]) for e in entries) for _, entries in spatial_options(h, problem)}
    assert placed == {(("buf", d1, 2), ("accu", d2, 2)) for d1 in "KC" for d2 in "KC"}
    best = map_problem(h, problem, operand_bits=BITS, shortlist=None)
    assert best.result.used_pes == 4  # every MAC of the vector busy (one slot alone: 2)
    assert best.result.compute_cycles == 4 * 4 * 4 / 4


def test_a_template_that_may_spread_ox_maps_a_pointwise_conv_both_ways_and_keeps_the_better():
    h = three_level(glb=4096, spad=64, spatial=[{"axis": "X", "dims": ["OX", "K"]}, {"axis": "Y", "dims": ["C"]}])
    problem = LoopProblem(K=4, C=4, OY=3, OX=2, name="pw")
    best = map_problem(h, problem, operand_bits=BITS, shortlist=None)
    cuts = {"beam": 32, "per_dim": 16, "shortlist": None, "first_level_cap": 8192}
    folded = _map_one(h, problem.canonical(), "energy", None, BITS, **cuts)
    as_is = _map_one(h, problem, "energy", None, BITS, **cuts)
    assert (folded.problem.OY, as_is.problem.OY) == (6, 3)
    assert best.value == min(folded.value, as_is.value)
    assert best.problem == (folded if folded.value <= as_is.value else as_is).problem
    assert best.lower_bound == min(folded.lower_bound, as_is.lower_bound)
