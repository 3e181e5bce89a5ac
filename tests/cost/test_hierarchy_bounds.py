"""Traffic-vs-capacity curves of every level of hierarchy templates (hwmap.cost.hierarchy_bounds): the curves
against brute force over their mapping space, the evaluator and the multi-level mapper, and on the command line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hwmap.cost.bounds import front
from hwmap.cost.hierarchy_bounds import (
    bounded_levels,
    hierarchy_traffic_bounds,
    layer_curve,
    mapped_boundary_bytes,
    space_mappings,
)
from hwmap.cost.hierarchy_kind import _bits as mapper_bits
from hwmap.cost.hierarchy_kind import hardware_view
from hwmap.cost.multilevel import LoopProblem, evaluate_mapping, map_problem
from hwmap.cost.multilevel.nest import resolve
from hwmap.errors import TemplateError
from hwmap.hardware.hierarchy import build_hierarchy
from hwmap.hardware.kinds import register_kind
from tests.conftest import traced

TEMPLATES = ("eyeriss_like", "simba_like", "tpu_like", "edge_tpu_like")
SMALL = (
    # a padded, strided 3 x 3 conv (halo, padding, partial spatial folds) and a GEMM
    LoopProblem(K=4, C=3, OY=3, OX=2, FY=3, FX=2, stride_y=2, padding_y=(1, 0), name="conv"),
    LoopProblem.gemm(6, 5, 7, name="gemm"),
)


def _template(name):
    from hwmap.api import load_accelerator

    accel = load_accelerator(name)
    return accel, hardware_view(accel), mapper_bits(accel.spec)


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("problem", SMALL, ids=lambda p: p.name)
def test_curve_is_the_pareto_front_of_every_mapping_of_its_space(name, problem):
    """Brute force: every mapping of the space evaluated by the multi-level evaluator (tile bytes and the
    boundary's traffic read from its accesses); its Pareto front is the curve, step for step."""
    _, h, bits = _template(name)
    mapped = map_problem(h, problem, operand_bits=bits)
    nest = resolve(mapped.mapping, h, mapped.problem)
    for level in bounded_levels(h):
        lv = h.levels[level]
        curve = layer_curve(h, mapped.problem, nest, level, bits)
        capacity, traffic = [], []
        for mapping in space_mappings(h, mapped.problem, nest, level):
            result = evaluate_mapping(h, mapped.problem, mapping, operand_bits=bits, strict=False)
            capacity.append(result.tile_bytes[lv.name] * lv.multiple_buffering)
            traffic.append(mapped_boundary_bytes(h, mapped.problem, resolve(mapping, h, mapped.problem), result,
                                                 level, bits))
        c, t = front(np.array(capacity), np.array(traffic))
        assert len(c) == len(curve.capacity_bytes) > 0, lv.name
        np.testing.assert_allclose(curve.capacity_bytes, c, rtol=1e-12)
        np.testing.assert_allclose(curve.traffic_bytes, t, rtol=1e-12)
        assert curve.floor_bytes == pytest.approx(min(traffic), rel=1e-12)


def test_chunked_fronts_merge_to_the_whole_front(monkeypatch):
    """Large layers are swept in chunks of candidates; the merged front is the front of the whole space."""
    import hwmap.cost.hierarchy_bounds as hb

    _, h, bits = _template("eyeriss_like")
    problem = LoopProblem(K=16, C=8, OY=7, OX=7, FY=3, FX=3, padding_y=(1, 1), padding_x=(1, 1), name="conv")
    mapped = map_problem(h, problem, operand_bits=bits)
    nest = resolve(mapped.mapping, h, mapped.problem)
    steps = {}
    for level in bounded_levels(h):
        whole = layer_curve(h, mapped.problem, nest, level, bits)
        monkeypatch.setattr(hb, "CHUNK", 37)
        chunked = layer_curve(h, mapped.problem, nest, level, bits)
        monkeypatch.undo()
        assert chunked.points() == whole.points() and chunked.compulsory_bytes == whole.compulsory_bytes
        steps[level] = len(whole.capacity_bytes)
    # the global buffer's front has many steps (a scratchpad keeping one operand may reach compulsory at once)
    assert max(steps.values()) > 5, steps


def _one_buffer(capacity_bytes: float):
    """DRAM and one buffer keeping every operand over a single MAC, equal word widths, no leakage: the energy is a
    constant plus 101 pJ per byte of DRAM traffic, so the mapper's optimum minimises that traffic."""
    energy = {"read_pj": 100.0, "write_pj": 100.0, "update_pj": 100.0}
    return build_hierarchy({
        "name": "one_buffer", "array_axes": ["X"],
        "levels": [
            {"name": "DRAM", "keeps": ["input", "weight", "output"], "word_bits": 8, "access_width_bits": 8,
             "energy": energy, "mesh": [1]},
            {"name": "buf", "keeps": ["input", "weight", "output"], "capacity_bytes": capacity_bytes,
             "word_bits": 8, "access_width_bits": 8,
             "energy": {"read_pj": 1.0, "write_pj": 1.0, "update_pj": 1.0}, "mesh": [1]},
        ],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [1]},
    }, source="test")


@pytest.mark.parametrize("problem", [
    LoopProblem(K=6, C=4, OY=5, OX=4, FY=3, FX=3, padding_y=(1, 1), padding_x=(1, 1), name="conv"),
    LoopProblem.gemm(12, 10, 9, name="gemm"),
], ids=lambda p: p.name)
def test_curve_equals_the_exhaustive_mappers_traffic_where_energy_is_traffic(problem):
    """On a one-buffer hierarchy whose energy is its DRAM traffic the mapper's space is the curve's, so the
    exhaustive mapper's DRAM traffic is the curve's value at every capacity tried."""
    bits = {"input": 8, "weight": 8, "output": 8, "psum": 8}
    curve = None
    for capacity in (40.0, 90.0, 200.0, 700.0, 4000.0):
        h = _one_buffer(capacity)
        mapped = map_problem(h, problem, operand_bits=bits, shortlist=None, beam=10**6, per_dim=10**6,
                             first_level_cap=10**9)
        assert mapped.exhaustive
        nest = resolve(mapped.mapping, h, mapped.problem)
        curve = curve or layer_curve(h, mapped.problem, nest, 1, bits)
        dram = sum(a.read_words + a.write_words + a.update_words for a in mapped.result.accesses
                   if a.level == "DRAM")
        assert mapped_boundary_bytes(h, mapped.problem, nest, mapped.result, 1, bits) == pytest.approx(dram)
        assert curve.at(capacity) == pytest.approx(dram, rel=1e-12), capacity
    assert curve.floor_bytes == curve.compulsory_bytes == problem.elements("input") + problem.elements(
        "weight") + problem.elements("output")


@pytest.fixture(scope="module")
def costs():
    from hwmap.api import estimate, load_accelerator

    out = {}
    for model in ("resnet18", "mobilenetv3_small_050"):  # the second: depthwise convs (G > 1), strided 1 x 1
        graph = traced(model)
        for name in TEMPLATES:
            out[model, name] = (estimate(graph, load_accelerator(name), cache=False), load_accelerator(name))
    return out


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize(("model", "layers"), [("resnet18", 21), ("mobilenetv3_small_050", 54)])
def test_every_level_bounds_the_mapper_and_falls_to_the_compulsory_traffic(costs, name, model, layers):
    cost, accel = costs[model, name]
    h, bits = hardware_view(accel), mapper_bits(accel.spec)
    levels = [h.levels[i].name for i in bounded_levels(h)]
    bounds = hierarchy_traffic_bounds(cost, accel, levels=levels)
    assert [lb.level for lb in bounds.levels] == levels
    for lb in bounds.levels:
        assert len(lb.layers) == layers  # every conv and linear layer
        for lc in (*lb.layers, type(lb.layers[0])("network", "", lb.network, lb.mapped_bytes)):
            c = lc.curve
            assert np.all(np.diff(c.capacity_bytes) > 0) and np.all(np.diff(c.traffic_bytes) < 0)
            assert c.floor_bytes == pytest.approx(c.compulsory_bytes, rel=1e-12)
            assert c.compulsory_capacity_bytes is not None
            assert c.at(lb.template_capacity_bytes) <= lc.mapped_bytes * (1 + 1e-12), (lb.level, lc.layer)
    # Right below DRAM, with no unrolling above the level, the compulsory traffic is each operand the level keeps
    # moved once: the input with its padded extent, outputs at the output width.
    top = bounds.levels[0]
    assert top.above == h.levels[0].name
    nodes = {n.name: n for n in traced(model).nodes}
    keeps = h.levels[1].keeps
    width = {"input": bits["input"], "weight": bits["weight"], "output": bits["output"]}
    for lc in top.layers:
        mapped = cost.layers.mappings[cost.layers.names.index(lc.layer)]
        problem = mapped.problem
        assert lc.curve.compulsory_bytes == sum(problem.elements(op) * width[op] / 8 for op in keeps)
        assert problem.macs == nodes[lc.layer].work.macs


@pytest.mark.parametrize(("name", "dram_children"), [("tpu_like", ("sram_2MB", "rf_128B")),
                                                     ("edge_tpu_like", ("sram_2MB", "sram_32KB"))])
def test_the_dram_facing_levels_traffic_adds_up_to_hwmap_maps_dram_bytes(costs, name, dram_children):
    """Where every operand's first level below DRAM is fixed by the template, those levels' mapped traffic
    partitions the DRAM traffic the estimate reports, layer by layer."""
    cost, accel = costs["mobilenetv3_small_050", name]
    bounds = hierarchy_traffic_bounds(cost, accel, levels=list(dram_children))
    for i, layer in enumerate(bounds.levels[0].layers):
        row = cost.layers.names.index(layer.layer)
        total = sum(lb.layers[i].mapped_bytes for lb in bounds.levels)
        assert total == pytest.approx(float(cost.layers.dram_bytes[row]), rel=1e-12)


def test_unknown_bounds_route_is_refused():
    with pytest.raises(TemplateError, match="bounds 'maybe'"):
        register_kind("bogus_bounds_kind", schema="a:B", cost=None, bounds="maybe")


# ------------------------------------------------------------------------------------------------ command line


def test_bounds_on_a_hierarchy_json_csv_table(run_cli, resnet18_graph_file, tmp_path):
    code, out, err = run_cli("bounds", resnet18_graph_file, "--accel", "eyeriss_like", "--json")
    assert code == 0, err
    data = json.loads(out)
    [glb] = data["levels"]  # default: the level right below DRAM
    assert glb["level"] == "shared_glb" and glb["above"] == "DRAM" and glb["template_capacity_bytes"] == 131072
    assert glb["at_template_bytes"] <= glb["mapped_bytes"]
    out_csv = tmp_path / "spad.csv"
    code, out, err = run_cli("bounds", resnet18_graph_file, "--accel", "eyeriss_like", "--level", "ifmap_spad", "--csv",
                             str(out_csv))
    assert code == 0, err
    assert "ifmap_spad" in out and "24 B" in out
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["level"] for r in rows} == {"ifmap_spad"} and {r["template_capacity_bytes"] for r in rows} == {"24.0"}
    assert sum(r["layer"] == "network" for r in rows) > 10


@pytest.mark.parametrize(("args", "message"), [
    (("--level", "DRAM"), "--level 'DRAM' is not a level the mapper handles on eyeriss_like (levels: shared_glb, "
                          "ifmap_spad, weights_spad, psum_spad)"),
    (("--layer", "nope*"), "--layer 'nope*' matches no conv/GEMM layer"),
])
def test_hierarchy_bounds_errors_are_one_line(run_cli, resnet18_graph_file, args, message):
    code, out, err = run_cli("bounds", resnet18_graph_file, "--accel", "eyeriss_like", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""
