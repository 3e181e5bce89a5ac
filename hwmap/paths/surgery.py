"""Derive a skipped-blocks path's layer graph from the full model's graph, without tracing again.

A skipped residual block is an identity: the traced graph of the path is the full graph without the nodes that
ran inside the block, with the block's consumers reading the block's input instead. Removing those nodes gives
the same graph as tracing the transformed model (tests compare both), in milliseconds instead of a forward.
"""

from __future__ import annotations

from dataclasses import replace

from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.tensor import TensorMeta


def block_infos_from_graph(graph: LayerGraph, containers: list[tuple[str, list[str]]]) -> list:
    """Which candidate blocks preserve their input's shape, read off the traced graph (no extra forward): the
    block's input is the first activation its nodes read from outside, its output the last node's output."""
    from hwmap.paths.transforms import BlockInfo

    infos = []
    for _container, names in containers:
        for name in names:
            members = [n for n in graph.nodes if _inside(n.scope, name)]
            inside = {n.index for n in members}
            entry = next((t for n in members for t in n.inputs
                          if not t.is_weight and not (t.source.isdigit() and int(t.source) in inside)), None)
            exit_ = next((n.outputs[0] for n in reversed(members) if n.outputs), None)
            preserved = entry is not None and exit_ is not None and entry.shape == exit_.shape
            infos.append(BlockInfo(name, members[0].module_class if members else "", preserved))
    return infos


def _inside(scope: str, block: str) -> bool:
    return scope == block or scope.startswith(block + ".")


def remove_blocks(graph: LayerGraph, blocks: list[str], *, name: str) -> LayerGraph:
    """graph without the nodes of the given module scopes (each block must map its input to its output shape)."""
    removed: dict[int, str] = {}  # removed node index -> the source its consumers read instead
    removed_params: dict[str, int] = {}
    for block in blocks:
        members = [n for n in graph.nodes if _inside(n.scope, block)]
        if not members:
            continue
        first_input = next((t.source for n in members for t in n.inputs
                            if not t.is_weight and not (t.source.isdigit() and int(t.source) in
                                                        {m.index for m in members})), "const")
        first_input = removed.get(int(first_input), first_input) if first_input.isdigit() else first_input
        for node in members:
            removed[node.index] = first_input
            for tensor in node.inputs:
                if tensor.source.startswith("param:") and tensor.source[6:].startswith(block + "."):
                    removed_params[tensor.source] = tensor.numel
    renumber: dict[int, int] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.index in removed:
            continue
        renumber[node.index] = len(nodes)
        nodes.append(replace(
            node, index=len(nodes),
            inputs=tuple(_remap(t, removed, renumber) for t in node.inputs),
            outputs=tuple(t._replace(source=str(len(nodes))) for t in node.outputs),
        ))
    params_gone = sum(removed_params.values())
    bytes_per_param = graph.param_bytes / graph.params if graph.params else 4
    return replace(graph, model=name, nodes=tuple(nodes), params=graph.params - params_gone,
                   param_bytes=graph.param_bytes - int(params_gone * bytes_per_param),
                   notes=graph.notes + (f"derived from the full graph without blocks {', '.join(blocks)}",),
                   meta={**graph.meta, "skipped_blocks": list(blocks)})


def _remap(tensor: TensorMeta, removed: dict[int, str], renumber: dict[int, int]) -> TensorMeta:
    source = tensor.source
    if not source.isdigit():
        return tensor
    index = int(source)
    while index in removed:  # a consumer of a skipped block reads the block's input
        source = removed[index]
        if not source.isdigit():
            return tensor._replace(source=source)
        index = int(source)
    return tensor._replace(source=str(renumber[index]))
