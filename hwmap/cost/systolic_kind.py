"""The ``systolic`` kind: a rows x cols MAC array with ifmap/filter/ofmap SRAMs (SCALE-Sim's template, with energy).

The kind's cost module (the protocol of :mod:`hwmap.cost.kinds`): its hardware view (DRAM, one SRAM per operand,
the array with its dataflow's fixed unrolling), its spatial space (the dataflow's: ws C on rows and K on columns,
os OX and K, is C and OX, as SCALE-Sim) and its estimate (compute cycles exactly SCALE-Sim 3.0.0's, from
:mod:`hwmap.cost.systolic`; DRAM traffic from SCALE-Sim's fold order or from the mapper).
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
from hwmap.cost.mapping import LayerMapping, LoopNest
from hwmap.cost.memory import capacity_words, memory_hierarchy
from hwmap.cost.result import UNIT_ARRAY, GraphCost
from hwmap.cost.settings import EstimateSettings
from hwmap.cost.systolic import ConvGeometry, systolic_costs
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.hierarchy import Hierarchy, MemoryLevel, SpatialUnrolling
from hwmap.hardware.schema import Accelerator

__all__ = ["estimate", "hardware_view", "spatial_space"]

AXES = ("rows", "cols")
# The loop dimension each dataflow fixes on (rows, cols), as SCALE-Sim maps a GEMM (m = P, n = K, k = C).
DATAFLOW_UNROLLING: dict[str, tuple[str, str]] = {"ws": ("C", "K"), "os": ("OX", "K"), "is": ("C", "OX")}


def hardware_view(accelerator: Accelerator) -> Hierarchy:
    """DRAM -> ifmap / filter / ofmap SRAMs (one operand each) -> rows x cols MACs, unrolled by the template's
    dataflow (see :func:`hwmap.cost.cnn.cnn_view` for what the view holds and leaves out)."""
    spec = accelerator.spec
    b = spec.buffers
    return cnn_view(accelerator, axes=AXES, array=(spec.array.rows, spec.array.cols),
                    on_axes=DATAFLOW_UNROLLING[spec.array.dataflow],
                    buffers=(("ifmap", ("input",), b.ifmap, 1), ("filter", ("weight",), b.filter, 1),
                             ("ofmap", ("output",), b.ofmap, 1)), systolic=True)


def spatial_space(accelerator: Accelerator, settings: EstimateSettings) -> tuple[SpatialUnrolling, ...]:
    """The dataflow's fixed unrolling (settings.dataflow, else the template's): one dimension per array axis."""
    return fixed_unrolling(AXES, DATAFLOW_UNROLLING[settings.dataflow or accelerator.spec.array.dataflow])


class _Buffers:
    """The view's three SRAMs (hwmap.hardware.hierarchy.MemoryLevel: per-byte energies, capacity)."""

    def __init__(self, view: Hierarchy) -> None:
        self.ifmap, self.filter, self.ofmap = (view.level(n) for n in ("ifmap", "filter", "ofmap"))


def _words(level: MemoryLevel, bits: int) -> int:
    """Whole words of ``bits`` in the level's capacity (SCALE-Sim sizes its SRAMs in words)."""
    return capacity_words(int(level.capacity_bytes), bits)


def estimate(graph: LayerGraph, accelerator: Accelerator, settings: EstimateSettings, *,
             cache: bool = False) -> GraphCost:
    """Every layer of graph on a systolic template: GEMMs timed as SCALE-Sim 3.0.0 times them, DRAM traffic by
    SCALE-Sim's fold order (mapping scalesim) or the mapper's best loop order and tiles (mapping best)."""
    accel, spec = accelerator, accelerator.spec
    flow = settings.dataflow or spec.array.dataflow  # both checked: EstimateSettings and the template's schema
    mapping, objective = settings.mapping, settings.objective
    fusion = fusion_arrays(graph, settings.fusion or "epilogue")
    view = kinds.hardware_view(accel)
    bufs = _Buffers(view)
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    n_layers = len(arrays)
    compute = np.zeros(n_layers)
    dram_bytes = np.zeros(n_layers)
    sram = {name: np.zeros(n_layers) for name in ("ifmap", "filter", "ofmap")}
    mappings: list[LayerMapping | None] = [None] * n_layers
    if gemm.any():
        costs = _array_costs(arrays, gemm, spec, bufs, flow)
        compute[gemm] = ident.gemm_batch[gemm] * costs.compute_cycles
        array_side = _array_side_pj(ident.gemm_batch[gemm], costs, spec, bufs)
        if mapping == "scalesim":
            mappings = _scalesim_traffic(arrays, gemm, costs, spec, bufs, flow, array_side, dram_bytes, sram)
        else:
            mappings, dram_bytes = _mapped_traffic(arrays, gemm, accel, view, flow, objective, array_side, compute,
                                                   sram, cache=cache)
    other_cycles, other_dram, other_sram, vector_pj = non_gemm_costs(
        arrays, spec, view, fusion, act_read_pj=bufs.ifmap.read_pj_per_byte,
        act_write_pj=bufs.ofmap.write_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    terms = {"mac": ident.macs * view.compute.mac_energy_pj, "sram.ifmap": sram["ifmap"] + other_sram,
             "sram.filter": sram["filter"], "sram.ofmap": sram["ofmap"], "vector": vector_pj}
    return finish(graph, accel, view, arrays, compute, dram_bytes, terms,
                  {"dataflow": flow, "mapping": mapping, "objective": objective, "fusion": fusion.policy},
                  _assumptions(spec, flow, mapping, objective), mappings, fusion)


def _array_costs(arrays, gemm: np.ndarray, spec, bufs: _Buffers, flow: str):
    """SCALE-Sim's timing and array-side SRAM counts of every GEMM layer (hwmap.cost.systolic)."""
    ident, bits = arrays.identity, spec.operand_bits
    g = arrays.geometry[gemm]
    return systolic_costs(
        ident.gemm_m[gemm], ident.gemm_n[gemm], ident.gemm_k[gemm], rows=spec.array.rows,
        cols=spec.array.cols, dataflow=flow,
        ifmap_sram_words=_words(bufs.ifmap, bits.input),
        filter_sram_words=_words(bufs.filter, bits.weight),
        # SCALE-Sim has one word size, the operands'; its ofmap drain model only sets DRAM write timing here.
        # The mapper (best mode) sizes the ofmap buffer in partial sums of bits.output.
        ofmap_sram_words=_words(bufs.ofmap, bits.input),
        conv=ConvGeometry(*(g[:, i] for i in range(6))),
    )


def _array_side_pj(batch: np.ndarray, costs, spec, bufs: _Buffers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array-side accesses (SCALE-Sim's SRAM counts) of ifmap, filter and ofmap, in pJ: the same whatever the
    DRAM-level mapping."""
    bits = spec.operand_bits
    return (batch * costs.ifmap_sram_reads_words * bits.input_bytes * bufs.ifmap.read_pj_per_byte,
            batch * costs.filter_sram_reads_words * bits.weight_bytes * bufs.filter.read_pj_per_byte,
            batch * costs.ofmap_sram_writes_real_words * bits.output_bytes * bufs.ofmap.write_pj_per_byte)


def _scalesim_traffic(arrays, gemm: np.ndarray, costs, spec, bufs: _Buffers, flow: str, array_side,
                      dram_bytes: np.ndarray, sram: dict[str, np.ndarray]) -> list[LayerMapping | None]:
    """mapping scalesim: DRAM words per operand as SCALE-Sim's SRAMs fetch them in its fold order; fills
    dram_bytes and sram (per buffer, pJ) in place and returns the per-layer LayerMapping records."""
    array_if, array_fi, array_of = array_side
    batch = arrays.identity.gemm_batch[gemm]
    bits = spec.operand_bits
    in_b, w_b = bits.input_bytes, bits.weight_bytes
    if_dram = batch * costs.ifmap_dram_reads_words * in_b
    fi_dram = batch * costs.filter_dram_reads_words * w_b
    of_dram = batch * costs.ofmap_dram_writes_real_words * in_b  # outputs leave requantised to input width
    dram_bytes[gemm] = if_dram + fi_dram + of_dram
    sram["ifmap"][gemm] = array_if + if_dram * bufs.ifmap.write_pj_per_byte
    sram["filter"][gemm] = array_fi + fi_dram * bufs.filter.write_pj_per_byte
    sram["ofmap"][gemm] = array_of + of_dram * bufs.ofmap.read_pj_per_byte
    folds = {"ws": ("K-fold", "C-fold"), "os": ("K-fold", "P-fold"), "is": ("P-fold", "C-fold")}[flow]
    mappings: list[LayerMapping | None] = [None] * len(arrays)
    for j, i in enumerate(np.flatnonzero(gemm)):
        nest = LoopNest(*(int(v) for v in arrays.nest[i])).canonical()
        mappings[i] = LayerMapping(
            mode="scalesim", objective="-", order=folds, tiles=(), input_read_bytes=float(if_dram[j]),
            weight_read_bytes=float(fi_dram[j]), output_write_bytes=float(of_dram[j]), psum_write_bytes=0.0,
            psum_read_bytes=0.0, input_compulsory_bytes=nest.groups * nest.input_words * in_b,
            weight_compulsory_bytes=nest.groups * nest.weight_words * w_b,
            output_compulsory_bytes=nest.groups * nest.output_words * in_b,
            psum_passes=int(costs.row_folds[j] if flow == "ws" else 1), candidates=1)
    return mappings


def _mapped_traffic(arrays, gemm: np.ndarray, accel: Accelerator, view: Hierarchy, flow: str, objective: str,
                    array_side, compute: np.ndarray, sram: dict[str, np.ndarray], *, cache: bool):
    """mapping best: every GEMM layer's loop order and buffer tiles from the mapper; fills sram (per buffer, pJ)
    in place and returns (mappings, DRAM bytes per layer)."""
    array_if, array_fi, array_of = array_side
    spec = accel.spec
    target = map_target(memory_hierarchy(accel), spec, dataflow=flow, accelerator=accel)
    fixed = np.zeros(len(arrays))
    fixed[gemm] = array_if + array_fi + array_of + arrays.identity.macs[gemm] * view.compute.mac_energy_pj
    mappings = map_layers(arrays, gemm, target, compute, fixed, objective, cache=cache)
    dram_bytes = mapped_column(mappings, "dram_bytes")
    in_read = mapped_column(mappings, "input_read_bytes")
    w_read = mapped_column(mappings, "weight_read_bytes")
    out_w = mapped_column(mappings, "output_write_bytes")
    spill = mapped_column(mappings, "psum_write_bytes")
    sram["ifmap"][gemm] = array_if + in_read[gemm] * target.fill_input_pj_per_byte
    sram["filter"][gemm] = array_fi + w_read[gemm] * target.fill_weight_pj_per_byte
    sram["ofmap"][gemm] = array_of + (out_w[gemm] + spill[gemm]) * target.out_read_pj_per_byte \
        + spill[gemm] * target.out_write_pj_per_byte
    return mappings, dram_bytes


def _assumptions(spec, flow: str, mapping: str, objective: str) -> tuple[str, ...]:
    assumptions = (
        f"GEMMs lowered and timed exactly as SCALE-Sim 3.0.0 does for a {spec.array.rows}x{spec.array.cols} "
        f"{flow} array (compute cycles = its 'Total Cycles'; array-side SRAM reads/writes = its counts)",
        "grouped/depthwise convs and batched matmuls run one GEMM per group or batch element on the whole "
        "array, one after another (utilisation follows from each GEMM's shape)",
    )
    if mapping == "scalesim":
        return assumptions + ("mapping scalesim: DRAM words per GEMM operand as SCALE-Sim's double-buffered SRAMs "
                              "fetch them in its fold order (partial sums of every row fold written out at the input "
                              "width)",)
    return assumptions + (f"mapping best: each layer's loop order and buffer tiles chosen for minimum {objective} "
                          "under the buffer capacities (hwmap.cost.mapping); partial sums spill at the accumulator "
                          "width only when the reduction is split across tiles; outputs leave at the input width",)
