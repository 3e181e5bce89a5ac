"""Path selection: the ILP against an independent brute force, plus hand-checked cases.

Random instances use accuracies in steps of 0.5 %, integer level weights and energies in steps of 0.25 mJ, so
distinct objective values differ by far more than the ILP's tie tolerance (1e-4 points) and the comparison with
the brute force's exact lexicographic optimum is exact.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from select_bruteforce import brute_force

from hwmap.errors import HwmapError
from hwmap.select import (
    BudgetLevel,
    InfeasibleSelectionError,
    PathPoint,
    Selection,
    TargetPoint,
    available_solvers,
    candidates,
    check_feasible,
    make_levels,
    make_problem,
    rank_key,
    select_paths,
    solve,
)

GROUPS = ("A", "B", "C", "")
SETTINGS = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def quarter(lo: int, hi: int):
    """Multiples of 0.25 in [lo/4, hi/4]."""
    return st.integers(lo, hi).map(lambda k: k / 4)


@st.composite
def path_lists(draw, max_size=12):
    """Up to 12 paths; on a trade-off curve (accuracy grows with energy, plus noise) or scattered at random.

    Paths of one weight group need a share (1/4 .. 4/4) of the group's full weights.
    """
    n = draw(st.integers(1, max_size))
    on_curve = draw(st.booleans())
    full_mb = {g: draw(st.integers(1, 20)) / 2 for g in GROUPS}
    paths = []
    for i in range(n):
        energy = draw(quarter(1, 40))
        if on_curve:
            half_points = round(2 * (50 + 4 * energy)) + draw(st.integers(-6, 6))  # accuracy in steps of 0.5
            accuracy = min(180, max(100, half_points)) / 2
            latency = energy * draw(st.sampled_from([0.75, 1.0, 1.25]))
        else:
            accuracy = draw(st.integers(100, 180)) / 2  # 50 .. 90 in steps of 0.5
            latency = draw(quarter(1, 40))
        group = draw(st.sampled_from(GROUPS))
        paths.append(
            PathPoint(
                name=f"p{i:02d}",
                energy_mj=energy,
                latency_ms=latency,
                accuracy=accuracy,
                accuracy_source="test",
                weight_group=group,
                weight_mb=full_mb[group] * draw(st.integers(1, 4)) / 4,
            )
        )
    return paths


def group_total_mb(paths):
    full = {}
    for p in paths:
        key = p.weight_group or p.name
        full[key] = max(full.get(key, 0.0), p.weight_mb)
    return sum(full.values())


@st.composite
def instances(draw, objective="accuracy", mostly_feasible=True):
    paths = draw(path_lists())
    metric = draw(st.sampled_from(["energy", "latency"]))
    n_levels = draw(st.integers(1, 10))
    # Mostly budgets the cheapest path fits (infeasible requests have a test of their own).
    cheapest = min(p.metric_value(metric) for p in paths)
    floor = draw(st.sampled_from([0.0, cheapest, cheapest, cheapest] if mostly_feasible else [0.0]))
    budgets = [max(floor, draw(quarter(0, 44))) for _ in range(n_levels)]
    weights = [draw(st.integers(1, 3)) for _ in range(n_levels)]
    # Memory: none, or a share of all the weights (often binding), in steps of 0.125 MB.
    share = draw(st.sampled_from([None, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85]))
    memory_mb = None if share is None else math.floor(8 * share * group_total_mb(paths)) / 8
    min_accuracy = draw(st.one_of(st.none(), st.none(), st.integers(100, 180).map(lambda k: k / 2)))
    if mostly_feasible and draw(st.integers(0, 3)) > 0:  # keep one path that serves every level allowed
        anchor = draw(st.sampled_from([p for p in paths if p.metric_value(metric) <= min(budgets)] or paths))
        memory_mb = None if memory_mb is None else max(memory_mb, anchor.weight_mb)
        min_accuracy = None if min_accuracy is None else min(min_accuracy, anchor.accuracy)
    kwargs = dict(
        max_paths=draw(st.one_of(st.none(), st.integers(1, 4))),
        memory_mb=memory_mb,
        min_accuracy=min_accuracy,
        extra_path_penalty=draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
    )
    if objective == "frontier":
        kwargs["goal"] = "frontier"
        kwargs["target_frontier"] = [
            TargetPoint(draw(quarter(1, 44)), draw(st.integers(100, 190)) / 2, draw(st.integers(1, 3)))
            for _ in range(draw(st.integers(1, 4)))
        ]
    return paths, metric, budgets, weights, kwargs


def run_brute(paths, metric, budgets, weights, kwargs):
    return brute_force(
        paths,
        budgets,
        weights,
        metric=metric,
        max_paths=kwargs["max_paths"],
        memory_mb=kwargs["memory_mb"],
        min_accuracy=kwargs["min_accuracy"],
        penalty=kwargs["extra_path_penalty"],
        objective=kwargs.get("goal", "accuracy"),
        targets=kwargs.get("target_frontier", ()),
    )


def check_against_brute(paths, metric, budgets, weights, kwargs, presolve):
    problem = make_problem(paths, make_levels(budgets, metric=metric, weights=weights), **kwargs)
    brute = run_brute(paths, metric, budgets, weights, kwargs)
    if not brute.feasible:
        with pytest.raises(InfeasibleSelectionError):
            solve(problem, solver="cbc", presolve=presolve)
        return None
    sel = solve(problem, solver="cbc", presolve=presolve)
    assert sel.status == "optimal"
    assert sel.goal_value == pytest.approx(brute.primary, abs=1e-6)
    if problem.terms.goal == "accuracy":
        assert sel.expected_energy_mj == pytest.approx(brute.secondary, abs=1e-6)
    else:
        assert sel.frontier_shortfall + problem.terms.extra_path_penalty * (len(sel.chosen) - 1) == pytest.approx(
            brute.primary, abs=1e-6
        )
        assert sel.expected_accuracy == pytest.approx(brute.secondary, abs=1e-6)
    # The reported set is one of the optimal subsets, or an optimal subset's useful part.
    assert any(set(sel.chosen_names) <= best for best in brute.best_sets)
    # The run table follows the rule exactly: the best-ranked chosen path that fits.
    for row, level in zip(sel.table, problem.levels, strict=True):
        fitting = [p for p in sel.chosen if p.metric_value(metric) <= level.budget]
        assert row.path == min(fitting, key=rank_key).name
    # The limits hold.
    assert kwargs["max_paths"] is None or len(sel.chosen) <= kwargs["max_paths"]
    assert kwargs["memory_mb"] is None or sel.memory_mb <= kwargs["memory_mb"] + 1e-9
    assert kwargs["min_accuracy"] is None or all(p.accuracy >= kwargs["min_accuracy"] for p in sel.chosen)
    return sel


@SETTINGS
@given(instances(), st.booleans())
def test_accuracy_objective_matches_brute_force(instance, presolve):
    check_against_brute(*instance, presolve=presolve)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(objective="frontier"))
def test_frontier_objective_matches_brute_force(instance):
    check_against_brute(*instance, presolve=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_chain_formulation_matches_brute_force(instance):
    # No max_paths and no penalty: the chain (longest path) formulation is the one used.
    paths, metric, budgets, weights, kwargs = instance
    kwargs = {**kwargs, "max_paths": None, "extra_path_penalty": 0.0}
    check_against_brute(paths, metric, budgets, weights, kwargs, presolve=False)


@settings(max_examples=150, deadline=None)
@given(instances(mostly_feasible=False))
def test_infeasibility_and_suggested_values_are_exact(instance):
    """check_feasible agrees with the brute force, and each suggested value is the boundary of feasibility."""
    paths, metric, budgets, weights, kwargs = instance
    kwargs = {**kwargs, "extra_path_penalty": 0.0}
    problem = make_problem(paths, make_levels(budgets, metric=metric, weights=weights), **kwargs)
    feasible = run_brute(paths, metric, budgets, weights, kwargs).feasible
    try:
        check_feasible(problem)
    except InfeasibleSelectionError as exc:
        assert not feasible
        message = str(exc)
        assert "\n" not in message and exc.suggestions
        fixed_budgets, fixed = list(budgets), dict(kwargs)
        if "budget" in exc.suggestions:
            fixed_budgets = [max(b, exc.suggestions["budget"]) for b in budgets]
        if "memory_mb" in exc.suggestions:
            fixed["memory_mb"] = exc.suggestions["memory_mb"]
        if "min_accuracy" in exc.suggestions:
            fixed["min_accuracy"] = exc.suggestions["min_accuracy"]
        assert run_brute(paths, metric, fixed_budgets, weights, fixed).feasible
        if len(exc.suggestions) == 1:  # a single fix is also the tightest: a hair less still fails
            ((name, value),) = exc.suggestions.items()
            assert f"{value:.6g}" in message
            eps = 1e-6
            if name == "budget":
                tighter = [max(b, value - eps) if b < value else b for b in budgets]
                assert not run_brute(paths, metric, tighter, weights, kwargs).feasible
            elif name == "memory_mb":
                assert not run_brute(paths, metric, budgets, weights, {**kwargs, "memory_mb": value - eps}).feasible
            else:
                assert not run_brute(paths, metric, budgets, weights, {**kwargs, "min_accuracy": value + eps}).feasible
    else:
        assert feasible


# ------------------------------------------------------------------------------------------ hand cases


def P(name, energy, acc, *, latency=None, group="", mb=0.0):
    return PathPoint(name, energy, energy if latency is None else latency, acc, "test", group, mb)


LADDER = [
    P("a", 1.0, 60.0, group="g", mb=5.0),
    P("b", 2.0, 70.0, group="g", mb=8.0),
    P("c", 3.0, 75.0, group="h", mb=10.0),
    P("d", 4.0, 80.0, group="h", mb=20.0),
]
LADDER_LEVELS = make_levels([1.5, 2.5, 3.5, 4.5])


@pytest.mark.parametrize("presolve", [True, False])
def test_unconstrained_runs_the_best_path_at_every_level(presolve):
    sel = solve(make_problem(LADDER, LADDER_LEVELS), solver="cbc", presolve=presolve)
    assert sel.chosen_names == ("a", "b", "c", "d")
    assert [row.path for row in sel.table] == ["a", "b", "c", "d"]
    # expected accuracy (60 + 70 + 75 + 80) / 4 = 71.25; energy (1 + 2 + 3 + 4) / 4 = 2.5 mJ;
    # the full model is 'd' (4 mJ): saved 1.5 mJ = 37.5 %; accuracy drop 80 - 71.25 = 8.75.
    assert sel.expected_accuracy == pytest.approx(71.25)
    assert sel.expected_energy_mj == pytest.approx(2.5)
    assert sel.full_model.name == "d"
    assert sel.energy_saved_mj == pytest.approx(1.5)
    assert sel.energy_saved_pct == pytest.approx(37.5)
    assert sel.accuracy_drop == pytest.approx(8.75)
    assert sel.memory_mb == pytest.approx(8.0 + 20.0)  # group g pays max(5, 8), group h max(10, 20)


def test_memory_limit_with_shared_weights():
    # 20 MB: {a, b, c} costs max(5, 8) + 10 = 18 MB and runs a, b, c, c -> (60 + 70 + 75 + 75) / 4 = 70;
    # anything with d costs >= 20 + 5 = 25 MB; {a, c} gives 67.5.
    sel = select_paths(LADDER, LADDER_LEVELS, memory_mb=20, solver="cbc")
    assert sel.chosen_names == ("a", "b", "c")
    assert sel.expected_accuracy == pytest.approx(70.0)
    assert sel.memory_mb == pytest.approx(18.0)


def test_max_paths():
    # Two paths, 'a' must serve 1.5 mJ: {a, b} -> 60, 70, 70, 70 = 67.5; {a, c} -> 60, 60, 75, 75 = 67.5;
    # {a, d} -> 60, 60, 60, 80 = 65. The tie is broken by energy: {a, b} 1.75 mJ < {a, c} 2.0 mJ.
    sel = select_paths(LADDER, LADDER_LEVELS, max_paths=2, solver="cbc")
    assert sel.chosen_names == ("a", "b")
    assert sel.expected_accuracy == pytest.approx(67.5)
    assert sel.expected_energy_mj == pytest.approx(1.75)


def test_min_accuracy_excludes_paths():
    sel = select_paths(LADDER, make_levels([2.5, 4.5]), min_accuracy=65, solver="cbc")
    assert "a" not in sel.chosen_names
    assert [row.path for row in sel.table] == ["b", "d"]


def test_extra_path_penalty():
    # Penalty 6 points per extra path: {d} alone cannot serve 1.5 mJ; {a} -> 60; {a, d} -> (60*3 + 80)/4 - 6 = 59;
    # {a, b} -> 67.5 - 6 = 61.5; {a, c} -> 67.5 - 6 = 61.5, tie broken by energy -> {a, b}; three paths -> 70 - 12.
    sel = select_paths(LADDER, LADDER_LEVELS, extra_path_penalty=6.0, solver="cbc")
    assert sel.chosen_names == ("a", "b")
    assert sel.goal_value == pytest.approx(61.5)


def test_frontier_objective():
    # Targets (2 mJ, 72 %) and (4 mJ, 80 %), two paths, 'a' needed for 1.5 mJ.
    # {a, b}: shortfall (72 - 70) + (80 - 70) = 12 -> mean 6; {a, d}: (72 - 60) + 0 -> 6; {a, c}: 12 + 5 -> 8.5.
    # Tie on the shortfall, broken by expected accuracy: {a, b} 67.5 > {a, d} 65.
    targets = [TargetPoint(2.0, 72.0), TargetPoint(4.0, 80.0)]
    sel = select_paths(LADDER, LADDER_LEVELS, max_paths=2, goal="frontier", target_frontier=targets, solver="cbc")
    assert sel.chosen_names == ("a", "b")
    assert sel.frontier_shortfall == pytest.approx(6.0)
    assert sel.goal_value == pytest.approx(6.0)


def test_identical_paths_tie_on_name():
    twins = [P("z_twin", 1.0, 70.0), P("a_twin", 1.0, 70.0), P("big", 3.0, 80.0)]
    for presolve in (True, False):
        sel = solve(make_problem(twins, make_levels([1.0, 3.0]), memory_mb=100), solver="cbc", presolve=presolve)
        assert sel.chosen_names == ("a_twin", "big")


def test_equal_accuracy_prefers_lower_energy_then_latency():
    paths = [
        P("costly", 2.0, 70.0, latency=1.0),
        P("cheap_slow", 1.5, 70.0, latency=3.0),
        P("cheap_fast", 1.5, 70.0, latency=2.0),
    ]
    # On the latency metric with a 3 ms budget every path fits; same accuracy -> lower energy, then latency.
    sel = select_paths(paths, make_levels([3.0], metric="latency"), solver="cbc")
    assert sel.chosen_names == ("cheap_fast",)
    assert sel.table[0].path == "cheap_fast"


def test_tie_across_weight_groups_prefers_lower_energy():
    # Same accuracy in two weight groups; memory allows only one group besides 'base'. Both give the same
    # expected accuracy; the cheaper one (x2) wins the tie-break.
    paths = [
        P("base", 1.0, 60.0, group="g0", mb=4.0),
        P("x1", 3.0, 75.0, group="g1", mb=6.0),
        P("x2", 2.5, 75.0, group="g2", mb=6.0),
    ]
    for presolve in (True, False):
        sel = solve(make_problem(paths, make_levels([1.0, 3.0]), memory_mb=10.0), solver="cbc", presolve=presolve)
        assert sel.chosen_names == ("base", "x2")


def test_never_runs_a_worse_path_when_a_better_selected_one_fits():
    # 'mid' is selected for the 2 mJ level; at 5 mJ 'top' must run although 'mid' also fits.
    paths = [P("low", 1.0, 50.0), P("mid", 2.0, 70.0), P("top", 5.0, 90.0)]
    sel = select_paths(paths, make_levels([1.0, 2.0, 5.0]), solver="cbc")
    assert [row.path for row in sel.table] == ["low", "mid", "top"]
    assert sel.path_for(4.9).name == "mid"
    assert sel.path_for(0.5) is None


def test_dominated_paths_are_pruned_safely():
    paths = [P("good", 1.0, 80.0, group="g", mb=5.0), P("worse", 2.0, 70.0, group="g", mb=6.0)]
    problem = make_problem(paths, make_levels([3.0]), memory_mb=10)
    assert [p.name for p in candidates(problem)] == ["good"]
    # In another weight group 'worse' is kept when memory matters: it might be the only affordable one.
    other = [paths[0], P("worse", 2.0, 70.0, group="h", mb=1.0)]
    assert {p.name for p in candidates(make_problem(other, make_levels([3.0]), memory_mb=10))} == {"good", "worse"}
    assert [p.name for p in candidates(make_problem(other, make_levels([3.0])))] == ["good"]


def test_no_cross_group_dominance_under_memory():
    # 'q' beats 'p' on accuracy, energy and weight, but its group cannot be afforded next to 'p_small's group:
    # {p_small, p} costs max(5, 5) = 5 MB and runs 60, 70 -> 65; {p_small, q} would cost 9 MB; 'q' alone
    # cannot serve 1 mJ. Pruning 'p' for 'q' would leave {p_small} at 60.
    paths = [
        P("p_small", 1.0, 60.0, group="G", mb=5.0),
        P("p", 2.0, 70.0, group="G", mb=5.0),
        P("q", 1.5, 75.0, group="H", mb=4.0),
    ]
    for presolve in (True, False):
        sel = solve(make_problem(paths, make_levels([1.0, 2.0]), memory_mb=5.0), solver="cbc", presolve=presolve)
        assert sel.chosen_names == ("p_small", "p")
        assert sel.expected_accuracy == pytest.approx(65.0)


def test_group_dominance_drops_a_covered_group():
    # Every path of G has a better, cheaper, lighter counterpart in H: G goes. K is not covered (k1 is cheaper
    # than anything in H), so it stays.
    paths = [
        P("g1", 1.0, 60.0, group="G", mb=4.0),
        P("g2", 2.0, 70.0, group="G", mb=6.0),
        P("h1", 0.9, 61.0, group="H", mb=3.0),
        P("h2", 1.9, 72.0, group="H", mb=5.0),
        P("k1", 0.5, 55.0, group="K", mb=9.0),
    ]
    problem = make_problem(paths, make_levels([0.5, 1.0, 2.0]), memory_mb=14.0)
    assert sorted(p.name for p in candidates(problem)) == ["h1", "h2", "k1"]
    # k1 (9 MB) must serve 0.5 mJ; H fits next to it (5 MB): 55, 61, 72 -> 62.67.
    sel = solve(problem, solver="cbc", presolve=False)
    assert sel.chosen_names == ("k1", "h1", "h2")
    assert sel.expected_accuracy == pytest.approx((55 + 61 + 72) / 3)


def test_free_insertion_pruning_respects_weights():
    # 'k' sits between 'i' and 'j' and is in i's group, but needs more of its weights (6 MB > 2 MB), so it is
    # not free: {i, j} (2 + 3 = 5 MB) running 60, 60, 80 -> 66.67 is optimal; {i, k, j} would need 9 MB.
    paths = [
        P("i", 1.0, 60.0, group="G", mb=2.0),
        P("k", 2.0, 70.0, group="G", mb=6.0),
        P("j", 3.0, 80.0, group="H", mb=3.0),
    ]
    sel = solve(make_problem(paths, make_levels([1.0, 2.0, 3.0]), memory_mb=5.0), solver="cbc", presolve=False)
    assert sel.chosen_names == ("i", "j")
    assert sel.expected_accuracy == pytest.approx(200 / 3)


def test_selection_json_round_trip():
    sel = select_paths(LADDER, LADDER_LEVELS, memory_mb=20, solver="cbc")
    data = json.loads(json.dumps(sel.to_dict()))
    assert data["chosen_names"] == ["a", "b", "c"]
    back = Selection.from_dict(data)
    assert back == sel
    with pytest.raises(HwmapError, match="Selection.to_dict"):
        Selection.from_dict({"goal": "accuracy"})


# ---------------------------------------------------------------------------------------- errors


def test_infeasible_budget_message():
    paths = [P("b0", 1.2, 60.0), P("b1", 2.0, 70.0)]
    with pytest.raises(InfeasibleSelectionError) as info:
        select_paths(paths, make_levels([0.8, 2.0]), solver="cbc")
    assert str(info.value) == (
        "budget 0.8 mJ is below the cheapest path (1.2 mJ, 'b0'); the smallest feasible budget is 1.2 mJ"
    )
    assert info.value.suggestions == {"budget": 1.2}


def test_infeasible_memory_message():
    paths = [P("small", 1.0, 60.0, group="r", mb=13.7), P("large", 2.0, 70.0, group="r", mb=30.0)]
    with pytest.raises(InfeasibleSelectionError) as info:
        select_paths(paths, make_levels([1.0, 2.0]), memory_mb=5, solver="cbc")
    assert str(info.value) == (
        "memory limit 5 MB is below every weight group that serves budget 1 mJ; the smallest that serves every "
        "level is 13.7 MB ('small', group 'r')"
    )
    assert info.value.suggestions == {"memory_mb": 13.7}


def test_infeasible_budget_and_memory_message():
    paths = [P("small", 1.0, 60.0, mb=13.7)]
    with pytest.raises(InfeasibleSelectionError, match=r"smallest feasible budget is 1 mJ with memory_mb 13.7"):
        select_paths(paths, make_levels([0.5]), memory_mb=5, solver="cbc")


def test_infeasible_min_accuracy_message():
    with pytest.raises(InfeasibleSelectionError, match=r"largest feasible min_accuracy is 60% \('a'\)"):
        select_paths(LADDER, LADDER_LEVELS, min_accuracy=85, solver="cbc")


def test_input_errors_name_the_argument():
    with pytest.raises(HwmapError, match="appears twice"):
        make_problem([P("a", 1, 50), P("a", 2, 60)], LADDER_LEVELS)
    with pytest.raises(HwmapError, match="expected one metric"):
        make_problem(LADDER, [BudgetLevel(1.0, "energy"), BudgetLevel(1.0, "latency")])
    with pytest.raises(HwmapError, match="max_paths"):
        make_problem(LADDER, LADDER_LEVELS, max_paths=0)
    with pytest.raises(HwmapError, match="memory_mb"):
        make_problem(LADDER, LADDER_LEVELS, memory_mb=-1)
    with pytest.raises(HwmapError, match="accuracy is 120"):
        make_problem([P("a", 1, 120)], LADDER_LEVELS)
    with pytest.raises(HwmapError, match="energy_mj is nan"):
        make_problem([P("a", math.nan, 50)], LADDER_LEVELS)
    with pytest.raises(HwmapError, match="target_frontier is empty"):
        make_problem(LADDER, LADDER_LEVELS, goal="frontier")
    with pytest.raises(HwmapError, match="only used with goal 'frontier'"):
        make_problem(LADDER, LADDER_LEVELS, target_frontier=[TargetPoint(1, 50)])
    with pytest.raises(HwmapError, match="goal is 'speed'"):
        make_problem(LADDER, LADDER_LEVELS, goal="speed")
    with pytest.raises(HwmapError, match="no budget level"):
        make_problem(LADDER, [])
    with pytest.raises(HwmapError, match="solver is 'gurobi'"):
        select_paths(LADDER, LADDER_LEVELS, solver="gurobi")
    with pytest.raises(HwmapError, match="time_limit_s"):
        select_paths(LADDER, LADDER_LEVELS, solver="cbc", time_limit_s=0)


def test_highs_when_unavailable_is_a_clear_error():
    if "highs" in available_solvers():
        sel = select_paths(LADDER, LADDER_LEVELS, memory_mb=20, solver="highs")
        assert sel.chosen_names == ("a", "b", "c") and sel.solver == "highs"
    else:
        with pytest.raises(HwmapError, match="'highs' is not available"):
            select_paths(LADDER, LADDER_LEVELS, solver="highs")
        assert select_paths(LADDER, LADDER_LEVELS, memory_mb=20, solver="auto").solver == "cbc"  # falls back
    assert select_paths(LADDER, LADDER_LEVELS, memory_mb=20).solver == "cbc"  # the default


def test_accepts_duck_typed_paths():
    class Other:
        def __init__(self, p):
            self.__dict__.update(p.__dict__)

    sel = select_paths([Other(p) for p in LADDER], LADDER_LEVELS, memory_mb=20, solver="cbc")
    assert sel.chosen_names == ("a", "b", "c")


def test_accepts_mappings_and_rejects_malformed_paths():
    sel = select_paths([p.to_dict() for p in LADDER], LADDER_LEVELS, memory_mb=20)
    assert sel.chosen_names == ("a", "b", "c")
    with pytest.raises(HwmapError, match="is not a path point"):
        make_problem([{"name": "a"}], LADDER_LEVELS)
