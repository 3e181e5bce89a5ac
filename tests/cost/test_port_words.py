"""AccessConventions.port_word_energy: ZigZag 3.9.1's energy (word accesses per port direction, per period and
instance, rounded up to bandwidth_min words; partial sums at their precision) on a layer small enough to price by
hand; hwmap's default pricing of the same mapping beside it (unchanged)."""

from __future__ import annotations

import pytest

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping
from hwmap.cost.multilevel.evaluate import HWMAP_CONVENTIONS, ZIGZAG_CONVENTIONS, AccessConventions
from hwmap.hardware.hierarchy import build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}
EVERY = ["input", "weight", "output"]
PROBLEM = LoopProblem(K=2, C=3, name="k2c3")  # 6 MACs, 3 inputs, 6 weights, 2 outputs
# K 2 at DRAM, C 3 in the register: 6 cycles; the register's tiles: 3 inputs, 3 weights, 1 output
MAPPING = {"spatial": [], "levels": [{"level": "DRAM", "keeps": EVERY, "temporal": [["K", 2]]},
                                     {"level": "reg", "keeps": EVERY, "temporal": [["C", 3]]}]}
PORT_WORDS = AccessConventions(port_word_energy=True)


def _hierarchy(reg_access_bits=16):
    """DRAM: 8-bit words, 100 pJ per access; reg: 16-bit words (accesses of reg_access_bits), read 1 pJ, write
    2 pJ; one MAC."""
    def level(name, bits, read_pj, write_pj):
        width = reg_access_bits if name == "reg" else bits
        return {"name": name, "keeps": EVERY, "capacity_bytes": None if name == "DRAM" else 64, "word_bits": bits,
                "access_width_bits": width, "energy": {"read_pj": read_pj, "write_pj": write_pj,
                                                      "update_pj": write_pj}, "mesh": [1]}

    return build_hierarchy({"name": "toy", "array_axes": ["X"],
                            "levels": [level("DRAM", 8, 100.0, 100.0), level("reg", 16, 1.0, 2.0)],
                            "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [1]}}, source="toy")


def _words(result):
    return {(a.level, a.operand): (a.read_words, a.write_words, a.update_words) for a in result.accesses}


def test_zigzag_word_accesses_and_energy_by_hand():
    result = evaluate_mapping(_hierarchy(), PROBLEM, MAPPING, operand_bits=BITS, conventions=PORT_WORDS)
    words = _words(result)
    # weights and inputs: the MAC reads one 8-bit element per cycle, a whole 16-bit word each: 6 reads.
    # Weights: the register is filled once per period of its loops (C 3: 6 / 3 = 2 periods), 3 weights = 24 bits =
    # 2 words each: 4 writes (hwmap's pricing: 6 elements x 8 / 16 = 3 words); DRAM reads the same 3 elements per
    # period in 8-bit words: 2 x 3 = 6.
    # Inputs: K 2 at DRAM is irrelevant to them and right above the register's loops: ZigZag merges it down
    # (innermost_stationary_loop_merge_down), the register's period is 6 cycles: one fill of 2 words, 3 DRAM reads
    assert words[("reg", "weight")] == (6, 4, 0)
    assert words[("DRAM", "weight")] == (6, 0, 0)
    assert words[("reg", "input")] == (6, 2, 0)
    assert words[("DRAM", "input")] == (3, 0, 0)
    # outputs: the register holds partial sums (C above the MAC): 6 updates at 16 bits, and as many reads out to the
    # MAC (ZigZag prices them like the updates, not the 4 refills it counts); read out to DRAM once per period (2)
    # at the final 8 bits (DRAM holds no partial sum: nothing is written back), one 16-bit word each;
    # DRAM is updated per period with one 8-bit output
    assert words[("reg", "output")] == (6 + 2, 0, 6)
    assert words[("DRAM", "output")] == (0, 0, 2)
    reg = result.level_energy_pj["reg"]
    assert reg["read"] == pytest.approx((6 + 6 + 8) * 1.0)
    assert reg["write"] == pytest.approx((4 + 2) * 2.0)
    assert reg["update"] == pytest.approx(6 * 2.0)
    assert result.level_energy("DRAM") == pytest.approx((6 + 3 + 2) * 100.0)
    assert result.mac_energy_pj == pytest.approx(6 * 0.5)
    assert result.energy_pj == pytest.approx(20 + 12 + 12 + 1100 + 3)


def test_words_rounded_up_per_period_then_priced_per_access():
    # 32-bit accesses of 16-bit words: one 8-bit weight per MAC read is ceil(8 / 16) = 1 word = half an access,
    # 6 periods: 3 accesses (hwmap's pricing: 6 x 8 / 32 = 1.5)
    h = _hierarchy(reg_access_bits=32)
    words = _words(evaluate_mapping(h, PROBLEM, MAPPING, operand_bits=BITS, conventions=PORT_WORDS))
    assert words[("reg", "weight")] == (3, 2, 0)  # fills: ceil(24 / 16) = 2 words x 16 / 32 x 2 periods = 2


def test_an_irrelevant_loop_right_above_a_level_lengthens_its_period():
    # K 2 innermost at DRAM, irrelevant to inputs: ZigZag merges it down into the register's loops
    # (innermost_stationary_loop_merge_down), so the register's one input is refilled every 2 cycles: 3 fills of one
    # 16-bit word, and the MAC reads it once per 2 cycles (held over K): 3. Weights change with K: 6 and 6
    mapping = {"spatial": [], "levels": [{"level": "DRAM", "keeps": EVERY, "temporal": [["C", 3], ["K", 2]]},
                                         {"level": "reg", "keeps": EVERY, "temporal": []}]}
    words = _words(evaluate_mapping(_hierarchy(), PROBLEM, mapping, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS))
    assert words[("reg", "input")] == (3, 3, 0)
    assert words[("reg", "weight")] == (6, 6, 0)
    assert words[("DRAM", "input")] == (3, 0, 0)


def test_port_words_change_only_the_pricing():
    default = evaluate_mapping(_hierarchy(), PROBLEM, MAPPING, operand_bits=BITS)
    priced = evaluate_mapping(_hierarchy(), PROBLEM, MAPPING, operand_bits=BITS, conventions=PORT_WORDS)
    elements = [(a.level, a.operand, a.reads, a.writes, a.updates) for a in default.accesses]
    assert elements == [(a.level, a.operand, a.reads, a.writes, a.updates) for a in priced.accesses]
    # hwmap's default prices elements x bits / access width: the register's weights 6 x 8 / 16 = 3 reads
    assert _words(default)[("reg", "weight")][0] == 3
    assert default.energy_pj != pytest.approx(priced.energy_pj)


def test_port_word_energy_is_a_zigzag_rule_and_off_by_default():
    assert ZIGZAG_CONVENTIONS.port_word_energy
    assert not HWMAP_CONVENTIONS.port_word_energy


def test_map_problem_evaluates_its_winner_under_the_given_conventions():
    from hwmap.cost.multilevel.search import map_problem

    h = _hierarchy()
    plain = map_problem(h, PROBLEM, operand_bits=BITS)
    zigzag = map_problem(h, PROBLEM, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS)
    assert plain.result.energy_pj == evaluate_mapping(h, plain.problem, plain.mapping, operand_bits=BITS).energy_pj
    assert zigzag.result.energy_pj == evaluate_mapping(h, zigzag.problem, zigzag.mapping, operand_bits=BITS,
                                                       conventions=ZIGZAG_CONVENTIONS).energy_pj == 1141.0
    # it optimises in ZigZag's model (search.py's "In a peer's model"): below hwmap's winner priced in that model
    again = evaluate_mapping(h, plain.problem, plain.mapping, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS)
    assert zigzag.exhaustive and zigzag.result.energy_pj < again.energy_pj == 1147.0 != plain.result.energy_pj
