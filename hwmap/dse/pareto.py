"""Pareto fronts: the non-dominated rows of a (N, K) array of objective values.

Definitions (the contract the tests check against a brute force):

* Point a *dominates* point b when a is no worse than b on every objective and strictly better on at least one
  ("better" is lower for a minimised objective, higher for a maximised one).
* The front is every point that no other point dominates. **Duplicates are all kept**: two identical points do
  not dominate each other, so when one of them is on the front, every copy is, and each keeps its own index.
* A row with a NaN in any objective (a failed design point) is never on the front and never dominates.

Algorithms: K = 1 is a comparison with the minimum; K = 2 sorts once and keeps the points that improve on the
running best of the second objective (O(N log N)); K >= 3 sorts lexicographically (a dominator always sorts
before the points it dominates) and compares blocks of candidates against the front found so far with numpy
broadcasting (O(N x front x K), in blocks that bound the memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hwmap.errors import HwmapError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MAXIMISED", "OBJECTIVE_ALIASES", "pareto_front", "pareto_table", "resolve_objectives"]

# Objective names a user may give, and the result column each stands for.
OBJECTIVE_ALIASES = {
    "energy": "energy_mj", "energy_mj": "energy_mj",
    "latency": "latency_ms", "latency_ms": "latency_ms",
    "area": "area_mm2", "area_mm2": "area_mm2",
    "cycles": "cycles",
    "utilisation": "average_utilisation", "utilization": "average_utilisation",
    "average_utilisation": "average_utilisation",
    "accuracy": "expected_accuracy", "expected_accuracy": "expected_accuracy",
    "dram_mb": "dram_mb",
}
MAXIMISED = frozenset({"average_utilisation", "expected_accuracy"})
_PATHS_ONLY = frozenset({"expected_accuracy"})
_BLOCK_ELEMENTS = 1 << 22  # booleans per comparison block (candidates x front x K): ~4 MB


def pareto_front(values: np.ndarray | Sequence[Sequence[float]], minimise: bool | Sequence[bool] = True) -> np.ndarray:
    """Indices (ascending) of the non-dominated rows of ``values`` (N, K).

    ``minimise``: one flag for every column, or one per column (False maximises that column).
    Duplicates on the front are all kept; rows with NaN are left out (see the module docstring).
    """
    points = np.asarray(values, dtype=float)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2:
        raise HwmapError(f"pareto_front: values must be a 2-D array (points x objectives), got {points.ndim}-D")
    n, k = points.shape
    flags = np.broadcast_to(np.asarray(minimise, dtype=bool), (k,)) if np.ndim(minimise) == 0 \
        else np.asarray(minimise, dtype=bool)
    if flags.shape != (k,):
        raise HwmapError(f"pareto_front: {len(flags)} minimise flags for {k} objectives")
    if n == 0 or k == 0:
        return np.arange(n if k == 0 else 0, dtype=np.intp)
    points = np.where(flags, points, -points)  # minimise everything from here on
    valid = ~np.isnan(points).any(axis=1)
    index = np.flatnonzero(valid)
    points = points[valid]
    if len(points) == 0:
        return np.empty(0, dtype=np.intp)
    if k == 1:
        keep = np.flatnonzero(points[:, 0] == points[:, 0].min())
    elif k == 2:
        keep = _front_2d(points)
    else:
        keep = _front_nd(points)
    return np.sort(index[keep])


def _front_2d(points: np.ndarray) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    order = np.lexsort((y, x))  # by x, then y
    xs, ys = x[order], y[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])  # first row of each run of equal x
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    group_min = ys[starts]  # sorted by y within a run: its first row holds the run's smallest y
    # best y among points with strictly smaller x (exclusive running minimum over the runs)
    before = np.r_[np.inf, np.minimum.accumulate(group_min)[:-1]]
    keep = (ys == group_min[group]) & (group_min[group] < before[group])
    return order[keep]


def _front_nd(points: np.ndarray) -> np.ndarray:
    n, k = points.shape
    order = np.lexsort(points.T[::-1])  # lexicographic on columns 0, 1, ..., K-1
    sorted_points = points[order]
    front: list[int] = []  # positions in sorted order
    front_points = np.empty((0, k))
    position = 0
    while position < n:
        block_size = max(1, min(n - position, _BLOCK_ELEMENTS // max(1, (len(front) + 256) * k)))
        block = sorted_points[position:position + block_size]
        alive = np.ones(len(block), dtype=bool)
        if len(front_points):
            alive &= ~_dominated_by_any(block, front_points)
        # within the block: any point (dominated or not) that dominates another removes it (transitivity)
        alive &= ~_dominated_by_any(block, block)
        kept = np.flatnonzero(alive)
        front.extend((position + kept).tolist())
        front_points = np.concatenate([front_points, block[kept]])
        position += block_size
    return order[np.asarray(front, dtype=np.intp)]


def _dominated_by_any(candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each candidate: does some row of ``others`` dominate it (all <=, some <)?"""
    result = np.zeros(len(candidates), dtype=bool)
    step = max(1, _BLOCK_ELEMENTS // max(1, len(others) * candidates.shape[1]))
    for start in range(0, len(candidates), step):
        c = candidates[start:start + step, None, :]
        le = (others[None, :, :] <= c).all(axis=2)
        lt = (others[None, :, :] < c).any(axis=2)
        result[start:start + step] = (le & lt).any(axis=1)
    return result


def resolve_objectives(names: Iterable[str], *, has_paths: bool = True) -> list[tuple[str, bool]]:
    """[(result column, minimise)] for objective names or aliases ('energy', 'latency_ms', 'area', ...)."""
    out: list[tuple[str, bool]] = []
    for raw in names:
        name = str(raw).strip()
        column = OBJECTIVE_ALIASES.get(name.lower())
        if column is None:
            known = ", ".join(sorted(set(OBJECTIVE_ALIASES.values())))
            raise HwmapError(f"unknown objective {name!r}; expected one of {known}")
        if column in _PATHS_ONLY and not has_paths:
            raise HwmapError(f"objective {name!r} needs execution paths (a `paths:` entry in the space)")
        if column in (c for c, _ in out):
            raise HwmapError(f"objective {name!r} is given twice")
        out.append((column, column not in MAXIMISED))
    if not out:
        raise HwmapError("no objective given; expected e.g. energy_mj,latency_ms,area_mm2")
    return out


def pareto_table(table: pd.DataFrame, objectives: Iterable[str], *, by: str | None = "model") -> pd.DataFrame:
    """The rows of ``table`` on the Pareto front of ``objectives``, computed separately for each value of ``by``
    (each model: hardware is compared on the same workload), sorted by ``by`` and the first objective.
    Rows where an objective is missing (failed points, or a column a workload does not have) are left out."""
    import pandas as pd

    resolved = resolve_objectives(objectives)
    missing = [c for c, _ in resolved if c not in table.columns]
    if missing:
        raise HwmapError(f"objective column(s) {', '.join(missing)} not in the results "
                         f"(columns: {', '.join(map(str, table.columns))})")
    columns = [c for c, _ in resolved]
    flags = [m for _, m in resolved]
    parts = []
    groups = table.groupby(by, sort=False) if by is not None and by in table.columns else [(None, table)]
    for _, group in groups:
        values = group[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        keep = pareto_front(values, minimise=flags)
        parts.append(group.iloc[keep])
    if not parts:
        return table.iloc[0:0]
    front = pd.concat(parts)
    sort_by = ([by] if by is not None and by in front.columns else []) + [columns[0]]
    return front.sort_values(sort_by, kind="stable")
