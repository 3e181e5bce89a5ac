"""SCALE-Sim users move over: a topology CSV becomes a LayerGraph, a .cfg file becomes a systolic Accelerator.

Energy and DRAM fields, which a .cfg file does not have, come from the shipped template `systolic16x16`
(45 nm int8 defaults with their sources in accelerators/systolic16x16.yaml); the array shape, dataflow and
SRAM sizes come from the .cfg. SCALE-Sim words are 1 byte, so operands are int8.
"""

from __future__ import annotations

from pathlib import Path

from hwmap.cost.scalesim_io import BYTES_PER_KB, check_modelled, read_config, read_topology
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.loader import load_accelerator
from hwmap.hardware.schema import Accelerator
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, Gemm

DEFAULTS_TEMPLATE = "systolic16x16"


def topology_graph(path: str | Path) -> LayerGraph:
    """One node per topology row: a conv (conv format) or a GEMM (M, N, K format), int8 tensors."""
    from hwmap.graph.io import _no_gc

    with _no_gc():  # hundreds of thousands of small acyclic objects: the cyclic GC would make this quadratic
        return _topology_graph(path)


def _topology_graph(path: str | Path) -> LayerGraph:
    topology = read_topology(path)
    geometry = topology.conv
    # Columns read once as Python ints: ConvGeometry's properties recompute whole arrays on every access.
    names = topology.names
    count = len(names)
    nodes = []
    if topology.input_format == "gemm":
        for i, m, n, k in zip(range(count), topology.m.tolist(), topology.n.tolist(), topology.k.tolist(),
                              strict=True):
            name = names[i]
            work = Gemm(batch=1, m=m, n=n, k=k)
            inputs = (TensorMeta((m, k), "int8", "input:0"), TensorMeta((k, n), "int8", f"param:{name}"))
            nodes.append(Node(index=i, op="scalesim.layer", work=work, op_class=OpClass.LINEAR, scope=name,
                              module_class="scalesim-gemm", inputs=inputs,
                              outputs=(TensorMeta((m, n), "int8", str(i)),)))
    else:
        columns = (geometry.ifmap_h.tolist(), geometry.ifmap_w.tolist(), geometry.filter_h.tolist(),
                   geometry.filter_w.tolist(), geometry.channels.tolist(), topology.n.tolist(),
                   geometry.stride.tolist(), geometry.ofmap_h.tolist(), geometry.ofmap_w.tolist())
        zeros, ones = (0, 0), (1, 1)
        pointwise, dense = OpClass.CONV_POINTWISE, OpClass.CONV_DENSE
        # Layers of one shape share their (frozen, immutable) Conv, input tensor and op class: networks repeat
        # shapes block after block, and building the frozen dataclass is most of the time per row.
        shared: dict[tuple[int, ...], tuple[Conv, TensorMeta, OpClass]] = {}
        for i, key in enumerate(zip(*columns, strict=True)):
            h, w, r, s, c, f, stride, oh, ow = key
            entry = shared.get(key)
            if entry is None:
                entry = shared[key] = (Conv(1, c, f, (h, w), (oh, ow), (r, s), (stride, stride), zeros, ones, 1),
                                       TensorMeta((1, c, h, w), "int8", "input:0"),
                                       pointwise if r == 1 and s == 1 else dense)  # groups = 1: conv_class()
            work, ifmap, op_class = entry
            name = names[i]
            nodes.append(Node(i, "scalesim.layer", work, op_class, name, "scalesim-conv",
                              (ifmap, TensorMeta((f, c, r, s), "int8", f"param:{name}")),
                              (TensorMeta((1, f, oh, ow), "int8", str(i)),)))
    weights = sum(n.inputs[1].numel for n in nodes)
    return LayerGraph(model=str(path), input_shapes=(), nodes=tuple(nodes), params=weights, param_bytes=weights,
                      buffer_bytes=0, capture_mode="scalesim-topology",
                      notes=("read from a SCALE-Sim topology CSV: GEMM-like layers only",),
                      meta={"source": "SCALE-Sim topology", "format": topology.input_format})


def config_accelerator(path: str | Path) -> Accelerator:
    """A systolic Accelerator with the .cfg's array, dataflow and SRAM sizes, named after the file."""
    config = read_config(path)
    check_modelled(config)
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
