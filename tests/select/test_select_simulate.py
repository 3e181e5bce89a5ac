"""Replaying a selection over a budget trace, checked against hand-computed numbers."""

from __future__ import annotations

import json

import pytest

from hwmap.errors import HwmapError
from hwmap.select import BudgetTrace, PathPoint, make_levels, read_budget_trace, select_paths, simulate


def P(name, energy, acc):
    return PathPoint(name, energy, energy * 2, acc, "test", "", 0.0)


# a: 1 mJ 60 %, b: 2 mJ 70 %, c: 3 mJ 75 %, d: 4 mJ 80 % (the full model: the most expensive)
LADDER = [P("a", 1.0, 60.0), P("b", 2.0, 70.0), P("c", 3.0, 75.0), P("d", 4.0, 80.0)]


@pytest.fixture(scope="module")
def selection():
    sel = select_paths(LADDER, make_levels([1.5, 2.5, 3.5, 4.5]), solver="cbc")
    assert sel.chosen_names == ("a", "b", "c", "d")
    return sel


TRACE = [4.5, 2.5, 2.5, 0.5, 1.5, 3.5, 3.5, 4.0]


def test_hand_computed_trace(selection):
    # step:    0    1    2    3     4    5    6    7
    # budget:  4.5  2.5  2.5  0.5   1.5  3.5  3.5  4.0
    # path:    d    b    b    a*    a    c    c    d      (* nothing fits 0.5 mJ: cheapest 'a', a violation)
    # energy:  4    2    2    1     1    3    3    4   -> 20 mJ; full model 8 x 4 = 32 mJ; saved 12 mJ = 37.5 %
    # acc:     80   70   70   60    60   75   75   80  -> mean 570 / 8 = 71.25; drop 8.75 mean, 20 worst
    # switches: d->b, b->a, a->c, c->d = 4
    result = simulate(selection, TRACE)
    assert result.steps == 8
    assert result.energy_used_mj == pytest.approx(20.0)
    assert result.reference_energy_mj == pytest.approx(32.0) and result.reference == "d"
    assert result.energy_saved_mj == pytest.approx(12.0)
    assert result.energy_saved_pct == pytest.approx(37.5)
    assert result.mean_accuracy == pytest.approx(71.25)
    assert result.mean_accuracy_drop == pytest.approx(8.75)
    assert result.worst_accuracy_drop == pytest.approx(20.0)
    assert result.switches == 4
    assert result.steps_per_path == (("a", 2), ("b", 2), ("c", 2), ("d", 2))
    assert result.violations == 1
    assert result.first_violation_step == 3
    assert result.switch_energy_mj == 0.0


def test_switch_energy_is_charged(selection):
    # 4 switches x 0.5 mJ = 2 mJ on top of 20 mJ: 22 mJ used, 10 mJ saved of 32 = 31.25 %.
    result = simulate(selection, TRACE, switch_energy_mj=0.5)
    assert result.switch_energy_mj == pytest.approx(2.0)
    assert result.energy_used_mj == pytest.approx(22.0)
    assert result.energy_saved_pct == pytest.approx(31.25)


def test_latency_trace_from_csv(selection, tmp_path):
    # Latencies are 2 ms per mJ: a 2, b 4, c 6, d 8 ms. Budgets 5, 9, 1 ms -> b, d, a (violation).
    csv = tmp_path / "trace.csv"
    csv.write_text("latency_ms,weight\n5,1\n9,1\n1,2\n")
    trace = read_budget_trace(csv)
    result = simulate(selection, trace)
    assert result.metric == "latency"
    assert [n for n, k in result.steps_per_path if k] == ["a", "b", "d"]
    assert result.energy_used_mj == pytest.approx(2 + 4 + 1)
    assert result.violations == 1 and result.first_violation_step == 2
    assert result.switches == 2


def test_to_dict_is_json(selection):
    data = json.loads(json.dumps(simulate(selection, TRACE).to_dict()))
    assert data["steps_per_path"] == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert data["violations"] == 1


def test_errors(selection):
    with pytest.raises(HwmapError, match="empty"):
        simulate(selection, [])
    with pytest.raises(HwmapError, match="does not match"):
        simulate(selection, BudgetTrace("mJ", (1.0,), (1.0,)), metric="latency")
    with pytest.raises(HwmapError, match="holds fractions"):
        simulate(selection, BudgetTrace("fraction", (1.0,), (1.0,)))
    with pytest.raises(HwmapError, match="switch_energy_mj"):
        simulate(selection, TRACE, switch_energy_mj=-1)
    with pytest.raises(HwmapError, match="finite"):
        simulate(selection, [float("nan")])
