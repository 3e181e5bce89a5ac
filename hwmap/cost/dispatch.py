"""LayerGraph x Accelerator -> GraphCost: check the settings, then ask the template kind's cost module.

The cost models live in the kinds' cost modules (hwmap.hardware.kinds registers them; the protocol is
hwmap.cost.kinds): hwmap.cost.systolic_kind, hwmap.cost.vector_pe_kind, hwmap.cost.gpu_kind. Within a model, each
layer's Work type decides: GEMM-like layers (convs, linear layers, matmuls) run on the MAC array; softmax, norms,
activations, pooling and elementwise ops on the template's vector unit; pure data movement (copies, cat, pad)
through DRAM; views cost nothing (explicit Zero work); unsupported ops are reported and cost nothing.
"""

from __future__ import annotations

from hwmap.cost.cnn import COMMON_ASSUMPTIONS, fusion_arrays, map_layers, map_target, spatial_floor
from hwmap.cost.kinds import cost_module
from hwmap.cost.result import GraphCost
from hwmap.cost.settings import EstimateSettings, GpuSettings
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.schema import Accelerator

# Re-exported for callers that imported the shared CNN helpers from here before they moved to hwmap.cost.cnn.
__all__ = ["COMMON_ASSUMPTIONS", "estimate_graph", "fusion_arrays", "map_layers", "map_target", "spatial_floor"]


def estimate_graph(graph: LayerGraph, accel: Accelerator, settings: EstimateSettings | None = None, *,
                   dataflow: str | None = None, gpu: GpuSettings | None = None, mapping: str | None = None,
                   objective: str | None = None, fusion: str | None = None, cache: bool = False) -> GraphCost:
    """Cost of every layer of graph on accel under settings (hwmap.cost.settings.EstimateSettings: dataflow,
    mapping, objective, fusion, GPU settings), taken as they are: they were checked when made.

    Library callers without settings may pass their fields as keywords instead (dataflow, gpu, mapping, objective,
    fusion; checked here, once); giving both is an error.
    cache: read and write each layer's chosen mapping in the on-disk mapping cache (hwmap.cost.mapping_cache); the
    result is the same either way. Off by default: sweeps cost many design points in one process, where the
    in-process caches already serve repeats; hwmap.estimate and the CLI turn it on.
    """
    keywords = {"dataflow": dataflow, "gpu": gpu, "mapping": mapping, "objective": objective, "fusion": fusion}
    given = {k: v for k, v in keywords.items() if v is not None}
    if settings is None:
        settings = EstimateSettings(**given)
    elif given:
        raise TypeError(f"estimate_graph: give settings or {', '.join(given)}, not both")
    settings.check_applies(accel.kind, accel.name)
    return cost_module(accel.kind).estimate(graph, accel, settings, cache=cache)
