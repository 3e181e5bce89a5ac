"""Models and accelerators in every form hwmap reads: its own (specs, saved graphs, nn.Modules, templates) and
other tools' (ONNX files, SCALE-Sim topology .csv and .cfg). hwmap.api.extract_graph / load_accelerator and the
dse layer (sweep and census workloads) call these, so library code never imports hwmap.api.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.extract import extract_graph
from hwmap.graph.ir import LayerGraph
from hwmap.graph.module_file import is_module_file_spec
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
    """hwmap.graph.extract.extract_graph, and a SCALE-Sim topology .csv, an ONNX file or a module from a Python
    file 'file.py:Name' (parameters as in hwmap.api.extract_graph)."""
    if batch < 1:
        raise HwmapError(f"batch must be a positive integer, got {batch}")
    if isinstance(model, str | Path) and str(model).endswith(".csv"):
        from hwmap.interop.scalesim import topology_graph

        return topology_graph(model)
    if is_onnx_path(model):
        from hwmap.interop.onnx import onnx_graph

        if num_classes:
            raise HwmapError(f"{model} is an ONNX model with a fixed classifier: num_classes does not apply")
        return onnx_graph(model, input_shape=input_shape, resolution=resolution, batch=batch, strict=strict)
    if is_module_file_spec(model):
        return _module_file_graph(str(model), input_shape=input_shape, resolution=resolution, batch=batch,
                                  num_classes=num_classes, strict=strict, name=name)
    return extract_graph(model, input_shape=input_shape, resolution=resolution, batch=batch,
                         num_classes=num_classes, example_inputs=example_inputs, strict=strict, name=name,
                         cache=cache)


def _module_file_graph(spec: str, *, input_shape, resolution, batch: int, num_classes, strict: bool,
                       name: str | None) -> LayerGraph:
    """The graph of the user's own module ('file.py:Name'), traced at the input size given (a file declares
    none). Never cached: the file can change under the same spec."""
    from hwmap.graph.capture import capture, meta_inputs
    from hwmap.graph.extract import input_chw
    from hwmap.graph.sources import build_model

    if input_shape is None and resolution is None:
        raise ParameterError("input_shape", f"is needed for a model from a Python file ({spec}): its input size "
                                            "CxHxW, e.g. 3x224x224")
    built = build_model(spec, num_classes=num_classes)
    chw = input_chw(built.default_input_chw, input_shape, resolution)
    return capture(built.module, meta_inputs([(batch, *chw)]), name=name or built.name, strict=strict,
                   meta={"spec": spec, **built.meta})


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
