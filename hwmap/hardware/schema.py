"""Accelerator templates: strict schema, semantic pass, and the frozen Accelerator the cost models read.

Two template kinds ship with hwmap, told apart by the ``kind`` key:

- ``systolic``: a rows x cols MAC array with ifmap/filter/ofmap SRAM buffers (SCALE-Sim's template, with energy).
- ``vector_pe``: PEs of vector MAC lanes with per-PE weight/input/accumulation buffers and a global buffer
  (after MAGNet, Venkatesan et al., ICCAD 2019, and Simba, Shao et al., MICRO 2019).

Other kinds (``gpu``) plug in by subclassing :class:`TemplateSpec` and registering in :mod:`hwmap.hardware.kinds`.

Every numeric key names its unit (DESIGN.md convention 4). Validation is two passes: the pydantic schema
(structure, types, ranges, plausibility bounds), then, once that passes, a semantic pass (cross-field checks).
All problems of a pass are collected and raised as ONE :class:`~hwmap.errors.TemplateError` whose message names
the file and the dotted field path of each problem, joined with ``'; '``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwmap.errors import TemplateError
from hwmap.vocabulary import DATAFLOWS

__all__ = [
    "Accelerator",
    "Area",
    "Buffer",
    "CnnAcceleratorSpec",
    "Dataflow",
    "Dram",
    "Leakage",
    "OperandBits",
    "PEArray",
    "PEBuffers",
    "Precision",
    "Problem",
    "StrictModel",
    "SystolicArray",
    "SystolicBuffers",
    "SystolicSpec",
    "Technology",
    "TemplateSpec",
    "VectorPESpec",
    "VectorUnit",
    "register_template_kind",
    "registered_kinds",
    "schema_for_kind",
    "validate_template",
]

SCHEMA_VERSION = 3  # of the CNN-accelerator kinds (systolic, vector_pe); versions 1 and 2 are migrated on load
BASE_SCHEMA_VERSION = 1  # of TemplateSpec and kinds that do not override it (gpu)

Dataflow = Literal[DATAFLOWS]  # type: ignore[valid-type]
Precision = Literal["int4", "int8", "int16", "fp16", "bf16", "fp32"]
PRECISION_BITS: dict[str, int] = {"int4": 4, "int8": 8, "int16": 16, "fp16": 16, "bf16": 16, "fp32": 32}

# Plausibility ceilings (schema bounds, reported with the hints below). Generous on purpose: they catch unit slips
# (nJ written as pJ, GHz as MHz), not unusual designs. Horowitz (ISSCC 2014, 45 nm) puts a 32-bit float multiply at
# 3.7 pJ, so no MAC or vector op of a template should cost 100 pJ; a clock above 10 GHz is a unit slip.
MAX_PLAUSIBLE_OP_ENERGY_PJ = 100.0
MAX_PLAUSIBLE_FREQ_MHZ = 10_000.0
MAX_PLAUSIBLE_STATIC_POWER_MW = 1_000_000.0  # 1 kW
MAX_PLAUSIBLE_NODE_NM = 1_000
# Domain bounds (issue 10): no template may yield an infinite or NaN latency or energy. A clock below 1 MHz, a DRAM
# bandwidth below 0.001 byte per cycle, an array edge above 65536 or a buffer above 1 TiB is not a design hwmap
# models; per-byte energies above 1e5 pJ (100 nJ) are unit slips.
MIN_FREQ_MHZ = 1.0
MIN_BW_BYTES_PER_CYCLE = 1e-3
MAX_BW_BYTES_PER_CYCLE = 1e6
MAX_PLAUSIBLE_BYTE_ENERGY_PJ = 1e5
MAX_SIZE_BYTES = 2**40
MAX_ARRAY_EDGE = 65_536
MAX_COUNT = 1 << 20  # PEs, lanes, vector width, vector lanes
MAX_AREA_UM2_PER_UNIT = 1e9  # 1000 mm^2
MAX_LEAKAGE_UW_PER_UNIT = 1e6  # 1 W per unit


# --------------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------------


class StrictModel(BaseModel):
    """Base of every template model: unknown keys rejected, no type coercion, no NaN/inf, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Technology(StrictModel):
    node_nm: int = Field(gt=0, le=MAX_PLAUSIBLE_NODE_NM, description="process node the energy/area numbers assume")
    precision: Precision = Field(description="operand format the MACs and buffers are sized for")


class OperandBits(StrictModel):
    """Word sizes. SCALE-Sim has one word size; here inputs/weights and outputs (accumulators) differ."""

    input: int = Field(ge=1, le=64)
    weight: int = Field(ge=1, le=64)
    output: int = Field(ge=1, le=64, description="accumulator / partial-sum width")

    @property
    def input_bytes(self) -> float:
        return self.input / 8

    @property
    def weight_bytes(self) -> float:
        return self.weight / 8

    @property
    def output_bytes(self) -> float:
        return self.output / 8


class Buffer(StrictModel):
    """One on-chip SRAM buffer."""

    size_bytes: int = Field(gt=0, le=MAX_SIZE_BYTES)
    read_energy_pj_per_byte: float = Field(ge=0, le=MAX_PLAUSIBLE_BYTE_ENERGY_PJ)
    write_energy_pj_per_byte: float = Field(ge=0, le=MAX_PLAUSIBLE_BYTE_ENERGY_PJ)
    double_buffered: bool = Field(
        description="half the buffer is filled while the other half is used (a tile may use half of it); "
                    "required from schema_version 3 (versions 1 and 2 default it to true when migrated)",
    )

    @property
    def multiple_buffering(self) -> float:
        """Copies of a tile the buffer holds at once: 2 when double-buffered (a tile may use 1/2 of it), else 1.
        The one place this fact is derived: the hardware view (hwmap.cost.cnn.cnn_view) and the semantic checks
        below read it."""
        return 2.0 if self.double_buffered else 1.0


class Dram(StrictModel):
    bw_bytes_per_cycle: float = Field(ge=MIN_BW_BYTES_PER_CYCLE, le=MAX_BW_BYTES_PER_CYCLE,
                                      description="off-chip bandwidth in bytes per accelerator clock cycle")
    energy_pj_per_byte: float = Field(ge=0, le=MAX_PLAUSIBLE_BYTE_ENERGY_PJ)


class VectorUnit(StrictModel):
    """The unit that runs non-GEMM work (elementwise, softmax, norms, pooling)."""

    lanes: int = Field(ge=1, le=MAX_COUNT)
    op_energy_pj: float = Field(ge=0, lt=MAX_PLAUSIBLE_OP_ENERGY_PJ)
    ops_per_cycle_per_lane: int = Field(default=1, ge=1, le=1024)


class Area(StrictModel):
    """Per-unit area proxy for design-space exploration (not a layout estimate)."""

    mac_um2: float = Field(gt=0, le=MAX_AREA_UM2_PER_UNIT)
    sram_um2_per_byte: float = Field(gt=0, le=MAX_AREA_UM2_PER_UNIT)
    vector_lane_um2: float = Field(gt=0, le=MAX_AREA_UM2_PER_UNIT)
    dram_interface_um2_per_byte_per_cycle: float = Field(
        default=0.0, ge=0, le=MAX_AREA_UM2_PER_UNIT,
        description="DRAM interface (PHY and controller) area per byte per cycle of bandwidth")
    source: str = Field(min_length=1, description="where the per-unit numbers come from")


class Leakage(StrictModel):
    """Static power (leakage and clock) per component, so that it follows the design's size (schema_version 2)."""

    mac_uw: float = Field(ge=0, le=MAX_LEAKAGE_UW_PER_UNIT, description="per MAC unit")
    sram_nw_per_byte: float = Field(ge=0, le=MAX_LEAKAGE_UW_PER_UNIT, description="per byte of on-chip SRAM")
    vector_lane_uw: float = Field(ge=0, le=MAX_LEAKAGE_UW_PER_UNIT, description="per vector-unit lane")
    dram_interface_uw_per_byte_per_cycle: float = Field(
        ge=0, le=MAX_LEAKAGE_UW_PER_UNIT, description="DRAM interface (PHY, controller) per byte/cycle of bandwidth")
    source: str = Field(min_length=1, description="where the per-unit numbers come from")


class SystolicArray(StrictModel):
    rows: int = Field(ge=1, le=MAX_ARRAY_EDGE)
    cols: int = Field(ge=1, le=MAX_ARRAY_EDGE)
    dataflow: Dataflow


class SystolicBuffers(StrictModel):
    ifmap: Buffer
    filter: Buffer
    ofmap: Buffer


class PEArray(StrictModel):
    """num_pes PEs; each PE has `lanes` vector MAC units, each a dot product of `vector_width` inputs per cycle."""

    num_pes: int = Field(ge=1, le=MAX_COUNT)
    lanes: int = Field(ge=1, le=MAX_COUNT)
    vector_width: int = Field(ge=1, le=MAX_COUNT)


class PEBuffers(StrictModel):
    """Buffers of ONE PE (every PE has its own copy)."""

    weight: Buffer
    input: Buffer
    accumulation: Buffer


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a template: a dotted field path ("" for the document) and what was expected."""

    path: str
    message: str

    def render(self, source: str, line: int | None = None) -> str:
        where = f"{self.path}: " if self.path else ""
        at = f" (line {line})" if line is not None else ""
        return f"{source}: {where}{self.message}{at}"


class TemplateSpec(StrictModel):
    """Base of every template kind. Subclasses fix ``kind`` with a Literal and add their sections.

    A registered kind may override :meth:`semantic_problems` (cross-field checks, called after the schema passed),
    :attr:`peak_macs_per_cycle` and :attr:`area_um2`.
    """

    SCHEMA_VERSION: ClassVar[int] = BASE_SCHEMA_VERSION
    MIGRATED_VERSIONS: ClassVar[tuple[int, ...]] = ()  # older schema_versions that migrate() reads
    schema_version: Literal[1]
    kind: str
    description: str = Field(min_length=1)

    @classmethod
    def migrate(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """An older schema_version document of this kind as the current one (unchanged here: nothing to migrate).
        Called before validation on a mapping whose kind is this class's."""
        return data

    def semantic_problems(self) -> list[Problem]:
        return []

    @property
    def peak_macs_per_cycle(self) -> int:
        raise NotImplementedError(f"kind {self.kind!r} defines no peak_macs_per_cycle")

    @property
    def area_um2(self) -> float | None:
        return None


class CnnAcceleratorSpec(TemplateSpec):
    """Fields shared by the systolic and vector_pe kinds.

    schema_version 3 (current): every buffer states ``double_buffered`` (required): it is the multiple buffering
    of the buffer's level in the kind's hardware view (:mod:`hwmap.cost.kinds`: a double-buffered buffer offers a
    tile half its bytes), so the view reads it from the file instead of from a default. Nothing else changed.
    schema_version 2: static power comes from per-component ``leakage``; ``static_power_mw`` is an optional fixed
    term (default 0); buffers may state ``double_buffered`` (default true); ``area`` may price the DRAM interface.
    Older files are migrated on load (:meth:`migrate`): a version-1 file's ``static_power_mw`` becomes the fixed
    term and its leakage components are zero (so its static power does not follow a sweep: say so by moving to
    version 3); a buffer of a version-1 or -2 file without ``double_buffered`` is double-buffered (their default).
    """

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION
    MIGRATED_VERSIONS: ClassVar[tuple[int, ...]] = (1, 2)
    schema_version: Literal[3]  # type: ignore[assignment]
    technology: Technology
    freq_mhz: float = Field(ge=MIN_FREQ_MHZ, le=MAX_PLAUSIBLE_FREQ_MHZ)
    operand_bits: OperandBits
    dram: Dram
    mac_energy_pj: float = Field(
        ge=0,
        lt=MAX_PLAUSIBLE_OP_ENERGY_PJ,
        description="one multiply-accumulate at operand_bits, accumulate included",
    )
    vector_unit: VectorUnit
    leakage: Leakage
    static_power_mw: float = Field(
        default=0.0, ge=0, le=MAX_PLAUSIBLE_STATIC_POWER_MW,
        description="fixed static power not tied to a component (control, clock tree), paid every cycle",
    )
    area: Area | None = None

    @classmethod
    def migrate(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A schema_version 1 or 2 document as version 3; every field path is unchanged, so messages about the
        file name the same paths. A version-1 file without ``leakage`` gets the all-zero section (its fixed
        static_power_mw keeps its static power exactly); a buffer without ``double_buffered`` gets true."""
        version = data.get("schema_version")
        if type(version) is not int or version not in cls.MIGRATED_VERSIONS:
            return data
        data = {**data, "schema_version": SCHEMA_VERSION}
        if version == 1 and "leakage" not in data:
            data["leakage"] = dict(_V1_LEAKAGE)
        return _default_double_buffered(data)

    @property
    def total_sram_bytes(self) -> int:
        raise NotImplementedError

    @property
    def vector_lanes(self) -> int:
        return self.vector_unit.lanes

    @property
    def total_static_power_mw(self) -> float:
        """static_power_mw + (MACs * mac_uw + vector lanes * vector_lane_uw + DRAM bytes/cycle *
        dram_interface_uw_per_byte_per_cycle) / 1e3 + SRAM bytes * sram_nw_per_byte / 1e6."""
        lk = self.leakage
        return (self.static_power_mw
                + (self.peak_macs_per_cycle * lk.mac_uw + self.vector_lanes * lk.vector_lane_uw
                   + self.dram.bw_bytes_per_cycle * lk.dram_interface_uw_per_byte_per_cycle) / 1e3
                + self.total_sram_bytes * lk.sram_nw_per_byte / 1e6)

    @property
    def static_energy_pj_per_cycle(self) -> float:
        """total static power (mW) * 1e-3 W / (freq_mhz * 1e6 cycles/s) * 1e12 pJ/J = mW * 1e3 / freq_mhz."""
        return self.total_static_power_mw * 1e3 / self.freq_mhz

    @property
    def area_um2(self) -> float | None:
        """MACs * mac_um2 + SRAM bytes * sram_um2_per_byte + vector lanes * vector_lane_um2
        + DRAM bytes/cycle * dram_interface_um2_per_byte_per_cycle.

        Assumes: no wires, control or I/O; a proxy for comparing design points, not a layout estimate.
        """
        if self.area is None:
            return None
        return (
            self.peak_macs_per_cycle * self.area.mac_um2
            + self.total_sram_bytes * self.area.sram_um2_per_byte
            + self.vector_unit.lanes * self.area.vector_lane_um2
            + self.dram.bw_bytes_per_cycle * self.area.dram_interface_um2_per_byte_per_cycle
        )

    def semantic_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        bits = PRECISION_BITS[self.technology.precision]
        for operand in ("input", "weight"):
            got = getattr(self.operand_bits, operand)
            if got != bits:
                problems.append(
                    Problem(
                        f"operand_bits.{operand}",
                        f"technology.precision {self.technology.precision!r} means {bits}-bit operands, got {got}",
                    )
                )
        widest = max(self.operand_bits.input, self.operand_bits.weight)
        if self.operand_bits.output < widest:
            problems.append(
                Problem(
                    "operand_bits.output",
                    f"the accumulator must be at least as wide as the operands ({widest} bits), "
                    f"got {self.operand_bits.output}",
                )
            )
        for path, buf in self._buffers():
            for action in ("read", "write"):
                energy = getattr(buf, f"{action}_energy_pj_per_byte")
                if self.dram.energy_pj_per_byte > 0 and energy > self.dram.energy_pj_per_byte:
                    problems.append(
                        Problem(
                            f"{path}.{action}_energy_pj_per_byte",
                            f"an on-chip buffer access ({format_number(energy)} pJ/B) costs more than a DRAM access "
                            f"(dram.energy_pj_per_byte = {format_number(self.dram.energy_pj_per_byte)} pJ/B), but "
                            "on-chip SRAM is cheaper than DRAM (Eyeriss, ISCA 2016: buffer 6x, DRAM 200x a MAC)",
                        )
                    )
        return problems

    def _buffers(self) -> list[tuple[str, Buffer]]:
        return []


class SystolicSpec(CnnAcceleratorSpec):
    """A rows x cols systolic MAC array (SCALE-Sim's template) with separate ifmap/filter/ofmap buffers.

    Orientation as in SCALE-Sim: ifmap operands enter along the rows, filters along the columns, outputs leave
    along the columns.
    """

    kind: Literal["systolic"]
    array: SystolicArray
    buffers: SystolicBuffers

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.array.rows * self.array.cols

    @property
    def total_sram_bytes(self) -> int:
        return self.buffers.ifmap.size_bytes + self.buffers.filter.size_bytes + self.buffers.ofmap.size_bytes

    def _buffers(self) -> list[tuple[str, Buffer]]:
        return [(f"buffers.{n}", getattr(self.buffers, n)) for n in ("ifmap", "filter", "ofmap")]

    def semantic_problems(self) -> list[Problem]:
        problems = super().semantic_problems()
        rows, cols = self.array.rows, self.array.cols
        bits = self.operand_bits
        # Each buffer must at least feed (or drain) one full edge of the array in one cycle.
        needs = (
            ("ifmap", rows * bits.input_bytes, f"array.rows ({rows}) input words of {bits.input} bits"),
            ("filter", cols * bits.weight_bytes, f"array.cols ({cols}) weight words of {bits.weight} bits"),
            ("ofmap", cols * bits.output_bytes, f"array.cols ({cols}) output words of {bits.output} bits"),
        )
        for name, need_bytes, what in needs:
            buf = getattr(self.buffers, name)
            have = buf.size_bytes
            if buf.multiple_buffering > 1:  # each half holds a tile
                need_bytes, what = buf.multiple_buffering * need_bytes, f"{what}, twice as double_buffered is true"
            if have < need_bytes:
                problems.append(
                    Problem(
                        f"buffers.{name}.size_bytes",
                        f"must hold at least one array edge, {what} = {format_number(need_bytes)} bytes, got {have}",
                    )
                )
        return problems


class VectorPESpec(CnnAcceleratorSpec):
    """PEs of vector MAC lanes (MAGNet/Simba-like). pe_buffers sizes are per PE; global_buffer is shared."""

    kind: Literal["vector_pe"]
    pe_array: PEArray
    pe_buffers: PEBuffers
    global_buffer: Buffer

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.pe_array.num_pes * self.pe_array.lanes * self.pe_array.vector_width

    @property
    def total_sram_bytes(self) -> int:
        per_pe = self.pe_buffers.weight.size_bytes + self.pe_buffers.input.size_bytes
        per_pe += self.pe_buffers.accumulation.size_bytes
        return self.pe_array.num_pes * per_pe + self.global_buffer.size_bytes

    def _buffers(self) -> list[tuple[str, Buffer]]:
        pe = [(f"pe_buffers.{n}", getattr(self.pe_buffers, n)) for n in ("weight", "input", "accumulation")]
        return [*pe, ("global_buffer", self.global_buffer)]

    def semantic_problems(self) -> list[Problem]:
        problems = super().semantic_problems()
        pe, bits = self.pe_array, self.operand_bits
        needs = (
            (
                "pe_buffers.weight.size_bytes",
                self.pe_buffers.weight.size_bytes,
                pe.lanes * pe.vector_width * bits.weight_bytes,
                f"one weight vector per lane, pe_array.lanes ({pe.lanes}) x pe_array.vector_width "
                f"({pe.vector_width}) x {bits.weight} bits",
            ),
            (
                "pe_buffers.input.size_bytes",
                self.pe_buffers.input.size_bytes,
                pe.vector_width * bits.input_bytes,
                f"one input vector, pe_array.vector_width ({pe.vector_width}) x {bits.input} bits",
            ),
            (
                "pe_buffers.accumulation.size_bytes",
                self.pe_buffers.accumulation.size_bytes,
                pe.lanes * bits.output_bytes,
                f"one partial sum per lane, pe_array.lanes ({pe.lanes}) x {bits.output} bits",
            ),
        )
        for path, have, need_bytes, what in needs:
            if have < need_bytes:
                problems.append(Problem(path, f"must hold at least {what} = {format_number(need_bytes)} bytes, "
                                              f"got {have}"))
        return problems


# --------------------------------------------------------------------------------------------------------------
# Kind registry
# --------------------------------------------------------------------------------------------------------------

def register_template_kind(kind: str, schema: type[TemplateSpec] | str, *, replace: bool = False) -> None:
    """Register the schema of a template kind that has no cost model (its templates load, estimates refuse them):
    a TemplateSpec subclass or a lazy ``"module:Class"`` reference. A kind with a cost model is registered with
    :func:`hwmap.hardware.kinds.register_kind` (schema, cost module and what the kind takes, in one place).

    Raises on a kind already registered unless ``replace=True`` (like the op registry, no silent overwrite).
    """
    from hwmap.hardware.kinds import register_kind

    if not isinstance(schema, str) and not (isinstance(schema, type) and issubclass(schema, TemplateSpec)):
        raise TemplateError(f"schema for kind {kind!r} must subclass TemplateSpec, got {schema!r}")
    register_kind(kind, schema=schema, cost=None, mappable=False, settings=(), replace=replace)


def registered_kinds() -> list[str]:
    from hwmap.hardware import kinds

    return list(kinds.registered_kinds())


def schema_for_kind(kind: str) -> type[TemplateSpec] | None:
    """The schema class of a registered kind (importing a lazy reference), or None."""
    from hwmap.hardware import kinds

    if not kinds.is_registered(kind):
        return None
    schema = kinds.kind_info(kind).schema_class()
    if not issubclass(schema, TemplateSpec):
        raise TemplateError(f"{schema!r} registered for kind {kind!r} is not a TemplateSpec subclass")
    return schema


# --------------------------------------------------------------------------------------------------------------
# Validation: schema errors translated into Problems, then the semantic pass
# --------------------------------------------------------------------------------------------------------------

LineMap = Mapping[tuple[str, ...], int]


def validate_template(
    data: object,
    *,
    name: str,
    source: str,
    lines: LineMap | None = None,
) -> Accelerator:
    """Validate a parsed template (the YAML document) into an Accelerator, or raise ONE TemplateError.

    ``source`` is what messages call the template (a file name); ``lines`` maps key paths to YAML line numbers so
    messages can point at them.
    """
    spec = _validate_spec(data, source=source, lines=lines)
    return Accelerator(name=name, spec=spec, source=source)


def _validate_spec(data: object, *, source: str, lines: LineMap | None) -> TemplateSpec:
    data = migrate_template(data)
    blocking, version_problems, schema = _dispatch(data)
    problems = blocking + version_problems
    if schema is not None and not blocking:
        try:
            spec = schema.model_validate(data)
        except ValidationError as exc:
            # schema_version was already judged by _dispatch, in plainer words.
            problems += [p for p in _schema_problems(exc, schema) if p.path != "schema_version"]
        else:
            if not problems:
                problems = spec.semantic_problems()
                if not problems:
                    return spec
    raise TemplateError("; ".join(p.render(source, _line_of(p.path, lines)) for p in problems))


def _dispatch(data: object) -> tuple[list[Problem], list[Problem], type[TemplateSpec] | None]:
    """Top-level checks: a mapping, a known kind (blocking: no schema applies otherwise) and the schema_version."""
    if not isinstance(data, Mapping):
        got = "an empty document" if data is None else describe_value(data)
        top = Problem("", f"top level must be a mapping of template fields (schema_version, kind, ...), got {got}")
        return [top], [], None
    kinds = ", ".join(repr(k) for k in registered_kinds())
    kind = data.get("kind", _MISSING)
    blocking: list[Problem] = []
    schema = None
    if kind is _MISSING:
        blocking.append(Problem("kind", f"missing required field, expected one of {kinds}"))
    elif not isinstance(kind, str):
        blocking.append(Problem("kind", f"expected a string, one of {kinds}, got {describe_value(kind)}"))
    else:
        schema = schema_for_kind(kind)
        if schema is None:
            close = difflib.get_close_matches(kind, registered_kinds(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            blocking.append(Problem("kind", f"unknown kind {kind!r}, expected one of {kinds}{hint}"))
    expected = schema.SCHEMA_VERSION if schema is not None else SCHEMA_VERSION
    older = schema.MIGRATED_VERSIONS if schema is not None else CnnAcceleratorSpec.MIGRATED_VERSIONS
    migrated = f" (versions {' and '.join(map(str, older))} are migrated on load)" if len(older) > 1 else (
        f" (version {older[0]} files are migrated on load)" if older else "")
    version_problems: list[Problem] = []
    version = data.get("schema_version", _MISSING)
    if version is _MISSING:
        version_problems.append(Problem("schema_version", f"missing required field, expected {expected}"))
    elif type(version) is not int or version != expected:
        version_problems.append(
            Problem(
                "schema_version",
                f"must be {expected} (the schema this hwmap reads{migrated}), got {describe_value(version)}",
            )
        )
    return blocking, version_problems, schema


_V1_LEAKAGE = {"mac_uw": 0.0, "sram_nw_per_byte": 0.0, "vector_lane_uw": 0.0,
               "dram_interface_uw_per_byte_per_cycle": 0.0,
               "source": "migrated from schema_version 1: the file's static_power_mw is a fixed term"}


def migrate_template(data: object) -> object:
    """An older schema_version document as its kind's current version (its schema class's ``migrate``); anything
    that is not a mapping of a registered kind unchanged."""
    if not isinstance(data, Mapping):
        return data
    kind = data.get("kind")
    schema = schema_for_kind(kind) if isinstance(kind, str) else None
    return schema.migrate(data) if schema is not None else data


def _default_double_buffered(data: dict[str, Any]) -> dict[str, Any]:
    """Every buffer section (a mapping with size_bytes and read_energy_pj_per_byte) without ``double_buffered``
    gets ``true``, the default of versions 1 and 2; copies, never edits, the caller's mappings."""
    def walk(node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        out = {k: walk(v) for k, v in node.items()}
        if "size_bytes" in out and "read_energy_pj_per_byte" in out and "double_buffered" not in out:
            out["double_buffered"] = True
        return out

    return walk(data)


_MISSING = object()


def _schema_problems(exc: ValidationError, schema: type[BaseModel]) -> list[Problem]:
    problems: list[tuple[tuple[str, ...], str, Problem]] = []
    # A field already named by an unknown-key message ("size_kb: expected 'size_bytes'") is not also reported
    # as missing.
    explained: set[tuple[str, ...]] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            parent = loc[:-1]
            message, expected_key = _unknown_key_message(loc[-1], _model_at(schema, parent))
            if expected_key is not None:
                explained.add((*parent, expected_key))
        else:
            message = _error_message(err, loc, schema)
        problems.append((loc, err["type"], Problem(".".join(loc), message)))
    return [p for loc, kind, p in problems if not (kind == "missing" and loc in explained)]


def _error_message(err: Mapping[str, Any], loc: tuple[str, ...], schema: type[BaseModel]) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    expected = _expected(schema, loc)
    if kind == "missing":
        what = "section" if expected.startswith("a mapping") else "field"
        return f"missing required {what}, expected {expected}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values())) if ctx else "?"
        hint = _CEILING_HINTS.get(loc[-1], "") if kind.startswith("less") else ""
        return f"must be {bounds[kind]} {format_number(limit)}, got {describe_value(value)}{hint}"
    if kind == "literal_error":
        return f"must be {expected}, got {describe_value(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "finite_number":
        return f"must be a finite number, got {describe_value(value)}"
    if kind == "invalid_key":
        return f"keys must be strings, got {describe_value(value)}"
    if kind.endswith("_type") or kind in ("int_from_float", "model_attributes_type"):
        return f"expected {expected}, got {describe_value(value)}{_type_hint(value, loc)}"
    return f"{err['msg']}, got {describe_value(value)}"


_OP_ENERGY_HINT = (
    " (implausible for one operation: Horowitz, ISSCC 2014, 45 nm, puts a 32-bit float multiply at 3.7 pJ."
    " Is the value in fJ or nJ rather than pJ?)"
)
_CEILING_HINTS = {
    "mac_energy_pj": _OP_ENERGY_HINT,
    "op_energy_pj": _OP_ENERGY_HINT,
    "freq_mhz": " (implausible clock: the value is in MHz, e.g. 1000 for 1 GHz)",
    "static_power_mw": " (implausible: the value is in mW, 1e6 mW = 1 kW)",
    "node_nm": " (the value is the process node in nm, e.g. 45)",
}


def _type_hint(value: object, loc: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if _looks_numeric(text):
        return " (remove the quotes: numbers are written bare)"
    if re.fullmatch(r"[-+]?[0-9.]+(e[-+]?[0-9]+)?\s*[A-Za-z/]+", text, flags=re.IGNORECASE) and loc:
        unit = _unit_of(loc)
        return f" (write a bare number{f' in {unit}' if unit else ''}: the key already names the unit)"
    return ""


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


# --- describing fields -------------------------------------------------------------------------------------------

_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_uw_per_byte_per_cycle", "uW per byte per cycle"),
    ("_um2_per_byte_per_cycle", "um^2 per byte per cycle"),
    ("_nw_per_byte", "nW per byte"),
    ("_uw", "uW"),
    ("_pj_per_byte", "pJ per byte"),
    ("_bytes_per_cycle", "bytes per cycle"),
    ("_um2_per_byte", "um^2 per byte"),
    ("_per_cycle_per_lane", "operations per cycle per lane"),
    ("_bytes", "bytes"),
    ("_mhz", "MHz"),
    ("_pj", "pJ"),
    ("_mw", "mW"),
    ("_nm", "nm"),
    ("_um2", "um^2"),
)


def _unit_of(loc: tuple[str, ...]) -> str | None:
    key = loc[-1] if loc else ""
    if len(loc) >= 2 and loc[-2] == "operand_bits":
        return "bits"
    for suffix, unit in _UNIT_SUFFIXES:
        if key.endswith(suffix):
            return unit
    return None


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None -> X."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_at(schema: type[BaseModel], loc: tuple[str, ...]) -> type[BaseModel] | None:
    model: Any = schema
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _unwrap(info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _annotation_at(schema: type[BaseModel], loc: tuple[str, ...]) -> Any:
    parent = _model_at(schema, loc[:-1])
    if parent is None or not loc:
        return None
    info = parent.model_fields.get(loc[-1])
    return None if info is None else _unwrap(info.annotation)


def _expected(schema: type[BaseModel], loc: tuple[str, ...]) -> str:
    annotation = _annotation_at(schema, loc)
    unit = _unit_of(loc)
    in_unit = f" in {unit}" if unit else ""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping with keys {', '.join(annotation.model_fields)}"
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        if len(values) == 1:
            return repr(values[0])
        return "one of " + ", ".join(repr(v) for v in values)
    if annotation is int:
        return f"an integer{in_unit}"
    if annotation is float:
        return f"a number{in_unit}"
    if annotation is str:
        return "a string"
    if annotation is bool:
        return "true or false"  # YAML 1.2: yes/no/on/off are strings (hwmap.yamlio)
    return "a value"


def describe_value(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def format_number(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- unknown keys: name the expected key, above all when only the unit is wrong ----------------------------------

_UNIT_TOKENS = frozenset(
    """
    hz khz mhz ghz thz b byte bytes kb kib mb mib gb gib tb bit bits kbit mbit
    fj pj nj uj mj j joule joules w mw uw kw watt watts nm um mm um2 mm2 cm2
    s ms us ns ps cycle cycles clk per bps kbps mbps gbps tbps gbs gbytes mbytes kbytes
    """.split()
)
_STEM_SYNONYMS = {
    "frequency": "freq",
    "clock": "freq",
    "clk": "freq",
    "bandwidth": "bw",
    "capacity": "size",
    "sz": "size",
    "power": "power",
    "macs": "mac",
}


def _stem(key: str) -> str:
    tokens = [t for t in re.split(r"[_\-\s]+", key.lower()) if t and t not in _UNIT_TOKENS]
    return "_".join(_STEM_SYNONYMS.get(t, t) for t in tokens)


def _unknown_key_message(key: str, parent: type[BaseModel] | None) -> tuple[str, str | None]:
    """Message for an unknown key, and the expected key it stands for when that is clear."""
    if parent is None:
        return "unknown key", None
    allowed = list(parent.model_fields)
    stem = _stem(key)
    same_stem = [k for k in allowed if _stem(k) == stem and stem]
    if len(same_stem) == 1:
        expected = same_stem[0]
        unit = _unit_of((expected,)) or ""
        return (
            f"unknown key, expected {expected!r} with the value in {unit} (every key names its unit)"
            if unit
            else f"unknown key, expected {expected!r}",
            expected,
        )
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    listing = ", ".join(allowed)
    if close:
        return f"unknown key, did you mean {close[0]!r}? (allowed here: {listing})", None
    return f"unknown key, allowed here: {listing}", None


def _line_of(path: str, lines: LineMap | None) -> int | None:
    if not lines:
        return None
    parts = tuple(path.split(".")) if path else ()
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return lines.get((), None)


# --------------------------------------------------------------------------------------------------------------
# The Accelerator handed to the rest of hwmap
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accelerator:
    """A validated accelerator template: its name (the file stem) and its frozen spec.

    The template's fields read as attributes: ``acc.array.rows``, ``acc.buffers.ifmap.size_bytes``,
    ``acc.pe_array.lanes``, ``acc.memory`` (delegated to ``acc.spec``; an unknown name is an AttributeError that
    names the template and lists its fields). Cost models may also use the typed accessors
    ``acc.systolic`` / ``acc.vector_pe`` (a TemplateError for the wrong kind). Variants come from
    :meth:`with_overrides`, which revalidates; ``dataclasses.replace(acc, name=...)`` is fine for renaming.
    """

    name: str
    spec: TemplateSpec
    source: str = field(default="", compare=False)

    def __getattr__(self, attr: str) -> Any:
        """A template field of the spec (called only for names the Accelerator itself lacks)."""
        if attr.startswith("_") or attr in ("name", "spec", "source"):
            raise AttributeError(attr)  # pickle/copy probe dunders on half-built objects: never recurse into spec
        spec = object.__getattribute__(self, "spec")
        fields = type(spec).model_fields
        if attr in fields:
            return getattr(spec, attr)
        own = sorted({n for n in dir(type(self)) if not n.startswith("_")} - set(fields))
        raise AttributeError(f"accelerator {self.name!r} (kind {spec.kind!r}) has no field {attr!r}; its template "
                             f"fields: {', '.join(fields)}; Accelerator attributes: {', '.join(own)}")

    # --- generic view --------------------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def peak_macs_per_cycle(self) -> int:
        """rows * cols (systolic) or num_pes * lanes * vector_width (vector_pe)."""
        return self.spec.peak_macs_per_cycle

    @property
    def freq_mhz(self) -> float:
        freq = getattr(self.spec, "freq_mhz", None)
        if freq is None:
            raise TemplateError(f"{self.name}: kind {self.kind!r} has no freq_mhz")
        return float(freq)

    @property
    def peak_macs_per_s(self) -> float:
        return self.peak_macs_per_cycle * self.freq_mhz * 1e6

    @property
    def area_um2(self) -> float | None:
        """Area proxy (compute + SRAM + vector lanes), or None when the template gives no area section."""
        return self.spec.area_um2

    @property
    def systolic(self) -> SystolicSpec:
        return self._as(SystolicSpec, "systolic")

    @property
    def vector_pe(self) -> VectorPESpec:
        return self._as(VectorPESpec, "vector_pe")

    def _as(self, cls: type[TemplateSpec], kind: str) -> Any:
        if not isinstance(self.spec, cls):
            raise TemplateError(f"accelerator {self.name!r} is of kind {self.kind!r}, not {kind!r}")
        return self.spec

    # --- variants ------------------------------------------------------------------------------------------------

    def with_overrides(
        self,
        overrides: Mapping[str, Any] | None = None,
        /,
        *,
        name: str | None = None,
        **nested: Any,
    ) -> Accelerator:
        """A revalidated variant. Keys are dotted paths or sections with nested mappings, merged deeply::

            acc.with_overrides({"array.dataflow": "os", "buffers.ifmap.size_bytes": 131072})
            acc.with_overrides(array={"rows": 32, "cols": 32})

        The variant's name is ``name`` or ``base[path=value,...]``. Any problem raises ONE TemplateError.
        """
        items: list[tuple[str, Any]] = [*(overrides or {}).items(), *nested.items()]
        if not items:
            return self if name is None else Accelerator(name=name, spec=self.spec, source=self.source)
        data = self.spec.model_dump(mode="json", exclude_none=True)
        flat: list[tuple[str, Any]] = []
        for key, value in items:
            if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
                raise TemplateError(f"{self.name}: override key must be a dotted field path, got {key!r}")
            if key == "kind":
                raise TemplateError(f"{self.name}: kind cannot be overridden, load a template of the other kind")
            _set_path(data, key.split("."), _plain(value), owner=self.name)
            flat.extend(_flatten(key, _plain(value)))
        label = ",".join(f"{k}={format_number(v)}" for k, v in flat)
        new_name = name if name is not None else f"{self.name}[{label}]"
        spec = _validate_spec(data, source=f"{self.name} with overrides {label}", lines=None)
        return Accelerator(name=new_name, spec=spec, source=self.source)

    # --- serialization -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"name": ..., <template fields>}``. :meth:`from_dict` reads it back."""
        return {"name": self.name, **self.spec.model_dump(mode="json", exclude_none=True)}

    def template_dict(self) -> dict[str, Any]:
        """The template fields only, as they would be written to a YAML template."""
        return self.spec.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Accelerator:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) or not data.get("name"):
            raise TemplateError(f"{source}: name: missing, expected the accelerator name as a string")
        body = {k: v for k, v in data.items() if k != "name"}
        return validate_template(body, name=data["name"], source=source)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.peak_macs_per_cycle} MACs/cycle)"


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            yield from _flatten(f"{prefix}.{key}", sub)
    else:
        yield prefix, value


# A list of sections is addressed in a dotted path by the field that names its items (a hierarchy's levels by
# ``name``, its spatial unrollings by ``axis``): ``hierarchy.levels.shared_glb.capacity_bytes``.
NAMING_FIELDS: tuple[str, ...] = ("name", "axis")


def named_items(value: Any) -> dict[str, dict[str, Any]] | None:
    """The items of a list of sections by the field that names them (the first of NAMING_FIELDS that every item
    has, with distinct values), or None when ``value`` is not such a list."""
    if not isinstance(value, list) or not value or not all(isinstance(item, Mapping) for item in value):
        return None
    for field_name in NAMING_FIELDS:
        names = [item.get(field_name) for item in value]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            return {name: item for name, item in zip(names, value, strict=True)}
    return None


def set_field(data: dict[str, Any], key: str, value: Any, *, owner: str) -> None:
    """Set the dotted template field ``key`` (a list of named sections addressed by item name) of a template's
    fields in place, as :meth:`Accelerator.with_overrides` does; a path that does not fit is ONE TemplateError."""
    _set_path(data, key.split("."), _plain(value), owner=owner)


def _set_path(data: dict[str, Any], parts: list[str], value: Any, *, owner: str) -> None:
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        items = named_items(child)
        if items is not None:
            _set_in_item(items, parts, i, value, owner=owner)
            return
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise TemplateError(
                f"{owner}: cannot set {'.'.join(parts)!r}: {where!r} is {describe_value(child)}, not a section"
            )
        node = child
    last = parts[-1]
    if isinstance(value, Mapping) and (isinstance(node.get(last), dict) or named_items(node.get(last))):
        for key, sub in value.items():  # merged deeply: a named list's items by name, as a dotted path would
            _set_path(node, [last, *str(key).split(".")], sub, owner=owner)
    else:
        node[last] = value


def _set_in_item(items: dict[str, dict[str, Any]], parts: list[str], i: int, value: Any, *, owner: str) -> None:
    """Set ``parts[i + 2:]`` inside the item of the named list at ``parts[i]`` that ``parts[i + 1]`` names."""
    where = ".".join(parts[: i + 1])
    item = items.get(parts[i + 1])
    if item is None:
        raise TemplateError(f"{owner}: cannot set {'.'.join(parts)!r}: {where!r} has no item named "
                            f"{parts[i + 1]!r}; its items: {', '.join(items)}")
    if len(parts) > i + 2:
        _set_path(item, parts[i + 2:], value, owner=owner)
    elif isinstance(value, Mapping):  # {"levels.glb": {"capacity_bytes": ...}}: the item's fields, merged
        for key, sub in value.items():
            _set_path(item, str(key).split("."), sub, owner=owner)
    else:
        raise TemplateError(f"{owner}: cannot set {'.'.join(parts)!r} to {describe_value(value)}: it is an item "
                            f"of {where!r}; set its fields ({'.'.join(parts)}.<field>)")
