"""Replay a selection's run-time policy over a budget trace.

At every step the device runs the best-ranked chosen path whose metric fits the step's budget (the same rule as
the selection: most accurate, then lower energy, latency, weight_mb, name). When no chosen path fits, it runs the
cheapest chosen path on the trace's metric (ties: the better-ranked) and the step counts as a budget violation.
A switch is a step whose path differs from the previous step's; ``switch_energy_mj`` is charged per switch.
The baseline is the selection's reference path (``Selection.full_model``: the path the selection names as
reference, by default the most expensive by energy) run at every step; accuracy drop is the reference's accuracy
minus the accuracy of the path run (negative when a cheaper path is more accurate). Trace weights are ignored
here: every step counts once. The trace must be in the metric's unit (mJ or ms); a trace of fractions is made
absolute by :func:`hwmap.select.pipeline.simulate_selection`, which knows the selection's reference value.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.budgets import BudgetTrace
from hwmap.select.problem import METRIC_UNITS, METRICS, Metric, PathPoint, Selection, rank_key


@dataclass(frozen=True)
class SimulationResult:
    """What a selection's policy did over a trace (energies are totals over all steps)."""

    metric: Metric
    steps: int
    reference: str  # the baseline path's name
    energy_used_mj: float  # paths run plus switch energy
    reference_energy_mj: float  # the reference path at every step
    energy_saved_mj: float
    energy_saved_pct: float
    mean_accuracy: float
    mean_accuracy_drop: float
    worst_accuracy_drop: float
    switches: int
    switch_energy_mj: float  # total charged for switches (included in energy_used_mj)
    steps_per_path: tuple[tuple[str, int], ...]  # every chosen path, cheapest first, with its step count
    violations: int
    first_violation_step: int | None
    trace_unit: str = ""  # the unit the trace was given in: 'mJ', 'ms' or 'fraction'
    fraction_scale: float | None = None  # mJ or ms per 1.0 of a fraction trace (the reference's cost); else None

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "steps": self.steps,
            "trace_unit": self.trace_unit or self.unit,
            "fraction_scale": self.fraction_scale,
            "reference": self.reference,
            "energy_used_mj": self.energy_used_mj,
            "reference_energy_mj": self.reference_energy_mj,
            "energy_saved_mj": self.energy_saved_mj,
            "energy_saved_pct": self.energy_saved_pct,
            "mean_accuracy": self.mean_accuracy,
            "mean_accuracy_drop": self.mean_accuracy_drop,
            "worst_accuracy_drop": self.worst_accuracy_drop,
            "switches": self.switches,
            "switch_energy_mj": self.switch_energy_mj,
            "steps_per_path": dict(self.steps_per_path),
            "violations": self.violations,
            "first_violation_step": self.first_violation_step,
        }


def simulate(
    selection: Selection,
    trace: BudgetTrace | Iterable[float],
    *,
    metric: str | None = None,
    switch_energy_mj: float = 0.0,
) -> SimulationResult:
    """Run ``selection``'s policy over ``trace`` (an absolute BudgetTrace, or budgets in the unit of ``metric``).

    ``metric`` defaults to the trace's metric, else the selection's; a BudgetTrace on another metric is an error.
    """
    metric, budgets = _trace_budgets(selection, trace, metric)
    _check_inputs(selection, switch_energy_mj)
    by_metric, values, prefix_best = _prefix_best(selection, metric)
    cheapest = by_metric[0]

    full = selection.full_model
    counts = {p.name: 0 for p in by_metric}
    energy = acc_sum = drop_sum = 0.0
    worst_drop = -math.inf
    switches = violations = 0
    first_violation: int | None = None
    previous: str | None = None
    for step, budget in enumerate(budgets):
        k = bisect.bisect_right(values, budget)
        if k == 0:
            path = cheapest
            violations += 1
            if first_violation is None:
                first_violation = step
        else:
            path = prefix_best[k - 1]
        counts[path.name] += 1
        if previous is not None and path.name != previous:
            switches += 1
        previous = path.name
        energy += path.energy_mj
        acc_sum += path.accuracy
        drop = full.accuracy - path.accuracy
        drop_sum += drop
        worst_drop = max(worst_drop, drop)

    n = len(budgets)
    switch_total = switches * switch_energy_mj
    used = energy + switch_total
    full_total = n * full.energy_mj
    saved = full_total - used
    return SimulationResult(
        metric=metric,  # type: ignore[arg-type]
        steps=n,
        reference=full.name,
        energy_used_mj=used,
        reference_energy_mj=full_total,
        energy_saved_mj=saved,
        energy_saved_pct=100.0 * saved / full_total if full_total > 0 else 0.0,
        mean_accuracy=acc_sum / n,
        mean_accuracy_drop=drop_sum / n,
        worst_accuracy_drop=worst_drop,
        switches=switches,
        switch_energy_mj=switch_total,
        steps_per_path=tuple((p.name, counts[p.name]) for p in by_metric),
        violations=violations,
        first_violation_step=first_violation,
        trace_unit=METRIC_UNITS[metric],
    )



def _trace_budgets(selection: Selection, trace: BudgetTrace | Iterable[float],
                   metric: str | None) -> tuple[str, tuple[float, ...]]:
    """(metric, budgets per step) of the trace, checked: an absolute trace, a known metric, finite budgets."""
    if isinstance(trace, BudgetTrace):
        if trace.metric is None:
            raise HwmapError("budget_trace holds fractions; simulate it with hwmap.select.pipeline."
                             "simulate_selection (which knows the selection's reference) or make it absolute first")
        if metric is not None and metric != trace.metric:
            raise HwmapError(f"metric {metric!r} does not match the trace's metric {trace.metric!r}")
        metric, budgets = trace.metric, trace.budgets
    else:
        metric = metric or selection.metric
        budgets = tuple(float(b) for b in trace)
    if metric not in METRICS:
        raise HwmapError(f"metric is {metric!r}; expected 'energy' or 'latency'")
    if not budgets:
        raise HwmapError("budget trace is empty; expected at least one step")
    for i, b in enumerate(budgets):
        if not math.isfinite(b):
            raise HwmapError(f"budget trace step {i} is {b}; expected a finite budget")
    return metric, budgets


def _check_inputs(selection: Selection, switch_energy_mj: float) -> None:
    """A switch energy >= 0 and a selection with chosen paths of finite, non-negative costs and 0-100 accuracy."""
    if not (math.isfinite(switch_energy_mj) and switch_energy_mj >= 0):
        raise HwmapError(f"switch_energy_mj is {switch_energy_mj!r}; expected a number >= 0")
    if not selection.chosen:
        raise HwmapError("the selection has no chosen path; expected a Selection from select_paths")
    for point in selection.chosen:
        for name, value in (("energy_mj", point.energy_mj), ("latency_ms", point.latency_ms)):
            if not (math.isfinite(value) and value >= 0):
                raise HwmapError(f"selection path {point.name!r}: {name} is {value!r}; expected a finite "
                                 "number >= 0")
        if not (math.isfinite(point.accuracy) and 0 <= point.accuracy <= 100):
            raise HwmapError(f"selection path {point.name!r}: accuracy is {point.accuracy!r}; expected 0 to 100")


def _prefix_best(selection: Selection, metric: str) -> tuple[list[PathPoint], list[float], list[PathPoint]]:
    """(chosen paths sorted by metric, their metric values, the best-ranked path among the first k for each k).

    The rule's path at budget b is the best-ranked among the paths that fit b: with the paths sorted by metric,
    that is the prefix best at k(b) = the number of paths costing at most b.
    """
    by_metric = sorted(selection.chosen, key=lambda p: (p.metric_value(metric), rank_key(p)))
    values = [p.metric_value(metric) for p in by_metric]
    prefix_best: list[PathPoint] = []
    for p in by_metric:
        prefix_best.append(p if not prefix_best or rank_key(p) < rank_key(prefix_best[-1]) else prefix_best[-1])
    return by_metric, values, prefix_best


__all__ = ["SimulationResult", "simulate"]
