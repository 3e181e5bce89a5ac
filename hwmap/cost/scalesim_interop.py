"""SCALE-Sim users move over: a topology CSV becomes a LayerGraph, a .cfg file becomes a systolic Accelerator.

Energy and DRAM fields, which a .cfg file does not have, come from the shipped template `systolic16x16`
(45 nm int8 defaults with their sources in accelerators/systolic16x16.yaml); the array shape, dataflow and
SRAM sizes come from the .cfg. SCALE-Sim words are 1 byte, so operands are int8.
"""

from __future__ import annotations

from pathlib import Path

from hwmap.cost.scalesim_io import BYTES_PER_KB, read_config, read_topology
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.loader import load_accelerator
from hwmap.hardware.schema import Accelerator
from hwmap.ops.aten import conv_class
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, Gemm

DEFAULTS_TEMPLATE = "systolic16x16"


def topology_graph(path: str | Path) -> LayerGraph:
    """One node per topology row: a conv (conv format) or a GEMM (M, N, K format), int8 tensors."""
    topology = read_topology(path)
    geometry = topology.conv
    nodes = []
    for i, name in enumerate(topology.names):
        if topology.input_format == "gemm":
            m, n, k = int(topology.m[i]), int(topology.n[i]), int(topology.k[i])
            work, op_class = Gemm(batch=1, m=m, n=n, k=k), OpClass.LINEAR
            inputs = (TensorMeta((m, k), "int8", "input:0"), TensorMeta((k, n), "int8", f"param:{name}"))
            outputs = (TensorMeta((m, n), "int8", str(i)),)
        else:
            h, w, r, s = (int(geometry.ifmap_h[i]), int(geometry.ifmap_w[i]), int(geometry.filter_h[i]),
                          int(geometry.filter_w[i]))
            c, f, stride = int(geometry.channels[i]), int(topology.n[i]), int(geometry.stride[i])
            oh, ow = int(geometry.ofmap_h[i]), int(geometry.ofmap_w[i])
            work = Conv(batch=1, in_channels=c, out_channels=f, in_spatial=(h, w), out_spatial=(oh, ow),
                        kernel=(r, s), stride=(stride, stride), padding=(0, 0), dilation=(1, 1), groups=1)
            op_class = conv_class(work)
            inputs = (TensorMeta((1, c, h, w), "int8", "input:0"), TensorMeta((f, c, r, s), "int8", f"param:{name}"))
            outputs = (TensorMeta((1, f, oh, ow), "int8", str(i)),)
        nodes.append(Node(index=i, op="scalesim.layer", work=work, op_class=op_class, scope=name,
                          module_class=f"scalesim-{topology.input_format}", inputs=inputs, outputs=outputs))
    weights = sum(n.inputs[1].numel for n in nodes)
    return LayerGraph(model=str(path), input_shapes=(), nodes=tuple(nodes), params=weights, param_bytes=weights,
                      buffer_bytes=0, capture_mode="scalesim-topology",
                      notes=("read from a SCALE-Sim topology CSV: GEMM-like layers only",),
                      meta={"source": "SCALE-Sim topology", "format": topology.input_format})


def config_accelerator(path: str | Path) -> Accelerator:
    """A systolic Accelerator with the .cfg's array, dataflow and SRAM sizes, named after the file."""
    config = read_config(path)
    base = load_accelerator(DEFAULTS_TEMPLATE)
    return base.with_overrides(
        {
            "array.rows": config.rows,
            "array.cols": config.cols,
            "array.dataflow": config.dataflow,
            "buffers.ifmap.size_bytes": config.ifmap_sram_kb * BYTES_PER_KB,
            "buffers.filter.size_bytes": config.filter_sram_kb * BYTES_PER_KB,
            "buffers.ofmap.size_bytes": config.ofmap_sram_kb * BYTES_PER_KB,
            "description": f"SCALE-Sim config {Path(path).name} (energy and DRAM defaults from {DEFAULTS_TEMPLATE})",
        },
        name=Path(path).stem,
    )
