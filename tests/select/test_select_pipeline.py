"""The one selection pipeline (hwmap.select.pipeline) and its API (hwmap.api.select_paths / simulate), checked
against selections and replays worked out by hand."""

from __future__ import annotations

import json

import pytest

import hwmap
from hwmap.errors import HwmapError, InputFileError
from hwmap.paths.catalog import Accuracy
from hwmap.paths.costing import CostedPath
from hwmap.select import (
    BudgetTrace,
    InfeasibleSelectionError,
    PathPoint,
    SelectionResult,
    make_levels,
    path_points,
    run_selection,
    select_paths,
    simulate_selection,
)
from hwmap.select.readers import read_selection, selection_from_data


def _costed(name, energy_mj, latency_ms, accuracy, group="g", weight_mb=1.0):
    acc = None if accuracy is None else Accuracy(accuracy, "top1", "user", "made up for this test")
    return CostedPath(name=name, model="m", energy_mj=energy_mj, latency_ms=latency_ms, cycles=1.0, macs=1,
                      weight_group=group, weight_mb=weight_mb, accuracy=acc)


# name, energy mJ, latency ms, accuracy %: d is the most expensive by energy, a the slowest; u has no accuracy
PATHS = [_costed("a", 2.0, 8.0, 60.0), _costed("b", 4.0, 4.0, 70.0), _costed("c", 6.0, 6.0, 75.0),
         _costed("d", 10.0, 5.0, 80.0), _costed("u", 3.0, 3.0, None)]


def test_path_points_from_costed_paths():
    points, unknown = path_points(PATHS, drop_unknown=True)
    assert [p.name for p in points] == ["a", "b", "c", "d"] and unknown == ["u"]
    assert points[1] == PathPoint("b", 4.0, 4.0, 70.0, "user: made up for this test", "g", 1.0)
    with pytest.raises(HwmapError, match="1 path\\(s\\) have no accuracy: u; .* set drop_unknown"):
        path_points(PATHS, drop_unknown=False)


def test_fractions_of_the_default_reference():
    # reference d (10 mJ): 0.5 -> 5 mJ runs b (70 %), 1.0 -> 10 mJ runs d (80 %)
    # expected accuracy 75, expected energy (4 + 10) / 2 = 7 mJ: 30 % saved against always running d
    result = run_selection(PATHS, budgets="0.5,1.0", drop_unknown=True)
    assert isinstance(result, SelectionResult)
    assert result.reference.name == "d" and result.reference_value == 10.0 and result.metric == "energy"
    assert result.chosen_names == ("b", "d") and result.dropped == ("u",)
    assert result.budget_unit == "fraction" and result.budgets == (0.5, 1.0)
    assert result.expected_accuracy == pytest.approx(75.0)
    assert result.energy_saved_pct == pytest.approx(30.0)
    assert result.describe_budgets() == "budgets are fractions of d (10 mJ)"
    assert result.rows() == [
        {"budget": 0.5, "budget_unit": "fraction", "budget_mj": 5.0, "weight": 1.0, "path": "b", "energy_mj": 4.0,
         "latency_ms": 4.0, "accuracy": 70.0},
        {"budget": 1.0, "budget_unit": "fraction", "budget_mj": 10.0, "weight": 1.0, "path": "d",
         "energy_mj": 10.0, "latency_ms": 5.0, "accuracy": 80.0},
    ]


def test_fractions_of_a_named_reference():
    # reference c (6 mJ): 0.5 -> 3 mJ runs a (60 %), 1.0 -> 6 mJ runs c (75 %), 1.5 -> 9 mJ runs c as well
    # (d's 10 mJ does not fit); expected energy (2 + 6 + 6) / 3 = 4.667 mJ against c's 6: 22.2 % saved
    result = run_selection(PATHS, budgets=[0.5, 1.0, 1.5], reference="c", drop_unknown=True)
    assert result.reference.name == "c" and result.reference_value == 6.0
    assert [row["path"] for row in result.rows()] == ["a", "c", "c"]
    assert [row["budget_mj"] for row in result.rows()] == [3.0, 6.0, 9.0]
    assert result.energy_saved_pct == pytest.approx(100 * (6 - 14 / 3) / 6)
    assert result.accuracy_drop == pytest.approx(75 - (60 + 75 + 75) / 3)
    assert result.selection.full_model.name == "c"  # the baseline is the reference


def test_absolute_budgets_and_latency():
    # 5 ms fits b (4 ms) and d (5 ms): d runs (80 %); 8 ms: every path fits, d runs
    result = run_selection(PATHS, budgets="5ms,8ms", drop_unknown=True)
    assert result.metric == "latency" and result.budget_unit == "ms"
    assert result.chosen_names == ("d",) and [row["budget_ms"] for row in result.rows()] == [5.0, 8.0]
    assert result.reference.name == "a"  # the slowest path (8 ms) is the default reference on latency
    # half of a's 8 ms is 4 ms: b (4 ms, 70 %) and u (dropped) fit; b runs
    assert run_selection(PATHS, budgets="0.5", metric="latency", drop_unknown=True).chosen_names == ("b",)
    # 4000 uJ = 4 mJ: a or b; b is more accurate
    assert run_selection(PATHS, budgets="4000uJ", drop_unknown=True).chosen_names == ("b",)


def test_budget_weights_and_goal_frontier():
    # weights 3:1 on 0.5 (b, 70) and 1.0 (d, 80): expected accuracy (3 * 70 + 80) / 4 = 72.5
    result = run_selection(PATHS, budgets="0.5,1.0", budget_weights="3,1", drop_unknown=True)
    assert result.expected_accuracy == pytest.approx(72.5)
    # frontier goal: reach 60 % within 2 mJ (a) and 75 % within 6 mJ (c); the 1.0 budget needs a path of <= 10 mJ
    result = run_selection(PATHS, budgets="1.0", goal="frontier", target_frontier=[(2.0, 60.0), (6.0, 75.0)],
                           drop_unknown=True)
    assert set(result.chosen_names) >= {"a", "c"} and result.selection.frontier_shortfall == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budgets": "20mJ", "metric": "latency"}, "metric is 'latency' but the budgets are energy"),
        ({"budgets": "20mJ,5ms"}, "budgets: '20mJ' is energy \\(mJ\\) but '5ms' is latency"),
        ({"budgets": "0.5", "reference": "full"}, "reference 'full' is not one of the paths; expected one of a, b, "
                                                  "c, d"),
        ({"budgets": "0.5", "reference": "u"}, "reference 'u' has no accuracy and was left out"),
        ({}, "budgets and budget_trace: give one of them"),
        ({"budgets": "0.5", "budget_weights": "1,2"}, "budget_weights: 2 weights for 1 budgets"),
        ({"budgets": "0.5", "goal": "speed"}, "goal is 'speed'"),
        ({"budgets": "0.5", "max_paths": 0}, "max_paths is 0"),
    ],
)
def test_errors_name_the_parameter(kwargs, message):
    with pytest.raises(HwmapError, match=message):
        run_selection(PATHS, drop_unknown=True, **kwargs)


def test_infeasible_fraction_names_the_fraction_that_would_work():
    # 0.1 of d = 1 mJ is below the cheapest path (a, 2 mJ = 0.2 of d)
    with pytest.raises(InfeasibleSelectionError, match="smallest feasible budget is 2 mJ.*= 0.2 of the reference d"):
        run_selection(PATHS, budgets="0.1", drop_unknown=True)


def test_budget_trace_levels(tmp_path):
    # fractions 0.5 (twice) and 1.0 of d: levels 5 mJ (weight 2) -> b, 10 mJ (weight 1) -> d
    trace = tmp_path / "trace.csv"
    trace.write_text("budget_fraction\n0.5\n1.0\n0.5\n")
    result = run_selection(PATHS, budget_trace=str(trace), drop_unknown=True)
    assert result.budget_unit == "fraction" and result.budgets == (0.5, 1.0)
    assert [(r.budget, r.weight, r.path) for r in result.selection.table] == [(5.0, 2.0, "b"), (10.0, 1.0, "d")]
    assert result.expected_accuracy == pytest.approx((2 * 70 + 80) / 3)
    trace.write_text("# unit: ms\nbudget\n5\n")
    assert run_selection(PATHS, budget_trace=trace, drop_unknown=True).metric == "latency"
    with pytest.raises(HwmapError, match="metric is 'energy' but the budgets are latency"):
        run_selection(PATHS, budget_trace=trace, metric="energy", drop_unknown=True)
    with pytest.raises(HwmapError, match="budget_weights applies to budgets"):
        run_selection(PATHS, budget_trace=trace, budget_weights=[1.0], drop_unknown=True)


@pytest.fixture(scope="module")
def fraction_selection():
    return run_selection(PATHS, budgets="0.5,1.0", drop_unknown=True)  # b at 5 mJ, d at 10 mJ; reference d


def test_simulate_a_fraction_trace_against_a_fraction_selection(fraction_selection):
    # 0.5, 1.0, 0.3 of 10 mJ = 5, 10, 3 mJ -> b, d, and nothing fits 3 mJ: the cheapest chosen (b), a violation
    # energy 4 + 10 + 4 = 18 mJ of 3 x 10 = 30: 40 % saved
    result = simulate_selection(fraction_selection, BudgetTrace.of([0.5, 1.0, 0.3], unit="fraction"))
    assert result.trace_unit == "fraction" and result.fraction_scale == 10.0 and result.reference == "d"
    assert result.steps_per_path == (("b", 2), ("d", 1)) and result.violations == 1
    assert result.energy_used_mj == pytest.approx(18.0) and result.energy_saved_pct == pytest.approx(40.0)
    # an absolute trace on the same metric is fine: 5 and 10 mJ
    absolute = simulate_selection(fraction_selection, BudgetTrace.of([5, 10], unit="mJ"))
    assert absolute.steps_per_path == (("b", 1), ("d", 1)) and absolute.fraction_scale is None


def test_simulate_refuses_a_trace_in_the_wrong_unit(fraction_selection):
    absolute = run_selection(PATHS, budgets="5mJ,10mJ", drop_unknown=True)
    with pytest.raises(HwmapError, match="holds fractions but the selection's budgets are in mJ: give the trace "
                                         "in mJ"):
        simulate_selection(absolute, BudgetTrace.of([0.5], unit="fraction"))
    with pytest.raises(HwmapError, match="is in ms \\(latency\\) but the selection is on energy"):
        simulate_selection(fraction_selection, BudgetTrace.of([5], unit="ms"))
    # a bare Selection (no record of its budgets) counts as absolute: fractions are refused
    bare = select_paths(path_points(PATHS, drop_unknown=True)[0], make_levels([5.0, 10.0]))
    with pytest.raises(HwmapError, match="holds fractions"):
        simulate_selection(bare, BudgetTrace.of([0.5], unit="fraction"))


def test_selection_json_round_trip(fraction_selection, tmp_path):
    data = json.loads(json.dumps(fraction_selection.to_dict(), allow_nan=False))
    assert data["budget_unit"] == "fraction" and data["budgets"] == [0.5, 1.0] and data["reference"] == "d"
    assert data["reference_energy_mj"] == 10.0 and data["reference_latency_ms"] == 5.0
    assert data["dropped_without_accuracy"] == ["u"]
    assert selection_from_data(data, origin="test") == fraction_selection
    # a file from before budgets had units: read as absolute budgets, full_model the reference
    old = {k: v for k, v in data.items() if k not in ("budget_unit", "budgets", "reference", "reference_energy_mj",
                                                      "reference_latency_ms", "budget_rows", "chosen_vs_reference")}
    old["chosen_vs_full"] = []
    legacy = selection_from_data(old, origin="old")
    assert legacy.budget_unit == "mJ" and legacy.budgets == (5.0, 10.0) and legacy.reference.name == "d"
    for change, message in (({"budget_unit": "ms"}, "budget_unit 'ms' does not match metric 'energy'"),
                            ({"budget_unit": "kJ"}, "budget_unit 'kJ'"),
                            ({"reference": "b"}, "reference 'b' is not full_model's name 'd'"),
                            ({"reference_energy_mj": 9.0}, "reference_energy_mj 9.0 is not full_model's"),
                            ({"budgets": [0.5]}, "one budget per table row"),
                            ({"budgets": [0.5, float("inf")]}, "budgets\\[1\\]")):
        with pytest.raises(InputFileError, match=message):
            selection_from_data({**data, **change}, origin="bad")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    assert read_selection(path) == fraction_selection


def test_api_select_paths_and_simulate(tmp_path):
    costed = tmp_path / "costed.csv"
    costed.write_text("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
                      "a,2,8,60,g,1\nb,4,4,70,g,1\nc,6,6,75,g,1\nd,10,5,80,g,1\nu,3,3,,g,1\n")
    out = tmp_path / "selection.json"
    result = hwmap.select_paths(str(costed), budgets="0.5,1.0", drop_unknown=True, out=out)
    assert result.chosen_names == ("b", "d") and result.dropped == ("u",) and result.reference.name == "d"
    assert [row["path"] for row in result.rows()] == ["b", "d"]
    assert json.loads(out.read_text())["paths_file"] == str(costed)
    from_list = hwmap.select_paths(PATHS, budgets=[0.5, 1.0], drop_unknown=True)
    assert from_list.rows() == result.rows() and from_list.expected_accuracy == result.expected_accuracy
    # simulate: a file, a SelectionResult or a Selection; a trace file, a BudgetTrace, or numbers with a unit
    for selection in (out, str(out), result):
        assert hwmap.simulate(selection, [0.5, 1.0], unit="fraction").steps_per_path == (("b", 1), ("d", 1))
    assert hwmap.simulate(result, [5000, 10000], unit="uJ").energy_used_mj == pytest.approx(14.0)
    with pytest.raises(HwmapError, match="unit is missing"):
        hwmap.simulate(result, [0.5, 1.0])
    with pytest.raises(HwmapError, match="unit applies to a sequence"):
        hwmap.simulate(result, BudgetTrace.of([0.5], unit="fraction"), unit="mJ")
    trace = tmp_path / "trace.csv"
    trace.write_text("budget_fraction\n0.5\n0.5\n1.0\n")
    replay = hwmap.simulate(out, trace, switch_energy_mj=0.25)
    # b, b, d: 4 + 4 + 10 mJ + one switch at 0.25 mJ = 18.25 mJ of 30
    assert replay.energy_used_mj == pytest.approx(18.25) and replay.switches == 1
    with pytest.raises(HwmapError, match="accel applies to a paths YAML"):
        hwmap.select_paths(str(costed), accel="systolic8x8", budgets="0.5")
    with pytest.raises(HwmapError, match="accel applies to a paths YAML or PathSet; these paths are already"):
        hwmap.select_paths(PATHS, accel="systolic8x8", budgets="0.5")
    # the estimate settings, like accel, apply to paths still to be costed
    with pytest.raises(HwmapError, match="dataflow, objective apply to a paths YAML or PathSet"):
        hwmap.select_paths(PATHS, dataflow="os", objective="latency", budgets="0.5")
    with pytest.raises(HwmapError, match="is already costed; fusion applies to a paths YAML"):
        hwmap.select_paths(str(costed), fusion="none", budgets="0.5")
    # a bad budget fails before a paths YAML is costed (the YAML here would take seconds to cost)
    paths_yaml = tmp_path / "p.yaml"
    paths_yaml.write_text("schema_version: 1\nmodel: resnet18\npaths:\n  - name: full\n")
    with pytest.raises(HwmapError, match="'20mJ' is energy"):
        hwmap.select_paths(paths_yaml, accel="systolic8x8", budgets="20mJ,5ms")
    with pytest.raises(HwmapError, match="metric is 'latency'"):
        hwmap.select_paths(paths_yaml, accel="systolic8x8", budgets="20mJ", metric="latency")
