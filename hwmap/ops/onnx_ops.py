"""Lowerings of ONNX operators (registered as 'onnx.<OpType>') into the same Work types and op classes as aten.

hwmap.interop.onnx builds an OpCall per ONNX node: args are empty, kwargs hold the node's attributes as plain
Python values, inputs/outputs carry the shapes ONNX shape inference gave (initializers are 'param:' tensors, so
a MatMul with a weight operand is a linear layer exactly as aten.mm with a parameter is). Per-element vector-op
counts are the aten lowerings' (hwmap.ops.aten), so both paths cost the same work the same way. This module
imports neither onnx nor torch.
"""

from __future__ import annotations

import math

from hwmap.ops.aten import (
    ACTIVATION_OPS_PER_ELEMENT,
    REDUCTION_OPS_PER_ELEMENT,
    SOFTMAX_OPS_PER_ELEMENT,
    _gemm_class,
    _reduction_class,
    conv_class,
)
from hwmap.ops.aten import _batch_norm as aten_batch_norm
from hwmap.ops.aten import _layer_norm as aten_layer_norm
from hwmap.ops.aten import _rms_norm as aten_rms_norm
from hwmap.ops.classes import OpClass
from hwmap.ops.registry import Lowered, OpCall, register_op
from hwmap.ops.work import Conv, DataMove, Elementwise, Gemm, Reduction, Zero

# ---------------------------------------------------------------- GEMMs


@register_op("onnx.Gemm")
def _gemm(call: OpCall) -> Lowered:
    """Y = alpha * A' B' + beta * C with A' = A or A^T (transA), B' = B or B^T (transB); A is (M, K)."""
    a, b = call.inputs[0], call.inputs[1]
    m, k = (a.shape[1], a.shape[0]) if call.kwargs.get("transA", 0) else (a.shape[0], a.shape[1])
    n = b.shape[0] if call.kwargs.get("transB", 0) else b.shape[1]
    return Lowered(Gemm(batch=1, m=m, n=n, k=k), _gemm_class(call, (a, b)))


@register_op("onnx.MatMul")
def _matmul(call: OpCall) -> Lowered:
    """numpy matmul. A 2-d right operand (a weight, broadcast over every leading dim) folds the leading dims of
    the left one into m, as aten's linear -> mm does; otherwise the broadcast leading dims are the GEMM batch."""
    a, b = call.inputs[0], call.inputs[1]
    out = call.outputs[0].shape
    k = a.shape[-1]
    n = b.shape[-1] if len(b.shape) >= 2 else 1
    if len(b.shape) <= 2:
        m = math.prod(a.shape[:-1]) if len(a.shape) >= 2 else 1
        return Lowered(Gemm(batch=1, m=m, n=n, k=k), _gemm_class(call, (a, b)))
    m = a.shape[-2] if len(a.shape) >= 2 else 1
    batch = math.prod(out[:-2]) if len(out) > 2 else 1
    return Lowered(Gemm(batch=batch, m=m, n=n, k=k), _gemm_class(call, (a, b)))


@register_op("onnx.Einsum")
def _einsum(call: OpCall) -> Lowered:
    """A two-operand einsum is a (batched) matmul: indices in both operands and the output are the batch, in one
    operand and the output m or n, in both operands only the reduction k (an index in one operand only and not
    in the output is summed first: it joins k). Other forms are not matmuls and are left unsupported."""
    equation = str(call.kwargs["equation"]).replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        raise ValueError(f"einsum {equation!r} is not a two-operand contraction")
    a, b = call.inputs[0], call.inputs[1]
    ta, tb = _expand_ellipsis(terms[0], len(a.shape)), _expand_ellipsis(terms[1], len(b.shape))
    if "->" not in equation:  # implicit output: the indices that appear once, in alphabetical order
        rhs = "".join(sorted(c for c in set(ta + tb) if (ta + tb).count(c) == 1))
    to = _expand_ellipsis(rhs, len(call.outputs[0].shape))
    sizes: dict[str, int] = {}
    for term, shape in ((ta, a.shape), (tb, b.shape)):
        if len(term) != len(shape):
            raise ValueError(f"einsum {equation!r} does not match operand ranks {len(a.shape)}, {len(b.shape)}")
        for letter, size in zip(term, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    batch = m = n = k = 1
    for letter, size in sizes.items():
        in_a, in_b, in_out = letter in ta, letter in tb, letter in to
        if in_a and in_b and in_out:
            batch *= size
        elif in_out and in_a:
            m *= size
        elif in_out and in_b:
            n *= size
        else:
            k *= size
    return Lowered(Gemm(batch=batch, m=m, n=n, k=k), _gemm_class(call, (a, b)))


def _expand_ellipsis(term: str, rank: int) -> str:
    if "..." not in term:
        return term
    named = len(term) - 3
    fill = "".join(chr(ord("A") + i) for i in range(max(rank - named, 0)))
    return term.replace("...", fill)


# ---------------------------------------------------------------- convolutions


def _pads_begin(call: OpCall, nd: int, in_spatial, out_spatial, kernel, stride, dilation) -> tuple[int, ...]:
    auto_pad = str(call.kwargs.get("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(nd):
            total = max((out_spatial[i] - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - in_spatial[i], 0)
            pads.append(total // 2 if auto_pad == "SAME_UPPER" else (total + 1) // 2)
        return tuple(pads)
    pads = call.kwargs.get("pads")
    return tuple(int(p) for p in pads[:nd]) if pads else (0,) * nd


@register_op("onnx.Conv", "onnx.ConvTranspose")
def _conv(call: OpCall) -> Lowered:
    """Conv: W is (C_out, C_in/groups, k...); ConvTranspose: W is (C_in, C_out/groups, k...)."""
    x, w = call.inputs[0], call.inputs[1]
    out = call.outputs[0].shape
    nd = len(w.shape) - 2
    groups = int(call.kwargs.get("group", 1))
    transposed = call.op == "onnx.ConvTranspose"
    kernel = tuple(int(v) for v in call.kwargs.get("kernel_shape") or w.shape[2:])
    stride = tuple(int(v) for v in call.kwargs.get("strides") or (1,) * nd)
    dilation = tuple(int(v) for v in call.kwargs.get("dilations") or (1,) * nd)
    in_spatial, out_spatial = tuple(x.shape[-nd:]), tuple(out[-nd:])
    conv = Conv(
        batch=x.shape[0], in_channels=x.shape[1], out_channels=w.shape[1] * groups if transposed else w.shape[0],
        in_spatial=in_spatial, out_spatial=out_spatial, kernel=kernel, stride=stride,
        padding=_pads_begin(call, nd, in_spatial, out_spatial, kernel, stride, dilation), dilation=dilation,
        groups=groups, transposed=transposed,
    )
    return Lowered(conv, conv_class(conv))


# ---------------------------------------------------------------- softmax and normalisation


@register_op("onnx.Softmax", "onnx.LogSoftmax")
def _softmax(call: OpCall) -> Lowered:
    n = call.inputs[0].numel
    cls = OpClass.ATTENTION_SOFTMAX if call.in_attention else OpClass.ACTIVATION
    return Lowered(Reduction(n, n, SOFTMAX_OPS_PER_ELEMENT), cls)


# Normalisations: aten's lowerings (they read only the first input's element count), one formula for both front ends.
register_op("onnx.BatchNormalization")(aten_batch_norm)
register_op("onnx.LayerNormalization", "onnx.GroupNormalization", "onnx.InstanceNormalization")(aten_layer_norm)
register_op("onnx.RMSNormalization", "onnx.SimplifiedLayerNormalization")(aten_rms_norm)


# ---------------------------------------------------------------- pointwise

# ONNX op type -> the aten activation whose per-element vector-op count it shares.
ONNX_ACTIVATIONS: dict[str, str] = {
    "Relu": "relu", "Clip": "clamp", "LeakyRelu": "leaky_relu", "PRelu": "leaky_relu", "Gelu": "gelu",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid", "Elu": "elu",
    "Selu": "elu", "Celu": "elu", "Mish": "mish", "Softplus": "softplus", "Erf": "erf", "Exp": "exp",
    "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "ThresholdedRelu": "threshold", "Swish": "silu",
}
ONNX_ELEMENTWISE: tuple[str, ...] = (
    "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Abs", "Max", "Min", "Mean", "Sum", "Where", "Equal", "Less",
    "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Floor", "Ceil", "Round", "Sign", "Mod",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "IsNaN", "IsInf", "BitwiseAnd", "BitwiseOr",
    "BitwiseNot", "BitwiseXor", "BitShift",
)


@register_op(*(f"onnx.{name}" for name in ONNX_ACTIVATIONS))
def _activation(call: OpCall) -> Lowered:
    ops = ACTIVATION_OPS_PER_ELEMENT[ONNX_ACTIVATIONS[call.op.removeprefix("onnx.")]]
    return Lowered(Elementwise(call.outputs[0].numel, ops), OpClass.ACTIVATION)


@register_op(*(f"onnx.{name}" for name in ONNX_ELEMENTWISE))
def _elementwise(call: OpCall) -> Lowered:
    return Lowered(Elementwise(call.outputs[0].numel, 1), OpClass.ELEMENTWISE)


# ---------------------------------------------------------------- reductions and pooling

ONNX_REDUCTIONS: dict[str, str] = {
    "ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin", "ReduceProd": "prod",
    "ReduceL1": "norm", "ReduceL2": "norm", "ReduceSumSquare": "norm", "ReduceLogSumExp": "logsumexp",
    "ReduceLogSum": "logsumexp", "ArgMax": "argmax", "ArgMin": "argmin", "CumSum": "cumsum",
}


@register_op(*(f"onnx.{name}" for name in ONNX_REDUCTIONS))
def _reduction(call: OpCall) -> Lowered:
    ops = REDUCTION_OPS_PER_ELEMENT[ONNX_REDUCTIONS[call.op.removeprefix("onnx.")]]
    n_in, n_out = call.inputs[0].numel, call.outputs[0].numel
    return Lowered(Reduction(n_in, n_out, ops), _reduction_class(call))


@register_op("onnx.MaxPool", "onnx.AveragePool", "onnx.LpPool")
def _window_pool(call: OpCall) -> Lowered:
    """Each output reads one kernel window (as aten's pooling lowerings)."""
    out = call.outputs[0]
    return Lowered(Reduction(out.numel * math.prod(call.kwargs["kernel_shape"]), out.numel, 1), OpClass.POOL_RESIZE)


@register_op("onnx.GlobalAveragePool", "onnx.GlobalMaxPool", "onnx.GlobalLpPool")
def _global_pool(call: OpCall) -> Lowered:
    return Lowered(Reduction(call.inputs[0].numel, call.outputs[0].numel, 1), OpClass.POOL_RESIZE)


# ---------------------------------------------------------------- resampling and data movement

# Resize: taps weighted and summed per output element, by interpolation mode and spatial rank (the aten
# upsample lowerings' counts: nearest copies, linear 1/2/3-d = 3/7/15, cubic 2-d = 31).
_RESIZE_OPS: dict[tuple[str, int], int] = {("linear", 1): 3, ("linear", 2): 7, ("linear", 3): 15, ("cubic", 2): 31}


@register_op("onnx.Resize", "onnx.Upsample", "onnx.GridSample")
def _resize(call: OpCall) -> Lowered:
    out = call.outputs[0]
    mode = str(call.kwargs.get("mode", "nearest" if call.op != "onnx.GridSample" else "linear"))
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    spatial = max(len(out.shape) - 2, 1)
    ops = 0 if mode == "nearest" else _RESIZE_OPS.get((mode, spatial), 7)
    return Lowered(DataMove(out.numel, out.size_bytes, ops), OpClass.POOL_RESIZE)


ONNX_DATA_MOVES: tuple[str, ...] = (
    "Concat", "Pad", "Tile", "Cast", "CastLike", "DepthToSpace", "SpaceToDepth", "GatherElements",
    "GatherND", "ScatterND", "ScatterElements", "Scatter", "TopK", "NonZero", "ConstantOfShape", "Range", "Trilu",
    "OneHot", "Compress", "ReverseSequence", "EyeLike", "RandomNormal", "RandomNormalLike", "RandomUniform",
    "RandomUniformLike", "Col2Im", "CenterCropPad",
)


@register_op(*(f"onnx.{name}" for name in ONNX_DATA_MOVES))
def _data_move(call: OpCall) -> Lowered:
    """Ops that write a new tensor."""
    return Lowered(DataMove(sum(t.numel for t in call.outputs), sum(t.size_bytes for t in call.outputs)),
                   OpClass.DATA_MOVEMENT)


@register_op("onnx.Gather")
def _gather(call: OpCall) -> Lowered:
    """Gather with a scalar index selects a slice (aten select: a view); with an index tensor it copies rows."""
    if len(call.inputs) > 1 and call.inputs[1].shape == ():
        return Lowered(Zero(), OpClass.VIEW)
    return _data_move(call)


# Layout ops are free, as aten's views are (permute/transpose/reshape): the consumer reads the strided layout.
ONNX_ZERO: tuple[str, ...] = (
    "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Size", "Expand", "Slice", "Split",
    "Constant", "Dropout", "Optional", "OptionalGetElement",
)


@register_op(*(f"onnx.{name}" for name in ONNX_ZERO))
def _zero(call: OpCall) -> Lowered:
    return Lowered(Zero(), OpClass.VIEW)
