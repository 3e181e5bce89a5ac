"""ZigZag 3.9.1 hardware YAML reader/writer on ZigZag's own example files (tests/data/zigzag_hardware)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hwmap.errors import TemplateError
from hwmap.interop.zigzag_hardware import read_zigzag_hardware, write_zigzag_hardware_files

DATA = Path(__file__).resolve().parents[1] / "data" / "zigzag_hardware"


def test_eyeriss_like_values():
    h = read_zigzag_hardware(DATA / "eyeriss_like.yaml", mapping=DATA / "default.mapping.yaml")
    assert [lv.name for lv in h.levels] == ["dram", "sram_1M", "sram_64KB", "sram_8KB", "rf_16B", "rf_64B_W",
                                            "rf_64B_A"]
    # eyeriss_like.yaml: sram_1M size 8388608 bits, r_cost 100, w_cost 130, 384-bit rw port, operands [I1, O]
    sram = h.level("sram_1M")
    assert sram.capacity_bytes == 8388608 / 8
    assert (sram.energy.read_pj, sram.energy.write_pj, sram.energy.update_pj) == (100, 130, 130)
    assert sram.access_width_bits == 384 and sram.read_bandwidth_bytes_per_cycle == 48.0
    assert (sram.keeps, sram.bypasses) == (("input", "output"), ("weight",))
    rf = h.level("rf_16B")  # size 128 bits, r_cost 1.5, w_cost 2.0, 24-bit ports, served_dimensions []
    assert (rf.capacity_bytes, rf.energy.read_pj, rf.energy.write_pj, rf.word_bits) == (16.0, 1.5, 2.0, 24)
    assert rf.mesh == (14, 12)
    assert h.level("dram").energy.read_pj == 1000
    assert (h.compute.mac_energy_pj, h.compute.mesh) == (0.5, (14, 12))
    # default.yaml: D1 K 32, D2 C 32, clamped to the 14 x 12 array as ZigZag unrolls them
    assert [(u.axis, u.factors) for u in h.spatial] == [("D1", {"K": 14}), ("D2", {"C": 12})]


def test_edge_tpu_like_per_operand_fanout():
    h = read_zigzag_hardware(DATA / "edge_tpu_like.yaml", mapping=DATA / "edge_tpu_like.mapping.yaml")
    # rf_1B (weights) serves D3, D4: one per (D1, D2) position; rf_2B (outputs) serves D2
    assert h.level("rf_1B").mesh == (8, 8, 1, 1)
    assert h.level("rf_2B").mesh == (8, 1, 4, 4)
    assert h.fanout("sram_32KB", "weight") == (8, 8, 1, 1)
    assert h.fanout("rf_1B", "weight") == (1, 1, 4, 4)
    assert h.fanout("rf_2B", "output") == (1, 8, 1, 1)
    assert [(u.axis, u.factors) for u in h.spatial] == [("D1", {"K": 8}), ("D2", {"C": 8}), ("D3", {"OX": 4}),
                                                        ("D4", {"OY": 4})]


@pytest.mark.parametrize(("hardware", "mapping"), [("eyeriss_like", "default"), ("edge_tpu_like", "edge_tpu_like")])
def test_round_trip(tmp_path, hardware, mapping):
    h = read_zigzag_hardware(DATA / f"{hardware}.yaml", mapping=DATA / f"{mapping}.mapping.yaml")
    hw_path, map_path = write_zigzag_hardware_files(h, tmp_path)
    assert read_zigzag_hardware(hw_path, mapping=map_path) == h


def test_zigzag_own_tpu_like_has_a_duplicate_key():
    # ZigZag's tpu_like.yaml lists sram_2MB's ports twice (PyYAML keeps the last); the strict loader refuses it
    with pytest.raises(TemplateError, match=r"tpu_like.yaml: memories.sram_2MB.ports: duplicate key \(line 74"):
        read_zigzag_hardware(DATA / "tpu_like.yaml")


_DEAD_TPU_PORTS = ("    ports:\n      - fh: w_port_1\n        tl: r_port_1\n"
                   "      - fh: w_port_1\n        tl: r_port_1\n        fl: w_port_1\n        th: r_port_1\n")


def test_tpu_like_without_the_dead_ports_block(tmp_path):
    text = (DATA / "tpu_like.yaml").read_text()
    assert _DEAD_TPU_PORTS in text
    (tmp_path / "tpu_like.yaml").write_text(text.replace(_DEAD_TPU_PORTS, ""))
    h = read_zigzag_hardware(tmp_path / "tpu_like.yaml")
    assert h.level("sram_2MB").access_width_bits == 2048
    assert h.compute.systolic_axes == ("D1", "D2")


def _ascend_dram_serving_all() -> str:
    text = (DATA / "ascend_like.yaml").read_text()
    head, dram = text.split("  dram:", 1)
    assert "served_dimensions: [D1, D2]\n" in dram
    return head + "  dram:" + dram.replace("served_dimensions: [D1, D2]\n", "served_dimensions: [D1, D2, D3, D4]\n", 1)


def test_ascend_like_dram_serving_part_of_the_array_is_refused():
    # ascend_like.yaml: dram serves [D1, D2] only (2 x 2 DRAM instances) above SRAMs serving the whole array
    with pytest.raises(TemplateError, match="ascend_like.yaml: sram_1MB_A: mesh: 1 instances along D3 is not a whole"):
        read_zigzag_hardware(DATA / "ascend_like.yaml")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (DATA / "eyeriss_like.yaml").read_text()
    assert old in text
    path = tmp_path / "eyeriss_like.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("operands: [I1]", "operands: [I3]", "rf_64B_A: operands: unknown operand 'I3'"),
    ("operands: [I1]", "operands: []", "rf_64B_A: keeps: the level keeps no operand"),
    ("size: 512", "size: 0", "rf_64B_A: capacity_bytes: 0 bytes; expected a capacity > 0"),
    ("r_cost: 10.0", "r_cost: -10.0", "sram_8KB: energy.read_pj: -10 is a negative energy"),
    ("latency: 1", "latency: 3", "rf_64B_A: latency: 3; access latencies other than 1 cycle are not modelled"),
    ("served_dimensions: [D1, D2]\n\n  dram", "served_dimensions: []\n\n  dram",
     "sram_8KB: mesh: 1 instances along D1 is not a whole fanout of the 14 of sram_1M, the level above it for "
     "outputs"),
    ("  unit_energy: 0.5", "  imc_type: analog\n  unit_energy: 0.5", "operational_array: imc_type: not supported"),
    ("    area: 0.3", "    auto_cost_extraction: True\n    area: 0.3", "auto_cost_extraction: not supported"),
])
def test_bad_files_one_line(tmp_path, old, new, expected):
    path = _edited(tmp_path, old, new)
    with pytest.raises(TemplateError) as info:
        read_zigzag_hardware(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def _paths(node, prefix=()):
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def test_any_malformed_value_is_one_clean_error(tmp_path):
    """Fields of eyeriss_like.yaml replaced by a wrong-typed or negative value: a TemplateError on one line or
    a valid description, never another exception."""
    import yaml

    original = yaml.safe_load((DATA / "eyeriss_like.yaml").read_text())
    path = tmp_path / "eyeriss_like.yaml"
    failures = []
    # a register (rf_16B, two ports each way), a shared SRAM, DRAM, the array and the structure: every field kind
    sampled = [p for p in _paths(original) if len(p) < 2 or p[1] in ("rf_16B", "sram_1M", "unit_energy", "sizes")]
    for where in sampled:
        for value in ("abc", None, -1, [], 0.5):
            document = yaml.safe_load(yaml.safe_dump(original))
            node = document
            for key in where[:-1]:
                node = node[key]
            node[where[-1]] = value
            path.write_text(yaml.safe_dump(document))
            try:
                read_zigzag_hardware(path, mapping=DATA / "default.mapping.yaml")
            except TemplateError as exc:
                if "\n" in str(exc):
                    failures.append((where, value, "multi-line"))
            except Exception as exc:  # noqa: BLE001 - the test collects what escaped
                failures.append((where, value, type(exc).__name__))
    assert failures == []


REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "reference"


@pytest.mark.parametrize("hardware", ["eyeriss_like", "edge_tpu_like", "tpu_like", "tesla_npu_like", "meta_prototype",
                                      "ascend_like"])
def test_energies_price_zigzag_accesses_as_zigzag_does(hardware, tmp_path):
    """ZigZag's own LOMA results (benchmarks/zigzag_reference.py): per layer, operand and level, the word accesses
    priced with the read/write/update energies read here equal ZigZag's energy for that level (tpu_like: read
    without its dead first ports block, as PyYAML reads it for ZigZag; ascend_like with its DRAM serving the whole
    array, which ZigZag costs identically: same accesses, energy and latency on conv1, layer1.0.conv2,
    layer3.0.conv2 and fc, measured with benchmarks/zigzag_reference.py's worker)."""
    import json

    path = DATA / f"{hardware}.yaml"
    if hardware == "tpu_like":
        path = tmp_path / "tpu_like.yaml"
        path.write_text((DATA / "tpu_like.yaml").read_text().replace(_DEAD_TPU_PORTS, ""))
    if hardware == "ascend_like":
        path = tmp_path / "ascend_like.yaml"
        path.write_text(_ascend_dram_serving_all())
    h = read_zigzag_hardware(path)
    reference = json.loads((REFERENCE / f"zigzag_resnet50_{hardware}.json").read_text())
    columns = reference["header"]["access_columns"]
    checked = 0
    for layer in reference["layers"]:
        for operand, levels in layer["accesses"].items():
            for entry in levels:
                words = dict(zip(columns, entry["words"], strict=True))
                energy = h.level(entry["level"]).energy
                priced = ((words["rd_out_to_low"] + words["rd_out_to_high"]) * energy.read_pj
                          + words["wr_in_by_high"] * energy.write_pj + words["wr_in_by_low"] * energy.update_pj)
                assert priced == pytest.approx(layer["energy_by_operand_level_pj"][operand][entry["level"]],
                                               rel=1e-9)
                checked += 1
        assert layer["mac_energy_pj"] == pytest.approx(
            h.compute.mac_energy_pj * math.prod(layer["loop_dims"].values()), rel=1e-12)
    assert len(reference["layers"]) == 24 and checked >= 24 * 6  # 24 distinct layers, >= 2 levels per operand
