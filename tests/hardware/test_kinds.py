"""The registry of template kinds: no kind chains outside it, and a contract every registered kind meets.

The contract tests are parametrised over ``registered_kinds()``, so a kind registered in hwmap.hardware.kinds is
exercised here without editing this file: its shipped templates load, its cost module follows the protocol of
hwmap.cost.kinds, an estimate on a small graph is finite and non-negative, and (for kinds the mapper covers) its
hardware view is a checked Hierarchy whose spatial space fits the array.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from hwmap.cost.kinds import check_cost_module, cost_module, hardware_view
from hwmap.cost.settings import EstimateSettings
from hwmap.errors import HwmapError, TemplateError
from hwmap.hardware.catalog import list_accelerators
from hwmap.hardware.hierarchy import Hierarchy, SpatialUnrolling, check_hierarchy
from hwmap.hardware.kinds import SETTING_FIELDS, kind_info, register_kind, registered_kinds
from hwmap.hardware.loader import load_accelerator, loads_accelerator
from tests.conftest import traced

ROOT = Path(__file__).parents[2]
KINDS = registered_kinds()
TEMPLATES = {kind: [n for n in list_accelerators() if load_accelerator(n).kind == kind] for kind in KINDS}

# ------------------------------------------------------------------------------------------------ no kind chains

# Modules outside the registry that may name a kind's schema class, with the reason.
ALLOWED = {
    "hwmap/cost/gpu.py": "estimate_gpu refuses a non-GPU spec (a guard of the GPU kind's own model, not dispatch)",
}


def _module_path(dotted: str) -> str:
    return dotted.replace(".", "/") + ".py"


def _registry_modules() -> set[str]:
    """The registry, its protocol, and every registered kind's own schema and cost modules."""
    allowed = {"hwmap/hardware/kinds.py", "hwmap/cost/kinds.py"}
    for kind in KINDS:
        info = kind_info(kind)
        allowed.add(_module_path(info.schema_class().__module__))
        if info.cost is not None:
            allowed.add(_module_path(info.cost))
    return allowed


def _chain_patterns() -> list[tuple[str, re.Pattern]]:
    names = "|".join(re.escape(k) for k in KINDS)
    classes = "|".join(sorted({kind_info(k).schema_class().__name__ for k in KINDS} | {"CnnAcceleratorSpec"}))
    return [
        ("kind compared with a kind's name", re.compile(rf"""kind\s*[!=]=\s*["']({names})["']""")),
        ("a kind's name compared with a kind", re.compile(rf"""["']({names})["']\s*[!=]=\s*[\w.()"']*kind\b""")),
        ("kind tested against a list of kinds",
         re.compile(rf"""kind\s+(not\s+)?in\s*[(\[{{][^)\]}}]*["']({names})["']""")),
        ("a table keyed by kind names", re.compile(rf"""[{{,]\s*["']({names})["']\s*:\s*[(\[{{"']""")),
        ("isinstance on a kind's schema class", re.compile(rf"isinstance\([^)]*\b({classes})\b")),
        ("a fixed list of kinds", re.compile(r"\b(CNN_TEMPLATE_KINDS|TEMPLATE_KINDS|GPU_TEMPLATE_KIND|SQUARE_AXES)\b")),
    ]


def kind_chains(text: str) -> list[str]:
    """'line N: what' for every kind chain in a module's source (comments and docstrings included: a chain in an
    example is still a chain someone will copy)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in _chain_patterns():
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line.strip()}")
    return found


def test_the_grep_sees_every_form_of_kind_chain():
    sample = "\n".join([
        'if accel.kind == "systolic":', "if 'gpu' != spec.kind:", 'if accelerator.kind not in ("systolic", "gpu"):',
        'AXES = {"vector_pe": ("a", "b")}', "if isinstance(spec, SystolicSpec):",
        "if isinstance(s, (A, VectorPESpec)):", "from hwmap.vocabulary import CNN_TEMPLATE_KINDS",
        "x = SQUARE_AXES[kind]",
    ])
    assert len(kind_chains(sample)) == 8, kind_chains(sample)
    # not chains: the kinds of other things (Work, files, parameters), a kind compared with a variable
    benign = 'if work.kind == "conv":\nif kind == "folder":\nif parameter.kind in (p.VAR_POSITIONAL,):\n' \
             "names = [n for n in names() if load_accelerator(n).kind == kind]"
    assert kind_chains(benign) == []


def test_no_kind_chains_outside_the_registry():
    allowed = _registry_modules() | set(ALLOWED)
    problems = []
    for path in sorted((ROOT / "hwmap").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in allowed:
            continue
        problems += [f"{relative} {chain}" for chain in kind_chains(path.read_text(encoding="utf-8"))]
    assert not problems, "ask hwmap.hardware.kinds (kind_info, its cost module) instead:\n" + "\n".join(problems)


def test_allowed_modules_exist():
    for relative in ALLOWED:
        assert (ROOT / relative).is_file(), relative


# ------------------------------------------------------------------------------------------------ the registry


def test_registry_refuses_duplicates_and_bad_registrations():
    with pytest.raises(TemplateError, match="'systolic' is already registered"):
        register_kind("systolic", schema="hwmap.hardware.schema:SystolicSpec", cost="hwmap.cost.systolic_kind")
    with pytest.raises(TemplateError, match="lower_snake_case"):
        register_kind("Bad-Kind", schema="m:C", cost=None)
    with pytest.raises(TemplateError, match="unknown estimate settings"):
        register_kind("toy_settings", schema="m:C", cost=None, settings=("speed",))
    with pytest.raises(TemplateError, match="unknown template kind 'npu'; registered: .*systolic"):
        kind_info("npu")
    assert "toy_settings" not in registered_kinds()


def test_a_kind_without_cost_module_says_so():
    info = register_kind("schema_only_kind", schema="hwmap.hardware.schema:SystolicSpec", cost=None)
    try:
        with pytest.raises(HwmapError, match="no cost model for template kind 'schema_only_kind'"):
            info.cost_module()
    finally:
        from hwmap.hardware import kinds

        kinds._KINDS.pop("schema_only_kind")


# ------------------------------------------------------------------------------------------------ the contract


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_ships_templates_that_load(kind):
    assert TEMPLATES[kind], f"kind {kind!r} ships no template under accelerators/"
    for name in TEMPLATES[kind]:
        accel = load_accelerator(name)
        assert isinstance(accel.spec, kind_info(kind).schema_class())
        assert accel.spec.schema_version == kind_info(kind).schema_class().SCHEMA_VERSION


@pytest.mark.parametrize("kind", KINDS)
def test_cost_module_follows_the_protocol(kind):
    check_cost_module(kind_info(kind).cost_module(), kind)
    assert set(kind_info(kind).settings) <= set(SETTING_FIELDS)


def test_the_protocol_check_fails_on_a_module_that_misses_a_function():
    import types

    module = types.ModuleType("hwmap_toy_cost")
    module.hardware_view = lambda accelerator: None
    module.spatial_space = lambda accelerator, settings: ()
    with pytest.raises(HwmapError, match="hwmap_toy_cost of kind 'toy': no function estimate"):
        check_cost_module(module, "toy")
    module.estimate = lambda graph, accelerator, settings: None  # no cache keyword
    with pytest.raises(HwmapError, match=r"estimate\(\) takes .*expected .*keywords cache"):
        check_cost_module(module, "toy")


@pytest.mark.parametrize("kind", KINDS)
def test_estimate_on_a_small_graph_is_finite_and_non_negative(kind):
    graph = traced("resnet18", resolution=32)
    accel = load_accelerator(TEMPLATES[kind][0])
    cost = cost_module(kind).estimate(graph, accel, EstimateSettings(), cache=False)
    assert cost.kind == kind and cost.accelerator == accel.name
    assert cost.cycles > 0 and math.isfinite(cost.latency_ms) and cost.latency_ms > 0
    assert math.isfinite(cost.energy_mj) and cost.energy_mj > 0
    assert all(v >= 0 and math.isfinite(v) for v in cost.energy_terms_mj.values())
    assert cost.macs == sum(n.work.macs for n in graph.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_hardware_view_of_every_template(kind):
    info = kind_info(kind)
    for name in TEMPLATES[kind]:
        accel = load_accelerator(name)
        if not info.mappable:
            try:
                view = hardware_view(accel)
            except TemplateError as exc:
                assert accel.name in str(exc)
                continue
        else:
            view = hardware_view(accel)
        assert isinstance(view, Hierarchy)
        check_hierarchy(view, source=name)
        space = cost_module(kind).spatial_space(accel, EstimateSettings())
        assert all(isinstance(u, SpatialUnrolling) and u.axis in view.array_axes for u in space)


@pytest.mark.parametrize("kind", [k for k in KINDS if kind_info(k).sweep_axes is not None])
def test_sweep_axes_are_fields_of_the_kinds_templates(kind):
    for name in TEMPLATES[kind]:
        accel = load_accelerator(name)
        for field in kind_info(kind).sweep_axes:
            node = accel.template_dict()
            for part in field.split("."):
                node = node[part]
            assert isinstance(node, int), (name, field)


@pytest.mark.parametrize("kind", [k for k in KINDS if kind_info(k).sweepable])
def test_every_sweepable_kinds_templates_are_design_space_bases(kind):
    """A space over each template's clock loads: the base is accepted and the axis is one of its fields."""
    from hwmap.dse.space import DesignSpace

    for name in TEMPLATES[kind]:
        field = "freq_mhz" if "freq_mhz" in load_accelerator(name).template_dict() else None
        assert field is not None, name
        space = DesignSpace.from_dict({"schema_version": 1, "base": name, "axes": {field: [500]},
                                       "models": ["resnet18"]})
        assert space.base.kind == kind and space.columns == (field,)


# ------------------------------------------------------------------------------------------------ one hardware view


def test_the_view_is_what_the_cost_reads():
    """A double-buffered 64 KiB ifmap SRAM offers 32 KiB to the mapper; single-buffered, all 64 KiB."""
    from hwmap.cost.dispatch import map_target
    from hwmap.cost.memory import memory_hierarchy

    accel = load_accelerator("systolic16x16")
    single = accel.with_overrides({"buffers.ifmap.double_buffered": False})
    for template, usable in ((accel, 32768), (single, 65536)):
        view = hardware_view(template)
        assert view.level("ifmap").usable_bytes == usable
        assert memory_hierarchy(template).level("ifmap").usable_bytes == usable
        assert map_target(memory_hierarchy(template), template.spec).cap_input == usable
    assert hardware_view(accel) is hardware_view(load_accelerator("systolic16x16"))  # built once per template


def test_spatial_floor_follows_the_dataflow_override():
    from hwmap.cost.cnn import spatial_floor

    spec = load_accelerator("systolic8x8").spec  # 8 x 8
    assert spatial_floor(spec) == {"ws": (8, 8), "os": (8, 1), "is": (1, 8)}[spec.array.dataflow]
    assert [spatial_floor(spec, flow) for flow in ("ws", "os", "is")] == [(8, 8), (8, 1), (1, 8)]
    vec = load_accelerator("magnet16pe_v16").spec
    assert spatial_floor(vec) == (vec.pe_array.lanes, vec.pe_array.vector_width)


# ------------------------------------------------------------------------------------------------ schema_version 3


def _template_text(version: int, *, drop_double_buffered: bool) -> str:
    text = (ROOT / "accelerators" / "systolic16x16.yaml").read_text()
    text = re.sub(r"^schema_version: \d+$", f"schema_version: {version}", text, flags=re.MULTILINE)
    if drop_double_buffered:
        text = "\n".join(line for line in text.splitlines() if "double_buffered" not in line)
    return text


def test_shipped_cnn_templates_are_version_3():
    for kind in ("systolic", "vector_pe"):
        for name in TEMPLATES[kind]:
            path = ROOT / "accelerators" / f"{name}.yaml"
            assert re.search(r"^schema_version: 3$", path.read_text(), flags=re.MULTILINE), path


def test_version_2_files_are_migrated():
    v2 = loads_accelerator(_template_text(2, drop_double_buffered=True), name="v2")
    v3 = load_accelerator("systolic16x16")
    assert v2.spec.schema_version == 3
    assert v2.spec.buffers.ifmap.double_buffered and v2.spec.buffers.ofmap.double_buffered  # version 2's default
    assert v2.spec.model_dump(exclude={"description"}) == v3.spec.model_dump(exclude={"description"})
    explicit = loads_accelerator(_template_text(2, drop_double_buffered=False).replace(
        "double_buffered: true", "double_buffered: false", 1), name="v2b")
    assert not explicit.spec.buffers.ifmap.double_buffered and explicit.spec.buffers.filter.double_buffered


def test_version_3_requires_double_buffered():
    with pytest.raises(TemplateError, match=r"v3.yaml: buffers.ifmap.double_buffered: missing"):
        loads_accelerator(_template_text(3, drop_double_buffered=True), name="v3")


def test_migration_does_not_edit_the_callers_document():
    from hwmap.hardware.schema import migrate_template

    data = {"schema_version": 2, "kind": "systolic", "buffers": {"ifmap": {"size_bytes": 1,
                                                                          "read_energy_pj_per_byte": 1.0}}}
    migrated = migrate_template(data)
    assert migrated["schema_version"] == 3 and migrated["buffers"]["ifmap"]["double_buffered"] is True
    assert data == {"schema_version": 2, "kind": "systolic", "buffers": {"ifmap": {"size_bytes": 1,
                                                                                  "read_energy_pj_per_byte": 1.0}}}
