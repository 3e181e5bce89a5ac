"""The single-level mapper's projection of a CNN-accelerator kind's hardware view: levels, capacities, energies.

The ONE source of a template's memory is its kind's hardware view (``hardware_view`` of the kind's cost module,
:mod:`hwmap.cost.kinds`; a :class:`hwmap.hardware.hierarchy.Hierarchy`). It is the view that fits because it is
what every consumer needs at once: N levels with the operands each keeps, capacities, multiple buffering,
per-action energies, bandwidth and instances, the compute level and the spatial unrolling, in the form the
importers (Timeloop, ZigZag) produce and the multi-level mapper takes; this module's :class:`MemoryHierarchy` is
only a projection of it for the single-level mapper (:mod:`hwmap.cost.mapping` tiles the loop nest of each layer
for the *DRAM-facing* level, the level DRAM fills), so nothing here reads a template's buffers: a level's
``usable_bytes`` (half a double-buffered level) and its per-byte energies are the view's.

Word sizes come from bits: a buffer of ``size_bytes`` holds ``size_bytes * 8 // bits`` words, so an int4 buffer
holds twice the words of an int8 one and a 32-bit partial sum takes four bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwmap.errors import HwmapError
from hwmap.hardware.schema import Accelerator, CnnAcceleratorSpec

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
    multiple_buffering: float = 1.0
    instances: int = 1

    @property
    def double_buffered(self) -> bool:
        return self.multiple_buffering > 1

    @property
    def usable_bytes(self) -> float:
        """Bytes one tile may use: the view's usable bytes (half the level when double-buffered)."""
        return self.size_bytes / self.multiple_buffering

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


def memory_hierarchy(accelerator: Accelerator | CnnAcceleratorSpec) -> MemoryHierarchy:
    """The memory hierarchy of a CNN-accelerator template, projected from its kind's hardware view (a bare spec is
    taken as a template named after its kind)."""
    from hwmap.cost.kinds import hardware_view

    if not isinstance(accelerator, Accelerator):
        accelerator = Accelerator(name=accelerator.kind, spec=accelerator)
    view = hardware_view(accelerator)
    bits = accelerator.spec.operand_bits
    words = WordBits(input=bits.input, weight=bits.weight, psum=bits.output, output=bits.input)
    levels = tuple(
        MemoryLevel(name=level.name, operands=level.keeps,
                    size_bytes=math.inf if level.capacity_bytes is None else level.capacity_bytes,
                    read_pj_per_byte=level.read_pj_per_byte, write_pj_per_byte=level.write_pj_per_byte,
                    bw_bytes_per_cycle=level.read_bandwidth_bytes_per_cycle,
                    multiple_buffering=level.multiple_buffering, instances=level.instances)
        for level in view.levels)
    return MemoryHierarchy(levels=levels, bits=words)
