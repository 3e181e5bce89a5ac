"""ZigZag 3.9.1's counting rules as AccessConventions fields (fractional_spatial_unrolling,
truncate_input_tile_rows, psum_per_output_element), each on a layer small enough to count by hand; hwmap's default
counts of the same mappings beside them (unchanged)."""

from __future__ import annotations

import dataclasses

import pytest

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping
from hwmap.cost.multilevel.evaluate import HWMAP_CONVENTIONS, ZIGZAG_CONVENTIONS, AccessConventions
from hwmap.hardware.hierarchy import build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}
EVERY = ["input", "weight", "output"]
FRACTIONAL = AccessConventions(fractional_spatial_unrolling=True)
TRUNCATED = AccessConventions(fractional_spatial_unrolling=True, truncate_input_tile_rows=True)
PER_OUTPUT = AccessConventions(psum_per_output_element=True)


def _level(name, mesh):
    return {"name": name, "keeps": EVERY, "capacity_bytes": None if name == "DRAM" else 1e6, "word_bits": 8,
            "access_width_bits": 8, "energy": {"read_pj": 1.0, "write_pj": 1.0, "update_pj": 1.0}, "mesh": mesh}


def _hierarchy(inner_mesh, macs=2):
    """DRAM, then 'inner' (inner_mesh instances), then ``macs`` MACs on one axis X."""
    return build_hierarchy({"name": "toy", "array_axes": ["X"],
                            "levels": [_level("DRAM", [1]), _level("inner", inner_mesh)],
                            "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [macs]}}, source="toy")


def _mapping(spatial_level, spatial_dim, dram, inner):
    return {"spatial": [{"level": spatial_level, "axis": "X", "dim": spatial_dim, "factor": 2}],
            "levels": [{"level": "DRAM", "keeps": EVERY, "temporal": dram},
                       {"level": "inner", "keeps": EVERY, "temporal": inner}]}


def _counts(problem, h, mapping, conventions):
    r = evaluate_mapping(h, problem, mapping, operand_bits=BITS, conventions=conventions)
    return {(a.level, a.operand): (a.reads, a.writes, a.updates) for a in r.accesses}


def test_zigzag_conventions_hold_every_rule_and_hwmap_none():
    assert all(dataclasses.asdict(ZIGZAG_CONVENTIONS).values())
    assert not any(dataclasses.asdict(HWMAP_CONVENTIONS).values())


def test_fractional_unrolling_spreads_a_padded_dim_over_fewer_pes():
    # K = 3 unrolled 2-wide on per-PE registers under a temporal K 2 (covers 4): ZigZag unrolls K 3 / 2 = 1.5-wide
    problem = LoopProblem(K=3, C=2, name="k3")
    h, mapping = _hierarchy([2]), _mapping("DRAM", "K", [["K", 2]], [["C", 2]])
    default, zigzag = (_counts(problem, h, mapping, c) for c in (HWMAP_CONVENTIONS, FRACTIONAL))
    # the 2 inputs stay in each PE's register over K (irrelevant, outermost): written once into every used PE.
    # hwmap: the second K step still uses 2 PEs (one idle, written all the same): 2 x 2; ZigZag: 1.5 PEs x 2
    assert default[("inner", "input")][1] == 2 * 2
    assert zigzag[("inner", "input")][1] == pytest.approx(1.5 * 2)
    assert default[("DRAM", "input")][0] == zigzag[("DRAM", "input")][0] == 2  # multicast: read once
    for key in default:  # weights and outputs are relevant to K: their tiles hold only real elements either way
        if key[1] != "input":
            assert default[key] == pytest.approx(zigzag[key])


def test_fractional_unrolling_ignores_temporal_loops_past_the_layer():
    # K = 3 unrolled 2-wide under a temporal K 3 (hwmap's search may pad DRAM's loop past ceil(3 / 2) = 2):
    # ZigZag's unrolling is still 3 / ceil(3 / 2) = 1.5 (generate_limited_user_spatial_mapping reads the layer, not
    # the temporal loops), so the 2 inputs go to 1.5 PEs, as under a temporal K 2; fitting the unrolling to the
    # loops instead (3 / 3 = 1 PE) would write 2
    problem = LoopProblem(K=3, C=2, name="k3")
    for temporal_k in (2, 3):
        counts = _counts(problem, _hierarchy([2]), _mapping("DRAM", "K", [["K", temporal_k]], [["C", 2]]),
                         FRACTIONAL)
        assert counts[("inner", "input")][1] == pytest.approx(1.5 * 2)


def test_fractional_unrolling_below_a_shared_buffer_and_truncated_input_columns():
    # OX = 3 unrolled 2-wide below a shared buffer under a temporal OX 2 at DRAM: ZigZag's unrolling is 1.5
    problem = LoopProblem(OX=3, name="ox3")  # 3 MACs, 1 weight, 3 inputs, 3 outputs (1 x 1 filter)
    h, mapping = _hierarchy([1]), _mapping("inner", "OX", [["OX", 2]], [])
    default = _counts(problem, h, mapping, HWMAP_CONVENTIONS)
    fractional = _counts(problem, h, mapping, FRACTIONAL)
    truncated = _counts(problem, h, mapping, TRUNCATED)
    # the weight is multicast to the unrolled MACs: one read per temporal step at 1.5 MACs per step (ZigZag: 2
    # steps); hwmap: 3 MACs / 2 per read
    assert default[("inner", "weight")][0] == 3 / 2
    assert fractional[("inner", "weight")][0] == pytest.approx(2)
    # the buffer's input tile spans 1.5 output columns: 2 tiles of 1.5 columns = 3 columns (hwmap's tiles: 2 + 1);
    # ZigZag's calc_tensor_dim takes int(1.5) = 1 column per tile, so 2 tiles move 2 columns
    assert default[("DRAM", "input")][0] == fractional[("DRAM", "input")][0] == 3
    assert truncated[("DRAM", "input")][0] == pytest.approx(2)
    assert truncated[("inner", "input")][1] == pytest.approx(2)
    # the MACs' reads: one per element of the 1-column truncated tile per step (2), not one per MAC (3)
    assert default[("inner", "input")][0] == fractional[("inner", "input")][0] == 3
    assert truncated[("inner", "input")][0] == pytest.approx(2)


def test_zigzag_mac_reads_share_an_input_column_across_output_and_filter_columns():
    # OX 2 x FX 2 unrolled over 4 MACs below a shared buffer: the 4 MACs read 3 distinct input columns (x, x + 1,
    # x + 1, x + 2). ZigZag's MAC-level count (data_access_raw over the decoupled IX loops) reads each once: 3;
    # hwmap's default multicasts only over loops irrelevant to the input: 4
    problem = LoopProblem(OX=2, FX=2, name="diagonal")
    mapping = {"spatial": [{"level": "inner", "axis": "X", "dim": "OX", "factor": 2},
                           {"level": "inner", "axis": "X", "dim": "FX", "factor": 2}],
               "levels": [{"level": "DRAM", "keeps": EVERY, "temporal": []},
                          {"level": "inner", "keeps": EVERY, "temporal": []}]}
    h = _hierarchy([1], macs=4)
    assert _counts(problem, h, mapping, HWMAP_CONVENTIONS)[("inner", "input")][0] == 4
    assert _counts(problem, h, mapping, FRACTIONAL)[("inner", "input")][0] == pytest.approx(3)


def test_partial_sums_per_output_element_not_per_pe():
    # 2 outputs (OY), each the sum of 4 products: C 2 spread over 2 PEs (a spatial reduction above the per-PE
    # registers) x C 2 temporal at DRAM, outermost, so each PE's register tile is refilled once (R = 2)
    problem = LoopProblem(C=4, OY=2, name="reduce")  # 8 MACs
    h, mapping = _hierarchy([2]), _mapping("DRAM", "C", [["C", 2], ["OY", 2]], [])
    default, zigzag = (_counts(problem, h, mapping, c) for c in (HWMAP_CONVENTIONS, PER_OUTPUT))
    # MACs: 8 updates. hwmap: every PE's first touch of each output starts from zero, 2 PEs x 2 outputs = 4
    # reads saved; ZigZag: only each output element's first touch, 2 saved
    assert default[("inner", "output")][2] == zigzag[("inner", "output")][2] == 8
    # register reads: MAC reads + drains (2 visits x 2 PEs x 2 outputs = 8)
    assert default[("inner", "output")][0] == (8 - 4) + 8
    assert zigzag[("inner", "output")][0] == (8 - 2) + 8
    # refills: hwmap writes the partial sum back into both PEs of the reduction at the second visit (2 PEs x 2
    # outputs); ZigZag (wr_in_by_high): outputs x (R x copies above DRAM - 1) = 2 x (2 x 1 - 1)
    assert default[("inner", "output")][1] == 4
    assert zigzag[("inner", "output")][1] == 2
    # DRAM: updated on every visit (2 x 2 outputs); read for every refill: hwmap (R - 1) x 2 outputs = 2,
    # ZigZag (R x copies above DRAM (1) - 1) x 2 = 2
    assert default[("DRAM", "output")] == zigzag[("DRAM", "output")] == (2, 0, 4)


def test_hwmap_default_counts_unchanged_by_the_new_fields():
    problem = LoopProblem(OX=3, name="ox3")
    h, mapping = _hierarchy([1]), _mapping("inner", "OX", [["OX", 2]], [])
    plain = evaluate_mapping(h, problem, mapping, operand_bits=BITS)
    assert plain.records() == evaluate_mapping(h, problem, mapping, operand_bits=BITS,
                                               conventions=AccessConventions()).records()
    assert plain.padding == pytest.approx(1 - 3 / 4)  # hwmap still runs OX 4 and counts the idle iteration
