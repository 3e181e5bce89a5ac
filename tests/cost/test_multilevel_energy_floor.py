"""The floor map_problem skips finalists by under a peer's conventions (evaluate.energy_floor_pj,
evaluate_unless_above): never above the energy evaluate_mapping reports, equal to it without leakage, and a skip only
where the energy is above the ceiling; the search's winner is the brute force's (the brute-force tests of
test_multilevel_search_conventions.py run with the skip, objective energy)."""

from __future__ import annotations

import itertools
import math

import pytest
from test_multilevel_search import BITS, _mapping, tilings, two_level
from test_multilevel_search_conventions import SMALL, brute_force_zigzag

from hwmap.cost.multilevel import evaluate_mapping
from hwmap.cost.multilevel.evaluate import (
    HWMAP_CONVENTIONS,
    ZIGZAG_CONVENTIONS,
    _port_words,
    _views,
    energy_floor_pj,
    evaluate_unless_above,
    operand_bits_of,
)
from hwmap.cost.multilevel.nest import resolve
from hwmap.cost.multilevel.search import map_problem
from hwmap.hardware.hierarchy import build_hierarchy

SPATIAL = [{"axis": "X", "dims": ["K", "OY"]}, {"axis": "Y", "dims": ["C"]}]


def leaky(bandwidth: float):
    """two_level's design with leakage everywhere and a DRAM of ``bandwidth`` bytes per cycle (stalls add cycles)."""
    def level(name, capacity, pj):
        return {"name": name, "keeps": ["input", "weight", "output"], "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "mesh": (1, 1), "read_bandwidth_bytes_per_cycle": bandwidth,
                "write_bandwidth_bytes_per_cycle": bandwidth,
                "energy": {"read_pj": pj, "write_pj": pj, "update_pj": pj, "leakage_pj_per_cycle": 0.25}}
    return build_hierarchy({
        "name": "leaky", "array_axes": ["X", "Y"], "levels": [level("DRAM", None, 100.0), level("buf", 24, 1.0)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2], "leakage_pj_per_cycle": 0.125},
        "spatial": SPATIAL}, source="leaky")


def every_mapping(h, problem):
    """Every mapping of the space the brute-force tests enumerate (all tile chains and class orders)."""
    m = len(h.levels)
    for sp, entries, tiles in tilings(h, problem, fractional_divides=True):
        for orders in itertools.product(range(6), repeat=m):
            yield _mapping(h, problem, sp, entries, tiles, orders)


def _floor(h, problem, mapping):
    nest = resolve(mapping, h, problem)
    bits = operand_bits_of(BITS)
    views = _views(h, problem, nest, ZIGZAG_CONVENTIONS)
    return energy_floor_pj(h, problem, nest, _port_words(h, problem, views, bits, ZIGZAG_CONVENTIONS))


@pytest.mark.parametrize("problem", SMALL[:2], ids=lambda p: p.name)
@pytest.mark.parametrize(("hardware", "exact"), [(two_level(24, spatial=SPATIAL), True), (leaky(0.5), False)],
                         ids=["no_leakage", "leakage_and_stalls"])
def test_floor_never_above_the_energy(problem, hardware, exact):
    stalled = 0
    for mapping in itertools.islice(every_mapping(hardware, problem), 0, None, 7):
        result = evaluate_mapping(hardware, problem, mapping, operand_bits=BITS, strict=False,
                                  conventions=ZIGZAG_CONVENTIONS)
        floor = _floor(hardware, problem, mapping)
        assert floor <= result.energy_pj * (1 + 1e-12)
        if exact:
            assert floor == pytest.approx(result.energy_pj, rel=1e-12)
        stalled += result.cycles > result.compute_cycles
        assert (floor < result.energy_pj * (1 - 1e-9)) == (not exact and result.cycles > result.compute_cycles)
    assert exact or stalled  # the leaky case does exercise the leakage of stalled cycles


@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
def test_skips_only_above_the_ceiling(problem):
    h = leaky(0.5)
    for mapping in itertools.islice(every_mapping(h, problem.canonical()), 0, None, 11):
        result = evaluate_mapping(h, problem.canonical(), mapping, operand_bits=BITS, strict=False,
                                  conventions=ZIGZAG_CONVENTIONS)
        floor = _floor(h, problem.canonical(), mapping)
        for ceiling in (floor * 0.999, floor, result.energy_pj * 1.001):
            got = evaluate_unless_above(h, problem.canonical(), mapping, operand_bits=BITS,
                                        conventions=ZIGZAG_CONVENTIONS, ceiling_pj=ceiling)
            if floor > ceiling:
                assert got is None and result.energy_pj > ceiling
            else:
                assert got == result


def test_without_port_words_nothing_is_skipped():
    """hwmap's conventions price no port words: no floor, every mapping evaluated."""
    h = two_level(24, spatial=SPATIAL)
    problem = SMALL[0]
    mapping = next(every_mapping(h, problem))
    got = evaluate_unless_above(h, problem, mapping, operand_bits=BITS, conventions=HWMAP_CONVENTIONS,
                                ceiling_pj=0.0)
    assert got == evaluate_mapping(h, problem, mapping, operand_bits=BITS, strict=False)


@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
def test_leaky_search_equals_brute_force(problem):
    """With leakage and stalls (the floor below the energy), the skip still never changes the winner."""
    h = leaky(0.5)
    best = brute_force_zigzag(h, problem.canonical(), "energy")[2].energy_pj
    mapped = map_problem(h, problem, objective="energy", operand_bits=BITS, beam=10**6, shortlist=None,
                         finalists=10**6, conventions=ZIGZAG_CONVENTIONS, operand_allocation=False)  # single nests
    assert mapped.exhaustive
    assert math.isclose(mapped.result.energy_pj, best, rel_tol=1e-12)
