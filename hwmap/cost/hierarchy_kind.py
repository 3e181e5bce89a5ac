"""Cost module of ``kind: hierarchy`` (issue 17): the three functions of the kind protocol.

GEMM-like layers (convs, linear layers, matmuls) are mapped by the multi-level mapper
(:func:`hwmap.cost.multilevel.search.map_problem`, objective from the settings): their compute cycles are the
mapping's (the product of its temporal loops: one MAC per used PE per cycle), their stall cycles the excess of
the slowest level's bandwidth-limited transfers over them, their energy the per-level, per-action access energy
of every level (one energy term per level, ``level.<name>``), the MACs (``mac``) and the levels' and MACs'
leakage (``leakage``). Non-GEMM work runs on the optional vector unit and through DRAM exactly as on the other
CNN kinds (:func:`hwmap.cost.cnn.non_gemm_costs`), its buffer accesses priced at the first level below
DRAM that keeps inputs. Static power x cycles is the ``static`` term. Each distinct layer shape is mapped once per
process (and hierarchy, objective and word widths).
"""

from __future__ import annotations

import numpy as np

from hwmap.cost.cnn import COMMON_ASSUMPTIONS, fusion_arrays, non_gemm_costs, stalls
from hwmap.cost.layers import layer_arrays
from hwmap.cost.multilevel import problem_of
from hwmap.cost.multilevel.search import MappedProblem, map_problem
from hwmap.cost.result import UNIT_ARRAY, UNIT_DMA, UNIT_VECTOR, GraphCost, layer_costs, whole_numbers
from hwmap.errors import TemplateError
from hwmap.hardware.hierarchy import Hierarchy, SpatialUnrolling

__all__ = ["clear_cache", "estimate", "hardware_view", "map_layer", "spatial_space"]

_MAPPED: dict[tuple, MappedProblem] = {}
_MAPPED_MAX = 4096


def hardware_view(accelerator) -> Hierarchy:
    """The template's checked Hierarchy."""
    return accelerator.spec.built(accelerator.name, source=accelerator.source or accelerator.name)


def spatial_space(accelerator, settings) -> tuple[SpatialUnrolling, ...]:
    """The template's spatial unrollings (free entries leave the choice to the mapper)."""
    return hardware_view(accelerator).spatial


def _bits(spec) -> dict[str, int]:
    """Word widths as the other CNN kinds use them: operand_bits.output is the accumulator (partial-sum) width;
    outputs leave for DRAM requantised to the input width."""
    b = spec.operand_bits
    return {"input": b.input, "weight": b.weight, "psum": b.output, "output": b.input}


def map_layer(hierarchy: Hierarchy, problem, *, objective: str, bits: dict[str, int]) -> MappedProblem:
    """map_problem, cached in process per (hierarchy, layer shape, objective, word widths)."""
    key = (hierarchy.model_dump_json(), problem.shape_key(), objective, tuple(sorted(bits.items())))
    hit = _MAPPED.get(key)
    if hit is None:
        hit = map_problem(hierarchy, problem, objective=objective, operand_bits=bits)
        if len(_MAPPED) >= _MAPPED_MAX:
            _MAPPED.pop(next(iter(_MAPPED)))
        _MAPPED[key] = hit
    return hit


def clear_cache() -> None:
    _MAPPED.clear()


def estimate(graph, accelerator, settings, *, cache: bool = False) -> GraphCost:
    """Cost of every layer of ``graph`` on a hierarchy template (see the module docstring). ``cache`` (the
    on-disk mapping cache of the single-level mapper) does not apply: mappings are cached in process only."""
    spec = accelerator.spec
    h = hardware_view(accelerator)
    arrays = layer_arrays(graph)
    fusion = fusion_arrays(graph, settings.fusion or "epilogue")
    n = len(arrays)
    gemm, vector = arrays.mask(UNIT_ARRAY), arrays.mask(UNIT_VECTOR)
    if (vector & ~fusion.folded).any() and spec.vector_unit is None:
        first = arrays.identity.names[int(np.flatnonzero(vector & ~fusion.folded)[0])]
        raise TemplateError(f"{accelerator.source or accelerator.name}: vector_unit: missing, but {graph.model} "
                            f"has non-GEMM layers ({first}, ...) that run on it; add a vector_unit section (lanes, "
                            f"op_energy_pj, ops_per_cycle_per_lane; e.g. `vector_unit: {{lanes: 14, op_energy_pj: "
                            f"1.5}}` as eyeriss_like has), or cost its conv/GEMM layers alone with `hwmap map`")
    bits = _bits(spec)
    terms = {f"level.{lv.name}": np.zeros(n) for lv in h.levels}
    terms.update(mac=np.zeros(n), leakage=np.zeros(n))
    compute, stall, dram_bytes = np.zeros(n), np.zeros(n), np.zeros(n)
    mappings: list = [None] * n
    for i in np.flatnonzero(gemm):
        mapped = map_layer(h, problem_of(graph.nodes[i]), objective=settings.objective, bits=bits)
        r = mapped.result
        mappings[i] = mapped
        compute[i], stall[i] = r.compute_cycles, r.cycles - r.compute_cycles
        for lv in h.levels:
            energy = r.level_energy_pj[lv.name]
            terms[f"level.{lv.name}"][i] = energy["read"] + energy["write"] + energy["update"]
            terms["leakage"][i] += energy["leakage"]
        terms["mac"][i] = r.macs * h.compute.mac_energy_pj
        terms["leakage"][i] += r.mac_energy_pj - terms["mac"][i]
        outer = h.levels[0]
        dram_bytes[i] = sum(a.read_words + a.write_words + a.update_words for a in r.accesses
                            if a.level == outer.name) * outer.access_width_bits / 8
    other = _vector_side(arrays, spec, h, fusion)
    if other is not None:
        other_cycles, other_dram, other_sram, vector_pj = other
        compute += other_cycles
        dram_bytes += other_dram
        stall += stalls(other_cycles, other_dram, spec.dram.bw_bytes_per_cycle, arrays.mask(UNIT_DMA))
        terms[f"level.{h.levels[0].name}"] += other_dram * h.levels[0].read_pj_per_byte
        terms[f"level.{_activation_level(h).name}"] += other_sram
        terms["vector"] = vector_pj
    return _graph_cost(graph, accelerator, arrays, compute, stall, dram_bytes, terms, mappings, fusion, settings)


def _activation_level(h: Hierarchy):
    """The level non-GEMM layers read and write activations in: the first below DRAM that keeps inputs."""
    return next((lv for lv in h.levels[1:] if "input" in lv.keeps), h.levels[0])


def _vector_side(arrays, spec, h: Hierarchy, fusion):
    if spec.vector_unit is None:
        return None
    level = _activation_level(h)
    return non_gemm_costs(arrays, spec, h, fusion, act_read_pj=level.read_pj_per_byte,
                           act_write_pj=level.write_pj_per_byte)


def _graph_cost(graph, accelerator, arrays, compute, stall, dram_bytes, terms, mappings, fusion,
                settings) -> GraphCost:
    spec = accelerator.spec
    what = f"{graph.model} on {accelerator.name}"
    names = arrays.identity.names
    compute = whole_numbers(compute, field_name="compute_cycles", names=names, what=what)
    stall = whole_numbers(stall, field_name="stall_cycles", names=names, what=what)
    terms["static"] = (compute + stall) * spec.static_energy_pj_per_cycle
    layers = layer_costs(arrays.identity, freq_mhz=float(spec.freq_mhz),
                         peak_macs_per_cycle=float(accelerator.peak_macs_per_cycle), compute_cycles=compute,
                         stall_cycles=stall, energy_terms_pj=terms, dram_bytes=dram_bytes, mappings=mappings,
                         fusion=fusion.per_layer, what=what)
    notes = (f"unsupported operators costed as zero: {graph.unsupported_summary()}",) if graph.unsupported else ()
    assumptions = COMMON_ASSUMPTIONS[:1] + COMMON_ASSUMPTIONS[2:] + (
        "GEMM-like layers mapped by the multi-level mapper (hwmap.cost.multilevel.search) for minimum "
        f"{settings.objective}: spatial unrolling, tiles, loop order and bypass at every level; cycles = "
        "max(the mapping's compute cycles, every level's bandwidth-limited transfer cycles)",
        "per-level accesses per the analytical model of hwmap.cost.multilevel.evaluate (refetch on irrelevant "
        "loops above the innermost relevant one, multicast over irrelevant spatial loops, partial sums spilled "
        "and re-read when reduction loops lie above a level)",
    )
    return GraphCost(model=graph.model, accelerator=accelerator.name, kind=accelerator.kind,
                     freq_mhz=float(spec.freq_mhz), peak_macs_per_cycle=float(accelerator.peak_macs_per_cycle),
                     layers=layers, assumptions=assumptions, notes=notes + graph.notes,
                     settings={"mapping": "multilevel", "objective": settings.objective, "fusion": fusion.policy},
                     fused=fusion.described)
