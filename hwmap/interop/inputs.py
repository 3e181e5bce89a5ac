"""Models and accelerators in every form hwmap reads: its own (names, saved graphs, nn.Modules, templates) and
other tools' (ONNX files, SCALE-Sim topology .csv and .cfg). hwmap.api.extract_graph / load_accelerator and the
dse layer (sweep and census workloads) call these, so library code never imports hwmap.api.
A model is read by its front end (hwmap.graph.frontends); this module loads the front ends of other tools'
formats (hwmap.interop.frontends) first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.graph import frontends
from hwmap.graph.ir import LayerGraph
from hwmap.graph.spec import GraphSpec, graph_spec
from hwmap.interop.frontends import load as load_front_ends

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from hwmap.hardware.schema import Accelerator

__all__ = ["model_graph", "read_accelerator", "read_graph"]


def read_graph(spec: GraphSpec) -> LayerGraph:
    """The layer graph of spec.model in any registered form, the spec taken as is (hwmap.api builds it from its
    checked keywords)."""
    load_front_ends()
    return frontends.read_graph(spec)


def model_graph(model: str | Path | LayerGraph | torch.nn.Module, **graph_keywords: Any) -> LayerGraph:
    """read_graph for library callers with raw keywords (the dse layer): the keywords are graph_spec's
    (hwmap.graph.spec: the graph parameters of hwmap.api.extract_graph, written there once), checked once into a
    GraphSpec."""
    return read_graph(graph_spec(model, **graph_keywords))


def read_accelerator(accel: str | Path | Accelerator) -> Accelerator:
    """An Accelerator (returned as is), a shipped template name, a template YAML file (strictly read by
    hwmap.hardware.loader) or a SCALE-Sim .cfg file (energy defaults added)."""
    from hwmap.hardware.loader import load_accelerator
    from hwmap.hardware.schema import Accelerator

    if isinstance(accel, Accelerator):
        return accel
    if str(accel).endswith(".cfg"):
        from hwmap.interop.scalesim import config_accelerator

        return config_accelerator(accel)
    return load_accelerator(accel)
