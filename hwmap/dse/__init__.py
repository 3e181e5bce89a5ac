"""Design-space exploration: hardware variants x workloads -> costs table -> Pareto fronts.

A :class:`DesignSpace` (a base template plus axes over its fields, crossed with models and optional execution
paths) is declared in YAML (:func:`load_space`); :func:`run_sweep` (``hwmap.dse.sweep.sweep``) costs every point
with the same cost functions as ``hwmap.api.estimate`` on any concurrent.futures-style executor (local processes
by default, a Dask cluster with :func:`dask_executor`), journalling finished chunks so an interrupted sweep
resumes where it stopped; :func:`pareto_front` / :func:`pareto_table` pick the non-dominated points. Importing
this package imports neither torch nor pandas.
"""

from hwmap.dse.pareto import pareto_front, pareto_table, resolve_objectives
from hwmap.dse.space import (
    DEFAULT_OBJECTIVES,
    DesignSpace,
    DesignSpaceError,
    ModelSpec,
    PathsSpec,
    as_space,
    load_space,
)
from hwmap.dse.sweep import (
    SerialExecutor,
    SweepResult,
    dask_executor,
    journal_path_for,
    local_executor,
    point_id,
    read_journal,
    write_table,
)
from hwmap.dse.sweep import sweep as run_sweep  # the module hwmap.dse.sweep keeps its name

__all__ = [
    "DEFAULT_OBJECTIVES",
    "DesignSpace",
    "DesignSpaceError",
    "ModelSpec",
    "PathsSpec",
    "SerialExecutor",
    "SweepResult",
    "as_space",
    "dask_executor",
    "journal_path_for",
    "load_space",
    "local_executor",
    "pareto_front",
    "pareto_table",
    "point_id",
    "read_journal",
    "resolve_objectives",
    "run_sweep",
    "write_table",
]
