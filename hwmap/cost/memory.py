"""One memory model for every CNN-accelerator kind: the template's memory hierarchy as data.

A :class:`MemoryHierarchy` lists the levels of a template from the outside in: DRAM, the on-chip buffers that
DRAM fills (one per operand, as the systolic kind's ifmap/filter/ofmap buffers, or one shared buffer, as the
vector-PE kind's global buffer), and the PE-local buffers/registers (the vector-PE kind's per-PE weight, input
and accumulation buffers; a systolic array's PE registers). Each level states which operands it holds, its
capacity in bytes, its per-byte read and write energy, its bandwidth where it has one, whether it is
double-buffered, and how many copies of it exist.

The mapper (:mod:`hwmap.cost.mapping`) tiles the loop nest of each layer for the *DRAM-facing* level (the level
DRAM fills) under that level's capacities; the levels inside it are fixed by the kind's spatial organisation (the
systolic array and its dataflow, the vector-PE lanes), whose access counts come from
:mod:`hwmap.cost.systolic` and :mod:`hwmap.cost.vector`. Adding a kind is adding a spatial organisation over this
model.

Word sizes come from bits: a buffer of ``size_bytes`` holds ``size_bytes * 8 // bits`` words, so an int4 buffer
holds twice the words of an int8 one and a 32-bit partial sum takes four bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwmap.errors import HwmapError
from hwmap.hardware.schema import Accelerator, Buffer, CnnAcceleratorSpec, SystolicSpec, VectorPESpec

OPERANDS: tuple[str, ...] = ("input", "weight", "output")


def capacity_words(size_bytes: int, bits: int) -> int:
    """Words of ``bits`` bits that fit in ``size_bytes`` bytes: 64 KiB holds 131072 int4, 65536 int8, 32768 fp16."""
    if bits < 1:
        raise HwmapError(f"word size must be >= 1 bit, got {bits}")
    return (int(size_bytes) * 8) // int(bits)


@dataclass(frozen=True, slots=True)
class WordBits:
    """Word widths in bits: operands, the partial sums (accumulator width) and outputs as they leave for DRAM.

    Assumes: outputs leave the accelerator requantised to the input width (the next layer's input format);
    partial sums that must leave before their reduction is complete leave at the accumulator width.
    """

    input: int
    weight: int
    psum: int
    output: int

    @property
    def input_bytes(self) -> float:
        return self.input / 8

    @property
    def weight_bytes(self) -> float:
        return self.weight / 8

    @property
    def psum_bytes(self) -> float:
        return self.psum / 8

    @property
    def output_bytes(self) -> float:
        return self.output / 8


@dataclass(frozen=True, slots=True)
class MemoryLevel:
    """One level of the hierarchy. DRAM has ``size_bytes = inf``."""

    name: str
    operands: tuple[str, ...]
    size_bytes: float
    read_pj_per_byte: float
    write_pj_per_byte: float
    bw_bytes_per_cycle: float | None = None
    double_buffered: bool = False
    instances: int = 1

    @property
    def usable_bytes(self) -> float:
        """Bytes one tile may use: half the level when double-buffered (the other half is being filled)."""
        return self.size_bytes / 2 if self.double_buffered else self.size_bytes

    def words(self, bits: int) -> int:
        return capacity_words(int(self.size_bytes), bits)


@dataclass(frozen=True, slots=True)
class MemoryHierarchy:
    """Levels from the outside in (DRAM first), and the word widths of the operands."""

    levels: tuple[MemoryLevel, ...]
    bits: WordBits

    @property
    def dram(self) -> MemoryLevel:
        return self.levels[0]

    def dram_facing(self, operand: str) -> MemoryLevel:
        """The on-chip level that DRAM fills with ``operand`` (the first level after DRAM holding it)."""
        for level in self.levels[1:]:
            if operand in level.operands:
                return level
        raise HwmapError(f"no on-chip level holds {operand!r}")

    @property
    def shared(self) -> bool:
        """Whether all operands share one DRAM-facing level (its capacity bounds the sum of their tiles)."""
        return len({self.dram_facing(op).name for op in OPERANDS}) == 1

    def level(self, name: str) -> MemoryLevel:
        for level in self.levels:
            if level.name == name:
                return level
        raise HwmapError(f"no memory level {name!r} (levels: {', '.join(lv.name for lv in self.levels)})")


def _level(name: str, operands: tuple[str, ...], buf: Buffer, *, instances: int = 1,
           double_buffered: bool | None = None) -> MemoryLevel:
    return MemoryLevel(name=name, operands=operands, size_bytes=float(buf.size_bytes),
                       read_pj_per_byte=buf.read_energy_pj_per_byte, write_pj_per_byte=buf.write_energy_pj_per_byte,
                       double_buffered=buf.double_buffered if double_buffered is None else double_buffered,
                       instances=instances)


def memory_hierarchy(spec: CnnAcceleratorSpec | Accelerator) -> MemoryHierarchy:
    """The memory hierarchy of a systolic or vector-PE template."""
    if isinstance(spec, Accelerator):
        spec = spec.spec  # type: ignore[assignment]
    bits = spec.operand_bits
    words = WordBits(input=bits.input, weight=bits.weight, psum=bits.output, output=bits.input)
    dram = MemoryLevel(name="dram", operands=OPERANDS, size_bytes=math.inf,
                       read_pj_per_byte=spec.dram.energy_pj_per_byte, write_pj_per_byte=spec.dram.energy_pj_per_byte,
                       bw_bytes_per_cycle=spec.dram.bw_bytes_per_cycle)
    if isinstance(spec, SystolicSpec):
        b = spec.buffers
        levels = (dram, _level("ifmap", ("input",), b.ifmap), _level("filter", ("weight",), b.filter),
                  _level("ofmap", ("output",), b.ofmap))
        return MemoryHierarchy(levels=levels, bits=words)
    if isinstance(spec, VectorPESpec):
        pe, n = spec.pe_buffers, spec.pe_array.num_pes
        levels = (dram, _level("global", OPERANDS, spec.global_buffer),
                  _level("pe.weight", ("weight",), pe.weight, instances=n),
                  _level("pe.input", ("input",), pe.input, instances=n),
                  _level("pe.accumulation", ("output",), pe.accumulation, instances=n))
        return MemoryHierarchy(levels=levels, bits=words)
    raise HwmapError(f"no memory hierarchy for template kind {spec.kind!r}")
