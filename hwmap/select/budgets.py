"""Budget levels from the command line or a file: lists, ranges, relative budgets, and budget-trace CSVs.

* ``parse_budgets("1.2,3.4")`` -> (1.2, 3.4); ``parse_budgets("0.5:1.0:0.05")`` -> 0.5, 0.55, ..., 1.0 (the end
  is included when the steps reach it; steps are counted in decimal, so 0.05 steps do not drift); items may be
  mixed: ``"0.2,0.5:1:0.25"``.
* Relative budgets are fractions of the most expensive path's metric (``resolve_budgets(..., relative=True)``):
  0.5 on metric 'energy' is half the energy of the most energy-hungry path.
* A budget trace CSV has one row per step: a ``budget`` column (in the unit of ``metric``), or an
  ``energy_mj`` or ``latency_ms`` column (which sets the metric), and an optional ``weight`` column (default 1).
  :func:`trace_levels` turns it into budget levels: one per distinct budget, weighted by the sum of its rows'
  weights. :func:`hwmap.select.simulate.simulate` replays it step by step (and ignores the weights).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.problem import METRIC_FIELDS, METRIC_UNITS, METRICS, BudgetLevel, Metric, PathPoint

#: A range may not expand to more levels than this (a typo like 0:1000:0.0001 should fail, not hang).
MAX_RANGE_LEVELS = 100_000


@dataclass(frozen=True)
class BudgetTrace:
    """A sequence of budgets over time, one per step, on one metric; ``weights`` are per step (default 1)."""

    metric: Metric
    budgets: tuple[float, ...]
    weights: tuple[float, ...]
    source: str = ""

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetTrace:
        return cls(
            metric=_metric(data.get("metric", "energy"), "metric"),
            budgets=tuple(float(b) for b in data["budgets"]),
            weights=tuple(float(w) for w in data["weights"]),
            source=str(data.get("source", "")),
        )


def _metric(metric: Any, arg: str) -> Metric:
    if metric not in METRICS:
        raise HwmapError(f"{arg} is {metric!r}; expected 'energy' or 'latency'")
    return metric  # type: ignore[no-any-return]


_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


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


def parse_range(text: str, *, arg: str = "budgets") -> tuple[float, ...]:
    """Expand ``start:stop:step`` (inclusive end) into budgets; the arithmetic is decimal, so 0.05 steps are exact."""
    parts = text.split(":")
    if len(parts) != 3:
        raise HwmapError(f"{arg}: {text!r} is not a range; expected start:stop:step, e.g. 0.5:1.0:0.05")
    start, stop, step = (_decimal(p, arg=arg, item=text) for p in parts)
    if step <= 0:
        raise HwmapError(f"{arg}: {text!r} has step {step}; expected start:stop:step with step > 0")
    if stop < start:
        raise HwmapError(f"{arg}: {text!r} ends below its start; expected start <= stop")
    count = int((stop - start) / step) + 1  # Decimal division: exact for decimal inputs, so the end is kept
    if count > MAX_RANGE_LEVELS:
        raise HwmapError(f"{arg}: {text!r} expands to {count} levels; expected at most {MAX_RANGE_LEVELS}")
    return tuple(float(start + i * step) for i in range(count))


def parse_budgets(text: str, *, arg: str = "budgets") -> tuple[float, ...]:
    """Parse a comma-separated list of budgets and ``start:stop:step`` ranges, e.g. ``"0.2,0.5:1:0.25"``.

    Budgets must be finite and >= 0; ``arg`` names the option in error messages.
    """
    if not isinstance(text, str) or not text.strip():
        raise HwmapError(f"{arg}: no budget given; expected a list like 1.2,3.4 or a range like 0.5:1.0:0.05")
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
            raise HwmapError(f"{arg}: budget {v:g} is negative; expected budgets >= 0")
    return tuple(values)


def resolve_budgets(
    values: Sequence[float], *, paths: Iterable[Any], metric: str = "energy", relative: bool = False
) -> tuple[float, ...]:
    """Absolute budgets: ``values`` as given, or, with ``relative``, as fractions of the most expensive path's
    metric (the path with the largest energy_mj or latency_ms)."""
    metric = _metric(metric, "metric")
    if not relative:
        return tuple(float(v) for v in values)
    points = [PathPoint.coerce(p) for p in paths]
    if not points:
        raise HwmapError("relative budgets need at least one path to be relative to")
    top = max(p.metric_value(metric) for p in points)
    for v in values:
        if not (math.isfinite(v) and v >= 0):
            raise HwmapError(f"relative budget {v!r} is not a fraction >= 0; expected e.g. 0.5 for half")
    return tuple(float(v) * top for v in values)


def make_levels(
    values: Sequence[float], *, metric: str = "energy", weights: Sequence[float] | None = None
) -> tuple[BudgetLevel, ...]:
    """Budget levels from values (mJ for 'energy', ms for 'latency') and optional weights (equal by default)."""
    metric = _metric(metric, "metric")
    if weights is None:
        weights = [1.0] * len(values)
    if len(weights) != len(values):
        raise HwmapError(f"weights: {len(weights)} weights for {len(values)} budgets; expected one per budget")
    return tuple(BudgetLevel(float(v), metric, float(w)) for v, w in zip(values, weights, strict=True))


def read_budget_trace(path: str | Path, *, metric: str | None = None) -> BudgetTrace:
    """Read a budget trace CSV (see the module docstring); errors name the file, line and expected content.

    ``metric`` is required to match an ``energy_mj``/``latency_ms`` column and chooses between them when the file
    has both; with a ``budget`` column it gives the unit (default 'energy', mJ).
    """
    if metric is not None:
        metric = _metric(metric, "metric")
    file = Path(path)
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise HwmapError(f"{file}: cannot read the budget trace ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise HwmapError(f"{file}: empty file; expected a header with budget, energy_mj or latency_ms") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise HwmapError(f"{file}:1: not a CSV file ({exc})") from None
        columns = [c.strip().lower() for c in header]
        for name in set(columns):
            if name and columns.count(name) > 1:
                raise HwmapError(f"{file}:1: column {name!r} appears twice; expected each column once")
        column, metric = _pick_column(file, columns, metric)
        index = columns.index(column)
        weight_index = columns.index("weight") if "weight" in columns else None
        budgets: list[float] = []
        weights: list[float] = []
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                budgets.append(_cell(file, line, row, index, column, minimum_text=">= 0"))
                if weight_index is not None:
                    weights.append(_cell(file, line, row, weight_index, "weight", minimum_text=">= 0"))
                else:
                    weights.append(1.0)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise HwmapError(f"{file}:{reader.line_num}: not a CSV row ({exc})") from None
    if not budgets:
        raise HwmapError(f"{file}: no rows after the header; expected one budget per row")
    if math.fsum(weights) <= 0:
        raise HwmapError(f"{file}: every weight is 0; expected at least one positive weight")
    return BudgetTrace(metric=metric, budgets=tuple(budgets), weights=tuple(weights), source=str(file))


def _pick_column(file: Path, columns: list[str], metric: Metric | None) -> tuple[str, Metric]:
    present = [m for m in METRICS if METRIC_FIELDS[m] in columns]
    if metric is not None and METRIC_FIELDS[metric] in columns:
        return METRIC_FIELDS[metric], metric
    if present:
        if metric is not None:
            raise HwmapError(
                f"{file}:1: metric {metric!r} asked for but the file has {METRIC_FIELDS[present[0]]}; "
                f"expected a {METRIC_FIELDS[metric]} or budget column"
            )
        if len(present) > 1:
            raise HwmapError(f"{file}:1: has both energy_mj and latency_ms; pass metric to choose one")
        return METRIC_FIELDS[present[0]], present[0]
    if "budget" in columns:
        return "budget", metric or "energy"
    raise HwmapError(
        f"{file}:1: no budget column (found {', '.join(repr(c) for c in columns) or 'none'}); "
        "expected budget, energy_mj or latency_ms, and optionally weight"
    )


def _cell(file: Path, line: int, row: list[str], index: int, column: str, *, minimum_text: str) -> float:
    if index >= len(row) or not row[index].strip():
        raise HwmapError(f"{file}:{line}: {column} is missing; expected a number {minimum_text}")
    text = row[index].strip()
    try:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise HwmapError(f"{file}:{line}: {column} is {text!r}; expected a number {minimum_text}") from None
    if not math.isfinite(value) or value < 0:
        raise HwmapError(f"{file}:{line}: {column} is {text!r}; expected a finite number {minimum_text}")
    return value


def trace_levels(trace: BudgetTrace) -> tuple[BudgetLevel, ...]:
    """One budget level per distinct budget of the trace (ascending), weighted by the sum of its step weights."""
    totals: dict[float, float] = {}
    for b, w in zip(trace.budgets, trace.weights, strict=True):
        totals[b] = totals.get(b, 0.0) + w
    return tuple(BudgetLevel(b, trace.metric, w) for b, w in sorted(totals.items()) if w > 0)


__all__ = [
    "BudgetTrace",
    "MAX_RANGE_LEVELS",
    "make_levels",
    "parse_budgets",
    "parse_range",
    "read_budget_trace",
    "resolve_budgets",
    "trace_levels",
]
