"""The neutral hierarchy description: today's templates in it (equal to cost/memory.py) and its semantic checks."""

from __future__ import annotations

import math

import pytest

from hwmap.cost.hierarchy_view import hierarchy_of
from hwmap.cost.memory import memory_hierarchy
from hwmap.errors import TemplateError
from hwmap.hardware.catalog import list_accelerators
from hwmap.hardware.hierarchy import build_hierarchy
from hwmap.hardware.loader import load_accelerator

CNN_TEMPLATES = [n for n in list_accelerators() if n.startswith(("systolic", "magnet"))]


def test_every_cnn_template_is_covered():
    assert len(CNN_TEMPLATES) >= 8  # 5 systolic + 3 magnet today


@pytest.mark.parametrize("name", CNN_TEMPLATES)
def test_hierarchy_of_equals_memory_py(name):
    accel = load_accelerator(name)
    memory = memory_hierarchy(accel)
    h = hierarchy_of(accel)
    assert [lv.name for lv in h.levels] == [lv.name for lv in memory.levels]
    for ours, theirs in zip(h.levels, memory.levels, strict=True):
        assert ours.keeps == theirs.operands
        assert ours.read_pj_per_byte == theirs.read_pj_per_byte
        assert ours.write_pj_per_byte == theirs.write_pj_per_byte
        assert ours.usable_bytes == theirs.usable_bytes
        assert ours.instances == theirs.instances
        assert (ours.capacity_bytes or math.inf) == theirs.size_bytes
        assert ours.read_bandwidth_bytes_per_cycle == theirs.bw_bytes_per_cycle
    assert h.compute.mac_energy_pj == accel.spec.mac_energy_pj


def test_systolic16x16_values():
    h = hierarchy_of(load_accelerator("systolic16x16"))
    # accelerators/systolic16x16.yaml: 64 KiB SRAMs at 3.449 pJ/B, DRAM 162.5 pJ/B; a 16 x 16 weight-stationary array
    assert h.level("ifmap").capacity_bytes == 65536
    assert h.level("filter").energy.read_pj == 3.449
    assert h.level("dram").energy.read_pj == 162.5
    assert h.compute.mesh == (16, 16)
    assert [(u.axis, u.dims, u.fixed) for u in h.spatial] == [("rows", ("C",), True), ("cols", ("K",), True)]


def test_vector_pe_fanout():
    h = hierarchy_of(load_accelerator("magnet16pe_v16"))
    assert h.level("global").multiple_buffering == 2.0
    assert h.level("global").usable_bytes == 65536  # 128 KiB double-buffered
    assert h.fanout("global", "weight") == (16, 1, 1)
    assert h.fanout("pe.weight", "weight") == (1, 16, 16)


def _data(**changes):
    levels = [
        {"name": "dram", "keeps": ("input", "weight", "output"), "word_bits": 8, "access_width_bits": 64,
         "energy": {"read_pj": 512.0, "write_pj": 512.0, "update_pj": 512.0}, "mesh": (1, 1)},
        {"name": "glb", "keeps": ("input", "weight", "output"), "capacity_bytes": 1024.0, "word_bits": 8,
         "access_width_bits": 64, "energy": {"read_pj": 18.0, "write_pj": 14.0, "update_pj": 14.0}, "mesh": (1, 1)},
    ]
    for key, value in changes.items():
        levels[1][key] = value
    return {"name": "t", "array_axes": ("X", "Y"), "levels": levels,
            "compute": {"name": "mac", "mac_energy_pj": 0.2, "mesh": (4, 2)}}


def test_valid_description_builds():
    h = build_hierarchy(_data(), source="t.yaml")
    assert h.fanout("glb", "input") == (4, 2)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"keeps": (), "bypasses": ("input", "weight", "output")}, "t.yaml: glb: keeps: the level keeps no operand"),
    ({"mesh": (3, 1)}, "t.yaml: mac: mesh: 4 instances along X is not a whole fanout of the 3 of glb"),
    ({"capacity_bytes": 0.0}, "t.yaml: glb: capacity_bytes: 0 bytes; expected a capacity > 0"),
    ({"energy": {"read_pj": -1.0, "write_pj": 1.0, "update_pj": 1.0}},
     "t.yaml: glb: energy.read_pj: -1 is a negative energy"),
    ({"name": "dram"}, "t.yaml: dram: name: appears twice: a cycle in the hierarchy"),
    ({"keeps": ("inputs",)}, "t.yaml: glb: keeps: unknown operand 'inputs'; expected input / weight / output"),
    ({"capacity_bytes": None}, "t.yaml: glb: capacity_bytes: missing"),
    ({"energy": {"read_pj": "x", "write_pj": 1.0, "update_pj": 1.0}}, "t.yaml: levels[glb].energy.read_pj: "),
])
def test_bad_descriptions_one_line(changes, expected):
    with pytest.raises(TemplateError) as info:
        build_hierarchy(_data(**changes), source="t.yaml")
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message
