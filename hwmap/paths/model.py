"""Execution paths: a base model plus transforms, as declared in a paths YAML file, and their layer graphs.

A paths file (strict YAML, unknown keys rejected)::

    schema_version: 1
    model: segformer-b2          # default base model of every path
    input: 3x512x512             # optional default input (CxHxW)
    paths:
      - name: full
      - name: skip-segformer.stages.2.blocks.4-5
        skip_blocks: ["segformer.stages.2.blocks.4", "segformer.stages.2.blocks.5"]
      - name: decoder-without-s1
        drop_decoder_stages: [0]  # 0-based encoder stages whose decoder input is dropped
      - name: r448
        resolution: 448
      - name: b0
        model: segformer-b0       # a different variant: weights of its own
        accuracy: {value: 37.4, metric: miou, provenance: "SegFormer paper, ADE20K"}

Weight groups: paths cut from the same weights (same base model and number of classes) share one group; a
different variant or an OFA subnet fine-tuned on its own has its own weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwmap.errors import HwmapError
from hwmap.fileio import atomic_write_text
from hwmap.graph.ir import LayerGraph
from hwmap.limits import MAX_CLASSES, MAX_RESOLUTION
from hwmap.paths.catalog import Accuracy, published_accuracy
from hwmap.yamlio import dump_yaml


class PathsFileError(HwmapError):
    """A paths YAML that does not parse or validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccuracyEntry(_Strict):
    value: float = Field(ge=0, le=100, strict=True, allow_inf_nan=False)
    metric: str = "accuracy"
    provenance: str = Field(min_length=1)
    source: str = "user"


class PathEntry(_Strict):
    name: str = Field(min_length=1)
    model: str | None = None
    input: str | None = None
    resolution: int | None = Field(default=None, ge=1, le=MAX_RESOLUTION, strict=True)
    skip_blocks: tuple[str, ...] = ()
    drop_decoder_stages: tuple[int, ...] = ()
    weight_group: str | None = None
    accuracy: AccuracyEntry | None = None


class PathsFile(_Strict):
    schema_version: int = Field(strict=True)
    model: str | None = None
    input: str | None = None
    num_classes: int | None = Field(default=None, ge=1, le=MAX_CLASSES, strict=True)
    paths: tuple[PathEntry, ...] = Field(min_length=1)


@dataclass(frozen=True)
class PathSpec:
    """One execution path, fully resolved (base model, input, transforms, accuracy)."""

    name: str
    model: str
    input_chw: tuple[int, int, int] | None  # None: the model's default input
    skip_blocks: tuple[str, ...] = ()
    drop_decoder_stages: tuple[int, ...] = ()
    num_classes: int | None = None
    weight_group: str = ""
    accuracy: Accuracy | None = None

    @property
    def is_untransformed(self) -> bool:
        return not self.skip_blocks and not self.drop_decoder_stages

    @property
    def graph_key(self) -> tuple:
        """Paths with equal keys have identical graphs (traced once)."""
        return (self.model, self.input_chw, tuple(sorted(self.skip_blocks)), tuple(sorted(self.drop_decoder_stages)),
                self.num_classes)

    def to_entry(self) -> dict:
        entry: dict[str, Any] = {"name": self.name, "model": self.model}
        if self.input_chw:
            entry["input"] = "x".join(map(str, self.input_chw))
        if self.skip_blocks:
            entry["skip_blocks"] = list(self.skip_blocks)
        if self.drop_decoder_stages:
            entry["drop_decoder_stages"] = list(self.drop_decoder_stages)
        if self.weight_group:
            entry["weight_group"] = self.weight_group
        if self.accuracy:
            entry["accuracy"] = self.accuracy.to_dict()
        return entry


@dataclass(frozen=True)
class PathSet:
    paths: tuple[PathSpec, ...]
    source: str = ""
    meta: dict = field(default_factory=dict)


def load_paths(path: str | Path) -> PathSet:
    """Read a paths YAML strictly (duplicate keys, unknown keys and bad values are one clear error)."""
    from hwmap.fileio import check_nesting, read_text_input
    from hwmap.yamlio import parse_yaml_text

    path = Path(path)
    text = read_text_input(path, what="paths file", error=PathsFileError)
    check_nesting(text, origin=f"paths file {path}", error=PathsFileError)
    if text and not text.endswith("\n"):  # hwmap and editors end files with a newline; a cut-off copy does not
        raise PathsFileError(f"paths file {path}: does not end with a newline, so it may be truncated (its last "
                             "path would silently become a copy of the base model); add the newline if it is "
                             "complete")
    data, _lines = parse_yaml_text(text, source=f"paths file {path}", error=PathsFileError)
    return paths_from_dict(data, origin=str(path))


def _got(error: dict) -> str:
    """', got <the value as written>' for a value pydantic refused (not for a missing or unknown field)."""
    if error["type"] in ("missing", "extra_forbidden") or isinstance(error.get("input"), dict | list):
        return ""
    return f", got {error.get('input')!r}"


def paths_from_dict(data: object, *, origin: str) -> PathSet:
    try:
        parsed = PathsFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}{_got(e)}"
                             for e in exc.errors())
        raise PathsFileError(f"paths file {origin}: {problems}") from None
    if parsed.schema_version != 1:
        raise PathsFileError(f"paths file {origin}: schema_version {parsed.schema_version} is not supported "
                             "(expected 1)")
    names = [p.name for p in parsed.paths]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PathsFileError(f"paths file {origin}: path names must be unique; repeated: {', '.join(duplicates)}")
    return PathSet(tuple(_resolve(entry, parsed, origin) for entry in parsed.paths), source=origin)


def _resolve(entry: PathEntry, parsed: PathsFile, origin: str) -> PathSpec:
    from hwmap.graph.sources import parse_input_shape

    model = entry.model or parsed.model
    if not model:
        raise PathsFileError(f"paths file {origin}: path {entry.name!r} has no model and the file sets none")
    where = f"paths file {origin}: path {entry.name!r} input"
    chw = None
    if entry.input or (parsed.input and not entry.resolution):
        chw = parse_input_shape(entry.input or parsed.input, argument=where)
    if entry.resolution:
        channels = chw[0] if chw else (parse_input_shape(parsed.input, argument=where)[0] if parsed.input else 3)
        chw = (channels, entry.resolution, entry.resolution)
    accuracy = None
    if entry.accuracy is not None:
        accuracy = Accuracy(entry.accuracy.value, entry.accuracy.metric, entry.accuracy.source,
                            entry.accuracy.provenance)
    spec = PathSpec(name=entry.name, model=model, input_chw=chw, skip_blocks=entry.skip_blocks,
                    drop_decoder_stages=entry.drop_decoder_stages, num_classes=parsed.num_classes,
                    weight_group=entry.weight_group or default_weight_group(model, parsed.num_classes))
    if accuracy is None and spec.is_untransformed:
        accuracy = published_accuracy(model, resolution=chw[1] if chw and chw[1] == chw[2] else None)
    return replace(spec, accuracy=accuracy)


def default_weight_group(model: str, num_classes: int | None) -> str:
    return f"{model}" + (f"/{num_classes}cls" if num_classes else "")


def save_paths(paths: PathSet, path: str | Path, *, base_model: str | None = None) -> Path:
    classes = {p.num_classes for p in paths.paths}
    document = {"schema_version": 1, **({"model": base_model} if base_model else {}),
                **({"num_classes": classes.pop()} if len(classes) == 1 and None not in classes else {}),
                "paths": [p.to_entry() for p in paths.paths]}
    return atomic_write_text(path, dump_yaml(document))


# ---------------------------------------------------------------- building a path's graph


def build_path_module(spec: PathSpec):
    """(module, inputs, built) of a path on the meta device, transforms applied."""
    from hwmap.graph.capture import meta_inputs
    from hwmap.graph.sources import build_model

    built = build_model(spec.model, num_classes=spec.num_classes)
    module = built.module.eval()
    inputs = meta_inputs([(1, *path_input_chw(spec, built))])
    apply_path_transforms(module, spec, inputs, model_name=built.name)
    return module, inputs, built


def path_input_chw(spec: PathSpec, built) -> tuple[int, ...]:
    """The (C, H, W) a path runs at: its input, else the model's default. A module from the user's Python file
    (file.py:Name) declares no input size, so its paths must give one."""
    from hwmap.graph.module_file import is_module_file_spec

    if spec.input_chw:
        return tuple(spec.input_chw)
    if is_module_file_spec(spec.model):
        raise HwmapError(f"path {spec.name!r}: model {spec.model} is a module from a Python file, which declares no "
                         "input size; give 'input: CxHxW' in the paths file (for every path) or in the path")
    return tuple(built.default_input_chw)


def apply_path_transforms(module, spec: PathSpec, inputs, *, model_name: str) -> None:
    """Apply the path's block skipping and decoder pruning to module in place (meta or real weights: load real
    weights BEFORE this, since pruning slices the fuse conv's weights). inputs: example inputs for the block
    probe, on the module's device."""
    from hwmap.paths.transforms import drop_segformer_decoder_inputs, probe_blocks, resolve_skip_patterns, skip_blocks

    if spec.skip_blocks:
        blocks = probe_blocks(module, inputs)
        skip_blocks(module, resolve_skip_patterns(blocks, spec.skip_blocks, model_name=model_name))
    if spec.drop_decoder_stages:
        drop_segformer_decoder_inputs(module, spec.drop_decoder_stages)


def path_graph(spec: PathSpec, *, cache: dict | None = None) -> LayerGraph:
    """The layer graph of a path. With a cache dict, identical paths are traced once, and a path that only
    skips blocks is derived from its base model's graph (hwmap.paths.surgery) instead of traced again."""
    from hwmap.graph.capture import capture

    if cache is not None and spec.graph_key in cache:
        return cache[spec.graph_key]
    if cache is not None and spec.skip_blocks and not spec.drop_decoder_stages:
        graph = _derived_skip_graph(spec, cache)
    else:
        module, inputs, built = build_path_module(spec)
        try:
            graph = capture(module, inputs, name=f"{built.name}[{spec.name}]", meta={"path": spec.to_entry()})
        except HwmapError as exc:
            raise HwmapError(f"path {spec.name!r}: the transformed model does not run: {exc}") from None
    if cache is not None:
        cache[spec.graph_key] = graph
    return graph


def _derived_skip_graph(spec: PathSpec, cache: dict) -> LayerGraph:
    from hwmap.graph.sources import build_model
    from hwmap.paths.surgery import block_infos_from_graph, remove_blocks
    from hwmap.paths.transforms import block_containers, resolve_skip_patterns

    base = replace(spec, skip_blocks=(), accuracy=None)
    base_graph = path_graph(base, cache=cache)
    containers_key = ("block-containers", spec.model, spec.num_classes)
    if containers_key not in cache:  # module structure only: no forward needed
        built = build_model(spec.model, num_classes=spec.num_classes)
        cache[containers_key] = (built.name, block_containers(built.module))
    model_name, containers = cache[containers_key]
    blocks = block_infos_from_graph(base_graph, containers)
    names = resolve_skip_patterns(blocks, spec.skip_blocks, model_name=model_name)
    return remove_blocks(base_graph, names, name=f"{model_name}[{spec.name}]")


def with_accuracy(paths: PathSet, measured: dict[str, Accuracy]) -> PathSet:
    return PathSet(tuple(replace(p, accuracy=measured.get(p.name, p.accuracy)) for p in paths.paths),
                   paths.source, copy.deepcopy(paths.meta))
