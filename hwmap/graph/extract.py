"""hwmap's own model forms as front ends (hwmap.graph.frontends): a LayerGraph, a saved graph .json and an
nn.Module (model names are registered in hwmap.graph.sources), and extract_graph, the keyword entry for library
code in this layer and the ones it serves (calibrate); hwmap.api and hwmap.interop.inputs take a GraphSpec.
torch is imported only when a model has to be traced.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.frontends import read_graph, register_front_end
from hwmap.graph.io import load_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.spec import GraphSpec, graph_spec
from hwmap.limits import MAX_REAL_INPUT_ELEMENTS, check_graph_size

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["extract_graph", "is_saved_graph"]


def is_saved_graph(model: object) -> bool:
    """A saved graph .json path (an 'hf:<folder>.json' spec is a Hugging Face model, not a saved graph)."""
    return isinstance(model, str | Path) and str(model).endswith(".json") and not str(model).startswith("hf:")


def extract_graph(model: str | Path | LayerGraph | torch.nn.Module, **graph_keywords: Any) -> LayerGraph:
    """The layer graph of a model in any registered form. The keywords are graph_spec's (hwmap.graph.spec: the
    graph parameters of hwmap.api.extract_graph, written there once), checked once into a GraphSpec; errors name
    the API parameters."""
    return read_graph(graph_spec(model, **graph_keywords))


@register_front_end("layer-graph", route="", order=90, matches=lambda model: isinstance(model, LayerGraph))
def _read_layer_graph(spec: GraphSpec) -> LayerGraph:
    return spec.model


@register_front_end("saved-graph", route="a saved graph (.json from `hwmap graph --out`)", order=70,
                    matches=is_saved_graph)
def _read_saved_graph(spec: GraphSpec) -> LayerGraph:
    if spec.sets_input:
        raise HwmapError(f"{spec.model} is a saved graph with fixed shapes: input_shape, resolution, batch and "
                         "num_classes do not apply; extract a new graph from the model instead")
    return load_graph(spec.model)


@register_front_end("nn-module", order=80,
                    route="an nn.Module in Python (hwmap.api.estimate(module, accel, input_shape=(3, 224, 224)))",
                    matches=lambda model: not isinstance(model, str | Path | LayerGraph))
def _read_module(spec: GraphSpec) -> LayerGraph:
    import torch

    from hwmap.graph.capture import capture

    module = spec.model
    if not isinstance(module, torch.nn.Module):
        raise HwmapError(f"model must be a spec string, a graph .json, a LayerGraph or an nn.Module, "
                         f"got {type(module).__name__}")
    example_inputs = spec.example_inputs
    if example_inputs is None:
        example_inputs = _example_input(module, spec)
    inputs = list(example_inputs) if isinstance(example_inputs, list | tuple) else [example_inputs]
    name = spec.name or type(module).__name__
    graph = capture(module, inputs, name=name, strict=spec.strict, meta={"source": "nn.Module"})
    check_graph_size(len(graph.nodes), graph.total_macs, name=name)
    return graph


def _example_input(module, spec: GraphSpec):
    """A tensor of the input size the spec gives: on the meta device for a module on it, else random numbers (the
    module runs them: bounded by MAX_REAL_INPUT_ELEMENTS)."""
    import torch

    if spec.input_chw is None:
        raise HwmapError("an nn.Module needs example_inputs or input_shape=(C, H, W)")
    on_meta = any(p.is_meta for p in module.parameters())
    shape = (spec.batch, *spec.input_chw)
    elements = shape[0] * shape[1] * shape[2] * shape[3]
    if not on_meta and elements > MAX_REAL_INPUT_ELEMENTS:
        raise ParameterError("input_shape", f"x batch is {elements:,} input elements, more than the "
                             f"{MAX_REAL_INPUT_ELEMENTS:,} a module with real weights is run on (real arithmetic "
                             "on the CPU); move the module to the meta device to trace larger inputs")
    return torch.empty(shape, device="meta") if on_meta else torch.randn(shape)
