"""Today's systolic and vector-PE templates as a neutral :class:`~hwmap.hardware.hierarchy.Hierarchy` (issue 17).

Built from :func:`hwmap.cost.memory.memory_hierarchy`, so capacities, energies and double buffering come from the
one place the cost models read them.
"""

from __future__ import annotations

import math

from hwmap.cost.memory import memory_hierarchy
from hwmap.errors import TemplateError
from hwmap.hardware.hierarchy import OPERANDS, Hierarchy, build_hierarchy
from hwmap.hardware.schema import SystolicSpec, VectorPESpec

__all__ = ["hierarchy_of"]


def hierarchy_of(accelerator) -> Hierarchy:
    """A systolic or vector-PE template as a Hierarchy, from :func:`hwmap.cost.memory.memory_hierarchy`'s levels.

    Capacities, per-byte energies, double buffering and DRAM bandwidth are memory.py's (energies are priced per
    byte there: ``access_width_bits`` = 8). Not in memory.py and so not here: the one-word PE registers a systolic
    array or a vector lane holds its stationary operand in (hwmap does not price them), per-level leakage (hwmap's
    static power is one template-wide number). Systolic: array axes rows x cols, the dataflow fixes the unrolling
    (ws: C on rows, K on columns; os: OX on rows, K on columns; is: C on rows, OX on columns, as SCALE-Sim).
    Vector-PE: axes pes x lanes x vector (OX, K, C).
    """
    spec = accelerator.spec
    memory = memory_hierarchy(spec)
    bits = memory.bits
    word = {"input": bits.input, "weight": bits.weight, "output": bits.psum}
    if isinstance(spec, SystolicSpec):
        axes = ("rows", "cols")
        array = (spec.array.rows, spec.array.cols)
        on_axes = {"ws": ("C", "K"), "os": ("OX", "K"), "is": ("C", "OX")}[spec.array.dataflow]
    elif isinstance(spec, VectorPESpec):
        axes = ("pes", "lanes", "vector")
        array = (spec.pe_array.num_pes, spec.pe_array.lanes, spec.pe_array.vector_width)
        on_axes = ("OX", "K", "C")
    else:
        raise TemplateError(f"{accelerator.name}: no memory hierarchy for template kind {spec.kind!r}")
    levels = []
    for level in memory.levels:
        mesh = (level.instances,) + (1,) * (len(axes) - 1)
        bounded = math.isfinite(level.size_bytes)
        levels.append({
            "name": level.name, "keeps": level.operands,
            "bypasses": tuple(op for op in OPERANDS if op not in level.operands),
            "capacity_bytes": level.size_bytes if bounded else None,
            "word_bits": max(word[op] for op in level.operands), "access_width_bits": 8,
            "energy": {"read_pj": level.read_pj_per_byte, "write_pj": level.write_pj_per_byte,
                       "update_pj": level.write_pj_per_byte},
            "read_bandwidth_bytes_per_cycle": level.bw_bytes_per_cycle,
            "write_bandwidth_bytes_per_cycle": level.bw_bytes_per_cycle,
            "mesh": mesh, "multiple_buffering": 2.0 if level.double_buffered else 1.0,
        })
    compute = {"name": "mac", "mac_energy_pj": spec.mac_energy_pj,
               "mac_width_bits": max(bits.input, bits.weight), "mesh": array,
               "systolic_axes": axes if isinstance(spec, SystolicSpec) else ()}
    spatial = [{"axis": axis, "dims": (dim,), "fixed": True} for axis, dim in zip(axes, on_axes, strict=True)]
    return build_hierarchy({"name": accelerator.name, "array_axes": axes, "levels": levels, "compute": compute,
                            "spatial": spatial}, source=accelerator.source or accelerator.name)
