"""Cost every path of a paths file on one template; identical paths are traced once."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hwmap.cost.dispatch import estimate_graph
from hwmap.cost.settings import EstimateSettings
from hwmap.errors import HwmapError
from hwmap.fileio import atomic_write_text
from hwmap.hardware.schema import Accelerator
from hwmap.paths.catalog import Accuracy
from hwmap.paths.model import PathSet, path_graph
from hwmap.units import BYTES_PER_MB

COSTED_COLUMNS = ("name", "energy_mj", "latency_ms", "accuracy", "weight_group", "weight_mb")


@dataclass(frozen=True)
class CostedPath:
    name: str
    model: str
    energy_mj: float
    latency_ms: float
    cycles: int
    macs: int
    weight_group: str
    weight_mb: float
    accuracy: Accuracy | None
    accelerator: str | None = None  # the template the path was costed on, where known

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "energy_mj": self.energy_mj,
                "latency_ms": self.latency_ms, "cycles": self.cycles, "macs": self.macs,
                "weight_group": self.weight_group, "weight_mb": self.weight_mb,
                "accuracy": self.accuracy.value if self.accuracy else None,
                "accuracy_metric": self.accuracy.metric if self.accuracy else None,
                "accuracy_source": self.accuracy.source if self.accuracy else "unknown",
                "accuracy_provenance": self.accuracy.provenance if self.accuracy else "",
                "accelerator": self.accelerator}


def weight_bytes_per_param(accel: Accelerator) -> float:
    """Bytes each weight takes on the template (its weight operand width; 2 for GPUs, fp16)."""
    bits = getattr(accel.spec, "operand_bits", None)
    return bits.weight_bytes if bits is not None else 2.0


def cost_paths(paths: PathSet, accel: Accelerator, settings: EstimateSettings | None = None, *,
               progress=None) -> list[CostedPath]:
    """Every path of paths costed on accel under settings (None: the defaults), taken as they are: a path costs
    exactly what estimate gives for its graph with the same settings."""
    settings = settings if settings is not None else EstimateSettings()
    cache: dict = {}
    per_param = weight_bytes_per_param(accel)
    costed = []
    for spec in paths.paths:
        graph = path_graph(spec, cache=cache)
        cost = estimate_graph(graph, accel, settings)
        costed.append(CostedPath(
            name=spec.name, model=spec.model, energy_mj=cost.energy_mj, latency_ms=cost.latency_ms,
            cycles=cost.cycles, macs=cost.macs, weight_group=spec.weight_group,
            weight_mb=graph.params * per_param / BYTES_PER_MB, accuracy=spec.accuracy, accelerator=accel.name,
        ))
        if progress is not None:
            progress()
    return costed


def write_costed_csv(path: str | Path, costed: list[CostedPath]) -> None:
    """The costed paths as CSV (read back by read_costed_csv); the accelerator column (the template, which figures
    and selections name) is written when the paths know theirs."""
    with_accelerator = any(c.accelerator for c in costed)
    lines = [",".join(COSTED_COLUMNS + _OPTIONAL_COLUMNS[:3] + (("accelerator",) if with_accelerator else ()))]
    for c in costed:
        row = c.to_dict()
        values = [row["name"], f"{c.energy_mj:.9g}", f"{c.latency_ms:.9g}",
                  "" if c.accuracy is None else f"{c.accuracy.value:g}", c.weight_group, f"{c.weight_mb:.6g}",
                  row["accuracy_metric"] or "", row["accuracy_source"], row["accuracy_provenance"]]
        values += [c.accelerator or ""] if with_accelerator else []
        lines.append(",".join(_csv_cell(v) for v in values))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _csv_cell(value: str) -> str:
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(ch in value for ch in ',"\n') else value


_OPTIONAL_COLUMNS = ("accuracy_metric", "accuracy_source", "accuracy_provenance", "accelerator")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def read_costed_csv(path: str | Path) -> list[CostedPath]:
    """Pre-costed paths (columns name, energy_mj, latency_ms, accuracy, weight_group, weight_mb, optionally
    accuracy_metric, accuracy_source, accuracy_provenance and accelerator), e.g. the user's own measurements. An
    empty accuracy cell means unknown. Validated: UTF-8 text (a BOM is dropped), each column once and no other,
    every row as long as the header, unique path names, energies/latencies/weights finite and >= 0, accuracies
    from 0 to 100."""
    from hwmap.fileio import read_text_input

    path = Path(path)
    text = read_text_input(path, what="paths CSV")
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise HwmapError(f"paths CSV {path}: not a CSV file ({exc})") from None
    table = [row for row in table if any(cell.strip() for cell in row)]
    if len(table) < 2:
        raise HwmapError(f"paths CSV {path}: no rows; expected a header {', '.join(COSTED_COLUMNS)} and one row "
                         "per path")
    header = [h.strip() for h in table[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise HwmapError(f"paths CSV {path}, line 1: column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in COSTED_COLUMNS if c not in header]
    if missing:
        raise HwmapError(f"paths CSV {path}: missing column(s) {', '.join(missing)}; expected "
                         f"{', '.join(COSTED_COLUMNS)}")
    unknown = [h for h in header if h not in COSTED_COLUMNS + _OPTIONAL_COLUMNS]
    if unknown:
        raise HwmapError(f"paths CSV {path}, line 1: unknown column(s) {', '.join(map(repr, unknown))}; expected "
                         f"{', '.join(COSTED_COLUMNS + _OPTIONAL_COLUMNS)}")
    costed, seen = [], set()
    for line, cells in enumerate(table[1:], start=2):
        if len(cells) != len(header):
            raise HwmapError(f"paths CSV {path}, line {line}: {len(cells)} fields; expected {len(header)} "
                             f"({', '.join(header)})")
        row = dict(zip(header, cells, strict=True))
        entry = _costed_row(path, line, row)
        if not entry.name:
            raise HwmapError(f"paths CSV {path}, line {line}, column name: empty; expected a path name")
        if entry.name in seen:
            raise HwmapError(f"paths CSV {path}, line {line}, column name: {entry.name!r} appears twice")
        seen.add(entry.name)
        costed.append(entry)
    return costed


def _number(path: Path, line: int, column: str, text: str | None, *, optional: bool = False,
            maximum: float = math.inf) -> float | None:
    text = (text or "").strip()
    if optional and not text:
        return None
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value) or value < 0 or value > maximum:
        limit = f"from 0 to {maximum:g}" if math.isfinite(maximum) else ">= 0"
        raise HwmapError(f"paths CSV {path}, line {line}, column {column}: {text!r}; expected a number {limit}")
    return value


def _costed_row(path: Path, line: int, row: dict) -> CostedPath:
    accuracy_value = _number(path, line, "accuracy", row["accuracy"], optional=True, maximum=100.0)
    source = (row.get("accuracy_source") or "user").strip() or "user"
    provenance = (row.get("accuracy_provenance") or f"{path}, line {line}").strip()
    metric = (row.get("accuracy_metric") or "accuracy").strip() or "accuracy"  # top1, miou, ...
    accuracy = None if accuracy_value is None else Accuracy(accuracy_value, metric, source, provenance)
    return CostedPath(
        name=row["name"].strip(), model="", energy_mj=_number(path, line, "energy_mj", row["energy_mj"]),
        latency_ms=_number(path, line, "latency_ms", row["latency_ms"]), cycles=math.nan, macs=0,
        weight_group=(row["weight_group"] or "").strip(), weight_mb=_number(path, line, "weight_mb", row["weight_mb"]),
        accuracy=accuracy, accelerator=(row.get("accelerator") or "").strip() or None,
    )
