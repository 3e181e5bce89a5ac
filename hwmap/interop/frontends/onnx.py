"""The ONNX front end: a .onnx file, lowered by hwmap.interop.onnx (the onnx package imported only then)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwmap.errors import HwmapError
from hwmap.graph.frontends import register_front_end

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.graph.ir import LayerGraph
    from hwmap.graph.spec import GraphSpec


@register_front_end("onnx", route="an ONNX file (.onnx)", order=60, suffix=".onnx")
def read(spec: GraphSpec) -> LayerGraph:
    from hwmap.interop.onnx import read_onnx

    if spec.num_classes:
        raise HwmapError(f"{spec.model} is an ONNX model with a fixed classifier: num_classes does not apply")
    return read_onnx(spec.model, input_chw=spec.input_chw, resolution=spec.resolution, batch=spec.batch,
                     strict=spec.strict)
