"""Numbers read as written: every YAML file hwmap reads goes through hwmap.yamlio (YAML 1.2 core schema). YAML 1.1
forms (base 60, octal, yes/no, dates, 1_000) are never read as numbers or booleans; a leading-zero integer is one
error naming the field; values shown back are the text the user wrote."""

from __future__ import annotations

import math
import re

import pytest
import yaml

from hwmap.errors import HwmapError
from hwmap.yamlio import Yaml12Loader, dump_yaml, parse_yaml_text

# plain scalar -> what YAML 1.2 core reads (PyYAML's YAML 1.1 reading in the comment)
CORE_SCHEMA = [
    ("1:40", "1:40"),  # 1.1: 100 (base 60)
    ("2:40", "2:40"),  # 1.1: 160
    ("190:20:30", "190:20:30"),  # 1.1: 685230
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),  # 1.1: booleans
    ("true", True), ("False", False), ("TRUE", True),
    ("0o17", 15),  # 1.1: a string
    ("0x1F", 31),
    ("1_000", "1_000"),  # 1.1: 1000
    ("0b101", "0b101"),  # 1.1: 5
    ("2024-01-02", "2024-01-02"),  # 1.1: a date
    ("1e3", 1000.0), ("2.5e-1", 0.25), (".5", 0.5), ("-1.", -1.0), ("+12", 12), ("-3", -3), ("0", 0),
    ("1.0e+3", 1000.0),
    ("~", None), ("null", None), ("NULL", None), ("", None),
    ("0.5", 0.5), ("010.5", 10.5),  # floats have no octal reading in either version
]


@pytest.mark.parametrize(("text", "value"), CORE_SCHEMA)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text, value):
    data, _ = parse_yaml_text(f"a: {text}\n", source="t.yaml")
    assert data["a"] == value and type(data["a"]) is type(value)


def test_special_floats_and_the_loader_class_alone():
    data = yaml.load("[.inf, -.Inf, .NaN, 1:40, 0o10]", Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    assert data[0] == math.inf and data[1] == -math.inf and math.isnan(data[2]) and data[3:] == ["1:40", 8]
    assert yaml.safe_load("a: 1:40") == {"a": 100}  # PyYAML's own loader is unchanged (and would mislead)


@pytest.mark.parametrize(("text", "where", "octal", "decimal"), [
    ("rows: 010\n", "rows", "octal 8", "decimal 10"),
    ("a: {b: [1, -007]}\n", "a.b.1", "octal -7", "decimal -7"),
    ("a: 09\n", "a", "1.1 tools refuse it", "decimal 9"),
    ("a: +0100\n", "a", "octal 64", "decimal 100"),
])
def test_a_leading_zero_integer_is_one_error_naming_the_field(text, where, octal, decimal):
    with pytest.raises(HwmapError) as caught:
        parse_yaml_text(text, source="t.yaml")
    message = str(caught.value)
    assert message.startswith(f"t.yaml: {where}: ") and octal in message and decimal in message
    assert "\n" not in message and "(line 1)" in message


def test_quoted_leading_zeros_are_text_and_every_problem_is_listed():
    assert parse_yaml_text("a: '010'\nb: \"007\"\n", source="t")[0] == {"a": "010", "b": "007"}
    with pytest.raises(HwmapError) as caught:
        parse_yaml_text("a: 010\nb: 020\na: 1\n", source="t")
    assert [p.split(":")[1].strip() for p in str(caught.value).split("; ")] == ["a", "b", "a"]


def test_what_hwmap_writes_reads_back_identically_in_both_yaml_versions():
    document = {"names": ["1e3", "0o17", "yes", "1:40", "010", "1_000", ".5", "null", "2024-01-01", "x", ""],
                "numbers": [1.5, 10, -3, 0.25], "flags": [True, False], "none": None}
    text = dump_yaml(document)
    assert parse_yaml_text(text, source="t")[0] == document
    assert yaml.safe_load(text) == document


# ---------------------------------------------------------------- every YAML reader, through the CLI


def _edit(path, pattern: str, new: str) -> None:
    text = path.read_text()
    changed = re.sub(pattern, new, text, count=1, flags=re.MULTILINE)
    assert changed != text, pattern
    path.write_text(changed)


@pytest.mark.parametrize(("pattern", "new", "names"), [
    (r"^freq_mhz: \d+", "freq_mhz: 1:40", ("freq_mhz", "'1:40'", "number")),
    (r"^  rows: \d+", "  rows: 010", ("array.rows", "010", "leading zero")),
    (r"double_buffered: true", "double_buffered: yes", ("double_buffered", "true or false", "'yes'")),
    (r"double_buffered: true", "double_buffered: on", ("double_buffered", "'on'")),
    (r"^  rows: \d+", "  rows: 1_000", ("array.rows", "'1_000'")),
])
def test_accelerator_template_numbers_as_written(inputs, hostile, pattern, new, names):
    _edit(inputs["accel"], pattern, new)
    hostile("estimate", inputs["graph"], "--accel", inputs["accel"], names=(inputs["accel"].name, *names))


@pytest.mark.parametrize(("new", "names"), [
    ("    resolution: 2:40", ("paths.1.resolution", "'2:40'")),
    ("    resolution: 0160", ("paths.1.resolution", "leading zero", "decimal 160")),
    ("    resolution: 160.0", ("paths.1.resolution", "160.0")),
    ("    resolution: '160'", ("paths.1.resolution", "'160'")),
])
def test_paths_file_numbers_as_written(inputs, hostile, new, names):
    _edit(inputs["paths"], r"^    resolution: 160", new)
    hostile("paths", "cost", inputs["paths"], "--accel", "systolic8x8", names=(inputs["paths"].name, *names))


@pytest.mark.parametrize(("new", "names"), [
    ("  array.rows: [8, 010]", ("axes.array.rows.1", "leading zero")),
    ("  array.rows: [8, 0:20]", ("array.rows", "'0:20'")),
])
def test_design_space_numbers_as_written(inputs, hostile, new, names):
    _edit(inputs["space"], r"^  array.dataflow: \[ws, os\]", new)
    hostile("sweep", inputs["space"], "--workers", "1", names=(inputs["space"].name, *names))


@pytest.mark.parametrize(("pattern", "new", "names"), [
    (r"timing_cases: \d+", "timing_cases: 0280", ("settings.timing_cases", "leading zero")),
    (r"tf32: true", "tf32: yes", ("settings.tf32", "bool")),
    (r"timing_cases: \d+", "timing_cases: 4:40", ("settings.timing_cases", "integer")),
])
def test_calibration_file_numbers_as_written(inputs, hostile, pattern, new, names):
    _edit(inputs["calibration"], pattern, new)
    hostile("estimate", inputs["graph"], "--accel", "h100_sxm", "--calibration", inputs["calibration"],
            names=(inputs["calibration"].name, *names))


def test_a_gpu_template_reads_yaml_1_2_too(tmp_path, hostile):
    from hwmap.hardware.catalog import find_template

    template = tmp_path / "gpu.yaml"
    template.write_text(find_template("h100_sxm").read_text())
    _edit(template, r"^(\s*)sm_count: \d+", r"\g<1>sm_count: 0132")
    hostile("estimate", "resnet18", "--accel", template, names=("gpu.yaml", "sm_count", "leading zero"))
