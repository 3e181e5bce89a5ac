"""The one selection pipeline: costed paths -> (drop unknown) -> budgets with units -> levels -> ILP -> a result.

:func:`run_selection` is what ``hwmap.api.select_paths``, the ``select-paths`` command and the sweep's paths
workloads all call; :func:`simulate_selection` replays a result over a budget trace whose unit it checks.

* Paths: CostedPath records (``hwmap.paths.costing``: ``accuracy`` an Accuracy or None), PathPoints, mappings or
  objects with the PathPoint attribute names (``hwmap.api.select_paths`` first fills or overrides their accuracies
  from an accuracies file, :mod:`hwmap.paths.accuracies`). A path without an accuracy is an error unless
  ``drop_unknown`` leaves it out (and the result lists it in ``dropped``).
* Budgets (``budgets``, see :mod:`hwmap.select.budgets`) or a ``budget_trace``, exactly one. Their unit fixes the
  metric (mJ -> energy, ms -> latency; ``metric`` must agree); fractions are fractions of the ``reference`` path's
  cost on the metric (``metric`` default 'energy').
* The reference: the path named ``reference``, by default the most expensive path on the metric (ties: the more
  accurate, then the name). It is also the baseline energy saved and accuracy drop are measured against
  (``Selection.full_model``). It must be one of the paths with an accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.budgets import (
    BUDGET_UNITS,
    Budgets,
    BudgetTrace,
    BudgetUnit,
    choose_reference,
    make_levels,
    parse_numbers,
    read_budget_trace,
    read_target_frontier,
    resolve_budgets,
    resolve_metric,
)
from hwmap.select.ilp import select_paths as solve_selection
from hwmap.select.problem import (
    METRIC_FIELDS,
    METRIC_UNITS,
    OBJECTIVES,
    InfeasibleSelectionError,
    Metric,
    PathPoint,
    Selection,
    TargetPoint,
)
from hwmap.select.simulate import SimulationResult, simulate

GOALS = OBJECTIVES  # 'accuracy' (expected accuracy over the levels) or 'frontier' (shortfall from target points)


@dataclass(frozen=True)
class SelectionResult:
    """A selection with what it was asked: the Selection, the paths left out for want of an accuracy, the
    reference, and the budgets as given (``budgets`` in ``budget_unit``, one per row of ``selection.table``).

    ``reference`` is ``selection.full_model``; ``reference_value`` its cost on the metric (mJ or ms), the value a
    fraction budget of 1.0 stands for. ``to_dict()`` is the selection JSON ``select-paths --out`` writes.
    """

    selection: Selection
    dropped: tuple[str, ...]
    budget_unit: BudgetUnit
    budgets: tuple[float, ...]
    paths_file: str | None = None
    accelerator: str | None = None

    @property
    def reference(self) -> PathPoint:
        return self.selection.full_model

    @property
    def metric(self) -> Metric:
        return self.selection.metric

    @property
    def unit(self) -> str:
        """The metric's unit (mJ or ms)."""
        return METRIC_UNITS[self.metric]

    @property
    def reference_value(self) -> float:
        return self.reference.metric_value(self.metric)

    @property
    def chosen(self) -> tuple[PathPoint, ...]:
        return self.selection.chosen

    @property
    def chosen_names(self) -> tuple[str, ...]:
        return self.selection.chosen_names

    @property
    def expected_accuracy(self) -> float:
        return self.selection.expected_accuracy

    @property
    def expected_energy_mj(self) -> float:
        return self.selection.expected_energy_mj

    @property
    def energy_saved_pct(self) -> float:
        return self.selection.energy_saved_pct

    @property
    def accuracy_drop(self) -> float:
        return self.selection.accuracy_drop

    def describe_budgets(self) -> str:
        """One line saying what the budgets are: fractions of which path, or absolute, and the reference."""
        ref = f"{self.reference.name} ({self.reference_value:.6g} {self.unit})"
        if self.budget_unit == "fraction":
            return f"budgets are fractions of {ref}"
        return f"budgets in {self.budget_unit} ({self.metric}); savings measured against {ref}"

    def rows(self) -> list[dict[str, Any]]:
        """The budget -> path table, one row per level: the budget as given and in the metric's unit, the level
        weight, and the path run with its energy, latency and accuracy."""
        absolute = f"budget_{self.unit.lower()}"
        return [{"budget": given, "budget_unit": self.budget_unit, absolute: row.budget, "weight": row.weight,
                 "path": row.path, "energy_mj": row.energy_mj, "latency_ms": row.latency_ms,
                 "accuracy": row.accuracy}
                for given, row in zip(self.budgets, self.selection.table, strict=True)]

    def vs_reference(self) -> list[dict[str, Any]]:
        """Each kept path's energy saving and accuracy drop against always running the reference."""
        ref = self.reference
        return [{"path": p.name, "energy_mj": p.energy_mj, "latency_ms": p.latency_ms, "accuracy": p.accuracy,
                 "energy_saved_pct": 100 * (1 - p.energy_mj / ref.energy_mj) if ref.energy_mj else 0.0,
                 "accuracy_drop": ref.accuracy - p.accuracy} for p in self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return {**self.selection.to_dict(), "budget_unit": self.budget_unit, "budgets": list(self.budgets),
                "reference": self.reference.name, "reference_energy_mj": self.reference.energy_mj,
                "reference_latency_ms": self.reference.latency_ms, "budget_rows": self.rows(),
                "chosen_vs_reference": self.vs_reference(), "dropped_without_accuracy": list(self.dropped),
                "paths_file": self.paths_file, "accelerator": self.accelerator}


# ------------------------------------------------------------------------------------------------- inputs


def path_points(paths: Iterable[Any], *, drop_unknown: bool) -> tuple[list[PathPoint], list[str]]:
    """PathPoints for selection, and the names of the paths without an accuracy. Such a path is never treated as
    lossless: it is an error, unless ``drop_unknown`` leaves it out."""
    points: list[PathPoint] = []
    unknown: list[str] = []
    for item in paths:
        if isinstance(item, PathPoint):
            points.append(item)
            continue
        accuracy = item.get("accuracy") if isinstance(item, Mapping) else getattr(item, "accuracy", None)
        name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
        if accuracy is None:
            unknown.append(str(name))
        elif hasattr(accuracy, "value"):  # a paths.catalog.Accuracy: value, source, provenance
            points.append(PathPoint(
                name=str(name), energy_mj=float(item.energy_mj), latency_ms=float(item.latency_ms),
                accuracy=float(accuracy.value), accuracy_source=f"{accuracy.source}: {accuracy.provenance}",
                weight_group=str(getattr(item, "weight_group", "") or ""),
                weight_mb=float(getattr(item, "weight_mb", 0.0) or 0.0)))
        else:
            points.append(PathPoint.coerce(item))
    if unknown and not drop_unknown:
        raise HwmapError(f"{len(unknown)} path(s) have no accuracy: {', '.join(unknown[:8])}"
                         + (" ..." if len(unknown) > 8 else "") + "; give one in the paths file or in an "
                         "accuracies file (accuracies: path,accuracy,provenance), measure it with `hwmap evaluate`, "
                         "or set drop_unknown to leave them out")
    if not points:
        raise HwmapError("paths: no path with an accuracy; expected at least one")
    return points, unknown


def _weights(budget_weights: str | Sequence[float] | None) -> list[float] | None:
    if budget_weights is None:
        return None
    if isinstance(budget_weights, str):
        return list(parse_numbers(budget_weights, arg="budget_weights"))
    values = []
    for w in budget_weights:
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise HwmapError(f"budget_weights: {w!r} is not a weight; expected finite numbers >= 0")
        values.append(float(w))
    return values


def _targets(target_frontier: Any) -> tuple[TargetPoint, ...]:
    if target_frontier is None:
        return ()
    if isinstance(target_frontier, str | Path):
        return read_target_frontier(target_frontier)
    points = []
    for t in target_frontier:
        if isinstance(t, TargetPoint):
            points.append(t)
        elif isinstance(t, Mapping):
            points.append(TargetPoint.from_dict(t))
        elif isinstance(t, Sequence) and len(t) in (2, 3):
            points.append(TargetPoint(*(float(v) for v in t)))
        else:
            raise HwmapError(f"target_frontier: {t!r} is not a target point; expected (energy_mj, accuracy)")
    return tuple(points)


def _distinct(trace: BudgetTrace) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A trace's distinct budgets (ascending) and the summed weight of each (levels with weight 0 left out)."""
    totals: dict[float, float] = {}
    for b, w in zip(trace.budgets, trace.weights, strict=True):
        totals[b] = totals.get(b, 0.0) + w
    kept = [(b, w) for b, w in sorted(totals.items()) if w > 0]
    return tuple(b for b, _ in kept), tuple(w for _, w in kept)


# ------------------------------------------------------------------------------------------------ pipeline


def check_budgets(*, budgets: Any = None, budget_trace: Any = None, metric: str | None = None) -> None:
    """Check the budget part of a request without any path (so a bad budget fails before paths are costed)."""
    if (budgets is None) == (budget_trace is None):
        raise HwmapError("budgets and budget_trace: give one of them (budget levels, or a budget trace CSV)")
    if budgets is not None:
        resolve_metric(Budgets.coerce(budgets, arg="budgets").unit, metric)
    else:
        trace = budget_trace if isinstance(budget_trace, BudgetTrace) else read_budget_trace(budget_trace)
        resolve_metric(trace.unit, metric)


def run_selection(
    paths: Iterable[Any],
    *,
    budgets: str | Sequence[float | str] | Budgets | None = None,
    budget_trace: str | Path | BudgetTrace | None = None,
    metric: str | None = None,
    reference: str | None = None,
    budget_weights: str | Sequence[float] | None = None,
    max_paths: int | None = None,
    memory_mb: float | None = None,
    min_accuracy: float | None = None,
    extra_path_penalty: float = 0.0,
    goal: str = "accuracy",
    target_frontier: str | Path | Iterable[Any] | None = None,
    drop_unknown: bool = False,
    solver: str = "cbc",
    time_limit_s: float | None = None,
    paths_file: str | None = None,
    accelerator: str | None = None,
) -> SelectionResult:
    """Select the paths to deploy (module docstring); raise HwmapError naming the bad parameter, or
    InfeasibleSelectionError when no selection serves every budget."""
    points, dropped = path_points(paths, drop_unknown=drop_unknown)
    if (budgets is None) == (budget_trace is None):
        raise HwmapError("budgets and budget_trace: give one of them (budget levels, or a budget trace CSV)")
    if goal not in GOALS:
        raise HwmapError(f"goal is {goal!r}; expected one of {', '.join(map(repr, GOALS))}")
    if budget_trace is not None:
        if budget_weights is not None:
            raise HwmapError("budget_weights applies to budgets; a budget trace weights its levels by how often "
                             "they occur (and its weight column)")
        trace = budget_trace if isinstance(budget_trace, BudgetTrace) else read_budget_trace(budget_trace)
        unit, (given, level_weights) = trace.unit, _distinct(trace)
        metric = resolve_metric(unit, metric)
        if trace.metric not in (None, metric):  # resolve_metric has checked it; kept for a hand-built trace
            raise HwmapError(f"budget_trace is on {trace.metric} but metric is {metric!r}")
    else:
        parsed = Budgets.coerce(budgets, arg="budgets")
        unit, given, level_weights = parsed.unit, parsed.values, _weights(budget_weights)
        metric = resolve_metric(unit, metric)
    if reference is not None and reference in dropped:
        raise HwmapError(f"reference {reference!r} has no accuracy and was left out (drop_unknown); name a path "
                         f"with an accuracy: {', '.join(p.name for p in points)}")
    ref = choose_reference(points, metric=metric, reference=reference)
    ref_value = ref.metric_value(metric)
    values = resolve_budgets(Budgets(tuple(given), unit), metric=metric, reference_value=ref_value)
    levels = make_levels(values, metric=metric, weights=level_weights)
    try:
        selection = solve_selection(
            points, levels, max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy,
            extra_path_penalty=extra_path_penalty, objective=goal, target_frontier=_targets(target_frontier),
            reference=ref.name, solver=solver, time_limit_s=time_limit_s)
    except InfeasibleSelectionError as exc:
        if unit != "fraction" or "budget" not in exc.suggestions:
            raise
        fraction = exc.suggestions["budget"] / ref_value
        raise InfeasibleSelectionError(
            f"{exc} (= {fraction:.6g} of the reference {ref.name}, {ref_value:.6g} {METRIC_UNITS[metric]})",
            suggestions=exc.suggestions) from None
    return SelectionResult(selection=selection, dropped=tuple(dropped), budget_unit=unit,  # type: ignore[arg-type]
                           budgets=tuple(given), paths_file=paths_file, accelerator=accelerator)


def as_result(selection: Selection | SelectionResult) -> SelectionResult:
    """A SelectionResult for a bare Selection: its budgets were absolute, in the metric's unit, and its reference
    is its full_model (what selection files written before budgets had units mean too)."""
    if isinstance(selection, SelectionResult):
        return selection
    if not isinstance(selection, Selection):
        raise HwmapError(f"selection is a {type(selection).__name__}; expected a SelectionResult, a Selection or "
                         "a selection JSON file")
    return SelectionResult(selection=selection, dropped=(), budget_unit=METRIC_UNITS[selection.metric],  # type: ignore[arg-type]
                           budgets=tuple(row.budget for row in selection.table))


def simulate_selection(
    selection: Selection | SelectionResult, trace: BudgetTrace, *, switch_energy_mj: float = 0.0
) -> SimulationResult:
    """Replay a selection over a trace whose unit must fit it: an absolute trace on the selection's metric, or a
    trace of fractions when the selection's budgets were fractions (it is then multiplied by the recorded
    reference value, and the result says so). A trace of fractions against a selection made with absolute budgets
    is an error: which path it is a fraction of is not known."""
    result = as_result(selection)
    if not isinstance(trace, BudgetTrace):
        raise HwmapError(f"budget_trace is a {type(trace).__name__}; expected a BudgetTrace")
    where = f" {trace.source}" if trace.source else ""
    if trace.is_fraction:
        if result.budget_unit != "fraction":
            raise HwmapError(
                f"budget_trace{where} holds fractions but the selection's budgets are in {result.budget_unit}: give "
                f"the trace in {result.unit} (a {'budget_' + result.unit.lower()} column or '# unit: {result.unit}')"
                " or select with fraction budgets")
        scale: float | None = result.reference_value
        absolute = trace.absolute(metric=result.metric, reference_value=result.reference_value)
    else:
        if trace.metric != result.metric:
            raise HwmapError(f"budget_trace{where} is in {trace.unit} ({trace.metric}) but the selection is on "
                             f"{result.metric} ({result.unit}); expected a trace in {result.unit} or fractions")
        scale, absolute = None, trace
    outcome = simulate(result.selection, absolute, switch_energy_mj=switch_energy_mj)
    return replace(outcome, trace_unit=trace.unit, fraction_scale=scale)


def check_budget_unit(unit: Any, metric: str, *, where: str) -> BudgetUnit:
    """A selection file's budget_unit: one of 'fraction', 'mJ', 'ms', and the metric's unit when absolute."""
    if unit not in BUDGET_UNITS:
        raise HwmapError(f"{where}: budget_unit {unit!r}; expected 'fraction', 'mJ' or 'ms'")
    if unit != "fraction" and METRIC_FIELDS[metric].split("_")[1] != unit.lower():
        raise HwmapError(f"{where}: budget_unit {unit!r} does not match metric {metric!r}")
    return unit  # type: ignore[no-any-return]


__all__ = ["GOALS", "SelectionResult", "as_result", "check_budget_unit", "check_budgets", "path_points",
           "run_selection", "simulate_selection"]
