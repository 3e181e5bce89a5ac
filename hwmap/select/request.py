"""A selection request, parsed once at the boundary.

``hwmap.api.select_paths`` (and so the ``select-paths`` command) and the sweep's paths workloads build one
:class:`SelectionRequest` from their keywords before any path is costed: budget text is parsed into
:class:`~hwmap.select.budgets.Budgets` (or a trace read into a :class:`~hwmap.select.budgets.BudgetTrace`), the
metric resolved against the budgets' unit, level weights and target points read, and the limits and goal checked
(:class:`~hwmap.select.problem.SelectionTerms`). :func:`hwmap.select.pipeline.run_selection`, the ILP and
``make_problem`` take it as it is: nothing after this module parses or checks what the request guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.budgets import (
    Budgets,
    BudgetTrace,
    parse_numbers,
    read_budget_trace,
    read_target_frontier,
    resolve_metric,
)
from hwmap.select.problem import BudgetLevel, Metric, SelectionTerms, TargetPoint

_TERMS = frozenset(f.name for f in fields(SelectionTerms)) - {"target_frontier"}


@dataclass(frozen=True)
class SelectionRequest:
    """What a selection is asked, every part parsed and checked: ``budgets`` (Budgets, or a BudgetTrace whose
    distinct budgets are the levels), the ``metric`` they limit (implied by their unit; default 'energy' for
    fractions), the ``terms`` (limits, goal, target points), the ``reference`` path's name (None: the most
    expensive on the metric), ``level_weights`` (one per budget; a trace weights its levels itself),
    ``drop_unknown``, and the solver with its time limit. Build it with :meth:`parse` from the API's keywords."""

    budgets: Budgets | BudgetTrace
    metric: Metric | None = None
    terms: SelectionTerms = field(default_factory=SelectionTerms)
    reference: str | None = None
    level_weights: tuple[float, ...] | None = None
    drop_unknown: bool = False
    solver: str = "cbc"
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.budgets, Budgets | BudgetTrace):
            raise HwmapError(f"budgets is a {type(self.budgets).__name__}; expected Budgets or a BudgetTrace "
                             "(SelectionRequest.parse reads budget text)")
        if not isinstance(self.terms, SelectionTerms):
            raise HwmapError(f"terms is a {type(self.terms).__name__}; expected SelectionTerms")
        object.__setattr__(self, "metric", resolve_metric(self.budgets.unit, self.metric))
        if self.level_weights is not None:
            self._check_weights(self.level_weights)

    def _check_weights(self, weights: tuple[float, ...]) -> None:
        if isinstance(self.budgets, BudgetTrace):
            raise HwmapError("budget_weights applies to budgets; a budget trace weights its levels by how often "
                             "they occur (and its weight column)")
        for w in weights:
            if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
                raise HwmapError(f"budget_weights: {w!r} is not a weight; expected finite numbers >= 0")
        if len(weights) != len(self.budgets.values):
            raise HwmapError(f"budget_weights: {len(weights)} weights for {len(self.budgets.values)} budgets; "
                             "expected one per budget")

    @property
    def goal(self) -> str:
        return self.terms.goal

    @property
    def unit(self) -> str:
        """The budgets' unit: 'fraction', 'mJ' or 'ms'."""
        return self.budgets.unit

    @classmethod
    def parse(cls, *, budgets: Any = None, budget_trace: Any = None, budget_weights: Any = None,
              target_frontier: Any = None, **settings: Any) -> SelectionRequest:
        """The request for the API's keywords: ``budgets`` (text, numbers, Budgets) or ``budget_trace`` (a CSV
        path or a BudgetTrace), exactly one; ``budget_weights`` (text or numbers); ``target_frontier`` (a CSV path
        or points); ``settings``: metric, reference, drop_unknown, solver, time_limit_s and the SelectionTerms
        (max_paths, memory_mb, min_accuracy, extra_path_penalty, goal)."""
        if (budgets is None) == (budget_trace is None):
            raise HwmapError("budgets and budget_trace: give one of them (budget levels, or a budget trace CSV)")
        if budgets is not None:
            parsed: Budgets | BudgetTrace = Budgets.coerce(budgets, arg="budgets")
        else:
            parsed = budget_trace if isinstance(budget_trace, BudgetTrace) else read_budget_trace(budget_trace)
        terms = SelectionTerms(target_frontier=_targets(target_frontier),
                               **{k: settings.pop(k) for k in _TERMS & settings.keys()})
        return cls(budgets=parsed, terms=terms, level_weights=_weights(budget_weights), **settings)

    def given_levels(self) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
        """The budget levels as given (in the budgets' unit) and their weights (None: equal): a trace's distinct
        budgets, ascending, each weighted by the sum of its steps' weights (weight 0 left out)."""
        if isinstance(self.budgets, Budgets):
            return self.budgets.values, self.level_weights
        totals: dict[float, float] = {}
        for b, w in zip(self.budgets.budgets, self.budgets.weights, strict=True):
            totals[b] = totals.get(b, 0.0) + w
        kept = [(b, w) for b, w in sorted(totals.items()) if w > 0]
        return tuple(b for b, _ in kept), tuple(w for _, w in kept)

    def levels(self, reference_value: float) -> tuple[BudgetLevel, ...]:
        """The budget levels in the metric's unit (mJ or ms): fractions times ``reference_value`` (the reference
        path's cost on the metric), absolute budgets as they are."""
        given, weights = self.given_levels()
        if self.budgets.is_fraction:
            if not (math.isfinite(reference_value) and reference_value > 0):
                raise HwmapError(f"reference: its {self.metric} is {reference_value!r}; fraction budgets need a "
                                 "reference that costs more than 0")
            given = tuple(v * reference_value for v in given)
        weights = weights if weights is not None else (1.0,) * len(given)
        return tuple(BudgetLevel(float(v), self.metric, float(w))  # type: ignore[arg-type]
                     for v, w in zip(given, weights, strict=True))


def _weights(budget_weights: str | Sequence[float] | None) -> tuple[float, ...] | None:
    if budget_weights is None:
        return None
    if isinstance(budget_weights, str):
        return parse_numbers(budget_weights, arg="budget_weights")
    return tuple(budget_weights)


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


__all__ = ["SelectionRequest"]
