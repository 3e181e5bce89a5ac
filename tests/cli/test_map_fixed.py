"""`hwmap map MODEL --accel T --fixed FILE` and map_layers(fixed=...): a given mapping's accesses per level and
operand and its energy, no search; bad files and conflicting options are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwmap

# ResNet-50's fc (a GEMM 1 x 2048 @ 2048 x 1000) on systolic16x16 (levels dram, ifmap, filter, ofmap; ws: C on
# the rows, K on the columns), as Timeloop writes a mapping: C16 x M16 over the array below ofmap, C128 at ifmap,
# M63 at DRAM (63 x 16 = 1008 >= 1000: 8 padded columns)
FC_MAP = """mapping:
  - {target: ofmap, type: datatype, keep: [Outputs], bypass: [Inputs, Weights]}
  - {target: filter, type: datatype, keep: [Weights], bypass: [Inputs, Outputs]}
  - {target: ifmap, type: datatype, keep: [Inputs], bypass: [Weights, Outputs]}
  - {target: dram, type: datatype, keep: [Inputs, Weights, Outputs], bypass: []}
  - {target: ofmap, type: spatial, factors: C16 M16 N1 P1 Q1 R1 S1, permutation: CMNPQRS, split: 1}
  - {target: ifmap, type: temporal, factors: C128 M1 N1 P1 Q1 R1 S1, permutation: CMNPQRS}
  - {target: dram, type: temporal, factors: C1 M63 N1 P1 Q1 R1 S1, permutation: MCNPQRS}
"""


@pytest.fixture
def fc_map(tmp_path):
    path = tmp_path / "fc.map.yaml"
    path.write_text(FC_MAP)
    return path


def test_map_fixed_reports_the_files_mapping(run_cli, fc_map):
    code, out, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(fc_map), "--layer", "fc",
                             "--json")
    assert code == 0, err
    data = json.loads(out)
    (layer,) = data["layers"]
    rows = {(a["level"], a["operand"]): a for a in layer["accesses"]}
    assert rows[("dram", "weight")]["reads"] == 2048 * 1000  # every weight once (K is the outermost loop)
    assert rows[("dram", "input")]["reads"] == 2048  # the input stays in ifmap across M63
    assert rows[("dram", "output")]["updates"] == 1000
    assert rows[("filter", "weight")]["writes"] == 2048 * 1000
    # 2,048,000 MACs reduced 16-fold over the array's rows: 128,000 partial-sum updates of ofmap
    assert rows[("ofmap", "output")]["updates"] == 2048 * 1000 / 16
    # energy: the template's 0.3 pJ per MAC, DRAM at 162.5 pJ per byte (8-bit words: 1 byte per element)
    assert layer["mac_energy_pj"] == pytest.approx(0.3 * 2048 * 1000)
    assert layer["level_energy_pj"]["dram"] == pytest.approx(162.5 * (2048 * 1000 + 2048 + 1000 * 32 / 8))
    code, table, _ = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(fc_map), "--layer", "fc")
    assert code == 0 and "2,048,000" in table and "over 1 layers" in table


def test_api_returns_the_same(fc_map):
    result = hwmap.map_layers("resnet50", "systolic16x16", fixed=fc_map, layer="fc")
    assert result.names == ("fc:addmm#228",)
    assert result.results[0].access("dram", "weight")["reads"] == 2048 * 1000


@pytest.mark.parametrize(("edit", "expected"), [
    (("target: ifmap, type: temporal", "target: ifmapp, type: temporal"),
     "ifmapp: target: unknown level; expected one of ['dram', 'ifmap', 'filter', 'ofmap']"),
    (("C128 M1", "C64 M1"), "levels: C: the factors multiply to 1024, less than the layer's 2048"),
    (("permutation: CMNPQRS, split: 1", "permutation: CNPQRS, split: 1"),
     "ofmap: spatial.permutation: CNPQRS lacks M (factor 16)"),
])
def test_bad_fixed_file_is_one_line(run_cli, tmp_path, edit, expected):
    path = tmp_path / "bad.map.yaml"
    path.write_text(FC_MAP.replace(*edit))
    code, out, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(path), "--layer", "fc")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{path}: {expected}" in err and "(layer fc:addmm#228" in err


def test_fixed_mapping_that_does_not_cover_a_layer_names_it(run_cli, fc_map):
    code, _, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(fc_map), "--layer",
                           "layer1.0.conv1")
    assert code == 2 and "OY: the factors multiply to 1, less than the layer's 56" in err
    assert "layer1.0.conv1:convolution#5; choose layers with --layer" in err


def test_fixed_and_a_search_option_conflict(run_cli, fc_map):
    code, _, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(fc_map), "--objective",
                           "latency")
    assert code == 2 and err.count("\n") == 1 and "--objective is for the mapper's search" in err


def test_missing_fixed_file_is_one_line(run_cli, tmp_path):
    code, _, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--fixed", str(tmp_path / "none.yaml"))
    assert code == 2 and err.count("\n") == 1 and "none.yaml" in err


def test_zigzag_records_on_the_shipped_tpu_like(run_cli):
    """ZigZag LOMA's mapping of layer1.0.conv1 on its tpu_like, evaluated on hwmap's tpu_like template (imported
    from the same file): the DRAM and SRAM counts equal ZigZag's (benchmarks/reference/zigzag_resnet50_tpu_like)."""
    reference = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "zigzag_resnet50_tpu_like.json"
    code, out, err = run_cli("map", "resnet50", "-a", "tpu_like", "--fixed", str(reference), "--layer",
                             "layer1.0.conv1", "--json")
    assert code == 0, err
    rows = {(a["level"], a["operand"]): a for a in json.loads(out)["layers"][0]["accesses"]}
    assert rows[("dram", "input")]["reads"] == 200704 and rows[("dram", "weight")]["reads"] == 4096
    assert rows[("dram", "output")]["updates"] == 200704
    assert (rows[("sram_2MB", "input")]["reads"], rows[("sram_2MB", "input")]["writes"]) == (401408, 200704)
