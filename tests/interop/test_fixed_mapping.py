"""Fixed-mapping files -> the neutral mapping (form C), evaluated by the multi-level cost model: Timeloop's own
eyeriss_like map.yaml, ZigZag 3.9.1's per-layer records (benchmarks/reference) and a ZigZag mapping YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping
from hwmap.cost.multilevel.nest import MappingError
from hwmap.interop.fixed_mapping import (
    evaluate_fixed,
    hierarchy_in_order,
    read_fixed_mapping,
    zigzag_operand_mappings,
    zigzag_record_mapping,
)
from hwmap.interop.timeloop import read_timeloop
from hwmap.interop.zigzag_hardware import read_zigzag_hardware

ROOT = Path(__file__).resolve().parents[2]
EYERISS = ROOT / "tests" / "data" / "timeloop" / "eyeriss_like"
ZIGZAG = ROOT / "tests" / "data" / "zigzag_hardware"
REFERENCE = ROOT / "benchmarks" / "reference"
BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}
# ../shared/reference/timeloop/eyeriss_like/problem.yaml: C3 M32 P112 Q112 R3 S3, stride 2
TIMELOOP_PROBLEM = LoopProblem(C=3, K=32, OY=112, OX=112, FY=3, FX=3, stride_y=2, stride_x=2)
# ZigZag's tpu_like.yaml lists sram_2MB's ports twice (a dead block PyYAML drops); the strict reader refuses it
DEAD_TPU_PORTS = ("    ports:\n      - fh: w_port_1\n        tl: r_port_1\n"
                  "      - fh: w_port_1\n        tl: r_port_1\n        fl: w_port_1\n        th: r_port_1\n")


def _timeloop():
    return read_timeloop(EYERISS / "flattened_architecture.yaml", EYERISS / "ERT.yaml",
                         constraints=EYERISS / "arch.yaml")


def test_timeloop_mapper_map_yaml_reads_as_its_loop_nest():
    mapping = read_fixed_mapping(EYERISS / "timeloop-mapper.map.yaml", _timeloop(), TIMELOOP_PROBLEM)
    # DRAM 'M2 P8' permutation MPCRSNQ (innermost first) -> outermost first P8, M2; the PE_column container's
    # spatial M8 (split 1: on X), the PE container's S3 C3 (split 0: on Y), both below shared_glb
    assert mapping == {
        "spatial": [{"level": "shared_glb", "axis": "Y", "dim": "FX", "factor": 3},
                    {"level": "shared_glb", "axis": "Y", "dim": "C", "factor": 3},
                    {"level": "shared_glb", "axis": "X", "dim": "K", "factor": 8}],
        "levels": [{"level": "DRAM", "keeps": ["weight", "input", "output"], "temporal": [["OY", 8], ["K", 2]]},
                   {"level": "shared_glb", "keeps": ["input", "output"],
                    "temporal": [["FY", 3], ["OY", 14], ["OX", 112]]},
                   {"level": "ifmap_spad", "keeps": ["input"], "temporal": []},
                   {"level": "weights_spad", "keeps": ["weight"], "temporal": []},
                   {"level": "psum_spad", "keeps": ["output"], "temporal": [["K", 2]]}]}


def test_timeloop_mapping_evaluates_to_hand_counted_accesses():
    result = evaluate_fixed(EYERISS / "timeloop-mapper.map.yaml", _timeloop(), TIMELOOP_PROBLEM, operand_bits=BITS)
    # weights (32 x 3 x 3 x 3 = 864) stay in weights_spad across OX112 and OY14, are re-read for each of DRAM's P8
    assert result.access("DRAM", "weight")["reads"] == 864 * 8
    # every output leaves once: 32 x 112 x 112; at shared_glb it is updated once per R3 iteration above psum_spad
    assert result.access("DRAM", "output")["updates"] == 32 * 112 * 112
    assert result.access("shared_glb", "output")["updates"] == 3 * 32 * 112 * 112
    # inputs: 8 tiles of 14 output rows need (14 - 1) x 2 + 3 = 29 input rows each, 225 columns, 3 channels
    assert result.access("DRAM", "input")["reads"] == 3 * 8 * 29 * 225
    assert not result.per_operand and result.energy_pj > 0


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("target: shared_glb\n    type: temporal", "target: shared_gbl\n    type: temporal",
     "shared_gbl: target: unknown level; expected one of ['DRAM', 'shared_glb'"),
    ("factors: C1 M1 R3 S1 N1 P14 Q112", "factors: C1 M1 R3 S1 N1 P7 Q112",
     "levels: OY: the factors multiply to 56, less than the layer's 112"),
    ("permutation: QPRCMSN", "permutation: QPCMSN", "shared_glb: temporal.permutation: QPCMSN lacks R (factor 3)"),
    ("factors: C1 M2 R1 S1 N1 P8 Q1", "factors: C1 M2 R1 S1 N1 Px8 Q1", "DRAM: temporal.factors: 'Px8'"),
    ("      - Inputs\n      - Outputs\n    bypass:\n      - Weights", "      - Inputs\n      - Psums\n    bypass:\n"
     "      - Weights", "shared_glb: keep: unknown dataspace 'Psums'"),
])
def test_bad_timeloop_mapping_is_one_line(tmp_path, old, new, expected):
    text = (EYERISS / "timeloop-mapper.map.yaml").read_text()
    assert old in text
    path = tmp_path / "bad.map.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(MappingError) as info:
        evaluate_fixed(path, _timeloop(), TIMELOOP_PROBLEM, operand_bits=BITS)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))
    assert expected in str(info.value)


def _tpu_like(tmp_path):
    text = (ZIGZAG / "tpu_like.yaml").read_text()
    (tmp_path / "tpu_like.yaml").write_text(text.replace(DEAD_TPU_PORTS, ""))
    return read_zigzag_hardware(tmp_path / "tpu_like.yaml")


def _record(hardware: str, name: str) -> dict:
    layers = json.loads((REFERENCE / f"zigzag_resnet50_{hardware}.json").read_text())["layers"]
    return next(r for r in layers if r["name"] == name)


def test_zigzag_record_is_one_nest_with_zigzags_accesses(tmp_path):
    h = _tpu_like(tmp_path)
    record = _record("tpu_like", "layer1.0.conv1_convolution_5")
    problem = LoopProblem(K=64, C=64, OY=56, OX=56)
    mapping = zigzag_record_mapping(record, h, source="tpu_like")
    # ZigZag: O's rf_2B holds C2, W's rf_128B all six loops, I's sram_2MB all: the levels ordered by what they hold
    assert mapping == {
        "spatial": [{"level": "sram_2MB", "axis": "D1", "dim": "K", "factor": 32},
                    {"level": "sram_2MB", "axis": "D2", "dim": "C", "factor": 32}],
        "levels": [{"level": "dram", "keeps": ["input", "weight", "output"], "temporal": []},
                   {"level": "sram_2MB", "keeps": ["input", "output"], "temporal": []},
                   {"level": "rf_128B", "keeps": ["weight"],
                    "temporal": [["K", 2], ["OX", 7], ["OX", 8], ["OY", 7], ["OY", 8]]},
                   {"level": "rf_2B", "keeps": ["output"], "temporal": [["C", 2]]}]}
    result = evaluate_fixed(REFERENCE / "zigzag_resnet50_tpu_like.json", h, problem, operand_bits=BITS)
    zigzag = {(op, row["level"]): row["elements"] for op, rows in record["accesses"].items() for row in rows}
    # ZigZag's directions: rd_out_to_low, wr_in_by_low (updates), rd_out_to_high, wr_in_by_high (writes)
    for op, operand, level in (("I", "input", "dram"), ("W", "weight", "dram"), ("I", "input", "sram_2MB"),
                               ("O", "output", "sram_2MB"), ("W", "weight", "rf_128B"), ("O", "output", "dram")):
        low, updates, high, writes = zigzag[(op, level)]
        ours = result.access(level, operand)
        assert (ours["reads"], ours["writes"], ours["updates"]) == (low + high, writes, updates), (level, operand)


def test_zigzag_allocation_without_one_nest_is_evaluated_per_operand():
    h = read_zigzag_hardware(ZIGZAG / "eyeriss_like.yaml")
    record = _record("eyeriss_like", "conv1_convolution_0")
    # O's sram_8KB (one for the array) holds OX16, inside W's per-PE rf_64B_W: no single nest has both
    with pytest.raises(MappingError, match="spatial_mapping.D1: ZigZag's allocation puts a level with one instance"):
        zigzag_record_mapping(record, h, source="eyeriss")
    per_operand = zigzag_operand_mappings(record, h, source="eyeriss")
    sub, mapping = per_operand["weight"]
    assert [lv.name for lv in sub.levels] == ["dram", "sram_64KB", "rf_64B_W"]
    assert mapping["levels"][1]["temporal"] == [["K", 5]]
    problem = LoopProblem(K=64, C=3, OY=112, OX=112, FY=7, FX=7, stride_y=2, stride_x=2)
    result = evaluate_fixed(REFERENCE / "zigzag_resnet50_eyeriss_like.json", h, problem, operand_bits=BITS)
    assert result.per_operand
    # ZigZag's elements: W dram reads 9408 = 64 x 3 x 7 x 7, written once into sram_64KB and rf_64B_W; outputs
    # leave DRAM-ward once (802816 = 64 x 112 x 112)
    assert result.access("dram", "weight")["reads"] == 9408
    assert result.access("rf_64B_W", "weight")["writes"] == 9408
    assert result.access("dram", "output")["updates"] == 802816
    assert result.access("sram_8KB", "output")["reads"] == 802816


def test_hierarchy_in_order_keeps_every_operands_chain():
    h = read_zigzag_hardware(ZIGZAG / "eyeriss_like.yaml")
    names = [lv.name for lv in h.levels]
    swapped = names[:4] + ["rf_64B_W", "rf_16B", "rf_64B_A"]  # parallel per-PE levels of different operands
    assert [lv.name for lv in hierarchy_in_order(h, swapped).levels] == swapped
    with pytest.raises(MappingError, match="outputs would meet"):
        hierarchy_in_order(h, ["dram", "sram_8KB", "sram_1M", *names[2:3], *names[4:]])


def test_zigzag_mapping_yaml_is_allocated_innermost_level_first(tmp_path):
    h = read_zigzag_hardware(ZIGZAG / "eyeriss_like.yaml")
    path = tmp_path / "mapping.yaml"
    path.write_text("- name: default\n  spatial_mapping:\n    D1: ['K, 8']\n    D2: ['C, 4']\n"
                    "  temporal_ordering: [[FX, 3], [FY, 3], [OX, 4], [OY, 4], [C, 2], [K, 2]]\n")
    problem = LoopProblem(K=16, C=8, OY=4, OX=4, FY=3, FX=3)
    mapping = read_fixed_mapping(path, h, problem)
    temporal = {level["level"]: level["temporal"] for level in mapping["levels"]}
    # rf_64B_A (64 B of 8-bit inputs per PE) holds FX3 FY3 OX4 OY4: a 6 x 6 window, 36 B; with C2 it needs 72
    assert temporal["rf_64B_A"] == [["OY", 4], ["OX", 4], ["FY", 3], ["FX", 3]]
    assert sum(len(loops) for loops in temporal.values()) == 6
    assert {(s["axis"], s["dim"], s["factor"]) for s in mapping["spatial"]} == {("D1", "K", 8), ("D2", "C", 4)}
    result = evaluate_mapping(hierarchy_in_order(h, list(temporal)), problem, mapping, operand_bits=BITS,
                              strict=False)
    assert result.access("dram", "weight").reads == 16 * 8 * 3 * 3  # every weight fetched once


def test_zigzag_records_without_the_layer_name_it(tmp_path):
    with pytest.raises(MappingError, match=r"layers: no record with loop_dims K7 C7 OY7 \(layer odd\)"):
        evaluate_fixed(REFERENCE / "zigzag_resnet50_tpu_like.json", _tpu_like(tmp_path),
                       LoopProblem(K=7, C=7, OY=7, name="odd"), operand_bits=BITS)


def test_zigzag_record_is_found_by_layer_name_before_shape(tmp_path):
    # layer4.0.conv2 (stride 2) and layer4.1.conv2 (stride 1) share loop_dims K512 C512 OY7 OX7 FY3 FX3; ZigZag
    # chose different mappings for them
    h = _tpu_like(tmp_path)
    problem = LoopProblem(K=512, C=512, OY=7, OX=7, FY=3, FX=3, name="layer4.1.conv2:convolution#203")
    second = _record("tpu_like", "layer4.1.conv2_convolution_203")
    assert read_fixed_mapping(REFERENCE / "zigzag_resnet50_tpu_like.json", h, problem) == zigzag_record_mapping(
        second, h, source="x")
    first = _record("tpu_like", "layer4.0.conv2_convolution_187")
    unnamed = LoopProblem(K=512, C=512, OY=7, OX=7, FY=3, FX=3, name="other")
    assert read_fixed_mapping(REFERENCE / "zigzag_resnet50_tpu_like.json", h, unnamed) == zigzag_record_mapping(
        first, h, source="x")
