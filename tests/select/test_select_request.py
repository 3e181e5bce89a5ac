"""The selection request (hwmap.select.request): parsed once at the boundary, taken as it is downstream."""

from __future__ import annotations

import pytest

import hwmap
import hwmap.select.budgets as budgets_module
import hwmap.select.pipeline as pipeline_module
from hwmap.errors import HwmapError
from hwmap.select import (
    BudgetLevel,
    Budgets,
    BudgetTrace,
    PathPoint,
    SelectionRequest,
    SelectionTerms,
    TargetPoint,
    run_selection,
)

# name, energy mJ, latency ms, accuracy %: c is the most expensive by energy
POINTS = [PathPoint("a", 2.0, 8.0, 60.0), PathPoint("b", 4.0, 4.0, 70.0), PathPoint("c", 10.0, 5.0, 80.0)]
COSTED_CSV = ("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
              "a,2,8,60,g,1\nb,4,4,70,g,1\nc,10,5,80,g,1\n")


@pytest.fixture
def parses(monkeypatch):
    """Every parse of budget text, counted (Budgets.coerce and parse_budgets both go through _parse_items)."""
    calls: list[str] = []
    real = budgets_module._parse_items

    def counted(text, *, arg):
        calls.append(text)
        return real(text, arg=arg)

    monkeypatch.setattr(budgets_module, "_parse_items", counted)
    return calls


@pytest.fixture
def downstream(monkeypatch):
    """What run_selection hands the ILP: (levels, terms) of each call."""
    seen: list[tuple] = []
    real = pipeline_module.solve_selection

    def spy(points, levels, terms, **kwargs):
        seen.append((levels, terms))
        return real(points, levels, terms, **kwargs)

    monkeypatch.setattr(pipeline_module, "solve_selection", spy)
    return seen


def test_parse_builds_typed_parts():
    request = SelectionRequest.parse(budgets="30mJ,5mJ", budget_weights="1,3", max_paths=2, goal="accuracy",
                                     reference="c")
    assert request.budgets == Budgets((30.0, 5.0), "mJ") and request.metric == "energy" and request.unit == "mJ"
    assert request.level_weights == (1.0, 3.0) and request.reference == "c"
    assert request.terms == SelectionTerms(max_paths=2)
    assert request.levels(reference_value=99.0) == (BudgetLevel(30.0, "energy", 1.0), BudgetLevel(5.0, "energy", 3.0))


def test_fraction_levels_scale_with_the_reference_and_a_trace_merges_steps():
    request = SelectionRequest.parse(budgets="0.5:1.0:0.25", metric="latency")
    assert request.metric == "latency"
    assert [lv.budget for lv in request.levels(reference_value=8.0)] == [4.0, 6.0, 8.0]
    with pytest.raises(HwmapError, match="fraction budgets need a reference that costs more than 0"):
        request.levels(reference_value=0.0)
    trace = BudgetTrace.of([5.0, 3.0, 5.0, 3.0, 5.0], unit="ms", weights=[1, 1, 1, 0, 2])
    request = SelectionRequest.parse(budget_trace=trace)
    assert request.given_levels() == ((3.0, 5.0), (1.0, 4.0))
    assert request.levels(reference_value=1.0) == (BudgetLevel(3.0, "latency", 1.0), BudgetLevel(5.0, "latency", 4.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budgets": "20mJ", "metric": "latency"}, "metric is 'latency' but the budgets are energy"),
        ({}, "budgets and budget_trace: give one of them"),
        ({"budgets": "0.5", "budget_weights": "1,2"}, "budget_weights: 2 weights for 1 budgets"),
        ({"budgets": "0.5", "budget_weights": [1.0, float("nan")]}, "budget_weights: nan is not a weight"),
        ({"budgets": "0.5", "goal": "speed"}, "goal is 'speed'"),
        ({"budgets": "0.5", "max_paths": 0}, "max_paths is 0"),
        ({"budgets": "0.5", "memory_mb": -1.0}, "memory_mb is -1; expected a number >= 0"),
        ({"budgets": "0.5", "goal": "frontier"}, "target_frontier is empty"),
        ({"budgets": "0.5", "target_frontier": [(2.0, 60.0)]}, "only used with goal 'frontier'"),
    ],
)
def test_every_part_is_checked_when_the_request_is_made(kwargs, message):
    with pytest.raises(HwmapError, match=message):
        SelectionRequest.parse(**kwargs)


def test_request_refuses_unparsed_budgets():
    with pytest.raises(HwmapError, match="budgets is a str; expected Budgets or a BudgetTrace"):
        SelectionRequest(budgets="30mJ")


def test_run_selection_takes_the_request_as_it_is(parses, downstream):
    request = SelectionRequest.parse(budgets="5mJ,10mJ", max_paths=2)
    assert parses == ["5mJ,10mJ"]
    result = run_selection(POINTS, request)
    assert parses == ["5mJ,10mJ"]  # nothing downstream parsed the text again
    assert result.chosen_names == ("b", "c") and result.budgets == (5.0, 10.0) and result.budget_unit == "mJ"
    (levels, terms), = downstream
    assert levels == (BudgetLevel(5.0, "energy", 1.0), BudgetLevel(10.0, "energy", 1.0))
    assert terms is request.terms  # the ILP gets the checked terms themselves
    with pytest.raises(HwmapError, match="give a request or max_paths, not both"):
        run_selection(POINTS, request, max_paths=1)


def test_frontier_goal_through_the_request():
    request = SelectionRequest.parse(budgets="1.0", goal="frontier", target_frontier=[(2.0, 60.0), (4.0, 70.0)])
    assert request.goal == "frontier" and request.terms.target_frontier == (TargetPoint(2.0, 60.0),
                                                                              TargetPoint(4.0, 70.0))
    selection = run_selection(POINTS, request).selection
    assert selection.goal == "frontier" and selection.frontier_shortfall == 0.0
    assert selection.chosen_names == ("a", "b", "c")


def test_api_parses_the_budget_once(parses, downstream, monkeypatch, tmp_path):
    received: list = []
    real = pipeline_module.run_selection

    def spy(paths, request=None, **kwargs):
        received.append(request)
        return real(paths, request, **kwargs)

    monkeypatch.setattr(pipeline_module, "run_selection", spy)
    costed = tmp_path / "costed.csv"
    costed.write_text(COSTED_CSV)
    result = hwmap.select_paths(str(costed), budgets="30mJ")
    assert parses == ["30mJ"]
    assert isinstance(received[0], SelectionRequest) and received[0].budgets == Budgets((30.0,), "mJ")
    assert result.chosen_names == ("c",)
    assert downstream[0][0] == (BudgetLevel(30.0, "energy", 1.0),)


def test_cli_parses_the_budget_once(parses, downstream, run_cli, tmp_path):
    costed = tmp_path / "costed.csv"
    costed.write_text(COSTED_CSV)
    code, out, err = run_cli("select-paths", str(costed), "--budget", "30mJ", "--json")
    assert code == 0, err
    assert parses == ["30mJ"]
    assert downstream[0][0] == (BudgetLevel(30.0, "energy", 1.0),)
    assert '"goal": "accuracy"' in out and '"objective"' not in out
