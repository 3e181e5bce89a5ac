"""Layer graph <-> JSON. Reading needs no torch; every malformed file is one GraphFileError naming file and field."""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from pathlib import Path

from hwmap.errors import GraphFileError
from hwmap.fileio import atomic_write_text
from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import work_from_dict, work_to_dict

FORMAT = "hwmap.layer_graph"
SCHEMA_VERSION = 1


def graph_to_dict(graph: LayerGraph) -> dict:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "model": graph.model,
        "input_shapes": [list(s) for s in graph.input_shapes],
        "params": graph.params,
        "param_bytes": graph.param_bytes,
        "buffer_bytes": graph.buffer_bytes,
        "capture_mode": graph.capture_mode,
        "notes": list(graph.notes),
        "meta": graph.meta,
        "total_macs": graph.total_macs,  # integrity check on read
        "nodes": [_node_to_dict(n) for n in graph.nodes],
    }


def _node_to_dict(node: Node) -> dict:
    data = {
        "op": node.op,
        "class": node.op_class.value,
        "scope": node.scope,
        "module": node.module_class,
        "work": work_to_dict(node.work),
        "inputs": [[list(t.shape), t.dtype, t.source] for t in node.inputs],
        "outputs": [[list(t.shape), t.dtype] for t in node.outputs],
    }
    if node.part:
        data["part"] = node.part
    return data


def save_graph(graph: LayerGraph, path: str | Path) -> Path:
    return atomic_write_text(path, json.dumps(graph_to_dict(graph), separators=(",", ":")))


def load_graph(path: str | Path) -> LayerGraph:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GraphFileError(f"graph file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        with _no_gc():
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphFileError(f"graph file {path}: not valid JSON at line {exc.lineno} column {exc.colno} "
                             f"({exc.msg}); truncated?") from None
    return graph_from_dict(data, origin=str(path))


@contextmanager
def _no_gc():
    """Building thousands of small frozen objects triggers the cyclic GC again and again; none of them form
    cycles, so pausing it during the build is safe and halves the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def graph_from_dict(data: object, *, origin: str = "<dict>") -> LayerGraph:
    with _no_gc():
        return _graph_from_dict(data, origin=origin)


def _graph_from_dict(data: object, *, origin: str) -> LayerGraph:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GraphFileError(f"graph file {origin}: not an hwmap layer graph (expected \"format\": \"{FORMAT}\")")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise GraphFileError(f"graph file {origin}: schema_version {data.get('schema_version')!r} is not "
                             f"supported (expected {SCHEMA_VERSION})")
    field = "nodes"
    try:
        nodes = []
        for index, raw in enumerate(data["nodes"]):
            field = f"nodes[{index}]"
            nodes.append(_node_from_dict(index, raw))
        field = "header"
        graph = LayerGraph(
            model=str(data["model"]),
            input_shapes=tuple(tuple(int(d) for d in s) for s in data["input_shapes"]),
            nodes=tuple(nodes),
            params=_count(data["params"]),
            param_bytes=_count(data["param_bytes"]),
            buffer_bytes=_count(data["buffer_bytes"]),
            capture_mode=str(data["capture_mode"]),
            notes=tuple(str(n) for n in data["notes"]),
            meta=dict(data.get("meta") or {}),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GraphFileError(f"graph file {origin}: {field}: {detail}") from None
    if graph.total_macs != data.get("total_macs"):
        raise GraphFileError(f"graph file {origin}: total_macs {data.get('total_macs')!r} does not match the "
                             f"sum over its nodes ({graph.total_macs}); the file was edited or damaged")
    return graph


_CLASSES = {c.value: c for c in OpClass}


def _shape(dims: list) -> tuple[int, ...]:
    shape = tuple(dims)
    for d in shape:
        if type(d) is not int or d < 0:
            raise ValueError(f"tensor shape {dims!r} must hold non-negative integers")
    return shape


def _node_from_dict(index: int, raw: dict) -> Node:
    inputs = tuple(TensorMeta(_shape(shape), str(dtype), str(source)) for shape, dtype, source in raw["inputs"])
    for tensor in inputs:
        if tensor.source.isdigit() and int(tensor.source) >= index:
            raise ValueError(f"input source {tensor.source} is not an earlier node")
    op_class = _CLASSES.get(raw["class"])
    if op_class is None:
        raise ValueError(f"{raw['class']!r} is not an op class (expected one of {', '.join(_CLASSES)})")
    produced = str(index)
    return Node(
        index=index,
        op=str(raw["op"]),
        work=work_from_dict(raw["work"]),
        op_class=op_class,
        scope=str(raw["scope"]),
        module_class=str(raw["module"]),
        inputs=inputs,
        outputs=tuple(TensorMeta(_shape(shape), str(dtype), produced) for shape, dtype in raw["outputs"]),
        part=str(raw.get("part", "")),
    )


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value
