"""The ``vector_pe`` kind: PEs of vector MAC lanes with per-PE buffers and a global buffer (MAGNet/Simba-like).

The kind's cost module (the protocol of :mod:`hwmap.cost.kinds`): its hardware view (DRAM, the global buffer
holding every operand, per-PE weight, input and accumulation buffers, the PE array), its spatial space (output
pixels over the PEs, K over the lanes, C along the vectors: fixed) and its estimate (:mod:`hwmap.cost.vector`'s
spatial model for the array-side accesses, the mapper for the global buffer's tiles and the DRAM traffic).
"""

from __future__ import annotations

import numpy as np

from hwmap.cost import kinds
from hwmap.cost.cnn import (
    cnn_view,
    finish,
    fixed_unrolling,
    fusion_arrays,
    map_layers,
    map_target,
    mapped_column,
    non_gemm_costs,
)
from hwmap.cost.layers import layer_arrays
from hwmap.cost.memory import memory_hierarchy
from hwmap.cost.result import UNIT_ARRAY, GraphCost
from hwmap.cost.settings import EstimateSettings
from hwmap.cost.vector import vector_pe_gemm
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.hierarchy import Hierarchy, SpatialUnrolling
from hwmap.hardware.schema import Accelerator

__all__ = ["estimate", "hardware_view", "spatial_space"]

AXES = ("pes", "lanes", "vector")
UNROLLING = ("OX", "K", "C")  # output pixels over the PEs, output channels over the lanes, reduction along vectors


def hardware_view(accelerator: Accelerator) -> Hierarchy:
    """DRAM -> global buffer (all operands) -> per-PE weight, input and accumulation buffers (one per PE) ->
    PEs x lanes x vector MACs (see :func:`hwmap.cost.cnn.cnn_view` for what the view holds and leaves out)."""
    spec = accelerator.spec
    pe, n = spec.pe_buffers, spec.pe_array.num_pes
    return cnn_view(accelerator, axes=AXES, array=(n, spec.pe_array.lanes, spec.pe_array.vector_width),
                    on_axes=UNROLLING,
                    buffers=(("global", ("input", "weight", "output"), spec.global_buffer, 1),
                             ("pe.weight", ("weight",), pe.weight, n), ("pe.input", ("input",), pe.input, n),
                             ("pe.accumulation", ("output",), pe.accumulation, n)), systolic=False)


def spatial_space(accelerator: Accelerator, settings: EstimateSettings) -> tuple[SpatialUnrolling, ...]:
    """Fixed by the organisation: OX over the PEs, K over the lanes, C along the vectors (settings change nothing)."""
    return fixed_unrolling(AXES, UNROLLING)


class _PeBuffers:
    """One PE's buffers in the view (per-byte energies of each)."""

    def __init__(self, view: Hierarchy) -> None:
        self.input, self.weight, self.accumulation = (view.level(f"pe.{n}")
                                                      for n in ("input", "weight", "accumulation"))


def estimate(graph: LayerGraph, accelerator: Accelerator, settings: EstimateSettings, *,
             cache: bool = False) -> GraphCost:
    """Every layer of graph on a vector-PE template: GEMMs spread over PEs, lanes and vectors
    (:func:`hwmap.cost.vector.vector_pe_gemm`), DRAM traffic from the mapper's best loop order and global-buffer
    tiles."""
    accel, spec = accelerator, accelerator.spec
    objective = settings.objective
    fusion = fusion_arrays(graph, settings.fusion or "epilogue")
    view = kinds.hardware_view(accel)
    bufs = _PeBuffers(view)
    gb = view.level("global")
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    pe = spec.pe_array
    in_b, w_b, out_b = (spec.operand_bits.input_bytes, spec.operand_bits.weight_bytes,
                        spec.operand_bits.output_bytes)
    spatial = vector_pe_gemm(ident.gemm_batch, ident.gemm_m, ident.gemm_n, ident.gemm_k,
                             num_pes=pe.num_pes, lanes=pe.lanes, vector_width=pe.vector_width)
    compute = np.where(gemm, spatial.compute_cycles, 0.0)
    pe_pj = (spatial.input_buffer_reads * in_b * bufs.input.read_pj_per_byte
             + spatial.weight_buffer_reads * w_b * bufs.weight.read_pj_per_byte
             + spatial.accumulation_reads * out_b * bufs.accumulation.read_pj_per_byte
             + spatial.accumulation_writes * out_b * bufs.accumulation.write_pj_per_byte)
    # The global buffer feeds the PEs (inputs and weights, multicast) and takes their finished outputs.
    gb_array_pj = (spatial.global_buffer_reads * in_b * gb.read_pj_per_byte
                   + spatial.global_buffer_writes * in_b * gb.write_pj_per_byte)
    target = map_target(memory_hierarchy(accel), spec, accelerator=accel)
    fixed = np.where(gemm, pe_pj + gb_array_pj + ident.macs * view.compute.mac_energy_pj, 0.0)
    mappings = map_layers(arrays, gemm, target, compute, fixed, objective, cache=cache)
    dram_bytes = mapped_column(mappings, "dram_bytes")
    gb_pj = np.where(gemm, gb_array_pj, 0.0) + mapped_column(mappings, "buffer_energy_pj")
    other_cycles, other_dram, other_sram, vector_pj = non_gemm_costs(
        arrays, spec, view, fusion, act_read_pj=gb.read_pj_per_byte, act_write_pj=gb.write_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    terms = {"mac": ident.macs * view.compute.mac_energy_pj, "sram.pe_buffers": np.where(gemm, pe_pj, 0.0),
             "sram.global": gb_pj + other_sram, "vector": vector_pj}
    assumptions = (
        f"GEMM spatial mapping: k along the {pe.vector_width}-wide vectors, n across {pe.lanes} lanes sharing a "
        f"broadcast input, m split over {pe.num_pes} PEs; depthwise convs use one lane (see hwmap.cost.vector)",
        f"each layer's loop order and global-buffer tiles chosen for minimum {objective} under the global buffer's "
        "capacity (hwmap.cost.mapping); the global buffer stages every DRAM byte",
    )
    return finish(graph, accel, view, arrays, compute, dram_bytes, terms,
                   {"mapping": "best", "objective": objective, "fusion": fusion.policy}, assumptions, mappings, fusion)
