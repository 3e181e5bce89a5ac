"""Unit conversions. MACs are the primitive count; FLOPs are defined here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

FLOPS_PER_MAC = 2

PJ_PER_MJ = 1e9
BYTES_PER_MB = 1e6


#: The units budgets are stored in: fractions of a reference path's cost, mJ (energy), ms (latency).
BUDGET_UNITS: tuple[str, ...] = ("fraction", "mJ", "ms")
#: Every unit a budget may be written in -> (the unit it is stored in, the exact decimal factor to it).
BUDGET_UNIT_SCALES: Mapping[str, tuple[str, Decimal]] = {
    "mJ": ("mJ", Decimal(1)), "uJ": ("mJ", Decimal("0.001")), "µJ": ("mJ", Decimal("0.001")),
    "J": ("mJ", Decimal(1000)),
    "ms": ("ms", Decimal(1)), "us": ("ms", Decimal("0.001")), "µs": ("ms", Decimal("0.001")),
    "s": ("ms", Decimal(1000)),
    "fraction": ("fraction", Decimal(1)),
}


def macs_to_flops(macs: float) -> float:
    """FLOPs as two operations (multiply and add) per multiply-accumulate."""
    return FLOPS_PER_MAC * macs


def format_count(value: float, unit: str = "") -> str:
    """Human-readable count with an SI prefix: 4.09e9 -> '4.09 G'."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()
