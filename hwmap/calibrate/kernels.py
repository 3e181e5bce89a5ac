"""A BenchCase as a GPU kernel: a zero-argument callable that runs the case's operator on its shapes.

torch is imported inside the functions that allocate tensors; importing this module imports no torch. Inputs are
allocated once, when the callable is built, so that timing it measures the kernel alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from hwmap.calibrate.cases import BenchCase
from hwmap.errors import HwmapError
from hwmap.ops.work import Conv, Gemm

__all__ = ["TORCH_DTYPES", "build_callable", "torch_dtype"]

TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}

_ACTIVATIONS = {
    "relu": "relu", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid", "tanh": "tanh", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "leaky_relu": "leaky_relu", "elu": "elu", "mish": "mish", "softplus": "softplus",
    "relu6": "relu6", "hardtanh": "hardtanh",
}
_INPLACE_ACTIVATIONS = frozenset({"relu", "silu", "hardswish", "hardsigmoid", "leaky_relu", "elu", "mish", "relu6",
                                   "hardtanh"})
_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "maximum": "maximum", "minimum": "minimum",
           "rsub": "sub", "pow": "pow"}

Kernel = Callable[[], Any]
Random = Callable[[Sequence[int]], Any]  # shape -> a random tensor of the run's device and dtype


def torch_dtype(dtype: str) -> Any:
    """'fp16' / 'bf16' / 'fp32' -> the torch dtype measured runs use."""
    import torch

    if dtype not in TORCH_DTYPES:
        raise HwmapError(f"GPU measurements run in {', '.join(TORCH_DTYPES)}, not {dtype!r}")
    return getattr(torch, TORCH_DTYPES[dtype])


def build_callable(case: BenchCase, device: Any, dtype: Any) -> Kernel:
    """A zero-argument callable that runs the case's kernel on ``device`` in ``dtype`` (inputs allocated once)."""
    import torch

    def rnd(shape: Sequence[int]) -> Any:
        return torch.randn(tuple(shape), device=device, dtype=dtype)

    work = case.work
    if case.fit_class == "attention_fused":
        return _attention_kernel(case, rnd)
    if isinstance(work, Conv):
        return _conv_kernel(case, work, rnd)
    if isinstance(work, Gemm):
        return _gemm_kernel(case, work, rnd)
    builder = _BY_CLASS.get(case.fit_class, _data_movement_kernel)
    return builder(case, _activation_shape(case), rnd)


def _op_name(case: BenchCase) -> tuple[str, bool]:
    """(the aten op's base name without a trailing '_', whether it is the in-place form)."""
    name = case.op.split(".")[1] if "." in case.op else case.op
    return name.rstrip("_"), name.endswith("_") and not name.startswith("_")


def _activation_shape(case: BenchCase) -> tuple[int, ...]:
    """The shape of the case's first activation input (first input, else a 1024-vector)."""
    acts = [t for t in case.inputs if not t.is_weight]
    return acts[0].shape if acts else (case.inputs[0].shape if case.inputs else (1024,))


def _attention_kernel(case: BenchCase, rnd: Random) -> Kernel:
    import torch

    b, lq, lk, e, ev = case.attention
    q, k, v = rnd((1, b, lq, e)), rnd((1, b, lk, e)), rnd((1, b, lk, ev))
    return lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v)


def _conv_fn(work: Conv) -> Callable:
    import torch

    F = torch.nn.functional
    nd = len(work.kernel)
    if work.transposed:
        return {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]


def _conv_kernel(case: BenchCase, work: Conv, rnd: Random) -> Kernel:
    fn = _conv_fn(work)
    x = rnd((work.batch, work.in_channels, *work.in_spatial))
    if work.transposed:
        weight = rnd((work.in_channels, work.out_channels // work.groups, *work.kernel))
    else:
        weight = rnd((work.out_channels, work.in_channels // work.groups, *work.kernel))
    bias = rnd((work.out_channels,)) if sum(1 for t in case.inputs if t.is_weight) >= 2 else None
    if work.transposed:
        natural = [(i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in
                   zip(work.in_spatial, work.stride, work.padding, work.dilation, work.kernel, strict=True)]
        extra = tuple(max(0, o - n) for o, n in zip(work.out_spatial, natural, strict=True))
        return lambda: fn(x, weight, bias, work.stride, work.padding, extra, work.groups, work.dilation)
    return lambda: fn(x, weight, bias, work.stride, work.padding, work.dilation, work.groups)


def _gemm_kernel(case: BenchCase, work: Gemm, rnd: Random) -> Kernel:
    import torch

    if case.fit_class == "linear":
        x = rnd((work.batch * work.m, work.k) if work.batch > 1 else (work.m, work.k))
        weight = rnd((work.n, work.k))
        bias = rnd((work.n,)) if "addmm" in case.op or "linear" in case.op else None
        return lambda: torch.nn.functional.linear(x, weight, bias)
    a, b = rnd((work.batch, work.m, work.k)), rnd((work.batch, work.k, work.n))
    return lambda: torch.bmm(a, b)


def _softmax_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    x = rnd(shape)
    return lambda: torch.softmax(x, dim=-1)


def _norm_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    F = torch.nn.functional
    x = rnd(shape)
    weights = [t for t in case.inputs if t.is_weight]
    if "group_norm" in case.op:
        channels = shape[1]
        groups = 32 if channels % 32 == 0 else 1
        return lambda: F.group_norm(x, groups)
    normalized = tuple(weights[0].shape) if weights else tuple(shape[-1:])
    w, bias = rnd(normalized), rnd(normalized)
    if "rms_norm" in case.op:
        return lambda: F.rms_norm(x, normalized, w)
    return lambda: F.layer_norm(x, normalized, w, bias)


def _batch_norm_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    x = rnd(shape)
    c = shape[1] if len(shape) > 1 else shape[0]
    mean, var, w, bias = (torch.zeros(c, device=x.device, dtype=x.dtype),
                          torch.ones(c, device=x.device, dtype=x.dtype), rnd((c,)), rnd((c,)))
    return lambda: torch.nn.functional.batch_norm(x, mean, var, w, bias, False, 0.1, 1e-5)


def _activation_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    base, inplace = _op_name(case)
    x = rnd(shape)
    fname = _ACTIVATIONS.get(base, "relu")
    fn = getattr(torch, fname) if fname in ("sigmoid", "tanh") else getattr(torch.nn.functional, fname)
    if inplace and fname in _INPLACE_ACTIVATIONS:
        return lambda: fn(x, inplace=True)
    return lambda: fn(x)


def _elementwise_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    base, inplace = _op_name(case)
    tensors = [rnd(t.shape) for t in case.inputs]
    op = getattr(torch, _BINARY.get(base, "add"))
    if len(tensors) >= 2:
        try:
            torch.broadcast_shapes(tensors[0].shape, tensors[1].shape)
        except RuntimeError:
            tensors = tensors[:1]
    if len(tensors) >= 2:
        a, b = tensors[0], tensors[1]
        if inplace and torch.broadcast_shapes(a.shape, b.shape) == a.shape:
            method = getattr(a, f"{_BINARY.get(base, 'add')}_")
            return lambda: method(b)
        return lambda: op(a, b)
    a = tensors[0] if tensors else rnd(shape)
    return lambda: op(a, 0.5)


def _pooling_resize_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    F = torch.nn.functional
    x = rnd(shape)
    out = case.outputs[0].shape if case.outputs else shape
    if "upsample" in case.op or "interpolate" in case.op:
        mode = "nearest" if "nearest" in case.op else ("bicubic" if "bicubic" in case.op else "bilinear")
        kwargs = {} if mode == "nearest" else {"align_corners": False}
        return lambda: F.interpolate(x, size=tuple(out[2:]), mode=mode, **kwargs)
    if "max_pool" in case.op and len(shape) == 4:
        stride = max(1, shape[-1] // max(out[-1], 1))
        kernel = 3 if stride == 2 else stride
        return lambda: F.max_pool2d(x, kernel, stride, kernel // 2 if kernel == 3 else 0)
    if "avg_pool" in case.op and "adaptive" not in case.op and len(shape) == 4:
        stride = max(1, shape[-1] // max(out[-1], 1))
        return lambda: F.avg_pool2d(x, stride)
    if len(shape) == 4 and len(out) == 4:
        return lambda: F.adaptive_avg_pool2d(x, tuple(out[2:]))
    dims = tuple(i for i, (a, b) in enumerate(zip(shape, out, strict=False)) if a != b) or (len(shape) - 1,)
    keep = len(out) == len(shape)
    return lambda: x.mean(dim=dims, keepdim=keep)


def _data_movement_kernel(case: BenchCase, shape: tuple[int, ...], rnd: Random) -> Kernel:
    import torch

    base, _inplace = _op_name(case)
    out = case.outputs[0].shape if case.outputs else shape
    if base == "cat" and len(case.inputs) >= 2:
        tensors = [rnd(t.shape) for t in case.inputs]
        ranks = {len(t.shape) for t in tensors}
        if len(ranks) == 1:
            dim = next((i for i in range(len(tensors[0].shape))
                        if len({t.shape[i] for t in tensors}) > 1), 0)
            return lambda: torch.cat(tensors, dim=dim)
    if base == "constant_pad_nd" and len(out) == len(shape):
        x = rnd(shape)
        pads: list[int] = []
        for i in range(len(shape) - 1, -1, -1):
            pads += [0, max(0, out[i] - shape[i])]
        return lambda: torch.nn.functional.pad(x, pads)
    if base == "roll" and len(shape) >= 2:
        x = rnd(shape)
        return lambda: torch.roll(x, shifts=(1, 1), dims=(1, 2) if len(shape) >= 3 else (0, 1))
    if base == "index" and len(case.inputs) >= 2:
        x = rnd(case.inputs[0].shape)
        idx = torch.randint(0, max(1, case.inputs[0].shape[0]), tuple(case.inputs[1].shape), device=x.device)
        return lambda: x[idx]
    numel = math.prod(out) if out else 1
    if len(out) >= 2:
        swapped = (*out[:-2], out[-1], out[-2])
        src = rnd(swapped).transpose(-1, -2)
        return lambda: src.contiguous()
    src = rnd((numel,))
    return lambda: src.clone()


# fit class -> builder, for the classes that are not told apart by their work (conv, GEMM, fused attention)
_BY_CLASS: dict[str, Callable[[BenchCase, tuple[int, ...], Random], Kernel]] = {
    "attention_softmax": _softmax_kernel,
    "normalization": _norm_kernel,
    "batch_norm": _batch_norm_kernel,
    "activation": _activation_kernel,
    "elementwise": _elementwise_kernel,
    "pooling_resize": _pooling_resize_kernel,
}
