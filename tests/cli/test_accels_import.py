"""`hwmap accels import` (Timeloop v0.4 + Accelergy ERT, ZigZag 3.9.1) and `accels export --format timeloop`: the
written `kind: hierarchy` template, round trips, and every bad architecture file of issue 17 as ONE stderr line
(exit 2) naming the file, the component and the field, with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hwmap.hardware.hierarchy import load_architecture_yaml
from hwmap.interop.hierarchy_template import hierarchy_of_template
from hwmap.interop.timeloop import read_timeloop
from hwmap.interop.zigzag_hardware import read_zigzag_hardware

DATA = Path(__file__).resolve().parents[1] / "data"
EYERISS = DATA / "timeloop" / "eyeriss_like"
ZIGZAG = DATA / "zigzag_hardware"


def _timeloop_args(folder: Path, out: Path) -> list[str]:
    return ["accels", "import", str(folder / "flattened_architecture.yaml"), "--format", "timeloop",
            "--ert", str(folder / "ERT.yaml"), "--constraints", str(folder / "arch.yaml"), "--out", str(out)]


def _template(path: Path):
    document = load_architecture_yaml(path.read_text(), source=str(path))
    return document, hierarchy_of_template(document, name=path.stem, source=str(path))


def test_timeloop_eyeriss_like_imports_as_a_hierarchy_template(run_cli, tmp_path):
    out = tmp_path / "eyeriss_imported.yaml"
    code, stdout, err = run_cli(*_timeloop_args(EYERISS, out))
    assert code == 0, err
    assert "DRAM > shared_glb > ifmap_spad > weights_spad > psum_spad > mac (14 x 12)" in stdout
    document, hierarchy = _template(out)
    assert (document["schema_version"], document["kind"]) == (3, "hierarchy")
    assert document["freq_mhz"] == 1000.0  # global_cycle_seconds 1e-09
    assert document["operand_bits"] == {"input": 8, "weight": 8, "output": 16}  # spads' datawidth; psum 16
    assert str(EYERISS / "ERT.yaml") in document["provenance"]["file"]
    expected = read_timeloop(EYERISS / "flattened_architecture.yaml", EYERISS / "ERT.yaml",
                             constraints=EYERISS / "arch.yaml")
    assert hierarchy == expected.model_copy(update={"name": "eyeriss_imported"})
    assert hierarchy.level("shared_glb").capacity_bytes == 16384 * 64 / 8


def test_timeloop_export_and_reimport_give_the_same_hierarchy(run_cli, tmp_path):
    first = tmp_path / "eyeriss_a.yaml"
    assert run_cli(*_timeloop_args(EYERISS, first))[0] == 0
    _, hierarchy = _template(first)
    from hwmap.interop.hierarchy_template import export_hierarchy

    exported = tmp_path / "exported"
    exported.mkdir()
    arch, ert, constraints = export_hierarchy(hierarchy, format="timeloop", out_dir=exported)
    second = tmp_path / "eyeriss_a2.yaml"
    code, _, err = run_cli("accels", "import", str(arch), "--ert", str(ert), "--constraints", str(constraints),
                           "--out", str(second))
    assert code == 0, err
    _, again = _template(second)
    assert again.model_copy(update={"name": hierarchy.name}) == hierarchy


def test_systolic_template_exports_to_timeloop_and_reads_back(run_cli, tmp_path):
    code, stdout, err = run_cli("accels", "export", "systolic16x16", "--format", "timeloop", "--out", str(tmp_path))
    assert code == 0, err
    arch = tmp_path / "systolic16x16.flattened_architecture.yaml"
    assert f"wrote {arch}" in stdout
    h = read_timeloop(arch, tmp_path / "systolic16x16.ERT.yaml",
                      constraints=tmp_path / "systolic16x16.constraints.yaml")
    assert [lv.name for lv in h.levels] == ["dram", "ifmap", "filter", "ofmap"]
    assert h.level("ifmap").capacity_bytes == 65536 and h.level("ifmap").multiple_buffering == 2
    assert h.level("dram").energy.read_pj == 162.5 and h.compute.mac_energy_pj == 0.3
    # the ws dataflow (C on rows, K on columns) as a spatial constraint allowing only those dims
    assert [(u.axis, u.dims) for u in h.spatial] == [("X", ("C",)), ("Y", ("K",))]


def test_export_timeloop_needs_a_folder(run_cli, tmp_path):
    code, _, err = run_cli("accels", "export", "systolic16x16", "--format", "timeloop",
                           "--out", str(tmp_path / "x.yaml"))
    assert code == 2 and err.count("\n") == 1 and "--out" in err and "expected an existing folder" in err


def test_zigzag_edge_tpu_like_imports_with_its_spatial_mapping(run_cli, tmp_path):
    out = tmp_path / "etpu.yaml"
    code, stdout, err = run_cli("accels", "import", str(ZIGZAG / "edge_tpu_like.yaml"), "--format", "zigzag",
                                "--spatial-mapping", str(ZIGZAG / "edge_tpu_like.mapping.yaml"), "--out", str(out))
    assert code == 0, err
    assert "dram > sram_2MB > sram_32KB > rf_2B > rf_1B > operational_array (8 x 8 x 4 x 4)" in stdout
    document, hierarchy = _template(out)
    assert document["freq_mhz"] == 1000.0 and "1000 assumed" in document["provenance"]["adapted"]
    expected = read_zigzag_hardware(ZIGZAG / "edge_tpu_like.yaml", mapping=ZIGZAG / "edge_tpu_like.mapping.yaml")
    assert hierarchy == expected.model_copy(update={"name": "etpu"})
    assert [(u.axis, u.factors) for u in hierarchy.spatial] == [("D1", {"K": 8}), ("D2", {"C": 8}),
                                                                ("D3", {"OX": 4}), ("D4", {"OY": 4})]


def test_import_never_overwrites_its_input(run_cli, tmp_path):
    copy = tmp_path / "tpu_like.yaml"
    shutil.copy(ZIGZAG / "tpu_like.yaml", copy)
    before = copy.read_text()
    code, _, err = run_cli("accels", "import", str(copy), "--format", "zigzag", "--out", str(copy))
    assert code == 2 and err.count("\n") == 1 and "would destroy the input" in err
    assert copy.read_text() == before


@pytest.mark.parametrize(("argv", "expected"), [
    (["--format", "timeloop"], "--ert missing: --format timeloop needs Accelergy's energy reference table"),
    (["--format", "zigzag", "--ert", "x.yaml"], "--ert is for --format timeloop"),
])
def test_import_options_are_checked(run_cli, tmp_path, argv, expected):
    code, _, err = run_cli("accels", "import", str(ZIGZAG / "tpu_like.yaml"), *argv, "--out", str(tmp_path / "t.yaml"))
    assert code == 2 and err.count("\n") == 1 and expected in err
    assert not (tmp_path / "t.yaml").exists()


def _edited(tmp_path: Path, source: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / source.name
    shutil.copytree(source, folder)
    path = folder / file
    text = path.read_text()
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1))
    return folder


# Issue 17's bad architecture files, through `hwmap accels import --format timeloop`: (file edited, old, new,
# the file the message names, component, field)
TIMELOOP_BAD = {
    "level keeps nothing": ("arch.yaml", "dataspace: {keep: [Inputs]}",
                            "dataspace: {keep: [], bypass: [Inputs, Weights, Outputs]}",
                            "flattened_architecture.yaml", "ifmap_spad", "keeps: the level keeps no operand"),
    "fanout does not divide": ("flattened_architecture.yaml",
                               "mac[1..168]\n        class: intmac\n        attributes:\n"
                               "            multiplier_width: 8\n            adder_width: 16\n"
                               "            has_power_gating: false\n            meshX: 14",
                               "mac[1..180]\n        class: intmac\n        attributes:\n"
                               "            multiplier_width: 8\n            adder_width: 16\n"
                               "            has_power_gating: false\n            meshX: 15",
                               "flattened_architecture.yaml", "mac",
                               "mesh: 15 instances along X is not a whole fanout of the 14 of",
                               # the ERT names the component with its instance count too
                               ("ERT.yaml", "system_top_level.mac[1..168]", "system_top_level.mac[1..180]")),
    "zero capacity": ("flattened_architecture.yaml", "depth: 16384", "depth: 0", "flattened_architecture.yaml",
                      "shared_glb", "capacity_bytes: 0 bytes; expected a capacity > 0"),
    "negative energy": ("ERT.yaml", "energy: 18.183829", "energy: -18.183829", "flattened_architecture.yaml",
                        "shared_glb", "energy.read_pj: -18.1838 is a negative energy"),
    "cycle": ("flattened_architecture.yaml", "name: system_top_level.psum_spad[1..168]",
              "name: system_top_level.weights_spad[1..168]", "flattened_architecture.yaml", "weights_spad",
              "name: appears twice: a cycle in the hierarchy"),
    "unknown operand": ("arch.yaml", "keep: [Inputs, Outputs]", "keep: [Inputs, Psums]", "arch.yaml", "shared_glb",
                        "constraints.dataspace.keep: unknown dataspace 'Psums'"),
    "ERT without an action": ("ERT.yaml", "          - name: update\n            arguments: {}\n"
                              "            energy: 14.137929\n", "", "ERT.yaml", "shared_glb",
                              "no 'update' action, which the architecture needs"),
}


@pytest.mark.parametrize("case", sorted(TIMELOOP_BAD))
def test_bad_timeloop_file_is_one_line(run_cli, tmp_path, case):
    file, old, new, named_file, component, field, *more = TIMELOOP_BAD[case]
    folder = _edited(tmp_path, EYERISS, file, old, new)
    for extra_file, extra_old, extra_new in more:
        path = folder / extra_file
        path.write_text(path.read_text().replace(extra_old, extra_new))
    out = tmp_path / "t.yaml"
    code, stdout, err = run_cli(*_timeloop_args(folder, out))
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1, err
    assert f"{folder / named_file}: {component}: {field}" in err
    assert not out.exists()


# The same errors in ZigZag hardware YAML (eyeriss_like.yaml), through `hwmap accels import --format zigzag`
ZIGZAG_BAD = {
    "level keeps nothing": ("operands: [I2]\n", "operands: []\n", "rf_64B_W", "keeps: the level keeps no operand"),
    "zero capacity": ("size: 8388608", "size: 0", "sram_1M", "capacity_bytes: 0 bytes; expected a capacity > 0"),
    "negative energy": ("r_cost: 100", "r_cost: -100", "sram_1M", "energy.read_pj: -100 is a negative energy"),
    "unknown operand": ("operands: [I2]\n", "operands: [I3]\n", "rf_64B_W", "operands: unknown operand 'I3'"),
}


@pytest.mark.parametrize("case", sorted(ZIGZAG_BAD))
def test_bad_zigzag_file_is_one_line(run_cli, tmp_path, case):
    old, new, component, field = ZIGZAG_BAD[case]
    hardware = tmp_path / "eyeriss_like.yaml"
    text = (ZIGZAG / "eyeriss_like.yaml").read_text()
    assert old in text
    hardware.write_text(text.replace(old, new, 1))
    out = tmp_path / "z.yaml"
    code, _, err = run_cli("accels", "import", str(hardware), "--format", "zigzag", "--out", str(out))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{hardware}: {component}: {field}" in err
    assert not out.exists()


def test_unsupported_feature_is_refused_by_name(run_cli, tmp_path):
    folder = _edited(tmp_path, EYERISS, "flattened_architecture.yaml", "class: smartbuffer_SRAM", "class: XY_NoC")
    code, _, err = run_cli(*_timeloop_args(folder, tmp_path / "t.yaml"))
    assert code == 2 and err.count("\n") == 1
    assert "shared_glb: class 'XY_NoC': networks-on-chip costs are not supported" in err


def test_shipped_hierarchy_template_exports_and_reimports_unchanged(run_cli, tmp_path):
    code, _, err = run_cli("accels", "export", "eyeriss_like", "--format", "timeloop", "--out", str(tmp_path))
    assert code == 0, err
    back = tmp_path / "eyeriss_like.yaml"
    code, _, err = run_cli("accels", "import", str(tmp_path / "eyeriss_like.flattened_architecture.yaml"),
                           "--ert", str(tmp_path / "eyeriss_like.ERT.yaml"),
                           "--constraints", str(tmp_path / "eyeriss_like.constraints.yaml"), "--out", str(back))
    assert code == 0, err
    shipped = Path(__file__).resolve().parents[2] / "accelerators" / "eyeriss_like.yaml"
    assert _template(back)[1] == _template(shipped)[1]


def test_accels_list_shows_hierarchy_levels(run_cli):
    code, out, err = run_cli("accels", "list", "--json")
    assert code == 0, err
    levels = {t["name"]: t["levels"] for t in json.loads(out)}
    assert levels["eyeriss_like"] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad", "mac 14x12"]
    assert levels["tpu_like"] == ["dram", "sram_2MB", "rf_2B", "rf_128B", "operational_array 32x32"]
    assert set(levels) >= {"eyeriss_like", "simba_like", "tpu_like", "edge_tpu_like"}


def test_dataflow_fixed_template_exports_to_zigzag_with_whole_axis_factors(run_cli, tmp_path):
    code, _, err = run_cli("accels", "export", "tpu_like", "--format", "zigzag", "--out", str(tmp_path))
    assert code == 0, err
    mapping = load_architecture_yaml((tmp_path / "tpu_like.mapping.yaml").read_text(), source="m")
    assert mapping[0]["spatial_mapping"] == {"D1": ["K, 32"], "D2": ["C, 32"]}  # ZigZag's own tpu_like mapping
