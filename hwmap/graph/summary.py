"""Where a model's MACs go: totals and breakdowns by op class, module or layer (no torch needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.classes import GROUP_ORDER, reporting_class
from hwmap.units import macs_to_flops
from hwmap.vocabulary import BREAKDOWNS

BreakdownKey = Literal[BREAKDOWNS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class BreakdownRow:
    key: str
    macs: int
    share: float  # of the total MACs
    count: int  # operators aggregated into the row
    detail: str = ""  # module class (module rows), work summary (layer rows)


@dataclass(frozen=True)
class FlopsSummary:
    model: str
    input_shapes: tuple[tuple[int, ...], ...]
    total_macs: int
    params: int
    param_bytes: int
    activation_bytes: int
    by: str
    linear_as_conv: bool
    rows: tuple[BreakdownRow, ...]
    group_shares: dict[str, float]  # share of MACs per op group (conv, linear, attention, ...)
    unsupported: str  # summary of unsupported ops with their modules ("" when none)
    capture_mode: str
    notes: tuple[str, ...]
    comparison: Any = None  # hwmap.graph.compare.CounterComparison when asked for (api.flops(compare=True))

    @property
    def total_flops(self) -> float:
        return macs_to_flops(self.total_macs)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "input_shapes": [list(s) for s in self.input_shapes],
            "total_macs": self.total_macs, "total_flops": self.total_flops, "params": self.params,
            "param_bytes": self.param_bytes, "activation_bytes": self.activation_bytes, "by": self.by,
            "linear_as_conv": self.linear_as_conv, "group_shares": self.group_shares,
            "rows": [vars(r) for r in self.rows], "unsupported": self.unsupported,
            "capture_mode": self.capture_mode, "notes": list(self.notes),
            **({"compare": self.comparison.to_dict()} if self.comparison is not None else {}),
        }


def node_class(node: Node, *, linear_as_conv: bool) -> str:
    return reporting_class(node.op_class, linear_as_conv=linear_as_conv).value


def module_key(node: Node, depth: int | None) -> str:
    scope = node.scope or "<root>"
    if depth is None:
        return scope
    return ".".join(scope.split(".")[:depth])


def summarise(
    graph: LayerGraph,
    *,
    by: BreakdownKey = "op-class",
    linear_as_conv: bool = False,
    top: int | None = None,
    module_depth: int | None = None,
) -> FlopsSummary:
    rows = _rows(graph, by=by, linear_as_conv=linear_as_conv, module_depth=module_depth)
    rows.sort(key=lambda r: (-r.macs, r.key))
    if top is not None:
        rows = rows[:top]
    groups = {g: 0 for g in GROUP_ORDER}
    for node in graph.nodes:
        groups[reporting_class(node.op_class, linear_as_conv=linear_as_conv).group] += node.macs
    total = graph.total_macs or 1
    return FlopsSummary(
        model=graph.model, input_shapes=graph.input_shapes, total_macs=graph.total_macs, params=graph.params,
        param_bytes=graph.param_bytes, activation_bytes=graph.activation_bytes, by=by,
        linear_as_conv=linear_as_conv, rows=tuple(rows),
        group_shares={g: m / total for g, m in groups.items() if m},
        unsupported=graph.unsupported_summary() if graph.unsupported else "",
        capture_mode=graph.capture_mode, notes=graph.notes,
    )


def _rows(graph: LayerGraph, *, by: str, linear_as_conv: bool, module_depth: int | None) -> list[BreakdownRow]:
    total = graph.total_macs or 1
    if by == "layer":
        return [BreakdownRow(n.name, n.macs, n.macs / total, 1, _work_text(n)) for n in graph.nodes if n.macs]
    if by not in ("op-class", "op-group", "module"):
        raise ValueError(f"unknown breakdown {by!r}")
    macs: dict[str, int] = {}
    counts: dict[str, int] = {}
    details: dict[str, str] = {}
    for node in graph.nodes:
        if node.work.kind == "zero":
            continue
        if by == "op-class":
            key = node_class(node, linear_as_conv=linear_as_conv)
        elif by == "op-group":
            key = reporting_class(node.op_class, linear_as_conv=linear_as_conv).group
        else:
            key = module_key(node, module_depth)
            details.setdefault(key, node.module_class if module_depth is None else "")
        macs[key] = macs.get(key, 0) + node.macs
        counts[key] = counts.get(key, 0) + 1
    return [BreakdownRow(k, m, m / total, counts[k], details.get(k, "")) for k, m in macs.items()]


def _work_text(node: Node) -> str:
    work = node.work
    if work.kind == "conv":
        g = work.gemm
        k = "x".join(map(str, work.kernel))
        return f"conv {k} g={work.groups} -> gemm {g.batch}x({g.m}x{g.n}x{g.k})"
    if work.kind == "gemm":
        return f"gemm {work.batch}x({work.m}x{work.n}x{work.k})"
    return work.kind
