"""The Python API validates like the CLI (hwmap.api_checks), checked on every public function of hwmap.api, generated
from hwmap.api.__all__ and the signatures: a new function or keyword is covered without editing this file (and fails
here until its keyword has a rule).

- every keyword has a rule; every public function (and its hwmap.<name> re-export) runs the checks before any work;
- wrong types and out-of-range values are one ParameterError naming the keyword; None only where the default is None;
- numpy integers and floats are accepted as the numbers they are; floats where integers are needed are refused;
- the ranges equal the CLI's option parsers' (generated from the Typer app);
- an output that is one of the call's input files is refused (save_graph(g, out=g)); export_graph(out=None) writes
  nothing.
"""

from __future__ import annotations

import inspect
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import typer

import hwmap
import hwmap.api
from hwmap.api_checks import (
    FREE,
    Callback,
    Each,
    FilePath,
    Flag,
    Frame,
    Given,
    Graph,
    Integer,
    Names,
    Number,
    PathOrMapping,
    Shape,
    Space,
    Text,
    TextOrSequence,
    check_arguments,
    rule_for,
)
from hwmap.errors import OutputError, ParameterError

FUNCTIONS = {name: getattr(hwmap.api, name) for name in hwmap.api.__all__
             if inspect.isfunction(getattr(hwmap.api, name))}

TINY_GRAPH = {
    "format": "hwmap.layer_graph", "schema_version": 1, "model": "tiny", "input_shapes": [[1, 128]], "params": 1280,
    "param_bytes": 5120, "buffer_bytes": 0, "capture_mode": "meta", "notes": [], "meta": {}, "total_macs": 1280,
    "nodes": [{"op": "aten.mm.default", "class": "linear", "scope": "fc", "module": "Linear",
               "work": {"kind": "gemm", "batch": 1, "m": 1, "n": 10, "k": 128},
               "inputs": [[[1, 128], "float32", "input:0"], [[128, 10], "float32", "param:fc.w"]],
               "outputs": [[[1, 10], "float32"]]}],
}


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / "tiny.json"
    path.write_text(json.dumps(TINY_GRAPH))
    return path


def _valid(function: str, keyword: str, graph_file) -> object:
    """A value of a required keyword that passes its rule (the call is only checked, never run)."""
    special = {("pareto", "table"): pd.DataFrame({"energy_mj": [1.0]}), ("pareto", "objectives"): ["energy_mj"]}
    if (function, keyword) in special:
        return special[(function, keyword)]
    return {
        "model": "resnet18", "accel": "systolic8x8", "accels": ["systolic8x8"], "out": "out.file", "path": "p.file",
        "out_dir": ".", "paths": "paths.yaml", "data": "data", "table": "table.csv", "graph": hwmap.load_graph(
            graph_file), "cost": object(), "costed": [], "selection": "s.json", "budget_trace": "t.csv",
        "space": "space.yaml", "source": "x.csv", "results": "r.csv",
    }[keyword]


def _bound(function: str, graph_file, **given):
    """The function's signature bound to valid required arguments plus ``given``."""
    signature = inspect.signature(FUNCTIONS[function])
    arguments = {k: _valid(function, k, graph_file) for k, p in signature.parameters.items()
                 if p.default is p.empty and k not in given}
    return signature.bind(**arguments, **given)


def _bad_values(rule) -> list:
    """Wrong types and out-of-range values for a rule."""
    if isinstance(rule, Integer):
        return [3.5, np.float64(2.0), "8", True, rule.minimum - 1, rule.maximum + 1, [1]]
    if isinstance(rule, Number):
        bad = ["1", math.nan, math.inf, True, [1.0]]
        bad += [rule.minimum - 1] + ([rule.maximum + 1] if rule.maximum < 1e18 else [])
        return bad
    if isinstance(rule, Flag):
        return [1, 0, "yes", "False"]
    if isinstance(rule, Text):
        return [5, b"x", ["x"]]
    if isinstance(rule, FilePath):
        return [5, "", 2.5]
    if isinstance(rule, Given):
        return [5, "", " ", True]
    if isinstance(rule, Names):
        return [5, [5], [""]] + ([] if rule.allow_text else ["resnet18"])
    if isinstance(rule, Each):
        return [5, "224", ["x"], [3.5] if isinstance(rule.item, Integer) else [math.nan]]
    if isinstance(rule, Shape):
        return [(3.5, 64, 64), (3, 70000, 8), (3, 64), "3x", 5, (3, 0, 8)]
    if isinstance(rule, TextOrSequence):
        return [5, [None], {"a": 1}]
    if isinstance(rule, Callback):
        return [5, "print"]
    if isinstance(rule, Frame):
        return [[1, 2], {"energy_mj": [1.0]}, 5] + ([] if rule.or_path else ["r.csv"])
    if isinstance(rule, Graph):
        return [5, "g.json", {"nodes": []}]
    if isinstance(rule, PathOrMapping):
        return [5, [1, 2]]
    if isinstance(rule, Space):
        return [42, 2.5, ["space.yaml"], b"space.yaml", ""]
    raise AssertionError(f"no bad values for {rule!r}: add them")


def _cases():
    for function, fn in sorted(FUNCTIONS.items()):
        for keyword in inspect.signature(fn).parameters:
            rule = rule_for(function, keyword)
            if rule is None:
                continue
            for value in _bad_values(rule):
                yield pytest.param(function, keyword, value, id=f"{function}-{keyword}-{value!r}"[:90])


def test_every_keyword_of_every_public_function_has_a_rule():
    missing = [f"{function}({keyword})" for function, fn in FUNCTIONS.items()
               for keyword in inspect.signature(fn).parameters if keyword not in FREE
               and rule_for(function, keyword) is None]
    assert not missing, f"keywords without a rule in hwmap.api_checks.RULES: {missing}"
    assert len(FUNCTIONS) >= 39  # every name of hwmap.api.__all__ but the DesignSpace class


def test_every_public_function_checks_before_it_works():
    for name, function in FUNCTIONS.items():
        assert getattr(function, "__hwmap_checked__", False), f"hwmap.api.{name} is not wrapped"
        assert getattr(hwmap, name) is function, f"hwmap.{name} is not hwmap.api.{name}"


@pytest.mark.parametrize(("function", "keyword", "value"), list(_cases()))
def test_wrong_types_and_out_of_range_values_name_the_keyword(function, keyword, value, graph_file):
    bound = _bound(function, graph_file, **{keyword: value})
    with pytest.raises(ParameterError) as caught:
        check_arguments(FUNCTIONS[function].__wrapped__, bound)
    assert caught.value.param == keyword, str(caught.value)
    assert str(caught.value).startswith(f"{keyword} ") and "\n" not in str(caught.value)


def _none_refused():
    for function, fn in sorted(FUNCTIONS.items()):
        for keyword, parameter in inspect.signature(fn).parameters.items():
            annotation = str(parameter.annotation)
            if keyword in FREE or parameter.default is None or "None" in annotation or "Any" in annotation \
                    or parameter.annotation is parameter.empty:
                continue
            yield pytest.param(function, keyword, id=f"{function}-{keyword}")


@pytest.mark.parametrize(("function", "keyword"), list(_none_refused()))
def test_none_is_refused_where_the_default_is_not_none(function, keyword, graph_file):
    bound = _bound(function, graph_file, **{keyword: None})
    with pytest.raises(ParameterError) as caught:
        check_arguments(FUNCTIONS[function].__wrapped__, bound)
    assert caught.value.param == keyword and str(caught.value).endswith(("got None", "got NoneType"))


def test_numpy_scalars_are_the_numbers_they_are(graph_file):
    bound = _bound("flops", graph_file, batch=np.int64(2), resolution=np.int32(64), top=np.uint8(3),
                   strict=np.bool_(True))
    check_arguments(FUNCTIONS["flops"].__wrapped__, bound)
    values = bound.arguments
    assert (values["batch"], values["resolution"], values["top"], values["strict"]) == (2, 64, 3, True)
    assert all(type(values[k]) is int for k in ("batch", "resolution", "top")) and values["strict"] is True
    bound = _bound("select_paths", graph_file, memory_mb=np.float32(1.5), min_accuracy=np.int64(70),
                   budgets=[np.float64(3.0), 4, "5mJ"])
    check_arguments(FUNCTIONS["select_paths"].__wrapped__, bound)
    assert bound.arguments["memory_mb"] == 1.5 and type(bound.arguments["min_accuracy"]) is float
    assert bound.arguments["budgets"] == [3.0, 4.0, "5mJ"]
    bound = _bound("estimate", graph_file, input_shape=(np.int64(3), 64, np.int16(32)))
    check_arguments(FUNCTIONS["estimate"].__wrapped__, bound)
    assert bound.arguments["input_shape"] == (3, 64, 32)
    bound = _bound("estimate", graph_file, input_shape="3x64x32")  # text, exactly as --input parses it
    check_arguments(FUNCTIONS["estimate"].__wrapped__, bound)
    assert bound.arguments["input_shape"] == (3, 64, 32)


# ---------------------------------------------------------------- real calls


def test_real_calls_are_checked_before_any_work(graph_file):
    with pytest.raises(ParameterError, match=r"^input_shape must be C x H x W .* got \(3\.5, 64, 64\)"):
        hwmap.api.flops("resnet18", input_shape=(3.5, 64, 64))  # was silently truncated to 3x64x64
    with pytest.raises(ParameterError, match=r"^batch must be an integer, got '2' \(a string\)"):
        hwmap.flops(graph_file, batch="2")
    with pytest.raises(ParameterError, match=r"^table must be a pandas DataFrame, got None"):
        hwmap.api.pareto(None, ["energy_mj"])
    with pytest.raises(ParameterError, match=r"^table must be a pandas DataFrame, got \[\{'energy_mj': 1\}\]"):
        hwmap.api.pareto([{"energy_mj": 1}], ["energy_mj"])
    with pytest.raises(ParameterError, match=r"^patterns must be a list of names, not the string 'resnet\*'"):
        hwmap.api.census_models("resnet*")
    with pytest.raises(ParameterError, match=r"^kind must be one of gpu, hierarchy, systolic, vector_pe, got 'bogus'"):
        hwmap.list_accelerators(kind="bogus")  # was an empty list
    assert hwmap.api.flops(graph_file, top=np.int64(1)).total_macs == 1280


def test_export_graph_out_none_writes_nothing(tmp_path, graph_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"^out must be a file path \(str or os.PathLike\), got None"):
        hwmap.api.export_graph(str(graph_file), out=None)
    with pytest.raises(ParameterError, match=r"^out must be"):
        hwmap.api.save_graph(str(graph_file), out="None")
    assert os.listdir(tmp_path) == []


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, graph_file):
    graph = tmp_path / "g.json"
    graph.write_bytes(graph_file.read_bytes())
    before = graph.read_bytes()
    link = tmp_path / "link.json"
    os.link(graph, link)
    for out in (graph, str(graph), link):
        with pytest.raises(OutputError, match=r"^out .* is the same file as the input model"):
            hwmap.api.save_graph(str(graph), out=out)
    with pytest.raises(OutputError, match="is the same file as the input model"):
        hwmap.api.export_graph(str(graph), out=str(graph))
    with pytest.raises(OutputError, match="is the same file as the input model"):
        hwmap.api.export_graph(str(graph), out=graph, format="zigzag")
    assert graph.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["g.json", "link.json"]
    written = hwmap.api.save_graph(str(graph), out=tmp_path / "copy.json")
    assert hwmap.load_graph(written).total_macs == 1280


# ---------------------------------------------------------------- the CLI's ranges


def _cli_parsers():
    """(command, API function, keyword, parser) for every CLI option with a StrictInt/StrictFloat parser."""
    from hwmap.cli import _register_commands, app

    _register_commands([])
    found = []

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
            return
        function = getattr(inspect.unwrap(command.callback), "__hwmap_api__", None)
        for param in command.params:
            info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
            parser = getattr(info, "parser", None) or getattr(getattr(param, "type", None), "func", None)
            if hasattr(parser, "min_value") and function is not None:
                found.append((" ".join(path), function, param.name, parser))

    walk(typer.main.get_command(app), ())
    return found


CLI_PRESENTATION_ONLY = {("sweep", "top")}  # sweep --top: rows shown, not an API keyword (PRESENTATION_FLAGS)


def test_api_ranges_are_the_cli_ranges():
    parsers = _cli_parsers()
    assert len(parsers) >= 15
    for command, function, keyword, parser in parsers:
        if (function, keyword) in CLI_PRESENTATION_ONLY or keyword not in inspect.signature(
                FUNCTIONS[function]).parameters:
            continue
        rule = rule_for(function, keyword)
        rule = rule.item if isinstance(rule, Each) else rule
        assert isinstance(rule, Integer | Number), f"{command} {keyword}: API rule {rule!r}"
        assert (rule.minimum, rule.maximum) == (parser.min_value, parser.max_value), \
            f"{command} --{keyword}: CLI {parser.min_value}..{parser.max_value}, API {rule.minimum}..{rule.maximum}"
