"""LayerGraph x Accelerator -> GraphCost: dispatch on the template kind, and on each layer's Work type.

GEMM-like layers (convs, linear layers, matmuls) run on the MAC array; softmax, norms, activations, pooling and
elementwise ops on the template's vector unit; pure data movement (copies, cat, pad) through DRAM; views cost
nothing (explicit Zero work); unsupported ops are reported and cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwmap.cost.layers import LayerArrays, layer_arrays
from hwmap.cost.result import UNIT_ARRAY, UNIT_DMA, UNIT_VECTOR, GraphCost
from hwmap.cost.systolic import ConvGeometry, systolic_costs
from hwmap.cost.vector import vector_pe_gemm, vector_unit_cycles
from hwmap.errors import HwmapError
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.schema import Accelerator, CnnAcceleratorSpec

COMMON_ASSUMPTIONS = (
    "layer-by-layer execution: every layer reads its inputs and weights from DRAM and writes its outputs back "
    "(no fusion across layers)",
    "double buffering overlaps DRAM transfers with compute; stall cycles = max(0, DRAM bytes / bandwidth - "
    "compute cycles)",
    "non-GEMM ops run on the vector unit at one op per lane per cycle; element counts x ops per element from "
    "the op registry",
    "static energy = static power x the layer's cycles",
)


@dataclass(frozen=True)
class GpuSettings:
    """How a GPU runs the model: a calibration file (None: the one beside the template, else the priors),
    execution mode (eager | sdpa | compiled | auto), dtype of the compute roof, and TF32 for fp32."""

    calibration: str | None = None
    mode: str = "eager"
    dtype: str = "fp16"
    tf32: bool = True


def estimate_graph(graph: LayerGraph, accel: Accelerator, *, dataflow: str | None = None,
                   gpu: GpuSettings | None = None) -> GraphCost:
    """Cost of every layer of graph on accel (dataflow overrides a systolic template's default; gpu settings
    apply to GPU templates only)."""
    if accel.kind != "gpu" and gpu is not None and gpu != GpuSettings():
        raise HwmapError(f"--calibration, --mode, --dtype and --tf32 apply to GPU templates; {accel.name!r} is of "
                         f"kind {accel.kind!r}")
    if accel.kind == "systolic":
        return _estimate_systolic(graph, accel, dataflow=dataflow)
    if dataflow is not None:
        raise HwmapError(f"--dataflow applies to systolic templates; {accel.name!r} is of kind {accel.kind!r}")
    if accel.kind == "vector_pe":
        return _estimate_vector_pe(graph, accel)
    if accel.kind == "gpu":
        return _estimate_gpu(graph, accel, gpu or GpuSettings())
    raise HwmapError(f"no cost model for accelerator kind {accel.kind!r} ({accel.name})")


def _estimate_gpu(graph: LayerGraph, accel: Accelerator, settings: GpuSettings) -> GraphCost:
    from hwmap.calibrate.calibration import find_calibration, load_calibration
    from hwmap.cost.gpu import estimate_gpu

    path = settings.calibration or find_calibration(accel)
    calibration = load_calibration(path) if path else None
    return estimate_gpu(graph, accel, calibration=calibration, mode=settings.mode, dtype=settings.dtype,
                        tf32=settings.tf32)


# ---------------------------------------------------------------- shared by the CNN-accelerator kinds


def _non_gemm_costs(arrays: LayerArrays, spec: CnnAcceleratorSpec, *, act_read_pj: float, act_write_pj: float):
    """Cycles, DRAM bytes and energy terms of vector-unit and DMA layers (zero elsewhere)."""
    vector, dma = arrays.mask(UNIT_VECTOR), arrays.mask(UNIT_DMA)
    act_bytes = spec.operand_bits.input_bytes
    vu = spec.vector_unit
    cycles = np.where(vector, vector_unit_cycles(arrays.vector_ops, lanes=vu.lanes,
                                                 ops_per_cycle_per_lane=vu.ops_per_cycle_per_lane), 0.0)
    moved = (arrays.input_elements + arrays.output_elements) * act_bytes
    dram_bytes = np.where(vector | dma, moved, 0.0)
    # A DMA layer's time is its DRAM traffic: it counts as stall-free transfer cycles, not compute.
    dma_cycles = np.where(dma, dram_bytes / spec.dram.bw_bytes_per_cycle, 0.0)
    sram_pj = np.where(vector, arrays.input_elements * act_bytes * act_read_pj
                       + arrays.output_elements * act_bytes * act_write_pj, 0.0)
    vector_pj = np.where(vector | dma, arrays.vector_ops * vu.op_energy_pj, 0.0)
    return cycles + dma_cycles, dram_bytes, sram_pj, vector_pj


def _stalls(compute_cycles: np.ndarray, dram_bytes: np.ndarray, bw_bytes_per_cycle: float,
            transfer_only: np.ndarray) -> np.ndarray:
    stall = np.maximum(0.0, dram_bytes / bw_bytes_per_cycle - compute_cycles)
    return np.where(transfer_only, 0.0, stall)


def _finish(graph, accel, arrays, compute, stall, dram_bytes, terms, settings, assumptions) -> GraphCost:
    spec = accel.spec
    cycles = compute + stall
    terms = {**terms, "dram": dram_bytes * spec.dram.energy_pj_per_byte,
             "static": cycles * spec.static_energy_pj_per_cycle}
    notes = (f"unsupported operators costed as zero: {graph.unsupported_summary()}",) if graph.unsupported else ()
    return GraphCost(
        model=graph.model, accelerator=accel.name, kind=accel.kind, freq_mhz=float(spec.freq_mhz),
        peak_macs_per_cycle=float(accel.peak_macs_per_cycle), layers=arrays.identity, compute_cycles=compute,
        stall_cycles=stall, energy_pj=terms, dram_bytes=dram_bytes,
        assumptions=COMMON_ASSUMPTIONS + assumptions, notes=notes + graph.notes, settings=settings,
    )


# ---------------------------------------------------------------- systolic arrays


def _estimate_systolic(graph: LayerGraph, accel: Accelerator, *, dataflow: str | None) -> GraphCost:
    spec = accel.systolic
    flow = dataflow or spec.array.dataflow
    if flow not in ("ws", "os", "is"):
        raise HwmapError(f"--dataflow must be one of ws, os, is; got {flow!r}")
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    bufs = spec.buffers
    in_b, w_b, out_b = (spec.operand_bits.input_bytes, spec.operand_bits.weight_bytes,
                        spec.operand_bits.output_bytes)
    n_layers = len(arrays)
    compute = np.zeros(n_layers)
    dram_bytes = np.zeros(n_layers)
    sram = {name: np.zeros(n_layers) for name in ("ifmap", "filter", "ofmap")}
    if gemm.any():
        g = arrays.geometry[gemm]
        costs = systolic_costs(
            ident.gemm_m[gemm], ident.gemm_n[gemm], ident.gemm_k[gemm], rows=spec.array.rows,
            cols=spec.array.cols, dataflow=flow,
            ifmap_sram_words=bufs.ifmap.size_bytes // max(int(in_b), 1),
            filter_sram_words=bufs.filter.size_bytes // max(int(w_b), 1),
            ofmap_sram_words=bufs.ofmap.size_bytes // max(int(in_b), 1),
            conv=ConvGeometry(*(g[:, i] for i in range(6))),
        )
        batch = ident.gemm_batch[gemm]
        compute[gemm] = batch * costs.compute_cycles
        if_dram = batch * costs.ifmap_dram_reads_words * in_b
        fi_dram = batch * costs.filter_dram_reads_words * w_b
        of_dram = batch * costs.ofmap_dram_writes_real_words * in_b  # outputs leave requantised to input width
        dram_bytes[gemm] = if_dram + fi_dram + of_dram
        sram["ifmap"][gemm] = (batch * costs.ifmap_sram_reads_words * in_b * bufs.ifmap.read_energy_pj_per_byte
                               + if_dram * bufs.ifmap.write_energy_pj_per_byte)
        sram["filter"][gemm] = (batch * costs.filter_sram_reads_words * w_b * bufs.filter.read_energy_pj_per_byte
                                + fi_dram * bufs.filter.write_energy_pj_per_byte)
        sram["ofmap"][gemm] = (batch * costs.ofmap_sram_writes_real_words * out_b
                               * bufs.ofmap.write_energy_pj_per_byte + of_dram * bufs.ofmap.read_energy_pj_per_byte)
    other_cycles, other_dram, other_sram, vector_pj = _non_gemm_costs(
        arrays, spec, act_read_pj=bufs.ifmap.read_energy_pj_per_byte, act_write_pj=bufs.ofmap.write_energy_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    stall = _stalls(compute, dram_bytes, spec.dram.bw_bytes_per_cycle, arrays.mask(UNIT_DMA))
    terms = {"mac": ident.macs * spec.mac_energy_pj, "sram.ifmap": sram["ifmap"] + other_sram,
             "sram.filter": sram["filter"], "sram.ofmap": sram["ofmap"], "vector": vector_pj}
    assumptions = (
        f"GEMMs lowered and timed exactly as SCALE-Sim 3.0.0 does for a {spec.array.rows}x{spec.array.cols} "
        f"{flow} array (compute cycles = its 'Total Cycles'; SRAM reads/writes = its counts)",
        "grouped/depthwise convs and batched matmuls run one GEMM per group or batch element on the whole "
        "array, one after another (utilisation follows from each GEMM's shape)",
        "DRAM words per GEMM operand as SCALE-Sim's double-buffered SRAMs fetch them; outputs leave at the "
        "input precision, partial sums stay on chip at the output precision",
    )
    return _finish(graph, accel, arrays, compute, stall, dram_bytes, terms, {"dataflow": flow}, assumptions)


# ---------------------------------------------------------------- MAGNet-like vector-PE arrays


def _estimate_vector_pe(graph: LayerGraph, accel: Accelerator) -> GraphCost:
    spec = accel.vector_pe
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    pe, bufs, gb = spec.pe_array, spec.pe_buffers, spec.global_buffer
    in_b, w_b, out_b = (spec.operand_bits.input_bytes, spec.operand_bits.weight_bytes,
                        spec.operand_bits.output_bytes)
    mapping = vector_pe_gemm(ident.gemm_batch, ident.gemm_m, ident.gemm_n, ident.gemm_k,
                             num_pes=pe.num_pes, lanes=pe.lanes, vector_width=pe.vector_width)
    compute = np.where(gemm, mapping.compute_cycles, 0.0)
    # DRAM: the real tensors once per layer (inputs, weights, outputs); the global buffer stages them.
    gemm_dram = (arrays.input_elements * in_b + arrays.weight_elements * w_b + arrays.output_elements * in_b)
    dram_bytes = np.where(gemm, gemm_dram, 0.0)
    pe_pj = (mapping.input_buffer_reads * in_b * bufs.input.read_energy_pj_per_byte
             + mapping.weight_buffer_reads * w_b * bufs.weight.read_energy_pj_per_byte
             + mapping.accumulation_reads * out_b * bufs.accumulation.read_energy_pj_per_byte
             + mapping.accumulation_writes * out_b * bufs.accumulation.write_energy_pj_per_byte)
    gb_pj = (mapping.global_buffer_reads * in_b * gb.read_energy_pj_per_byte
             + mapping.global_buffer_writes * in_b * gb.write_energy_pj_per_byte
             + gemm_dram * gb.write_energy_pj_per_byte)
    other_cycles, other_dram, other_sram, vector_pj = _non_gemm_costs(
        arrays, spec, act_read_pj=gb.read_energy_pj_per_byte, act_write_pj=gb.write_energy_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    stall = _stalls(compute, dram_bytes, spec.dram.bw_bytes_per_cycle, arrays.mask(UNIT_DMA))
    terms = {"mac": ident.macs * spec.mac_energy_pj, "sram.pe_buffers": np.where(gemm, pe_pj, 0.0),
             "sram.global": np.where(gemm, gb_pj, 0.0) + other_sram, "vector": vector_pj}
    assumptions = (
        f"GEMM mapping: k along the {pe.vector_width}-wide vectors, n across {pe.lanes} lanes sharing a broadcast "
        f"input, m split over {pe.num_pes} PEs; depthwise convs use one lane (see hwmap.cost.vector)",
        "each DRAM tensor of a layer is fetched once (buffers are sized for the tiling); the global buffer stages "
        "every DRAM byte",
    )
    return _finish(graph, accel, arrays, compute, stall, dram_bytes, terms, {}, assumptions)
