"""Budget lists, ranges, relative budgets and budget-trace files."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.errors import HwmapError
from hwmap.select import (
    BudgetLevel,
    PathPoint,
    make_levels,
    parse_budgets,
    parse_range,
    read_budget_trace,
    resolve_budgets,
    trace_levels,
)


def test_list():
    assert parse_budgets("1.2,3.4") == (1.2, 3.4)
    assert parse_budgets(" 1.2 , 3.4 ") == (1.2, 3.4)
    assert parse_budgets("5") == (5.0,)


def test_range_is_inclusive_and_exact_for_decimal_steps():
    values = parse_budgets("0.5:1.0:0.05")
    assert len(values) == 11
    assert values[0] == 0.5 and values[-1] == 1.0
    assert values[3] == 0.65  # decimal arithmetic: no 0.6500000000000001
    assert parse_budgets("0.1:0.3:0.1") == (0.1, 0.2, 0.3)
    assert parse_budgets("0:1:0.3") == (0.0, 0.3, 0.6, 0.9)  # the end is kept only when a step reaches it
    assert parse_budgets("2:2:1") == (2.0,)


def test_mixed_items():
    assert parse_budgets("0.2,0.5:1:0.25") == (0.2, 0.5, 0.75, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no budget given"),
        ("1.2,,3", "empty item"),
        ("1.2,abc", "'abc', which is not a number"),
        ("0.5:1.0:0", "step 0"),
        ("0.5:1.0:-0.1", "step -0.1"),
        ("1.0:0.5:0.1", "ends below its start"),
        ("0:1", "expected start:stop:step"),
        ("0:1000:0.0001", "expands to 10000001 levels"),
        ("-1", "negative"),
        ("inf", "finite"),
    ],
)
def test_parse_errors_name_the_argument(text, message):
    with pytest.raises(HwmapError, match=message) as info:
        parse_budgets(text, arg="--budgets")
    assert str(info.value).startswith("--budgets")


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(1, 500),
    st.sampled_from([1, 10, 100, 1000]),
)
def test_range_count_and_bounds(start, span, step, scale):
    text = f"{Decimal(start) / scale}:{Decimal(start + span) / scale}:{Decimal(step) / scale}"
    values = parse_range(text)
    assert len(values) == span // step + 1  # every step that does not pass the end, the end itself included
    assert values[0] == start / scale
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] <= (start + span) / scale
    if span % step == 0:
        assert values[-1] == (start + span) / scale


def test_relative_budgets():
    paths = [PathPoint("a", 2.0, 10.0, 50.0), PathPoint("b", 8.0, 5.0, 70.0)]
    assert resolve_budgets([0.5, 1.0], paths=paths, metric="energy", relative=True) == (4.0, 8.0)
    assert resolve_budgets([0.5], paths=paths, metric="latency", relative=True) == (5.0,)
    assert resolve_budgets([0.5], paths=paths, relative=False) == (0.5,)
    with pytest.raises(HwmapError, match="relative budgets need"):
        resolve_budgets([0.5], paths=[], relative=True)


def test_make_levels():
    assert make_levels([1.0, 2.0]) == (BudgetLevel(1.0, "energy", 1.0), BudgetLevel(2.0, "energy", 1.0))
    assert make_levels([1.0], metric="latency", weights=[3]) == (BudgetLevel(1.0, "latency", 3.0),)
    with pytest.raises(HwmapError, match="2 weights for 1 budgets"):
        make_levels([1.0], weights=[1, 2])
    with pytest.raises(HwmapError, match="metric is 'power'"):
        make_levels([1.0], metric="power")


def test_trace_with_budget_column_and_weights(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("budget,weight\n1.5,2\n\n0.5,1\n1.5,3\n")
    trace = read_budget_trace(f)
    assert trace.metric == "energy" and trace.budgets == (1.5, 0.5, 1.5) and trace.weights == (2.0, 1.0, 3.0)
    # levels: one per distinct budget, ascending, weights summed: 0.5 -> 1, 1.5 -> 2 + 3
    assert trace_levels(trace) == (BudgetLevel(0.5, "energy", 1.0), BudgetLevel(1.5, "energy", 5.0))
    assert read_budget_trace(f, metric="latency").metric == "latency"


def test_trace_metric_columns(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("step,energy_mj\n0,1.0\n1,2.0\n")
    trace = read_budget_trace(f)
    assert trace.metric == "energy" and trace.budgets == (1.0, 2.0) and trace.weights == (1.0, 1.0)
    both = tmp_path / "both.csv"
    both.write_text("energy_mj,latency_ms\n1,2\n")
    assert read_budget_trace(both, metric="latency").budgets == (2.0,)
    with pytest.raises(HwmapError, match="both energy_mj and latency_ms"):
        read_budget_trace(both)
    with pytest.raises(HwmapError, match="metric 'latency' asked for"):
        read_budget_trace(f, metric="latency")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"empty file"),
        ("time,power\n1,2\n", r":1: no budget column \(found 'time', 'power'\)"),
        ("budget\n", r"no rows after the header"),
        ("budget\n1.0\nfast\n", r":3: budget is 'fast'; expected a number >= 0"),
        ("budget\n-1\n", r":2: budget is '-1'"),
        ("budget,weight\n1.0,\n", r":2: weight is missing"),
        ("budget,weight\n1.0,0\n", r"every weight is 0"),
        ("budget,budget\n1,2\n", r"column 'budget' appears twice"),
    ],
)
def test_trace_errors_name_file_and_line(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(HwmapError, match=message) as info:
        read_budget_trace(f)
    assert str(f) in str(info.value)


def test_trace_missing_file(tmp_path):
    with pytest.raises(HwmapError, match="cannot read the budget trace"):
        read_budget_trace(tmp_path / "nope.csv")
