"""The SCALE-Sim front end: a topology .csv (conv or GEMM format), one node per row (hwmap.interop.scalesim).
A topology fixes every layer's shape, so the input options are not used (as before the registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwmap.graph.frontends import register_front_end

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.graph.ir import LayerGraph
    from hwmap.graph.spec import GraphSpec


@register_front_end("scalesim-topology", route="a SCALE-Sim topology (.csv)", order=65, suffix=".csv")
def read(spec: GraphSpec) -> LayerGraph:
    from hwmap.interop.scalesim import topology_graph

    return topology_graph(spec.model)
