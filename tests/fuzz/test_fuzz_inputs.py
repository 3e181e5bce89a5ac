"""Malformed inputs of every format hwmap reads: each is exit 2 and one stderr line naming the file (and the field
where there is one), no internal error, the input byte-identical afterwards, no file left behind.

Generic mutations (empty, binary, not UTF-8, garbage, cut in the middle, absurdly nested) are generated for every
format; hand-made cases cover each format's fields."""

from __future__ import annotations

import json

import pytest

# kind -> the command that reads it ({F} the damaged file; other kinds by name stay valid)
READERS = {
    "graph": ["flops", "{F}"],
    "topology": ["flops", "{F}"],
    "costed": ["select-paths", "{F}", "--budget", "0.5"],
    "selection": ["simulate", "{F}", "--budget-trace", "{trace}"],
    "trace": ["simulate", "{selection}", "--budget-trace", "{F}"],
    "paths": ["paths", "cost", "{F}", "--accel", "systolic8x8"],
    "cfg": ["estimate", "{graph}", "--accel", "{F}"],
    "accel": ["estimate", "{graph}", "--accel", "{F}"],
    "space": ["sweep", "{F}", "--workers", "1"],
    "results": ["plot", "pareto", "{F}", "--out", "{F}.png"],
    "calibration": ["estimate", "{graph}", "--accel", "h100_sxm", "--calibration", "{F}"],
}
READ_ONCE = {"hf": ["flops", "hf:{F}"]}  # builds a transformers model: hand-made cases only (seconds each)


def _cut(data: bytes) -> bytes:
    """The first half, cut inside a line (a cut at a line end can leave a valid, shorter file)."""
    cut = len(data) // 2
    while cut > 1 and data[cut - 1:cut] in (b"\n", b",", b" "):
        cut -= 1
    return data[:cut]


MUTATIONS = {
    "empty": lambda data: b"",
    "binary": lambda data: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + data[:40],
    "not-utf8": lambda data: b"\xff\xfe\xe9" + data,
    "garbage": lambda data: b"}{ ][ :: %(foo)s ,,, \"\n\t- - -\n",
    "truncated": _cut,
    "nested": lambda data: b"[" * 100_000,
}


def _argv(kind: str, path, inputs) -> list[str]:
    return [part.format(F=path, **{k: v for k, v in inputs.items()}) for part in {**READERS, **READ_ONCE}[kind]]


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("kind", sorted(READERS))
def test_generated_malformed_input(kind, mutation, inputs, hostile):
    path = inputs[kind]
    path.write_bytes(MUTATIONS[mutation](path.read_bytes()))
    hostile(*_argv(kind, path, inputs), names=path.name)


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _edit_json(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


CASES = [
    # graph JSON geometry and strictness
    ("graph", lambda p: _edit(p, '"kernel": [3, 3]', '"kernel": [-7, -7]'), "work field 'kernel'"),
    ("graph", lambda p: _edit(p, '"kernel": [3, 3]', '"kernel": [7.9, 7.9]'), "work field 'kernel'"),
    ("graph", lambda p: _edit(p, '"stride": [2, 2]', '"stride": [0, 0]'), "conv stride [0, 0]"),
    ("graph", lambda p: _edit(p, '"groups": 1', '"groups": 0'), "conv groups 0"),
    ("graph", lambda p: _edit(p, '"groups": 1', '"groups": 2'), "conv groups 2"),
    ("graph", lambda p: _edit(p, '"padding": [1, 1]', '"padding": [-1, 1]'), "work field 'padding'"),
    ("graph", lambda p: _edit(p, '"model": "tiny"', '"model": "tiny", "model": "other"'), "duplicate key 'model'"),
    ("graph", lambda p: _edit(p, '"params": 1496', '"params": NaN'), "NaN"),
    ("graph", lambda p: _edit(p, '"buffer_bytes": 0', '"buffer_bytes": 1' + "0" * 30), "too large"),
    ("graph", lambda p: _edit(p, '"input_shapes": [[1, 3, 8, 8]]', '"input_shapes": [[1, -3, 8, 8]]'),
     "tensor shape [1, -3, 8, 8]"),
    ("graph", lambda p: _edit(p, '"out_spatial": [4, 4]', '"out_spatial": [40, 40]'), "conv output size"),
    # SCALE-Sim topology
    ("topology", lambda p: _edit(p, "conv3x3,16,", "conv3x3,1" + "0" * 23 + ","), "field 'IFMAP Height'"),
    ("topology", lambda p: _edit(p, "conv3x3,16,", "conv3x3,1²,"), "field 'IFMAP Height'"),
    ("topology", lambda p: _edit(p, "conv3x3,16,", "conv3x3,0,"), "field 'IFMAP Height'"),
    ("topology", lambda p: _edit(p, "conv3x3,16,", "conv3x3,1_6,"), "field 'IFMAP Height'"),
    ("topology", lambda p: p.write_text(p.read_text() + "convDP,64,64,3,3,1000000,1,1,\n"), "more than 250,000"),
    # SCALE-Sim .cfg: settings hwmap does not model, numbers out of range
    ("cfg", lambda p: _edit(p, "InterfaceBandwidth: CALC", "InterfaceBandwidth: USER"), "InterfaceBandwidth = USER"),
    ("cfg", lambda p: _edit(p, "SparsitySupport : false", "SparsitySupport : true"), "SparsitySupport = true"),
    ("cfg", lambda p: _edit(p, "IfmapCustomLayout: False", "IfmapCustomLayout: True"), "IfmapCustomLayout"),
    ("cfg", lambda p: _edit(p, "ArrayHeight:    8", "ArrayHeight: 1" + "0" * 23), "ArrayHeight"),
    ("cfg", lambda p: _edit(p, "ArrayHeight:    8", "ArrayHeight: -8"), "ArrayHeight"),
    # costed CSV
    ("costed", lambda p: _edit(p, "weight_mb\n", "weight_mb,energy_mj\n"), "energy_mj appear more than once"),
    ("costed", lambda p: _edit(p, "full,10,5,80,a,20", "full,10,5,80,a,20,extra"), "line 2: 7 fields"),
    ("costed", lambda p: _edit(p, "full,10,", "full,nan,"), "column energy_mj"),
    ("costed", lambda p: _edit(p, "full,10,5,", "full,10,-5,"), "column latency_ms"),
    ("costed", lambda p: _edit(p, ",80,", ",180,"), "column accuracy"),
    ("costed", lambda p: _edit(p, "full,10,", "full,ten,"), "column energy_mj"),
    ("costed", lambda p: _edit(p, "half,", "full,"), "'full' appears twice"),
    ("costed", lambda p: _edit(p, "weight_mb\n", "weight_mb,colour\n"), "unknown column(s) 'colour'"),
    # selection JSON
    ("selection", lambda p: _edit_json(p, lambda d: d["chosen"][0].update(energy_mj=-5.0)), "chosen[0].energy_mj"),
    ("selection", lambda p: _edit(p, '"energy_mj": 2.0', '"energy_mj": NaN'), "NaN"),
    ("selection", lambda p: _edit_json(p, lambda d: d.update(energy_saved_pct=2538.9)), "energy_saved_pct"),
    ("selection", lambda p: _edit_json(p, lambda d: d.update(colour="red")), "unknown field(s) colour"),
    ("selection", lambda p: _edit_json(p, lambda d: d.pop("table")), "missing field(s) table"),
    ("selection", lambda p: _edit_json(p, lambda d: d["chosen"][0].update(accuracy=180)), "chosen[0].accuracy"),
    ("selection", lambda p: _edit_json(p, lambda d: d.update(chosen=[])), "chosen must be a non-empty list"),
    # budget trace
    ("trace", lambda p: p.write_text("budget_mj\n1_0\n"), "'1_0'"),
    ("trace", lambda p: p.write_text("budget_mj\nnan\n"), "'nan'"),
    ("trace", lambda p: p.write_text("budget_mj\n-3\n"), "'-3'"),
    ("trace", lambda p: p.write_text("budget_mj,budget_mj\n3,4\n"), "appears twice"),
    ("trace", lambda p: p.write_text("budget\n3\n"), "has no unit"),
    ("trace", lambda p: p.write_text("budget_fraction\n0.5\n"), "holds fractions"),
    ("trace", lambda p: p.write_text("# unit: kJ\nbudget\n3\n"), "unit 'kJ'"),
    # paths YAML
    ("paths", lambda p: p.write_text(p.read_text().rstrip("\n")), "may be truncated"),
    ("paths", lambda p: _edit(p, "name: small", "name: full"), "repeated: full"),
    # accelerator YAML through --accel path.yaml: the result would be inf
    ("accel", lambda p: _edit(p, "freq_mhz: ", "freq_mhz: 1.0e-320 #"), "freq_mhz"),
    # sweep results for plot pareto
    ("results", lambda p: _edit(p, "a,tiny,ok,1.5,", "a,tiny,ok,lots,"), "'lots', which is not a number"),
    ("results", lambda p: _edit(p, "energy_mj", "energy"), "no column 'energy_mj'"),
    # Hugging Face configs
    ("hf", lambda p: _edit(p, '"image_size": 32', '"image_size": "ab"'), "image_size"),
    ("hf", lambda p: _edit(p, '"image_size": 32', '"image_size": -5'), "config field image_size is -5"),
    # sweep space
    ("space", lambda p: _edit(p, "[ws, os]", "[ws, ws]"), "space.yaml"),
    ("space", lambda p: _edit(p, "graph.json", "missing.json"), "missing.json"),
]


@pytest.mark.parametrize(("kind", "damage", "name"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_malformed_field(kind, damage, name, inputs, hostile):
    path = inputs[kind]
    damage(path)
    hostile(*_argv(kind, path, inputs), names=(name,))


def test_a_bom_and_interpolation_text_are_accepted(inputs, run_cli):
    """What the readers must NOT reject: a UTF-8 BOM on CSVs, '%' in .cfg values (interpolation is off)."""
    inputs["costed"].write_bytes(b"\xef\xbb\xbf" + inputs["costed"].read_bytes())
    code, out, err = run_cli("select-paths", str(inputs["costed"]), "--budget", "0.5", "--json")
    assert code == 0, err
    assert json.loads(out)["chosen_names"]
    inputs["trace"].write_bytes(b"\xef\xbb\xbf" + inputs["trace"].read_bytes())
    code, out, err = run_cli("simulate", str(inputs["selection"]), "--budget-trace", str(inputs["trace"]), "--json")
    assert code == 0, err
    _edit(inputs["cfg"], "run_name = conv_os_8x32_sram4k", "run_name = %(foo)s")
    code, out, err = run_cli("estimate", str(inputs["graph"]), "--accel", str(inputs["cfg"]), "--json")
    assert code == 0, err
    assert json.loads(out)["macs"] == 4736


NUMERIC_OPTIONS = [
    (["flops", "{graph}", "--top", "-2"], "--top"),
    (["flops", "{graph}", "--depth", "-1"], "--depth"),
    (["flops", "resnet18", "--num-classes", "-3"], "--num-classes"),
    (["flops", "resnet18", "--batch", "1" + "0" * 18], "--batch"),
    (["flops", "resnet18", "--resolution", "1" + "0" * 23], "--resolution"),
    (["flops", "resnet18", "--batch", "1_0"], "--batch"),
    (["flops", "resnet18", "--input", "3x²x64"], "--input"),
    (["flops", "resnet18", "--input", "3x0x64"], "--input"),
    (["estimate", "{graph}", "--accel", "systolic8x8", "--top", "-1"], "--top"),
    # the API names its parameter (budgets); the CLI shows the flag (--budget): "budget" matches both
    (["select-paths", "{costed}", "--budget", "1_0"], "budget"),
    (["select-paths", "{costed}", "--budget", "nan"], "budget"),
    (["select-paths", "{costed}", "--budget", "0"], "budget"),
    (["select-paths", "{costed}", "--budget", "5mJ,2ms"], "budget"),
    (["select-paths", "{costed}", "--budget", "0.5", "--max-paths", "-1"], "--max-paths"),
    (["select-paths", "{costed}", "--budget", "0.5", "--memory-mb", "inf"], "--memory-mb"),
    (["select-paths", "{costed}", "--budget", "0.5", "--min-accuracy", "180"], "--min-accuracy"),
    (["simulate", "{selection}", "--budget-trace", "{trace}", "--switch-energy-mj", "-1"], "--switch-energy-mj"),
    (["sweep", "{space}", "--workers", "0"], "--workers"),
    (["sweep", "{space}", "--chunk-size", "-4"], "--chunk-size"),
    (["evaluate", "{paths}", "--data", "{paths}", "--std", "nan,nan,nan"], "--std"),
    (["evaluate", "{paths}", "--data", "{paths}", "--std", "0,1,1"], "--std"),
    (["evaluate", "{paths}", "--data", "{paths}", "--batch", "0"], "--batch"),
    (["measure", "resnet18", "--reps", "0"], "--reps"),
    (["paths", "generate", "resnet18", "--out", "x.yaml", "--skip-last", "-1"], "--skip-last"),
]


@pytest.mark.parametrize(("argv", "option"), NUMERIC_OPTIONS,
                         ids=[" ".join(a[:1] + a[-2:]) for a, _ in NUMERIC_OPTIONS])
def test_numeric_options_are_validated(argv, option, inputs, hostile):
    hostile(*[part.format(**inputs) for part in argv], names=(option,))


def test_usage_errors_are_one_line(hostile):
    hostile("flops", names="Missing argument")
    hostile("nosuchcommand", names="nosuchcommand")
    hostile("flops", "x.json", "--by", "colour", names="--by")
