"""Pareto fronts against a brute force: ties, duplicates, NaN rows, mixed directions, and the per-model table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hwmap.dse.pareto import pareto_front, pareto_table, resolve_objectives
from hwmap.errors import HwmapError


def brute_force(values: np.ndarray, minimise) -> list[int]:
    """The definition, all pairs at once: i is on the front unless some j is <= everywhere and < somewhere
    (rows with NaN excluded from both sides)."""
    signs = np.where(np.broadcast_to(np.asarray(minimise, dtype=bool), (values.shape[1],)), 1.0, -1.0)
    v = values * signs
    valid = ~np.isnan(v).any(axis=1)
    le = (v[None, :, :] <= v[:, None, :]).all(axis=2)  # le[i, j]: row j <= row i everywhere
    lt = (v[None, :, :] < v[:, None, :]).any(axis=2)
    dominated = (le & lt & valid[None, :]).any(axis=1)
    return [i for i in range(len(v)) if valid[i] and not dominated[i]]


@st.composite
def point_sets(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 60))
    # values on a small integer grid force ties in single objectives and exact duplicates of whole points
    grid = [0.0, 1.0, 2.0, 3.0, 4.0] + ([float("nan")] if draw(st.booleans()) else [])
    values = draw(hnp.arrays(np.float64, (n, k), elements=st.sampled_from(grid)))
    minimise = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=k, max_size=k)))
    return values, minimise


@settings(max_examples=200, deadline=None)
@given(point_sets())
def test_front_equals_brute_force(case):
    values, minimise = case
    assert pareto_front(values, minimise=minimise).tolist() == brute_force(values, minimise)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 4), st.integers(200, 600), st.integers(0, 2**31 - 1))
def test_front_equals_brute_force_on_larger_continuous_sets(k, n, seed):
    rng = np.random.default_rng(seed)
    values = rng.random((n, k))
    values[rng.integers(0, n, 10)] = values[rng.integers(0, n, 10)]  # some exact duplicates
    assert pareto_front(values).tolist() == brute_force(values, True)


def test_duplicates_on_the_front_are_all_kept_and_dominated_ones_dropped():
    values = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [1.0, 3.0]])
    # (1,2) twice: neither copy dominates the other, both kept; (2,2) and (1,3) are dominated by (1,2)
    assert pareto_front(values).tolist() == [0, 1, 2]


def test_maximised_objective_and_nan_rows():
    # minimise energy, maximise accuracy: (1, 70) and (2, 80) trade off; (3, 75) is dominated by (2, 80)
    values = np.array([[1.0, 70.0], [2.0, 80.0], [3.0, 75.0], [np.nan, 99.0]])
    assert pareto_front(values, minimise=[True, False]).tolist() == [0, 1]


def test_2d_front_is_fast_on_100k_points():
    rng = np.random.default_rng(0)
    values = rng.random((100_000, 2))
    front = pareto_front(values)
    # the 2-D front of uniform points is small and sorted by x it is strictly decreasing in y
    xy = values[front][np.argsort(values[front][:, 0])]
    assert len(front) < 100 and (np.diff(xy[:, 1]) < 0).all()


def test_pareto_table_is_computed_per_model_and_skips_failed_rows():
    table = pd.DataFrame({
        "model": ["a", "a", "a", "b", "b"],
        "energy_mj": [1.0, 2.0, np.nan, 5.0, 6.0],
        "latency_ms": [2.0, 1.0, 0.1, 5.0, 6.0],
        "area_mm2": [1.0, 1.0, 1.0, 1.0, 1.0],
    })
    front = pareto_table(table, ["energy", "latency"])
    # model a: two trade-off points (the NaN row is a failed point); model b: (5, 5) dominates (6, 6)
    assert front.index.tolist() == [0, 1, 3]


def test_objective_names_are_checked():
    assert resolve_objectives(["energy", "accuracy"]) == [("energy_mj", True), ("expected_accuracy", False)]
    with pytest.raises(HwmapError, match="unknown objective 'power'"):
        resolve_objectives(["power"])
    with pytest.raises(HwmapError, match="needs execution paths"):
        resolve_objectives(["accuracy"], has_paths=False)
    with pytest.raises(HwmapError, match="twice"):
        resolve_objectives(["energy", "energy_mj"])
