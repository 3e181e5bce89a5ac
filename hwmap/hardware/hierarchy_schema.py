"""``kind: hierarchy``: an accelerator given as an N-level memory hierarchy and a PE array (issue 17, section B).

The ``hierarchy`` section is exactly what :func:`hwmap.hardware.hierarchy.build_hierarchy` reads (levels DRAM
first, a compute level, the spatial unrollings); its semantic problems are reported as ONE TemplateError line
naming the file, the component and the field. Cycles and energy come from the multi-level mapper
(:mod:`hwmap.cost.hierarchy_kind`); non-GEMM work runs on the optional ``vector_unit`` like the other CNN kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr

from hwmap.errors import TemplateError
from hwmap.hardware.hierarchy import Hierarchy, build_hierarchy
from hwmap.hardware.schema import (
    MAX_PLAUSIBLE_FREQ_MHZ,
    MAX_PLAUSIBLE_STATIC_POWER_MW,
    MIN_FREQ_MHZ,
    OperandBits,
    Problem,
    StrictModel,
    TemplateSpec,
    VectorUnit,
)

__all__ = ["HIERARCHY_SCHEMA_VERSION", "DramView", "HierarchySpec", "Provenance"]

HIERARCHY_SCHEMA_VERSION = 3


class Provenance(StrictModel):
    """Where the numbers come from: a public design (repository, commit, file) and what was adapted."""

    repository: str = Field(min_length=1)
    commit: str = Field(min_length=1)
    file: str = Field(min_length=1)
    adapted: str = Field(default="", description="which numbers were changed and why")


@dataclass(frozen=True)
class DramView:
    """The outermost level as the CNN kinds' shared code reads DRAM (bandwidth and energy per byte)."""

    bw_bytes_per_cycle: float
    energy_pj_per_byte: float


class HierarchySpec(TemplateSpec):
    SCHEMA_VERSION: ClassVar[int] = HIERARCHY_SCHEMA_VERSION
    schema_version: Literal[3]  # type: ignore[assignment]
    kind: Literal["hierarchy"]
    provenance: Provenance | None = None
    freq_mhz: float = Field(ge=MIN_FREQ_MHZ, le=MAX_PLAUSIBLE_FREQ_MHZ)
    operand_bits: OperandBits
    static_power_mw: float = Field(default=0.0, ge=0, le=MAX_PLAUSIBLE_STATIC_POWER_MW)
    vector_unit: VectorUnit | None = None
    hierarchy: dict[str, Any]
    _built: dict = PrivateAttr(default_factory=dict)

    def semantic_problems(self) -> list[Problem]:
        try:
            self.built("hierarchy")
        except TemplateError as exc:
            return [Problem("", str(exc))]
        return []

    def built(self, name: str, *, source: str = "hierarchy") -> Hierarchy:
        """The checked Hierarchy of this template (named ``name``); problems are ONE TemplateError line."""
        if name not in self._built:
            self._built[name] = build_hierarchy({"name": name, **self.hierarchy}, source=source)
        return self._built[name]

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.built("hierarchy").compute.instances

    @property
    def static_energy_pj_per_cycle(self) -> float:
        """static power (mW) * 1e3 / freq_mhz, as the other CNN kinds."""
        return self.static_power_mw * 1e3 / self.freq_mhz

    @property
    def dram(self) -> DramView:
        """The outermost level: its read bandwidth (bytes/cycle; inf when unstated) and read energy per byte."""
        outer = self.built("hierarchy").levels[0]
        return DramView(bw_bytes_per_cycle=outer.read_bytes_per_cycle, energy_pj_per_byte=outer.read_pj_per_byte)
