"""kind: hierarchy: the schema (one-line errors naming file, component and field) and the cost module end to end
on a small Eyeriss-like template."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import traced

from hwmap.cost import hierarchy_kind
from hwmap.cost.multilevel import evaluate_mapping, problem_of
from hwmap.cost.result import UNIT_ARRAY
from hwmap.errors import TemplateError
from hwmap.hardware import load_accelerator

EYERISS_SMALL = """\
schema_version: 3
kind: hierarchy
description: "small Eyeriss-like test template: 4x3 PEs, per-PE scratchpads, shared global buffer"
freq_mhz: 200
operand_bits: {input: 16, weight: 16, output: 16}
static_power_mw: 10
vector_unit: {lanes: 4, op_energy_pj: 1.5}
hierarchy:
  array_axes: [X, Y]
  levels:
    - {name: DRAM, keeps: [input, weight, output], word_bits: 16, access_width_bits: 64,
       energy: {read_pj: 512.0, write_pj: 512.0, update_pj: 512.0}, mesh: [1, 1],
       read_bandwidth_bytes_per_cycle: 8, write_bandwidth_bytes_per_cycle: 8}
    - {name: glb, keeps: [input, output], bypasses: [weight], capacity_bytes: 16384, word_bits: 16,
       access_width_bits: 64, energy: {read_pj: 14.1, write_pj: 14.1, update_pj: 14.1}, mesh: [1, 1]}
    - {name: ifmap_spad, keeps: [input], bypasses: [weight, output], capacity_bytes: 24, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 0.18, write_pj: 0.18, update_pj: 0.18}, mesh: [4, 3]}
    - {name: weights_spad, keeps: [weight], bypasses: [input, output], capacity_bytes: 448, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 1.9, write_pj: 1.9, update_pj: 1.9}, mesh: [4, 3]}
    - {name: psum_spad, keeps: [output], bypasses: [input, weight], capacity_bytes: 48, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 0.22, write_pj: 0.22, update_pj: 0.22}, mesh: [4, 3]}
  compute: {name: mac, mac_energy_pj: 0.21, mesh: [4, 3]}
  spatial:
    - {axis: X, dims: [OY, K]}
    - {axis: Y, dims: [FY, C, K]}
"""


@pytest.fixture
def eyeriss(tmp_path):
    path = tmp_path / "eyeriss_small.yaml"
    path.write_text(EYERISS_SMALL)
    return load_accelerator(path)


def test_schema_and_view(eyeriss):
    assert eyeriss.kind == "hierarchy" and eyeriss.peak_macs_per_cycle == 12
    h = hierarchy_kind.hardware_view(eyeriss)
    assert [lv.name for lv in h.levels] == ["DRAM", "glb", "ifmap_spad", "weights_spad", "psum_spad"]
    assert h.fanout("glb", "input") == (4, 3)
    assert [u.dims for u in hierarchy_kind.spatial_space(eyeriss, None)] == [("OY", "K"), ("FY", "C", "K")]
    assert eyeriss.spec.dram.bw_bytes_per_cycle == 8 and eyeriss.spec.dram.energy_pj_per_byte == 64.0


@pytest.mark.parametrize(("edit", "message"), [
    (("capacity_bytes: 16384", "capacity_bytes: 0"), r"glb: capacity_bytes: 0 bytes; expected a capacity > 0"),
    (("read_pj: 14.1,", "read_pj: -1,"), r"glb: energy\.read_pj: -1 is a negative energy"),
    (("keeps: [input, output], bypasses: [weight]", "keeps: [input, outputs], bypasses: [weight]"),
     r"levels\[glb\]\.keeps\.1|glb: keeps: unknown operand 'outputs'"),
    (("mesh: [4, 3]}\n    - {name: weights_spad", "mesh: [3, 3]}\n    - {name: weights_spad"),
     r"mesh: 4 instances along X is not a whole fanout of the 3 of ifmap_spad"),
    (("keeps: [output], bypasses: [input, weight]", "keeps: [], bypasses: [input, weight, output]"),
     r"psum_spad: keeps: the level keeps no operand"),
])
def test_bad_templates_are_one_line(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    assert edit[0] in EYERISS_SMALL
    path.write_text(EYERISS_SMALL.replace(*edit, 1))
    with pytest.raises(TemplateError, match=message) as info:
        load_accelerator(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path))


def test_estimate_end_to_end(eyeriss):
    graph = traced("resnet18", resolution=64)
    from hwmap.api import estimate

    hierarchy_kind.clear_cache()
    cost = estimate(graph, eyeriss)
    assert cost.kind == "hierarchy" and cost.settings["mapping"] == "multilevel"
    layers = cost.layers
    gemm = np.array([u == UNIT_ARRAY for u in layers.units])
    assert gemm.sum() == 21  # resnet18: 20 convs + fc
    # Every GEMM layer's cycles, energy terms and DRAM bytes are its mapping's, re-evaluated here.
    h = hierarchy_kind.hardware_view(eyeriss)
    for i in np.flatnonzero(gemm)[:4]:
        mapped = layers.mappings[i]
        again = evaluate_mapping(h, mapped.problem, mapped.mapping, operand_bits=hierarchy_kind._bits(eyeriss.spec))
        assert layers.cycles[i] == np.ceil(again.cycles - 1e-9)
        assert layers.energy_terms_pj["level.glb"][i] == pytest.approx(
            sum(v for k, v in again.level_energy_pj["glb"].items() if k != "leakage"))
        assert layers.energy_terms_pj["mac"][i] == pytest.approx(problem_of(graph.nodes[i]).macs * 0.21)
        dram = sum(a.read_words + a.write_words + a.update_words for a in again.accesses if a.level == "DRAM") * 8
        assert layers.dram_bytes[i] == np.ceil(dram - 1e-9)
        assert layers.macs[i] == again.macs
    assert set(cost.energy_terms_mj) >= {"level.DRAM", "level.glb", "level.psum_spad", "mac", "vector", "static"}
    assert all(v >= 0 for v in cost.energy_terms_mj.values())
    record = cost.to_records()[int(np.flatnonzero(gemm)[0])]
    assert record["map_mode"] == "multilevel" and record["DRAM_weight_reads"] > 0
    assert record["energy_level_glb_pj"] > 0
    json.dumps(cost.to_dict())


def test_estimate_cli_json_and_csv(eyeriss, tmp_path, run_cli):
    out_csv = tmp_path / "layers.csv"
    code, out, err = run_cli("estimate", "resnet18", "--resolution", "64", "-a", str(eyeriss.source), "--json",
                             "--csv", str(out_csv))
    assert code == 0, err
    data = json.loads(out)
    assert "level.glb" in data["energy_terms_mj"]
    header = out_csv.read_text().splitlines()[0]
    assert "energy_level_DRAM_pj" in header and "glb_input_reads" in header


def test_missing_vector_unit_is_one_line(tmp_path):
    path = tmp_path / "novu.yaml"
    path.write_text(EYERISS_SMALL.replace("vector_unit: {lanes: 4, op_energy_pj: 1.5}\n", ""))
    accel = load_accelerator(path)
    from hwmap.api import estimate

    with pytest.raises(TemplateError, match=r"novu.yaml: vector_unit: missing, but resnet18 has non-GEMM layers"):
        estimate(traced("resnet18", resolution=64), accel)


def test_map_command_shows_every_levels_loops(eyeriss, run_cli):
    code, out, err = run_cli("map", "resnet18", "--resolution", "64", "-a", str(eyeriss.source), "--layer",
                             "layer1.0.conv1")
    assert code == 0, err
    assert "loops per level" in out and "DRAM:" in out and "psum_spad:" in out
    code, out, err = run_cli("map", "resnet18", "--resolution", "64", "-a", str(eyeriss.source), "--layer",
                             "layer1.0.conv1", "--json")
    assert code == 0, err
    row = json.loads(out)["layers"][0]
    assert row["map_mode"] == "multilevel" and row["glb_input_writes"] > 0 and 0 <= row["map_gap"] < 10
