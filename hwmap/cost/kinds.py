"""The protocol every kind's cost module follows, and the one door to it (hwmap.hardware.kinds registers them).

A kind's cost module (``kind_info(kind).cost``) exposes exactly three module-level functions:

- ``hardware_view(accelerator) -> Hierarchy``: the template as the neutral N-level hierarchy
  (:mod:`hwmap.hardware.hierarchy`): levels DRAM first with the operands they keep, capacities, multiple
  buffering, per-action energies, bandwidth, instances; the compute level; the spatial unrolling. It is the ONE
  route by which a template's memory reaches the cost: the kind's estimate, the mapper's target
  (:func:`hwmap.cost.memory.memory_hierarchy` projects it), the traffic bounds and the exporters read it. A kind
  with no such hierarchy (GPU) raises TemplateError saying so.
- ``spatial_space(accelerator, settings) -> tuple[SpatialUnrolling, ...]``: which loop dimensions may spread over
  which array axis under these settings (fixed by a systolic dataflow, ``settings.dataflow`` overriding the
  template's; free for a general hierarchy; empty for a GPU).
- ``estimate(graph, accelerator, settings, *, cache) -> GraphCost``: the cost of every layer, settings already
  checked (:meth:`hwmap.cost.settings.EstimateSettings.check_applies`).
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hwmap.errors import HwmapError
from hwmap.hardware.kinds import kind_info

if TYPE_CHECKING:
    from hwmap.cost.result import GraphCost
    from hwmap.cost.settings import EstimateSettings
    from hwmap.graph.ir import LayerGraph
    from hwmap.hardware.hierarchy import Hierarchy, SpatialUnrolling
    from hwmap.hardware.schema import Accelerator

__all__ = ["PROTOCOL_FUNCTIONS", "KindCostModule", "check_cost_module", "cost_module", "hardware_view"]


@runtime_checkable
class KindCostModule(Protocol):
    """What a kind's cost module provides (module-level functions; see the module docstring)."""

    def hardware_view(self, accelerator: Accelerator) -> Hierarchy: ...

    def spatial_space(self, accelerator: Accelerator, settings: EstimateSettings) -> tuple[SpatialUnrolling, ...]: ...

    def estimate(self, graph: LayerGraph, accelerator: Accelerator, settings: EstimateSettings, *,
                 cache: bool) -> GraphCost: ...


# function -> (positional parameters, keyword-only parameters) it must take
PROTOCOL_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hardware_view": (("accelerator",), ()),
    "spatial_space": (("accelerator", "settings"), ()),
    "estimate": (("graph", "accelerator", "settings"), ("cache",)),
}


def check_cost_module(module: ModuleType, kind: str) -> None:
    """Raise HwmapError naming the module and function when ``module`` does not follow the protocol."""
    for name, (positional, keyword_only) in PROTOCOL_FUNCTIONS.items():
        function = getattr(module, name, None)
        if not callable(function):
            raise HwmapError(f"cost module {module.__name__} of kind {kind!r}: no function {name}()")
        parameters = inspect.signature(function).parameters.values()
        got = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        got_keywords = tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)
        if got != positional or not set(keyword_only) <= set(got_keywords):
            raise HwmapError(f"cost module {module.__name__} of kind {kind!r}: {name}() takes ({', '.join(got)}; "
                             f"keywords {', '.join(got_keywords) or 'none'}), expected ({', '.join(positional)}; "
                             f"keywords {', '.join(keyword_only) or 'none'})")
    if not isinstance(module, KindCostModule):
        raise HwmapError(f"cost module {module.__name__} of kind {kind!r} does not follow KindCostModule")


def cost_module(kind: str) -> KindCostModule:
    """The cost module registered for a kind (TemplateError for an unknown kind, HwmapError without one)."""
    return kind_info(kind).cost_module()  # type: ignore[return-value]


def hardware_view(accelerator: Accelerator) -> Hierarchy:
    """The kind's hardware view of a template, built once per template (templates are frozen; sweeps ask for the
    same one per layer and per point)."""
    try:
        return _cached_view(accelerator)
    except TypeError:  # an unhashable spec: build it every time
        return cost_module(accelerator.kind).hardware_view(accelerator)


@lru_cache(maxsize=512)
def _cached_view(accelerator: Accelerator) -> Hierarchy:
    return cost_module(accelerator.kind).hardware_view(accelerator)
