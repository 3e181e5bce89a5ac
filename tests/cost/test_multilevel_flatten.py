"""nest.flatten (resolve without its checks, what map_problem's conventions search flattens its finalists with,
evaluate_unless_above(trusted=True)): the same nest as resolve for every valid mapping, so the same evaluation."""

from __future__ import annotations

import itertools

import pytest
from test_multilevel_energy_floor import SPATIAL, every_mapping, leaky
from test_multilevel_search import BITS, two_level
from test_multilevel_search_conventions import SMALL

from hwmap.cost.multilevel.evaluate import ZIGZAG_CONVENTIONS, evaluate_unless_above
from hwmap.cost.multilevel.nest import NestMapping, flatten, resolve


@pytest.mark.parametrize("problem", SMALL[:2], ids=lambda p: p.name)
@pytest.mark.parametrize("hardware", [two_level(24, spatial=SPATIAL), leaky(0.5)], ids=["two_level", "leaky"])
def test_flatten_is_resolve_on_valid_mappings(problem, hardware):
    checked = 0
    for mapping in itertools.islice(every_mapping(hardware, problem), 0, None, 13):
        parsed = NestMapping.parse(mapping)
        nest = resolve(parsed, hardware, problem)
        assert flatten(parsed) == nest
        ceiling = float("inf")
        assert evaluate_unless_above(hardware, problem, parsed, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS,
                                     ceiling_pj=ceiling, trusted=True) \
            == evaluate_unless_above(hardware, problem, parsed, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS,
                                     ceiling_pj=ceiling)
        checked += 1
    assert checked > 10
