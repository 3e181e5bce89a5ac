"""AccessConventions: ZigZag's access_same_data_considered_as_no_access as an evaluation option (hwmap's default
unchanged), on a layer small enough to count by hand."""

from __future__ import annotations

from dataclasses import replace

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping
from hwmap.cost.multilevel.evaluate import HWMAP_CONVENTIONS, ZIGZAG_CONVENTIONS, AccessConventions
from hwmap.hardware.hierarchy import build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}
PROBLEM = LoopProblem(K=4, C=2, OY=2, name="tiny")  # 16 MACs
# K innermost: the input is held over K's 4 trips; the weight changes with K; C outermost
MAPPING = {"spatial": [], "levels": [
    {"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": []},
    {"level": "buf", "keeps": ["input", "weight", "output"], "temporal": [["C", 2], ["OY", 2], ["K", 4]]}]}


def _two_level(read_bytes_per_cycle):
    def level(name, capacity, bw):
        return {"name": name, "keeps": ["input", "weight", "output"], "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "energy": {"read_pj": 1.0, "write_pj": 1.0, "update_pj": 1.0},
                "mesh": [1], "read_bandwidth_bytes_per_cycle": bw}

    return build_hierarchy({"name": "two", "array_axes": ["X"], "levels": [level("DRAM", None, None),
                                                                           level("buf", 1024, read_bytes_per_cycle)],
                            "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [1]}}, source="two")


def _reads(result, op):
    return result.access("buf", op).reads


def test_hwmap_default_reads_every_operand_once_per_mac():
    result = evaluate_mapping(_two_level(1.0), PROBLEM, MAPPING, operand_bits=BITS)
    assert HWMAP_CONVENTIONS == AccessConventions()
    assert (_reads(result, "input"), _reads(result, "weight")) == (16.0, 16.0)


def test_zigzag_convention_holds_the_input_over_the_innermost_irrelevant_run():
    default = evaluate_mapping(_two_level(1.0), PROBLEM, MAPPING, operand_bits=BITS)
    held = evaluate_mapping(_two_level(1.0), PROBLEM, MAPPING, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS)
    assert _reads(held, "input") == 16 / 4  # one read per K run of 4
    assert _reads(held, "weight") == 16.0  # K is relevant to weights: no run
    assert held.access("buf", "output").updates == default.access("buf", "output").updates
    counted = evaluate_mapping(_two_level(1.0), PROBLEM, MAPPING, operand_bits=BITS,
                               conventions=replace(ZIGZAG_CONVENTIONS, port_word_energy=False))  # hwmap's pricing
    assert counted.energy_pj == default.energy_pj - 12 * 1.0  # 12 fewer 8-bit reads at 1 pJ


def test_zigzag_convention_needs_the_read_port_to_hold_the_word():
    # 4 bits per cycle cannot deliver one 8-bit input: ZigZag's condition fails, every MAC reads
    held = evaluate_mapping(_two_level(0.5), PROBLEM, MAPPING, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS)
    assert _reads(held, "input") == 16.0
