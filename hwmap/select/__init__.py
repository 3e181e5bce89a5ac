"""Choose which execution paths to deploy for dynamic inference, and replay the policy over a budget trace.

Pure data in :mod:`~hwmap.select.problem` (semantics documented there), the ILP in :mod:`~hwmap.select.ilp`
(the only pulp import, done lazily when a problem is solved), budgets parsing in :mod:`~hwmap.select.budgets`,
the trace replay in :mod:`~hwmap.select.simulate`.
"""

from hwmap.select.budgets import (
    BudgetTrace,
    make_levels,
    parse_budgets,
    parse_range,
    read_budget_trace,
    resolve_budgets,
    trace_levels,
)
from hwmap.select.ilp import SOLVERS, available_solvers, select_paths, solve
from hwmap.select.problem import (
    BudgetLevel,
    InfeasibleSelectionError,
    LevelChoice,
    PathPoint,
    Selection,
    SelectionProblem,
    TargetPoint,
    candidates,
    check_feasible,
    evaluate,
    full_model,
    make_problem,
    rank_key,
)
from hwmap.select.simulate import SimulationResult, simulate

__all__ = [
    "SOLVERS",
    "BudgetLevel",
    "BudgetTrace",
    "InfeasibleSelectionError",
    "LevelChoice",
    "PathPoint",
    "Selection",
    "SelectionProblem",
    "SimulationResult",
    "TargetPoint",
    "available_solvers",
    "candidates",
    "check_feasible",
    "evaluate",
    "full_model",
    "make_levels",
    "make_problem",
    "parse_budgets",
    "parse_range",
    "rank_key",
    "read_budget_trace",
    "resolve_budgets",
    "select_paths",
    "simulate",
    "solve",
    "trace_levels",
]
