"""Strict loading: every bad template is ONE TemplateError naming the file and the field; variants revalidate."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Literal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwmap.errors import TemplateError
from hwmap.hardware import (
    Accelerator,
    TemplateSpec,
    list_accelerators,
    load_accelerator,
    loads_accelerator,
    register_template_kind,
    validate_template,
)
from hwmap.hardware import kinds as kinds_module
from hwmap.hardware.loader import StrictSafeLoader, parse_template_text

BAD = Path(__file__).parents[1] / "data" / "bad_templates"
SA16 = load_accelerator("systolic16x16")  # loaded once for the property tests


def _error(path: Path) -> str:
    with pytest.raises(TemplateError) as info:
        load_accelerator(path)
    assert type(info.value) is TemplateError
    return str(info.value)


# name, fields the message must name, further fragments it must contain, (bad text, fix) that makes it load
BAD_CASES = [
    ("duplicate_key", ["array.rows"], ["duplicate key (line 16, first on line 14)"], ("  rows: 32\n", "")),
    (
        "unknown_key",
        ["array.pipeline_depth"],
        ["unknown key", "rows, cols, dataflow"],
        ("  pipeline_depth: 2\n", ""),
    ),
    ("negative_size", ["buffers.ifmap.size_bytes"], ["must be > 0, got -5"], ("-5", "65536")),
    (
        "missing_field",
        ["dram.energy_pj_per_byte"],
        ["missing required field", "a number in pJ per byte"],
        ("  bw_bytes_per_cycle: 16\n", "  bw_bytes_per_cycle: 16\n  energy_pj_per_byte: 162.5\n"),
    ),
    ("wrong_unit_freq", ["freq_ghz"], ["expected 'freq_mhz'", "in MHz"], ("freq_ghz: 1.0", "freq_mhz: 1000")),
    (
        "wrong_unit_size",
        ["buffers.filter.size_kb"],
        ["expected 'size_bytes'", "in bytes"],
        ("size_kb: 64", "size_bytes: 65536"),
    ),
    ("wrong_type", ["array.cols"], ["expected an integer", "'16 PEs'"], ("16 PEs", "16")),
    ("top_level_list", [], ["top level must be a mapping", "got a list"], None),
    ("not_yaml", [], ["not valid YAML", "line 4"], None),
    (
        "bad_dataflow",
        ["array.dataflow"],
        ["must be one of 'ws', 'os', 'is'", "'rs'"],
        ("dataflow: rs", "dataflow: ws"),
    ),
    (
        "implausible_energy",
        ["mac_energy_pj"],
        ["must be < 100, got 300", "implausible"],
        ("mac_energy_pj: 300", "mac_energy_pj: 0.3"),
    ),
    (
        "semantic_problems",
        ["operand_bits.weight", "operand_bits.output"],
        ["'int8' means 8-bit operands, got 16", "at least as wide as the operands (16 bits), got 8"],
        ("  weight: 16\n  output: 8", "  weight: 8\n  output: 32"),
    ),
    ("unregistered_kind", ["kind"],
     ["unknown kind 'npu'", "expected one of 'gpu', 'hierarchy', 'systolic', 'vector_pe'"], None),
    (
        "wrong_schema_version",
        ["schema_version"],
        ["must be 3", "versions 1 and 2 are migrated on load", "got 4"],
        ("schema_version: 4", "schema_version: 1"),
    ),
]


@pytest.mark.parametrize(("stem", "fields", "fragments", "fix"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_template_is_one_error_naming_file_and_field(stem, fields, fragments, fix) -> None:
    path = BAD / f"{stem}.yaml"
    message = _error(path)
    assert str(path) in message
    for field_path in fields:
        assert f": {field_path}: " in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message  # one line: the CLI prints it as is


@pytest.mark.parametrize(
    ("stem", "fix"), [(c[0], c[3]) for c in BAD_CASES if c[3]], ids=[c[0] for c in BAD_CASES if c[3]]
)
def test_each_fixture_has_only_its_defect(stem: str, fix: tuple[str, str], tmp_path: Path) -> None:
    text = (BAD / f"{stem}.yaml").read_text()
    bad, good = fix
    assert bad in text
    fixed = tmp_path / f"{stem}.yaml"
    fixed.write_text(text.replace(bad, good, 1))
    acc = load_accelerator(fixed)
    assert acc.name == stem  # the template name is the file stem


def test_every_problem_is_reported_in_one_error() -> None:
    message = _error(BAD / "many_problems.yaml")
    problems = message.split("; ")
    assert len(problems) == 4, message
    assert all(p.startswith(str(BAD / "many_problems.yaml") + ": ") for p in problems)
    for fragment in (
        "freq_mhz: must be >= 1, got -1",
        "array.rows: must be >= 1, got 0",
        "buffers.ifmap.size_bytes: must be > 0, got -5",
        "vector_unit.opp_energy_pj: unknown key, did you mean 'op_energy_pj'?",
    ):
        assert fragment in message


def test_messages_point_at_lines() -> None:
    assert "buffers.ifmap.size_bytes: must be > 0, got -5 (line 19)" in _error(BAD / "negative_size.yaml")


def test_duplicate_keys_rejected_by_the_loader_class_itself() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass


def test_nested_duplicates_and_non_string_keys_are_all_reported() -> None:
    text = "a:\n  x: 1\n  x: 2\nb: 1\nb: 2\n3: c\n"
    with pytest.raises(TemplateError) as info:
        parse_template_text(text, source="t.yaml")
    message = str(info.value)
    assert "t.yaml: a.x: duplicate key (line 3, first on line 2)" in message
    assert "t.yaml: b: duplicate key (line 5, first on line 4)" in message
    assert "key '3' is not a string" in message


def test_exponent_floats_read_as_numbers() -> None:
    data, _ = parse_template_text("a: 1e3\nb: 2.5e-1\nc: 1.0\nd: 12\ne: '1e3'\n", source="t.yaml")
    assert data == {"a": 1000.0, "b": 0.25, "c": 1.0, "d": 12, "e": "1e3"}
    assert yaml.safe_load("a: 1e3") == {"a": "1e3"}  # plain SafeLoader is unchanged


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "got an empty document"),
        ("just a string", "got the string 'just a string'"),
        ("a: [1, 2\n", "not valid YAML"),
        ("a: !!timestamp 2024-13-45\n", "not valid YAML"),  # plain, YAML 1.2 reads it as the string it is
        ("\x1f", "not valid YAML: unacceptable character"),
        ("a: !!python/object:os.system {}\n", "not valid YAML"),
        ("schema_version: 1\n", "kind: missing required field"),
        ("kind: systolic\n", "schema_version: missing required field"),
        ("schema_version: 1\nkind: 5\n", "kind: expected a string"),
        ("schema_version: 1\nkind: systolc\n", "did you mean 'systolic'?"),
        ("schema_version: true\nkind: systolic\n", "schema_version: must be 3"),
    ],
)
def test_malformed_documents(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match="^x.yaml: ") as info:
        loads_accelerator(text, name="x")
    assert fragment in str(info.value)


def test_wrong_unit_key_does_not_also_report_the_missing_field() -> None:
    message = _error(BAD / "wrong_unit_freq.yaml")
    assert "missing" not in message
    assert message.count("; ") == 0


def test_unknown_name_lists_known_names_close_matches_first() -> None:
    with pytest.raises(TemplateError) as info:
        load_accelerator("systolic16")
    message = str(info.value)
    assert "unknown accelerator 'systolic16'" in message
    assert "(did you mean systolic16x16" in message
    known = message.split("Known accelerators: ", 1)[1]
    assert known.startswith("systolic16x16")
    for name in list_accelerators():
        assert name in known


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such template file"):
        load_accelerator(tmp_path / "absent.yaml")
    with pytest.raises(TemplateError, match="not a file"):
        load_accelerator(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(TemplateError, match="binary.yaml: not UTF-8 text"):
        load_accelerator(binary)
    with pytest.raises(TemplateError, match="expected an accelerator name"):
        load_accelerator("")


def test_load_by_path_string_and_pathlike(tmp_path: Path) -> None:
    text = (BAD / "negative_size.yaml").read_text().replace("-5", "65536")
    path = tmp_path / "my_design.yaml"
    path.write_text(text)
    assert load_accelerator(str(path)).name == "my_design"
    assert load_accelerator(path) == load_accelerator(str(path))


# --- variants ----------------------------------------------------------------------------------------------------


def test_with_overrides_dotted_and_nested() -> None:
    base = load_accelerator("systolic16x16")
    os_variant = base.with_overrides({"array.dataflow": "os"})
    assert os_variant.systolic.array.dataflow == "os"
    assert os_variant.name == "systolic16x16[array.dataflow=os]"
    assert base.systolic.array.dataflow == "ws"  # the base is untouched

    bigger = base.with_overrides(
        array={"rows": 32, "cols": 32}, buffers={"ifmap": {"size_bytes": 131072}}, name="sa32"
    )
    assert bigger.name == "sa32"
    assert bigger.peak_macs_per_cycle == 1024
    assert bigger.systolic.buffers.ifmap.size_bytes == 131072
    assert (
        bigger.systolic.buffers.ifmap.read_energy_pj_per_byte
        == base.systolic.buffers.ifmap.read_energy_pj_per_byte
    )
    assert base.with_overrides(**{"array.rows": 8}).systolic.array.rows == 8  # dotted keys as **kwargs
    assert base.with_overrides() is base
    assert base.with_overrides(name="renamed").name == "renamed"
    assert dataclasses.replace(base, name="r2").spec == base.spec


def test_with_overrides_revalidates() -> None:
    base = load_accelerator("systolic16x16")
    with pytest.raises(TemplateError) as info:
        base.with_overrides({"buffers.ifmap.size_bytes": -1, "array.rows": 0})
    message = str(info.value)
    assert message.startswith("systolic16x16 with overrides ")
    assert "buffers.ifmap.size_bytes: must be > 0, got -1" in message
    assert "array.rows: must be >= 1, got 0" in message
    with pytest.raises(TemplateError, match=r"array.rowz: unknown key, did you mean 'rows'"):
        base.with_overrides({"array.rowz": 8})
    with pytest.raises(TemplateError, match="must be one of 'ws', 'os', 'is'"):
        base.with_overrides({"array.dataflow": "xs"})
    with pytest.raises(TemplateError, match="kind cannot be overridden"):
        base.with_overrides(kind="vector_pe")
    with pytest.raises(TemplateError, match="'freq_mhz' is 1000, not a section"):
        base.with_overrides({"freq_mhz.value": 3})
    with pytest.raises(TemplateError, match="dotted field path"):
        base.with_overrides({"array..rows": 3})
    # the semantic pass runs on variants too: 16-bit weights in an int8 template
    with pytest.raises(TemplateError, match="operand_bits.weight: technology.precision 'int8' means 8-bit"):
        base.with_overrides({"operand_bits.weight": 16})


def test_with_overrides_on_vector_pe() -> None:
    base = load_accelerator("magnet16pe_v8")
    wide = base.with_overrides({"pe_array.lanes": 16})
    assert wide.peak_macs_per_cycle == 16 * 16 * 8
    with pytest.raises(
        TemplateError, match="pe_buffers.accumulation.size_bytes: must hold at least one partial sum"
    ):
        base.with_overrides({"pe_buffers.accumulation.size_bytes": 4})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 256),
    cols=st.integers(1, 256),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    kib=st.integers(32, 1024),
)
def test_valid_overrides_always_validate(rows: int, cols: int, dataflow: str, kib: int) -> None:
    acc = SA16.with_overrides(
        {
            "array.rows": rows,
            "array.cols": cols,
            "array.dataflow": dataflow,
            "buffers.filter.size_bytes": kib * 1024,
        }
    )
    assert acc.peak_macs_per_cycle == rows * cols
    assert Accelerator.from_dict(acc.to_dict()) == acc


@settings(max_examples=60, deadline=None)
@given(size=st.integers(max_value=0) | st.floats(allow_nan=True) | st.text(max_size=5) | st.none() | st.booleans())
def test_bad_sizes_always_fail_with_template_error(size: object) -> None:
    with pytest.raises(TemplateError, match="buffers.ofmap.size_bytes"):
        SA16.with_overrides({"buffers.ofmap.size_bytes": size})


# --- robustness: nothing but TemplateError escapes ---------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(data=_json)
def test_arbitrary_documents_raise_only_template_error(data: object) -> None:
    with pytest.raises(TemplateError):
        validate_template(data, name="fuzz", source="fuzz.yaml")


@settings(max_examples=100, deadline=None)
@given(
    path=st.sampled_from(
        [("array", "rows"), ("buffers", "ifmap"), ("dram",), ("technology", "precision"), ("area",), ("freq_mhz",)]
    ),
    value=_json,
)
def test_mutated_templates_raise_only_template_error_or_load(path: tuple[str, ...], value: object) -> None:
    data = SA16.template_dict()
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        acc = validate_template(data, name="m", source="m.yaml")
    except TemplateError as exc:
        assert str(exc).startswith("m.yaml: ")
    else:
        assert acc.peak_macs_per_cycle >= 1


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_template_error(text: str) -> None:
    with pytest.raises(TemplateError) as info:
        loads_accelerator(text, name="t")
    assert str(info.value).startswith("t.yaml: ")
    assert "\n" not in str(info.value)


# --- registry ----------------------------------------------------------------------------------------------------


class _ToySpec(TemplateSpec):
    kind: Literal["toy"]
    macs_per_cycle: int

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.macs_per_cycle


def test_register_a_template_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds_module, "_KINDS", dict(kinds_module._KINDS))
    text = "schema_version: 1\nkind: toy\ndescription: a toy\nmacs_per_cycle: 7\n"
    with pytest.raises(TemplateError, match="unknown kind 'toy'"):
        loads_accelerator(text, name="toy1")
    register_template_kind("toy", _ToySpec)
    acc = loads_accelerator(text, name="toy1")
    assert (acc.kind, acc.peak_macs_per_cycle, acc.area_um2) == ("toy", 7, None)
    with pytest.raises(TemplateError, match="has no freq_mhz"):
        _ = acc.freq_mhz
    with pytest.raises(TemplateError, match="already registered"):
        register_template_kind("toy", _ToySpec)
    with pytest.raises(TemplateError, match="must subclass TemplateSpec"):
        register_template_kind("toy2", dict)  # type: ignore[arg-type]


def test_register_a_lazy_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds_module, "_KINDS", dict(kinds_module._KINDS))
    register_template_kind("toy", f"{__name__}:_ToySpec")
    acc = loads_accelerator("schema_version: 1\nkind: toy\ndescription: t\nmacs_per_cycle: 3\n", name="t")
    assert acc.peak_macs_per_cycle == 3
    register_template_kind("broken", "hwmap.no_such_module:Spec")
    with pytest.raises(TemplateError, match="cannot be imported"):
        loads_accelerator("schema_version: 1\nkind: broken\ndescription: t\n", name="t")


def test_static_energy_per_cycle_formula() -> None:
    spec = load_accelerator("systolic16x16").systolic
    # components: 256 MACs * 30 uW = 7.68 mW; 3 * 65536 B * 7.2 nW = 1.4155776 mW; 16 lanes * 150 uW = 2.4 mW;
    # DRAM interface 16 B/cycle * 2000 uW = 32 mW; total 43.4955776 mW.
    # At 1000 MHz: 43.4955776e-3 J/s / 1e9 cycles/s = 43.4955776 pJ per cycle.
    assert math.isclose(spec.total_static_power_mw, 43.4955776)
    assert math.isclose(spec.static_energy_pj_per_cycle, 43.4955776)


def _v1_text() -> str:
    """systolic16x16 as schema_version 1 wrote it: one fixed static_power_mw, no leakage section."""
    text = (Path(__file__).parents[2] / "accelerators" / "systolic16x16.yaml").read_text()
    start, end = text.index("leakage:\n"), text.index("area:\n")
    text = text[:start] + "static_power_mw: 7.68\n" + text[end:]
    text = "\n".join(line for line in text.splitlines() if "double_buffered" not in line
                     and "dram_interface_um2" not in line)
    return text.replace("schema_version: 3", "schema_version: 1")


def test_schema_version_1_templates_are_migrated() -> None:
    acc = loads_accelerator(_v1_text(), name="old16")
    spec = acc.systolic
    # the fixed term keeps the file's static power exactly; components are zero; buffers double-buffered
    assert spec.schema_version == 3 and spec.static_power_mw == 7.68
    assert spec.leakage.mac_uw == 0 and "migrated" in spec.leakage.source
    assert math.isclose(spec.static_energy_pj_per_cycle, 7.68)
    assert spec.buffers.ifmap.double_buffered
    # a version-1 file keeps its version-1 error messages (same field paths)
    with pytest.raises(TemplateError, match=r"old16.yaml: array.rows: must be >= 1, got 0"):
        loads_accelerator(_v1_text().replace("rows: 16", "rows: 0"), name="old16")


@pytest.mark.parametrize(("field", "bad", "fragment"), [
    ("freq_mhz: 1000", "freq_mhz: 1e-300", "freq_mhz: must be >= 1, got 1e-300"),
    ("bw_bytes_per_cycle: 16", "bw_bytes_per_cycle: 1e-320", "dram.bw_bytes_per_cycle: must be >= 0.001"),
    ("energy_pj_per_byte: 162.5", "energy_pj_per_byte: 1e308", "dram.energy_pj_per_byte: must be <= 100000"),
    ("rows: 16", "rows: 8589934592", "array.rows: must be <= 65536, got 8589934592"),
    ("size_bytes: 65536  # 64 KiB", "size_bytes: 1e20", "buffers.ifmap.size_bytes: expected an integer"),
    ("size_bytes: 65536  # 64 KiB", "size_bytes: 2251799813685248", "buffers.ifmap.size_bytes: must be <= "
                                                                     "1099511627776"),
    ("  mac_uw: 30", "  mac_uw: 1e300", "leakage.mac_uw: must be <= 1000000"),
])
def test_numeric_fields_are_bounded_so_costs_stay_finite(field, bad, fragment) -> None:
    text = (Path(__file__).parents[2] / "accelerators" / "systolic16x16.yaml").read_text()
    assert field in text
    with pytest.raises(TemplateError) as info:
        loads_accelerator(text.replace(field, bad, 1), name="edge")
    assert fragment in str(info.value) and str(info.value).startswith("edge.yaml: ")
