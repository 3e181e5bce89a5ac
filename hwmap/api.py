"""The Python API. Everything the CLI does goes through these functions; torch is imported only to build models."""

from __future__ import annotations

from collections.abc import Sequence
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
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "census", "cost_paths", "estimate", "extract_graph", "flops", "generate_paths", "list_accelerators", "list_models",
    "load_accelerator", "load_graph", "load_paths", "save_graph", "select_paths", "simulate", "sweep",
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
) -> LayerGraph:
    """The layer graph of a model.

    model: a spec ('resnet50', 'tv:resnet18', 'segformer-b2', 'hf:<folder>', 'ofa-resnet50:d=..;e=..;w=..'),
    a saved graph .json, a LayerGraph, or an nn.Module (with example_inputs, or input_shape (C, H, W)).
    input_shape (C, H, W) or resolution (square, model's channels) override the model's default input.
    A module with real weights is traced on CPU tensors (real arithmetic); specs are built on the meta device.
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
                                  num_classes=num_classes, strict=strict)
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


def _extract_from_spec(spec, *, input_shape, resolution, batch, num_classes, strict) -> LayerGraph:
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
) -> FlopsSummary:
    """Total MACs, params, bytes and the MAC breakdown of a model (model forms as in extract_graph)."""
    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict)
    return summarise(graph, by=by, linear_as_conv=linear_as_conv, top=top, module_depth=module_depth)


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
) -> GraphCost:
    """Cycles, latency, energy terms and utilisation of every layer of model on accel.

    model: anything extract_graph takes, or a SCALE-Sim topology .csv; accel: a template name, a template
    .yaml, a SCALE-Sim .cfg or an Accelerator. dataflow ('ws', 'os', 'is') overrides a systolic template's.
    """
    from hwmap.cost.dispatch import estimate_graph

    graph = extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                          num_classes=num_classes, strict=strict)
    return estimate_graph(graph, load_accelerator(accel), dataflow=dataflow)


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
