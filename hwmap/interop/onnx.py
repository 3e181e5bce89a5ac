"""ONNX models in: a .onnx file -> a LayerGraph with the same Work types and op classes as an aten trace.

Shapes come from ONNX shape inference (onnx.shape_inference, with data propagation so that Reshape targets
computed by Shape/Gather/Concat chains resolve); no runtime executes the model. Every node is lowered through
the one op registry under the name 'onnx.<OpType>' (hwmap.ops.onnx_ops); an op it does not know is kept as an
Unsupported node and listed in every report, as for aten. Initializers are weights ('param:<name>'), so a
MatMul or Gemm with an initializer operand is a linear layer. Module scopes come from the node names that
torch.onnx.export writes ('/layer1/layer1.0/conv1/Conv' -> 'layer1.0.conv1').

Inputs: a dimension the file leaves symbolic (a dynamic axis) needs a value: the batch axis takes batch, any
other needs input_shape CxHxW (or resolution). A file exported at a fixed size runs only at that size.
The onnx package is imported only when a .onnx file is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hwmap.errors import HwmapError, ModelError, ParameterError, UnsupportedOpError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.limits import (
    MAX_BATCH,
    MAX_FOLDED_ELEMENTS,
    MAX_RESOLUTION,
    check_graph_size,
    check_input_chw,
    check_size,
)
from hwmap.ops.classes import OpClass
from hwmap.ops.registry import Lowered, OpCall, lookup
from hwmap.ops.tensor import DTYPE_BYTES, TensorMeta
from hwmap.ops.work import Unsupported, Zero

_DEFAULT_DOMAINS = ("", "ai.onnx")


def onnx_graph(
    path: str | Path,
    *,
    input_shape: Sequence[int] | None = None,
    resolution: int | None = None,
    batch: int = 1,
    strict: bool = False,
) -> LayerGraph:
    """The layer graph of an ONNX model file. input_shape (C, H, W) or resolution set the first input's
    dynamic dimensions; batch sets a dynamic batch axis."""
    check_size(batch, name="batch", limit=MAX_BATCH)
    if input_shape is not None:
        input_shape = check_input_chw(input_shape)
    if resolution is not None:
        check_size(resolution, name="resolution", limit=MAX_RESOLUTION)
    return read_onnx(path, input_chw=input_shape, resolution=resolution, batch=batch, strict=strict)


def read_onnx(path: str | Path, *, input_chw: tuple[int, int, int] | None, resolution: int | None, batch: int,
              strict: bool) -> LayerGraph:
    """onnx_graph for sizes already checked (a GraphSpec's: the ONNX front end, hwmap.interop.frontends.onnx)."""
    input_shape = input_chw
    path = Path(path)
    model = _read(path)
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if not inputs:
        raise ModelError(f"ONNX model {path}: the graph has no inputs")
    dynamic_batch = bool(_dims(inputs[0])) and _dims(inputs[0])[0] is None
    _set_input_dims(path, inputs, input_shape=input_shape, resolution=resolution, batch=batch)
    model = _infer_shapes(path, model)
    model = _fold_shape_arithmetic(path, model)
    shapes = _known_shapes(model)
    layer_graph = _lower_graph(path, model, shapes, strict=strict)
    check_graph_size(len(layer_graph.nodes), layer_graph.total_macs, name=f"ONNX model {path}", error=ModelError)
    notes = _file_notes(graph, inputs[0].name, batch=batch, dynamic_batch=dynamic_batch)
    return replace(layer_graph, notes=layer_graph.notes + notes) if notes else layer_graph


def _file_notes(graph, input_name: str, *, batch: int, dynamic_batch: bool) -> tuple[str, ...]:
    """What the file decided before hwmap saw it: the batch a dynamic batch axis was costed at, and batch norms
    that an exporter folded into the convolutions (a GPU estimate then has no batch-norm kernels, which eager
    PyTorch runs: the module itself costs more)."""
    notes = []
    if dynamic_batch:
        notes.append(f"input {input_name!r} has a dynamic batch axis: costed at batch {batch} (the batch option "
                     "sets it)")
    op_types = {node.op_type for node in graph.node}
    if "Conv" in op_types and "BatchNormalization" not in op_types:
        notes.append("no BatchNormalization in this ONNX file: batch norms the model had were folded into the "
                     "convolutions by its exporter (torch.onnx.export's default), so a GPU estimate omits their "
                     "kernels that eager PyTorch runs; estimate the module, or export with dynamo=False, "
                     "do_constant_folding=False, to cost them (accelerator templates fold batch norms anyway)")
    return tuple(notes)


# ---------------------------------------------------------------- reading and shapes


def _read(path: Path):
    import onnx

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"ONNX model {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends: truncated or not an ONNX file
        raise ModelError(f"ONNX model {path}: not a valid ONNX file ({_one_line(exc)}); truncated or "
                         "not a model exported with torch.onnx.export or a converter") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError(f"ONNX model {path}: no graph nodes (an empty, truncated or non-ONNX file)")
    _check_complete(path, model.graph)
    return model


def _check_complete(path: Path, graph) -> None:
    """Every node input is produced before it is used: a file cut at a field boundary parses but fails here."""
    known = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    for node in graph.node:
        if node.op_type == "Constant" or node.domain not in _DEFAULT_DOMAINS or not node.input:
            known.update(node.output)
            continue
        missing = [name for name in node.input if name not in known]
        if missing:
            raise ModelError(f"ONNX model {path}: node {node.name or node.op_type!r} reads {missing[0]!r}, which "
                             "no earlier node, input or initializer provides (a truncated or edited file, or "
                             "nodes out of topological order)")
        known.update(node.output)
    produced = known
    absent = [v.name for v in graph.output if v.name not in produced]
    if absent:
        raise ModelError(f"ONNX model {path}: graph output {absent[0]!r} is never produced (a truncated file?)")


def _dims(value) -> list[int | None]:
    shape = value.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in shape.dim]


def _set_input_dims(path: Path, inputs, *, input_shape, resolution, batch: int) -> None:
    first = inputs[0]
    dims = _dims(first)
    where = f"ONNX model {path}: input {first.name!r}"
    shown = "x".join("?" if d is None else str(d) for d in dims)
    if input_shape is not None and resolution is not None:
        raise ParameterError("input_shape", "and resolution exclude each other: give one")
    want: list[int | None] = list(dims)
    if input_shape is not None or resolution is not None:
        if len(dims) != 4:
            raise HwmapError(f"{where} has shape {shown}; input_shape/resolution apply to image inputs NxCxHxW")
        channels = dims[1]
        if input_shape is not None:
            chw = tuple(input_shape)
        else:
            chw = (channels or 3, int(resolution), int(resolution))
        want = [batch, *chw]
    elif dims and dims[0] is None:
        want[0] = batch
    elif batch != 1 and dims and dims[0] != batch:
        want[0] = batch
    for axis, (have, need) in enumerate(zip(dims, want, strict=True)):
        if need is None:
            raise HwmapError(f"{where} has dynamic dimension(s) ({shown}); give the input size with input_shape "
                             "CxHxW (and batch for the batch axis)")
        if have is not None and have != need:
            given = "x".join(str(v) for v in want)
            raise HwmapError(f"{where} is exported at the fixed shape {shown}, not {given} (axis {axis}); export "
                             "it with dynamic axes, or at that size, to cost another input size or batch")
    _write_dims(first, want)
    for other in inputs[1:]:
        if any(d is None for d in _dims(other)):
            raise HwmapError(f"ONNX model {path}: input {other.name!r} has dynamic dimensions; hwmap sets only "
                             "the first input's (re-export with fixed shapes for the other inputs)")
    for value in inputs:  # declared sizes, before shape inference and folding read them
        dims = _dims(value)
        limits = [MAX_BATCH] + [MAX_RESOLUTION] * (len(dims) - 1)
        if any(d is not None and d > limit for d, limit in zip(dims, limits, strict=True)):
            shown = "x".join("?" if d is None else str(d) for d in dims)
            raise ModelError(f"ONNX model {path}: input {value.name!r} has shape {shown}; hwmap reads inputs up to "
                             f"a batch of {MAX_BATCH:,} and {MAX_RESOLUTION:,} per other axis")


def _write_dims(value, dims: Sequence[int]) -> None:
    shape = value.type.tensor_type.shape
    for dim, size in zip(shape.dim, dims, strict=True):
        dim.Clear()
        dim.dim_value = int(size)


def _infer_shapes(path: Path, model):
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:  # InferenceError on inconsistent graphs
        raise ModelError(f"ONNX model {path}: shape inference failed: {_one_line(exc)}") from None


# Small integer arithmetic on tensor shapes that torch.onnx.export writes (x.shape[0] -> Shape, Gather; a
# broadcast target -> Concat, Where, ConstantOfShape): shape inference's data propagation stops at some of these,
# leaving the consumers' shapes unknown. They are evaluated here (onnx's reference implementation, one node at a
# time, on tensors of at most _FOLD_MAX_ELEMENTS elements) and replaced by Constants, then shapes inferred again.
_FOLDABLE = frozenset({
    "Shape", "Size", "Gather", "Concat", "Slice", "Unsqueeze", "Squeeze", "Reshape", "Cast", "Add", "Sub", "Mul",
    "Div", "Equal", "Where", "ConstantOfShape", "Range", "Identity", "Max", "Min", "Floor", "Ceil", "Sqrt", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Neg", "Abs", "Mod", "ReduceProd", "Expand",
    "Tile", "Transpose", "Flatten", "Clip", "Reciprocal", "Pow",
})
_FOLD_MAX_ELEMENTS = MAX_FOLDED_ELEMENTS  # checked on the predicted output size before a node is evaluated
_FOLD_ROUNDS = 8


def _fold_shape_arithmetic(path: Path, model):
    import numpy as np
    import onnx
    from onnx import numpy_helper

    for _ in range(_FOLD_ROUNDS):
        shapes = _known_shapes(model)
        values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
                  if _small(tuple(t.dims)) and t.data_location != onnx.TensorProto.EXTERNAL}
        folded: dict[int, dict[str, object]] = {}
        for index, node in enumerate(model.graph.node):
            if node.domain not in _DEFAULT_DOMAINS:
                continue
            if node.op_type == "Constant":
                with _suppress():
                    tensor = next(a.t for a in node.attribute if a.name == "value")
                    if _small(tuple(tensor.dims)):  # its declared size, before any array is made
                        values[node.output[0]] = numpy_helper.to_array(tensor)
                continue
            if node.op_type not in _FOLDABLE:
                continue
            result = _evaluate(node, values, shapes, np)
            if result is not None:
                folded[index] = result
                values.update(result)
        if not folded:
            return model
        nodes = []
        for index, node in enumerate(model.graph.node):
            if index not in folded:
                nodes.append(node)
                continue
            for name, value in folded[index].items():
                nodes.append(onnx.helper.make_node("Constant", [], [name], name=f"{node.name}/folded",
                                                   value=numpy_helper.from_array(np.asarray(value), name)))
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        model = _infer_shapes(path, model)
    return model


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, _value, _traceback) -> bool:
        return kind is not None and issubclass(kind, Exception)


def _small(shape: tuple[int, ...]) -> bool:
    size = 1
    for d in shape:
        size *= d
    return size <= _FOLD_MAX_ELEMENTS


def _evaluate(node, values: dict, shapes: dict, np) -> dict | None:
    """The outputs of a shape-arithmetic node whose inputs are all known small values, or None."""
    names = [n for n in node.input if n]
    if node.op_type in ("Shape", "Size"):
        shape = shapes.get(node.input[0], (None, ""))[0]
        if shape is None:
            return None
        if node.op_type == "Size":
            return {node.output[0]: np.array(int(np.prod(shape)), dtype=np.int64)}
        attributes = {a.name: a.i for a in node.attribute}
        start, end = attributes.get("start", 0), attributes.get("end", len(shape))
        return {node.output[0]: np.array(shape[start:end], dtype=np.int64)}
    if not names or any(n not in values for n in names):
        return None
    if _predicted_elements(node, values, shapes) > _FOLD_MAX_ELEMENTS:
        return None  # decided before evaluating: a tiny file may ask for a 30000x30000 constant
    from onnx.reference import ReferenceEvaluator

    try:
        feeds = {n: values[n] for n in names}
        results = ReferenceEvaluator(node).run(None, feeds)
    except Exception:  # an argument form the reference implementation rejects: leave the node unfolded
        return None
    if any(np.asarray(r).size > _FOLD_MAX_ELEMENTS for r in results):
        return None
    return {name: np.asarray(r) for name, r in zip(node.output, results, strict=False) if name}


def _predicted_elements(node, values: dict, shapes: dict) -> int:
    """The elements a foldable node's largest output would have, computed from its input values and shapes without
    evaluating it (0 where no bound is needed). Only ConstantOfShape, Expand, Tile and Range can output a tensor of
    any size from small inputs; every other foldable op, fed inputs of at most _FOLD_MAX_ELEMENTS elements (all
    that are folded), outputs at most a broadcast of three of them (64^3 elements), and its result is dropped
    after evaluation when over the limit, as before."""
    import math

    known = [shapes.get(name, (None, ""))[0] for name in node.output if name]
    if known and all(shape is not None for shape in known):
        return max(math.prod(shape) for shape in known)

    def ints(name: str) -> list[int]:
        return [max(int(v), 0) for v in values[name].reshape(-1).tolist()]

    args = [n for n in node.input]
    try:
        if node.op_type == "ConstantOfShape":
            return math.prod(ints(args[0]))
        if node.op_type == "Expand":
            have, want = list(values[args[0]].shape), ints(args[1])
            rank = max(len(have), len(want))
            have, want = [1] * (rank - len(have)) + have, [1] * (rank - len(want)) + want
            return math.prod(max(a, b) for a, b in zip(have, want, strict=True))
        if node.op_type == "Tile":
            return values[args[0]].size * math.prod(ints(args[1]))
        if node.op_type == "Range":
            start, limit, delta = (float(values[n].reshape(-1)[0]) for n in args[:3])
            return 0 if delta == 0 else max(math.ceil((limit - start) / delta), 0)
    except (IndexError, KeyError, TypeError, ValueError, OverflowError):
        return _FOLD_MAX_ELEMENTS + 1  # a form we cannot bound: leave the node unfolded
    return 0


def _dtype_name(elem_type: int) -> str:
    import onnx

    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # undefined or exotic element types
        return "float32"


def _known_shapes(model) -> dict[str, tuple[tuple[int, ...] | None, str]]:
    """name -> (shape or None when shape inference left it unknown, dtype) of every value in the graph."""
    graph = model.graph
    shapes: dict[str, tuple[tuple[int, ...] | None, str]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor_type = value.type.tensor_type
        if not value.type.HasField("tensor_type"):
            continue
        dims = _dims(value) if tensor_type.HasField("shape") else None
        known = None if dims is None or any(d is None for d in dims) else tuple(int(d) for d in dims)
        if value.name not in shapes or shapes[value.name][0] is None:
            shapes[value.name] = (known, _dtype_name(tensor_type.elem_type))
    for tensor in graph.initializer:
        shapes[tensor.name] = (tuple(int(d) for d in tensor.dims), _dtype_name(tensor.data_type))
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS:
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.HasField("t"):
                    shapes[node.output[0]] = (tuple(int(d) for d in attribute.t.dims),
                                              _dtype_name(attribute.t.data_type))
    return shapes


# ---------------------------------------------------------------- lowering


def module_scope(node_name: str) -> str:
    """'/layer1/layer1.0/conv1/Conv' -> 'layer1.0.conv1'; '/blocks/blocks.3/attn/MatMul_1' -> 'blocks.3.attn'.

    torch.onnx.export names a node by its module path, one segment per module, where a child of a container
    repeats the container's name ('layer1' then 'layer1.0'), and ends with the op. Names of other producers
    carry no module path: scope '' (the root)."""
    if not node_name.startswith("/"):
        return ""
    parts: list[str] = []
    for segment in node_name.strip("/").split("/")[:-1]:
        if parts and segment.startswith(parts[-1] + "."):
            parts[-1] = segment
        elif segment:
            parts.append(segment)
    return ".".join(parts)


def node_scope(node) -> tuple[str, str]:
    """(module scope, module class) of a node. torch's dynamo exporter records them in metadata_props:
    'pkg.torch.onnx.name_scopes' = "['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d']" (cumulative module
    paths, then the node's own name) and 'pkg.torch.onnx.class_hierarchy' (the classes, aligned); otherwise the
    scope comes from the TorchScript exporter's node name (module_scope) and the class is unknown ('')."""
    import ast

    metadata = {entry.key: entry.value for entry in node.metadata_props}
    try:
        scopes = ast.literal_eval(metadata.get("pkg.torch.onnx.name_scopes", "None"))
        classes = ast.literal_eval(metadata.get("pkg.torch.onnx.class_hierarchy", "None"))
    except (SyntaxError, ValueError):
        scopes = classes = None
    if isinstance(scopes, list) and len(scopes) >= 2 and all(isinstance(v, str) for v in scopes):
        module_class = ""
        if isinstance(classes, list) and len(classes) == len(scopes) and isinstance(classes[-2], str):
            module_class = classes[-2].rsplit(".", 1)[-1]
        return scopes[-2], module_class
    return module_scope(node.name), ""


def _attributes(node) -> dict:
    import onnx

    values = {}
    for attribute in node.attribute:
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list):
            value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        elif not isinstance(value, (int, float, str)):
            continue  # tensors and subgraphs: no lowering reads them
        values[attribute.name] = value
    return values


_FLOAT_TYPES = ("float16", "float32", "float64", "bfloat16")


def _lower_graph(path: Path, model, shapes: dict, *, strict: bool) -> LayerGraph:
    graph = model.graph
    sources: dict[str, str] = {}
    params = param_bytes = 0
    for tensor in graph.initializer:
        shape, dtype = shapes[tensor.name]
        sources[tensor.name] = f"param:{tensor.name}"
        if dtype in _FLOAT_TYPES:
            meta = TensorMeta(shape, dtype, "")
            params += meta.numel
            param_bytes += meta.size_bytes
    image_inputs = [v for v in graph.input if v.name not in sources]
    for i, value in enumerate(image_inputs):
        sources[value.name] = f"input:{i}"
    nodes: list[Node] = []
    notes: list[str] = []
    fused = _fusions(graph, sources, shapes)
    for position, onnx_node in enumerate(graph.node):
        known = onnx_node.domain in _DEFAULT_DOMAINS
        op = f"onnx.{onnx_node.op_type}" if known else f"onnx.{onnx_node.domain}.{onnx_node.op_type}"
        scope, module_class = node_scope(onnx_node)
        if op == "onnx.Constant":
            shape, dtype = shapes.get(onnx_node.output[0], (None, "float32"))
            if shape is not None and dtype in _FLOAT_TYPES and TensorMeta(shape, dtype, "").numel > 1:
                sources[onnx_node.output[0]] = f"param:{onnx_node.output[0]}"  # a weight stored as a Constant
                meta = TensorMeta(shape, dtype, "")
                params += meta.numel
                param_bytes += meta.size_bytes
            else:
                sources[onnx_node.output[0]] = "const"
            continue
        inputs, unknown = _metas([n for n in onnx_node.input if n], shapes, sources)
        outputs, unknown_out = _metas([n for n in onnx_node.output if n], shapes, None)
        call = OpCall(op, (), _attributes(onnx_node), inputs, outputs, scope, module_class)
        steps = _lower(call, unknown + unknown_out, notes, subgraph=any(a.g.node or a.graphs for a in
                                                                         onnx_node.attribute))
        role = fused.get(position)
        if role == "zero":
            steps = [Lowered(Zero(), OpClass.VIEW)]
        elif role is not None and len(steps) == 1 and not isinstance(steps[0].work, Unsupported):
            steps = [Lowered(steps[0].work, steps[0].op_class, role)]
            if role in ("qk", "softmax"):
                outputs = ()
            if role == "softmax":
                inputs = ()
            elif role == "av":
                inputs = inputs[1:]
        first = len(nodes)
        produced = str(first + len(steps) - 1)
        outputs = tuple(TensorMeta(t.shape, t.dtype, produced) for t in outputs)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            nodes.append(Node(index=first + i, op=op, work=step.work, op_class=step.op_class, scope=scope,
                              module_class=module_class, inputs=inputs if i == 0 else (),
                              outputs=outputs if last else (), part=step.part))
        # A node computing only from weights and constants (Identity, Transpose or Cast of an initializer) yields
        # a weight, as a view of a parameter does in the aten trace.
        weights = [t for t in inputs if t.is_weight]
        activations = [t for t in inputs if not t.is_weight and t.source != "const"]
        label = weights[0].source if weights and not activations else produced
        for name in onnx_node.output:
            if name:
                sources[name] = label
    layer_graph = LayerGraph(
        model=path.name, input_shapes=tuple(shapes[v.name][0] or () for v in image_inputs), nodes=tuple(nodes),
        params=params, param_bytes=param_bytes, buffer_bytes=0, capture_mode="onnx", notes=tuple(notes),
        meta={"source": "onnx", "file": str(path), "producer": f"{model.producer_name} {model.producer_version}"
              .strip(), "opset": max((o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS),
                                     default=0)},
    )
    if strict and layer_graph.unsupported:
        raise UnsupportedOpError(f"{len(layer_graph.unsupported)} unsupported operator(s) in ONNX model {path}: "
                                 + layer_graph.unsupported_summary())
    return layer_graph


_PRODUCTS = ("MatMul", "Gemm", "Conv", "ConvTranspose")


def _fusions(graph, sources: dict, shapes: dict) -> dict[int, str]:
    """Nodes that the aten trace of the same module sees as part of one op, by position in graph.node:

    - a bias Add right after a MatMul (the product's only consumer, the bias a weight of the output's last
      dimension) is the bias of aten's addmm/linear: 'zero' (the GEMM's epilogue), unless the MatMul's input is
      a transposed layout, for which eager torch adds the bias separately (as the aten trace then shows);
    - the decomposition torch.onnx.export writes for scaled_dot_product_attention, MatMul(q * sqrt(s),
      k^T * sqrt(s)) -> [Add mask] -> Softmax -> MatMul(., v), is one fused attention, as aten's sdpa lowers it:
      the two scalings 'zero', then parts 'qk', 'softmax', 'av' with the score tensors kept on chip.
    """
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = {}
    for position, node in enumerate(graph.node):
        for name in node.output:
            producer[name] = position
        for name in node.input:
            consumers.setdefault(name, []).append(position)
    nodes = graph.node

    def made_by(name: str, *ops: str) -> int | None:
        position = producer.get(name)
        return position if position is not None and nodes[position].op_type in ops else None

    def only_consumer(name: str) -> int | None:
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 else None

    def is_weight(name: str, depth: int = 0) -> bool:
        if sources.get(name, "").startswith("param:"):
            return True
        position = made_by(name, "Identity", "Cast", "Transpose", "Reshape", "Unsqueeze", "Squeeze")
        return position is not None and depth < 8 and is_weight(nodes[position].input[0], depth + 1)

    def transposed(name: str, depth: int = 0) -> bool:
        """Whether an activation is a transposed layout: eager torch's linear then runs matmul and a separate
        bias add instead of addmm, and the aten trace records both."""
        if made_by(name, "Transpose") is not None:
            return True
        position = made_by(name, "Identity")  # a Reshape after the Transpose is a copy in torch: contiguous
        return position is not None and depth < 8 and transposed(nodes[position].input[0], depth + 1)

    def is_scalar_constant(name: str) -> bool:
        shape = shapes.get(name, (None, ""))[0]
        origin = sources.get(name, "const")
        return shape is not None and TensorMeta(shape, "float32", "").numel == 1 and \
            (origin == "const" or is_weight(name))

    roles: dict[int, str] = {}
    for position, node in enumerate(nodes):
        if node.op_type == "Add" and len(node.input) == 2:
            for x, bias in (node.input, tuple(reversed(node.input))):
                product = made_by(x, "MatMul")
                shape = shapes.get(x, (None, ""))[0]
                bias_shape = shapes.get(bias, (None, ""))[0]
                if product is not None and only_consumer(x) == position and shape and bias_shape is not None and \
                        not transposed(nodes[product].input[0]) and \
                        is_weight(bias) and \
                        TensorMeta(bias_shape, "float32", "").numel == shape[-1]:
                    roles[position] = "zero"
                    break
        if node.op_type != "MatMul" or len(node.input) != 2:
            continue
        scalings = [made_by(name, "Mul") for name in node.input]
        if any(m is None or only_consumer(nodes[m].output[0]) != position or
               not any(is_scalar_constant(i) for i in nodes[m].input) for m in scalings):
            continue
        nxt = only_consumer(node.output[0])
        mask = None
        if nxt is not None and nodes[nxt].op_type == "Add":
            mask, nxt = nxt, only_consumer(nodes[nxt].output[0])
        if nxt is None or nodes[nxt].op_type != "Softmax":
            continue
        av = only_consumer(nodes[nxt].output[0])
        if av is None or nodes[av].op_type != "MatMul" or nodes[av].input[0] != nodes[nxt].output[0]:
            continue
        roles.update({scalings[0]: "zero", scalings[1]: "zero", position: "qk", nxt: "softmax", av: "av"})
        if mask is not None:
            roles[mask] = "zero"
    return roles


def _metas(names: list[str], shapes: dict, sources: dict | None) -> tuple[tuple[TensorMeta, ...], list[str]]:
    metas, unknown = [], []
    for name in names:
        shape, dtype = shapes.get(name, (None, "float32"))
        if shape is None:
            unknown.append(name)
            shape = ()
        metas.append(TensorMeta(shape, dtype if dtype in DTYPE_BYTES else "float32",
                                "" if sources is None else sources.get(name, "const")))
    return tuple(metas), unknown


def _lower(call: OpCall, unknown: list[str], notes: list[str], *, subgraph: bool) -> list[Lowered]:
    lowering = lookup(call.op)
    where = call.scope or "<root>"
    if lowering is None or subgraph:
        return [Lowered(Unsupported(), OpClass.OTHER)]
    try:
        result = lowering(call)
    except Exception as exc:  # an attribute or operand form the lowering does not know
        reason = f"shape inference left {unknown[0]!r} unknown" if unknown else _one_line(exc)
        notes.append(f"could not lower {call.op} in {where}: {reason}")
        return [Lowered(Unsupported(), OpClass.OTHER)]
    steps = result if isinstance(result, list) else [result]
    if unknown and not all(isinstance(s.work, Zero) for s in steps):
        notes.append(f"could not lower {call.op} in {where}: shape inference left {unknown[0]!r} unknown")
        return [Lowered(Unsupported(), OpClass.OTHER)]
    return steps


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
