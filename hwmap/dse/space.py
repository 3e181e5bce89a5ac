"""Design spaces declared as data: a base template, axes over its fields, and the workloads to cost on each variant.

A space file (strict YAML: duplicate keys, unknown keys and bad values are ONE :class:`DesignSpaceError` naming the
file and the field)::

    schema_version: 1
    description: "square systolic arrays x buffer sizes"   # optional
    base: systolic32x32            # shipped template name, or a template .yaml (relative to this file)
    axes:                          # dotted template fields, exactly as Accelerator.with_overrides takes them
      array.rows: [16, 32, 64]                              # a list of values
      array.dataflow: {values: [ws, os, is]}                # the same, spelled out
      buffers.ifmap.size_bytes: {start: 32768, stop: 262144, factor: 2}   # geometric: 32 KiB .. 256 KiB
      dram.bw_bytes_per_cycle: {start: 16, stop: 64, step: 16}            # arithmetic: 16, 32, 48, 64
    square: true                   # array.cols follows array.rows (vector_pe: pe_array.vector_width follows
                                   # pe_array.lanes); the follower is a column of the results too
    tied:                          # axes that vary together (zipped, equal lengths) instead of being crossed
      - [buffers.filter.size_bytes, buffers.ofmap.size_bytes]
    models:                        # crossed with every variant
      - resnet50
      - {model: segformer-b2, input: 3x512x512, name: segformer-b2-512}
      - graphs/tiny.json           # a saved layer graph (relative to this file)
    paths:                         # optional: execution-path sets, selected per design point (hwmap.select)
      - {file: segformer_paths.yaml, budgets: "3,4,5", metric: energy, max_paths: 3}
    objectives: [energy_mj, latency_ms, area_mm2]          # default Pareto objectives
    estimate:                      # optional: how every point is costed, as `hwmap estimate` takes it
      objective: latency           # what the mapper minimises: energy (default), latency or edp
      mapping: best                # best (default) or scalesim (systolic bases)
      fusion: epilogue             # epilogue (default) or none
      # the dataflow is the template's field here: array.dataflow in the base or as an axis

A ``kind: hierarchy`` base addresses a level's fields by the level's name and a spatial unrolling by its axis
(``hierarchy.levels.shared_glb.capacity_bytes``, ``hierarchy.spatial.X.dims``; see
:func:`hwmap.hardware.schema.named_items`); ``square`` needs a kind with a 2-D array pair (systolic, vector_pe).

Ranges include ``stop`` when the steps land on it (``{start: 8, stop: 64, step: 8}`` is 8, 16, ..., 64), like a
hardware architect reads them, not like Python's ``range``. A range of integers gives integers.

Validation: each axis value alone is checked against the base template's schema when the space is loaded (a value
out of range, e.g. ``array.rows: [0]``, or of the wrong type is a space error). Cross-field problems that depend
on the combination (a buffer too small for the array edge) are not errors of the space: the sweep records such
points as invalid, with the template's message.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwmap.cost.settings import EstimateSettings
from hwmap.errors import HwmapError, ParameterError, TemplateError
from hwmap.hardware.kinds import kind_info, registered_kinds
from hwmap.hardware.schema import NAMING_FIELDS, Accelerator, describe_value, format_number, named_items, set_field
from hwmap.limits import MAX_BATCH, MAX_RESOLUTION
from hwmap.vocabulary import BUDGET_METRICS, FUSIONS, MAPPER_OBJECTIVES, MAPPINGS

__all__ = [
    "DEFAULT_OBJECTIVES",
    "MAX_POINTS",
    "DesignSpace",
    "DesignSpaceError",
    "ModelSpec",
    "PathsSpec",
    "as_space",
    "load_space",
]

Scalar = int | float | str | bool

SCHEMA_VERSION = 1
DEFAULT_OBJECTIVES = ("energy_mj", "latency_ms", "area_mm2")
MAX_POINTS = 5_000_000  # design points x workloads: a guard against a typo'd range, not a performance limit
MAX_AXIS_VALUES = 100_000
_NOT_AXES = frozenset({"kind", "schema_version"})


class DesignSpaceError(HwmapError):
    """A space file that does not parse or validate; the message names the file and the field."""


# ------------------------------------------------------------------------------------------------ file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class _SpaceFile(_Strict):
    schema_version: int
    description: str | None = None
    base: str = Field(min_length=1)
    axes: dict[str, Any] = Field(default_factory=dict)
    square: bool = False
    tied: list[list[str]] = Field(default_factory=list)
    models: list[Any] = Field(default_factory=list)
    paths: list[Any] = Field(default_factory=list)
    objectives: list[str] | None = None
    estimate: Any = None  # checked by _Builder.estimate (_EstimateEntry)


class _EstimateEntry(_Strict):
    """The space's `estimate:` section: the EstimateSettings of accelerator templates (the kinds a space sweeps)
    without the dataflow, which is a template field here."""

    mapping: Literal[MAPPINGS] = "best"  # type: ignore[valid-type]
    objective: Literal[MAPPER_OBJECTIVES] = "energy"  # type: ignore[valid-type]
    fusion: Literal[FUSIONS] | None = None  # type: ignore[valid-type]


class _RangeAxis(_Strict):
    start: int | float
    stop: int | float
    step: int | float | None = None
    factor: int | float | None = None


class _ValuesAxis(_Strict):
    values: list[Any]


class _ModelEntry(_Strict):
    model: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    input: str | None = None
    resolution: int | None = Field(default=None, ge=1, le=MAX_RESOLUTION)
    batch: int = Field(default=1, ge=1, le=MAX_BATCH)


class _PathsEntry(_Strict):
    file: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    budgets: str | list[int | float]
    metric: Literal[BUDGET_METRICS] = "energy"  # type: ignore[valid-type]
    relative: bool = False
    weights: list[int | float] | None = None
    max_paths: int | None = Field(default=None, ge=1)
    memory_mb: int | float | None = Field(default=None, gt=0)
    min_accuracy: int | float | None = Field(default=None, ge=0, le=100)
    drop_unknown: bool = False


# ------------------------------------------------------------------------------------------------ the space


@dataclass(frozen=True)
class ModelSpec:
    """One model workload: a spec or a saved graph .json (resolved path), with its input and its label."""

    label: str
    model: str
    input: str | None = None
    resolution: int | None = None
    batch: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "input": self.input, "resolution": self.resolution,
                "batch": self.batch}


@dataclass(frozen=True)
class PathsSpec:
    """One execution-path set (a paths YAML) and how to select among its paths on each design point."""

    label: str
    file: str
    budgets: tuple[float, ...]
    metric: str = "energy"
    relative: bool = False
    weights: tuple[float, ...] | None = None
    max_paths: int | None = None
    memory_mb: float | None = None
    min_accuracy: float | None = None
    drop_unknown: bool = False

    def selection_settings(self) -> dict[str, Any]:
        return {"budgets": list(self.budgets), "metric": self.metric, "relative": self.relative,
                "weights": list(self.weights) if self.weights else None, "max_paths": self.max_paths,
                "memory_mb": self.memory_mb, "min_accuracy": self.min_accuracy, "drop_unknown": self.drop_unknown}


@dataclass(frozen=True)
class DesignSpace:
    """A validated design space. Build it with :func:`load_space` or :meth:`DesignSpace.from_dict`.

    ``axes`` maps each declared axis key to its expanded values, in declaration order; ``tied`` lists the groups
    of axes zipped together; with ``square`` the follower of the base kind's ``sweep_axes`` (hwmap.hardware.kinds)
    takes its leader's value.
    ``estimate``: the settings every point is costed with (checked against the base's kind when the space is
    built; the sweep passes them to every point as they are).
    """

    source: str
    base: Accelerator
    axes: dict[str, tuple[Scalar, ...]]
    models: tuple[ModelSpec, ...] = ()
    paths: tuple[PathsSpec, ...] = ()
    tied: tuple[tuple[str, ...], ...] = ()
    square: bool = False
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    description: str = ""
    estimate: EstimateSettings = field(default_factory=EstimateSettings)
    _variants: list = field(default_factory=list, repr=False, compare=False)

    # --- construction --------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, *, origin: str = "<dict>", root: str | Path = ".",
                  lines: Mapping[tuple[str, ...], int] | None = None) -> DesignSpace:
        """Validate a parsed space document; relative file names are resolved against ``root``."""
        return _Builder(origin, Path(root), lines or {}).build(data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> DesignSpace:
        """Read and validate a space YAML file (:func:`load_space`); relative file names are resolved against its
        folder."""
        return load_space(path)

    # --- geometry ------------------------------------------------------------------------------------------------

    @property
    def square_pair(self) -> tuple[str, str] | None:
        return kind_info(self.base.kind).sweep_axes if self.square else None

    @property
    def columns(self) -> tuple[str, ...]:
        """The axis columns of the results: declared axes, with the square follower after its leader."""
        out: list[str] = []
        for key in self.axes:
            out.append(key)
            if self.square_pair and key == self.square_pair[0]:
                out.append(self.square_pair[1])
        return tuple(out)

    @property
    def groups(self) -> tuple[tuple[str, ...], ...]:
        """Axes that vary together, in declaration order: each tied group, and every other axis alone."""
        groups: list[tuple[str, ...]] = []
        seen: set[str] = set()
        for key in self.axes:
            if key in seen:
                continue
            group = next((g for g in self.tied if key in g), (key,))
            groups.append(group)
            seen.update(group)
        return tuple(groups)

    @property
    def n_variants(self) -> int:
        return math.prod(len(self.axes[g[0]]) for g in self.groups)

    @property
    def workload_labels(self) -> tuple[str, ...]:
        return tuple(m.label for m in self.models) + tuple(p.label for p in self.paths)

    @property
    def n_points(self) -> int:
        return self.n_variants * len(self.workload_labels)

    def variants(self) -> list[dict[str, Scalar]]:
        """Every hardware variant as {axis column: value}, the last group varying fastest."""
        if self._variants:
            return self._variants
        groups = self.groups
        per_group = [list(zip(*(self.axes[k] for k in g), strict=True)) for g in groups]
        pair = self.square_pair
        variants = []
        for combo in itertools.product(*per_group):
            values: dict[str, Scalar] = {}
            for group, vals in zip(groups, combo, strict=True):
                values.update(zip(group, vals, strict=True))
            if pair:
                values[pair[1]] = values[pair[0]]
            variants.append({c: values[c] for c in self.columns})
        self._variants.extend(variants)
        return self._variants

    @property
    def base_fingerprint(self) -> str:
        """A hash of the base template's fields (not its name): part of every point id."""
        return _digest(self.base.template_dict())

    @property
    def point_fingerprint(self) -> str:
        """What every point id of this space shares: the base template's fields and, when not the defaults, the
        estimate settings (a journal of the same space costed with other settings resumes nothing)."""
        if not self.estimate.changed():
            return self.base_fingerprint  # the ids of spaces without an estimate section, unchanged
        return _digest({"base": self.base_fingerprint, "estimate": self.estimate.to_dict()})

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "base": self.base.name, "kind": self.base.kind,
                "axes": {k: list(v) for k, v in self.axes.items()}, "tied": [list(g) for g in self.tied],
                "square": self.square, "models": [m.to_dict() for m in self.models],
                "paths": [{"label": p.label, "file": p.file, **p.selection_settings()} for p in self.paths],
                "objectives": list(self.objectives), "estimate": self.estimate.to_dict(),
                "variants": self.n_variants, "points": self.n_points}


def load_space(path: str | Path) -> DesignSpace:
    """Read and validate a space YAML file; every problem is ONE DesignSpaceError naming the file and field."""
    from hwmap.fileio import check_nesting, read_text_input
    from hwmap.yamlio import parse_yaml_text

    path = Path(path)
    text = read_text_input(path, what="space file", error=DesignSpaceError)
    check_nesting(text, origin=f"space file {path}", error=DesignSpaceError)
    data, lines = parse_yaml_text(text, source=f"space file {path}", error=DesignSpaceError)
    return DesignSpace.from_dict(data, origin=f"space file {path}", root=path.parent, lines=lines)


def as_space(space: DesignSpace | Mapping[str, Any] | str | os.PathLike[str]) -> DesignSpace:
    """A DesignSpace from what a caller may hold: the space itself, its YAML file (str or Path; relative file names
    resolved against its folder) or a dict of the YAML's content (relative file names resolved against the
    working directory). Any other type is one DesignSpaceError naming the parameter ``space``."""
    if isinstance(space, DesignSpace):
        return space
    if isinstance(space, Mapping):
        return DesignSpace.from_dict(space, origin="space dict", root=Path.cwd())
    if isinstance(space, str | os.PathLike):
        return load_space(space)
    raise DesignSpaceError(f"space must be a design-space YAML file (str or Path), a dict of its content or a "
                           f"DesignSpace, got {type(space).__name__}")


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------ validation


class _Builder:
    def __init__(self, origin: str, root: Path, lines: Mapping[tuple[str, ...], int]) -> None:
        self.origin, self.root, self.lines = origin, root, lines

    def fail(self, path: Sequence[str | int], message: str) -> DesignSpaceError:
        parts = tuple(str(p) for p in path)
        line = None
        probe = parts
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        where = f" (line {line})" if line is not None else ""
        return DesignSpaceError(f"{self.origin}: {_dotted(parts) or '<top>'}: {message}{where}")

    def validate(self, model: type[BaseModel], data: object, path: Sequence[str | int]) -> Any:
        if not isinstance(data, Mapping):
            raise self.fail(path, f"expected a mapping with keys {', '.join(model.model_fields)}, "
                                  f"got {describe_value(data)}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = (*path, *err["loc"])
            if err["type"] == "extra_forbidden":
                allowed = list(model.model_fields)
                close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(loc, f"unknown field, {hint}(allowed here: {', '.join(allowed)})") from None
            if err["type"] == "missing":
                raise self.fail(loc, "missing required field") from None
            raise self.fail(loc, f"{err['msg'].lower()}, got {describe_value(err.get('input'))}") from None

    # --- the document ------------------------------------------------------------------------------------------

    def build(self, data: object) -> DesignSpace:
        if isinstance(data, Mapping) and "schema_version" in data and data["schema_version"] != SCHEMA_VERSION:
            got = describe_value(data["schema_version"])
            raise self.fail(["schema_version"], f"must be {SCHEMA_VERSION}, got {got}")
        doc: _SpaceFile = self.validate(_SpaceFile, data, [])
        base = self.base(doc.base)
        axes = {key: self.axis(base, key, spec) for key, spec in doc.axes.items()}
        if doc.square:
            self.check_square(base, axes)
        tied = self.tied(doc.tied, axes)
        models = tuple(self.model(i, entry) for i, entry in enumerate(doc.models))
        paths = tuple(self.paths_entry(i, entry) for i, entry in enumerate(doc.paths))
        if not models and not paths:
            raise self.fail(["models"], "no workload: give at least one model (or a paths file) to cost the "
                                        "variants on")
        labels = [m.label for m in models] + [p.label for p in paths]
        repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
        if repeated:
            raise self.fail(["models"], f"workload names must be unique; repeated: {', '.join(repeated)} (give "
                                        "each a distinct `name`)")
        objectives = self.objectives(doc.objectives, has_paths=bool(paths), has_area=base.area_um2 is not None)
        estimate = self.estimate(base, doc.estimate)
        space = DesignSpace(source=self.origin, base=base, axes=axes, models=models, paths=paths, tied=tied,
                            square=doc.square, objectives=objectives, description=doc.description or "",
                            estimate=estimate)
        if space.n_points > MAX_POINTS:
            raise self.fail(["axes"], f"{space.n_variants} variants x {len(labels)} workloads = {space.n_points} "
                                      f"points, more than the {MAX_POINTS} a sweep takes; narrow the axes")
        return space

    def estimate(self, base: Accelerator, entry: object) -> EstimateSettings:
        """The `estimate:` section as EstimateSettings, checked against the base's kind (the kind is not an axis,
        so no point can fail on them)."""
        if entry is None:
            return EstimateSettings()
        doc: _EstimateEntry = self.validate(_EstimateEntry, entry, ["estimate"])
        settings = EstimateSettings(mapping=doc.mapping, objective=doc.objective, fusion=doc.fusion)
        try:
            settings.check_applies(base.kind, base.name)
        except ParameterError as exc:
            raise self.fail(["estimate", exc.param], exc.detail) from None
        return settings

    def resolve(self, name: str) -> str:
        candidate = Path(name).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        return str(candidate)

    def base(self, name: str) -> Accelerator:
        from hwmap.hardware.loader import load_accelerator

        is_path = name.endswith((".yaml", ".yml")) or "/" in name
        try:
            accel = load_accelerator(self.resolve(name) if is_path else name)
        except TemplateError as exc:
            raise self.fail(["base"], str(exc)) from None
        if not kind_info(accel.kind).sweepable:
            swept = ", ".join(k for k in registered_kinds() if kind_info(k).sweepable)
            raise self.fail(["base"], f"{accel.name!r} is of kind {accel.kind!r}; design spaces sweep accelerator "
                                      f"templates of kind {swept}")
        return accel

    # --- axes ----------------------------------------------------------------------------------------------------

    def axis(self, base: Accelerator, key: str, spec: object) -> tuple[Scalar, ...]:
        path = ["axes", key]
        leaves = _leaves(base.template_dict())
        if key not in leaves:
            allowed = sorted(k for k in leaves if k not in _NOT_AXES)
            close = difflib.get_close_matches(key, allowed, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            what = "cannot be swept" if key in _NOT_AXES else f"is not a field of the base template {base.name!r}"
            raise self.fail(path, f"unknown axis key: {key!r} {what}; {hint}axes are dotted template fields "
                                  f"such as {', '.join(allowed[:8])}, ...")
        if key in _NOT_AXES:
            raise self.fail(path, f"{key!r} cannot be swept (load a template of another kind as the base)")
        values = self.axis_values(spec, path)
        if not values:
            raise self.fail(path, "empty axis: give at least one value")
        if len(values) > MAX_AXIS_VALUES:
            raise self.fail(path, f"{len(values)} values, more than {MAX_AXIS_VALUES} on one axis")
        seen: set = set()
        for value in values:
            marker = (type(value).__name__ == "bool", value)
            if marker in seen:
                raise self.fail(path, f"value {_show(value)} appears twice; every value of an axis must differ")
            seen.add(marker)
            self.check_value(base, key, value, path)
        return tuple(values)

    def axis_values(self, spec: object, path: list) -> list[Scalar]:
        if isinstance(spec, list):
            values = spec
        elif isinstance(spec, Mapping) and "values" in spec:
            values = self.validate(_ValuesAxis, spec, path).values
        elif isinstance(spec, Mapping):
            rng: _RangeAxis = self.validate(_RangeAxis, spec, path)
            return self.expand_range(rng, path)
        else:
            raise self.fail(path, f"expected a list of values, {{values: [...]}} or {{start, stop, step}} / "
                                  f"{{start, stop, factor}}, got {describe_value(spec)}")
        for i, value in enumerate(values):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail([*path, i], f"must be a finite number, got {value}")
            if not isinstance(value, (int, float, str, bool)):
                raise self.fail([*path, i],
                                f"axis values are numbers, strings or booleans, got {describe_value(value)}")
        return list(values)

    def expand_range(self, rng: _RangeAxis, path: list) -> list[Scalar]:
        if (rng.step is None) == (rng.factor is None):
            raise self.fail(path, "a range needs exactly one of step (arithmetic) or factor (geometric)")
        if rng.stop < rng.start:
            raise self.fail([*path, "stop"],
                            f"must be >= start ({format_number(rng.start)}), got {format_number(rng.stop)}")
        integral = all(isinstance(v, int) for v in (rng.start, rng.stop, rng.step or rng.factor))
        values: list[Scalar] = []
        if rng.step is not None:
            if rng.step <= 0:
                raise self.fail([*path, "step"], f"must be > 0, got {format_number(rng.step)}")
            count = math.floor((rng.stop - rng.start) / rng.step * (1 + 1e-12) + 1e-9) + 1
            if count > MAX_AXIS_VALUES:
                raise self.fail(path, f"{count} values, more than {MAX_AXIS_VALUES} on one axis")
            for i in range(count):
                value = rng.start + i * rng.step
                values.append(int(value) if integral else _round(value))
        else:
            assert rng.factor is not None
            if rng.factor <= 1:
                raise self.fail([*path, "factor"], f"must be > 1, got {format_number(rng.factor)}")
            if rng.start <= 0:
                raise self.fail([*path, "start"], f"a geometric range starts above 0, got {format_number(rng.start)}")
            value = rng.start
            while value <= rng.stop * (1 + 1e-12):
                values.append(int(value) if integral else _round(value))
                if len(values) > MAX_AXIS_VALUES:
                    raise self.fail(path, f"more than {MAX_AXIS_VALUES} values on one axis")
                value = value * rng.factor
        return values

    def check_value(self, base: Accelerator, key: str, value: Scalar, path: list) -> None:
        """A value that breaks the schema on its own (range, type) is a space error; cross-field problems are
        properties of a combination and are recorded per point by the sweep."""
        data = base.template_dict()
        set_field(data, key, value, owner=base.name)
        try:
            type(base.spec).model_validate(data)
        except ValidationError:
            try:
                base.with_overrides({key: value})
            except TemplateError as exc:
                message = str(exc)
                prefix = f"{base.name} with overrides "
                if message.startswith(prefix):  # "<base> with overrides k=v: field: message" -> "field: message"
                    message = message.split(": ", 1)[-1]
                raise self.fail(path, f"value {_show(value)} is not valid for {base.name}: {message}") from None
            raise self.fail(path, f"value {_show(value)} is not valid for {base.name}") from None

    def check_square(self, base: Accelerator, axes: dict[str, tuple]) -> None:
        pair = kind_info(base.kind).sweep_axes
        if pair is None:
            raise self.fail(["square"], f"square: true ties the two sides of a 2-D array; {base.name!r} (kind "
                                        f"{base.kind!r}) has no such pair: tie axes with `tied:` instead")
        leader, follower = pair
        if leader not in axes:
            raise self.fail(["square"], f"square: true makes {follower} follow {leader}, but {leader} is not an "
                                        "axis; add it under axes")
        if follower in axes:
            raise self.fail(["axes", follower], f"with square: true, {follower} follows {leader}; remove the "
                                                f"{follower} axis (or drop square)")

    def tied(self, groups: list[list[str]], axes: dict[str, tuple]) -> tuple[tuple[str, ...], ...]:
        seen: set[str] = set()
        out = []
        for i, group in enumerate(groups):
            path = ["tied", i]
            if len(group) < 2:
                raise self.fail(path, f"a tied group names at least two axes, got {group!r}")
            for key in group:
                if key not in axes:
                    raise self.fail(path, f"{key!r} is not an axis of this space; tied groups name keys under axes")
                if key in seen:
                    raise self.fail(path, f"{key!r} is in more than one tied group (or twice in one)")
                seen.add(key)
            lengths = {key: len(axes[key]) for key in group}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
                raise self.fail(path, f"tied axes vary together and need the same number of values; {shown}")
            out.append(tuple(group))
        return tuple(out)

    # --- workloads -----------------------------------------------------------------------------------------------

    def model(self, index: int, entry: object) -> ModelSpec:
        path = ["models", index]
        if isinstance(entry, str):
            entry = {"model": entry}
        parsed: _ModelEntry = self.validate(_ModelEntry, entry, path)
        model = parsed.model.strip()
        if model.endswith(".json") and not model.startswith("hf:"):
            resolved = self.resolve(model)
            if not Path(resolved).is_file():
                raise self.fail([*path, "model"], f"saved graph {model!r} not found (looked at {resolved})")
            if parsed.input or parsed.resolution or parsed.batch != 1:
                raise self.fail(path, f"{model} is a saved graph with fixed shapes: input, resolution and batch "
                                      "do not apply")
            label = parsed.name or Path(model).stem
            model = resolved
        else:
            label = parsed.name or model
        if parsed.input is not None:
            from hwmap.graph.sources import parse_input_shape

            try:
                chw = parse_input_shape(parsed.input, argument="input")
            except HwmapError as exc:
                raise self.fail([*path, "input"], str(exc)) from None
            if parsed.resolution is not None:
                raise self.fail(path, "give input or resolution, not both")
            label = parsed.name or f"{label}@{'x'.join(map(str, chw))}"
        elif parsed.resolution is not None:
            label = parsed.name or f"{label}@{parsed.resolution}"
        if parsed.batch != 1 and not parsed.name:
            label = f"{label}/b{parsed.batch}"
        return ModelSpec(label=label, model=model, input=parsed.input, resolution=parsed.resolution,
                         batch=parsed.batch)

    def paths_entry(self, index: int, entry: object) -> PathsSpec:
        from hwmap.paths.model import load_paths
        from hwmap.select.budgets import parse_numbers

        path = ["paths", index]
        parsed: _PathsEntry = self.validate(_PathsEntry, entry, path)
        resolved = self.resolve(parsed.file)
        if not Path(resolved).is_file():
            raise self.fail([*path, "file"], f"paths file {parsed.file!r} not found (looked at {resolved})")
        try:
            paths = load_paths(resolved)
        except HwmapError as exc:
            raise self.fail([*path, "file"], str(exc)) from None
        unknown = [p.name for p in paths.paths if p.accuracy is None]
        if unknown and not parsed.drop_unknown:
            raise self.fail([*path, "file"], f"path(s) without an accuracy: {', '.join(unknown[:6])}; give one in "
                                             "the paths file or set drop_unknown: true")
        if isinstance(parsed.budgets, str):
            try:
                budgets = parse_numbers(parsed.budgets, arg="budgets")
            except HwmapError as exc:
                raise self.fail([*path, "budgets"], str(exc)) from None
        else:
            budgets = tuple(float(b) for b in parsed.budgets)
        if not budgets or any(b < 0 for b in budgets):
            raise self.fail([*path, "budgets"], "expected at least one budget, every budget >= 0")
        if parsed.weights is not None and len(parsed.weights) != len(budgets):
            raise self.fail([*path, "weights"], f"{len(parsed.weights)} weights for {len(budgets)} budgets")
        return PathsSpec(
            label=parsed.name or Path(parsed.file).stem, file=resolved, budgets=budgets, metric=parsed.metric,
            relative=parsed.relative, weights=tuple(float(w) for w in parsed.weights) if parsed.weights else None,
            max_paths=parsed.max_paths, memory_mb=None if parsed.memory_mb is None else float(parsed.memory_mb),
            min_accuracy=None if parsed.min_accuracy is None else float(parsed.min_accuracy),
            drop_unknown=parsed.drop_unknown,
        )

    def objectives(self, names: list[str] | None, *, has_paths: bool, has_area: bool) -> tuple[str, ...]:
        from hwmap.dse.pareto import resolve_objectives

        if names is None:  # the area objective only where the base template has an area proxy
            return tuple(n for n in DEFAULT_OBJECTIVES if has_area or n != "area_mm2")
        try:
            resolved = tuple(name for name, _ in resolve_objectives(names, has_paths=has_paths))
        except HwmapError as exc:
            raise self.fail(["objectives"], str(exc)) from None
        if "area_mm2" in resolved and not has_area:
            raise self.fail(["objectives"], "area_mm2 needs an `area` section in the base template (per-unit "
                                            "areas), which it does not have")
        return resolved


def _leaves(data: Mapping[str, Any], prefix: str = "") -> set[str]:
    """The dotted paths of a template's fields; a list of named sections (a hierarchy's levels) by item name."""
    out: set[str] = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        items = named_items(value)
        if isinstance(value, Mapping):
            out |= _leaves(value, f"{dotted}.")
        elif items is not None:
            for name, item in items.items():  # the field that names the item is its address, not an axis
                fields = {k: v for k, v in item.items() if not (k in NAMING_FIELDS and v == name)}
                out |= _leaves(fields, f"{dotted}.{name}.")
        else:
            out.add(dotted)
    return out


def _dotted(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _round(value: float) -> float:
    """Trim float noise of start + i * step (0.1 + 2 * 0.1 -> 0.3)."""
    return float(f"{value:.12g}")


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else format_number(value)


