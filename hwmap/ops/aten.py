"""Lowerings of aten operators that do work: GEMMs, convolutions, attention, norms, pointwise, pooling, moves.

Vector-op counts per element are approximations for cost models of non-GEMM units; each is stated where it is
defined ("Assumes: ..."). MAC counts are exact and match torch.utils.flop_counter (FLOPs / 2).
"""

from __future__ import annotations

import math

from hwmap.ops.classes import OpClass
from hwmap.ops.registry import Lowered, OpCall, register_op
from hwmap.ops.work import Conv, DataMove, Elementwise, Gemm, Reduction

# ---------------------------------------------------------------- GEMMs


def _gemm_class(call: OpCall, operands) -> OpClass:
    """A product with a weight operand is a linear layer (an attention projection inside an attention module);
    a product of two activations is attention inside an attention module and a plain matmul elsewhere."""
    if any(t.is_weight for t in operands):
        return OpClass.LINEAR_ATTENTION if call.in_attention else OpClass.LINEAR
    return OpClass.ATTENTION_MATMUL if call.in_attention else OpClass.MATMUL


@register_op("aten.mm", "aten._scaled_mm")
def _mm(call: OpCall) -> Lowered:
    a, b = call.inputs[0], call.inputs[1]
    return Lowered(Gemm(batch=1, m=a.shape[0], n=b.shape[1], k=a.shape[1]), _gemm_class(call, (a, b)))


@register_op("aten.addmm")
def _addmm(call: OpCall) -> Lowered:
    a, b = call.inputs[1], call.inputs[2]
    return Lowered(Gemm(batch=1, m=a.shape[0], n=b.shape[1], k=a.shape[1]), _gemm_class(call, (a, b)))


@register_op("aten.bmm")
def _bmm(call: OpCall) -> Lowered:
    a, b = call.inputs[0], call.inputs[1]
    return Lowered(Gemm(batch=a.shape[0], m=a.shape[1], n=b.shape[2], k=a.shape[2]), _gemm_class(call, (a, b)))


@register_op("aten.baddbmm")
def _baddbmm(call: OpCall) -> Lowered:
    a, b = call.inputs[1], call.inputs[2]
    return Lowered(Gemm(batch=a.shape[0], m=a.shape[1], n=b.shape[2], k=a.shape[2]), _gemm_class(call, (a, b)))


@register_op("aten.matmul", "aten.linear")
def _matmul(call: OpCall) -> Lowered:
    """Broadcasting matmul (only seen when a composite op is not decomposed). linear's weight is (n, k)."""
    a, b = call.inputs[0], call.inputs[1]
    out = call.outputs[0].shape
    k = a.shape[-1]
    m = a.shape[-2] if len(a.shape) >= 2 else 1
    if call.op == "aten.linear":
        n = b.shape[0] if len(b.shape) == 2 else 1
        batch = math.prod(out[:-1]) // max(m, 1) if len(out) > 1 else 1
    else:
        n = b.shape[-1] if len(b.shape) >= 2 else 1
        batch = math.prod(out[:-2]) if len(out) > 2 else 1
    return Lowered(Gemm(batch=batch, m=m, n=n, k=k), _gemm_class(call, (a, b)))


# ---------------------------------------------------------------- convolutions


def _ntuple(value, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    return values * n if len(values) == 1 else values


@register_op("aten.convolution", "aten._convolution", "aten.conv2d", "aten.conv1d", "aten.conv3d")
def _convolution(call: OpCall) -> Lowered:
    x, w = call.inputs[0], call.inputs[1]
    out = call.outputs[0].shape
    nd = len(w.shape) - 2
    # conv1d/2d/3d: (input, weight, bias, stride, padding, dilation, groups)
    if call.op in ("aten.conv1d", "aten.conv2d", "aten.conv3d"):
        transposed, groups = False, int(call.arg(6, "groups", 1))
    else:
        transposed, groups = bool(call.arg(6, "transposed", False)), int(call.arg(8, "groups", 1))
    batched = len(x.shape) == nd + 2
    in_channels = x.shape[1] if batched else x.shape[0]
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    conv = Conv(
        batch=x.shape[0] if batched else 1,
        in_channels=in_channels,
        out_channels=out_channels,
        in_spatial=tuple(x.shape[-nd:]),
        out_spatial=tuple(out[-nd:]),
        kernel=tuple(w.shape[2:]),
        stride=_ntuple(call.arg(3, "stride", 1), nd),
        padding=_ntuple(call.arg(4, "padding", 0), nd),
        dilation=_ntuple(call.arg(5, "dilation", 1), nd),
        groups=groups,
        transposed=transposed,
    )
    return Lowered(conv, conv_class(conv))


def conv_class(conv: Conv) -> OpClass:
    if conv.is_depthwise:
        return OpClass.CONV_DEPTHWISE
    if conv.groups > 1:
        return OpClass.CONV_GROUPED
    return OpClass.CONV_POINTWISE if conv.is_pointwise else OpClass.CONV_DENSE


# ---------------------------------------------------------------- attention

SOFTMAX_OPS_PER_ELEMENT = 5  # Assumes: max, subtract, exp, sum, divide per element.


@register_op(
    "aten.scaled_dot_product_attention",
    "aten._scaled_dot_product_attention_math",
    "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_flash_attention_for_cpu",
    "aten._scaled_dot_product_efficient_attention",
    "aten._scaled_dot_product_cudnn_attention",
    "aten._scaled_dot_product_fused_attention_overrideable",
)
def _sdpa(call: OpCall) -> list[Lowered]:
    """Fused attention as what it computes: S = Q K^T, softmax(S), O = S V (torch's flop counter drops this on CPU).

    q: (..., L, E), k: (..., S, E), v: (..., S, Ev); leading dims (batch, heads) are the GEMM batch.
    """
    q, k, v = call.inputs[0], call.inputs[1], call.inputs[2]
    batch = math.prod(q.shape[:-2])
    length, emb = q.shape[-2], q.shape[-1]
    keys, v_emb = k.shape[-2], v.shape[-1]
    scores = batch * length * keys
    return [
        Lowered(Gemm(batch=batch, m=length, n=keys, k=emb), OpClass.ATTENTION_MATMUL, "qk"),
        Lowered(Reduction(scores, scores, SOFTMAX_OPS_PER_ELEMENT), OpClass.ATTENTION_SOFTMAX, "softmax"),
        Lowered(Gemm(batch=batch, m=length, n=v_emb, k=keys), OpClass.ATTENTION_MATMUL, "av"),
    ]


@register_op("aten._softmax", "aten._safe_softmax", "aten.softmax", "aten._log_softmax", "aten.log_softmax")
def _softmax(call: OpCall) -> Lowered:
    n = call.inputs[0].numel
    cls = OpClass.ATTENTION_SOFTMAX if call.in_attention else OpClass.ACTIVATION
    return Lowered(Reduction(n, n, SOFTMAX_OPS_PER_ELEMENT), cls)


# ---------------------------------------------------------------- normalisation

# Assumes: inference batch norm folds running statistics into a per-channel scale and shift (2 ops/element).
BATCH_NORM_OPS_PER_ELEMENT = 2
# Assumes: layer/group norm = mean (1), variance (3), normalise (2), affine (2) per element.
LAYER_NORM_OPS_PER_ELEMENT = 8
RMS_NORM_OPS_PER_ELEMENT = 5  # square, sum, scale, rsqrt-multiply, affine


@register_op(
    "aten.native_batch_norm", "aten._native_batch_norm_legit", "aten._native_batch_norm_legit_no_training",
    "aten._native_batch_norm_legit_functional", "aten.batch_norm", "aten._batch_norm_impl_index",
    "aten.cudnn_batch_norm", "aten.miopen_batch_norm",
)
def _batch_norm(call: OpCall) -> Lowered:
    return Lowered(Elementwise(call.inputs[0].numel, BATCH_NORM_OPS_PER_ELEMENT), OpClass.NORM)


@register_op("aten.native_layer_norm", "aten.layer_norm", "aten.native_group_norm", "aten.group_norm")
def _layer_norm(call: OpCall) -> Lowered:
    n = call.inputs[0].numel
    return Lowered(Reduction(n, n, LAYER_NORM_OPS_PER_ELEMENT), OpClass.NORM)


@register_op("aten._fused_rms_norm", "aten.rms_norm")
def _rms_norm(call: OpCall) -> Lowered:
    n = call.inputs[0].numel
    return Lowered(Reduction(n, n, RMS_NORM_OPS_PER_ELEMENT), OpClass.NORM)


# ---------------------------------------------------------------- pointwise

# Assumes: vector ops per element of each activation on a SIMD unit without special-function hardware
# (erf/exp/tanh as short polynomial or table+interpolation sequences).
ACTIVATION_OPS_PER_ELEMENT: dict[str, int] = {
    "relu": 1, "relu6": 2, "hardtanh": 2, "leaky_relu": 2, "threshold": 1, "clamp": 2, "clamp_min": 1,
    "clamp_max": 1, "gelu": 8, "silu": 4, "sigmoid": 3, "tanh": 5, "hardswish": 4, "hardsigmoid": 3,
    "elu": 4, "mish": 8, "softplus": 4, "erf": 6, "exp": 3, "log": 3, "rsqrt": 2, "sqrt": 2, "reciprocal": 1,
}
ELEMENTWISE_OPS: tuple[str, ...] = (
    "add", "sub", "rsub", "mul", "div", "neg", "abs", "pow", "maximum", "minimum", "where", "masked_fill",
    "addcmul", "addcdiv", "lerp", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_not", "floor", "ceil", "round", "sign", "square", "remainder",
    "fmod", "floor_divide", "isnan", "isinf", "nan_to_num", "sin", "cos", "atan2", "log2", "exp2", "log1p",
    "expm1", "sgn", "trunc", "frac", "hypot", "xlogy", "copysign",
)


def _with_inplace(names) -> list[str]:
    return [f"aten.{name}{suffix}" for name in names for suffix in ("", "_")]


def _activation(call: OpCall) -> Lowered:
    name = call.op.removeprefix("aten.").rstrip("_")
    return Lowered(Elementwise(call.outputs[0].numel, ACTIVATION_OPS_PER_ELEMENT[name]), OpClass.ACTIVATION)


def _elementwise(call: OpCall) -> Lowered:
    return Lowered(Elementwise(call.outputs[0].numel, 1), OpClass.ELEMENTWISE)


register_op(*_with_inplace(ACTIVATION_OPS_PER_ELEMENT))(_activation)
register_op(*_with_inplace(ELEMENTWISE_OPS))(_elementwise)


# ---------------------------------------------------------------- reductions and pooling


def _reduction_class(call: OpCall) -> OpClass:
    """A mean/sum/var inside a norm or pooling module belongs to that module's class (e.g. timm's fast global
    pool, hand-written LayerNorms); elsewhere it is plain elementwise work."""
    cls = call.module_class.lower()
    if "norm" in cls:
        return OpClass.NORM
    if "pool" in cls or call.outputs[0].numel * 16 <= call.inputs[0].numel:
        return OpClass.POOL_RESIZE
    return OpClass.ELEMENTWISE


REDUCTION_OPS_PER_ELEMENT: dict[str, int] = {
    "mean": 1, "sum": 1, "amax": 1, "amin": 1, "max": 1, "min": 1, "argmax": 1, "argmin": 1, "prod": 1,
    "any": 1, "all": 1, "var": 3, "std": 3, "var_mean": 3, "std_mean": 3, "norm": 2, "linalg_vector_norm": 2,
    "logsumexp": 4, "cumsum": 1, "cumprod": 1,
}


@register_op(*(f"aten.{name}" for name in REDUCTION_OPS_PER_ELEMENT))
def _reduction(call: OpCall) -> Lowered:
    name = call.op.removeprefix("aten.")
    n_in, n_out = call.inputs[0].numel, call.outputs[0].numel
    return Lowered(Reduction(n_in, n_out, REDUCTION_OPS_PER_ELEMENT[name]), _reduction_class(call))


@register_op(
    "aten.max_pool1d", "aten.max_pool2d", "aten.max_pool3d", "aten.max_pool2d_with_indices",
    "aten.max_pool3d_with_indices", "aten.avg_pool1d", "aten.avg_pool2d", "aten.avg_pool3d",
)
def _window_pool(call: OpCall) -> Lowered:
    """Each output reads one kernel window: elements_in = outputs x window size (overlaps read again)."""
    x, out = call.inputs[0], call.outputs[0]
    nd = len(x.shape) - 2 if len(x.shape) >= 3 else 1
    kernel = _ntuple(call.arg(1, "kernel_size", 1), nd)
    return Lowered(Reduction(out.numel * math.prod(kernel), out.numel, 1), OpClass.POOL_RESIZE)


@register_op(
    "aten.adaptive_avg_pool1d", "aten.adaptive_avg_pool2d", "aten._adaptive_avg_pool2d", "aten.adaptive_avg_pool3d",
    "aten._adaptive_avg_pool3d", "aten.adaptive_max_pool1d", "aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d",
)
def _adaptive_pool(call: OpCall) -> Lowered:
    """Assumes: windows tile the input (exact when the input size divides by the output size)."""
    return Lowered(Reduction(call.inputs[0].numel, call.outputs[0].numel, 1), OpClass.POOL_RESIZE)


# ---------------------------------------------------------------- resampling and data movement

# Assumes: taps weighted and summed per output element (nearest: a pure copy).
RESIZE_OPS_PER_ELEMENT: dict[str, int] = {
    "upsample_nearest1d": 0, "upsample_nearest2d": 0, "upsample_nearest3d": 0, "_upsample_nearest_exact2d": 0,
    "upsample_linear1d": 3, "upsample_bilinear2d": 7, "_upsample_bilinear2d_aa": 7, "upsample_trilinear3d": 15,
    "upsample_bicubic2d": 31, "_upsample_bicubic2d_aa": 31, "grid_sampler_2d": 7, "grid_sampler": 7,
}


@register_op(*(f"aten.{name}" for name in RESIZE_OPS_PER_ELEMENT))
def _resize(call: OpCall) -> Lowered:
    out = call.outputs[0]
    ops = RESIZE_OPS_PER_ELEMENT[call.op.removeprefix("aten.")]
    return Lowered(DataMove(out.numel, out.size_bytes, ops), OpClass.POOL_RESIZE)


DATA_MOVE_OPS: tuple[str, ...] = (
    "cat", "stack", "constant_pad_nd", "pad", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "roll", "index", "index_select", "gather",
    "scatter", "scatter_add", "index_put", "index_put_", "index_add", "clone", "_to_copy", "copy", "copy_",
    "repeat", "repeat_interleave", "flip", "embedding", "slice_scatter", "select_scatter", "narrow_copy",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "tril", "triu", "masked_scatter", "take",
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "fill", "fill_",
    "zero_", "bernoulli", "rand", "randn", "normal", "uniform_", "normal_", "im2col", "col2im", "sort", "topk",
    "unfold_copy", "_unsafe_index", "masked_select", "nonzero", "native_dropout",
)


@register_op(*(f"aten.{name}" for name in DATA_MOVE_OPS))
def _data_move(call: OpCall) -> Lowered:
    out_elements = sum(t.numel for t in call.outputs)
    out_bytes = sum(t.size_bytes for t in call.outputs)
    return Lowered(DataMove(out_elements, out_bytes), OpClass.DATA_MOVEMENT)
