"""floors.port_words_batch / floors_and_cycles, the port words, energy floors and cycles of an option's finalists
computed together: on the search's own finalists on ZigZag's example hardware (nested and per-operand fanouts,
fractional unrollings, clipped and truncated input tiles) every word count equals port_words', every floor
energy_floor_pj's and every cycle count evaluate_mapping's, to the bit; the floor is never above the energy and equals
it to the bit when nothing stalls; and the search, which evaluates the finalists lowest floor first and skips what
cannot win, picks what evaluating every finalist in order picks."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import traced
from test_multilevel_energy_floor import SPATIAL, every_mapping, leaky
from test_multilevel_search import BITS, two_level
from test_multilevel_search_conventions import SMALL

from hwmap.cost import objectives
from hwmap.cost.multilevel import evaluate_mapping
from hwmap.cost.multilevel import search as search_module
from hwmap.cost.multilevel.evaluate import (
    ZIGZAG_CONVENTIONS,
    _port_words,
    _views,
    energy_floor_pj,
    operand_bits_of,
)
from hwmap.cost.multilevel.floors import (
    NestBatch,
    compute_cycles,
    energy_floors_pj,
    floors_and_cycles,
    port_words_batch,
)
from hwmap.cost.multilevel.nest import MappingError, flatten, resolve
from hwmap.cost.multilevel.problem import problem_of
from hwmap.cost.multilevel.search import _pick_finalist, _ranked_options, _Search, _unrolls_folded_dims

ROOT = Path(__file__).resolve().parents[2]
# per hardware two layers: conv1 (7 x 7 stride 2, padded: clipped input tiles), and one whose unrolling does not
# divide a dim (fractional in ZigZag: K 1000 over 32 on tpu_like, OX 7 over 2 or 4 elsewhere; truncated tiles)
CASES = [("eyeriss_like", "conv1_convolution_0"), ("eyeriss_like", "layer4.1.conv2_convolution_203"),
         ("tpu_like", "layer1.0.conv1_convolution_5"), ("tpu_like", "fc_addmm_228"),
         ("edge_tpu_like", "conv1_convolution_0"), ("edge_tpu_like", "layer4.0.conv2_convolution_187"),
         ("ascend_like", "layer1.0.conv3_convolution_13"), ("ascend_like", "layer4.1.conv2_convolution_203"),
         ("tesla_npu_like", "conv1_convolution_0"), ("tesla_npu_like", "layer4.1.conv2_convolution_203"),
         ("meta_prototype", "layer2.0.conv2_convolution_51"), ("meta_prototype", "layer4.1.conv1_convolution_199")]
RULES = {"zigzag": ZIGZAG_CONVENTIONS,
         "whole_unrolling": dataclasses.replace(ZIGZAG_CONVENTIONS, fractional_spatial_unrolling=False,
                                                truncate_input_tile_rows=False),
         "no_clip_no_held": dataclasses.replace(ZIGZAG_CONVENTIONS, clip_input_to_tensor=False,
                                                mac_operand_held=False)}


def _benchmark():
    spec = importlib.util.spec_from_file_location("zigzag_crosscheck", ROOT / "benchmarks" / "zigzag_crosscheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(hw: str, layer: str, folder: Path):
    """(hierarchy, problem, bits, spatial) of one layer as benchmarks/zigzag_crosscheck.py maps it."""
    from hwmap.interop.fixed_mapping import zigzag_spatial_entries
    from hwmap.interop.zigzag_hardware import read_zigzag_hardware

    bench = _benchmark()
    h = read_zigzag_hardware(bench.hardware_file(hw, folder))
    record = next(r for r in json.loads((ROOT / "benchmarks" / "reference" / f"zigzag_resnet50_{hw}.json").read_text())
                  ["layers"] if r["name"] == layer)
    nodes = {node.name: node for node in traced("resnet50").nodes}
    precision = record["operand_precision_bits"]
    bits = {"input": precision["I"], "weight": precision["W"], "output": precision["O_final"], "psum": precision["O"]}
    spatial = zigzag_spatial_entries(record, h, source=layer)
    problem = problem_of(nodes[record["represents"][0]])
    # map_problem maps a 1 x 1 conv as its GEMM unless the unrolling spreads a dim the fold removes
    return h, problem if _unrolls_folded_dims(h, spatial) else problem.canonical(), bits, spatial


def _finalists(h, problem, bits, spatial, conventions):
    option = _ranked_options(h, problem, "energy", spatial, bits)[0][3]
    return _Search(h, problem, option, bits, "energy", 32, 16, 8192, 8, finals=64, conventions=conventions).run()


@pytest.mark.parametrize("rules", RULES, ids=str)
@pytest.mark.parametrize(("hw", "layer"), CASES, ids=lambda x: x.split("_convolution")[0].split("_addmm")[0])
def test_batch_equals_port_words_and_floor(hw, layer, rules, tmp_path):
    conventions = RULES[rules]
    h, problem, bits, spatial = _case(hw, layer, tmp_path)
    bits = operand_bits_of(bits)
    found = _finalists(h, problem, bits, spatial, conventions)
    assert len(found) >= 40  # up to 64 final states, some with several innermost orders
    batch = found.batch()
    flags = {"fractional": conventions.fractional_spatial_unrolling, "clip": conventions.clip_input_to_tensor,
             "truncate": conventions.truncate_input_tile_rows, "held": conventions.mac_operand_held}
    words = port_words_batch(h, batch, problem, bits, **flags)
    floors, cycles = floors_and_cycles(h, problem, batch, bits, conventions)
    assert np.array_equal(floors, energy_floors_pj(h, problem, batch, bits, conventions))
    nests = [flatten(found.mapping(i)) for i in range(len(found))]
    stalled = 0
    for i, nest in enumerate(nests):
        scalar = _port_words(h, problem, _views(h, problem, nest, conventions), bits, conventions)
        assert {key: list(w[i]) for key, w in words.items()} == scalar
        assert floors[i] == energy_floor_pj(h, problem, nest, scalar)  # to the bit
        assert compute_cycles(batch)[i] == np.prod([lp.factor for lp in nest.loops if not lp.spatial])
        result = evaluate_mapping(h, problem, found.mapping(i), operand_bits=bits, strict=False,
                                  conventions=conventions)
        assert cycles[i] == result.cycles  # to the bit
        stalled += result.cycles > result.compute_cycles
    assert stalled  # the transfer times decide the cycles of some finalists (ZigZag's bandwidths)
    # the general constructor (each level's dims in the nest's order, the absent ones after) gives the same words
    again = port_words_batch(h, NestBatch.from_nests(nests), problem, bits, **flags)
    assert all(np.array_equal(again[key], words[key]) for key in words)


def test_cases_exercise_every_path(tmp_path):
    """The cases above hold fractional unrollings (7 of 12 layers) and both nested hierarchies and per-operand fanouts
    (eyeriss_like and tpu_like are nested)."""
    from hwmap.cost.multilevel.floors import _Common, _Operand
    from hwmap.cost.multilevel.nest import nested

    fractional, unnested = 0, 0
    for hw, layer in CASES:
        h, problem, bits, spatial = _case(hw, layer, tmp_path)
        batch = _finalists(h, problem, operand_bits_of(bits), spatial, ZIGZAG_CONVENTIONS).batch()
        op = _Operand(h, batch, _Common(batch), problem, "input", operand_bits_of(bits), fractional=True, clip=True,
                      truncate=True)
        fractional += bool(op.exact)
        unnested += not nested(h)
    assert (fractional, unnested) == (7, 8)


@pytest.mark.parametrize("problem", SMALL[:2], ids=lambda p: p.name)
@pytest.mark.parametrize(("hardware", "leakage"), [(two_level(24, spatial=SPATIAL), False), (leaky(0.5), True)],
                         ids=["no_leakage", "leakage_and_stalls"])
def test_floor_is_the_energy_without_stalls(problem, hardware, leakage):
    """energy_floor_pj takes LevelResult.energy_pj's float operations with the compute cycles: never above the
    energy, equal to it to the bit exactly when the cycles are the compute cycles (always without leakage)."""
    stalled = 0
    for mapping in itertools.islice(every_mapping(hardware, problem), 0, None, 5):
        result = evaluate_mapping(hardware, problem, mapping, operand_bits=BITS, strict=False,
                                  conventions=ZIGZAG_CONVENTIONS)
        nest = resolve(mapping, hardware, problem)
        bits = operand_bits_of(BITS)
        floor = energy_floor_pj(hardware, problem, nest, _port_words(
            hardware, problem, _views(hardware, problem, nest, ZIGZAG_CONVENTIONS), bits, ZIGZAG_CONVENTIONS))
        assert floor <= result.energy_pj
        stall = result.cycles > result.compute_cycles
        stalled += stall
        assert (floor == result.energy_pj) == (not (leakage and stall))
    assert stalled  # both designs stall on some mappings


@pytest.mark.parametrize(("hw", "layer"), [("ascend_like", "layer1.0.conv3_convolution_13"),
                                           ("tpu_like", "fc_addmm_228"), ("meta_prototype",
                                                                          "layer2.0.conv2_convolution_51")],
                         ids=["ascend_like_ties", "tpu_like_fc", "meta_prototype"])
def test_search_picks_what_evaluating_every_finalist_picks(hw, layer, tmp_path, monkeypatch):
    """The search (_pick_finalist, what _map_under does with each option's finalists) evaluates them lowest floor
    first and skips those that cannot win (a floor above the best energy; a floor equal to it with no fewer cycles,
    ranked later); it picks what evaluating every finalist in order, keeping the first of the least (energy,
    cycles), picks, evaluating one. ascend_like layer1.0.conv3: 64 finalists tie in energy and differ in cycles."""
    h, problem, bits, spatial = _case(hw, layer, tmp_path)
    bits = operand_bits_of(bits)
    found = _finalists(h, problem, bits, spatial, ZIGZAG_CONVENTIONS)
    best = None
    for i in range(len(found)):
        r = evaluate_mapping(h, problem, found.mapping(i), operand_bits=bits, strict=False,
                             conventions=ZIGZAG_CONVENTIONS)
        key = (objectives.choice_scores("energy", np.array([r.energy_pj]), np.array([r.cycles]))[0], r.energy_pj,
               r.cycles)
        if r.fits and (best is None or key < best[0]):
            best = (key, found.mapping(i))
    evaluated = []  # the search's full evaluations
    real = search_module.evaluate_unless_above
    monkeypatch.setattr(search_module, "evaluate_unless_above", lambda *a, **k: evaluated.append(1) or real(*a, **k))
    picked = _pick_finalist(h, problem, "energy", bits, ZIGZAG_CONVENTIONS, found, None, 1, layer)
    assert picked[1] == best[1]
    assert (picked[2].energy_pj, picked[2].cycles) == best[0][1:]
    assert len(evaluated) == 1
    # a best from an earlier option with the same energy and cycles wins the tie: nothing here is evaluated
    evaluated.clear()
    earlier = (picked[0][:3] + (0, 0), "earlier", picked[2])
    assert _pick_finalist(h, problem, "energy", bits, ZIGZAG_CONVENTIONS, found, earlier, 1, layer) == earlier
    assert not evaluated


def test_from_nests_refuses_a_dim_twice_at_a_level():
    h = two_level(24, spatial=SPATIAL)
    problem = SMALL[0]
    mapping = copy.deepcopy(next(every_mapping(h, problem)))
    mapping["levels"][1]["temporal"] = [["K", 1], ["K", 1], *mapping["levels"][1]["temporal"]]
    with pytest.raises(MappingError, match="level 1 lists K twice; expected once per level"):
        NestBatch.from_nests([resolve(mapping, h, problem)])
