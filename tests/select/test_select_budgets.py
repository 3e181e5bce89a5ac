"""Budgets with units: lists, ranges, fractions of a reference path, and budget-trace files that declare their unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.errors import HwmapError
from hwmap.select import (
    BudgetLevel,
    Budgets,
    BudgetTrace,
    PathPoint,
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


def test_bare_numbers_are_fractions():
    assert parse_budgets("0.5,0.8") == Budgets((0.5, 0.8), "fraction")
    assert parse_budgets(" 0.5 , 0.8 ") == Budgets((0.5, 0.8), "fraction")
    assert parse_budgets("1.5") == Budgets((1.5,), "fraction")  # above 1: fine for a cheaper reference
    assert parse_budgets("0.5").metric is None and parse_budgets("0.5").is_fraction


@pytest.mark.parametrize(
    ("text", "values", "unit"),
    [
        ("30mJ", (30.0,), "mJ"),
        ("500uJ", (0.5,), "mJ"),  # 500 uJ = 0.5 mJ
        ("500µJ", (0.5,), "mJ"),
        ("0.03J", (30.0,), "mJ"),  # 0.03 J = 30 mJ
        ("2J", (2000.0,), "mJ"),
        ("5ms", (5.0,), "ms"),
        ("800us", (0.8,), "ms"),  # 800 us = 0.8 ms
        ("0.005s", (5.0,), "ms"),
        ("1e-3s", (1.0,), "ms"),
        ("2 ms", (2.0,), "ms"),  # a space between number and unit is allowed
        ("20mJ,500uJ,0.001J", (20.0, 0.5, 1.0), "mJ"),  # units of one metric mix freely
    ],
)
def test_each_unit_is_stored_in_mj_or_ms(text, values, unit):
    budgets = parse_budgets(text)
    assert budgets.unit == unit and budgets.values == pytest.approx(values, rel=1e-15)
    assert budgets.metric == {"mJ": "energy", "ms": "latency"}[unit]


def test_range_is_inclusive_and_exact_for_decimal_steps():
    values = parse_budgets("0.5:1.0:0.05").values
    assert len(values) == 11
    assert values[0] == 0.5 and values[-1] == 1.0
    assert values[3] == 0.65  # decimal arithmetic: no 0.6500000000000001
    assert parse_budgets("0.1:0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_budgets("0.1:1:0.3").values == (0.1, 0.4, 0.7, 1.0)
    assert parse_budgets("0.2:1:0.3").values == (0.2, 0.5, 0.8)  # the end is kept only when a step reaches it
    assert parse_budgets("2:2:1").values == (2.0,)


def test_ranges_with_units():
    assert parse_budgets("10mJ:30mJ:5mJ") == Budgets((10.0, 15.0, 20.0, 25.0, 30.0), "mJ")
    # decimal in the stored unit: 0.1 mJ steps from 100 uJ to 0.5 mJ, exactly
    assert parse_budgets("100uJ:0.5mJ:100uJ") == Budgets((0.1, 0.2, 0.3, 0.4, 0.5), "mJ")
    assert parse_budgets("1ms:2ms:0.25ms") == Budgets((1.0, 1.25, 1.5, 1.75, 2.0), "ms")
    assert parse_budgets("0.001s:0.003s:0.001s") == Budgets((1.0, 2.0, 3.0), "ms")
    assert parse_budgets("5mJ,10mJ:20mJ:5mJ") == Budgets((5.0, 10.0, 15.0, 20.0), "mJ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no budget given"),
        ("0.5,,0.8", "empty item"),
        ("0.5,abc", "'abc', which is not a number"),
        ("0.5:1.0:0", "step 0"),
        ("0.5:1.0:-0.1", "step -0.1"),
        ("1.0:0.5:0.1", "ends below its start"),
        ("0:1", "expected start:stop:step"),
        ("0.0001:1000:0.0001", "expands to 10000000 levels"),
        ("-1", "'-1' has a budget of -1; expected budgets > 0"),
        ("0", "budget of 0; expected budgets > 0"),
        ("0:1:0.5", "budget of 0"),
        ("inf", "finite"),
        ("nan", "finite"),
        ("-30mJ", "budget of -30"),
        ("1_0", "'1_0'"),
        ("30kJ", "unit 'kJ'; expected mJ, uJ, J"),
        ("30mj", "unit 'mj'"),  # case matters: mJ (milli) is not MJ (mega)
        ("20mJ,5ms", "'20mJ' is energy \\(mJ\\) but '5ms' is latency \\(ms\\)"),
        ("0.5,20mJ", "'0.5' is fractions of the reference path but '20mJ' is energy"),
        ("10mJ:30ms:5mJ", "mixes energy \\(mJ\\) and latency \\(ms\\)"),
        ("0.1:30mJ:5mJ", "mixes fractions of the reference path and energy"),
    ],
)
def test_parse_errors_name_the_parameter_and_the_item(text, message):
    with pytest.raises(HwmapError, match=message) as info:
        parse_budgets(text)
    assert str(info.value).startswith("budgets:")


def test_coerce_from_the_api():
    assert Budgets.coerce([0.5, 0.8]) == Budgets((0.5, 0.8), "fraction")
    assert Budgets.coerce(["20mJ", "30mJ"]) == Budgets((20.0, 30.0), "mJ")
    assert Budgets.coerce(["10mJ:20mJ:10mJ", "25mJ"]) == Budgets((10.0, 20.0, 25.0), "mJ")
    assert Budgets.coerce("5ms") == Budgets((5.0,), "ms")
    for bad, message in (([float("nan")], "finite"), ([True], "not a budget"), ([], "no budget given"),
                         ([0.5, "20mJ"], "fractions"), ({"a": 1}, "not a budget list"), ([-0.5], "> 0")):
        with pytest.raises(HwmapError, match=message):
            Budgets.coerce(bad)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 10_000),
    st.integers(0, 10_000),
    st.integers(1, 500),
    st.sampled_from([1, 10, 100, 1000]),
    st.sampled_from(["", "mJ", "ms"]),
)
def test_range_count_and_bounds(start, span, step, scale, unit):
    text = f"{Decimal(start) / scale}{unit}:{Decimal(start + span) / scale}{unit}:{Decimal(step) / scale}{unit}"
    values = parse_budgets(text).values
    assert values == parse_range(text.replace(unit, "") if unit else text)
    assert len(values) == span // step + 1  # every step that does not pass the end, the end itself included
    assert values[0] == start / scale
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] <= (start + span) / scale
    if span % step == 0:
        assert values[-1] == (start + span) / scale


def test_plain_numbers_for_weights():
    assert parse_numbers("1,2,1", arg="budget_weights") == (1.0, 2.0, 1.0)
    assert parse_numbers("0:1:0.5", arg="budget_weights") == (0.0, 0.5, 1.0)
    with pytest.raises(HwmapError, match="budget_weights: -1 is negative"):
        parse_numbers("1,-1", arg="budget_weights")


PATHS = [PathPoint("a", 2.0, 10.0, 50.0), PathPoint("b", 8.0, 5.0, 70.0), PathPoint("c", 8.0, 4.0, 72.0)]


def test_metric_comes_from_the_unit():
    assert resolve_metric("mJ", None) == "energy" and resolve_metric("ms", None) == "latency"
    assert resolve_metric("fraction", None) == "energy" and resolve_metric("fraction", "latency") == "latency"
    assert resolve_metric("mJ", "energy") == "energy"
    with pytest.raises(HwmapError, match="metric is 'latency' but the budgets are energy \\(mJ\\)"):
        resolve_metric("mJ", "latency")
    with pytest.raises(HwmapError, match="metric is 'energy' but the budgets are latency"):
        resolve_metric("ms", "energy")
    with pytest.raises(HwmapError, match="metric is 'power'"):
        resolve_metric("fraction", "power")


def test_reference_default_and_named():
    # energy: b and c tie at 8 mJ; the more accurate (c, 72 %) is the reference
    assert choose_reference(PATHS, metric="energy").name == "c"
    # latency: a is the slowest (10 ms)
    assert choose_reference(PATHS, metric="latency").name == "a"
    assert choose_reference(PATHS, metric="energy", reference="a").name == "a"
    with pytest.raises(HwmapError, match="reference 'full' is not one of the paths; expected one of a, b, c"):
        choose_reference(PATHS, metric="energy", reference="full")


def test_fractions_scale_by_the_reference_value():
    # half of c's 8 mJ, 1.25 x a's 2 mJ, half of a's 10 ms
    assert resolve_budgets(Budgets((0.5, 1.0), "fraction"), metric="energy", reference_value=8.0) == (4.0, 8.0)
    assert resolve_budgets(Budgets((1.25,), "fraction"), metric="energy", reference_value=2.0) == (2.5,)
    assert resolve_budgets(Budgets((0.5,), "fraction"), metric="latency", reference_value=10.0) == (5.0,)
    assert resolve_budgets(Budgets((3.0,), "mJ"), metric="energy", reference_value=8.0) == (3.0,)
    with pytest.raises(HwmapError, match="budgets are energy \\(mJ\\) but metric is 'latency'"):
        resolve_budgets(Budgets((3.0,), "mJ"), metric="latency", reference_value=8.0)
    with pytest.raises(HwmapError, match="reference: its energy is 0.0"):
        resolve_budgets(Budgets((0.5,), "fraction"), metric="energy", reference_value=0.0)


def test_make_levels():
    assert make_levels([1.0, 2.0]) == (BudgetLevel(1.0, "energy", 1.0), BudgetLevel(2.0, "energy", 1.0))
    assert make_levels([1.0], metric="latency", weights=[3]) == (BudgetLevel(1.0, "latency", 3.0),)
    with pytest.raises(HwmapError, match="budget_weights: 2 weights for 1 budgets"):
        make_levels([1.0], weights=[1, 2])
    with pytest.raises(HwmapError, match="metric is 'power'"):
        make_levels([1.0], metric="power")


# ------------------------------------------------------------------------------------------------ traces


def test_trace_unit_from_the_column_name(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("budget_mj,weight\n1.5,2\n\n0.5,1\n1.5,3\n")
    trace = read_budget_trace(f)
    assert trace.unit == "mJ" and trace.metric == "energy"
    assert trace.budgets == (1.5, 0.5, 1.5) and trace.weights == (2.0, 1.0, 3.0)
    # levels: one per distinct budget, ascending, weights summed: 0.5 -> 1, 1.5 -> 2 + 3
    assert trace_levels(trace) == (BudgetLevel(0.5, "energy", 1.0), BudgetLevel(1.5, "energy", 5.0))
    for header, unit, values in (("budget_ms", "ms", (2.0, 3.0)), ("budget_us", "ms", (0.002, 0.003)),
                                 ("budget_uj", "mJ", (0.002, 0.003)), ("budget_j", "mJ", (2000.0, 3000.0)),
                                 ("budget_s", "ms", (2000.0, 3000.0)), ("BUDGET_FRACTION", "fraction", (2.0, 3.0)),
                                 ("energy_mj", "mJ", (2.0, 3.0)), ("latency_ms", "ms", (2.0, 3.0))):
        f.write_text(f"step,{header}\n0,2\n1,3\n")
        trace = read_budget_trace(f)
        assert (trace.unit, trace.budgets) == (unit, pytest.approx(values, rel=1e-15)), header


def test_trace_unit_from_a_header_line(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("# a trace from the field\n# unit: ms\n\nbudget,weight\n4,1\n6,3\n")
    trace = read_budget_trace(f)
    assert trace.unit == "ms" and trace.budgets == (4.0, 6.0) and trace.weights == (1.0, 3.0)
    f.write_text("#Unit: uJ\nbudget\n500\n")
    assert read_budget_trace(f).budgets == (0.5,) and read_budget_trace(f).unit == "mJ"
    f.write_text("# unit: fraction\nbudget\n0.5\n0.75\n")
    assert read_budget_trace(f) == BudgetTrace("fraction", (0.5, 0.75), (1.0, 1.0), str(f))
    f.write_text("# unit: mJ\nbudget_mj\n3\n")  # both forms, agreeing
    assert read_budget_trace(f).budgets == (3.0,)


def test_trace_metric_chooses_between_columns(tmp_path):
    both = tmp_path / "both.csv"
    both.write_text("budget_mj,budget_ms\n1,2\n")
    assert read_budget_trace(both, metric="latency").budgets == (2.0,)
    assert read_budget_trace(both, metric="energy").budgets == (1.0,)
    with pytest.raises(HwmapError, match="has budget columns budget_mj, budget_ms; expected one"):
        read_budget_trace(both)
    f = tmp_path / "t.csv"
    f.write_text("step,budget_mj\n0,1.0\n")
    with pytest.raises(HwmapError, match="column 'budget_mj' is energy \\(mJ\\) but metric is 'latency'"):
        read_budget_trace(f, metric="latency")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"no header"),
        ("budget\n1\n", r":1: the budget column has no unit; name the column budget_mj, budget_ms or "
                        r"budget_fraction .* or put a line '# unit: mJ'"),
        ("time,power\n1,2\n", r":1: no budget column \(found 'time', 'power'\)"),
        ("budget_mj\n", r"no rows after the header"),
        ("budget_mj\n1.0\nfast\n", r":3: budget_mj is 'fast'; expected a number > 0"),
        ("# unit: mJ\nbudget\n1.0\nfast\n", r":4: budget is 'fast'"),  # line numbers count the comment line
        ("budget_mj\n-1\n", r":2: budget_mj is '-1'"),
        ("budget_mj\n0\n", r":2: budget_mj is '0'; expected a finite number > 0"),
        ("budget_mj\nnan\n", r":2: budget_mj is 'nan'"),
        ("budget_mj,weight\n1.0,\n", r":2: weight is missing"),
        ("budget_mj,weight\n1.0,0\n", r"every weight is 0"),
        ("budget_mj,budget_mj\n1,2\n", r"column 'budget_mj' appears twice"),
        ("# unit: kJ\nbudget\n1\n", r":1: unit 'kJ'; expected mJ, uJ, J, ms, us, s or fraction"),
        ("# unit: mJ\n# unit: ms\nbudget\n1\n", r":2: a second '# unit:' line"),
        ("# unit: ms\nbudget_mj\n1\n", r"the '# unit: ms' line contradicts column 'budget_mj'"),
        ("budget,budget_mj\n1,2\n", r"has both budget and budget_mj"),
    ],
)
def test_trace_errors_name_file_and_line(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(HwmapError, match=message) as info:
        read_budget_trace(f)
    assert str(f) in str(info.value)


def test_trace_missing_file(tmp_path):
    with pytest.raises(HwmapError, match="budget_trace .*nope.csv: cannot read it"):
        read_budget_trace(tmp_path / "nope.csv")


def test_trace_from_numbers_and_to_absolute():
    trace = BudgetTrace.of([500, 1500], unit="uJ")
    assert trace.unit == "mJ" and trace.budgets == (0.5, 1.5) and trace.weights == (1.0, 1.0)
    fractions = BudgetTrace.of([0.5, 1.0], unit="fraction")
    assert fractions.absolute(metric="energy", reference_value=8.0) == BudgetTrace("mJ", (4.0, 8.0), (1.0, 1.0))
    assert fractions.absolute(metric="latency", reference_value=3.0).budgets == (1.5, 3.0)
    with pytest.raises(HwmapError, match="budget_trace is energy \\(mJ\\) but the metric is 'latency'"):
        trace.absolute(metric="latency", reference_value=1.0)
    with pytest.raises(HwmapError, match="holds fractions"):
        trace_levels(fractions)
    with pytest.raises(HwmapError, match="unit is 'kJ'"):
        BudgetTrace.of([1.0], unit="kJ")
    with pytest.raises(HwmapError, match="step 1 is -1"):
        BudgetTrace.of([1.0, -1], unit="mJ")


def test_target_frontier_csv(tmp_path):
    f = tmp_path / "targets.csv"
    f.write_text("energy_mj,accuracy,weight\n2,60,1\n\n5,75,2\n")
    points = read_target_frontier(f)
    assert [(t.energy_mj, t.accuracy, t.weight) for t in points] == [(2.0, 60.0, 1.0), (5.0, 75.0, 2.0)]
    f.write_text("energy_mj,accuracy\n2,160\n")
    with pytest.raises(HwmapError, match=":2: accuracy is 160"):
        read_target_frontier(f)
    f.write_text("energy,accuracy\n2,60\n")
    with pytest.raises(HwmapError, match="expected energy_mj, accuracy"):
        read_target_frontier(f)
