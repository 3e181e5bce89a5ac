"""Models and accelerators in every form hwmap reads: its own (specs, saved graphs, nn.Modules, templates) and
other tools' (ONNX files, SCALE-Sim topology .csv and .cfg). hwmap.api.extract_graph / load_accelerator and the
dse layer (sweep and census workloads) call these, so library code never imports hwmap.api.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError
from hwmap.graph.extract import extract_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.sources import is_onnx_path

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from hwmap.hardware.schema import Accelerator

__all__ = ["model_graph", "read_accelerator"]


def model_graph(
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
    """hwmap.graph.extract.extract_graph, and a SCALE-Sim topology .csv or an ONNX file (parameters as in
    hwmap.api.extract_graph)."""
    if batch < 1:
        raise HwmapError(f"batch must be a positive integer, got {batch}")
    if isinstance(model, str | Path) and str(model).endswith(".csv"):
        from hwmap.cost.scalesim_interop import topology_graph

        return topology_graph(model)
    if is_onnx_path(model):
        from hwmap.interop.onnx import onnx_graph

        if num_classes:
            raise HwmapError(f"{model} is an ONNX model with a fixed classifier: num_classes does not apply")
        return onnx_graph(model, input_shape=input_shape, resolution=resolution, batch=batch, strict=strict)
    return extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                         num_classes=num_classes, example_inputs=example_inputs, strict=strict, name=name,
                         cache=cache)


def read_accelerator(accel: str | Path | Accelerator) -> Accelerator:
    """An Accelerator (returned as is), a shipped template name, a template YAML file (strictly read by
    hwmap.hardware.loader) or a SCALE-Sim .cfg file (energy defaults added)."""
    from hwmap.hardware.loader import load_accelerator
    from hwmap.hardware.schema import Accelerator

    if isinstance(accel, Accelerator):
        return accel
    if str(accel).endswith(".cfg"):
        from hwmap.cost.scalesim_interop import config_accelerator

        return config_accelerator(accel)
    return load_accelerator(accel)
