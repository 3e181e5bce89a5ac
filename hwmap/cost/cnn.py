"""What the CNN-accelerator kinds (systolic, vector_pe) share: their hardware view, the fusion plan as columns,
non-GEMM layers on the vector unit, DRAM stalls, the mapper's target and the GraphCost they finish with.

The hardware view (:func:`cnn_view`) is the ONE route by which a template's buffers reach the cost: capacities,
double buffering (a double-buffered buffer offers a tile half its bytes: ``multiple_buffering`` 2), per-byte
energies and DRAM bandwidth are read from the template here and nowhere else; the mapper's target
(:func:`map_target`, through :func:`hwmap.cost.memory.memory_hierarchy`), the array cycle models
(:mod:`hwmap.cost.systolic_kind`, :mod:`hwmap.cost.vector_pe_kind`), the traffic bounds and the exporters read
the view.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from hwmap.cost.layers import LayerArrays
from hwmap.cost.mapping import LayerMapping, LoopNest, MapTarget, map_layer
from hwmap.cost.memory import MemoryHierarchy
from hwmap.cost.result import UNIT_DMA, UNIT_VECTOR, GraphCost, layer_costs, whole_numbers
from hwmap.cost.settings import EstimateSettings
from hwmap.cost.vector import vector_unit_cycles
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.hierarchy import OPERANDS, Hierarchy, SpatialUnrolling, build_hierarchy
from hwmap.hardware.schema import Accelerator, Buffer, CnnAcceleratorSpec
from hwmap.vocabulary import DATAFLOWS

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


def non_gemm_costs(arrays: LayerArrays, spec: CnnAcceleratorSpec, view: Hierarchy, fusion: FusionArrays, *,
                   act_read_pj: float, act_write_pj: float):
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
    dma_cycles = np.where(dma, dram_bytes / dram_level(view).read_bytes_per_cycle, 0.0)
    sram_pj = np.where(vector & live, arrays.input_elements * act_bytes * act_read_pj
                       + arrays.output_elements * act_bytes * act_write_pj, 0.0)
    vector_pj = np.where((vector | dma) & live, arrays.vector_ops * vu.op_energy_pj, 0.0)
    return cycles + dma_cycles, dram_bytes, sram_pj, vector_pj


def stalls(compute_cycles: np.ndarray, dram_bytes: np.ndarray, bw_bytes_per_cycle: float,
            transfer_only: np.ndarray) -> np.ndarray:
    stall = np.maximum(0.0, dram_bytes / bw_bytes_per_cycle - compute_cycles)
    return np.where(transfer_only, 0.0, stall)


def finish(graph, accel, view: Hierarchy, arrays, compute, dram_bytes, terms, settings, assumptions,
           mappings=(), fusion: FusionArrays | None = None) -> GraphCost:
    """The GraphCost of a CNN-accelerator kind: whole cycles and bytes per layer (rounded up: a layer cannot end
    mid-cycle nor move part of a byte), DRAM stalls beyond compute, and the cycle-dependent energy terms."""
    spec = accel.spec
    what = f"{graph.model} on {accel.name}"
    names = arrays.identity.names
    compute = whole_numbers(compute, field_name="compute_cycles", names=names, what=what)
    dram_bytes = whole_numbers(dram_bytes, field_name="dram_bytes", names=names, what=what)
    dram = dram_level(view)
    stall = whole_numbers(stalls(compute, dram_bytes, dram.read_bytes_per_cycle, arrays.mask(UNIT_DMA)),
                          field_name="stall_cycles", names=names, what=what)
    cycles = compute + stall
    terms = {**terms, "dram": dram_bytes * dram.read_pj_per_byte,
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


def spatial_floor(spec: CnnAcceleratorSpec, dataflow: str | None = None, *,
                  accelerator: Accelerator | None = None) -> tuple[int, int]:
    """(K, C) a buffer tile must at least hold: the array's spatial unrolling of the weight dimensions, read from
    the kind's spatial space (its cost module's ``spatial_space``) over the hardware view's array.

    SCALE-Sim's (array rows, array cols): os (m, n), ws (k, n), is (k, m), with GEMM m = P, n = K, k = C; the
    vector-PE kind runs K across lanes and C along the vectors. P (pixels) is not floored: output-stationary
    partial sums live in the PEs, and pixels split over PEs need no common tile. accelerator: the template spec
    belongs to, when the caller has it (its view is already built); else spec is taken as a template named after
    its kind.
    """
    from hwmap.cost.kinds import cost_module, hardware_view

    accel = accelerator if accelerator is not None else Accelerator(name=spec.kind, spec=spec)
    space = cost_module(spec.kind).spatial_space(accel, _DATAFLOW_SETTINGS[dataflow])
    view = hardware_view(accel)
    return unrolled(view, space, "K"), unrolled(view, space, "C")


# The settings a dataflow override stands for, made once (an estimate makes its settings exactly once).
_DATAFLOW_SETTINGS = {flow: EstimateSettings(dataflow=flow) for flow in (None, *DATAFLOWS)}


def unrolled(view: Hierarchy, space: tuple[SpatialUnrolling, ...], dim: str) -> int:
    """How many PEs a loop dimension spreads over: the product of the array axes that unroll it (1 if none)."""
    return math.prod(view.compute.mesh[view.array_axes.index(u.axis)] for u in space if dim in u.dims)


def map_target(memory: MemoryHierarchy, spec: CnnAcceleratorSpec, *, dataflow: str | None = None,
               accelerator: Accelerator | None = None) -> MapTarget:
    """The mapper's view of a template: DRAM-facing capacities and per-byte energies from its memory model."""
    min_k, min_c = spatial_floor(spec, dataflow, accelerator=accelerator)
    b = memory.bits
    lin, lw, lout = (memory.dram_facing(op) for op in ("input", "weight", "output"))
    return MapTarget(
        input_bytes=b.input_bytes, weight_bytes=b.weight_bytes, psum_bytes=b.psum_bytes, output_bytes=b.output_bytes,
        cap_input=lin.usable_bytes, cap_weight=lw.usable_bytes, cap_output=lout.usable_bytes, shared=memory.shared,
        dram_pj_per_byte=memory.dram.read_pj_per_byte, fill_input_pj_per_byte=lin.write_pj_per_byte,
        fill_weight_pj_per_byte=lw.write_pj_per_byte, out_read_pj_per_byte=lout.read_pj_per_byte,
        out_write_pj_per_byte=lout.write_pj_per_byte, dram_bw_bytes_per_cycle=float(memory.dram.bw_bytes_per_cycle),
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


def mapped_column(mappings: list[LayerMapping | None], attribute: str) -> np.ndarray:
    return np.array([getattr(m, attribute) if m is not None else 0.0 for m in mappings], dtype=float)



# ---------------------------------------------------------------- the hardware view of a CNN-accelerator template


def dram_level(view: Hierarchy):
    """The outermost level of a view: DRAM (its bandwidth and per-byte energy)."""
    return view.levels[0]


def cnn_view(accelerator: Accelerator, *, axes: tuple[str, ...], array: tuple[int, ...], on_axes: tuple[str, ...],
             buffers: tuple[tuple[str, tuple[str, ...], Buffer, int], ...], systolic: bool) -> Hierarchy:
    """A CNN-accelerator template as a checked Hierarchy: DRAM, then ``buffers`` (name, operands kept, the
    template's Buffer, instances along the first array axis), a MAC array of ``array`` PEs on ``axes`` with
    ``on_axes[i]`` unrolled on ``axes[i]`` (fixed).

    Energies are the template's per-byte figures as per-access energies of ``access_width_bits`` 8 (so
    ``read_pj_per_byte`` is the template's number exactly); a double-buffered buffer has ``multiple_buffering``
    2 (a tile may use half of it); DRAM has the template's bandwidth, the on-chip buffers none (the array models
    never stall on SRAM, as SCALE-Sim). Not in the view: the one-word PE registers a systolic array or a vector
    lane holds its stationary operand in (hwmap does not price them), per-level leakage (the templates' static
    power is one template-wide figure from their ``leakage`` section).
    """
    spec = accelerator.spec
    bits = spec.operand_bits
    word = {"input": bits.input, "weight": bits.weight, "output": bits.output}

    def level(name, keeps, capacity, read_pj, write_pj, bandwidth, instances, buffering) -> dict:
        return {"name": name, "keeps": keeps, "bypasses": tuple(op for op in OPERANDS if op not in keeps),
                "capacity_bytes": capacity, "word_bits": max(word[op] for op in keeps), "access_width_bits": 8,
                "energy": {"read_pj": read_pj, "write_pj": write_pj, "update_pj": write_pj},
                "read_bandwidth_bytes_per_cycle": bandwidth, "write_bandwidth_bytes_per_cycle": bandwidth,
                "mesh": (instances,) + (1,) * (len(axes) - 1), "multiple_buffering": buffering}

    dram = spec.dram
    levels = [level("dram", OPERANDS, None, dram.energy_pj_per_byte, dram.energy_pj_per_byte,
                    dram.bw_bytes_per_cycle, 1, 1.0)]
    levels += [level(name, keeps, float(buf.size_bytes), buf.read_energy_pj_per_byte, buf.write_energy_pj_per_byte,
                     None, instances, buf.multiple_buffering)
               for name, keeps, buf, instances in buffers]
    compute = {"name": "mac", "mac_energy_pj": spec.mac_energy_pj, "mac_width_bits": max(bits.input, bits.weight),
               "mesh": array, "systolic_axes": axes if systolic else ()}
    return build_hierarchy({"name": accelerator.name, "array_axes": axes, "levels": levels, "compute": compute,
                            "spatial": fixed_unrolling(axes, on_axes)}, source=accelerator.source or accelerator.name)


def fixed_unrolling(axes: tuple[str, ...], on_axes: tuple[str, ...]) -> tuple[SpatialUnrolling, ...]:
    """One loop dimension fixed on each array axis (a systolic dataflow, the vector-PE organisation)."""
    return tuple(SpatialUnrolling(axis=axis, dims=(dim,), fixed=True) for axis, dim in zip(axes, on_axes, strict=True))
