"""The shipped `kind: hierarchy` templates (accelerators/eyeriss_like, simba_like, tpu_like, edge_tpu_like) are the
public designs they cite, imported: each equals a fresh import of its source files (tests/data) with only the
adaptations its provenance states."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmap.hardware.hierarchy import SpatialUnrolling
from hwmap.interop.hierarchy_template import read_template_file
from hwmap.interop.timeloop import read_timeloop
from hwmap.interop.zigzag_hardware import read_zigzag_hardware

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "accelerators"
TIMELOOP = ROOT / "tests" / "data" / "timeloop"
ZIGZAG = ROOT / "tests" / "data" / "zigzag_hardware"
DEAD_TPU_PORTS = ("    ports:\n      - fh: w_port_1\n        tl: r_port_1\n"
                  "      - fh: w_port_1\n        tl: r_port_1\n        fl: w_port_1\n        th: r_port_1\n")


def _timeloop(design: str, constraints: str):
    folder = TIMELOOP / design
    return read_timeloop(folder / "flattened_architecture.yaml", folder / "ERT.yaml",
                         constraints=folder / constraints)


def _zigzag(tmp_path: Path, name: str, spatial: dict[str, str]):
    text = (ZIGZAG / f"{name}.yaml").read_text().replace(DEAD_TPU_PORTS, "")
    (tmp_path / f"{name}.yaml").write_text(text)
    h = read_zigzag_hardware(tmp_path / f"{name}.yaml")
    # the mapping file's unrolling, as fixed dims (ZigZag clamps each factor to the layer)
    return h.model_copy(update={"spatial": tuple(SpatialUnrolling(axis=a, dims=(d,), fixed=True)
                                                 for a, d in spatial.items())})


@pytest.mark.parametrize(("name", "expected"), [
    ("eyeriss_like", lambda tmp: _timeloop("eyeriss_like", "arch.yaml")),
    ("simba_like", lambda tmp: _timeloop("simba_like", "architecture_constraints.yaml")),
    ("tpu_like", lambda tmp: _zigzag(tmp, "tpu_like", {"D1": "K", "D2": "C"})),
    ("edge_tpu_like", lambda tmp: _zigzag(tmp, "edge_tpu_like", {"D1": "K", "D2": "C", "D3": "OX", "D4": "OY"})),
])
def test_template_is_its_source_imported(tmp_path, name, expected):
    document, hierarchy = read_template_file(TEMPLATES / f"{name}.yaml")
    assert (document["schema_version"], document["kind"]) == (3, "hierarchy")
    assert set(document["provenance"]) == {"repository", "commit", "file", "adapted"}
    assert hierarchy == expected(tmp_path).model_copy(update={"name": name})


def test_template_numbers_are_the_designs():
    _, eyeriss = read_template_file(TEMPLATES / "eyeriss_like.yaml")
    assert eyeriss.level("shared_glb").capacity_bytes == 16384 * 64 / 8  # depth x width
    assert eyeriss.compute.mac_energy_pj == 0.207692  # the ERT's mac compute
    document, simba = read_template_file(TEMPLATES / "simba_like.yaml")
    assert [lv.mesh for lv in simba.levels[2:]] == [(16, 1), (16, 4), (16, 4), (16, 16)]
    assert simba.level("PEAccuBuffer").word_bits == 24 and document["operand_bits"]["output"] == 24
    assert simba.level("GlobalBuffer").energy.read_pj == 51.870888
    document, tpu = read_template_file(TEMPLATES / "tpu_like.yaml")
    assert tpu.compute.mesh == (32, 32) and tpu.level("sram_2MB").capacity_bytes == 16777216 / 8
    assert document["operand_bits"] == {"input": 8, "weight": 8, "output": 16}
    assert "duplicated 'ports' key removed" in document["provenance"]["adapted"]
