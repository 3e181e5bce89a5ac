"""Path selection as pure data: the inputs, their validation, the run rule, feasibility and pre-processing.

Nothing here imports a solver; ``ilp.py`` turns a :class:`SelectionProblem` into an ILP.

Semantics (the contract the ILP, the brute force in the tests and the simulator all follow)
------------------------------------------------------------------------------------------

* A *path* (:class:`PathPoint`) is one way to execute the model: its energy (mJ), latency (ms), accuracy (%),
  and the weights it needs (``weight_group``, ``weight_mb``). Paths cut from the same weights share a group.
* A *budget level* (:class:`BudgetLevel`) is a limit on one metric, ``"energy"`` (mJ) or ``"latency"`` (ms),
  with a weight (how often the device is at that level; equal weights unless given). All levels of one problem
  share one metric.
* A *selection* is a set S of paths deployed on the device. Its cost and constraints:

  - ``max_paths``: |S| <= max_paths.
  - ``memory_mb``: each weight group with at least one path in S costs the LARGEST ``weight_mb`` among its
    paths in S; the sum over those groups must be <= memory_mb.
  - ``min_accuracy``: paths with accuracy below it cannot be selected.
  - Only paths that fit the largest budget level are selectable (a path that can never run is never deployed).

* The run rule: at budget b, the device runs the **best-ranked path of S whose metric is <= b**. The rank is
  :func:`rank_key`: highest accuracy first; among equal accuracy, lower energy, then lower latency, then
  smaller ``weight_mb``, then the name (lexicographic). Every level must be served by some path of S, else the
  request is infeasible (:class:`InfeasibleSelectionError`).
* Goals:

  - ``"accuracy"`` (A, default): maximise the expected accuracy, the weighted mean over levels of the accuracy
    of the path the rule runs at that level, minus the extra-path penalty.
  - ``"frontier"`` (B): minimise the weighted mean over target points (energy_mj, accuracy) of the shortfall
    ``max(0, target accuracy - best accuracy among the paths of S with energy_mj <= target energy_mj)``
    (0 % when no path of S is that cheap), plus the extra-path penalty. The budget levels are still
    constraints: every level must be served.
  - ``extra_path_penalty`` (accuracy points, default 0) is charged per selected path beyond the first, a
    simple proxy for the cost of storing and switching between more paths. Switching itself is costed only by
    the simulator (``switch_energy_mj``), where the order of budgets is known.

* Tie-breaking among selections with the same goal: for goal A the one with the lowest expected
  energy (weighted mean over levels of the energy of the path run); for goal B the one with the highest
  expected accuracy. The ILP folds this into one objective with weight 1e-4 (``ilp.TIE_TOL``): exact whenever
  distinct goal values differ by more than 1e-4 accuracy points, within 1e-4 of the optimum otherwise.
  Selections still tied after that are decided by the solver, which is deterministic for the same input. The
  reported set holds only the paths that run at some level or that are the best path for some target point
  (the others change nothing and are dropped), listed cheapest first. Memory comparisons allow a relative
  1e-9 for rounding (``MEMORY_RTOL``).
* The *reference* (``Selection.full_model``, kept under that name in the selection JSON) is the path named by
  ``reference``, by default the most expensive path by energy among all the paths given (ties: the more
  accurate, then the name); energy saved and accuracy drop are measured against always running it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from hwmap.errors import HwmapError
from hwmap.vocabulary import BUDGET_METRICS, SELECTION_GOALS

METRICS: tuple[str, ...] = BUDGET_METRICS
GOALS: tuple[str, ...] = SELECTION_GOALS
Metric = Literal[BUDGET_METRICS]  # type: ignore[valid-type]
Goal = Literal[SELECTION_GOALS]  # type: ignore[valid-type]

METRIC_UNITS: Mapping[str, str] = {"energy": "mJ", "latency": "ms"}
METRIC_FIELDS: Mapping[str, str] = {"energy": "energy_mj", "latency": "latency_ms"}

#: Relative slack on memory_mb when a selection's memory is checked (rounding in the solver and in sums).
MEMORY_RTOL = 1e-9


class InfeasibleSelectionError(HwmapError):
    """No selection serves every budget level under the given limits.

    ``suggestions`` maps the argument(s) to change to the value that makes the request feasible with everything
    else held fixed: ``"budget"`` (the smallest feasible value for every level below it), ``"memory_mb"`` (the
    smallest feasible memory) or ``"min_accuracy"`` (the largest feasible minimum accuracy).
    """

    def __init__(self, message: str, *, suggestions: Mapping[str, float] | None = None) -> None:
        super().__init__(message)
        self.suggestions: dict[str, float] = dict(suggestions or {})


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class PathPoint:
    """One execution path of a model with its cost and accuracy.

    ``accuracy`` is in percent; ``accuracy_source`` says where it comes from (paper, evaluation run, estimate).
    ``weight_group`` names the weights the path is cut from ('' means the path has weights of its own);
    ``weight_mb`` is the size of the weights this path needs.
    """

    name: str
    energy_mj: float
    latency_ms: float
    accuracy: float
    accuracy_source: str = ""
    weight_group: str = ""
    weight_mb: float = 0.0

    @property
    def group_key(self) -> str:
        """The weight group, or the path's own name when it has weights of its own."""
        return self.weight_group or f"path:{self.name}"

    def metric_value(self, metric: str) -> float:
        """The path's cost on ``metric`` ('energy' -> energy_mj, 'latency' -> latency_ms)."""
        return float(getattr(self, METRIC_FIELDS[metric]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PathPoint:
        return cls(
            name=str(data["name"]),
            energy_mj=float(data["energy_mj"]),
            latency_ms=float(data["latency_ms"]),
            accuracy=float(data["accuracy"]),
            accuracy_source=str(data.get("accuracy_source", "")),
            weight_group=str(data.get("weight_group", "")),
            weight_mb=float(data.get("weight_mb", 0.0)),
        )

    @classmethod
    def coerce(cls, obj: Any) -> PathPoint:
        """A PathPoint from a PathPoint, a mapping, or any object with the same attribute names."""
        if isinstance(obj, PathPoint):
            return obj
        try:
            if isinstance(obj, Mapping):
                return cls.from_dict(obj)
            return cls(
                name=str(obj.name),
                energy_mj=float(obj.energy_mj),
                latency_ms=float(obj.latency_ms),
                accuracy=float(obj.accuracy),
                accuracy_source=str(getattr(obj, "accuracy_source", "")),
                weight_group=str(getattr(obj, "weight_group", "")),
                weight_mb=float(getattr(obj, "weight_mb", 0.0)),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise HwmapError(
                f"paths: {obj!r} is not a path point; expected name, energy_mj, latency_ms, accuracy"
            ) from exc


@dataclass(frozen=True)
class BudgetLevel:
    """A limit on one metric: ``budget`` is in mJ for metric 'energy' and in ms for 'latency'."""

    budget: float
    metric: Metric = "energy"
    weight: float = 1.0

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetLevel:
        return cls(
            budget=float(data["budget"]), metric=data.get("metric", "energy"), weight=float(data.get("weight", 1.0))
        )


@dataclass(frozen=True)
class TargetPoint:
    """A point of the frontier goal B: reach ``accuracy`` (%) within ``energy_mj``."""

    energy_mj: float
    accuracy: float
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetPoint:
        return cls(
            energy_mj=float(data["energy_mj"]), accuracy=float(data["accuracy"]), weight=float(data.get("weight", 1.0))
        )


@dataclass(frozen=True)
class SelectionProblem:
    """A validated selection request (build it with :func:`make_problem`)."""

    paths: tuple[PathPoint, ...]
    levels: tuple[BudgetLevel, ...]
    terms: SelectionTerms = field(default_factory=lambda: SelectionTerms())
    reference: str | None = None  # the baseline path's name; None: the most expensive path by energy

    @property
    def metric(self) -> Metric:
        return self.levels[0].metric

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    def level_weights(self) -> tuple[float, ...]:
        """Level weights normalised to sum to 1."""
        total = math.fsum(lv.weight for lv in self.levels)
        return tuple(lv.weight / total for lv in self.levels)

    def target_weights(self) -> tuple[float, ...]:
        """Target-point weights normalised to sum to 1 (empty for goal A)."""
        total = math.fsum(t.weight for t in self.terms.target_frontier)
        return tuple(t.weight / total for t in self.terms.target_frontier) if total > 0 else ()


# ------------------------------------------------------------------------------------- validation


def _finite(value: Any, what: str, *, minimum: float | None = None, strict: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise HwmapError(f"{what} is {value!r}; expected a number") from None
    if not math.isfinite(number):
        raise HwmapError(f"{what} is {number}; expected a finite number")
    if minimum is not None and (number < minimum or (strict and number == minimum)):
        relation = ">" if strict else ">="
        raise HwmapError(f"{what} is {number:g}; expected a number {relation} {minimum:g}")
    return number


@dataclass(frozen=True)
class SelectionTerms:
    """What a selection is asked beyond its paths and budgets, checked once when it is made: the limits
    (``max_paths`` >= 1, ``memory_mb`` >= 0, ``min_accuracy``, ``extra_path_penalty`` >= 0 accuracy points per path
    kept beyond the first), the ``goal`` ('accuracy' or 'frontier') and the frontier goal's target points (given
    exactly when the goal is 'frontier'). :func:`make_problem` and the ILP take it as it is."""

    max_paths: int | None = None
    memory_mb: float | None = None
    min_accuracy: float | None = None
    extra_path_penalty: float = 0.0
    goal: Goal = "accuracy"
    target_frontier: tuple[TargetPoint, ...] = ()

    def __post_init__(self) -> None:
        if self.max_paths is not None and (isinstance(self.max_paths, bool) or not isinstance(self.max_paths, int)
                                           or self.max_paths < 1):
            raise HwmapError(f"max_paths is {self.max_paths!r}; expected an integer >= 1")
        if self.memory_mb is not None:
            object.__setattr__(self, "memory_mb", _finite(self.memory_mb, "memory_mb", minimum=0.0))
        if self.min_accuracy is not None:
            object.__setattr__(self, "min_accuracy", _finite(self.min_accuracy, "min_accuracy"))
        object.__setattr__(self, "extra_path_penalty",
                           _finite(self.extra_path_penalty, "extra_path_penalty", minimum=0.0))
        if self.goal not in GOALS:
            raise HwmapError(f"goal is {self.goal!r}; expected one of {', '.join(map(repr, GOALS))}")
        targets = tuple(self.target_frontier)
        object.__setattr__(self, "target_frontier", targets)
        if self.goal == "frontier":
            _check_targets(targets)
        elif targets:
            raise HwmapError("target_frontier is only used with goal 'frontier'; drop it or set the goal")


def _check_targets(targets: tuple[TargetPoint, ...]) -> None:
    if not targets:
        raise HwmapError("target_frontier is empty; goal 'frontier' needs (energy_mj, accuracy) points")
    for i, t in enumerate(targets):
        if not isinstance(t, TargetPoint):
            raise HwmapError(f"target_frontier: point {i} is {t!r}; expected a TargetPoint")
        _finite(t.energy_mj, f"target point {i} energy_mj", minimum=0.0)
        _finite(t.accuracy, f"target point {i} accuracy")
        _finite(t.weight, f"target point {i} weight", minimum=0.0)
    if math.fsum(t.weight for t in targets) <= 0:
        raise HwmapError("target_frontier: every weight is 0; expected at least one positive weight")


def _checked_points(paths: Iterable[Any]) -> tuple[PathPoint, ...]:
    points = tuple(PathPoint.coerce(p) for p in paths)
    if not points:
        raise HwmapError("paths: no path given; expected at least one path point")
    seen: set[str] = set()
    for p in points:
        if not p.name:
            raise HwmapError("paths: a path has an empty name; expected a unique non-empty name")
        if p.name in seen:
            raise HwmapError(f"paths: name '{p.name}' appears twice; expected unique names")
        seen.add(p.name)
        _finite(p.energy_mj, f"path '{p.name}' energy_mj", minimum=0.0)
        _finite(p.latency_ms, f"path '{p.name}' latency_ms", minimum=0.0)
        _finite(p.weight_mb, f"path '{p.name}' weight_mb", minimum=0.0)
        acc = _finite(p.accuracy, f"path '{p.name}' accuracy", minimum=0.0)
        if acc > 100.0:
            raise HwmapError(f"path '{p.name}' accuracy is {acc:g}; expected a percentage in [0, 100]")
    return points


def _checked_levels(levels: Iterable[BudgetLevel]) -> tuple[BudgetLevel, ...]:
    level_tuple = tuple(levels)
    if not level_tuple:
        raise HwmapError("budgets: no budget level given; expected at least one")
    metric = level_tuple[0].metric
    for i, lv in enumerate(level_tuple):
        if not isinstance(lv, BudgetLevel):
            raise HwmapError(f"budgets: level {i} is {lv!r}; expected a BudgetLevel")
        if lv.metric not in METRICS:
            raise HwmapError(f"budgets: level {i} has metric {lv.metric!r}; expected 'energy' or 'latency'")
        if lv.metric != metric:
            raise HwmapError(
                f"budgets: level {i} is on {lv.metric!r} but level 0 is on {metric!r}; "
                "expected one metric for all levels"
            )
        _finite(lv.budget, f"budget level {i} ({lv.budget!r} {lv.unit})", minimum=0.0)
        _finite(lv.weight, f"budget level {i} weight", minimum=0.0)
    if math.fsum(lv.weight for lv in level_tuple) <= 0:
        raise HwmapError("budgets: every level weight is 0; expected at least one positive weight")
    return level_tuple


def make_problem(
    paths: Iterable[Any],
    levels: Iterable[BudgetLevel],
    terms: SelectionTerms | None = None,
    *,
    reference: str | None = None,
    **term_keywords: Any,
) -> SelectionProblem:
    """A :class:`SelectionProblem`: the paths and budget levels checked (HwmapError naming the bad one), the
    :class:`SelectionTerms` taken as they are (or made from ``term_keywords``: max_paths, memory_mb, min_accuracy,
    extra_path_penalty, goal, target_frontier).

    ``paths`` may hold PathPoints, mappings or objects with the PathPoint attribute names. ``reference`` names the
    path savings and accuracy drops are measured against (default: the most expensive path by energy).
    """
    if terms is None:
        terms = SelectionTerms(**term_keywords)
    elif term_keywords:
        raise HwmapError(f"make_problem: give terms or {', '.join(term_keywords)}, not both")
    points = _checked_points(paths)
    level_tuple = _checked_levels(levels)
    if reference is not None and reference not in {p.name for p in points}:
        raise HwmapError(f"reference {reference!r} is not one of the paths; expected one of "
                         f"{', '.join(sorted(p.name for p in points))}")
    return SelectionProblem(paths=points, levels=level_tuple, terms=terms, reference=reference)


# ------------------------------------------------------------------------------------ the rules


def rank_key(path: PathPoint) -> tuple[float, float, float, float, str]:
    """The run-rule order, best first: accuracy desc, then energy, latency, weight_mb asc, then name."""
    return (-path.accuracy, path.energy_mj, path.latency_ms, path.weight_mb, path.name)


def full_model(paths: Iterable[PathPoint], metric: str = "energy") -> PathPoint:
    """The most expensive path on ``metric`` (ties: more accurate, then name): the default reference."""
    return min(paths, key=lambda p: (-p.metric_value(metric), -p.accuracy, p.name))


def reference_path(problem: SelectionProblem) -> PathPoint:
    """The problem's reference path: the one it names, else the most expensive path by energy."""
    if problem.reference is None:
        return full_model(problem.paths)
    return next(p for p in problem.paths if p.name == problem.reference)


def run_path(selected: Sequence[PathPoint], budget: float, metric: str) -> PathPoint | None:
    """The path the run rule picks among ``selected`` at ``budget``, or None when none fits."""
    best: PathPoint | None = None
    for p in selected:
        if p.metric_value(metric) <= budget and (best is None or rank_key(p) < rank_key(best)):
            best = p
    return best


def memory_used_mb(selected: Iterable[PathPoint]) -> float:
    """Sum over weight groups of the largest weight_mb among the group's selected paths."""
    per_group: dict[str, float] = {}
    for p in selected:
        per_group[p.group_key] = max(per_group.get(p.group_key, 0.0), p.weight_mb)
    return math.fsum(per_group.values())


def best_within_energy(selected: Iterable[PathPoint], energy_mj: float) -> PathPoint | None:
    """The best-ranked selected path with energy_mj <= ``energy_mj`` (for the frontier goal)."""
    fitting = [p for p in selected if p.energy_mj <= energy_mj]
    return min(fitting, key=rank_key) if fitting else None


@dataclass(frozen=True)
class Evaluation:
    """The run rule applied to one set of paths (see :func:`evaluate`)."""

    feasible: bool
    runs: tuple[PathPoint | None, ...]  # per level, in level order
    expected_accuracy: float
    expected_energy_mj: float
    expected_latency_ms: float
    frontier_shortfall: float
    memory_mb: float
    goal_value: float


def evaluate(problem: SelectionProblem, selected: Sequence[PathPoint]) -> Evaluation:
    """Apply the run rule to ``selected`` and compute the goal value (feasibility includes every limit)."""
    metric = problem.metric
    b_max = max(lv.budget for lv in problem.levels)
    runs = tuple(run_path(selected, lv.budget, metric) for lv in problem.levels)
    weights = problem.level_weights()
    served = all(r is not None for r in runs)
    exp_acc = math.fsum(w * r.accuracy for w, r in zip(weights, runs, strict=True) if r is not None)
    exp_energy = math.fsum(w * r.energy_mj for w, r in zip(weights, runs, strict=True) if r is not None)
    exp_latency = math.fsum(w * r.latency_ms for w, r in zip(weights, runs, strict=True) if r is not None)
    mem = memory_used_mb(selected)
    shortfall = 0.0
    for w, t in zip(problem.target_weights(), problem.terms.target_frontier, strict=True):
        best = best_within_energy(selected, t.energy_mj)
        shortfall += w * max(0.0, t.accuracy - (best.accuracy if best is not None else 0.0))
    penalty = problem.terms.extra_path_penalty * max(0, len(selected) - 1)
    if problem.terms.goal == "accuracy":
        goal_value = exp_acc - penalty
    else:
        goal_value = shortfall + penalty
    feasible = (
        served
        and len(selected) > 0
        and (problem.terms.max_paths is None or len(selected) <= problem.terms.max_paths)
        and (problem.terms.memory_mb is None or mem <= problem.terms.memory_mb * (1 + MEMORY_RTOL) + MEMORY_RTOL)
        and (problem.terms.min_accuracy is None or all(p.accuracy >= problem.terms.min_accuracy for p in selected))
        and all(p.metric_value(metric) <= b_max for p in selected)
    )
    return Evaluation(feasible, runs, exp_acc, exp_energy, exp_latency, shortfall, mem, goal_value)


def useful_subset(problem: SelectionProblem, selected: Sequence[PathPoint]) -> tuple[PathPoint, ...]:
    """The paths of ``selected`` that run at some level or are the best path for some target point.

    Dropping the others changes no run, no shortfall, and only lowers the path count and memory.
    """
    keep = {r.name for r in evaluate(problem, selected).runs if r is not None}
    for t in problem.terms.target_frontier:
        best = best_within_energy(selected, t.energy_mj)
        if best is not None:
            keep.add(best.name)
    return tuple(p for p in selected if p.name in keep)


# ----------------------------------------------------------------------------------- feasibility


def _fmt(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True)
class _Limits:
    """The limits one path must meet alone for a request to be feasible (see check_feasible)."""

    metric: str
    unit: str
    smallest_budget: float
    memory_mb: float | None
    min_accuracy: float | None

    def accuracy_ok(self, p: PathPoint) -> bool:
        return self.min_accuracy is None or p.accuracy >= self.min_accuracy

    def budget_ok(self, p: PathPoint) -> bool:
        return p.metric_value(self.metric) <= self.smallest_budget

    def memory_ok(self, p: PathPoint) -> bool:
        return self.memory_mb is None or p.weight_mb <= self.memory_mb

    @property
    def budget_text(self) -> str:
        return f"budget {_fmt(self.smallest_budget)} {self.unit}"


def check_feasible(problem: SelectionProblem) -> None:
    """Raise :class:`InfeasibleSelectionError` (one line, with the value that would work) when infeasible.

    With one metric the levels are nested: a path that fits the smallest budget fits every level. So the
    request is feasible exactly when ONE path has accuracy >= min_accuracy, metric <= the smallest budget and
    weight_mb <= memory_mb (that path alone is a feasible selection; max_paths >= 1 always). The fixes named in
    the message are exact for the argument they change, with the other arguments held fixed.
    """
    limits = _Limits(problem.metric, problem.unit, min(lv.budget for lv in problem.levels), problem.terms.memory_mb,
                     problem.terms.min_accuracy)
    paths = problem.paths
    if any(limits.accuracy_ok(p) and limits.budget_ok(p) and limits.memory_ok(p) for p in paths):
        return
    eligible = [p for p in paths if limits.accuracy_ok(p)]
    if not eligible:
        _accuracy_excludes_every_path(paths, limits)
    fitting = [p for p in eligible if limits.budget_ok(p)]
    if not fitting:
        _budget_below_every_path(eligible, limits, problem.levels)
    # Some eligible path fits every level, so memory is what fails.
    p = min(fitting, key=lambda q: (q.weight_mb, rank_key(q)))
    raise InfeasibleSelectionError(
        f"memory limit {_fmt(limits.memory_mb)} MB is below every weight group that serves "  # type: ignore[arg-type]
        f"{limits.budget_text}; the smallest that serves every level is {_fmt(p.weight_mb)} MB ('{p.name}', group "
        f"'{p.weight_group or p.name}')",
        suggestions={"memory_mb": p.weight_mb},
    )


def _accuracy_excludes_every_path(paths: Sequence[PathPoint], limits: _Limits) -> None:
    """min_accuracy alone excludes everything: say the largest value that works with budget and memory (or, when
    none does, what the most accurate path needs)."""
    min_acc, metric, unit = limits.min_accuracy, limits.metric, limits.unit
    ok = [p for p in paths if limits.budget_ok(p) and limits.memory_ok(p)]
    best_overall = min(paths, key=rank_key)
    if ok:
        best = min(ok, key=rank_key)
        raise InfeasibleSelectionError(
            f"min_accuracy {_fmt(min_acc)}% excludes every path (the most accurate is "  # type: ignore[arg-type]
            f"'{best_overall.name}' at {_fmt(best_overall.accuracy)}%); the largest feasible min_accuracy is "
            f"{_fmt(best.accuracy)}% ('{best.name}')",
            suggestions={"min_accuracy": best.accuracy},
        )
    fix = {"min_accuracy": best_overall.accuracy}
    extra = []
    if not limits.budget_ok(best_overall):
        fix["budget"] = best_overall.metric_value(metric)
        extra.append(f"budget {_fmt(fix['budget'])} {unit}")
    if not limits.memory_ok(best_overall):
        fix["memory_mb"] = best_overall.weight_mb
        extra.append(f"memory_mb {_fmt(best_overall.weight_mb)}")
    raise InfeasibleSelectionError(
        f"min_accuracy {_fmt(min_acc)}% excludes every path (the most accurate is "  # type: ignore[arg-type]
        f"'{best_overall.name}' at {_fmt(best_overall.accuracy)}%); a feasible request needs min_accuracy "
        f"<= {_fmt(best_overall.accuracy)}% with {' and '.join(extra)}",
        suggestions=fix,
    )


def _budget_below_every_path(eligible: Sequence[PathPoint], limits: _Limits, levels: Sequence[BudgetLevel]) -> None:
    """No path accurate enough fits the smallest budget: the smallest budget that works (within memory, or with the
    memory the cheapest path needs)."""
    metric, unit, mem, min_acc = limits.metric, limits.unit, limits.memory_mb, limits.min_accuracy
    mem_txt = f"memory_mb {_fmt(mem)}" if mem is not None else ""
    qual = f" with accuracy >= {_fmt(min_acc)}%" if min_acc is not None else ""

    def below(value: float) -> str:
        count = sum(1 for lv in levels if lv.budget < value)
        return f" ({count} levels are below it)" if count > 1 else ""

    by_cost = sorted(eligible, key=lambda p: (p.metric_value(metric), p.weight_mb, rank_key(p)))
    cheapest = by_cost[0]
    within_mem = [p for p in by_cost if limits.memory_ok(p)]
    if within_mem:
        p = within_mem[0]
        where = f"the cheapest path{qual}" if p is cheapest else f"the cheapest path{qual} within {mem_txt}"
        value = p.metric_value(metric)
        raise InfeasibleSelectionError(
            f"{limits.budget_text} is below {where} ({_fmt(value)} {unit}, '{p.name}'){below(value)}; "
            f"the smallest feasible budget is {_fmt(value)} {unit}",
            suggestions={"budget": value},
        )
    value = cheapest.metric_value(metric)
    raise InfeasibleSelectionError(
        f"{limits.budget_text} is below the cheapest path{qual} ({_fmt(value)} {unit}, '{cheapest.name}')"
        f"{below(value)} and {mem_txt} is below every path's weights; the smallest feasible budget is "
        f"{_fmt(value)} {unit} with memory_mb {_fmt(cheapest.weight_mb)}",
        suggestions={"budget": value, "memory_mb": cheapest.weight_mb},
    )


# ---------------------------------------------------------------------------------- pre-processing


def candidates(problem: SelectionProblem) -> tuple[PathPoint, ...]:
    """The paths worth giving the solver, best-ranked first. Every step keeps some optimal selection.

    1. Paths below min_accuracy, above the largest budget (never runnable) or with weight_mb above memory_mb
       are not selectable.
    2. Path dominance: drop p when another path q has accuracy >= p's, energy_mj <= p's, metric <= p's and,
       when a memory limit is set, is in the SAME weight group with weight_mb <= p's, and q ranks before p
       (:func:`rank_key`). Why this is safe: in any selection S containing p, S - p + q is also feasible (same
       count or fewer; q's group already pays for p's weights, which are at least q's; q meets min_accuracy) and
       no worse: q fits wherever p fits and outranks p, so at every level the path run is the same or better
       ranked, and every target point sees a path at least as accurate. For goal A the expected accuracy
       cannot drop; at an optimum it cannot rise either, so every level's accuracy is unchanged and the path run
       has energy <= before (rank prefers lower energy among equal accuracy): the tie-break (lower expected
       energy) is preserved. For goal B the shortfall cannot rise and the expected accuracy (its tie-break)
       cannot drop. Without a memory limit weight groups play no part, so q may come from any group.
    3. Group dominance (with a memory limit): drop a whole weight group G when another group G' has, for every
       path p of G, a path q that dominates p as in step 2 (weight_mb included, groups aside). Replacing every
       path of S in G by its dominator keeps S feasible: G no longer pays, and G' now pays
       max(what it paid, the dominators' weights) <= max(what G' paid, what G paid), never more than both did;
       the count does not grow. The rest of the argument is step 2's. Domination between groups is a strict
       order (transitive, and two groups cannot dominate each other: one holds the best-ranked path of both),
       so the groups dropped do not depend on the order they are checked in.
    """
    metric = problem.metric
    b_max = max(lv.budget for lv in problem.levels)
    mem = problem.terms.memory_mb
    pool = [
        p
        for p in problem.paths
        if (problem.terms.min_accuracy is None or p.accuracy >= problem.terms.min_accuracy)
        and p.metric_value(metric) <= b_max
        and (mem is None or p.weight_mb <= mem)
    ]
    use_memory = mem is not None
    buckets: dict[str, list[PathPoint]] = {}
    for p in pool:
        buckets.setdefault(p.group_key if use_memory else "", []).append(p)
    kept: dict[str, list[PathPoint]] = {}
    for key, bucket in buckets.items():
        # Best-ranked first: a dominator always precedes what it dominates, so one pass suffices.
        bucket.sort(key=rank_key)
        front: list[tuple[float, float, float, PathPoint]] = []
        for p in bucket:
            m, e, w = p.metric_value(metric), p.energy_mj, p.weight_mb if use_memory else 0.0
            if any(fm <= m and fe <= e and fw <= w for fm, fe, fw, _ in front):
                continue
            front.append((m, e, w, p))
        kept[key] = [item[3] for item in front]
    if use_memory and len(kept) > 1:
        for key in _dominated_groups(kept, metric):
            del kept[key]
    return tuple(sorted((p for group in kept.values() for p in group), key=rank_key))


def _dominated_groups(groups: Mapping[str, Sequence[PathPoint]], metric: str) -> list[str]:
    """The weight groups covered path by path by another group (step 3 of :func:`candidates`)."""
    order = {p.name: r for r, p in enumerate(sorted((p for g in groups.values() for p in g), key=rank_key))}
    arrays = {
        key: np.array(
            [(-p.accuracy, p.energy_mj, p.metric_value(metric), p.weight_mb, order[p.name]) for p in paths],
            dtype=float,
        )
        for key, paths in groups.items()
    }
    dropped: list[str] = []
    for key, mine in arrays.items():
        for other_key, theirs in arrays.items():
            if other_key == key:
                continue
            # covers[i, j]: their path j dominates my path i (all five columns no larger, rank strictly smaller).
            covers = (theirs[None, :, :4] <= mine[:, None, :4]).all(axis=2) & (theirs[None, :, 4] < mine[:, None, 4])
            if covers.any(axis=1).all():
                dropped.append(key)
                break
    return dropped


@dataclass(frozen=True)
class LevelGroup:
    """Budget levels with the same set of fitting candidates: candidates[:prefix] (sorted by metric)."""

    prefix: int
    weight: float  # normalised: the weights of all groups sum to 1
    level_indices: tuple[int, ...]


def level_groups(problem: SelectionProblem, by_metric: Sequence[PathPoint]) -> tuple[LevelGroup, ...]:
    """Aggregate levels whose fitting sets are equal; ``by_metric`` is the candidate list sorted by metric."""
    metric = problem.metric
    values = [p.metric_value(metric) for p in by_metric]
    weights = problem.level_weights()
    groups: dict[int, tuple[float, list[int]]] = {}
    for i, lv in enumerate(problem.levels):
        k = bisect.bisect_right(values, lv.budget)
        w, idx = groups.get(k, (0.0, []))
        idx.append(i)
        groups[k] = (w + weights[i], idx)
    return tuple(LevelGroup(k, w, tuple(idx)) for k, (w, idx) in sorted(groups.items()))


# ------------------------------------------------------------------------------------------ output


@dataclass(frozen=True)
class LevelChoice:
    """One row of the budget -> path table: the path the rule runs at this level (budget in the level's unit)."""

    budget: float
    metric: Metric
    weight: float  # as given, not normalised
    path: str
    energy_mj: float
    latency_ms: float
    accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LevelChoice:
        return cls(
            budget=float(data["budget"]),
            metric=data["metric"],
            weight=float(data["weight"]),
            path=str(data["path"]),
            energy_mj=float(data["energy_mj"]),
            latency_ms=float(data["latency_ms"]),
            accuracy=float(data["accuracy"]),
        )


@dataclass(frozen=True)
class Selection:
    """The chosen paths and what they deliver.

    ``chosen``: the selected paths, cheapest first on the level metric. ``table``: per budget level (in the order
    given) the path the rule runs. ``expected_*``: weighted means over levels of the path run. ``full_model``: the
    reference path (the problem's ``reference``; by default the most expensive path by energy);
    ``energy_saved_mj`` / ``energy_saved_pct`` compare the
    expected energy with always running it, ``accuracy_drop`` its accuracy with the expected accuracy.
    ``goal_value``: expected accuracy minus the extra-path penalty (goal 'accuracy') or mean frontier
    shortfall plus the penalty (goal 'frontier'). ``frontier_shortfall``: that mean shortfall (0 for
    goal 'accuracy'). ``memory_mb``: what the chosen paths' weight groups need. ``solver``: 'cbc', 'highs',
    or 'presolve' when no ILP was needed. ``status``: 'optimal' when the solver proved optimality, 'feasible'
    when a time limit stopped it first. ``solve_time_s``: wall time of the solver call (PuLP writing the model,
    the solver, reading the solution back). ``candidates``: paths left after filtering and dominance pruning.
    """

    goal: Goal
    metric: Metric
    chosen: tuple[PathPoint, ...]
    table: tuple[LevelChoice, ...]
    full_model: PathPoint
    expected_accuracy: float
    expected_energy_mj: float
    expected_latency_ms: float
    energy_saved_mj: float
    energy_saved_pct: float
    accuracy_drop: float
    memory_mb: float
    frontier_shortfall: float
    goal_value: float
    solver: str
    status: str
    solve_time_s: float
    candidates: int

    @property
    def chosen_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.chosen)

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    def path_for(self, budget: float) -> PathPoint | None:
        """The chosen path the rule runs at ``budget`` (on this selection's metric), or None if none fits."""
        return run_path(self.chosen, budget, self.metric)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chosen_names"] = list(self.chosen_names)
        data["chosen"] = [p.to_dict() for p in self.chosen]
        data["table"] = [row.to_dict() for row in self.table]
        data["full_model"] = self.full_model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        try:
            return cls(
                goal=data["goal"],
                metric=data["metric"],
                chosen=tuple(PathPoint.from_dict(p) for p in data["chosen"]),
                table=tuple(LevelChoice.from_dict(r) for r in data["table"]),
                full_model=PathPoint.from_dict(data["full_model"]),
                expected_accuracy=float(data["expected_accuracy"]),
                expected_energy_mj=float(data["expected_energy_mj"]),
                expected_latency_ms=float(data["expected_latency_ms"]),
                energy_saved_mj=float(data["energy_saved_mj"]),
                energy_saved_pct=float(data["energy_saved_pct"]),
                accuracy_drop=float(data["accuracy_drop"]),
                memory_mb=float(data["memory_mb"]),
                frontier_shortfall=float(data["frontier_shortfall"]),
                goal_value=float(data["goal_value"]),
                solver=str(data["solver"]),
                status=str(data["status"]),
                solve_time_s=float(data["solve_time_s"]),
                candidates=int(data["candidates"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HwmapError(
                f"selection data is missing or has a bad field ({exc!r}); expected Selection.to_dict()"
            ) from exc


def build_selection(
    problem: SelectionProblem,
    selected: Sequence[PathPoint],
    *,
    solver: str,
    status: str,
    solve_time_s: float,
    candidates: int,
) -> Selection:
    """Report a set of paths as a :class:`Selection` (only the useful paths are kept; see :func:`useful_subset`)."""
    metric = problem.metric
    chosen = useful_subset(problem, selected)
    ev = evaluate(problem, chosen)
    if not ev.feasible:
        raise HwmapError("internal error: the solver returned a selection that breaks the limits")
    table = tuple(
        LevelChoice(lv.budget, lv.metric, lv.weight, r.name, r.energy_mj, r.latency_ms, r.accuracy)
        for lv, r in zip(problem.levels, ev.runs, strict=True)
        if r is not None
    )
    full = reference_path(problem)
    saved = full.energy_mj - ev.expected_energy_mj
    return Selection(
        goal=problem.terms.goal,
        metric=metric,
        chosen=tuple(sorted(chosen, key=lambda p: (p.metric_value(metric), rank_key(p)))),
        table=table,
        full_model=full,
        expected_accuracy=ev.expected_accuracy,
        expected_energy_mj=ev.expected_energy_mj,
        expected_latency_ms=ev.expected_latency_ms,
        energy_saved_mj=saved,
        energy_saved_pct=100.0 * saved / full.energy_mj if full.energy_mj > 0 else 0.0,
        accuracy_drop=full.accuracy - ev.expected_accuracy,
        memory_mb=ev.memory_mb,
        frontier_shortfall=ev.frontier_shortfall,
        goal_value=ev.goal_value,
        solver=solver,
        status=status,
        solve_time_s=solve_time_s,
        candidates=candidates,
    )
