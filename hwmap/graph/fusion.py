"""Operator fusion: which traced operators run inside another operator's kernel. One pass for every cost model.

A fusion plan is data: groups of graph positions, each led by an *anchor* (the operator that runs as a kernel) with
the operators that run inside it. Cost models read the plan; none decides fusion on its own.

Policies
--------
``none``
    Every operator is its own kernel: each reads its inputs from and writes its outputs to memory.
``epilogue`` (accelerators; the default of ``hwmap estimate``)
    What a CNN accelerator does at inference. Anchors are convolutions and GEMMs (linear layers, matmuls).
    - A batch norm whose input is an anchor's output, with nothing fused after the anchor yet, is *folded* into the
      anchor's weights and bias offline: it costs nothing at run time.
    - An activation, an elementwise operator (bias, scale, residual add, multiply) or a batch norm that cannot be
      folded (it follows an activation) is an *epilogue*: it consumes the group's running result on chip as the
      array drains it, so that result is never written to memory. A residual add still reads its other operand
      (``FusedGroup.external_input_bytes``).
    - Softmax, layer/group norm, pooling, resizing, data movement and unsupported operators stay separate kernels;
      no documented rule fuses them on the templates hwmap ships.
    Assumes: a member fuses only if the group's running result (resolved through views) feeds it and nothing else
    (a second consumer would need the intermediate in memory), and only into the kernel launched just before it
    (the array drains one layer at a time). Views are free and transparent.
``compiled`` (the GPU model's torch.compile / Inductor mode)
    Inductor generates Triton kernels for pointwise operators, reductions and copies, and calls library kernels
    for the rest: every convolution (depthwise included) is ``extern_kernels.convolution`` (cuDNN), every GEMM
    (``mm``/``addmm``/``bmm``) cuBLAS, fused attention FlashAttention / memory-efficient SDPA. A library kernel
    takes no fused epilogue (Inductor fuses into GEMMs only with ``max_autotune``'s Triton templates, not
    torch.compile's default that timm's ``--torchcompile`` uses). So an activation, elementwise, batch-norm,
    layer/group/RMS-norm or data-movement operator (a permute's ``contiguous`` copy, ``cat``, ``pad``, ``roll``)
    one of whose activation inputs was produced inside the kernel launched just before it (whichever argument:
    Inductor fuses a consumer with its producer's kernel, ``x + f(y)`` as ``f(y) + x``) joins that kernel if it
    is a generated one (a pointwise, norm, pooling, softmax or copy kernel), and starts a generated kernel after
    a library kernel. Pre-formed kernels (fused attention chains) are passed in by the caller and count as one
    library launch. Batch norms are computed, not folded (Inductor without weight freezing keeps them).

Positions are indices into ``graph.nodes`` (equal to ``Node.index`` for traced and derived graphs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from hwmap.errors import HwmapError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Conv, Elementwise, Gemm, Unsupported, Zero
from hwmap.vocabulary import FUSIONS

FusionPolicy = Literal["none", "epilogue", "compiled"]
FUSION_POLICIES: tuple[str, ...] = (*FUSIONS, "compiled")  # GPUs add compiled kernels
Role = Literal["anchor", "epilogue", "folded", "alone"]

__all__ = ["FUSION_POLICIES", "FusedGroup", "FusionPlan", "FusionPolicy", "plan_fusion", "readers"]


@dataclass(frozen=True, slots=True)
class FusedGroup:
    """One kernel: its anchor and the operators that run inside it, in execution order."""

    anchor: int
    folded: tuple[int, ...] = ()  # batch norms folded into the anchor's weights: no run-time cost
    epilogue: tuple[int, ...] = ()  # operators consuming the running result on chip
    kernel: tuple[int, ...] = ()  # other positions of a pre-formed kernel (fused attention chain), if any

    @property
    def members(self) -> tuple[int, ...]:
        """Every position of the group, anchor included, in position order."""
        return tuple(sorted((self.anchor, *self.kernel, *self.folded, *self.epilogue)))

    @property
    def output(self) -> int:
        """The member whose result leaves the group: the last epilogue, else the last folded norm, else the anchor.

        A folded norm's output is the anchor's output with folded weights, so its tensor is what leaves the group.
        """
        if self.epilogue:
            return self.epilogue[-1]
        if self.folded:
            return self.folded[-1]
        return self.anchor

    def external_input_bytes(self, graph: LayerGraph, position: int) -> int:
        """Bytes a member reads from outside the group (a residual add's other operand); weights excluded."""
        inside = set(self.members)
        positions = _positions(graph)
        total = 0
        for tensor in graph.nodes[position].inputs:
            if tensor.is_weight:
                continue
            source = positions.get(int(tensor.source)) if tensor.source.isdigit() else None
            producer = _resolve(graph, source, positions)
            if producer is None or producer not in inside:
                total += tensor.size_bytes
        return total


@dataclass(frozen=True)
class FusionPlan:
    """Which operators of a graph run inside which kernel, under one policy."""

    policy: str
    groups: tuple[FusedGroup, ...]  # only groups with at least one operator besides the anchor

    @cached_property
    def _role_by_position(self) -> dict[int, tuple[Role, FusedGroup]]:
        roles: dict[int, tuple[Role, FusedGroup]] = {}
        for group in self.groups:
            roles[group.anchor] = ("anchor", group)
            for p in group.kernel:
                roles[p] = ("anchor", group)
            for p in group.folded:
                roles[p] = ("folded", group)
            for p in group.epilogue:
                roles[p] = ("epilogue", group)
        return roles

    def role(self, position: int) -> Role:
        """'anchor' (leads or belongs to a pre-formed kernel), 'folded', 'epilogue', or 'alone'."""
        found = self._role_by_position.get(position)
        return found[0] if found else "alone"

    def group_of(self, position: int) -> FusedGroup | None:
        found = self._role_by_position.get(position)
        return found[1] if found else None

    @property
    def folded_count(self) -> int:
        return sum(len(g.folded) for g in self.groups)

    @property
    def epilogue_count(self) -> int:
        return sum(len(g.epilogue) for g in self.groups)

    def describe(self, graph: LayerGraph) -> list[str]:
        """One line per group: 'layer1.0.conv1 <- layer1.0.bn1 (folded), layer1.0.act1 (epilogue)'."""
        lines = []
        for group in self.groups:
            parts = [f"{_label(graph.nodes[p])} (folded)" for p in group.folded]
            parts += [f"{_label(graph.nodes[p])} (epilogue)" for p in group.epilogue]
            lines.append(f"{_label(graph.nodes[group.anchor])} <- {', '.join(parts)}")
        return lines

    def to_dict(self, graph: LayerGraph) -> dict:
        return {"policy": self.policy, "folded": self.folded_count, "epilogue": self.epilogue_count,
                "groups": self.describe(graph)}


def plan_fusion(graph: LayerGraph, *, policy: str = "epilogue",
                kernels: Sequence[tuple[int, Sequence[int]]] = ()) -> FusionPlan:
    """The fusion plan of a graph under a policy (see the module docstring).

    kernels: pre-formed multi-operator kernels as (launch position, member positions), e.g. fused attention chains
    for the ``compiled`` policy; their members are never fused elsewhere.
    """
    if policy not in FUSION_POLICIES:
        raise HwmapError(f"fusion policy must be one of {', '.join(FUSION_POLICIES)}, got {policy!r}")
    if policy == "none":
        return FusionPlan(policy, ())
    builders = _walk_compiled(graph, kernels) if policy == "compiled" else _walk_epilogue(graph)
    groups = tuple(b.freeze() for b in builders if b.folded or b.epilogue or b.kernel)
    return FusionPlan(policy, groups)


# --- the walk --------------------------------------------------------------------------------------------------


@dataclass
class _Builder:
    anchor: int
    library_kernel: bool  # a cuDNN/cuBLAS/attention kernel: nothing fuses into it under the compiled policy
    kernel: list[int]
    folded: list[int]
    epilogue: list[int]

    @property
    def output(self) -> int:
        if self.epilogue:
            return self.epilogue[-1]
        if self.folded:
            return self.folded[-1]
        return self.anchor

    def holds(self, position: int) -> bool:
        return position == self.anchor or position in self.kernel or position in self.folded \
            or position in self.epilogue

    def freeze(self) -> FusedGroup:
        return FusedGroup(self.anchor, tuple(self.folded), tuple(self.epilogue),
                          tuple(p for p in self.kernel if p != self.anchor))


def _walk_epilogue(graph: LayerGraph) -> list[_Builder]:
    nodes = graph.nodes
    positions = _positions(graph)
    consumers = readers(graph, positions)
    groups: list[_Builder] = []
    current: _Builder | None = None
    for p, node in enumerate(nodes):
        if isinstance(node.work, Zero):
            continue  # views are free and transparent
        if _is_anchor(node):
            current = _Builder(p, True, [], [], [])
            groups.append(current)
            continue
        kind = _pointwise_kind(node)
        if current is not None and kind is not None:
            output = current.output
            preds = [_resolve(graph, q, positions) for q in _activation_preds(node, positions)]
            if output in preds and consumers[output] == [p]:
                if kind == "batch_norm" and not current.epilogue and _is_foldable_anchor(nodes[current.anchor]):
                    current.folded.append(p)
                else:
                    current.epilogue.append(p)
                continue
        current = None  # any other kernel ends the chance to fuse into the previous anchor
    return groups


def _walk_compiled(graph: LayerGraph, kernels: Sequence[tuple[int, Sequence[int]]]) -> list[_Builder]:
    nodes = graph.nodes
    positions = _positions(graph)
    kernel_at = {launch: tuple(members) for launch, members in kernels}
    in_kernel = {m for _, members in kernels for m in members}
    launches: list[_Builder] = []
    for p, node in enumerate(nodes):
        if p in kernel_at:
            launches.append(_Builder(p, True, list(kernel_at[p]), [], []))
            continue
        if p in in_kernel or isinstance(node.work, (Zero, Unsupported)):
            continue
        category = _kernel_category(node)
        generated = category in ("pointwise", "batch_norm", "normalization") \
            or node.op_class is OpClass.DATA_MOVEMENT
        if launches and generated and not launches[-1].library_kernel:
            last = launches[-1]
            producers = [_resolve(graph, q, positions) for q in _activation_preds(node, positions)]
            if any(q is not None and last.holds(q) for q in producers):
                last.epilogue.append(p)
                continue
        launches.append(_Builder(p, _is_library_kernel(node, category), [], [], []))
    return launches


def _is_library_kernel(node: Node, category: str) -> bool:
    """Whether Inductor calls a library kernel for the operator (cuDNN convolutions, depthwise included; cuBLAS
    GEMMs) instead of generating one it can fuse into."""
    return category == "tensor" or isinstance(node.work, Conv)


# --- operator categories -------------------------------------------------------------------------------------


def _is_anchor(node: Node) -> bool:
    """Convolutions and GEMMs: the kernels an accelerator's epilogue hangs off."""
    return isinstance(node.work, (Conv, Gemm))


def _is_foldable_anchor(node: Node) -> bool:
    """A batch norm folds into a convolution's or linear layer's weights; not into an activation x activation matmul."""
    return isinstance(node.work, Conv) or node.op_class in (OpClass.LINEAR, OpClass.LINEAR_ATTENTION,
                                                             OpClass.ATTENTION_PROJECTION)


_TENSOR_OPCLASSES = frozenset({OpClass.CONV_DENSE, OpClass.CONV_POINTWISE, OpClass.CONV_GROUPED, OpClass.LINEAR,
                               OpClass.LINEAR_ATTENTION, OpClass.ATTENTION_PROJECTION, OpClass.MATMUL,
                               OpClass.ATTENTION_MATMUL})
_CLASSIFIED = _TENSOR_OPCLASSES | {OpClass.CONV_DEPTHWISE, OpClass.ATTENTION_SOFTMAX, OpClass.ACTIVATION,
                                   OpClass.ELEMENTWISE, OpClass.POOL_RESIZE, OpClass.DATA_MOVEMENT, OpClass.NORM}


def _kernel_category(node: Node) -> str:
    """'tensor', 'pointwise', 'batch_norm', 'normalization' or 'other': what kind of kernel an operator is.

    Follows the GPU model's fit classes: tensor = runs on tensor cores (GEMMs, every convolution but depthwise);
    pointwise = activation / elementwise; batch_norm = an inference-mode norm lowered to a per-channel scale and
    shift; normalization = a norm that reduces (layer/group/RMS norm).
    """
    work, op_class = node.work, node.op_class
    if isinstance(work, Conv):
        return "other" if work.is_depthwise else "tensor"
    if "softmax" in node.op:
        return "other"
    if op_class is OpClass.NORM:
        return "batch_norm" if isinstance(work, Elementwise) else "normalization"
    if op_class in _TENSOR_OPCLASSES:
        return "tensor"
    if op_class in (OpClass.ACTIVATION, OpClass.ELEMENTWISE):
        return "pointwise"
    if op_class in _CLASSIFIED:
        return "other"
    kind = work.kind
    return {"gemm": "tensor", "elementwise": "pointwise", "reduction": "normalization"}.get(kind, "other")


def _pointwise_kind(node: Node) -> str | None:
    """'batch_norm', 'pointwise' or None: elementwise operators that can run as another kernel's epilogue."""
    if not isinstance(node.work, Elementwise):
        return None
    category = _kernel_category(node)
    return category if category in ("pointwise", "batch_norm") else None


# --- edges ---------------------------------------------------------------------------------------------------


def _positions(graph: LayerGraph) -> dict[int, int]:
    return {n.index: p for p, n in enumerate(graph.nodes)}


def _activation_preds(node: Node, positions: dict[int, int]) -> list[int]:
    return [positions[i] for i in node.predecessors if i in positions]


def _resolve(graph: LayerGraph, position: int | None, positions: dict[int, int]) -> int | None:
    """Follow views back to the operator that produced the data."""
    if position is None:
        return None
    nodes = graph.nodes
    for _ in range(64):
        node = nodes[position]
        if not isinstance(node.work, Zero) or not node.predecessors:
            return position
        nxt = positions.get(node.predecessors[0])
        if nxt is None:
            return position
        position = nxt
    return position


def readers(graph: LayerGraph, positions: dict[int, int] | None = None) -> list[list[int]]:
    """For every position, the non-view operators that read its output (directly or through views)."""
    positions = _positions(graph) if positions is None else positions
    direct: list[list[int]] = [[] for _ in graph.nodes]
    for p, node in enumerate(graph.nodes):
        for q in _activation_preds(node, positions):
            if p not in direct[q]:
                direct[q].append(p)

    def real(p: int, depth: int = 0) -> list[int]:
        found: list[int] = []
        for c in direct[p]:
            if isinstance(graph.nodes[c].work, Zero) and depth < 64:
                found.extend(x for x in real(c, depth + 1) if x not in found)
            elif c not in found:
                found.append(c)
        return found

    return [real(p) for p in range(len(graph.nodes))]


def _label(node: Node) -> str:
    op = node.op.split(".")[1] if "." in node.op else node.op
    return f"{node.scope or '<root>'}:{op}"
