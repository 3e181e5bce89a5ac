"""The layer graph: every traced operator with shapes, canonical Work, op class and module scope.

Frozen dataclasses, no torch: a saved graph is read back and analysed without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Unsupported, Work


@dataclass(frozen=True, slots=True)
class Node:
    """One traced operator call."""

    index: int
    op: str  # aten overload name, e.g. "aten.convolution.default"
    work: Work
    op_class: OpClass
    scope: str  # qualified name of the innermost module ("" for the root)
    module_class: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    part: str = ""  # sub-step of a multi-step lowering, e.g. "qk" / "softmax" / "av" of fused attention

    @property
    def name(self) -> str:
        base = self.scope or "<root>"
        suffix = f".{self.part}" if self.part else ""
        return f"{base}:{self.op.split('.')[1] if '.' in self.op else self.op}{suffix}#{self.index}"

    @property
    def macs(self) -> int:
        return self.work.macs

    @property
    def weight_bytes(self) -> int:
        return sum(t.size_bytes for t in self.inputs if t.is_weight)

    @property
    def activation_in_bytes(self) -> int:
        return sum(t.size_bytes for t in self.inputs if not t.is_weight)

    @property
    def activation_out_bytes(self) -> int:
        return sum(t.size_bytes for t in self.outputs)

    @property
    def predecessors(self) -> tuple[int, ...]:
        """Indices of the nodes whose outputs this node consumes (producer-to-consumer edges)."""
        return tuple(int(t.source) for t in self.inputs if t.source.isdigit())


@dataclass(frozen=True)
class LayerGraph:
    """A model's traced operators in execution order, plus what the trace knows about the model."""

    model: str
    input_shapes: tuple[tuple[int, ...], ...]
    nodes: tuple[Node, ...]
    params: int
    param_bytes: int
    buffer_bytes: int
    capture_mode: str = "meta"  # "meta", "fake" or "cpu": how the trace was run
    notes: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)  # free-form provenance (source spec, versions)

    def __repr__(self) -> str:
        """One line (a graph has thousands of nodes: print(graph) must not dump them); graph.nodes has them all."""
        shapes = ", ".join("x".join(map(str, s)) for s in self.input_shapes)
        unsupported = f", {len(self.unsupported)} unsupported" if self.unsupported else ""
        return (f"LayerGraph({self.model!r}, input {shapes}, {len(self.nodes)} nodes, {self.total_macs:,} MACs, "
                f"{self.params:,} params{unsupported})")

    @cached_property
    def total_macs(self) -> int:
        return sum(n.work.macs for n in self.nodes)

    @cached_property
    def unsupported(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if isinstance(n.work, Unsupported))

    @cached_property
    def activation_bytes(self) -> int:
        """Bytes written by every operator that does real work (views excluded): the activation traffic."""
        return sum(n.activation_out_bytes for n in self.nodes if n.work.kind != "zero")

    def unsupported_summary(self, limit: int = 8) -> str:
        """'aten.foo in blocks.0.attn (x3), ...': the unsupported ops with their modules, for every report."""
        counts: dict[tuple[str, str], int] = {}
        for node in self.unsupported:
            key = (node.op, node.scope or "<root>")
            counts[key] = counts.get(key, 0) + 1
        items = [f"{op} in {scope}" + (f" (x{n})" if n > 1 else "") for (op, scope), n in counts.items()]
        more = f", and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more
