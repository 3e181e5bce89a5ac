"""Layer graph <-> JSON. Reading needs no torch; every malformed file is one GraphFileError naming file and field."""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from pathlib import Path

from hwmap.errors import GraphFileError
from hwmap.fileio import atomic_write_text, parse_json_strict, read_text_input
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
    text = read_text_input(path, what="graph file", error=GraphFileError)
    data = parse_json_strict(text, origin=f"graph file {path}", error=GraphFileError)
    return graph_from_dict(data, origin=str(path))


# Integers past this would overflow the int64 arithmetic of the cost models (products of a few of them).
MAX_INT = 1 << 62


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
            input_shapes=tuple(_shape(s) for s in data["input_shapes"]),
            nodes=tuple(nodes),
            params=_count(data["params"]),
            param_bytes=_count(data["param_bytes"]),
            buffer_bytes=_count(data["buffer_bytes"]),
            capture_mode=str(data["capture_mode"]),
            notes=tuple(str(n) for n in data["notes"]),
            meta=dict(data.get("meta") or {}),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GraphFileError(f"graph file {origin}: {field}: {detail}") from None
    if graph.total_macs > MAX_INT:
        raise GraphFileError(f"graph file {origin}: total_macs {graph.total_macs} is too large (at most 2^62)")
    if graph.total_macs != data.get("total_macs"):
        raise GraphFileError(f"graph file {origin}: total_macs {data.get('total_macs')!r} does not match the "
                             f"sum over its nodes ({graph.total_macs}); the file was edited or damaged")
    return graph


_CLASSES = {c.value: c for c in OpClass}


def _shape(dims: list) -> tuple[int, ...]:
    if not isinstance(dims, list | tuple):
        raise ValueError(f"tensor shape {dims!r} must be a list of integers")
    shape = tuple(dims)
    for d in shape:
        if type(d) is not int or d < 0 or d > MAX_INT:
            raise ValueError(f"tensor shape {dims!r} must hold non-negative integers")
    return shape


_POSITIVE_TUPLES = ("kernel", "stride", "dilation")


def _check_work(raw: object) -> None:
    """The raw work dict before it is built: integers only (7.9 is not a kernel), within range."""
    if not isinstance(raw, dict):
        raise ValueError(f"work must be an object, got {raw!r}")
    for name, value in raw.items():
        if name in ("kind", "transposed"):
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if type(v) is not int or v < 0 or v > MAX_INT:
                raise ValueError(f"work field {name!r} must hold non-negative integers, got {value!r}")


def _check_conv(work, outputs) -> None:
    """Convolution geometry: positive kernel/stride/dilation, padding >= 0, groups dividing the channels, equal
    ranks, and an output size the input, kernel, stride, padding and dilation can produce."""
    rank = len(work.in_spatial)
    for name in ("out_spatial", "kernel", "stride", "padding", "dilation"):
        if len(getattr(work, name)) != rank:
            raise ValueError(f"conv {name} {list(getattr(work, name))} has not the rank of in_spatial "
                             f"{list(work.in_spatial)}")
    for name in _POSITIVE_TUPLES:
        if any(v < 1 for v in getattr(work, name)):
            raise ValueError(f"conv {name} {list(getattr(work, name))} must hold positive integers")
    if work.batch < 1 or work.in_channels < 1 or work.out_channels < 1:
        raise ValueError("conv batch, in_channels and out_channels must be positive")
    if work.groups < 1 or work.in_channels % work.groups or work.out_channels % work.groups:
        raise ValueError(f"conv groups {work.groups} must be positive and divide in_channels "
                         f"{work.in_channels} and out_channels {work.out_channels}")
    for size_in, size_out, k, s, p, d in zip(work.in_spatial, work.out_spatial, work.kernel, work.stride,
                                            work.padding, work.dilation, strict=True):
        span = d * (k - 1) + 1
        if work.transposed:
            low = (size_in - 1) * s - 2 * p + span
            ok = low - 1 <= size_out <= low + s  # output_padding < stride, asymmetric padding
        else:
            expected = (size_in + 2 * p - span) // s + 1 if size_in + 2 * p >= span else 0
            ok = expected >= 1 and abs(size_out - expected) <= 1  # +-1: asymmetric padding, ceil mode
        if not ok:
            raise ValueError(f"conv output size {list(work.out_spatial)} does not follow from input "
                             f"{list(work.in_spatial)}, kernel {list(work.kernel)}, stride {list(work.stride)}, "
                             f"padding {list(work.padding)}, dilation {list(work.dilation)}")
    if outputs and len(outputs[0].shape) == rank + 2:
        expected_shape = (work.batch, work.out_channels, *work.out_spatial)
        if tuple(outputs[0].shape) != expected_shape:
            raise ValueError(f"conv output tensor {list(outputs[0].shape)} does not match its work "
                             f"{list(expected_shape)}")


def _node_from_dict(index: int, raw: dict) -> Node:
    inputs = tuple(TensorMeta(_shape(shape), str(dtype), str(source)) for shape, dtype, source in raw["inputs"])
    for tensor in inputs:
        if tensor.source.isdigit() and int(tensor.source) >= index:
            raise ValueError(f"input source {tensor.source} is not an earlier node")
    op_class = _CLASSES.get(raw["class"])
    if op_class is None:
        raise ValueError(f"{raw['class']!r} is not an op class (expected one of {', '.join(_CLASSES)})")
    produced = str(index)
    _check_work(raw["work"])
    work = work_from_dict(raw["work"])
    outputs = tuple(TensorMeta(_shape(shape), str(dtype), produced) for shape, dtype in raw["outputs"])
    if work.kind == "conv":
        _check_conv(work, outputs)
    if work.macs > MAX_INT:
        raise ValueError(f"{work.macs} MACs is too large (at most 2^62)")
    return Node(
        index=index,
        op=str(raw["op"]),
        work=work,
        op_class=op_class,
        scope=str(raw["scope"]),
        module_class=str(raw["module"]),
        inputs=inputs,
        outputs=outputs,
        part=str(raw.get("part", "")),
    )


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value
