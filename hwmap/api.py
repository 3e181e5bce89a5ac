"""The Python API. Everything the CLI does goes through these functions; torch is imported only to build models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError
from hwmap.graph.io import load_graph, save_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.summary import BreakdownKey, FlopsSummary, summarise

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from hwmap.cost.result import GraphCost
    from hwmap.dse.space import DesignSpace
    from hwmap.dse.sweep import SweepResult
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "DesignSpace", "calibrate_from_table", "census", "census_models", "check_cost", "clear_graph_cache",
    "compare_counters", "cost_paths", "estimate", "evaluate_paths", "export_zigzag_hardware", "export_zigzag_workload",
    "extract_graph", "flops", "generate_paths", "graph_cache_info", "list_accelerators", "list_models",
    "load_accelerator", "load_costed_paths", "load_graph", "load_paths", "load_selection", "load_space", "pareto",
    "save_graph", "select_paths", "simulate", "sweep",
]


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
    file or a SCALE-Sim topology .csv (hwmap.graph.extract and hwmap.interop.inputs do the work).
    input_shape (C, H, W) or resolution (square, model's channels) override the model's default input.
    A module with real weights is traced on CPU tensors (real arithmetic); specs are built on the meta device.
    cache: a spec's graph is read from / written to the graph cache (hwmap.graph.cache: keyed by spec, input,
    batch, num_classes, strict and package versions; a hit imports neither torch nor timm); False always traces.
    """
    from hwmap.interop.inputs import model_graph

    return model_graph(model, input_shape=input_shape, resolution=resolution, batch=batch, num_classes=num_classes,
                       example_inputs=example_inputs, strict=strict, name=name, cache=cache)


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
    """A shipped template by name, a template YAML file, or a SCALE-Sim .cfg file (energy defaults added); an
    Accelerator is returned as is. A template file is read strictly: binary or non-UTF-8 text, absurd nesting,
    duplicate or unknown keys are one TemplateError naming the file (and the field)."""
    from hwmap.interop.inputs import read_accelerator

    return read_accelerator(accel)


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
    cache: as in extract_graph.
    """
    from hwmap.cost.dispatch import estimate_graph

    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict, cache=cache)
    cost = estimate_graph(graph, load_accelerator(accel), dataflow=dataflow, mapping=mapping, objective=objective,
                          fusion=fusion)
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
    """A selection JSON written by select-paths --out, validated field by field, as a hwmap.select.SelectionResult
    (.selection, .reference, .budget_unit, .chosen_names, ...)."""
    from hwmap.select.readers import read_selection

    return read_selection(path)


def graph_cache_info():
    """The graph cache's folder and entries (hwmap.graph.cache.CacheInfo: .folder, .entries, .size_bytes)."""
    from hwmap.graph.cache import cache_info

    return cache_info()


def clear_graph_cache():
    """Delete every cached graph; returns the CacheInfo of what was removed."""
    from hwmap.graph.cache import clear_cache

    return clear_cache()


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


def cost_paths(paths, accel: str | Path | Accelerator, *, dataflow: str | None = None,
               progress: Callable[[int, int], None] | None = None):
    """Energy, latency, weights and accuracy of every path on accel (list of CostedPath); paths is a PathSet or a
    paths YAML. progress(done, total) is called after each path. Every number is checked finite and >= 0."""
    from hwmap.paths.costing import cost_paths as run
    from hwmap.paths.model import PathSet

    path_set = paths if isinstance(paths, PathSet) else load_paths(paths)
    accelerator = load_accelerator(accel)
    total, done = len(path_set.paths), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    costed = run(path_set, accelerator, dataflow=dataflow, progress=tick)
    check_costed_paths(costed, accelerator=accelerator.name)
    return costed


def select_paths(
    paths,
    *,
    accel: str | Path | Accelerator | None = None,
    dataflow: str | None = None,
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
):
    """Choose the execution paths to deploy and the path to run at each budget (ILP; semantics in
    hwmap.select.problem, the pipeline in hwmap.select.pipeline). Returns a hwmap.select.SelectionResult:
    .selection (chosen, table, expected values), .dropped (paths left out for want of an accuracy), .reference
    and .reference_value, .rows() (the budget -> path table) and .to_dict() (the selection JSON).

    paths: costed paths (CostedPath list from cost_paths / load_costed_paths, PathPoints or mappings), a costed
    CSV, or a paths YAML / PathSet costed on accel (with dataflow). budgets: text such as '0.5,0.8' (fractions of
    the reference), '20mJ,30mJ', '5ms', '0.5:1.0:0.05', '10mJ:30mJ:5mJ', or a list of numbers (fractions) or
    texts; or budget_trace: a trace CSV declaring its unit, or a BudgetTrace. The unit fixes the metric (metric
    must agree; fractions: metric, default 'energy'). reference: the path fractions are fractions of and savings
    are measured against (default: the most expensive path on the metric). budget_weights: one weight per budget.
    goal: 'accuracy' or 'frontier' (with target_frontier: a CSV energy_mj,accuracy[,weight] or (energy_mj,
    accuracy) points). extra_path_penalty: accuracy points per kept path beyond the first. out: also write the
    selection JSON there (read back by load_selection, replayed by simulate). progress(done, total) while costing.
    """
    from hwmap.fileio import atomic_write_text
    from hwmap.paths.model import PathSet
    from hwmap.select.pipeline import check_budgets, run_selection

    if out is not None and not Path(out).parent.is_dir():
        raise HwmapError(f"out {out}: folder {Path(out).parent} does not exist")
    check_budgets(budgets=budgets, budget_trace=budget_trace, metric=metric)  # before paths are costed
    paths_file = accelerator = None
    if isinstance(paths, (str, Path)) and str(paths).endswith(".csv"):
        if accel is not None:
            raise HwmapError(f"paths {paths} is already costed; accel applies to a paths YAML")
        paths_file, costed = str(paths), load_costed_paths(paths)
    elif isinstance(paths, (str, Path, PathSet)):
        if accel is None:
            raise HwmapError(f"paths {paths if not isinstance(paths, PathSet) else 'PathSet'}: paths need accel to "
                             "be costed (or pass costed paths / a costed CSV)")
        paths_file = None if isinstance(paths, PathSet) else str(paths)
        accelerator_obj = load_accelerator(accel)
        accelerator = accelerator_obj.name
        costed = cost_paths(paths, accelerator_obj, dataflow=dataflow, progress=progress)
    else:
        if accel is not None or dataflow is not None:
            raise HwmapError("accel and dataflow apply to a paths YAML or PathSet; these paths are already costed")
        costed = list(paths)
    result = run_selection(
        costed, budgets=budgets, budget_trace=budget_trace, metric=metric, reference=reference,
        budget_weights=budget_weights, max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy,
        extra_path_penalty=extra_path_penalty, goal=goal, target_frontier=target_frontier,
        drop_unknown=drop_unknown, paths_file=paths_file, accelerator=accelerator)
    if out is not None:
        import json

        atomic_write_text(out, json.dumps(result.to_dict(), indent=2, allow_nan=False))
    return result


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

    space: the space's YAML file (str or Path), a dict of the YAML's content or a DesignSpace (see load_space).
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
