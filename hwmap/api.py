"""The Python API. Everything the CLI does goes through these functions; torch is imported only to build models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.io import load_graph
from hwmap.graph.io import save_graph as _write_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.summary import BreakdownKey, FlopsSummary, summarise
from hwmap.vocabulary import BREAKDOWNS, GPU_DTYPES, GPU_MODES

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from hwmap.cost.result import GraphCost
    from hwmap.dse.space import DesignSpace
    from hwmap.dse.sweep import SweepResult
    from hwmap.graph.cache import CacheInfo
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "DesignSpace", "bounds", "cache_info", "calibrate_from_table", "calibrate_gpu", "census", "census_models",
    "check_cost", "clear_cache", "compare_counters", "cost_paths", "estimate", "evaluate_paths", "export_accelerator",
    "export_graph", "export_zigzag_hardware", "export_zigzag_workload", "extract_graph", "flops", "generate_paths",
    "import_accelerator", "list_accelerators", "list_models", "load_accelerator", "load_costed_paths", "load_graph",
    "load_paths", "load_selection", "load_space", "map_layers", "measure", "pareto", "plot_bounds", "plot_frontier",
    "plot_layers", "plot_pareto", "plot_shares", "save_costed_paths", "save_graph", "select_paths", "simulate", "sweep",
    "template_kinds", "validate_accelerators",
]

InputShape = Sequence[int] | str  # (C, H, W), or text 'CxHxW' / 'HxW' as the CLI's --input takes it


def _graph(model, **options) -> LayerGraph:
    """The layer graph of model: options are the keywords of extract_graph, already checked and normalised by
    hwmap.api_checks (input_shape text parsed), so the GraphSpec is built from them as they are."""
    from hwmap.graph.spec import GraphSpec
    from hwmap.interop.inputs import read_graph

    return read_graph(GraphSpec.from_checked(model, **options))


def _choice(param: str, value, choices: Sequence[str]):
    """value if it is one of choices (None passes), else a ParameterError naming param."""
    if value is not None and value not in choices:
        raise ParameterError(param, f"must be one of {', '.join(choices)}, got {value!r}")
    return value



def __getattr__(name: str):
    # DesignSpace is re-exported lazily: importing hwmap.api does not import pydantic and the template schema
    if name == "DesignSpace":
        from hwmap.dse.space import DesignSpace

        return DesignSpace
    raise AttributeError(f"module 'hwmap.api' has no attribute {name!r}")


def extract_graph(
    model: str | Path | LayerGraph | torch.nn.Module,
    *,
    input_shape: Sequence[int] | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    example_inputs: Any = None,
    strict: bool = False,
    name: str | None = None,
    cache: bool = True,
) -> LayerGraph:
    """The layer graph of a model.

    model: a spec ('resnet50', 'tv:resnet18', 'segformer-b2', 'hf:<folder>', 'ofa-resnet50:d=..;e=..;w=..'),
    a saved graph .json, a LayerGraph, an nn.Module (with example_inputs, or input_shape (C, H, W)), an ONNX
    file or a SCALE-Sim topology .csv (read by its front end, hwmap.graph.frontends, from a GraphSpec).
    input_shape (C, H, W) or resolution (square, model's channels) override the model's default input.
    A module with real weights is traced on CPU tensors (real arithmetic); specs are built on the meta device.
    cache: a spec's graph is read from / written to the graph cache (hwmap.graph.cache: keyed by spec, input,
    batch, num_classes, strict and package versions; a hit imports neither torch nor timm); False always traces.
    """
    return _graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                  example_inputs=example_inputs, strict=strict, name=name, cache=cache)


def flops(
    model: str | Path | LayerGraph | torch.nn.Module,
    *,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    by: BreakdownKey = "op-group",
    linear_as_conv: bool = False,
    top: int | None = None,
    module_depth: int | None = None,
    compare: bool = False,
    cache: bool = True,
) -> FlopsSummary:
    """Total MACs, params, bytes and the MAC breakdown of a model (model forms and cache as in extract_graph).

    by: 'op-class', 'op-group', 'module' or 'layer'; top: keep the largest rows only (None or 0: all);
    module_depth: aggregate modules at this name depth (by='module'). compare: also count the model with torch's
    FlopCounterMode and fvcore (summary.comparison; needs a model spec, not a saved graph).
    """
    _choice("by", by, BREAKDOWNS)
    if top is not None and top < 0:
        raise ParameterError("top", f"must be >= 0 (0: every row), got {top}")
    if module_depth is not None and module_depth < 1:
        raise ParameterError("module_depth", f"must be a positive integer, got {module_depth}")
    if compare and (not isinstance(model, str) or model.endswith(".json")):
        raise ParameterError("compare", "needs a model spec, not a saved graph or module: the other counters must "
                                        "run the model")
    graph = _graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                   strict=strict, cache=cache)
    summary = summarise(graph, by=by, linear_as_conv=linear_as_conv, top=top or None, module_depth=module_depth)
    if compare:
        from dataclasses import replace

        summary = replace(summary, comparison=compare_counters(model, graph=graph, num_classes=num_classes))
    return summary


def save_graph(
    model: str | Path | LayerGraph | torch.nn.Module,
    out: str | Path,
    *,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    cache: bool = True,
) -> Path:
    """Write a model's layer graph (anything extract_graph takes, a LayerGraph too) as JSON to out, atomically;
    load_graph reads it back without torch."""
    graph = _graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                   strict=strict, cache=cache)
    return _write_graph(graph, out)


@dataclass(frozen=True)
class GraphExport:
    """What export_graph wrote: format, the file(s), the rows (scalesim) or layers (zigzag), the MACs they cover
    out of the graph's total, and notes on what was left out."""

    model: str
    format: str
    paths: tuple[str, ...]
    items: int
    macs: int
    total_macs: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"model": self.model, "format": self.format, "paths": list(self.paths),
                ("layers" if self.format == "zigzag" else "rows"): self.items, "macs": self.macs,
                "total_macs": self.total_macs, "notes": list(self.notes)}


EXPORT_FORMATS = ("scalesim", "scalesim-gemm", "zigzag")


def export_graph(
    model: str | Path | LayerGraph | torch.nn.Module,
    *,
    out: str | Path,
    format: str = "scalesim",
    accel: str | Path | Accelerator | None = None,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    cache: bool = True,
) -> GraphExport:
    """Write a model's GEMM-like layers in another tool's format: 'scalesim' (conv topology CSV), 'scalesim-gemm'
    (GEMM topology M, N, K) or 'zigzag' (ZigZag 3.9.1 workload YAML; accel: take operand bits from this template,
    default the graph's dtypes)."""
    _choice("format", format, EXPORT_FORMATS)
    if accel is not None and format != "zigzag":
        raise ParameterError("accel", "is only used with format 'zigzag' (operand bits of the workload)")
    graph = _graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                   strict=strict, cache=cache)
    if format == "zigzag":
        written = export_zigzag_workload(graph, out, accel=accel)
        return GraphExport(graph.model, format, (str(out),), written.layers, written.macs, graph.total_macs,
                           written.notes)
    from hwmap.interop.scalesim import write_scalesim_topology

    written = write_scalesim_topology(graph, str(out), gemm_format=format == "scalesim-gemm")
    return GraphExport(graph.model, format, (str(out),), written.rows, written.macs, graph.total_macs,
                       written.notes)


def compare_counters(model: str, *, graph: LayerGraph | None = None, num_classes: int | None = None):
    """hwmap's MAC count of a model spec beside torch's FlopCounterMode and fvcore's, by op family
    (hwmap.graph.compare.CounterComparison). graph: the spec's already extracted graph (its input shapes are
    used); extracted at the default input when omitted."""
    from hwmap.graph.compare import compare_counters as compare

    if model.endswith(".json"):
        raise HwmapError(f"model {model}: a saved graph cannot be compared; the other counters must run the model, "
                         "so give a model spec")
    if graph is None:
        graph = _graph(model, num_classes=num_classes)
    return compare(model, graph, num_classes=num_classes)


def list_models(contains: str | None = None) -> dict[str, list[str]]:
    """Built-in model names by family (timm and torchvision names come from the installed packages); contains:
    only names containing this text (case-insensitive)."""
    from hwmap.graph.sources import OFA_EXAMPLE, SEGFORMER_VARIANTS, timm_and_torchvision_names

    timm_names, tv_names = timm_and_torchvision_names()
    families = {
        "segformer": list(SEGFORMER_VARIANTS),
        "ofa": [OFA_EXAMPLE],
        "timm": timm_names,
        "torchvision": [f"tv:{n}" for n in tv_names],
    }
    if contains:
        families = {k: [n for n in v if contains.lower() in n.lower()] for k, v in families.items()}
    return families


def load_accelerator(accel: str | Path | Accelerator) -> Accelerator:
    """A shipped template by name, a template YAML file, or a SCALE-Sim .cfg file (energy defaults added); an
    Accelerator is returned as is. A template file is read strictly: binary or non-UTF-8 text, absurd nesting,
    duplicate or unknown keys are one TemplateError naming the file (and the field)."""
    from hwmap.interop.inputs import read_accelerator

    return read_accelerator(accel)


def template_kinds() -> tuple[str, ...]:
    """The registered template kinds (hwmap.hardware.kinds), sorted: the choices of ``list_accelerators(kind=)``."""
    from hwmap.hardware.kinds import registered_kinds

    return registered_kinds()


def _mappable(accelerator: Accelerator, what: str, *, capability: str = "mappable") -> Accelerator:
    """The accelerator, if its kind has the capability (the registry's ``mappable`` or ``bounds``), else
    ParameterError naming accel."""
    from hwmap.hardware.kinds import kind_info, registered_kinds

    if not getattr(kind_info(accelerator.kind), capability):
        covered = ", ".join(k for k in registered_kinds() if getattr(kind_info(k), capability))
        raise ParameterError("accel", f"{accelerator.name!r} is of kind {accelerator.kind!r}; {what} {covered} "
                                      "templates")
    return accelerator


def list_accelerators(kind: str | None = None) -> list[str]:
    """Names of the shipped templates; kind: only templates of this kind (systolic, vector_pe, gpu, ...)."""
    from hwmap.hardware.catalog import list_accelerators as names
    from hwmap.hardware.schema import registered_kinds

    _choice("kind", kind, registered_kinds())
    if kind is None:
        return names()
    return [name for name in names() if load_accelerator(name).kind == kind]


def validate_accelerators(accels: Sequence[str | Path]) -> list[Accelerator]:
    """Load and validate each template (name, .yaml or .cfg); the first bad one raises TemplateError with every
    problem it has."""
    return [load_accelerator(accel) for accel in accels]


def export_accelerator(accel: str | Path | Accelerator, *, out: str | Path, format: str = "zigzag"):
    """Write a template in another tool's format; 'zigzag': ZigZag 3.9.1 memory hierarchy, MAC array and spatial
    mapping, to out the hardware .yaml file (the mapping goes beside it: x.hardware.yaml -> x.mapping.yaml) or, out
    an existing folder, to <out>/<name>.hardware.yaml and <name>.mapping.yaml ('hierarchy' templates: the folder
    gets <name>.yaml and <name>.mapping.yaml); 'timeloop': Timeloop v0.4 <name>.flattened_architecture.yaml,
    <name>.ERT.yaml (Accelergy's energy table) and <name>.constraints.yaml in the existing folder out."""
    from hwmap.cost.kinds import hardware_view
    from hwmap.fileio import check_run_files
    from hwmap.interop.hierarchy_template import EXPORT_FORMATS, export_hierarchy, export_paths
    from hwmap.interop.zigzag import ZigzagExport, has_builtin_layout, zigzag_hardware_paths

    _choice("format", format, EXPORT_FORMATS)
    template = load_accelerator(accel)
    source = accel if isinstance(accel, str | Path) else None  # a template file must not be overwritten
    hierarchy = hardware_view(template)
    if format == "zigzag" and has_builtin_layout(hierarchy):
        hardware, mapping = zigzag_hardware_paths(out, template.name)
        check_run_files(inputs={"accel": source}, outputs={"out": hardware, "out (mapping YAML)": mapping})
        return export_zigzag_hardware(template, out)
    paths = export_paths(hierarchy, format=format, out_dir=out)
    check_run_files(inputs={"accel": source}, outputs={f"out ({p.name})": p for p in paths})
    written = export_hierarchy(hierarchy, format=format, out_dir=out)
    return ZigzagExport(tuple(str(p) for p in written), 0, 0, ())


def import_accelerator(source: str | Path, *, out: str | Path, format: str = "timeloop", ert: str | Path | None = None,
                       constraints: str | Path | None = None, spatial_mapping: str | Path | None = None,
                       freq_mhz: float | None = None):
    """Read another tool's architecture and write it as a 'hierarchy' template YAML at out.

    format 'timeloop': source a Timeloop v0.4 flattened architecture (*.flattened_architecture.yaml), ert Accelergy's
    energy reference table (*.ERT.yaml, required), constraints the design's arch.yaml or a constraints document
    (dataspace keep/bypass, spatial rules); format 'zigzag': source a ZigZag 3.9.1 hardware YAML, spatial_mapping a
    ZigZag mapping YAML (its 'default' spatial mapping becomes the fixed unrolling). freq_mhz: the clock (default:
    Timeloop's cycle_seconds; ZigZag has none: 1000 MHz, stated in the template's provenance). Unsupported
    features (sparsity, compression, networks-on-chip) are refused by name. Returns what was written
    (hwmap.interop.hierarchy_template.ImportedTemplate)."""
    from hwmap.interop.hierarchy_template import IMPORT_FORMATS, import_architecture

    _choice("format", format, IMPORT_FORMATS)
    return import_architecture(source, format=format, out=out, ert=ert, constraints=constraints,
                               spatial_mapping=spatial_mapping, freq_mhz=freq_mhz)


def estimate(
    model: str | Path | LayerGraph | torch.nn.Module,
    accel: str | Path | Accelerator,
    *,
    dataflow: str | None = None,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    mapping: str = "best",
    objective: str = "energy",
    fusion: str | None = None,
    mode: str = "auto",
    dtype: str = "fp16",
    calibration: str | Path | None = None,
    tf32: bool = True,
    cache: bool = True,
) -> GraphCost:
    """Cycles, latency, energy terms and utilisation of every layer of model on accel.

    model: anything extract_graph takes, or a SCALE-Sim topology .csv; accel: a template name, a template
    .yaml, a SCALE-Sim .cfg or an Accelerator. dataflow ('ws', 'os', 'is') overrides a systolic template's.
    mapping: 'best' (each layer's loop order and tiles chosen by hwmap.cost.mapping for objective 'energy',
    'latency' or 'edp') or 'scalesim' (systolic templates: SCALE-Sim's fold order and DRAM counts).
    fusion: 'epilogue' (None: the default for accelerator templates; BN folded, activations/adds on chip) or
    'none'; GPU templates take fusion from their execution mode.
    GPU templates only: mode ('auto': eager PyTorch with fused SDPA where the model calls it, 'eager', 'sdpa',
    'compiled'), dtype of the compute roof ('fp16', 'bf16', 'fp32', 'fp8', 'int8'), calibration (a file from
    calibrate_gpu(); None: <template>.calibration.yaml beside the template, else the template's priors), tf32 (TF32
    for fp32 matmuls). On other templates they must keep their defaults.
    cache: the graph as in extract_graph, each layer's mapping from / to the mapping cache (hwmap.cost.mapping_cache)
    and the mapper's candidate tables from / to their store (hwmap.cost.candidate_store): the same result, without
    tracing or searching again; False reads and writes no on-disk cache.
    """
    from hwmap.cost import candidate_store
    from hwmap.cost.dispatch import estimate_graph
    from hwmap.cost.settings import EstimateSettings

    accelerator = load_accelerator(accel)
    settings = EstimateSettings.of(dataflow=dataflow, mapping=mapping, objective=objective, fusion=fusion,
                                   mode=mode, dtype=dtype, calibration=calibration, tf32=tf32)  # checked once
    graph = _graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                   strict=strict, cache=cache)
    with candidate_store.used(cache):
        cost = estimate_graph(graph, accelerator, settings, cache=cache)
    check_cost(cost)
    return cost


@dataclass(frozen=True)
class LayerMappings:
    """map_layers' answer: the model's cost (cost.layers.mappings holds every conv/GEMM layer's mapping) and the indices
    of the layers asked for, in execution order."""

    cost: GraphCost
    layers: tuple[int, ...]


def map_layers(
    model: str | Path | LayerGraph | torch.nn.Module,
    accel: str | Path | Accelerator,
    *,
    layer: str | None = None,
    objective: str = "energy",
    mapping: str = "best",
    fusion: str | None = None,
    dataflow: str | None = None,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    cache: bool = True,
    fixed: str | Path | None = None,
    conventions: str = "hwmap",
) -> LayerMappings:
    """The mapping (loop order, buffer tiles, DRAM bytes per operand, reuse) of every conv/GEMM layer of model on
    a systolic or vector_pe template; layer: only layers whose name or module matches this glob ('layer4.*').

    fixed: evaluate the mapping this file gives each layer instead of searching (a Timeloop *.map.yaml, a ZigZag
    mapping YAML, or ZigZag run records such as benchmarks/reference/zigzag_resnet50_*.json) on the template's
    memory hierarchy: returns a hwmap.interop.fixed_mapping.FixedMappings (per layer, level and operand: reads,
    writes, updates; energy per level).
    conventions: the counting and pricing rules a fixed mapping is evaluated under (hwmap.vocabulary.
    ACCESS_CONVENTIONS): "hwmap" (hwmap's own model) or "zigzag" (ZigZag 3.9.1's access counts and its energy of
    port word accesses, hwmap.cost.multilevel.evaluate.ZIGZAG_CONVENTIONS: a ZigZag mapping then costs what ZigZag
    reports)."""
    from fnmatch import fnmatchcase

    from hwmap.vocabulary import ACCESS_CONVENTIONS

    if conventions not in ACCESS_CONVENTIONS:
        raise ParameterError("conventions", f"must be one of {', '.join(ACCESS_CONVENTIONS)}, got {conventions!r}")
    if fixed is None and conventions != "hwmap":
        raise ParameterError("conventions", f"{conventions!r} applies only to a fixed mapping to evaluate; the "
                                            "mapper's search reports hwmap's model")
    accelerator = load_accelerator(accel)
    if fixed is not None:
        return _map_fixed(model, accelerator, fixed, layer=layer, mapping=mapping, objective=objective,
                          dataflow=dataflow, fusion=fusion, input_shape=input_shape, resolution=resolution,
                          batch=batch, num_classes=num_classes, strict=strict, cache=cache, conventions=conventions)
    accelerator = _mappable(accelerator, "the mapper covers")
    cost = estimate(model, accelerator, dataflow=dataflow, input_shape=input_shape, resolution=resolution,
                    batch=batch, num_classes=num_classes, strict=strict, mapping=mapping, objective=objective,
                    fusion=fusion, cache=cache)
    names, scopes = cost.layers.names, cost.layers.scopes
    rows = tuple(i for i, m in enumerate(cost.layers.mappings) if m is not None
                 and (layer is None or fnmatchcase(names[i], layer) or fnmatchcase(scopes[i], layer)))
    if layer is not None and not rows:
        raise ParameterError("layer", f"{layer!r} matches no conv/GEMM layer of {cost.model}")
    return LayerMappings(cost, rows)


def _map_fixed(model, accelerator, fixed, *, layer, mapping, objective, dataflow, fusion, conventions,
               **graph_options):
    """map_layers(fixed=...): the file's mapping of every layer asked for, evaluated (no search)."""
    from hwmap.fileio import check_run_files
    from hwmap.interop.fixed_mapping import map_fixed

    for keyword, value, default in (("mapping", mapping, "best"), ("objective", objective, "energy"),
                                    ("dataflow", dataflow, None), ("fusion", fusion, None)):
        if value != default:
            raise ParameterError(keyword, f"is for the mapper's search; fixed gives the mapping (drop {keyword})")
    check_run_files(inputs={"fixed": fixed})
    graph = _graph(model, **graph_options)
    return map_fixed(graph, accelerator, fixed, layer=layer, conventions=conventions)


def bounds(
    model: str | Path | LayerGraph | torch.nn.Module,
    accel: str | Path | Accelerator,
    *,
    level: str | None = None,
    layer: str | None = None,
    dataflow: str | None = None,
    input_shape: InputShape | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    cache: bool = True,
):
    """Least DRAM traffic attainable with at most B bytes at each memory level the mapper handles, for every B
    (Orojenesis-style curves; hwmap.cost.bounds): one step function per conv/GEMM layer and their sum, with the
    compulsory traffic, the smallest capacity reaching it, the template's capacity and the mapper's traffic there.
    On a hierarchy template (hwmap.cost.hierarchy_bounds) a level's curve is the least traffic between it and the
    level above it with at most B bytes in one of its instances.
    level: one level (ifmap, filter, ofmap, all; global on vector_pe templates; a hierarchy's on-chip level by
    name), default every one (a hierarchy: the level right below DRAM); layer: only
    layers whose name or module matches this glob; cache as in estimate. Returns a hwmap.cost.bounds.TrafficBounds."""
    from hwmap.cost import candidate_store
    from hwmap.cost.bounds import traffic_bounds
    from hwmap.cost.dispatch import map_target
    from hwmap.cost.layers import layer_arrays
    from hwmap.cost.memory import memory_hierarchy
    from hwmap.hardware.kinds import kind_info

    accelerator = _mappable(load_accelerator(accel), "traffic bounds cover", capability="bounds")
    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict, cache=cache)
    cost = estimate(graph, accelerator, dataflow=dataflow, cache=cache)
    if kind_info(accelerator.kind).bounds == "levels":  # every level of a hierarchy (hwmap.cost.hierarchy_bounds)
        from hwmap.cost.hierarchy_bounds import hierarchy_traffic_bounds

        return hierarchy_traffic_bounds(cost, accelerator, levels=[level] if level else None, layer=layer)
    memory = memory_hierarchy(accelerator)
    target = map_target(memory, accelerator.spec, dataflow=cost.settings.get("dataflow"), accelerator=accelerator)
    with candidate_store.used(cache):
        return traffic_bounds(cost, layer_arrays(graph), target, memory, levels=[level] if level else None,
                              layer=layer)


def check_cost(cost: GraphCost, *, what: str | None = None) -> None:
    """Raise ResultError naming the layer and field of the first non-finite or out-of-range number of a GraphCost
    (a template whose numbers overflow, for example); estimate() does this for every result it returns."""
    from hwmap.cost.checks import check_cost as check

    check(cost, what=what)


def check_costed_paths(costed, *, accelerator: str) -> None:
    """check_cost for costed paths: energy, latency and cycles of each must be finite and non-negative."""
    from hwmap.cost.checks import check_result

    for c in costed:
        check_result({"energy_mj": c.energy_mj, "latency_ms": c.latency_ms, "cycles": c.cycles},
                     what=f"path {c.name} on {accelerator}")


def load_selection(path: str | Path):
    """A selection JSON written by select-paths --out, validated field by field, as a hwmap.select.SelectionResult
    (.selection, .reference, .budget_unit, .chosen_names, ...)."""
    from hwmap.select.readers import read_selection

    return read_selection(path)


def cache_info() -> dict[str, CacheInfo]:
    """hwmap's on-disk caches by name: "graphs" (traced layer graphs, hwmap.graph.cache), "mappings" (the mapper's
    choices, hwmap.cost.mapping_cache) and "candidates" (the mapper's candidate tables for buffer sweeps,
    hwmap.cost.candidate_store); each a CacheInfo (.folder, .entries, .size_bytes, .to_dict())."""
    from hwmap.cost.candidate_store import store_info
    from hwmap.cost.mapping_cache import mapping_cache_info
    from hwmap.graph.cache import cache_info as graph_cache_info

    return {"graphs": graph_cache_info(), "mappings": mapping_cache_info(), "candidates": store_info()}


def clear_cache() -> dict[str, CacheInfo]:
    """Delete every entry of the three caches; returns what was removed, by cache name as in cache_info()."""
    from hwmap.cost.candidate_store import clear_store
    from hwmap.cost.mapping_cache import clear_mapping_cache
    from hwmap.graph.cache import clear_cache as clear_graphs

    return {"graphs": clear_graphs(), "mappings": clear_mapping_cache(), "candidates": clear_store()}


def export_zigzag_workload(graph: LayerGraph, path: str | Path, *,
                           accel: str | Path | Accelerator | None = None):
    """Write ZigZag 3.9.1's workload YAML for every conv/GEMM of graph (hwmap.interop.zigzag.ZigzagExport).

    accel: take the operand bits from this template; without it they come from the graph's dtypes.
    """
    from hwmap.interop.zigzag import write_zigzag_workload, zigzag_hardware_view

    if accel is None:
        return write_zigzag_workload(graph, path)
    from hwmap.hardware.template_files import template_input_files

    hw = zigzag_hardware_view(load_accelerator(accel))
    return write_zigzag_workload(graph, path, input_bits=hw.input_bits, weight_bits=hw.weight_bits,
                                 output_bits=hw.output_bits, inputs=template_input_files("accel", accel))


def use_candidate_store(on: bool) -> None:
    """Whether the mapper reads and writes its on-disk candidate tables (off for `hwmap --no-cache`: the tables are
    read deep inside the mapper, so this is a process-wide switch; not part of the public API)."""
    from hwmap.cost.candidate_store import set_enabled

    set_enabled(on)


def template_input_files(label: str, accel: object) -> dict[str, str]:
    """The files a template argument reads (the template, the calibration beside it), for the CLI's same-file
    check (hwmap.hardware.template_files; not part of the public API)."""
    from hwmap.hardware.template_files import template_input_files as files

    return files(label, accel)


def export_zigzag_hardware(accel: str | Path | Accelerator, out_dir: str | Path):
    """Write <out_dir>/<name>.hardware.yaml and <name>.mapping.yaml: a template as ZigZag 3.9.1 sees it."""
    from hwmap.interop.zigzag import write_zigzag_hardware

    return write_zigzag_hardware(load_accelerator(accel), out_dir)


def load_paths(path: str | Path):
    """A paths YAML as a PathSet (hwmap.paths.model documents the format)."""
    from hwmap.paths.model import load_paths as read

    return read(path)


def generate_paths(
    model: str,
    *,
    out: str | Path | None = None,
    skip_last: int = 0,
    skip_blocks: Sequence[str] = (),
    drop_decoder: bool = False,
    resolutions: Sequence[int] = (),
    variants: Sequence[str] = (),
    ofa_published: bool = False,
    num_classes: int | None = None,
):
    """Candidate execution paths of a model (a PathSet; see hwmap.paths.generate), also written as a paths YAML to
    out when given. ofa_published (model 'ofa-resnet50'; or model 'ofa-resnet50-published'): the eight published
    OFA ResNet-50 subnets with their published top-1."""
    from hwmap.paths.generate import generate_paths as generate
    from hwmap.paths.generate import ofa_published_paths
    from hwmap.paths.model import save_paths

    if ofa_published and model != "ofa-resnet50":
        raise ParameterError("ofa_published", f"takes model ofa-resnet50, got {model!r}")
    if ofa_published or model == "ofa-resnet50-published":
        paths = ofa_published_paths()
        if out is not None:
            save_paths(paths, out)
        return paths
    paths = generate(model, skip_last=skip_last, skip_blocks=tuple(skip_blocks), drop_decoder=drop_decoder,
                     resolutions=tuple(resolutions), variants=tuple(variants), num_classes=num_classes)
    if out is not None:
        save_paths(paths, out, base_model=model)
    return paths


def evaluate_paths(
    paths,
    *,
    data: str | Path,
    weights: str | Path | None = None,
    weights_for: Mapping[str, str | Path] | Sequence[str] = (),
    task: str = "auto",
    batch: int = 32,
    device: str = "auto",
    limit: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    normalize: bool = True,
    class_map: str | Path | Mapping[str, int] | None = None,
    out: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
):
    """Run every path (a PathSet or a paths YAML) on a local data set with local weights and measure its accuracy
    (top-1 or mIoU); returns a list of PathMeasurement (hwmap.paths.evaluate), in path order.

    data: DIR/<class>/<images> (classification) or DIR/images + DIR/masks (segmentation). batch: images per
    forward pass. device: 'auto' (cuda:0 when CUDA is available, else cpu), 'cpu', 'cuda' or 'cuda:N'. weights: the
    paths file's model's weights; weights_for: other models' weights ({model: file} or 'MODEL=FILE' strings).
    class_map: folder name -> class index (a .json/.csv file or a dict, see hwmap.paths.datasets.load_class_map);
    without one, class index = sorted folder order. mean/std: per-channel normalisation (default ImageNet's);
    normalize=False feeds pixels in [0, 1]. out: also write the paths YAML with the measured accuracies.
    progress(path, batches done, batches of the path) is called when a path starts and after every batch.
    Fewer than 100 images per path: a hwmap.paths.evaluate.SmallSampleWarning (warnings module) after the run.
    """
    from hwmap.paths.datasets import IMAGENET_NORMALISATION, Normalisation, class_map_from_dict, load_class_map
    from hwmap.paths.evaluate import measure_paths, weights_by_model, write_paths_with_accuracy
    from hwmap.paths.model import PathSet
    from hwmap.paths.model import load_paths as read_paths

    if not normalize and (mean is not None or std is not None):
        raise ParameterError("normalize", "False and mean/std contradict each other; give one")
    normalisation = Normalisation(tuple(mean) if mean is not None else IMAGENET_NORMALISATION.mean,
                                  tuple(std) if std is not None else IMAGENET_NORMALISATION.std) if normalize else None
    if out is not None and not Path(out).parent.is_dir():
        raise ParameterError("out", f"{out}: folder {Path(out).parent} does not exist")
    path_set = paths if isinstance(paths, PathSet) else read_paths(paths)
    if isinstance(weights_for, Mapping):
        weights_for = [f"{model}={file}" for model, file in weights_for.items()]
    files = weights_by_model(path_set, weights=str(weights) if weights is not None else None,
                             weights_for=tuple(weights_for))
    if class_map is not None:
        class_map = class_map_from_dict(class_map) if isinstance(class_map, Mapping) else load_class_map(class_map)
    measured = measure_paths(path_set, data_dir=data, weights=files, task=task, batch_size=batch,
                             device=device, limit=limit, normalisation=normalisation, class_map=class_map,
                             progress=progress)
    if out is not None:
        write_paths_with_accuracy(path_set, {m.name: m.accuracy for m in measured}, out)
    return measured


def load_costed_paths(path: str | Path):
    """A costed-paths CSV (`hwmap paths cost --csv`, or the user's own: name, energy_mj, latency_ms, accuracy,
    weight_group, weight_mb[, accuracy_metric, accuracy_source, accuracy_provenance]) as a list of CostedPath."""
    from hwmap.paths.costing import read_costed_csv

    return read_costed_csv(path)


def pareto(table, objectives: Sequence[str], *, by: str | None = "model"):
    """The rows of a sweep results table (pandas DataFrame) on the Pareto front of objectives (names or aliases:
    'energy', 'latency_ms', 'area', 'utilisation' (maximised), ...), computed separately per value of by."""
    from hwmap.dse.pareto import pareto_table

    return pareto_table(table, list(objectives), by=by)


def cost_paths(paths, accel: str | Path | Accelerator, *, dataflow: str | None = None, mapping: str = "best",
               objective: str = "energy", fusion: str | None = None, mode: str = "auto", dtype: str = "fp16",
               calibration: str | Path | None = None, tf32: bool = True,
               progress: Callable[[int, int], None] | None = None):
    """Energy, latency, weights and accuracy of every path on accel (list of CostedPath); paths is a PathSet or a
    paths YAML. dataflow, mapping, objective, fusion, mode, dtype, calibration and tf32 as in estimate: each path
    costs exactly what estimate gives for its graph with the same settings. progress(done, total) is called after
    each path. Every number is checked finite and >= 0."""
    from hwmap.cost.settings import EstimateSettings

    settings = EstimateSettings.of(dataflow=dataflow, mapping=mapping, objective=objective, fusion=fusion,
                                   mode=mode, dtype=dtype, calibration=calibration, tf32=tf32)  # checked once
    return _cost_paths(paths, load_accelerator(accel), settings, progress)


def _cost_paths(paths, accelerator: Accelerator, settings, progress: Callable[[int, int], None] | None):
    """cost_paths with the settings already made (hwmap.cost.settings.EstimateSettings): select_paths shares it."""
    from hwmap.paths.costing import cost_paths as run
    from hwmap.paths.model import PathSet

    settings.check_applies(accelerator.kind, accelerator.name)  # before any path is traced
    path_set = paths if isinstance(paths, PathSet) else load_paths(paths)
    total, done = len(path_set.paths), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    costed = run(path_set, accelerator, settings, progress=tick)
    check_costed_paths(costed, accelerator=accelerator.name)
    return costed


def save_costed_paths(costed, out: str | Path) -> None:
    """Write costed paths as the CSV load_costed_paths and select_paths read (atomically)."""
    from hwmap.paths.costing import write_costed_csv

    write_costed_csv(out, list(costed))


def select_paths(
    paths,
    *,
    accel: str | Path | Accelerator | None = None,
    dataflow: str | None = None,
    mapping: str = "best",
    objective: str = "energy",
    fusion: str | None = None,
    mode: str = "auto",
    dtype: str = "fp16",
    calibration: str | Path | None = None,
    tf32: bool = True,
    budgets: str | Sequence[float | str] | None = None,
    budget_trace: str | Path | Any = None,
    metric: str | None = None,
    reference: str | None = None,
    budget_weights: str | Sequence[float] | None = None,
    max_paths: int | None = None,
    memory_mb: float | None = None,
    min_accuracy: float | None = None,
    extra_path_penalty: float = 0.0,
    goal: str = "accuracy",
    target_frontier: str | Path | Sequence[Any] | None = None,
    drop_unknown: bool = False,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    accuracies: str | Path | Mapping[str, Any] | None = None,
):
    """Choose the execution paths to deploy and the path to run at each budget (ILP; semantics in
    hwmap.select.problem, the pipeline in hwmap.select.pipeline). Returns a hwmap.select.SelectionResult:
    .selection (chosen, table, expected values), .dropped (paths left out for want of an accuracy), .reference
    and .reference_value, .rows() (the budget -> path table) and .to_dict() (the selection JSON).

    paths: costed paths (CostedPath list from cost_paths / load_costed_paths, PathPoints or mappings), a costed
    CSV, or a paths YAML / PathSet costed on accel (with the estimate settings dataflow, mapping, objective, fusion,
    mode, dtype, calibration and tf32, as cost_paths takes them). budgets: text such as '0.5,0.8' (fractions of
    the reference), '20mJ,30mJ', '5ms', '0.5:1.0:0.05', '10mJ:30mJ:5mJ', or a list of numbers (fractions) or
    texts; or budget_trace: a trace CSV declaring its unit, or a BudgetTrace. The unit fixes the metric (metric
    must agree; fractions: metric, default 'energy'). reference: the path fractions are fractions of and savings
    are measured against (default: the most expensive path on the metric). budget_weights: one weight per budget.
    goal: 'accuracy' or 'frontier' (with target_frontier: a CSV energy_mj,accuracy[,weight] or (energy_mj,
    accuracy) points). extra_path_penalty: accuracy points per kept path beyond the first. out: also write the
    selection JSON there (read back by load_selection, replayed by simulate). progress(done, total) while costing.
    accuracies: a YAML or CSV file (or its YAML form as a mapping) of accuracies with their provenance that fill
    or override the paths' own, without costing again (format: hwmap.paths.accuracies).
    """
    from hwmap.cost.settings import EstimateSettings
    from hwmap.fileio import atomic_write_text
    from hwmap.paths.accuracies import apply_accuracies, resolve_accuracies
    from hwmap.select.pipeline import run_selection
    from hwmap.select.request import SelectionRequest

    if out is not None and not Path(out).parent.is_dir():
        raise HwmapError(f"out {out}: folder {Path(out).parent} does not exist")
    request = SelectionRequest.parse(  # parsed once, before paths are costed; the library takes it as it is
        budgets=budgets, budget_trace=budget_trace, metric=metric, reference=reference, budget_weights=budget_weights,
        max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy, extra_path_penalty=extra_path_penalty,
        goal=goal, target_frontier=target_frontier, drop_unknown=drop_unknown)
    given_accuracies, accuracies_origin = resolve_accuracies(accuracies)  # a bad file fails before costing too
    settings = EstimateSettings.of(dataflow=dataflow, mapping=mapping, objective=objective, fusion=fusion,
                                   mode=mode, dtype=dtype, calibration=calibration, tf32=tf32)
    costed, paths_file, accelerator = _costed_for_selection(paths, accel, settings, progress)
    if given_accuracies is not None:
        costed = apply_accuracies(costed, given_accuracies, origin=accuracies_origin)
    result = run_selection(costed, request, paths_file=paths_file, accelerator=accelerator)
    if out is not None:
        import json

        atomic_write_text(out, json.dumps(result.to_dict(), indent=2, allow_nan=False))
    return result


def _costed_for_selection(paths, accel, settings, progress) -> tuple[list, str | None, str | None]:
    """(costed paths, the file they came from, their accelerator's name) for select_paths: a costed CSV read, a
    paths YAML / PathSet costed on accel with settings, or costed paths taken as they are (costing keywords given
    for paths that are already costed are an error)."""
    from hwmap.paths.model import PathSet

    if isinstance(paths, (str, Path)) and str(paths).endswith(".csv"):
        if accel is not None or settings.changed():
            raise HwmapError(f"paths {paths} is already costed; {_costing_keywords(accel, settings)} to a paths "
                             "YAML")
        costed = load_costed_paths(paths)
        templates = {c.accelerator for c in costed}
        # the CSV's accelerator column, if any
        return costed, str(paths), templates.pop() if len(templates) == 1 else None
    if isinstance(paths, (str, Path, PathSet)):
        if accel is None:
            raise HwmapError(f"paths {paths if not isinstance(paths, PathSet) else 'PathSet'}: paths need accel to "
                             "be costed (or pass costed paths / a costed CSV)")
        accelerator = load_accelerator(accel)
        costed = _cost_paths(paths, accelerator, settings, progress)
        return costed, None if isinstance(paths, PathSet) else str(paths), accelerator.name
    if accel is not None or settings.changed():
        raise HwmapError(f"{_costing_keywords(accel, settings)} to a paths YAML or PathSet; these paths are "
                         "already costed")
    return list(paths), None, None


def _costing_keywords(accel, settings) -> str:
    """'accel applies' / 'accel, objective apply': the costing keywords given for paths that are already costed."""
    given = (("accel",) if accel is not None else ()) + settings.changed()
    return f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'}"


def simulate(selection, budget_trace, *, unit: str | None = None, switch_energy_mj: float = 0.0):
    """Replay a selection's switching policy over a budget trace (hwmap.select.SimulationResult).

    selection: a SelectionResult (select_paths), a Selection, or a selection JSON file (select-paths --out).
    budget_trace: a trace CSV declaring its unit (budget_mj / budget_ms / budget_fraction column, or a
    '# unit: mJ' line before a budget column), a hwmap.select.BudgetTrace, or a sequence of numbers with unit
    ('mJ', 'uJ', 'J', 'ms', 'us', 's' or 'fraction'). An absolute trace must be on the selection's metric; a trace
    of fractions is multiplied by the selection's reference value and needs a selection made with fraction budgets.
    """
    from hwmap.select import BudgetTrace, read_budget_trace
    from hwmap.select.pipeline import simulate_selection

    if isinstance(selection, (str, Path)):
        selection = load_selection(selection)
    if isinstance(budget_trace, BudgetTrace):
        if unit is not None:
            raise HwmapError("unit applies to a sequence of budgets; a BudgetTrace carries its own unit")
        trace = budget_trace
    elif isinstance(budget_trace, (str, Path)):
        if unit is not None:
            raise HwmapError("unit applies to a sequence of budgets; a trace file declares its own unit")
        trace = read_budget_trace(budget_trace)
    else:
        if unit is None:
            raise HwmapError("unit is missing: a sequence of budgets needs unit='mJ', 'ms', 'fraction', ...")
        trace = BudgetTrace.of(list(budget_trace), unit=unit)
    return simulate_selection(selection, trace, switch_energy_mj=switch_energy_mj)


def load_space(space: str | Path | Mapping[str, Any] | DesignSpace) -> DesignSpace:
    """A validated design space (hwmap.dse.space documents the format) from its YAML file (str or Path; relative
    file names resolved against its folder), a dict of the YAML's content (relative file names resolved against
    the working directory) or a DesignSpace (returned as is)."""
    from hwmap.dse.space import as_space

    return as_space(space)


def sweep(
    space: str | Path | Mapping[str, Any] | DesignSpace,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    out: str | Path | None = None,
    journal: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    objectives: str | Sequence[str] | None = None,
    front_out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Cost every point of a design space through the same cost functions as estimate; returns a SweepResult
    (.table: one row per point in the space's order, .pareto(), .summary()).

    space: the space's YAML file (str or Path), a dict of the YAML's content or a DesignSpace (see load_space);
    its `estimate:` section (objective, mapping, fusion) sets how every point is costed, as estimate's keywords do.
    workers: local worker processes (default: all cores, or this process for fewer than 64 points); they are
    forked from a fork server and never re-run the calling script, so no `if __name__ == "__main__":` guard is
    needed. scheduler: run on the Dask cluster whose scheduler is at this address ('tcp://host:8786') instead.
    chunk_size: points per task (default: about 8 tasks per worker, at most 256 points).
    out / front_out: also write the table / its Pareto front to this .csv, .parquet or .json (whole or not at
    all). journal: append every finished chunk to this JSON-lines file (default with out: OUT.journal.jsonl);
    resume=True skips the points already in it; overwrite=True deletes it first.
    objectives: the Pareto objectives (names or aliases, a list or 'energy,latency'; default: the space's);
    the result's space carries the resolved names. progress(points done, total) is called as chunks finish.
    """
    import contextlib
    import dataclasses

    from hwmap.dse.pareto import resolve_objectives
    from hwmap.dse.space import as_space
    from hwmap.dse.sweep import TABLE_SUFFIXES, dask_executor, journal_path_for, sweep_lock, write_table
    from hwmap.dse.sweep import sweep as run

    if workers is not None and scheduler is not None:
        raise HwmapError("give workers (local processes) or scheduler (a Dask cluster), not both")
    for target, name in ((out, "out"), (front_out, "front_out")):
        if target is not None and Path(target).suffix.lower() not in TABLE_SUFFIXES:
            raise HwmapError(f"{name} {target}: expected a .csv, .parquet or .json file")
    if progress is not None and not callable(progress):
        raise HwmapError(f"progress must be a function (points done, total), got {type(progress).__name__}")
    design = as_space(space)
    if objectives is not None:
        names = objectives.split(",") if isinstance(objectives, str) else list(objectives)
        names = [n.strip() for n in names if n.strip()]
        if names:
            resolved = tuple(c for c, _ in resolve_objectives(names, has_paths=bool(design.paths)))
            design = dataclasses.replace(design, objectives=resolved)
    journal_path = journal if journal is not None else (journal_path_for(out) if out is not None else None)
    if resume and journal_path is None:
        raise HwmapError("resume needs the journal of the interrupted sweep: give the same out (or journal)")
    if resume and overwrite:
        raise HwmapError("give resume (continue the journal) or overwrite (start over), not both")
    with sweep_lock([p for p in (journal_path, out, front_out) if p is not None]):
        if overwrite and journal_path is not None:
            Path(journal_path).unlink(missing_ok=True)
        with dask_executor(scheduler) if scheduler else contextlib.nullcontext(None) as executor:
            try:
                result = run(design, executor=executor, workers=workers, chunk_size=chunk_size,
                             journal=journal_path, resume_from=journal_path if resume else None,
                             progress=progress)
            except KeyboardInterrupt as exc:
                if journal_path is not None:
                    exc.add_note(f"the finished points are in {journal_path}: sweep again with resume=True to "
                                 "continue")
                raise
        if out is not None:
            write_table(result.table, out)
        if front_out is not None:
            write_table(result.pareto(), front_out)
    return result


def census_models(patterns: Sequence[str] = ()) -> list[str]:
    """The model names a census of these patterns covers (timm names or globs, built-ins; none: every timm
    architecture), in order."""
    from hwmap.dse.census import resolve_models

    return resolve_models(list(patterns))


def calibrate_from_table(table: str | Path, *, accel: str | Path | Accelerator, mode: str = "auto",
                         dtype: str = "fp16", amp: bool = True, columns: str | None = None,
                         models: Sequence[str] = (), max_rows: int | None = None,
                         graph_cache: str | Path | None = None, out_hint: Path | None = None, progress=None):
    """Fit a GPU template's coefficients to a table of measured step times (hwmap.calibrate.table)."""
    from hwmap.calibrate.table import calibrate_from_table as fit

    return fit(table, accel=load_accelerator(accel), mode=mode, dtype=dtype, amp=amp, columns=columns,
               models=models, max_rows=max_rows, graph_cache=graph_cache, out_hint=out_hint, progress=progress)


def census(
    patterns: Sequence[str] = (),
    *,
    accels: Sequence[str],
    out: str | Path = "census.csv",
    batch: int = 1,
    resolution: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    time_limit_s: float | None = 300.0,
    progress=None,
):
    """Trace and cost every model the patterns name (timm names or globs, built-ins; none: every timm
    architecture) on accels; one row per model written to out (see hwmap.dse.census). workers: local processes
    (None: all cores, 0: in this process) or scheduler: a Dask scheduler address, not both. time_limit_s: seconds
    per model before it becomes an error row (None or 0: no limit)."""
    from hwmap.dse.census import check_census_settings, resolve_models, run_census

    check_census_settings(accels=accels, batch=batch, resolution=resolution, workers=workers, scheduler=scheduler,
                          time_limit_s=time_limit_s)  # before resolving the patterns, which imports timm
    return run_census(resolve_models(list(patterns)), accels=list(accels), out=out, batch=batch,
                      resolution=resolution, workers=workers, scheduler=scheduler, resume=resume,
                      time_limit_s=time_limit_s or None, progress=progress)


# ---------------------------------------------------------------- GPU: measure and calibrate (need CUDA)


def _cuda_device(device: str) -> str:
    """'auto' -> 'cuda:0' (measure and calibrate need CUDA; without it they say so)."""
    return "cuda:0" if device == "auto" else device


def measure(
    model: str,
    *,
    device: str = "auto",
    batch: int = 1,
    input_shape: InputShape | None = None,
    accel: str | Path | Accelerator | None = None,
    calibration: str | Path | None = None,
    mode: str = "auto",
    dtype: str = "fp16",
    tf32: bool = True,
    reps: int = 50,
    energy_s: float = 2.0,
    module_depth: int = 3,
    progress=None,
):
    """Real latency (median of CUDA-event timings) and energy per inference (NVML) of a model on this machine's
    NVIDIA GPU, next to hwmap's estimate, with GPU time per module (torch.profiler) next to the estimated
    per-layer time (hwmap.calibrate.bench.MeasureResult). device: 'auto' (cuda:0), 'cuda' or 'cuda:N'; without
    CUDA a one-line NoCudaError. accel: the GPU template (None: the one matching the device name); calibration,
    mode, dtype, tf32 as in estimate; module_depth: aggregate modules at this name depth. progress: a
    hwmap.calibrate.bench.Progress (phase/advance/note)."""
    from hwmap.calibrate.bench import measure_model, parse_device, require_cuda

    device = _cuda_device(device)
    parse_device(device)
    _choice("mode", mode, GPU_MODES)
    _check_measured_dtype(dtype)
    if batch < 1:
        raise ParameterError("batch", f"must be a positive integer, got {batch}")
    if reps < 1:
        raise ParameterError("reps", f"must be a positive integer, got {reps}")
    if not energy_s >= 1.0:
        raise ParameterError("energy_s", f"must be at least 1 second, got {energy_s}")
    if module_depth < 1:
        raise ParameterError("module_depth", f"must be a positive integer, got {module_depth}")
    chw = input_shape
    require_cuda(device, command="measure")
    return measure_model(model, device=device, batch=batch, input_chw=tuple(chw) if chw else None, accel=accel,
                         calibration=str(calibration) if calibration is not None else None, mode=mode, dtype=dtype,
                         tf32=tf32, reps=reps, energy_s=energy_s, depth=module_depth, progress=progress)


MEASURED_DTYPES = ("fp16", "bf16", "fp32")


def _check_measured_dtype(dtype: str) -> None:
    _choice("dtype", dtype, GPU_DTYPES)
    if dtype not in MEASURED_DTYPES:
        raise ParameterError("dtype", f"{dtype!r}: measured runs use {', '.join(MEASURED_DTYPES)} (fp8/int8 are "
                                      "estimate-only)")


@dataclass(frozen=True)
class CalibrationResult:
    """calibrate_gpu's answer: the fitted calibration, the file written, seconds taken, what was skipped, and (from a
    table) the table rows used."""

    calibration: Any
    path: Path
    elapsed_s: float
    skipped: tuple[str, ...]
    rows: int | None = None


def calibrate_gpu(
    *,
    device: str = "auto",
    accel: str | Path | Accelerator | None = None,
    out: str | Path | None = None,
    quick: bool = False,
    dtype: str = "fp16",
    tf32: bool = True,
    from_table: str | Path | None = None,
    mode: str = "auto",
    amp: bool = True,
    columns: str | None = None,
    models: Sequence[str] | str = (),
    max_rows: int | None = None,
    graph_cache: str | Path | None = None,
    progress=None,
) -> CalibrationResult:
    """Fit hwmap's GPU model to a GPU and write the calibration YAML that estimate(calibration=...) reads (out;
    default <template>.calibration.yaml in the working folder).

    Without from_table: microbenchmarks per kernel class over the built-in models' layer shapes on this
    machine's GPU (device 'auto' = cuda:0, 'cuda' or 'cuda:N'; without CUDA a one-line NoCudaError), CUDA-event
    timing, NVML energy; quick: fewer shapes, shorter loops. With from_table (a CSV of measured whole-model step
    times, e.g. timm's benchmark-infer-*.csv) and accel (the GPU template it ran on): fit to the table, no GPU
    needed; mode, amp, columns (KEY=COLUMN,...), models (globs, or a comma-separated string), max_rows and
    graph_cache (folder of traced graphs) describe the table.
    """
    from hwmap.hardware.calibration import save_calibration

    _check_measured_dtype(dtype)
    _choice("mode", mode, GPU_MODES)
    if max_rows is not None and max_rows < 1:
        raise ParameterError("max_rows", f"must be a positive integer, got {max_rows}")
    if out is not None and not Path(out).parent.is_dir():
        raise ParameterError("out", f"{out}: folder {Path(out).parent} does not exist")
    if from_table is not None:
        if accel is None:
            raise ParameterError("accel", "is needed with from_table: the GPU template the table was measured on")
        patterns = tuple(p.strip() for p in models.split(",") if p.strip()) if isinstance(models, str) \
            else tuple(models)
        fitted = calibrate_from_table(from_table, accel=accel, mode=mode, dtype=dtype, amp=amp, columns=columns,
                                      models=patterns, max_rows=max_rows, graph_cache=graph_cache,
                                      out_hint=Path(out) if out is not None else None, progress=progress)
        calibration = fitted.calibration
        path = save_calibration(calibration, out or f"{calibration.template_name}.calibration.yaml")
        return CalibrationResult(calibration, path, fitted.elapsed_s, tuple(fitted.skipped), len(fitted.rows))
    from hwmap.calibrate.bench import parse_device, require_cuda, run_calibration

    device = _cuda_device(device)
    parse_device(device)
    require_cuda(device, command="calibrate")
    run = run_calibration(device=device, accel=accel, quick=quick, dtype=dtype, tf32=tf32, progress=progress)
    calibration = run.calibration
    path = save_calibration(calibration, out or f"{calibration.template_name}.calibration.yaml")
    return CalibrationResult(calibration, path, run.elapsed_s, tuple(run.skipped))


# ---------------------------------------------------------------- figures (hwmap.report.plots)


@dataclass(frozen=True)
class Figure:
    """A figure written to path, and what it plots (the numbers, for --json and for checking)."""

    path: Path
    plotted: dict

    def to_dict(self) -> dict:
        return {"written": str(self.path), "plotted": self.plotted}


def _plot_suffix(out: str | Path) -> None:
    if Path(out).suffix.lower() not in (".png", ".svg"):
        raise ParameterError("out", f"{out}: expected a .png or .svg file name")


def plot_shares(model, accel: str | Path | Accelerator, *, out: str | Path, dataflow: str | None = None,
                input_shape: InputShape | None = None, resolution: int | None = None, batch: int = 1,
                num_classes: int | None = None, title: str | None = None, cache: bool = True) -> Figure:
    """Bar chart of the share of MACs, cycles and energy per op group of model on accel (estimate's cost)."""
    from hwmap.report.plots import share_bars

    _plot_suffix(out)
    cost = estimate(model, accel, dataflow=dataflow, input_shape=input_shape, resolution=resolution, batch=batch,
                    num_classes=num_classes, cache=cache)
    written = share_bars(cost, out, title=title)
    shares = {group: values for group, values in cost.shares_by("op-group").items() if any(values.values())}
    return Figure(Path(written), {"model": cost.model, "accelerator": cost.accelerator, "shares_by_op_group": shares})


def plot_layers(model, accel: str | Path | Accelerator, *, out: str | Path, dataflow: str | None = None,
                input_shape: InputShape | None = None, resolution: int | None = None, batch: int = 1,
                num_classes: int | None = None, top: int = 20, title: str | None = None,
                cache: bool = True) -> Figure:
    """The top layers of model on accel by cycles and by energy, by name (the rest summed as 'other'; top=0: all)."""
    from hwmap.report.plots import layer_profile_figure, save_figure

    _plot_suffix(out)
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ParameterError("top", f"must be a whole number of layers >= 0 (0 = all), got {top!r}")
    cost = estimate(model, accel, dataflow=dataflow, input_shape=input_shape, resolution=resolution, batch=batch,
                    num_classes=num_classes, cache=cache)
    fig, panels = layer_profile_figure(cost, top=top, title=title)
    written = save_figure(fig, out)
    return Figure(Path(written), {
        "model": cost.model, "accelerator": cost.accelerator, "energy_mj": float(cost.energy_mj),
        "latency_ms": float(cost.latency_ms),
        "top_layers": {panel.quantity: [{"name": cost.layers.names[i], unit: value}
                                        for i, value in zip(panel.layers, panel.values, strict=True)]
                       + ([{"name": f"other ({panel.other_layers} layers)", unit: panel.other_value}]
                          if panel.other_layers else [])
                       for panel, unit in zip(panels, ("million_cycles", "energy_uj"), strict=True)}})


def plot_bounds(model, accel: str | Path | Accelerator, *, out: str | Path, level: str | None = None,
                layer: str | None = None, dataflow: str | None = None, input_shape: InputShape | None = None,
                resolution: int | None = None, batch: int = 1, num_classes: int | None = None,
                title: str | None = None, cache: bool = True) -> Figure:
    """Log-log curves of the least DRAM traffic against each level's capacity (bounds), whole network: the
    template's capacity and the mapper's traffic marked, the compulsory traffic as a line."""
    from hwmap.report.bounds_plot import traffic_curves

    _plot_suffix(out)
    result = bounds(model, accel, level=level, layer=layer, dataflow=dataflow, input_shape=input_shape,
                    resolution=resolution, batch=batch, num_classes=num_classes, cache=cache)
    written = traffic_curves(result, out, title=title)
    return Figure(Path(written), {"model": result.model, "accelerator": result.accelerator,
                                  "levels": [lb.level for lb in result.levels]})


def plot_frontier(source: str | Path, *, out: str | Path, selection: str | Path | None = None,
                  title: str | None = None) -> Figure:
    """Energy vs accuracy of costed paths (a costed CSV) or of a selection's chosen paths (a selection JSON),
    the selected ones marked (selection: a selection JSON whose paths to mark); paths without an accuracy are
    drawn on a strip below, not dropped."""
    from hwmap.report.plots import accuracy_axis_label, frontier

    _plot_suffix(out)
    template = None
    if str(source).endswith(".json"):
        picked = load_selection(source)
        points = [{"name": p.name, "energy_mj": p.energy_mj, "accuracy": p.accuracy, "metric": None}
                  for p in picked.chosen]
        chosen, template = [p["name"] for p in points], picked.accelerator
    else:
        costed = load_costed_paths(source)
        points = [{"name": c.name, "energy_mj": c.energy_mj,
                   "accuracy": c.accuracy.value if c.accuracy else None,
                   "metric": c.accuracy.metric if c.accuracy else None} for c in costed]
        templates = {c.accelerator for c in costed}
        chosen, template = [], templates.pop() if len(templates) == 1 else None
        if selection:
            picked = load_selection(selection)
            _check_selection_matches(picked, costed, selection=selection, source=source, template=template)
            chosen, template = list(picked.chosen_names), picked.accelerator or template
    label = accuracy_axis_label(p["metric"] for p in points if p["accuracy"] is not None)
    default = (f"energy / accuracy of the execution paths on {template}" if template else
               f"energy / accuracy of the execution paths in {Path(source).name} (template not recorded)")
    written = frontier(points, out, selected=chosen, accuracy_label=label, title=title or default)
    return Figure(Path(written), {"accuracy_axis": label, "selected": chosen, "template": template,
                                  "paths": [{**p, "accuracy_known": p["accuracy"] is not None} for p in points]})


def _check_selection_matches(picked, costed, *, selection: str | Path, source: str | Path,
                             template: str | None) -> None:
    """A selection drawn from the costed paths: on the same template where both name theirs, each chosen path in
    them at the same energy (1e-6 relative, the CSV's 9 digits); else InputFileError naming both files."""
    import math

    from hwmap.errors import InputFileError

    if template and picked.accelerator and template != picked.accelerator:
        raise InputFileError(f"selection {selection} does not match paths CSV {source}: the selection was made on "
                             f"{picked.accelerator}, the CSV's paths are costed on {template}")
    energy_by_name = {c.name: c.energy_mj for c in costed}
    missing = [name for name in picked.chosen_names if name not in energy_by_name]
    if missing:
        raise InputFileError(f"selection {selection} does not match paths CSV {source}: its chosen path(s) "
                             f"{', '.join(map(repr, missing))} are not in the CSV; plot the selection with the "
                             "costed CSV it was made from")
    for point in picked.chosen:
        if not math.isclose(point.energy_mj, energy_by_name[point.name], rel_tol=1e-6, abs_tol=1e-12):
            raise InputFileError(f"selection {selection} does not match paths CSV {source}: path {point.name!r} "
                                 f"costs {point.energy_mj:.6g} mJ in the selection and "
                                 f"{energy_by_name[point.name]:.6g} mJ in the CSV (costed on another template?)")


def plot_pareto(results, *, out: str | Path, x: str = "energy_mj", y: str = "latency_ms",
                colour: str | None = "area_mm2", model: str | None = None, title: str | None = None) -> Figure:
    """Design points of a sweep results table (a .csv/.parquet/.json file or a DataFrame) with the Pareto front
    over x and y (result columns), one panel and one front per model (model: only that model's rows)."""
    import json

    import numpy as np
    import pandas as pd

    from hwmap.report.plots import column_label, pareto_panels

    _plot_suffix(out)
    name = "results" if isinstance(results, pd.DataFrame) else str(results)
    frame = (results if isinstance(results, pd.DataFrame) else _read_results(str(results))).reset_index(drop=True)
    if model is not None:
        if "model" not in frame.columns or model not in set(frame["model"]):
            models = sorted(set(frame["model"])) if "model" in frame.columns else []
            raise ParameterError("model", f"{model!r}: not in {name} (models: {', '.join(map(str, models)) or 'none'})")
        frame = frame[frame["model"] == model]
    for column in (x, y) + ((colour,) if colour else ()):
        if column not in frame.columns:
            raise HwmapError(f"{name}: no column {column!r}; columns are {', '.join(map(str, frame.columns))}")
    for column in (x, y):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & numbers.isna()
        if bad.any():
            raise HwmapError(f"{name}: column {column!r} holds {frame[column][bad].iloc[0]!r}, which is not a "
                             "number")
        frame = frame.assign(**{column: numbers})
    frame = frame.dropna(subset=[x, y])
    frame = frame[np.isfinite(frame[x]) & np.isfinite(frame[y])]
    if frame.empty:
        raise HwmapError(f"{name}: no rows with finite {x} and {y} to plot")
    if colour and pd.to_numeric(frame[colour], errors="coerce").isna().all():
        colour = None  # e.g. area_mm2 of templates without an area section (hierarchy kinds): grey points, no scale
    front = pareto(frame, [x, y], by="model")
    panels = pareto_panels(frame, front, out, x=x, y=y, colour=colour, title=title)
    return Figure(Path(out), {
        "x": {"column": x, "label": column_label(x)}, "y": {"column": y, "label": column_label(y)},
        "models": [{"model": p.model, "template": p.template or None, "points": p.points,
                    "front_points": len(p.front),
                    "front": json.loads(front[front["model"] == p.model].to_json(orient="records"))
                    if p.model else json.loads(front.to_json(orient="records"))} for p in panels]})


def _read_results(path: str):
    import pandas as pd

    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(path)
        if path.endswith(".json"):
            return pd.read_json(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise HwmapError(f"{path}: cannot read the results table ({exc})") from None


# Every public function checks its arguments like the CLI before any work (hwmap.api_checks: one rule per keyword).
from hwmap.api_checks import check_public_functions  # noqa: E402 - wraps the functions defined above

check_public_functions(globals(), __all__)
