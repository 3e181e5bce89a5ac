"""Cost results: one naming rule. Totals are scalars on :class:`GraphCost` with the unit in the name
(``cost.cycles``, ``cost.latency_ms``, ``cost.energy_mj``, ``cost.dram_bytes``, ...); per-layer values live in the
layer table ``cost.layers`` (:class:`LayerCosts`: ``cost.layers.cycles``, ``.latency_s``, ``.energy_pj``, ...) and
in ``cost.to_dataframe()``. Costs are additive over layers: every total is the sum of its layer column.

Every cost model (systolic, vector-PE, GPU) fills the same GraphCost: whole cycles at the template's clock (a layer
cannot end mid-cycle, so each layer's cycles are rounded up), stall cycles, utilisation of the MAC resources, and
named energy terms in pJ (each reported separately, never only a sum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hwmap.errors import HwmapError, ResultError
from hwmap.hardware.kinds import is_timeline
from hwmap.units import PJ_PER_MJ

# Which resource ran a layer.
UNIT_ARRAY = "array"  # the MAC array (GEMMs, convs)
UNIT_VECTOR = "vector"  # the vector/SIMD unit (softmax, norms, activations, pooling, elementwise)
UNIT_DMA = "dma"  # pure data movement through DRAM
UNIT_NONE = "none"  # explicit Zero work: views
UNIT_UNSUPPORTED = "unsupported"  # ops hwmap could not lower: reported, costed as zero

_MAX_WHOLE = 2**62  # cycles and bytes above this do not fit the int64 columns (and are not physical)


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


@dataclass(frozen=True, eq=False)
class LayerCosts(LayerIdentity):
    """The per-layer table of a GraphCost: one entry per layer, in execution order (``len(cost.layers)``).

    Identity columns (names, op_classes, scopes, units, macs, gemm_batch/m/n/k) come from the graph; the cost
    columns are numpy arrays: compute_cycles, stall_cycles, cycles (int64, whole cycles), latency_s, energy_pj
    (the layer's total), utilisation (float64), dram_bytes (int64), energy_terms_pj (term -> float64 array);
    mappings (LayerMapping or None) and fusion (what fused into the layer, or "") are tuples.
    Build one with :func:`layer_costs`.
    """

    compute_cycles: np.ndarray  # int64
    stall_cycles: np.ndarray  # int64: cycles waiting for DRAM beyond compute (double buffering cannot hide them)
    cycles: np.ndarray  # int64: compute_cycles + stall_cycles
    latency_s: np.ndarray  # float64
    energy_terms_pj: dict[str, np.ndarray]  # named terms, e.g. "mac", "sram.ifmap", "dram", "static"
    energy_pj: np.ndarray  # float64: the sum of the terms
    utilisation: np.ndarray  # float64: MACs / (peak MACs per cycle x cycles); 0 for layers without MACs
    dram_bytes: np.ndarray  # int64
    mappings: tuple = ()  # hwmap.cost.mapping.LayerMapping or None per layer
    fusion: tuple[str, ...] = ()  # what fused into the layer, or which kernel it fused into; "" for neither

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"LayerCosts(layers={len(self)}, energy_terms={list(self.energy_terms_pj)}) (see to_dataframe())"


def whole_numbers(values, *, field_name: str, names: Sequence[str], what: str) -> np.ndarray:
    """values rounded up to whole numbers (int64): a layer cannot end mid-cycle nor move part of a byte.

    Values within 1e-9 (relative) of a whole number are that number (float noise, e.g. 100.00000000001 bytes / 16
    bytes per cycle, is not one cycle more). Non-finite or absurdly large values are a ResultError naming the layer.
    """
    x = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(x) | (np.abs(x) >= _MAX_WHOLE)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        from hwmap.cost.checks import check_result

        layer = names[i] if i < len(names) else str(i)
        check_result({"layers": [{"layer": layer, field_name: float(x[i])}]}, what=what)
        raise ResultError(f"{what}: layer {layer}: {field_name} is {float(x[i]):.6g} (more than 2^62); the "
                          "template's numbers are outside the range this result can be computed in")
    nearest = np.rint(x)
    close = np.abs(x - nearest) <= 1e-9 * np.maximum(1.0, np.abs(x))
    return np.where(close, nearest, np.ceil(x)).astype(np.int64)


def layer_costs(
    identity: LayerIdentity,
    *,
    freq_mhz: float,
    peak_macs_per_cycle: float,
    compute_cycles: np.ndarray,
    stall_cycles: np.ndarray,
    energy_terms_pj: Mapping[str, np.ndarray],
    dram_bytes: np.ndarray,
    latency_s: np.ndarray | None = None,
    mappings: Sequence = (),
    fusion: Sequence[str] = (),
    what: str = "result",
) -> LayerCosts:
    """The layer table from a cost model's columns: cycles and bytes rounded up to whole numbers per layer.

    latency_s: None for cycles / clock (accelerator templates); a GPU passes its timeline's latencies (its cycles
    are then ceil(latency_s x clock)). mappings / fusion: empty for none (filled with None / "").
    """
    n = len(identity.names)
    names = identity.names
    compute = whole_numbers(compute_cycles, field_name="compute_cycles", names=names, what=what)
    stall = whole_numbers(stall_cycles, field_name="stall_cycles", names=names, what=what)
    cycles = compute + stall
    latency = cycles / (freq_mhz * 1e6) if latency_s is None else np.asarray(latency_s, dtype=np.float64)
    terms = {term: np.asarray(values, dtype=np.float64) for term, values in energy_terms_pj.items()}
    energy = sum(terms.values(), np.zeros(n))
    with np.errstate(divide="ignore", invalid="ignore"):
        util = identity.macs / (peak_macs_per_cycle * cycles)
    util = np.where(cycles > 0, util, 0.0)
    columns = {"compute_cycles": compute, "stall_cycles": stall, "latency_s": latency, "energy_pj": energy,
               "dram_bytes": dram_bytes, **{f"energy_terms_pj[{t!r}]": v for t, v in terms.items()}}
    for label, column in columns.items():
        if np.shape(column) != (n,):
            raise HwmapError(f"{what}: {label} has shape {np.shape(column)}, expected one value per layer ({n})")
    for label, column in (("mappings", mappings), ("fusion", fusion)):
        if len(column) not in (0, n):
            raise HwmapError(f"{what}: {label} has {len(column)} entries, expected one per layer ({n})")
    return LayerCosts(
        names=identity.names, op_classes=identity.op_classes, scopes=identity.scopes, units=identity.units,
        macs=identity.macs, gemm_batch=identity.gemm_batch, gemm_m=identity.gemm_m, gemm_n=identity.gemm_n,
        gemm_k=identity.gemm_k, compute_cycles=compute, stall_cycles=stall, cycles=cycles, latency_s=latency,
        energy_terms_pj=terms, energy_pj=energy, utilisation=util,
        dram_bytes=whole_numbers(dram_bytes, field_name="dram_bytes", names=names, what=what),
        mappings=tuple(mappings) if mappings else (None,) * n, fusion=tuple(fusion) if fusion else ("",) * n,
    )


@dataclass(frozen=True)
class GraphCost:
    """Cost of one layer graph on one hardware template.

    Totals are scalars with the unit in the name: ``cycles``, ``compute_cycles``, ``stall_cycles``, ``dram_bytes``
    and ``macs`` (ints), ``latency_ms``, ``energy_mj``, ``utilisation`` (floats), ``energy_terms_mj`` (term -> mJ).
    Per-layer values: ``layers`` (a :class:`LayerCosts` table), :meth:`to_dataframe`, :meth:`to_records`.
    """

    model: str
    accelerator: str
    kind: str
    freq_mhz: float
    peak_macs_per_cycle: float
    layers: LayerCosts
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)  # dataflow, calibration, ... as used
    fused: tuple[str, ...] = ()  # what was fused into what, one line per fused group

    def __repr__(self) -> str:
        """One line: what was costed and the totals (the per-layer values are in to_dataframe())."""
        return (f"GraphCost(model={self.model!r}, accelerator={self.accelerator!r}, layers={len(self.layers)}, "
                f"cycles={self.cycles:,}, latency_ms={self.latency_ms:.6g}, energy_mj={self.energy_mj:.6g})")

    # ------------------------------------------------------------------ totals (sums of the layer table)

    @cached_property
    def cycles(self) -> int:
        return int(self.layers.cycles.sum())

    @cached_property
    def compute_cycles(self) -> int:
        return int(self.layers.compute_cycles.sum())

    @cached_property
    def stall_cycles(self) -> int:
        return int(self.layers.stall_cycles.sum())

    @cached_property
    def latency_ms(self) -> float:
        """The sum of the layers' latency_s, in ms: cycles / clock on accelerator templates (computed from the whole
        cycle total, so 21,664,602 cycles at 1000 MHz are 21.664602 ms, not a float sum's 21.664601999999998), the
        timeline's latencies on a GPU."""
        if is_timeline(self.kind):
            return math.fsum(self.layers.latency_s) * 1e3
        return self.cycles / (self.freq_mhz * 1e3)

    @cached_property
    def energy_mj(self) -> float:
        return float(self.layers.energy_pj.sum()) / PJ_PER_MJ

    @cached_property
    def energy_terms_mj(self) -> dict[str, float]:
        return {term: float(values.sum()) / PJ_PER_MJ for term, values in self.layers.energy_terms_pj.items()}

    @cached_property
    def dram_bytes(self) -> int:
        return int(self.layers.dram_bytes.sum())

    @cached_property
    def macs(self) -> int:
        return int(self.layers.macs.sum())

    @cached_property
    def utilisation(self) -> float:
        """MAC utilisation over the cycles the MAC array is busy (array layers only)."""
        array = np.array([u == UNIT_ARRAY for u in self.layers.units], dtype=bool)
        busy = int(self.layers.cycles[array].sum())
        return float(self.layers.macs[array].sum()) / (self.peak_macs_per_cycle * busy) if busy else 0.0

    # ------------------------------------------------------------------ breakdowns

    def shares_by(self, key: str = "op-group") -> dict[str, dict[str, float]]:
        """Shares of MACs, cycles and energy per op group / op class / module: {key: {macs, cycles, energy}}.

        key: "op-group", "op-class" or "module" ("op_group" and "op_class" alike)."""
        labels = self._labels(key)
        layers = self.layers
        columns = {"macs": layers.macs.astype(float), "cycles": layers.cycles.astype(float),
                   "energy": layers.energy_pj}
        totals = {name: float(col.sum()) for name, col in columns.items()}
        shares: dict[str, dict[str, float]] = {}
        label_array = np.array(labels, dtype=object)  # one comparison per label, not a Python loop (sweeps)
        for label in dict.fromkeys(labels):
            mask = label_array == label
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
        """One dict per layer: identity, GEMM dims, cycles, latency, utilisation, DRAM bytes and each energy term
        (pJ), plus fusion and the mapping's columns where the cost model has them."""
        columns = self._columns()
        return [{name: _plain(values[i]) for name, values in columns.items()} for i in range(len(self.layers))]

    def _columns(self) -> dict[str, object]:
        t = self.layers
        columns: dict[str, object] = {
            "layer": t.names, "op_class": t.op_classes, "module": t.scopes, "unit": t.units,
            "macs": t.macs, "gemm_batch": t.gemm_batch, "gemm_m": t.gemm_m, "gemm_n": t.gemm_n,
            "gemm_k": t.gemm_k, "compute_cycles": t.compute_cycles, "stall_cycles": t.stall_cycles,
            "cycles": t.cycles, "latency_s": t.latency_s, "utilisation": t.utilisation, "dram_bytes": t.dram_bytes,
        }
        for term, values in t.energy_terms_pj.items():
            columns[f"energy_{term.replace('.', '_')}_pj"] = values
        columns["energy_pj"] = t.energy_pj
        if "fusion" in self.settings:  # the accelerator kinds fuse; a GPU's fusion is its mode's
            columns["fusion"] = t.fusion
        records = [m.record() if m is not None else None for m in t.mappings]
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
        """The totals under their attribute names (what ``--json`` prints)."""
        return {
            "model": self.model, "accelerator": self.accelerator, "kind": self.kind, "freq_mhz": self.freq_mhz,
            "macs": self.macs, "cycles": self.cycles, "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_cycles, "latency_ms": self.latency_ms, "energy_mj": self.energy_mj,
            "energy_terms_mj": self.energy_terms_mj, "utilisation": self.utilisation,
            "dram_bytes": self.dram_bytes, "settings": self.settings,
        }

    def to_dict(self, *, layers: bool = True) -> dict:
        data = {**self.totals_dict(), "shares_by_op_group": self.shares_by("op-group"),
                "assumptions": list(self.assumptions), "notes": list(self.notes), "fused": list(self.fused)}
        if layers:
            data["layers"] = self.to_records()
        return data


def _plain(value):
    return value.item() if hasattr(value, "item") else value
