"""Reading a selection JSON (``select-paths --out``) back, validated: every number finite and in range, every
field known, each problem one line naming the file and the field.

The file records the budgets' unit (``budget_unit``: 'fraction', 'mJ' or 'ms'), the budgets as given
(``budgets``) and the reference path (``reference``, ``reference_energy_mj``, ``reference_latency_ms``; the same
path as ``full_model``). Files written before budgets had units lack these fields: they are read as absolute
budgets in the metric's unit with ``full_model`` as the reference, which is what such files meant (their table
holds absolute budgets), so a trace of fractions is refused against them.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from hwmap.errors import HwmapError, InputFileError
from hwmap.fileio import parse_json_strict, read_text_input
from hwmap.select.pipeline import SelectionResult, check_budget_unit
from hwmap.select.problem import GOALS, METRIC_UNITS, METRICS, LevelChoice, PathPoint, Selection

# Keys select-paths --out writes beside Selection.to_dict()'s (chosen_vs_full: files from before units).
_EXTRA_KEYS = {"chosen_names", "chosen_vs_full", "chosen_vs_reference", "budget_rows", "dropped_without_accuracy",
               "paths_file", "accelerator", "budget_unit", "budgets", "reference", "reference_energy_mj",
               "reference_latency_ms"}
#: Field names of selection files written before the selection's goal had its own word (the mapper keeps
#: "objective"): read as today's.
_RENAMED_FIELDS = {"objective": "goal", "objective_value": "goal_value"}
_NON_NEGATIVE = ("energy_mj", "latency_ms", "weight_mb", "budget", "weight", "memory_mb", "solve_time_s",
                 "expected_energy_mj", "expected_latency_ms", "frontier_shortfall")
_PERCENT = ("accuracy", "expected_accuracy")


def read_selection(path: str | Path) -> SelectionResult:
    """The selection in a selection JSON; a malformed, non-finite or out-of-range field is an InputFileError."""
    origin = f"selection file {path}"
    data = parse_json_strict(read_text_input(path, what="selection file", error=InputFileError), origin=origin,
                             error=InputFileError)
    return selection_from_data(data, origin=origin)


def selection_from_data(data: object, *, origin: str) -> SelectionResult:
    if not isinstance(data, dict):
        raise InputFileError(f"{origin}: expected a JSON object written by `hwmap select-paths --out`")
    data = {_RENAMED_FIELDS.get(key, key) if _RENAMED_FIELDS.get(key) not in data else key: value
            for key, value in data.items()}
    known = {f.name for f in fields(Selection)} | _EXTRA_KEYS
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputFileError(f"{origin}: unknown field(s) {', '.join(unknown)}; expected the fields "
                             "`hwmap select-paths --out` writes")
    missing = sorted({f.name for f in fields(Selection)} - set(data))
    if missing:
        raise InputFileError(f"{origin}: missing field(s) {', '.join(missing)}")
    if data["metric"] not in METRICS:
        raise InputFileError(f"{origin}: metric {data['metric']!r}; expected 'energy' or 'latency'")
    if data["goal"] not in GOALS:
        raise InputFileError(f"{origin}: goal {data['goal']!r}; expected 'accuracy' or 'frontier'")
    if not isinstance(data["chosen"], list) or not data["chosen"]:
        raise InputFileError(f"{origin}: chosen must be a non-empty list of paths")
    if not isinstance(data["table"], list):
        raise InputFileError(f"{origin}: table must be a list of budget levels")
    for index, point in enumerate(data["chosen"]):
        _check_record(point, PathPoint, f"{origin}: chosen[{index}]")
    _check_record(data["full_model"], PathPoint, f"{origin}: full_model")
    names = {p["name"] for p in data["chosen"]}
    if len(names) != len(data["chosen"]):
        raise InputFileError(f"{origin}: chosen holds the same path name twice")
    for index, row in enumerate(data["table"]):
        _check_record(row, LevelChoice, f"{origin}: table[{index}]")
        if row["path"] not in names:
            raise InputFileError(f"{origin}: table[{index}].path {row['path']!r} is not a chosen path")
        if row["metric"] != data["metric"]:
            raise InputFileError(f"{origin}: table[{index}].metric {row['metric']!r} is not the selection's "
                                 f"{data['metric']!r}")
    for name in ("expected_accuracy", "expected_energy_mj", "expected_latency_ms", "energy_saved_mj",
                 "energy_saved_pct", "accuracy_drop", "memory_mb", "frontier_shortfall", "goal_value",
                 "solve_time_s"):
        _check_number(data[name], name, f"{origin}: {name}")
    if not isinstance(data["candidates"], int) or isinstance(data["candidates"], bool) or data["candidates"] < 0:
        raise InputFileError(f"{origin}: candidates {data['candidates']!r}; expected an integer >= 0")
    if data["energy_saved_pct"] > 100:
        raise InputFileError(f"{origin}: energy_saved_pct {data['energy_saved_pct']!r}; expected at most 100")
    selection = Selection.from_dict(data)
    return SelectionResult(selection=selection, dropped=_names(data, origin), **_units(data, selection, origin),
                           paths_file=_text(data, "paths_file", origin), accelerator=_text(data, "accelerator", origin))


def _units(data: dict, selection: Selection, origin: str) -> dict[str, Any]:
    """budget_unit and budgets, checked against the table; the reference checked against full_model."""
    full = selection.full_model
    if "reference" in data and data["reference"] != full.name:
        raise InputFileError(f"{origin}: reference {data['reference']!r} is not full_model's name {full.name!r}")
    for key, field in (("reference_energy_mj", "energy_mj"), ("reference_latency_ms", "latency_ms")):
        if key in data:
            _check_number(data[key], key, f"{origin}: {key}")
            if data[key] != getattr(full, field):
                raise InputFileError(f"{origin}: {key} {data[key]!r} is not full_model's {field} "
                                     f"{getattr(full, field)!r}")
    if "budget_unit" not in data:  # written before budgets had units: absolute budgets, full_model the reference
        return {"budget_unit": METRIC_UNITS[selection.metric], "budgets": tuple(r.budget for r in selection.table)}
    try:
        unit = check_budget_unit(data["budget_unit"], selection.metric, where=origin)
    except HwmapError as exc:
        raise InputFileError(str(exc)) from None
    budgets = data.get("budgets")
    if not isinstance(budgets, list) or len(budgets) != len(selection.table):
        raise InputFileError(f"{origin}: budgets must be a list with one budget per table row "
                             f"({len(selection.table)})")
    for index, value in enumerate(budgets):
        _check_number(value, "budget", f"{origin}: budgets[{index}]")
    return {"budget_unit": unit, "budgets": tuple(float(b) for b in budgets)}


def _names(data: dict, origin: str) -> tuple[str, ...]:
    names = data.get("dropped_without_accuracy", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputFileError(f"{origin}: dropped_without_accuracy must be a list of path names")
    return tuple(names)


def _text(data: dict, key: str, origin: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InputFileError(f"{origin}: {key} {value!r}; expected text or null")
    return value


def _check_record(record: Any, kind: type, where: str) -> None:
    if not isinstance(record, dict):
        raise InputFileError(f"{where}: expected an object with {', '.join(f.name for f in fields(kind))}")
    names = {f.name for f in fields(kind)}
    unknown = sorted(set(record) - names)
    if unknown:
        raise InputFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
    required = {"name", "energy_mj", "latency_ms", "accuracy"} if kind is PathPoint else names
    missing = sorted(required - set(record))
    if missing:
        raise InputFileError(f"{where}: missing field(s) {', '.join(missing)}")
    for f in fields(kind):
        if f.name not in record:
            continue
        value = record[f.name]
        if f.name in ("name", "path"):
            if not isinstance(value, str) or not value.strip():
                raise InputFileError(f"{where}.{f.name}: {value!r}; expected a non-empty name")
        elif f.name in ("metric", "accuracy_source", "weight_group"):
            if not isinstance(value, str):
                raise InputFileError(f"{where}.{f.name}: {value!r}; expected text")
        else:
            _check_number(value, f.name, f"{where}.{f.name}")


def _check_number(value: Any, name: str, where: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InputFileError(f"{where}: {value!r}; expected a finite number")
    if name in _NON_NEGATIVE and value < 0:
        raise InputFileError(f"{where}: {value!r}; expected a number >= 0")
    if name in _PERCENT and not 0 <= value <= 100:
        raise InputFileError(f"{where}: {value!r}; expected an accuracy from 0 to 100")
