"""`--budget 30mJ` is text only at the boundary: every hwmap function that is called with the budget text, traced
with sys.setprofile, is the API / CLI entry or the budget parser (hwmap.select.budgets), the parser is entered
once, and everything past SelectionRequest.parse receives parsed objects (issue 22)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import hwmap
from hwmap.select import Budgets, SelectionRequest

PACKAGE = Path(hwmap.__file__).resolve().parent
TEXT = "30mJ"
COSTED_CSV = ("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
              "a,2,8,60,g,1\nb,4,4,70,g,1\nc,10,5,80,g,1\n")
PARSER = "select/budgets.py"


def _calls_with(text: str, run) -> tuple[list, list, list]:
    """Run ``run()`` and return the (file, function) of every hwmap call that got ``text`` in an argument, in call
    order; the (file, function, request) of every hwmap call that got a SelectionRequest; the (file, function) of
    every call into the budget parser from outside it."""
    with_text: list[tuple[str, str]] = []
    with_request: list[tuple[str, str, object]] = []
    parser_entries: list[tuple[str, str]] = []  # calls into the parser from outside it

    def profile(frame, event, _arg):
        if event != "call" or not frame.f_code.co_filename.startswith(str(PACKAGE)):
            return
        code = frame.f_code
        where = (Path(code.co_filename).relative_to(PACKAGE).as_posix(), code.co_qualname)
        caller = frame.f_back.f_code.co_filename if frame.f_back is not None else ""
        for name in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
            value = frame.f_locals.get(name)
            if isinstance(value, str) and text in value:
                with_text.append(where)
                if where[0] == PARSER and not caller.endswith(PARSER):
                    parser_entries.append(where)
                break
            if isinstance(value, SelectionRequest):
                with_request.append((*where, value))
                break

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return with_text, with_request, parser_entries


def _boundary(where: tuple[str, str]) -> bool:
    file, function = where
    return (file in ("api.py", "api_checks.py") or file.startswith("cli/") or file == PARSER
            or function == "SelectionRequest.parse")


def _check(with_text, with_request, parser_entries) -> None:
    assert with_text, "the trace saw nothing: the check would pass vacuously"
    past_the_boundary = sorted({w for w in with_text if not _boundary(w)})
    assert past_the_boundary == [], f"budget text handed on past the parser: {past_the_boundary}"
    assert len(parser_entries) == 1, f"the budget text is parsed more than once: {parser_entries}"
    # what the library receives instead: the parsed request
    assert with_request and all(r.budgets == Budgets((30.0,), "mJ") for _, _, r in with_request)
    assert ("select/pipeline.py", "run_selection") in {(f, fn) for f, fn, _ in with_request}


@pytest.fixture
def costed(tmp_path) -> Path:
    path = tmp_path / "costed.csv"
    path.write_text(COSTED_CSV)
    return path


def test_the_api_hands_on_parsed_budgets_only(costed) -> None:
    result = []
    _check(*_calls_with(TEXT, lambda: result.append(hwmap.select_paths(str(costed), budgets=TEXT))))
    assert result[0].chosen_names == ("c",)


def test_the_cli_hands_on_parsed_budgets_only(costed, run_cli) -> None:
    outcome = []
    _check(*_calls_with(TEXT, lambda: outcome.append(run_cli("select-paths", str(costed), "--budget", TEXT,
                                                              "--json"))))
    code, out, err = outcome[0]
    assert code == 0, err
    assert '"goal": "accuracy"' in out


def test_the_check_fails_on_text_past_the_parser() -> None:
    from hwmap.select.budgets import parse_budgets

    with_text, _, entries = _calls_with(TEXT, lambda: (parse_budgets(TEXT), parse_budgets(TEXT)))
    assert with_text[0] == entries[0] == (PARSER, "parse_budgets")  # the trace sees a library call with the text
    with pytest.raises(AssertionError, match="past the parser"):
        _check([*with_text, ("select/pipeline.py", "run_selection")], [], entries[:1])
    with pytest.raises(AssertionError, match="parsed more than once"):
        _check(with_text, [], entries)
