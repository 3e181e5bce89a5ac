"""Budgets with units from the command line, the API or a file: lists, ranges, fractions of a reference path,
and budget-trace CSVs that declare their unit.

Budget text (``--budget`` / ``budgets=``): comma-separated items, each a number with an optional unit or a range
``start:stop:step`` (inclusive end, decimal arithmetic, so 0.05 steps do not drift):

* ``30mJ``, ``500uJ``, ``0.03J`` are energy budgets (stored in mJ); ``5ms``, ``800us``, ``0.005s`` latency
  budgets (stored in ms). A unit fixes the metric.
* A bare number is a fraction of the reference path's cost on the metric (``0.5`` = half of it; values above 1
  are allowed: they matter when the reference is not the most expensive path).
* ``0.5:1.0:0.05``, ``10mJ:30mJ:5mJ`` are ranges (every part of a range carries the same unit, or none).
* One request is all fractions, all energy or all latency: mixing is an error. Every budget is finite and > 0.

A budget trace CSV (``--budget-trace``) has one row per step and declares its unit, either by a column name
``budget_mj``, ``budget_uj``, ``budget_j``, ``budget_ms``, ``budget_us``, ``budget_s`` or ``budget_fraction``
(``energy_mj`` / ``latency_ms`` are read as ``budget_mj`` / ``budget_ms``), or by a comment line
``# unit: mJ`` (any unit above, or ``fraction``) before a header with a ``budget`` column. An optional ``weight``
column weights the steps (default 1). :func:`trace_levels` turns a trace into budget levels (one per distinct
budget, weighted by the sum of its rows' weights); :func:`hwmap.select.simulate.simulate` replays it step by step.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from hwmap.errors import HwmapError
from hwmap.fileio import read_text_input
from hwmap.select.problem import METRIC_UNITS, METRICS, BudgetLevel, Metric, PathPoint, TargetPoint, full_model
from hwmap.units import BUDGET_UNIT_SCALES, BUDGET_UNITS

#: A range may not expand to more levels than this (a typo like 0:1000:0.0001 should fail, not hang).
MAX_RANGE_LEVELS = 100_000

BudgetUnit = Literal[BUDGET_UNITS]  # type: ignore[valid-type]
#: Every unit a budget may be written in -> (stored unit, exact factor): hwmap.units, the one table.
UNIT_SCALES: Mapping[str, tuple[str, Decimal]] = BUDGET_UNIT_SCALES
UNIT_METRICS: Mapping[str, Metric] = {unit: metric for metric, unit in METRIC_UNITS.items()}  # type: ignore[misc]
_UNIT_LIST = "mJ, uJ, J (energy), ms, us, s (latency), or none for a fraction of the reference path"


def unit_metric(unit: str) -> Metric | None:
    """The metric a stored unit budgets ('mJ' -> 'energy', 'ms' -> 'latency'), None for fractions."""
    return UNIT_METRICS.get(unit)


def _unit_words(unit: str) -> str:
    return {"fraction": "fractions of the reference path", "mJ": "energy (mJ)", "ms": "latency (ms)"}[unit]


class _InBudgetUnit:
    """What a budget unit says, for Budgets and BudgetTrace (both have a ``unit``)."""

    unit: BudgetUnit

    @property
    def metric(self) -> Metric | None:
        """'energy' for mJ, 'latency' for ms, None for fractions (the metric then comes from elsewhere)."""
        return unit_metric(self.unit)

    @property
    def is_fraction(self) -> bool:
        return self.unit == "fraction"


@dataclass(frozen=True)
class Budgets(_InBudgetUnit):
    """Budget values in one unit: ``'fraction'`` (of the reference path's cost), ``'mJ'`` or ``'ms'``."""

    values: tuple[float, ...]
    unit: BudgetUnit

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "unit": self.unit}

    @classmethod
    def coerce(cls, obj: Any, *, arg: str = "budgets") -> Budgets:
        """Budgets from Budgets, budget text (``"20mJ,30mJ"``), or a sequence of numbers (fractions) and texts."""
        if isinstance(obj, Budgets):
            return obj
        if isinstance(obj, str):
            return parse_budgets(obj, arg=arg)
        if isinstance(obj, Iterable) and not isinstance(obj, Mapping | bytes):
            items: list[tuple[str, tuple[Decimal, ...], str]] = []
            for item in obj:
                if isinstance(item, bool) or not isinstance(item, int | float | str | Decimal):
                    raise HwmapError(f"{arg}: {item!r} is not a budget; expected a number (a fraction) or text "
                                     "with a unit such as '30mJ'")
                if isinstance(item, str):
                    items.extend(_parse_items(item, arg=arg))
                else:
                    if isinstance(item, float) and not math.isfinite(item):
                        raise HwmapError(f"{arg}: {item!r} is not a finite number; expected budgets > 0")
                    items.append(_parse_item(repr(item) if isinstance(item, float) else str(item), arg=arg))
            if not items:
                raise HwmapError(f"{arg}: no budget given; expected at least one, e.g. [0.5, 0.8] or '20mJ,30mJ'")
            return _combine(items, arg=arg)
        raise HwmapError(f"{arg}: {obj!r} is not a budget list; expected text such as '0.5,0.8' or '20mJ:30mJ:5mJ' "
                         "or a list of numbers")


@dataclass(frozen=True)
class BudgetTrace(_InBudgetUnit):
    """A sequence of budgets over time, one per step, in one unit (``'fraction'``, ``'mJ'`` or ``'ms'``);
    ``weights`` are per step (default 1)."""

    unit: BudgetUnit
    budgets: tuple[float, ...]
    weights: tuple[float, ...]
    source: str = ""

    @classmethod
    def of(cls, budgets: Iterable[float], *, unit: str, weights: Iterable[float] | None = None,
           source: str = "") -> BudgetTrace:
        """A trace from numbers in ``unit`` (mJ, uJ, J, ms, us, s or 'fraction'), checked and stored in mJ/ms."""
        if unit not in UNIT_SCALES:
            raise HwmapError(f"unit is {unit!r}; expected mJ, uJ, J, ms, us, s or 'fraction'")
        stored, scale = UNIT_SCALES[unit]
        values = []
        for i, b in enumerate(budgets):
            if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0:
                raise HwmapError(f"budget_trace: step {i} is {b!r}; expected a finite budget > 0")
            values.append(float(Decimal(repr(float(b))) * scale) if scale != 1 else float(b))
        if not values:
            raise HwmapError("budget_trace is empty; expected at least one step")
        steps = tuple(1.0 for _ in values) if weights is None else tuple(float(w) for w in weights)
        if len(steps) != len(values) or any(not (math.isfinite(w) and w >= 0) for w in steps) or sum(steps) <= 0:
            raise HwmapError("budget_trace weights: expected one finite weight >= 0 per step, not all 0")
        return cls(unit=stored, budgets=tuple(values), weights=steps, source=source)  # type: ignore[arg-type]

    def absolute(self, *, metric: str, reference_value: float) -> BudgetTrace:
        """The trace in the metric's unit: fractions times ``reference_value``; an absolute trace on ``metric``
        as it is; an absolute trace on the other metric is an error."""
        metric = _metric(metric, "metric")
        if self.is_fraction:
            return BudgetTrace(METRIC_UNITS[metric], tuple(b * reference_value for b in self.budgets),  # type: ignore[arg-type]
                               self.weights, self.source)
        if self.metric != metric:
            where = f" {self.source}" if self.source else ""
            raise HwmapError(f"budget_trace{where} is {_unit_words(self.unit)} but the metric is {metric!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "budgets": list(self.budgets), "weights": list(self.weights),
                "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetTrace:
        return cls.of(data["budgets"], unit=data["unit"], weights=data.get("weights"),
                      source=str(data.get("source", "")))


def _metric(metric: Any, arg: str) -> Metric:
    if metric not in METRICS:
        raise HwmapError(f"{arg} is {metric!r}; expected 'energy' or 'latency'")
    return metric  # type: ignore[no-any-return]


_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_WITH_UNIT = re.compile(r"(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>[A-Za-zµ]+)?")


def _decimal(text: str, *, arg: str, item: str) -> Decimal:
    if text.strip().lstrip("+-").lower() in ("inf", "infinity", "nan", "snan"):
        raise HwmapError(f"{arg}: {item!r} has {text.strip()!r}; expected a finite number")
    try:
        if not _DECIMAL.fullmatch(text.strip()):  # Decimal() and float() also take '1_0' and '١'
            raise InvalidOperation
        value = Decimal(text.strip())
    except InvalidOperation:
        raise HwmapError(f"{arg}: {item!r} has {text.strip()!r}, which is not a number; expected e.g. 1.5") from None
    if not value.is_finite():
        raise HwmapError(f"{arg}: {item!r} has {text.strip()!r}; expected a finite number")
    return value


def _quantity(text: str, *, arg: str, item: str) -> tuple[Decimal, str]:
    """A number with an optional unit -> (value in the stored unit, stored unit or 'fraction')."""
    text = text.strip()
    if text.lstrip("+-").lower() in ("inf", "infinity", "nan", "snan"):
        raise HwmapError(f"{arg}: {item!r} has {text!r}; expected a finite number")
    match = _WITH_UNIT.fullmatch(text)
    if match is None:
        raise HwmapError(f"{arg}: {item!r} has {text!r}, which is not a number with a unit; expected e.g. 0.5, "
                         "30mJ or 5ms")
    unit = (match.group("unit") or "fraction").strip()
    if unit not in UNIT_SCALES:
        raise HwmapError(f"{arg}: {item!r} has unit {unit!r}; expected {_UNIT_LIST}")
    stored, scale = UNIT_SCALES[unit]
    return _decimal(match.group("number"), arg=arg, item=item) * scale, stored


def _parse_item(item: str, *, arg: str) -> tuple[str, tuple[Decimal, ...], str]:
    """One list item (a number or a range) -> (item text, values in the stored unit, stored unit)."""
    item = item.strip()
    if ":" not in item:
        value, unit = _quantity(item, arg=arg, item=item)
        return item, (value,), unit
    parts = item.split(":")
    if len(parts) != 3:
        raise HwmapError(f"{arg}: {item!r} is not a range; expected start:stop:step, e.g. 0.5:1.0:0.05")
    quantities = [_quantity(p, arg=arg, item=item) for p in parts]
    units = {u for _, u in quantities}
    if len(units) > 1:
        raise HwmapError(f"{arg}: {item!r} mixes {' and '.join(_unit_words(u) for u in sorted(units))}; expected "
                         "one unit for start, stop and step (e.g. 10mJ:30mJ:5mJ)")
    (start, unit), (stop, _), (step, _) = quantities
    return item, _expand(start, stop, step, arg=arg, text=item), unit


def _expand(start: Decimal, stop: Decimal, step: Decimal, *, arg: str, text: str) -> tuple[Decimal, ...]:
    """start, start + step, ... up to stop inclusive, in decimal arithmetic (exact for decimal inputs)."""
    if step <= 0:
        raise HwmapError(f"{arg}: {text!r} has step {step}; expected start:stop:step with step > 0")
    if stop < start:
        raise HwmapError(f"{arg}: {text!r} ends below its start; expected start <= stop")
    count = int((stop - start) / step) + 1  # Decimal division: exact for decimal inputs, so the end is kept
    if count > MAX_RANGE_LEVELS:
        raise HwmapError(f"{arg}: {text!r} expands to {count} levels; expected at most {MAX_RANGE_LEVELS}")
    return tuple(start + i * step for i in range(count))


def _parse_items(text: str, *, arg: str) -> list[tuple[str, tuple[Decimal, ...], str]]:
    if not text.strip():
        raise HwmapError(f"{arg}: no budget given; expected e.g. 0.5,0.8 (fractions), 20mJ,30mJ or 0.5:1.0:0.05")
    items = []
    for item in text.split(","):
        if not item.strip():
            raise HwmapError(f"{arg}: {text!r} has an empty item; expected budgets separated by commas")
        items.append(_parse_item(item, arg=arg))
    return items


def _combine(items: list[tuple[str, tuple[Decimal, ...], str]], *, arg: str) -> Budgets:
    first_item, _, unit = items[0]
    for item, values, other in items:
        if other != unit:
            raise HwmapError(f"{arg}: {first_item!r} is {_unit_words(unit)} but {item!r} is {_unit_words(other)}; "
                             "expected one kind of budget per request")
        for value in values:
            if value <= 0:
                raise HwmapError(f"{arg}: {item!r} has a budget of {value.normalize():f}; expected budgets > 0")
    return Budgets(tuple(float(v) for _, values, _ in items for v in values), unit)  # type: ignore[arg-type]


def parse_budgets(text: str, *, arg: str = "budgets") -> Budgets:
    """Parse budget text (module docstring): ``"0.5,0.8"``, ``"20mJ,30mJ"``, ``"0.5:1.0:0.05"``, ``"1ms:5ms:1ms"``.

    ``arg`` names the parameter in error messages.
    """
    if not isinstance(text, str):
        raise HwmapError(f"{arg}: {text!r} is not budget text; expected e.g. '0.5,0.8' or '20mJ,30mJ'")
    return _combine(_parse_items(text, arg=arg), arg=arg)


def parse_numbers(text: str, *, arg: str) -> tuple[float, ...]:
    """Plain numbers >= 0 (no units): a comma-separated list with ``start:stop:step`` ranges, e.g. level weights
    ``"1,2,1"``; the arithmetic is decimal as for budgets."""
    if not isinstance(text, str) or not text.strip():
        raise HwmapError(f"{arg}: nothing given; expected numbers like 1,2 or a range like 0.5:1.0:0.05")
    values: list[float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise HwmapError(f"{arg}: {text!r} has an empty item; expected numbers separated by commas")
        if ":" in item:
            values.extend(parse_range(item, arg=arg))
        else:
            values.append(float(_decimal(item, arg=arg, item=item)))
    for v in values:
        if v < 0:
            raise HwmapError(f"{arg}: {v:g} is negative; expected numbers >= 0")
    return tuple(values)


def parse_range(text: str, *, arg: str = "budgets") -> tuple[float, ...]:
    """Expand ``start:stop:step`` (inclusive end) into budgets; the arithmetic is decimal, so 0.05 steps are exact."""
    parts = text.split(":")
    if len(parts) != 3:
        raise HwmapError(f"{arg}: {text!r} is not a range; expected start:stop:step, e.g. 0.5:1.0:0.05")
    start, stop, step = (_decimal(p, arg=arg, item=text) for p in parts)
    return tuple(float(value) for value in _expand(start, stop, step, arg=arg, text=text))


def resolve_metric(unit: str, metric: str | None) -> Metric:
    """The metric of a request: the budgets' unit fixes it (mJ -> energy, ms -> latency); ``metric`` must agree;
    fractions take ``metric`` (default 'energy')."""
    implied = unit_metric(unit)
    if metric is None:
        return implied or "energy"
    metric = _metric(metric, "metric")
    if implied is not None and implied != metric:
        raise HwmapError(f"metric is {metric!r} but the budgets are {_unit_words(unit)}; drop metric or give "
                         f"budgets in {METRIC_UNITS[metric]}")
    return metric


def choose_reference(paths: Iterable[Any], *, metric: str, reference: str | None = None) -> PathPoint:
    """The reference path: the one named ``reference``, else the most expensive on ``metric`` (ties: the more
    accurate, then the name)."""
    metric = _metric(metric, "metric")
    points = [PathPoint.coerce(p) for p in paths]
    if not points:
        raise HwmapError("paths: no path given; a reference path is needed")
    if reference is None:
        return full_model(points, metric)
    for p in points:
        if p.name == reference:
            return p
    names = ", ".join(p.name for p in points)
    raise HwmapError(f"reference {reference!r} is not one of the paths; expected one of {names}")


def resolve_budgets(budgets: Budgets, *, metric: str, reference_value: float) -> tuple[float, ...]:
    """Budgets in the metric's unit (mJ or ms): fractions times ``reference_value``, absolute budgets as they are
    (their unit must be the metric's)."""
    metric = _metric(metric, "metric")
    if budgets.is_fraction:
        if not (math.isfinite(reference_value) and reference_value > 0):
            raise HwmapError(f"reference: its {metric} is {reference_value!r}; fraction budgets need a reference "
                             "that costs more than 0")
        return tuple(v * reference_value for v in budgets.values)
    if budgets.metric != metric:
        raise HwmapError(f"budgets are {_unit_words(budgets.unit)} but metric is {metric!r}")
    return budgets.values


def make_levels(
    values: Sequence[float], *, metric: str = "energy", weights: Sequence[float] | None = None
) -> tuple[BudgetLevel, ...]:
    """Budget levels from values (mJ for 'energy', ms for 'latency') and optional weights (equal by default)."""
    metric = _metric(metric, "metric")
    if weights is None:
        weights = [1.0] * len(values)
    if len(weights) != len(values):
        raise HwmapError(f"budget_weights: {len(weights)} weights for {len(values)} budgets; expected one per "
                         "budget")
    return tuple(BudgetLevel(float(v), metric, float(w)) for v, w in zip(values, weights, strict=True))


_TRACE_COLUMNS: Mapping[str, str] = {
    **{f"budget_{unit.lower()}": unit for unit in UNIT_SCALES if unit.isascii()},
    "energy_mj": "mJ", "latency_ms": "ms",
}
_UNIT_LINE = re.compile(r"#\s*unit\s*:\s*(?P<unit>\S+)\s*", re.IGNORECASE)
_HOW_TO_DECLARE = ("name the column budget_mj, budget_ms or budget_fraction (or budget_uj, budget_j, budget_us, "
                   "budget_s), or put a line '# unit: mJ' (or ms, fraction, ...) before the header")


def read_budget_trace(path: str | Path, *, metric: str | None = None) -> BudgetTrace:
    """Read a budget trace CSV that declares its unit (module docstring); errors name the file, line and what was
    expected. ``metric`` ('energy'/'latency') chooses the column when the file has one for each; an absolute trace
    on another metric is an error."""
    if metric is not None:
        metric = _metric(metric, "metric")
    file = Path(path)
    text = read_text_input(file, what="budget_trace")
    lines = text.splitlines(keepends=True)
    declared: str | None = None
    skipped = 0  # comment and blank lines before the header
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        skipped += 1
        unit_line = _UNIT_LINE.fullmatch(stripped)
        if unit_line is not None:
            spelled = unit_line.group("unit")
            if spelled not in UNIT_SCALES:
                raise HwmapError(f"{file}:{skipped}: unit {spelled!r}; expected mJ, uJ, J, ms, us, s or fraction")
            if declared is not None:
                raise HwmapError(f"{file}:{skipped}: a second '# unit:' line; expected one")
            declared = spelled
    reader = csv.reader(io.StringIO("".join(lines[skipped:]), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HwmapError(f"{file}: no header; expected a header with a budget column ({_HOW_TO_DECLARE})") from None
    except csv.Error as exc:
        raise HwmapError(f"{file}:{skipped + 1}: not a CSV file ({exc})") from None
    header_line = skipped + 1
    columns = [c.strip().lower() for c in header]
    for name in set(columns):
        if name and columns.count(name) > 1:
            raise HwmapError(f"{file}:{header_line}: column {name!r} appears twice; expected each column once")
    column, unit, scale = _pick_column(file, header_line, columns, declared, metric)
    index = columns.index(column)
    weight_index = columns.index("weight") if "weight" in columns else None
    budgets: list[float] = []
    weights: list[float] = []
    try:
        for row in reader:
            line = skipped + reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            value = _cell(file, line, row, index, column, minimum_text="> 0", positive=True)
            budgets.append(float(Decimal(row[index].strip()) * scale) if scale != 1 else value)
            if weight_index is not None:
                weights.append(_cell(file, line, row, weight_index, "weight", minimum_text=">= 0"))
            else:
                weights.append(1.0)
    except csv.Error as exc:
        raise HwmapError(f"{file}:{skipped + reader.line_num}: not a CSV row ({exc})") from None
    if not budgets:
        raise HwmapError(f"{file}: no rows after the header; expected one budget per row")
    if math.fsum(weights) <= 0:
        raise HwmapError(f"{file}: every weight is 0; expected at least one positive weight")
    return BudgetTrace(unit=unit, budgets=tuple(budgets), weights=tuple(weights),  # type: ignore[arg-type]
                       source=str(file))


def _pick_column(file: Path, line: int, columns: list[str], declared: str | None,
                 metric: Metric | None) -> tuple[str, str, Decimal]:
    """The budget column, its stored unit and the factor from the file's unit to it."""
    with_unit = [c for c in columns if c in _TRACE_COLUMNS]
    if with_unit and "budget" in columns:
        raise HwmapError(f"{file}:{line}: has both budget and {with_unit[0]}; expected one budget column")
    if with_unit:
        if len(with_unit) > 1:
            stored = {c: UNIT_SCALES[_TRACE_COLUMNS[c]][0] for c in with_unit}
            wanted = [c for c in with_unit if metric is not None and stored[c] == METRIC_UNITS[metric]]
            if len(wanted) != 1:
                raise HwmapError(f"{file}:{line}: has budget columns {', '.join(with_unit)}; expected one (or pass "
                                 "metric to choose between an energy and a latency column)")
            with_unit = wanted
        column = with_unit[0]
        spelled = _TRACE_COLUMNS[column]
        if declared is not None and UNIT_SCALES[declared] != UNIT_SCALES[spelled]:
            raise HwmapError(f"{file}: the '# unit: {declared}' line contradicts column {column!r}; expected one "
                             "unit")
    elif "budget" in columns:
        if declared is None:
            raise HwmapError(f"{file}:{line}: the budget column has no unit; {_HOW_TO_DECLARE}")
        column, spelled = "budget", declared
    else:
        raise HwmapError(f"{file}:{line}: no budget column (found {', '.join(repr(c) for c in columns) or 'none'});"
                         f" expected a budget column with its unit: {_HOW_TO_DECLARE}; and optionally weight")
    unit, scale = UNIT_SCALES[spelled]
    if metric is not None and unit_metric(unit) not in (None, metric):
        raise HwmapError(f"{file}:{line}: column {column!r} is {_unit_words(unit)} but metric is {metric!r}")
    return column, unit, scale


def _cell(file: Path, line: int, row: list[str], index: int, column: str, *, minimum_text: str,
          positive: bool = False) -> float:
    if index >= len(row) or not row[index].strip():
        raise HwmapError(f"{file}:{line}: {column} is missing; expected a number {minimum_text}")
    text = row[index].strip()
    try:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise HwmapError(f"{file}:{line}: {column} is {text!r}; expected a number {minimum_text}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise HwmapError(f"{file}:{line}: {column} is {text!r}; expected a finite number {minimum_text}")
    return value


def trace_levels(trace: BudgetTrace) -> tuple[BudgetLevel, ...]:
    """One budget level per distinct budget of an absolute trace (ascending), weighted by the sum of its step
    weights. A trace of fractions must be made absolute first (:meth:`BudgetTrace.absolute`)."""
    if trace.metric is None:
        raise HwmapError("budget_trace holds fractions; convert it with BudgetTrace.absolute(metric=..., "
                         "reference_value=...) first")
    totals: dict[float, float] = {}
    for b, w in zip(trace.budgets, trace.weights, strict=True):
        totals[b] = totals.get(b, 0.0) + w
    return tuple(BudgetLevel(b, trace.metric, w) for b, w in sorted(totals.items()) if w > 0)


def read_target_frontier(path: str | Path) -> tuple[TargetPoint, ...]:
    """The frontier goal's target points from a CSV with columns energy_mj, accuracy and optionally weight;
    errors name the file, line and column."""
    file = Path(path)
    text = read_text_input(file, what="target_frontier")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise HwmapError(f"target_frontier {file}: not a CSV file ({exc})") from None
    if not rows:
        raise HwmapError(f"target_frontier {file}: empty; expected a header energy_mj,accuracy[,weight]")
    columns = [c.strip().lower() for c in rows[0]]
    if "energy_mj" not in columns or "accuracy" not in columns or len(set(columns)) != len(columns):
        raise HwmapError(f"target_frontier {file}:1: columns {', '.join(columns)}; expected energy_mj, accuracy "
                         "and optionally weight, each once")
    points = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        energy = _cell(file, line, row, columns.index("energy_mj"), "energy_mj", minimum_text=">= 0")
        accuracy = _cell(file, line, row, columns.index("accuracy"), "accuracy", minimum_text="from 0 to 100")
        if accuracy > 100:
            raise HwmapError(f"{file}:{line}: accuracy is {accuracy:g}; expected a number from 0 to 100")
        weight = (_cell(file, line, row, columns.index("weight"), "weight", minimum_text=">= 0")
                  if "weight" in columns else 1.0)
        points.append(TargetPoint(energy, accuracy, weight))
    if not points:
        raise HwmapError(f"target_frontier {file}: no rows after the header; expected energy_mj,accuracy rows")
    return tuple(points)


__all__ = [
    "BUDGET_UNITS",
    "MAX_RANGE_LEVELS",
    "UNIT_SCALES",
    "BudgetTrace",
    "BudgetUnit",
    "Budgets",
    "choose_reference",
    "make_levels",
    "parse_budgets",
    "parse_numbers",
    "parse_range",
    "read_budget_trace",
    "read_target_frontier",
    "resolve_budgets",
    "resolve_metric",
    "trace_levels",
    "unit_metric",
]
