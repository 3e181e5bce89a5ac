"""The CLI runs on every typer from 0.13 to the newest (pyproject has no upper cap): it never uses click directly
(typer 0.26+ runs on its own copy of click, so click's context and exceptions are not the ones raised) and passes no
click_type (removed in typer 0.29); strict numbers are typer parsers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer

from hwmap.cli.options import StrictFloat, StrictInt

CLI = Path(__file__).resolve().parents[2] / "hwmap" / "cli"


@pytest.mark.parametrize("source", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_no_click_import_and_no_click_type(source):
    tree = ast.parse(source.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "click" for a in node.names), f"{source.name}:{node.lineno}"
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "click", f"{source.name}:{node.lineno}"
        elif isinstance(node, ast.keyword):
            assert node.arg != "click_type", f"{source.name}:{node.lineno}: use parser= (typer 0.29 has no click_type)"


def test_strict_parsers_accept_digits_and_reject_the_rest():
    top = StrictInt(min_value=1, max_value=10)
    assert top("7") == 7 and top(" 10 ") == 10 and top(3) == 3
    for bad, why in (("1_0", "not an integer"), ("²", "not an integer"), ("0", "out of range"), ("11", "out of range"),
                     ("3.0", "not an integer")):
        with pytest.raises(typer.BadParameter, match=why):
            top(bad)
    share = StrictFloat(min_value=0.0, max_value=100.0)
    assert share("2.5e1") == 25.0 and share(".5") == 0.5 and share(3) == 3.0
    for bad in ("nan", "inf", "1e400", "-1", "100.5", "1,5"):
        with pytest.raises(typer.BadParameter):
            share(bad)


def test_usage_errors_are_one_line_with_the_option_name(run_cli):
    code, out, err = run_cli("flops", "resnet50", "--batch", "0")
    assert code == 2 and out == ""
    assert err == ("hwmap: error: Invalid value for '--batch': 0 is out of range: expected an integer from 1 to "
                   "1048576 (see hwmap flops --help)\n")
    code, _, err = run_cli("estimate", "resnet50", "--accel", "systolic16x16", "--dataflow", "xx")
    assert code == 2 and err == ("hwmap: error: Invalid value for '--dataflow': 'xx' is not one of 'ws', 'os', 'is'. "
                                 "(see hwmap estimate --help)\n")
