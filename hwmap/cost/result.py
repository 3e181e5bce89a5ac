"""Cost results: per-layer columns (numpy arrays), totals and breakdowns. Costs are additive over layers.

Every cost model (systolic, vector-PE, GPU) fills the same GraphCost: cycles at the template's clock, stall cycles,
utilisation of the MAC resources, and named energy terms in pJ (each reported separately, never only a sum).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hwmap.errors import HwmapError
from hwmap.units import PJ_PER_MJ

# Which resource ran a layer.
UNIT_ARRAY = "array"  # the MAC array (GEMMs, convs)
UNIT_VECTOR = "vector"  # the vector/SIMD unit (softmax, norms, activations, pooling, elementwise)
UNIT_DMA = "dma"  # pure data movement through DRAM
UNIT_NONE = "none"  # explicit Zero work: views
UNIT_UNSUPPORTED = "unsupported"  # ops hwmap could not lower: reported, costed as zero


@dataclass(frozen=True)
class LayerIdentity:
    """Per-layer identity columns shared by every cost model (from the graph, not the hardware)."""

    names: tuple[str, ...]
    op_classes: tuple[str, ...]
    scopes: tuple[str, ...]
    units: tuple[str, ...]
    macs: np.ndarray  # int64
    gemm_batch: np.ndarray  # int64, 0 for non-GEMM layers
    gemm_m: np.ndarray
    gemm_n: np.ndarray
    gemm_k: np.ndarray


@dataclass(frozen=True)
class GraphCost:
    """Cost of one layer graph on one hardware template."""

    model: str
    accelerator: str
    kind: str
    freq_mhz: float
    peak_macs_per_cycle: float
    layers: LayerIdentity
    compute_cycles: np.ndarray  # float64 per layer
    stall_cycles: np.ndarray  # cycles waiting for DRAM beyond compute (double buffering cannot hide them)
    energy_pj: dict[str, np.ndarray]  # named energy terms per layer, e.g. "mac", "sram.ifmap", "dram", "static"
    dram_bytes: np.ndarray
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)  # dataflow, calibration, ... as used
    mappings: tuple = ()  # per layer: hwmap.cost.mapping.LayerMapping or None (kinds with a mapper)
    fused: tuple[str, ...] = ()  # what was fused into what, one line per fused group
    fused_per_layer: tuple[str, ...] = ()  # per layer: what fused into it, or which kernel it fused into

    def __repr__(self) -> str:
        """One line: what was costed and the totals (the per-layer values are in to_dataframe())."""
        return (f"GraphCost(model={self.model!r}, accelerator={self.accelerator!r}, layers={len(self.compute_cycles)}, "
                f"cycles={self.total_cycles:,.0f}, latency_ms={self.latency_ms:.6g}, energy_mj={self.energy_mj:.6g})")

    # ------------------------------------------------------------------ per layer

    @property
    def cycles(self) -> np.ndarray:
        return self.compute_cycles + self.stall_cycles

    @property
    def latency_s(self) -> np.ndarray:
        return self.cycles / (self.freq_mhz * 1e6)

    @cached_property
    def layer_energy_pj(self) -> np.ndarray:
        return sum(self.energy_pj.values(), np.zeros(len(self.layers.names)))

    @property
    def utilisation(self) -> np.ndarray:
        """MACs / (peak MACs per cycle x cycles) per layer; 0 for layers without MACs."""
        with np.errstate(divide="ignore", invalid="ignore"):
            util = self.layers.macs / (self.peak_macs_per_cycle * self.cycles)
        return np.where(self.cycles > 0, util, 0.0)

    # ------------------------------------------------------------------ totals

    @property
    def total_cycles(self) -> float:
        return float(self.cycles.sum())

    @property
    def total_stall_cycles(self) -> float:
        return float(self.stall_cycles.sum())

    @property
    def latency_ms(self) -> float:
        return self.total_cycles / (self.freq_mhz * 1e3)

    @property
    def energy_mj(self) -> float:
        return float(self.layer_energy_pj.sum()) / PJ_PER_MJ

    @property
    def energy_terms_mj(self) -> dict[str, float]:
        return {term: float(values.sum()) / PJ_PER_MJ for term, values in self.energy_pj.items()}

    @property
    def total_macs(self) -> int:
        return int(self.layers.macs.sum())

    @property
    def average_utilisation(self) -> float:
        """MAC utilisation over the cycles the MAC array is busy (array layers only)."""
        array = np.array([u == UNIT_ARRAY for u in self.layers.units], dtype=bool)
        busy = float(self.cycles[array].sum())
        return float(self.layers.macs[array].sum()) / (self.peak_macs_per_cycle * busy) if busy else 0.0

    # ------------------------------------------------------------------ breakdowns

    def shares_by(self, key: str = "op-group") -> dict[str, dict[str, float]]:
        """Shares of MACs, cycles and energy per op group / op class / module: {key: {macs, cycles, energy}}."""
        labels = self._labels(key)
        totals = {"macs": float(self.layers.macs.sum()), "cycles": self.total_cycles,
                  "energy": float(self.layer_energy_pj.sum())}
        columns = {"macs": self.layers.macs.astype(float), "cycles": self.cycles, "energy": self.layer_energy_pj}
        shares: dict[str, dict[str, float]] = {}
        for label in dict.fromkeys(labels):
            mask = np.array([lab == label for lab in labels], dtype=bool)
            shares[label] = {name: float(col[mask].sum()) / totals[name] if totals[name] else 0.0
                             for name, col in columns.items()}
        return dict(sorted(shares.items(), key=lambda item: -item[1]["energy"]))

    def _labels(self, key: str) -> list[str]:
        key = key.replace("_", "-")  # op_group and op-group alike
        if key == "op-group":
            return [c.split(".")[0] for c in self.layers.op_classes]
        if key == "op-class":
            return list(self.layers.op_classes)
        if key == "module":
            return [s or "<root>" for s in self.layers.scopes]
        raise HwmapError(f"unknown breakdown {key!r} (expected op-group, op-class or module)")

    # ------------------------------------------------------------------ export

    def to_records(self) -> list[dict]:
        """One dict per layer with identity, GEMM dims, cycles, utilisation and each energy term (pJ)."""
        columns = self._columns()
        return [{name: _plain(values[i]) for name, values in columns.items()} for i in range(len(self.layers.names))]

    def _columns(self) -> dict[str, object]:
        ident = self.layers
        columns: dict[str, object] = {
            "layer": ident.names, "op_class": ident.op_classes, "module": ident.scopes, "unit": ident.units,
            "macs": ident.macs, "gemm_batch": ident.gemm_batch, "gemm_m": ident.gemm_m, "gemm_n": ident.gemm_n,
            "gemm_k": ident.gemm_k, "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
            "cycles": self.cycles, "utilisation": self.utilisation, "dram_bytes": self.dram_bytes,
        }
        for term, values in self.energy_pj.items():
            columns[f"energy_{term.replace('.', '_')}_pj"] = values
        columns["energy_pj"] = self.layer_energy_pj
        if self.fused_per_layer:
            columns["fusion"] = self.fused_per_layer
        if self.mappings:
            records = [m.record() if m is not None else None for m in self.mappings]
            keys = next((list(r) for r in records if r is not None), [])
            for key in keys:
                columns[key] = tuple(r[key] if r is not None else None for r in records)
        return columns

    def to_dataframe(self):
        """Per-layer pandas DataFrame (pandas is imported only here)."""
        import pandas as pd

        return pd.DataFrame({name: list(values) if isinstance(values, tuple) else values
                             for name, values in self._columns().items()})

    def totals_dict(self) -> dict:
        return {
            "model": self.model, "accelerator": self.accelerator, "kind": self.kind, "freq_mhz": self.freq_mhz,
            "total_macs": self.total_macs, "total_cycles": self.total_cycles,
            "stall_cycles": self.total_stall_cycles, "latency_ms": self.latency_ms, "energy_mj": self.energy_mj,
            "energy_terms_mj": self.energy_terms_mj, "average_utilisation": self.average_utilisation,
            "dram_bytes": float(self.dram_bytes.sum()), "settings": self.settings,
        }

    def to_dict(self, *, layers: bool = True) -> dict:
        data = {**self.totals_dict(), "shares_by_op_group": self.shares_by("op-group"),
                "assumptions": list(self.assumptions), "notes": list(self.notes), "fused": list(self.fused)}
        if layers:
            data["layers"] = self.to_records()
        return data


def _plain(value):
    return value.item() if hasattr(value, "item") else value
