"""Accuracies as their own input: a file of measured (or published) accuracies that fills or overrides the
accuracies of already-costed paths, so that editing an accuracy never means costing the paths again
(hwmap.api.select_paths(accuracies=...), ``select-paths --accuracies``).

YAML (strict: unknown keys, duplicate paths and bad values are one clear error)::

    schema_version: 1
    provenance: "ImageNet-1k val, 50k images, our fine-tuned weights (2026-12-01)"  # default for every path
    metric: top1                    # optional default (else 'accuracy')
    accuracies:
      full: 79.8                    # percent, 0..100
      skip-s3-last: {value: 78.1, provenance: "same, 10k-image subset", metric: top1}

CSV: a header ``path,accuracy,provenance`` (``metric`` optional), one row per path, every row with a provenance.

``provenance`` says where a number comes from (the data set, the weights, a paper); it is required, for every path
(the YAML's top-level ``provenance`` gives it to every path that has none of its own), because a selection is only
as good as its accuracies. Every path named must be one of the paths being selected; paths the file does not name
keep the accuracy they have (from the paths file, the costed CSV or the catalogue).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, ValidationError

from hwmap.errors import HwmapError
from hwmap.paths.catalog import Accuracy

FORMAT_HINT = ("expected a YAML file 'accuracies: {PATH: PERCENT}' with a provenance, or a CSV "
               "'path,accuracy,provenance[,metric]' (see hwmap.paths.accuracies or the README)")
CSV_COLUMNS = ("path", "accuracy", "provenance")
SOURCE = "user"


class AccuracyFileError(HwmapError):
    """An accuracies file that does not parse or validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Entry(_Strict):
    value: StrictFloat  # a number (an int too), not true or "80"; range checked with the path's name
    provenance: str | None = Field(default=None, min_length=1)
    metric: str | None = Field(default=None, min_length=1)


class _AccuracyFile(_Strict):
    schema_version: int = 1
    provenance: str | None = Field(default=None, min_length=1)
    metric: str = Field(default="accuracy", min_length=1)
    accuracies: dict[str, StrictFloat | _Entry] = Field(min_length=1)


def read_accuracies(path: str | Path) -> dict[str, Accuracy]:
    """path name -> Accuracy (source 'user') from a YAML or CSV accuracies file."""
    from hwmap.fileio import read_text_input

    path = Path(path)
    text = read_text_input(path, what="accuracies file", error=AccuracyFileError)
    if path.suffix.lower() == ".csv":
        return _from_csv(path, text)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(path, text)
    raise AccuracyFileError(f"accuracies file {path}: unknown format {path.suffix or '(no suffix)'!r}; "
                            f"{FORMAT_HINT}")


def accuracies_from_dict(data: object, *, origin: str) -> dict[str, Accuracy]:
    """The YAML form, already parsed (a mapping with 'accuracies' and a 'provenance')."""
    try:
        parsed = _AccuracyFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}" for e in exc.errors())
        raise AccuracyFileError(f"accuracies file {origin}: {problems}; {FORMAT_HINT}") from None
    if parsed.schema_version != 1:
        raise AccuracyFileError(f"accuracies file {origin}: schema_version {parsed.schema_version} is not "
                                "supported (expected 1)")
    result = {}
    for name, entry in parsed.accuracies.items():
        value, provenance, metric = (entry, None, None) if isinstance(entry, float) else \
            (entry.value, entry.provenance, entry.metric)
        if not math.isfinite(value) or not 0 <= value <= 100:
            raise AccuracyFileError(f"accuracies file {origin}: path {name!r}: {value!r}; expected a percentage "
                                    "from 0 to 100")
        provenance = provenance or parsed.provenance
        if provenance is None:
            raise AccuracyFileError(f"accuracies file {origin}: path {name!r} has no provenance; give "
                                    "'provenance: ...' at the top (for every path) or in its entry: where the "
                                    "number comes from (data set, weights, paper)")
        result[name] = Accuracy(float(value), metric or parsed.metric, SOURCE, provenance)
    return result


def _from_yaml(path: Path, text: str) -> dict[str, Accuracy]:
    from hwmap.fileio import check_nesting
    from hwmap.hardware.loader import parse_template_text

    check_nesting(text, origin=f"accuracies file {path}", error=AccuracyFileError)
    try:
        data, _lines = parse_template_text(text, source=f"accuracies file {path}")
    except HwmapError as exc:
        raise AccuracyFileError(str(exc)) from None
    return accuracies_from_dict(data, origin=str(path))


def _from_csv(path: Path, text: str) -> dict[str, Accuracy]:
    try:
        table = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise AccuracyFileError(f"accuracies file {path}: not a CSV file ({exc}); {FORMAT_HINT}") from None
    if len(table) < 2:
        raise AccuracyFileError(f"accuracies file {path}: no rows; {FORMAT_HINT}")
    header = [h.strip() for h in table[0]]
    if sorted(header) not in (sorted(CSV_COLUMNS), sorted((*CSV_COLUMNS, "metric"))):
        raise AccuracyFileError(f"accuracies file {path}, line 1: columns {', '.join(header)}; expected "
                                f"{', '.join(CSV_COLUMNS)} and optionally metric")
    result: dict[str, Accuracy] = {}
    for line, cells in enumerate(table[1:], start=2):
        if len(cells) != len(header):
            raise AccuracyFileError(f"accuracies file {path}, line {line}: {len(cells)} fields; expected "
                                    f"{len(header)} ({', '.join(header)})")
        row = {key: cell.strip() for key, cell in zip(header, cells, strict=True)}
        where = f"accuracies file {path}, line {line}"
        if not row["path"]:
            raise AccuracyFileError(f"{where}, column path: empty; expected a path name")
        if row["path"] in result:
            raise AccuracyFileError(f"{where}, column path: {row['path']!r} appears twice")
        value = _percent(row["accuracy"])
        if value is None:
            raise AccuracyFileError(f"{where}, column accuracy: {row['accuracy']!r}; expected a percentage from 0 "
                                    "to 100")
        if not row["provenance"]:
            raise AccuracyFileError(f"{where}, column provenance: empty; expected where the number comes from "
                                    "(data set, weights, paper)")
        result[row["path"]] = Accuracy(value, row.get("metric") or "accuracy", SOURCE, row["provenance"])
    return result


def _percent(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value <= 100 and "_" not in text else None


def apply_accuracies(paths: Iterable[Any], accuracies: Mapping[str, Accuracy], *, origin: str) -> list[Any]:
    """The paths with the accuracies of the file in place of theirs (CostedPath, PathPoint or mapping alike). A
    name the file gives that is no path is an error (a typo would otherwise be silently ignored)."""
    items = list(paths)
    names = [_name(item) for item in items]
    unknown = [name for name in accuracies if name not in names]
    if unknown:
        raise HwmapError(f"accuracies {origin}: {', '.join(map(repr, unknown[:5]))} "
                         f"{'is' if len(unknown) == 1 else 'are'} not among the paths ({', '.join(names[:12])}"
                         f"{' ...' if len(names) > 12 else ''})")
    result = []
    for item, name in zip(items, names, strict=True):
        accuracy = accuracies.get(name)
        if accuracy is None:
            result.append(item)
        elif hasattr(item, "accuracy_source"):  # a hwmap.select PathPoint: the accuracy as a number
            result.append(replace(item, accuracy=accuracy.value,
                                  accuracy_source=f"{accuracy.source}: {accuracy.provenance}"))
        elif isinstance(item, Mapping):
            result.append({**item, "accuracy": accuracy.value,
                           "accuracy_source": f"{accuracy.source}: {accuracy.provenance}"})
        else:  # a CostedPath (or any dataclass with an accuracy field)
            result.append(replace(item, accuracy=accuracy))
    return result


def resolve_accuracies(accuracies: Any) -> tuple[dict[str, Accuracy] | None, str]:
    """(path name -> Accuracy, where they came from) for the accuracies a caller gives: a YAML or CSV file, the
    YAML form as a mapping ({'provenance': ..., 'accuracies': {path: percent}}), or {path: Accuracy}; (None, '')
    for None."""
    if accuracies is None:
        return None, ""
    if isinstance(accuracies, str | Path):
        return read_accuracies(accuracies), str(accuracies)
    if isinstance(accuracies, Mapping) and "accuracies" in accuracies:
        return accuracies_from_dict(accuracies, origin="(mapping)"), "(mapping)"
    if isinstance(accuracies, Mapping) and all(isinstance(v, Accuracy) for v in accuracies.values()):
        return {str(k): v for k, v in accuracies.items()}, "(mapping)"
    raise HwmapError(f"accuracies is a {type(accuracies).__name__}; {FORMAT_HINT}, or a mapping of path names to "
                     "hwmap.paths.catalog.Accuracy")


def _name(item: Any) -> str:
    return str(item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None))


__all__ = ["AccuracyFileError", "accuracies_from_dict", "apply_accuracies", "read_accuracies", "resolve_accuracies"]
