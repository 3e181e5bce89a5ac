"""Choose which execution paths to deploy for dynamic inference, and replay the policy over a budget trace.

Pure data in :mod:`~hwmap.select.problem` (semantics documented there), the ILP in :mod:`~hwmap.select.ilp`
(the only pulp import, done lazily when a problem is solved), budgets parsing in :mod:`~hwmap.select.budgets`,
the trace replay in :mod:`~hwmap.select.simulate`, and the one pipeline from costed paths and budgets with units to
a result in :mod:`~hwmap.select.pipeline` (what the API, the CLI and the sweep call), which takes the
:class:`~hwmap.select.request.SelectionRequest` the API parses once.
"""

from hwmap.select.budgets import (
    Budgets,
    BudgetTrace,
    choose_reference,
    make_levels,
    parse_budgets,
    parse_numbers,
    parse_range,
    read_budget_trace,
    read_target_frontier,
    resolve_budgets,
    resolve_metric,
    trace_levels,
)
from hwmap.select.ilp import SOLVERS, available_solvers, select_paths, solve
from hwmap.select.pipeline import SelectionResult, path_points, run_selection, simulate_selection
from hwmap.select.problem import (
    BudgetLevel,
    InfeasibleSelectionError,
    LevelChoice,
    PathPoint,
    Selection,
    SelectionProblem,
    SelectionTerms,
    TargetPoint,
    candidates,
    check_feasible,
    evaluate,
    full_model,
    make_problem,
    rank_key,
)
from hwmap.select.request import SelectionRequest
from hwmap.select.simulate import SimulationResult, simulate

__all__ = [
    "SOLVERS",
    "BudgetLevel",
    "BudgetTrace",
    "Budgets",
    "InfeasibleSelectionError",
    "LevelChoice",
    "PathPoint",
    "Selection",
    "SelectionProblem",
    "SelectionRequest",
    "SelectionResult",
    "SelectionTerms",
    "SimulationResult",
    "TargetPoint",
    "available_solvers",
    "candidates",
    "check_feasible",
    "choose_reference",
    "evaluate",
    "full_model",
    "make_levels",
    "make_problem",
    "parse_budgets",
    "parse_numbers",
    "parse_range",
    "path_points",
    "rank_key",
    "read_budget_trace",
    "read_target_frontier",
    "resolve_budgets",
    "resolve_metric",
    "run_selection",
    "select_paths",
    "simulate",
    "simulate_selection",
    "solve",
    "trace_levels",
]
