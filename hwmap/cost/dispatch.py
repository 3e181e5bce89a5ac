"""LayerGraph x Accelerator -> GraphCost: dispatch on the template kind, and on each layer's Work type.

GEMM-like layers (convs, linear layers, matmuls) run on the MAC array; softmax, norms, activations, pooling and
elementwise ops on the template's vector unit; pure data movement (copies, cat, pad) through DRAM; views cost
nothing (explicit Zero work); unsupported ops are reported and cost nothing.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from hwmap.cost.layers import LayerArrays, layer_arrays
from hwmap.cost.mapping import LayerMapping, LoopNest, MapTarget, map_layer
from hwmap.cost.memory import MemoryHierarchy, capacity_words, memory_hierarchy
from hwmap.cost.result import UNIT_ARRAY, UNIT_DMA, UNIT_VECTOR, GraphCost, layer_costs, whole_numbers
from hwmap.cost.settings import EstimateSettings, GpuSettings
from hwmap.cost.systolic import ConvGeometry, systolic_costs
from hwmap.cost.vector import vector_pe_gemm, vector_unit_cycles
from hwmap.errors import HwmapError
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.schema import Accelerator, CnnAcceleratorSpec, SystolicSpec, VectorPESpec

COMMON_ASSUMPTIONS = (
    "layer-by-layer execution: every kernel reads its inputs and weights from DRAM and writes its outputs back; "
    "with fusion epilogue (default) batch norms after a conv/linear fold into its weights and activations, "
    "scales and residual adds run as its epilogue on chip (hwmap.graph.fusion)",
    "double buffering overlaps DRAM transfers with compute; stall cycles = max(0, DRAM bytes / bandwidth - "
    "compute cycles)",
    "non-GEMM ops run on the vector unit at one op per lane per cycle; element counts x ops per element from "
    "the op registry",
    "static energy = static power x the layer's cycles",
)


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
    if accel.kind == "systolic":
        return _estimate_systolic(graph, accel, dataflow=settings.dataflow, mapping=settings.mapping,
                                  objective=settings.objective,
                                  fusion=fusion_arrays(graph, settings.fusion or "epilogue"), cache=cache)
    if accel.kind == "vector_pe":
        return _estimate_vector_pe(graph, accel, objective=settings.objective,
                                   fusion=fusion_arrays(graph, settings.fusion or "epilogue"), cache=cache)
    if accel.kind == "gpu":
        return _estimate_gpu(graph, accel, settings.gpu)
    raise HwmapError(f"no cost model for accelerator kind {accel.kind!r} ({accel.name})")


def _estimate_gpu(graph: LayerGraph, accel: Accelerator, settings: GpuSettings) -> GraphCost:
    from hwmap.cost.gpu import estimate_gpu
    from hwmap.hardware.calibration import find_calibration, load_calibration

    path = settings.calibration or find_calibration(accel)
    calibration = load_calibration(path) if path else None
    return estimate_gpu(graph, accel, calibration=calibration, mode=settings.mode, dtype=settings.dtype,
                        tf32=settings.tf32)


# ---------------------------------------------------------------- shared by the CNN-accelerator kinds


@dataclass(frozen=True)
class FusionArrays:
    """Per-layer effect of a fusion plan on the CNN-accelerator kinds (hwmap.graph.fusion)."""

    policy: str
    folded: np.ndarray  # bool: batch norms folded into their anchor's weights (cost nothing)
    epilogue: np.ndarray  # bool: operators run on chip as an anchor's epilogue (no DRAM round trip)
    external_elements: np.ndarray  # int64: elements an epilogue member reads from outside its group
    described: tuple[str, ...]  # "anchor <- member (folded), member (epilogue)" per group
    per_layer: tuple[str, ...]  # anchors: "bn1 (folded), act1 (epilogue)"; members: "folded into conv1" / ...


_FUSION_CACHE: dict[tuple[int, str], tuple[weakref.ref, FusionArrays]] = {}


def fusion_arrays(graph: LayerGraph, policy: str) -> FusionArrays:
    """The fusion plan of graph as per-layer columns, cached per graph object and policy (sweeps reuse it);
    policy is one of vocabulary.FUSIONS (EstimateSettings checked it)."""
    key = (id(graph), policy)
    hit = _FUSION_CACHE.get(key)
    if hit is not None and hit[0]() is graph:
        return hit[1]
    from hwmap.graph.fusion import plan_fusion

    plan = plan_fusion(graph, policy=policy)
    n = len(graph.nodes)
    folded, epilogue = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    external = np.zeros(n, dtype=np.int64)
    per_layer = [""] * n

    def label(p: int) -> str:
        node = graph.nodes[p]
        return node.scope or node.name

    for group in plan.groups:
        per_layer[group.anchor] = ", ".join([f"{label(p)} (folded)" for p in group.folded]
                                            + [f"{label(p)} (epilogue)" for p in group.epilogue])
        for p in group.folded:
            per_layer[p] = f"folded into {label(group.anchor)}"
        for p in group.epilogue:
            per_layer[p] = f"epilogue of {label(group.anchor)}"
        folded[list(group.folded)] = True
        for p in group.epilogue:
            epilogue[p] = True
            acts = [t for t in graph.nodes[p].inputs if not t.is_weight and t.numel]
            itemsize = acts[0].size_bytes / acts[0].numel if acts else 1.0
            external[p] = round(group.external_input_bytes(graph, p) / itemsize)
    arrays = FusionArrays(policy, folded, epilogue, external, tuple(plan.describe(graph)), tuple(per_layer))
    _FUSION_CACHE[key] = (weakref.ref(graph, lambda _ref, k=key: _FUSION_CACHE.pop(k, None)), arrays)
    return arrays


def _non_gemm_costs(arrays: LayerArrays, spec: CnnAcceleratorSpec, fusion: FusionArrays, *, act_read_pj: float,
                    act_write_pj: float):
    """Cycles, DRAM bytes and energy terms of vector-unit and DMA layers (zero elsewhere).

    Fusion: a folded batch norm costs nothing; an epilogue member costs its vector-unit cycles and energy and its
    on-chip buffer accesses, but reads from DRAM only its operands from outside the group (a residual add's other
    input) and writes nothing to DRAM (the group's output leaves with its anchor's output write).
    Assumes: the vector unit runs an epilogue after the array, not overlapped with it (its cycles add up).
    """
    vector, dma = arrays.mask(UNIT_VECTOR), arrays.mask(UNIT_DMA)
    live = ~fusion.folded
    act_bytes = spec.operand_bits.input_bytes
    vu = spec.vector_unit
    cycles = np.where(vector & live, vector_unit_cycles(arrays.vector_ops, lanes=vu.lanes,
                                                        ops_per_cycle_per_lane=vu.ops_per_cycle_per_lane), 0.0)
    moved = np.where(fusion.epilogue, fusion.external_elements,
                     arrays.input_elements + arrays.output_elements) * act_bytes
    dram_bytes = np.where((vector | dma) & live, moved, 0.0)
    # A DMA layer's time is its DRAM traffic: it counts as stall-free transfer cycles, not compute.
    dma_cycles = np.where(dma, dram_bytes / spec.dram.bw_bytes_per_cycle, 0.0)
    sram_pj = np.where(vector & live, arrays.input_elements * act_bytes * act_read_pj
                       + arrays.output_elements * act_bytes * act_write_pj, 0.0)
    vector_pj = np.where((vector | dma) & live, arrays.vector_ops * vu.op_energy_pj, 0.0)
    return cycles + dma_cycles, dram_bytes, sram_pj, vector_pj


def _stalls(compute_cycles: np.ndarray, dram_bytes: np.ndarray, bw_bytes_per_cycle: float,
            transfer_only: np.ndarray) -> np.ndarray:
    stall = np.maximum(0.0, dram_bytes / bw_bytes_per_cycle - compute_cycles)
    return np.where(transfer_only, 0.0, stall)


def _finish(graph, accel, arrays, compute, dram_bytes, terms, settings, assumptions,
            mappings=(), fusion: FusionArrays | None = None) -> GraphCost:
    """The GraphCost of a CNN-accelerator kind: whole cycles and bytes per layer (rounded up: a layer cannot end
    mid-cycle nor move part of a byte), DRAM stalls beyond compute, and the cycle-dependent energy terms."""
    spec = accel.spec
    what = f"{graph.model} on {accel.name}"
    names = arrays.identity.names
    compute = whole_numbers(compute, field_name="compute_cycles", names=names, what=what)
    dram_bytes = whole_numbers(dram_bytes, field_name="dram_bytes", names=names, what=what)
    stall = whole_numbers(_stalls(compute, dram_bytes, spec.dram.bw_bytes_per_cycle, arrays.mask(UNIT_DMA)),
                          field_name="stall_cycles", names=names, what=what)
    cycles = compute + stall
    terms = {**terms, "dram": dram_bytes * spec.dram.energy_pj_per_byte,
             "static": cycles * spec.static_energy_pj_per_cycle}
    notes = (f"unsupported operators costed as zero: {graph.unsupported_summary()}",) if graph.unsupported else ()
    layers = layer_costs(
        arrays.identity, freq_mhz=float(spec.freq_mhz), peak_macs_per_cycle=float(accel.peak_macs_per_cycle),
        compute_cycles=compute, stall_cycles=stall, energy_terms_pj=terms, dram_bytes=dram_bytes,
        mappings=mappings, fusion=fusion.per_layer if fusion is not None else (), what=what)
    return GraphCost(
        model=graph.model, accelerator=accel.name, kind=accel.kind, freq_mhz=float(spec.freq_mhz),
        peak_macs_per_cycle=float(accel.peak_macs_per_cycle), layers=layers,
        assumptions=COMMON_ASSUMPTIONS + assumptions, notes=notes + graph.notes, settings=settings,
        fused=fusion.described if fusion is not None else (),
    )


# ---------------------------------------------------------------- the mapper, shared by the CNN-accelerator kinds


def spatial_floor(spec: CnnAcceleratorSpec, dataflow: str | None = None) -> tuple[int, int]:
    """(K, C) a buffer tile must at least hold: the array's spatial unrolling of the weight dimensions.

    SCALE-Sim's (array rows, array cols): os (m, n), ws (k, n), is (k, m), with GEMM m = P, n = K, k = C; the
    vector-PE kind runs K across lanes and C along the vectors. P (pixels) is not floored: output-stationary
    partial sums live in the PEs, and pixels split over PEs need no common tile.
    """
    if isinstance(spec, SystolicSpec):
        rows, cols = spec.array.rows, spec.array.cols
        return {"os": (cols, 1), "ws": (cols, rows), "is": (1, rows)}[dataflow or spec.array.dataflow]
    if isinstance(spec, VectorPESpec):
        pe = spec.pe_array
        return pe.lanes, pe.vector_width
    return 1, 1


def map_target(memory: MemoryHierarchy, spec: CnnAcceleratorSpec, *, dataflow: str | None = None) -> MapTarget:
    """The mapper's view of a template: DRAM-facing capacities and per-byte energies from its memory model."""
    min_k, min_c = spatial_floor(spec, dataflow)
    b = memory.bits
    lin, lw, lout = (memory.dram_facing(op) for op in ("input", "weight", "output"))
    return MapTarget(
        input_bytes=b.input_bytes, weight_bytes=b.weight_bytes, psum_bytes=b.psum_bytes, output_bytes=b.output_bytes,
        cap_input=lin.usable_bytes, cap_weight=lw.usable_bytes, cap_output=lout.usable_bytes, shared=memory.shared,
        dram_pj_per_byte=memory.dram.read_pj_per_byte, fill_input_pj_per_byte=lin.write_pj_per_byte,
        fill_weight_pj_per_byte=lw.write_pj_per_byte, out_read_pj_per_byte=lout.read_pj_per_byte,
        out_write_pj_per_byte=lout.write_pj_per_byte, dram_bw_bytes_per_cycle=float(spec.dram.bw_bytes_per_cycle),
        static_pj_per_cycle=float(spec.static_energy_pj_per_cycle), min_k=min_k, min_c=min_c,
    )


def map_layers(arrays: LayerArrays, mask: np.ndarray, target: MapTarget, compute: np.ndarray, fixed_pj: np.ndarray,
               objective: str, *, cache: bool = False) -> list[LayerMapping | None]:
    """The best mapping of every masked layer (None elsewhere); cached in-process per layer shape and template, and
    with cache=True also on disk (hwmap.cost.mapping_cache: a later process reads the mappings instead of
    searching them again)."""
    out: list[LayerMapping | None] = [None] * len(arrays)
    names = arrays.identity.names
    nests = _nests(arrays)
    stored = None
    if cache:
        from hwmap.cost.mapping_cache import MappingSet

        stored = MappingSet(target, objective)
    same: dict[tuple, LayerMapping] = {}  # repeated blocks: a layer like an earlier one gets its mapping
    for i in np.flatnonzero(mask).tolist():
        compute_i, fixed_i = float(compute[i]), float(fixed_pj[i])
        layer = (nests[i], compute_i, fixed_i)
        if layer in same:
            out[i] = same[layer]
            continue
        hit = stored.get(nests[i], compute_i, fixed_i) if stored is not None else None
        if hit is not None:
            out[i] = same[layer] = hit
            continue
        out[i] = same[layer] = map_layer(nests[i], target, compute_cycles=compute_i, fixed_energy_pj=fixed_i,
                                         objective=objective, name=names[i])
        if stored is not None:
            stored.put(nests[i], compute_i, fixed_i, out[i])
    if stored is not None:
        stored.save()
    return out


_NESTS: dict[int, tuple[weakref.ref, tuple[LoopNest, ...]]] = {}


def _nests(arrays: LayerArrays) -> tuple[LoopNest, ...]:
    """The loop nest of every layer, built once per LayerArrays (sweeps cost one graph many times)."""
    hit = _NESTS.get(id(arrays))
    if hit is not None and hit[0]() is arrays:
        return hit[1]
    nests = tuple(LoopNest(*(int(v) for v in row)) for row in arrays.nest)
    _NESTS[id(arrays)] = (weakref.ref(arrays, lambda _ref, key=id(arrays): _NESTS.pop(key, None)), nests)
    return nests


def _mapped_column(mappings: list[LayerMapping | None], attribute: str) -> np.ndarray:
    return np.array([getattr(m, attribute) if m is not None else 0.0 for m in mappings], dtype=float)


# ---------------------------------------------------------------- systolic arrays


def _estimate_systolic(graph: LayerGraph, accel: Accelerator, *, dataflow: str | None, mapping: str,
                       objective: str, fusion: FusionArrays, cache: bool = False) -> GraphCost:
    spec = accel.systolic
    flow = dataflow or spec.array.dataflow  # both checked: EstimateSettings and the template's schema
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    bufs = spec.buffers
    bits = spec.operand_bits
    in_b, w_b, out_b = bits.input_bytes, bits.weight_bytes, bits.output_bytes
    n_layers = len(arrays)
    compute = np.zeros(n_layers)
    dram_bytes = np.zeros(n_layers)
    sram = {name: np.zeros(n_layers) for name in ("ifmap", "filter", "ofmap")}
    mappings: list[LayerMapping | None] = [None] * n_layers
    if gemm.any():
        g = arrays.geometry[gemm]
        costs = systolic_costs(
            ident.gemm_m[gemm], ident.gemm_n[gemm], ident.gemm_k[gemm], rows=spec.array.rows,
            cols=spec.array.cols, dataflow=flow,
            ifmap_sram_words=capacity_words(bufs.ifmap.size_bytes, bits.input),
            filter_sram_words=capacity_words(bufs.filter.size_bytes, bits.weight),
            # SCALE-Sim has one word size, the operands'; its ofmap drain model only sets DRAM write timing here.
            # The mapper (best mode) sizes the ofmap buffer in partial sums of bits.output.
            ofmap_sram_words=capacity_words(bufs.ofmap.size_bytes, bits.input),
            conv=ConvGeometry(*(g[:, i] for i in range(6))),
        )
        batch = ident.gemm_batch[gemm]
        compute[gemm] = batch * costs.compute_cycles
        # Array-side accesses (SCALE-Sim's SRAM counts): the same whatever the DRAM-level mapping.
        array_if = batch * costs.ifmap_sram_reads_words * in_b * bufs.ifmap.read_energy_pj_per_byte
        array_fi = batch * costs.filter_sram_reads_words * w_b * bufs.filter.read_energy_pj_per_byte
        array_of = batch * costs.ofmap_sram_writes_real_words * out_b * bufs.ofmap.write_energy_pj_per_byte
        if mapping == "scalesim":
            if_dram = batch * costs.ifmap_dram_reads_words * in_b
            fi_dram = batch * costs.filter_dram_reads_words * w_b
            of_dram = batch * costs.ofmap_dram_writes_real_words * in_b  # outputs leave requantised to input width
            dram_bytes[gemm] = if_dram + fi_dram + of_dram
            sram["ifmap"][gemm] = array_if + if_dram * bufs.ifmap.write_energy_pj_per_byte
            sram["filter"][gemm] = array_fi + fi_dram * bufs.filter.write_energy_pj_per_byte
            sram["ofmap"][gemm] = array_of + of_dram * bufs.ofmap.read_energy_pj_per_byte
            folds = {"ws": ("K-fold", "C-fold"), "os": ("K-fold", "P-fold"), "is": ("P-fold", "C-fold")}[flow]
            for j, i in enumerate(np.flatnonzero(gemm)):
                nest = LoopNest(*(int(v) for v in arrays.nest[i])).canonical()
                mappings[i] = LayerMapping(
                    mode="scalesim", objective="-", order=folds, tiles=(), input_read_bytes=float(if_dram[j]),
                    weight_read_bytes=float(fi_dram[j]), output_write_bytes=float(of_dram[j]), psum_write_bytes=0.0,
                    psum_read_bytes=0.0, input_compulsory_bytes=nest.groups * nest.input_words * in_b,
                    weight_compulsory_bytes=nest.groups * nest.weight_words * w_b,
                    output_compulsory_bytes=nest.groups * nest.output_words * in_b,
                    psum_passes=int(costs.row_folds[j] if flow == "ws" else 1), candidates=1)
        else:
            target = map_target(memory_hierarchy(spec), spec, dataflow=flow)
            fixed = np.zeros(n_layers)
            fixed[gemm] = array_if + array_fi + array_of + ident.macs[gemm] * spec.mac_energy_pj
            mappings = map_layers(arrays, gemm, target, compute, fixed, objective, cache=cache)
            dram_bytes = _mapped_column(mappings, "dram_bytes")
            in_read = _mapped_column(mappings, "input_read_bytes")
            w_read = _mapped_column(mappings, "weight_read_bytes")
            out_w = _mapped_column(mappings, "output_write_bytes")
            spill = _mapped_column(mappings, "psum_write_bytes")
            sram["ifmap"][gemm] = array_if + in_read[gemm] * target.fill_input_pj_per_byte
            sram["filter"][gemm] = array_fi + w_read[gemm] * target.fill_weight_pj_per_byte
            sram["ofmap"][gemm] = array_of + (out_w[gemm] + spill[gemm]) * target.out_read_pj_per_byte \
                + spill[gemm] * target.out_write_pj_per_byte
    other_cycles, other_dram, other_sram, vector_pj = _non_gemm_costs(
        arrays, spec, fusion, act_read_pj=bufs.ifmap.read_energy_pj_per_byte,
        act_write_pj=bufs.ofmap.write_energy_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    terms = {"mac": ident.macs * spec.mac_energy_pj, "sram.ifmap": sram["ifmap"] + other_sram,
             "sram.filter": sram["filter"], "sram.ofmap": sram["ofmap"], "vector": vector_pj}
    assumptions = (
        f"GEMMs lowered and timed exactly as SCALE-Sim 3.0.0 does for a {spec.array.rows}x{spec.array.cols} "
        f"{flow} array (compute cycles = its 'Total Cycles'; array-side SRAM reads/writes = its counts)",
        "grouped/depthwise convs and batched matmuls run one GEMM per group or batch element on the whole "
        "array, one after another (utilisation follows from each GEMM's shape)",
    )
    if mapping == "scalesim":
        assumptions += ("mapping scalesim: DRAM words per GEMM operand as SCALE-Sim's double-buffered SRAMs fetch "
                        "them in its fold order (partial sums of every row fold written out at the input width)",)
    else:
        assumptions += (f"mapping best: each layer's loop order and buffer tiles chosen for minimum {objective} "
                        "under the buffer capacities (hwmap.cost.mapping); partial sums spill at the accumulator "
                        "width only when the reduction is split across tiles; outputs leave at the input width",)
    return _finish(graph, accel, arrays, compute, dram_bytes, terms,
                   {"dataflow": flow, "mapping": mapping, "objective": objective, "fusion": fusion.policy},
                   assumptions, mappings, fusion)


# ---------------------------------------------------------------- MAGNet-like vector-PE arrays


def _estimate_vector_pe(graph: LayerGraph, accel: Accelerator, *, objective: str,
                        fusion: FusionArrays, cache: bool = False) -> GraphCost:
    spec = accel.vector_pe
    arrays = layer_arrays(graph)
    ident = arrays.identity
    gemm = arrays.mask(UNIT_ARRAY)
    pe, bufs, gb = spec.pe_array, spec.pe_buffers, spec.global_buffer
    in_b, w_b, out_b = (spec.operand_bits.input_bytes, spec.operand_bits.weight_bytes,
                        spec.operand_bits.output_bytes)
    spatial = vector_pe_gemm(ident.gemm_batch, ident.gemm_m, ident.gemm_n, ident.gemm_k,
                             num_pes=pe.num_pes, lanes=pe.lanes, vector_width=pe.vector_width)
    compute = np.where(gemm, spatial.compute_cycles, 0.0)
    pe_pj = (spatial.input_buffer_reads * in_b * bufs.input.read_energy_pj_per_byte
             + spatial.weight_buffer_reads * w_b * bufs.weight.read_energy_pj_per_byte
             + spatial.accumulation_reads * out_b * bufs.accumulation.read_energy_pj_per_byte
             + spatial.accumulation_writes * out_b * bufs.accumulation.write_energy_pj_per_byte)
    # The global buffer feeds the PEs (inputs and weights, multicast) and takes their finished outputs.
    gb_array_pj = (spatial.global_buffer_reads * in_b * gb.read_energy_pj_per_byte
                   + spatial.global_buffer_writes * in_b * gb.write_energy_pj_per_byte)
    target = map_target(memory_hierarchy(spec), spec)
    fixed = np.where(gemm, pe_pj + gb_array_pj + ident.macs * spec.mac_energy_pj, 0.0)
    mappings = map_layers(arrays, gemm, target, compute, fixed, objective, cache=cache)
    dram_bytes = _mapped_column(mappings, "dram_bytes")
    gb_pj = np.where(gemm, gb_array_pj, 0.0) + _mapped_column(mappings, "buffer_energy_pj")
    other_cycles, other_dram, other_sram, vector_pj = _non_gemm_costs(
        arrays, spec, fusion, act_read_pj=gb.read_energy_pj_per_byte, act_write_pj=gb.write_energy_pj_per_byte)
    compute = compute + other_cycles
    dram_bytes = dram_bytes + other_dram
    terms = {"mac": ident.macs * spec.mac_energy_pj, "sram.pe_buffers": np.where(gemm, pe_pj, 0.0),
             "sram.global": gb_pj + other_sram, "vector": vector_pj}
    assumptions = (
        f"GEMM spatial mapping: k along the {pe.vector_width}-wide vectors, n across {pe.lanes} lanes sharing a "
        f"broadcast input, m split over {pe.num_pes} PEs; depthwise convs use one lane (see hwmap.cost.vector)",
        f"each layer's loop order and global-buffer tiles chosen for minimum {objective} under the global buffer's "
        "capacity (hwmap.cost.mapping); the global buffer stages every DRAM byte",
    )
    return _finish(graph, accel, arrays, compute, dram_bytes, terms,
                   {"mapping": "best", "objective": objective, "fusion": fusion.policy}, assumptions, mappings, fusion)
