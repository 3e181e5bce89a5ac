"""Timeloop v0.4 flattened architecture + Accelergy ERT reader/writer on the two example designs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hwmap.errors import TemplateError
from hwmap.interop.timeloop import read_timeloop, write_timeloop

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop"


def _read(design: str, constraints: bool = True, folder: Path = DATA):
    d = folder / design
    return read_timeloop(d / "flattened_architecture.yaml", d / "ERT.yaml",
                         constraints=d / "arch.yaml" if constraints else None)


def test_eyeriss_like_values():
    h = _read("eyeriss_like")
    assert [lv.name for lv in h.levels] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"]
    glb = h.level("shared_glb")
    # flattened_architecture.yaml: depth 16384, width 64, datawidth 8, read_bandwidth 16; arch.yaml keeps I/O
    assert glb.capacity_bytes == 16384 * 64 / 8
    assert glb.read_bandwidth_bytes_per_cycle == 16.0
    assert (glb.keeps, glb.bypasses) == (("input", "output"), ("weight",))
    # ERT.yaml: shared_glb read 18.183829, write 14.137929, leak 0.005652
    assert (glb.energy.read_pj, glb.energy.write_pj, glb.energy.update_pj, glb.energy.leakage_pj_per_cycle) == (
        18.183829, 14.137929, 14.137929, 0.005652)
    psum = h.level("psum_spad")  # depth 16 x width 16 bits, datawidth 16; read 0.2513, write 0.2191
    assert (psum.capacity_bytes, psum.word_bits) == (32.0, 16)
    assert (psum.energy.read_pj, psum.energy.write_pj) == (0.2513, 0.2191)
    assert h.level("weights_spad").capacity_bytes == 192 * 16 / 8
    assert h.level("ifmap_spad").mesh == (14, 12)
    assert h.level("DRAM").energy.read_pj == 512.0 and h.level("DRAM").capacity_bytes is None
    assert (h.compute.mac_energy_pj, h.compute.mesh, h.compute.mac_width_bits) == (0.207692, (14, 12), 8)
    # PE_column (meshX 14) lets Q and M spread, PE (meshY 12) S, C and M
    assert [(u.axis, u.dims) for u in h.spatial] == [("X", ("OX", "K")), ("Y", ("FX", "C", "K"))]


def test_simple_weight_stationary_values():
    h = _read("simple_weight_stationary")
    assert h.level("pe_spad").energy.read_pj == 0.680237
    assert h.level("pe_spad").capacity_bytes == 192 * 16 / 8
    assert h.level("pe_spad").bypasses == ("input", "output")
    assert h.level("shared_glb").keeps == ()  # no constraint: the mapper's choice
    assert h.fanout("shared_glb", "weight") == (16, 16)
    assert [(u.axis, u.dims) for u in h.spatial] == [("X", ("C",)), ("Y", ("K",))]


def test_without_constraints_every_level_may_keep_everything():
    h = _read("eyeriss_like", constraints=False)
    assert all(lv.may_keep == ("input", "weight", "output") for lv in h.levels)


@pytest.mark.parametrize("design", ["eyeriss_like", "simple_weight_stationary"])
def test_round_trip(design, tmp_path):
    h = _read(design)
    arch, ert, constraints = write_timeloop(h, tmp_path)
    assert read_timeloop(arch, ert, constraints=constraints) == h


def _edited(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "eyeriss_like"
    shutil.copytree(DATA / "eyeriss_like", folder)
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return tmp_path


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("ERT.yaml", "          - name: update\n            arguments: {}\n            energy: 14.137929\n", "",
     "ERT.yaml: shared_glb: no 'update' action, which the architecture needs"),
    ("ERT.yaml", "energy: 18.183829", "energy: -18.183829",
     "flattened_architecture.yaml: shared_glb: energy.read_pj: -18.1838 is a negative energy"),
    ("ERT.yaml", "- name: read\n            arguments: {}\n            energy: 18.183829",
     "- name: gated_read\n            arguments: {}\n            energy: 1.0",
     "ERT.yaml: system_top_level.shared_glb[1..1]: action 'gated_read' is not supported"),
    ("flattened_architecture.yaml", "depth: 16384", "depth: 0",
     "flattened_architecture.yaml: shared_glb: capacity_bytes: 0 bytes; expected a capacity > 0"),
    ("flattened_architecture.yaml", "meshX: 14\n            meshY: 12\n            power_gated_at: null\n"
     "            technology: \"32nm\"\n            version: '0.4'\n            global_cycle_seconds: 1e-09\n"
     "            action_latency_cycles: 1\n            cycle_seconds: 1e-09\n            n_instances: 1\n"
     "            memory_width: 32\n            memory_depth: 64\n            widthscale: 0.5\n"
     "            depthscale: 0.1875",
     "meshX: 14\n            meshY: 12\n            metadata_storage_width: 4\n            depthscale: 0.1875",
     "flattened_architecture.yaml: ifmap_spad: attributes.metadata_storage_width: not supported (compression"),
    ("arch.yaml", "keep: [Inputs, Outputs]", "keep: [Inputs, Psums]",
     "arch.yaml: shared_glb: constraints.dataspace.keep: unknown dataspace 'Psums'"),
    ("arch.yaml", "dataspace: {keep: [Inputs]}", "dataspace: {keep: [], bypass: [Inputs, Weights, Outputs]}",
     "flattened_architecture.yaml: ifmap_spad: keeps: the level keeps no operand"),
    ("flattened_architecture.yaml", "system_top_level.ifmap_spad[1..168]", "system_top_level.ifmap_spad[1..160]",
     "flattened_architecture.yaml: ifmap_spad: meshX/meshY: 14 x 12 is not the 160 instances"),
    ("flattened_architecture.yaml", "name: system_top_level.psum_spad[1..168]",
     "name: system_top_level.weights_spad[1..168]",
     "flattened_architecture.yaml: weights_spad: name: appears twice: a cycle in the hierarchy"),
    ("ERT.yaml", "- name: system_top_level.psum_spad[1..168]", "- name: system_top_level.psum_pad[1..168]",
     "ERT.yaml: psum_spad: no ERT table for 'system_top_level.psum_spad[1..168]', which the architecture needs"),
    ("flattened_architecture.yaml", "architecture:\n    version: '0.4'",
     "architecture:\n    network: {}\n    version: '0.4'",
     "flattened_architecture.yaml: architecture.network: not supported (networks-on-chip"),
    ("flattened_architecture.yaml", "class: smartbuffer_SRAM", "class: XY_NoC",
     "flattened_architecture.yaml: shared_glb: class 'XY_NoC': networks-on-chip costs are not supported"),
])
def test_bad_files_one_line(tmp_path, file, old, new, expected):
    folder = _edited(tmp_path, file, old, new)
    with pytest.raises(TemplateError) as info:
        _read("eyeriss_like", folder=folder)
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert message.startswith(str(folder / "eyeriss_like"))


def test_writer_refuses_more_than_two_axes(tmp_path):
    from hwmap.cost.hierarchy_view import hierarchy_of
    from hwmap.hardware.loader import load_accelerator

    with pytest.raises(TemplateError, match="Timeloop meshes have two axes"):
        write_timeloop(hierarchy_of(load_accelerator("magnet16pe_v16")), tmp_path)


def test_written_files_are_timeloop_shaped(tmp_path):
    arch, ert, _ = write_timeloop(_read("eyeriss_like"), tmp_path)
    local = yaml.safe_load(arch.read_text())["architecture"]["local"]
    glb = next(c for c in local if c["name"] == "system_top_level.shared_glb[1..1]")
    assert glb["attributes"]["depth"] == 16384 and glb["attributes"]["width"] == 64
    tables = yaml.safe_load(ert.read_text())["ERT"]["tables"]
    assert any(t["name"] == "system_top_level.mac[1..168]" for t in tables)


def _paths(node, prefix=()):
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replaced(document, path, value):
    copy = yaml.safe_load(yaml.safe_dump(document))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@pytest.mark.parametrize("file", ["flattened_architecture.yaml", "ERT.yaml"])
def test_any_malformed_value_is_one_clean_error(tmp_path, file):
    """Fields of the Eyeriss-like files replaced by a wrong-typed or negative value: a TemplateError on one line or a
    valid description, never another exception."""
    folder = tmp_path / "eyeriss_like"
    shutil.copytree(DATA / "eyeriss_like", folder)
    original = yaml.safe_load((DATA / "eyeriss_like" / file).read_text())
    failures = []
    # one storage component (shared_glb, index 1), the MAC (last) and the document's structure: every field kind
    sampled = [p for p in _paths(original) if len(p) < 3 or p[2] in (1, len(original[p[0]][p[1]]) - 1)]
    for path in sampled:
        for value in ("abc", None, -1, []):
            (folder / file).write_text(yaml.safe_dump(_replaced(original, path, value)))
            try:
                _read("eyeriss_like", folder=tmp_path)
            except TemplateError as exc:
                if "\n" in str(exc):
                    failures.append((path, value, "multi-line"))
            except Exception as exc:  # noqa: BLE001 - the test collects what escaped
                failures.append((path, value, type(exc).__name__))
    assert failures == []
