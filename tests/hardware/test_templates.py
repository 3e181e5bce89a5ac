"""Contract tests over the shipped accelerator templates: one test per template, generated from the catalog."""

from __future__ import annotations

import json
import math
import pickle
import re
import typing

import pytest
import yaml
from pydantic import BaseModel

from hwmap.errors import TemplateError
from hwmap.hardware import (
    Accelerator,
    SystolicSpec,
    VectorPESpec,
    list_accelerators,
    load_accelerator,
    registered_kinds,
    templates_root,
)
from hwmap.hardware.catalog import catalog_entries
from hwmap.hardware.schema import _unit_of

SHIPPED = list_accelerators()
SYSTOLIC = ["systolic8x8", "systolic16x16", "systolic32x32", "systolic64x64", "systolic128x128"]
MAGNET = ["magnet16pe_v8", "magnet16pe_v16", "magnet16pe_v32"]


def _raw(name: str) -> dict:
    return yaml.safe_load(catalog_entries()[name].read_text())


def test_catalog_lists_the_shipped_templates_sorted() -> None:
    assert SHIPPED == sorted(SHIPPED)
    assert set(SYSTOLIC + MAGNET) <= set(SHIPPED)
    assert len(SHIPPED) == len(set(SHIPPED))


def test_catalog_root_is_the_accelerators_folder() -> None:
    root = templates_root()
    assert root.is_dir()
    assert (root / "systolic16x16.yaml").is_file()
    assert (root / "__init__.py").is_file()  # lets the build map accelerators/ to hwmap.accelerators


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_template_loads_and_validates(name: str) -> None:
    kind = _raw(name).get("kind")
    if kind not in registered_kinds():
        # A kind whose schema is not registered yet (gpu/ before its loader lands) must say so plainly.
        with pytest.raises(TemplateError, match="not supported yet|unknown kind"):
            load_accelerator(name)
        pytest.skip(f"no schema registered for kind {kind!r}")
    acc = load_accelerator(name)
    assert acc.name == name
    assert acc.kind == kind
    assert acc.description
    assert acc.peak_macs_per_cycle >= 1
    assert str(acc).startswith(name)


@pytest.mark.parametrize("name", SYSTOLIC + MAGNET)
def test_shipped_cnn_template_properties(name: str) -> None:
    acc = load_accelerator(name)
    spec = acc.spec
    assert spec.technology.node_nm == 45
    assert spec.technology.precision == "int8"
    assert spec.operand_bits.input == spec.operand_bits.weight == 8
    assert spec.freq_mhz == 1000
    # Every shipped template carries an area proxy with a source.
    assert spec.area is not None and spec.area.source
    assert acc.area_um2 is not None and acc.area_um2 > 0
    assert acc.peak_macs_per_s == pytest.approx(acc.peak_macs_per_cycle * 1e9)
    # static_energy_pj_per_cycle = total static power (mW) * 1e3 / freq_mhz
    assert spec.static_energy_pj_per_cycle == pytest.approx(spec.total_static_power_mw * 1e3 / 1000)
    # Static power from components (schema_version 2), no fixed term. The assumed leakage rule stated in the
    # templates: 10% of a MAC's (and a vector lane's) peak dynamic power: 0.1 * energy (pJ) * 1000 MHz in uW.
    assert spec.schema_version == 2 and spec.static_power_mw == 0
    assert spec.leakage.mac_uw == pytest.approx(0.1 * spec.mac_energy_pj * 1000)
    assert spec.leakage.vector_lane_uw == pytest.approx(0.1 * spec.vector_unit.op_energy_pj * 1000)
    lk = spec.leakage
    expected_mw = (acc.peak_macs_per_cycle * lk.mac_uw + spec.vector_unit.lanes * lk.vector_lane_uw
                   + spec.dram.bw_bytes_per_cycle * lk.dram_interface_uw_per_byte_per_cycle) / 1e3 \
        + spec.total_sram_bytes * lk.sram_nw_per_byte / 1e6
    assert spec.total_static_power_mw == pytest.approx(expected_mw)
    # The MAC share of it is the version-1 figure: 10% of the array's peak dynamic power.
    assert acc.peak_macs_per_cycle * lk.mac_uw / 1e3 == pytest.approx(
        0.1 * acc.peak_macs_per_cycle * spec.mac_energy_pj, rel=1e-3)


@pytest.mark.parametrize("name", SYSTOLIC)
def test_systolic_templates(name: str) -> None:
    edge = int(re.fullmatch(r"systolic(\d+)x\1", name).group(1))
    acc = load_accelerator(name)
    s = acc.systolic
    assert isinstance(s, SystolicSpec)
    assert (s.array.rows, s.array.cols, s.array.dataflow) == (edge, edge, "ws")
    assert acc.peak_macs_per_cycle == edge * edge
    # 4 KiB per array row: 64 KiB per buffer at 16x16.
    for buf in (s.buffers.ifmap, s.buffers.filter, s.buffers.ofmap):
        assert buf.size_bytes == 4096 * edge
    assert s.dram.bw_bytes_per_cycle == edge
    assert s.vector_unit.lanes == edge
    assert s.total_sram_bytes == 3 * 4096 * edge
    with pytest.raises(TemplateError, match="not 'vector_pe'"):
        _ = acc.vector_pe


def test_systolic16x16_matches_the_scale_sim_reference_sizes() -> None:
    s = load_accelerator("systolic16x16").systolic
    assert s.buffers.ifmap.size_bytes == 64 * 1024
    # derived from Horowitz: 20 pJ * 2^(ln5/ln32) / 8 B
    assert s.buffers.ifmap.read_energy_pj_per_byte == pytest.approx(
        20 * 2 ** (math.log(5) / math.log(32)) / 8, abs=1e-3
    )
    assert s.mac_energy_pj == pytest.approx(0.2 + 0.1)
    assert s.dram.energy_pj_per_byte == pytest.approx(1300 / 8)


@pytest.mark.parametrize("name", MAGNET)
def test_magnet_templates(name: str) -> None:
    width = int(name.rsplit("_v", 1)[1])
    acc = load_accelerator(name)
    v = acc.vector_pe
    assert isinstance(v, VectorPESpec)
    assert (v.pe_array.num_pes, v.pe_array.lanes, v.pe_array.vector_width) == (16, width, width)
    assert acc.peak_macs_per_cycle == 16 * width * width
    assert v.operand_bits.output == 24
    assert v.pe_buffers.weight.size_bytes == 4096 * width  # 4 KiB per lane
    assert v.pe_buffers.accumulation.size_bytes == 384 * width  # 128 x 24 bit per lane
    assert v.pe_buffers.input.size_bytes == 1024 * width
    assert v.global_buffer.size_bytes == 64 * 1024 * width // 8
    with pytest.raises(TemplateError, match="not 'systolic'"):
        _ = acc.systolic


@pytest.mark.parametrize("name", SYSTOLIC + MAGNET)
def test_energy_and_area_numbers_cite_a_source(name: str) -> None:
    """Every energy/area/power value line has a comment on the line or in the comment block right above it."""
    lines = catalog_entries()[name].read_text().splitlines()
    assert any("Horowitz" in line for line in lines)
    value_key = re.compile(r"^\s*(\w*(energy|um2|power)\w*):\s*[-+0-9.]")
    for i, line in enumerate(lines):
        if not value_key.match(line):
            continue
        if "#" in line:
            continue
        j = i - 1
        while j >= 0 and lines[j].lstrip().startswith("#"):
            j -= 1
        block = lines[j + 1 : i]
        assert any(("derived" in c or "[" in c or "assumed" in c) for c in block), f"{name}:{i + 1}: no source"


@pytest.mark.parametrize("name", SYSTOLIC + MAGNET)
def test_round_trip_to_dict_json_and_pickle(name: str) -> None:
    acc = load_accelerator(name)
    data = json.loads(json.dumps(acc.to_dict()))
    assert data["name"] == name and data["kind"] == acc.kind
    back = Accelerator.from_dict(data)
    assert back == acc
    assert hash(back) == hash(acc)
    assert pickle.loads(pickle.dumps(acc)) == acc
    assert acc.template_dict() == {k: v for k, v in data.items() if k != "name"}


def _numeric_fields(model: type[BaseModel], path: tuple[str, ...] = ()):
    for key, info in model.model_fields.items():
        ann = info.annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if typing.get_origin(ann) is typing.Union and len(args) == 1 else ann
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _numeric_fields(ann, (*path, key))
        elif ann in (int, float):
            yield (*path, key)


# Counts are dimensionless; operand_bits.* take their unit from the section name.
_DIMENSIONLESS = {"rows", "cols", "num_pes", "lanes", "vector_width"}


@pytest.mark.parametrize("schema", [SystolicSpec, VectorPESpec])
def test_every_numeric_key_names_its_unit(schema: type[BaseModel]) -> None:
    """DESIGN.md convention 4, generated from the schema."""
    for loc in _numeric_fields(schema):
        if loc[-1] in _DIMENSIONLESS:
            continue
        assert _unit_of(loc) is not None, ".".join(loc)
