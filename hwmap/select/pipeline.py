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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.budgets import BudgetTrace, BudgetUnit, choose_reference
from hwmap.select.ilp import select_paths as solve_selection
from hwmap.select.problem import METRIC_FIELDS, METRIC_UNITS, InfeasibleSelectionError, Metric, PathPoint, Selection
from hwmap.select.request import SelectionRequest
from hwmap.select.simulate import SimulationResult, simulate
from hwmap.units import BUDGET_UNITS


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


def run_selection(
    paths: Iterable[Any],
    request: SelectionRequest | None = None,
    *,
    paths_file: str | None = None,
    accelerator: str | None = None,
    **keywords: Any,
) -> SelectionResult:
    """Select the paths to deploy (module docstring) for ``request``, a SelectionRequest taken as it is (or the one
    SelectionRequest.parse makes from ``keywords``: budgets, budget_trace, metric, reference, budget_weights,
    max_paths, memory_mb, min_accuracy, extra_path_penalty, goal, target_frontier, drop_unknown, solver,
    time_limit_s). Raise HwmapError naming the bad parameter, or InfeasibleSelectionError when no selection serves
    every budget."""
    if request is None:
        request = SelectionRequest.parse(**keywords)
    elif keywords:
        raise HwmapError(f"run_selection: give a request or {', '.join(keywords)}, not both")
    points, dropped = path_points(paths, drop_unknown=request.drop_unknown)
    metric = request.metric
    if request.reference is not None and request.reference in dropped:
        raise HwmapError(f"reference {request.reference!r} has no accuracy and was left out (drop_unknown); name a "
                         f"path with an accuracy: {', '.join(p.name for p in points)}")
    ref = choose_reference(points, metric=metric, reference=request.reference)
    ref_value = ref.metric_value(metric)
    try:
        selection = solve_selection(points, request.levels(ref_value), request.terms, reference=ref.name,
                                    solver=request.solver, time_limit_s=request.time_limit_s)
    except InfeasibleSelectionError as exc:
        if request.unit != "fraction" or "budget" not in exc.suggestions:
            raise
        fraction = exc.suggestions["budget"] / ref_value
        raise InfeasibleSelectionError(
            f"{exc} (= {fraction:.6g} of the reference {ref.name}, {ref_value:.6g} {METRIC_UNITS[metric]})",
            suggestions=exc.suggestions) from None
    return SelectionResult(selection=selection, dropped=tuple(dropped), budget_unit=request.unit,  # type: ignore[arg-type]
                           budgets=request.given_levels()[0], paths_file=paths_file, accelerator=accelerator)


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


__all__ = ["SelectionRequest", "SelectionResult", "as_result", "check_budget_unit", "path_points",
           "run_selection", "simulate_selection"]
