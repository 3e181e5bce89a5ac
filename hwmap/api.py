"""The Python API. Everything the CLI does goes through these functions; torch is imported only to build models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError
from hwmap.graph.io import load_graph, save_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.sources import is_onnx_path
from hwmap.graph.summary import BreakdownKey, FlopsSummary, summarise

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from hwmap.cost.result import GraphCost
    from hwmap.graph.cache import CacheInfo
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "cache_info", "calibrate_from_table", "census", "census_models", "check_cost", "clear_cache", "compare_counters",
    "cost_paths", "estimate", "evaluate_paths", "export_zigzag_hardware", "export_zigzag_workload", "extract_graph",
    "flops", "generate_paths", "list_accelerators", "list_models", "load_accelerator", "load_costed_paths",
    "load_graph", "load_paths", "load_selection", "pareto", "save_graph", "select_paths", "simulate", "sweep",
]


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
    a saved graph .json, a LayerGraph, or an nn.Module (with example_inputs, or input_shape (C, H, W)).
    input_shape (C, H, W) or resolution (square, model's channels) override the model's default input.
    A module with real weights is traced on CPU tensors (real arithmetic); specs are built on the meta device.
    cache: a spec's graph is read from / written to the graph cache (hwmap.graph.cache: keyed by spec, input,
    batch, num_classes, strict and package versions; a hit imports neither torch nor timm); False always traces.
    """
    if batch < 1:
        raise HwmapError(f"--batch must be a positive integer, got {batch}")
    if isinstance(model, LayerGraph):
        return model
    if isinstance(model, (str, Path)) and str(model).endswith(".csv"):
        from hwmap.cost.scalesim_interop import topology_graph

        return topology_graph(model)
    if is_onnx_path(model):
        from hwmap.interop.onnx import onnx_graph

        if num_classes:
            raise HwmapError(f"{model} is an ONNX model with a fixed classifier: --num-classes does not apply")
        return onnx_graph(model, input_shape=input_shape, resolution=resolution, batch=batch, strict=strict)
    if isinstance(model, (str, Path)) and str(model).endswith(".json") and not str(model).startswith("hf:"):
        if input_shape or resolution or batch != 1 or num_classes:
            raise HwmapError(f"{model} is a saved graph with fixed shapes: --input, --resolution, --batch and "
                             "--num-classes do not apply; extract a new graph from the model instead")
        return load_graph(model)
    if isinstance(model, (str, Path)):
        return _extract_from_spec(str(model), input_shape=input_shape, resolution=resolution, batch=batch,
                                  num_classes=num_classes, strict=strict, cache=cache)
    return _extract_from_module(model, input_shape=input_shape, batch=batch, example_inputs=example_inputs,
                                strict=strict, name=name)


def _input_chw(default: tuple[int, int, int], input_shape, resolution) -> tuple[int, int, int]:
    if input_shape is not None and resolution is not None:
        raise HwmapError("give --input or --resolution, not both")
    if input_shape is not None:
        if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
            raise HwmapError(f"--input must be C x H x W with positive sizes, got {tuple(input_shape)}")
        return tuple(int(d) for d in input_shape)
    if resolution is not None:
        if resolution < 1:
            raise HwmapError(f"--resolution must be a positive integer, got {resolution}")
        return (default[0], resolution, resolution)
    return default


def _extract_from_spec(spec, *, input_shape, resolution, batch, num_classes, strict, cache) -> LayerGraph:
    from hwmap.graph import cache as graph_cache

    key = graph_cache.graph_key(spec, input_shape=input_shape, resolution=resolution, batch=batch,
                                num_classes=num_classes, strict=strict) if cache else None
    if key is not None and (hit := graph_cache.load_cached(key)) is not None:
        return hit
    graph = _trace_spec(spec, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                        strict=strict)
    if key is not None:
        graph_cache.store(key, graph)
    return graph


def _trace_spec(spec, *, input_shape, resolution, batch, num_classes, strict) -> LayerGraph:
    from hwmap.graph.capture import capture, meta_inputs
    from hwmap.graph.sources import build_model

    built = build_model(spec, num_classes=num_classes)
    chw = _input_chw(built.default_input_chw, input_shape, resolution)
    meta = {"spec": spec, **built.meta}
    return capture(built.module, meta_inputs([(batch, *chw)]), name=built.name, strict=strict, meta=meta)


def _extract_from_module(module, *, input_shape, batch, example_inputs, strict, name) -> LayerGraph:
    import torch

    from hwmap.graph.capture import capture

    if not isinstance(module, torch.nn.Module):
        raise HwmapError(f"model must be a spec string, a graph .json, a LayerGraph or an nn.Module, "
                         f"got {type(module).__name__}")
    if example_inputs is None:
        if input_shape is None:
            raise HwmapError("an nn.Module needs example_inputs or input_shape=(C, H, W)")
        on_meta = any(p.is_meta for p in module.parameters())
        shape = (batch, *_input_chw((3, 224, 224), input_shape, None))
        example_inputs = torch.empty(shape, device="meta") if on_meta else torch.randn(shape)
    inputs = list(example_inputs) if isinstance(example_inputs, (list, tuple)) else [example_inputs]
    return capture(module, inputs, name=name or type(module).__name__, strict=strict,
                   meta={"source": "nn.Module"})


def flops(
    model: str | Path | LayerGraph | torch.nn.Module,
    *,
    input_shape: Sequence[int] | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    by: BreakdownKey = "op-class",
    linear_as_conv: bool = False,
    top: int | None = None,
    module_depth: int | None = None,
    cache: bool = True,
) -> FlopsSummary:
    """Total MACs, params, bytes and the MAC breakdown of a model (model forms and cache as in extract_graph)."""
    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict, cache=cache)
    return summarise(graph, by=by, linear_as_conv=linear_as_conv, top=top, module_depth=module_depth)


def compare_counters(model: str, *, graph: LayerGraph | None = None, num_classes: int | None = None):
    """hwmap's MAC count of a model spec beside torch's FlopCounterMode and fvcore's, by op family
    (hwmap.graph.compare.CounterComparison). graph: the spec's already extracted graph (its input shapes are
    used); extracted at the default input when omitted."""
    from hwmap.graph.compare import compare_counters as compare

    if model.endswith(".json"):
        raise HwmapError(f"model {model}: a saved graph cannot be compared; the other counters must run the model, "
                         "so give a model spec")
    if graph is None:
        graph = extract_graph(model, num_classes=num_classes)
    return compare(model, graph, num_classes=num_classes)


def list_models() -> dict[str, list[str]]:
    """Built-in model names by family (timm and torchvision names come from the installed packages)."""
    from hwmap.graph.sources import OFA_EXAMPLE, SEGFORMER_VARIANTS, timm_and_torchvision_names

    timm_names, tv_names = timm_and_torchvision_names()
    return {
        "segformer": list(SEGFORMER_VARIANTS),
        "ofa": [OFA_EXAMPLE],
        "timm": timm_names,
        "torchvision": [f"tv:{n}" for n in tv_names],
    }


def load_accelerator(accel: str | Path | Accelerator) -> Accelerator:
    """A shipped template by name, a template YAML file, or a SCALE-Sim .cfg file (energy defaults added)."""
    from hwmap.hardware.loader import load_accelerator as load_template
    from hwmap.hardware.schema import Accelerator

    if isinstance(accel, Accelerator):
        return accel
    if str(accel).endswith(".cfg"):
        from hwmap.cost.scalesim_interop import config_accelerator

        return config_accelerator(accel)
    if str(accel).endswith((".yaml", ".yml")) and Path(accel).is_file():
        # Read strictly here first: binary / non-UTF-8 text and absurd nesting (which crashes PyYAML's C parser)
        # are one line naming the file before the template loader sees it.
        from hwmap.errors import TemplateError
        from hwmap.fileio import check_nesting, read_text_input

        check_nesting(read_text_input(accel, what="template", error=TemplateError), origin=f"template {accel}",
                      error=TemplateError)
    return load_template(accel)


def list_accelerators() -> list[str]:
    from hwmap.hardware.catalog import list_accelerators as names

    return names()


def estimate(
    model: str | Path | LayerGraph | torch.nn.Module,
    accel: str | Path | Accelerator,
    *,
    dataflow: str | None = None,
    input_shape: Sequence[int] | None = None,
    resolution: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    strict: bool = False,
    mapping: str = "best",
    objective: str = "energy",
    fusion: str | None = None,
    cache: bool = True,
) -> GraphCost:
    """Cycles, latency, energy terms and utilisation of every layer of model on accel.

    model: anything extract_graph takes, or a SCALE-Sim topology .csv; accel: a template name, a template
    .yaml, a SCALE-Sim .cfg or an Accelerator. dataflow ('ws', 'os', 'is') overrides a systolic template's.
    mapping: 'best' (each layer's loop order and tiles chosen by hwmap.cost.mapping for objective 'energy',
    'latency' or 'edp') or 'scalesim' (systolic templates: SCALE-Sim's fold order and DRAM counts).
    fusion: 'epilogue' (None: the default for accelerator templates; BN folded, activations/adds on chip) or
    'none'; GPU templates take fusion from their execution mode.
    cache: the graph as in extract_graph, and each layer's mapping from / to the mapping cache
    (hwmap.cost.mapping_cache; the same result, without searching the mappings again); False reads and writes neither.
    """
    from hwmap.cost.dispatch import estimate_graph

    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict, cache=cache)
    cost = estimate_graph(graph, load_accelerator(accel), dataflow=dataflow, mapping=mapping, objective=objective,
                          fusion=fusion, cache=cache)
    check_cost(cost)
    return cost


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
    """A selection JSON written by select-paths --out, validated field by field (hwmap.select.problem.Selection)."""
    from hwmap.select.readers import read_selection

    return read_selection(path)


def cache_info() -> dict[str, CacheInfo]:
    """hwmap's on-disk caches by name: "graphs" (traced layer graphs, hwmap.graph.cache) and "mappings" (the mapper's
    choices, hwmap.cost.mapping_cache); each a CacheInfo (.folder, .entries, .size_bytes, .to_dict())."""
    from hwmap.cost.mapping_cache import mapping_cache_info
    from hwmap.graph.cache import cache_info as graph_cache_info

    return {"graphs": graph_cache_info(), "mappings": mapping_cache_info()}


def clear_cache() -> dict[str, CacheInfo]:
    """Delete every entry of both caches; returns what was removed, by cache name as in cache_info()."""
    from hwmap.cost.mapping_cache import clear_mapping_cache
    from hwmap.graph.cache import clear_cache as clear_graphs

    return {"graphs": clear_graphs(), "mappings": clear_mapping_cache()}


def export_zigzag_workload(graph: LayerGraph, path: str | Path, *,
                           accel: str | Path | Accelerator | None = None):
    """Write ZigZag 3.9.1's workload YAML for every conv/GEMM of graph (hwmap.interop.zigzag.ZigzagExport).

    accel: take the operand bits from this template; without it they come from the graph's dtypes.
    """
    from hwmap.interop.zigzag import write_zigzag_workload, zigzag_hardware_view

    if accel is None:
        return write_zigzag_workload(graph, path)
    hw = zigzag_hardware_view(load_accelerator(accel))
    return write_zigzag_workload(graph, path, input_bits=hw.input_bits, weight_bits=hw.weight_bits,
                                 output_bits=hw.output_bits)


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
    skip_last: int = 0,
    skip_blocks: Sequence[str] = (),
    drop_decoder: bool = False,
    resolutions: Sequence[int] = (),
    variants: Sequence[str] = (),
    num_classes: int | None = None,
):
    """Candidate execution paths of a model (see hwmap.paths.generate); 'ofa-resnet50-published' gives the eight
    published OFA ResNet-50 subnets with their published top-1."""
    from hwmap.paths.generate import generate_paths as generate
    from hwmap.paths.generate import ofa_published_paths

    if model == "ofa-resnet50-published":
        return ofa_published_paths()
    return generate(model, skip_last=skip_last, skip_blocks=tuple(skip_blocks), drop_decoder=drop_decoder,
                    resolutions=tuple(resolutions), variants=tuple(variants), num_classes=num_classes)


def evaluate_paths(
    paths,
    *,
    data: str | Path,
    weights: str | Path | None = None,
    weights_for: Mapping[str, str | Path] | Sequence[str] = (),
    task: str = "auto",
    batch_size: int = 32,
    device: str = "cpu",
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

    data: DIR/<class>/<images> (classification) or DIR/images + DIR/masks (segmentation). weights: the paths
    file's model's weights; weights_for: other models' weights ({model: file} or 'MODEL=FILE' strings).
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
        raise HwmapError("normalize=False and mean/std contradict each other; give one")
    normalisation = Normalisation(tuple(mean) if mean is not None else IMAGENET_NORMALISATION.mean,
                                  tuple(std) if std is not None else IMAGENET_NORMALISATION.std) if normalize else None
    if out is not None and not Path(out).parent.is_dir():
        raise HwmapError(f"out {out}: folder {Path(out).parent} does not exist")
    path_set = paths if isinstance(paths, PathSet) else read_paths(paths)
    if isinstance(weights_for, Mapping):
        weights_for = [f"{model}={file}" for model, file in weights_for.items()]
    files = weights_by_model(path_set, weights=str(weights) if weights is not None else None,
                             weights_for=tuple(weights_for))
    if class_map is not None:
        class_map = class_map_from_dict(class_map) if isinstance(class_map, Mapping) else load_class_map(class_map)
    measured = measure_paths(path_set, data_dir=data, weights=files, task=task, batch_size=batch_size,
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


def cost_paths(paths, accel: str | Path | Accelerator, *, dataflow: str | None = None):
    """Energy, latency, weights and accuracy of every path on accel (list of CostedPath)."""
    from hwmap.paths.costing import cost_paths as run

    return run(paths, load_accelerator(accel), dataflow=dataflow)


def select_paths(
    costed,
    *,
    budgets: Sequence[float],
    relative: bool = True,
    metric: str = "energy",
    weights: Sequence[float] | None = None,
    max_paths: int | None = None,
    memory_mb: float | None = None,
    min_accuracy: float | None = None,
    drop_unknown: bool = False,
):
    """The ILP selection over costed paths (semantics in hwmap.select.problem). Budgets are fractions of the most
    expensive path unless relative=False."""
    from hwmap.paths.costing import path_points
    from hwmap.select import select_paths as solve
    from hwmap.select.budgets import make_levels, resolve_budgets

    points, _dropped = path_points(list(costed), drop_unknown=drop_unknown)
    values = resolve_budgets(list(budgets), paths=points, metric=metric, relative=relative)
    levels = make_levels(values, metric=metric, weights=list(weights) if weights is not None else None)
    return solve(points, levels, max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy)


def simulate(selection, trace: Sequence[float], *, switch_energy_mj: float = 0.0):
    """Replay a selection's switching policy over a budget trace (budgets in the selection's unit)."""
    from hwmap.select import simulate as run

    return run(selection, list(trace), switch_energy_mj=switch_energy_mj)


def sweep(space, *, workers: int | None = None, scheduler: str | None = None, journal: str | Path | None = None,
          resume: bool = False):
    """Evaluate every point of a design space (a DesignSpace or its YAML file) through the same cost functions as
    estimate: on local processes, or on a Dask cluster when scheduler ('tcp://host:8786') is given. With a
    journal file, finished chunks are kept and resume=True skips them. Returns a SweepResult (.table, .pareto())."""
    from hwmap.dse.sweep import dask_executor
    from hwmap.dse.sweep import sweep as run

    resume_from = journal if resume else None
    if scheduler is None:
        return run(space, workers=workers, journal=journal, resume_from=resume_from)
    with dask_executor(scheduler) as executor:
        return run(space, executor=executor, journal=journal, resume_from=resume_from)


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
    out: str | Path,
    batch: int = 1,
    resolution: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    time_limit_s: float | None = 300.0,
    progress=None,
):
    """Trace and cost every model the patterns name (timm names or globs, built-ins; none: every timm
    architecture) on accels; one row per model written to out (see hwmap.dse.census)."""
    from hwmap.dse.census import resolve_models, run_census

    return run_census(resolve_models(list(patterns)), accels=list(accels), out=out, batch=batch,
                      resolution=resolution, workers=workers, scheduler=scheduler, resume=resume,
                      time_limit_s=time_limit_s, progress=progress)
