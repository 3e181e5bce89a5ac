"""The layer graph of a model in hwmap's own forms: a spec (built on the meta device and traced), a saved graph
.json, a LayerGraph, or an nn.Module. Library code (dse, calibrate) calls this; hwmap.api.extract_graph adds the
other tools' formats (ONNX, SCALE-Sim topologies, through hwmap.interop.inputs) and documents the parameters.
torch is imported only when a model has to be traced.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.io import load_graph
from hwmap.graph.ir import LayerGraph
from hwmap.limits import (
    MAX_BATCH,
    MAX_REAL_INPUT_ELEMENTS,
    MAX_RESOLUTION,
    check_graph_size,
    check_input_chw,
    check_size,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["extract_graph", "input_chw", "is_saved_graph"]


def is_saved_graph(model: object) -> bool:
    """A saved graph .json path (an 'hf:<folder>.json' spec is a Hugging Face model, not a saved graph)."""
    return isinstance(model, str | Path) and str(model).endswith(".json") and not str(model).startswith("hf:")


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
    """The layer graph of a spec, a saved graph .json, a LayerGraph or an nn.Module (see hwmap.api.extract_graph
    for the parameters); errors name the API parameters."""
    check_size(batch, name="batch", limit=MAX_BATCH)
    if isinstance(model, LayerGraph):
        return model
    if is_saved_graph(model):
        if input_shape or resolution or batch != 1 or num_classes:
            raise HwmapError(f"{model} is a saved graph with fixed shapes: input_shape, resolution, batch and "
                             "num_classes do not apply; extract a new graph from the model instead")
        return load_graph(model)
    if isinstance(model, str | Path):
        return _extract_from_spec(str(model), input_shape=input_shape, resolution=resolution, batch=batch,
                                  num_classes=num_classes, strict=strict, cache=cache)
    return _extract_from_module(model, input_shape=input_shape, batch=batch, example_inputs=example_inputs,
                                strict=strict, name=name)


def input_chw(default: tuple[int, int, int], input_shape: Sequence[int] | None,
              resolution: int | None) -> tuple[int, int, int]:
    """The (C, H, W) a model is traced at: input_shape, or the default's channels at resolution x resolution, or
    the default."""
    if input_shape is not None and resolution is not None:
        raise HwmapError("give input_shape or resolution, not both")
    if input_shape is not None:
        return check_input_chw(input_shape)
    if resolution is not None:
        size = check_size(resolution, name="resolution", limit=MAX_RESOLUTION)
        return (default[0], size, size)
    return default


def _extract_from_spec(spec: str, *, input_shape, resolution, batch, num_classes, strict, cache) -> LayerGraph:
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


def _trace_spec(spec: str, *, input_shape, resolution, batch, num_classes, strict) -> LayerGraph:
    from hwmap.graph.capture import capture, meta_inputs
    from hwmap.graph.sources import build_model

    built = build_model(spec, num_classes=num_classes)
    chw = input_chw(built.default_input_chw, input_shape, resolution)
    meta = {"spec": spec, **built.meta}
    graph = capture(built.module, meta_inputs([(batch, *chw)]), name=built.name, strict=strict, meta=meta)
    check_graph_size(len(graph.nodes), graph.total_macs, name=spec)
    return graph


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
        shape = (batch, *input_chw((3, 224, 224), input_shape, None))
        elements = batch * shape[1] * shape[2] * shape[3]
        if not on_meta and elements > MAX_REAL_INPUT_ELEMENTS:
            raise ParameterError("input_shape", f"x batch is {elements:,} input elements, more than the "
                                 f"{MAX_REAL_INPUT_ELEMENTS:,} a module with real weights is run on (real arithmetic "
                                 "on the CPU); move the module to the meta device to trace larger inputs")
        example_inputs = torch.empty(shape, device="meta") if on_meta else torch.randn(shape)
    inputs = list(example_inputs) if isinstance(example_inputs, list | tuple) else [example_inputs]
    graph = capture(module, inputs, name=name or type(module).__name__, strict=strict, meta={"source": "nn.Module"})
    check_graph_size(len(graph.nodes), graph.total_macs, name=name or type(module).__name__)
    return graph
