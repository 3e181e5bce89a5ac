"""Microbenchmarks per kernel class, the calibration run, and real-model measurement (`hwmap measure`).

torch is imported inside the functions that run on the GPU; planning (which shapes to time) is pure Python.

Timing protocol (one microbenchmark):

- warm-up calls (cuBLAS/cuDNN heuristics, allocator), then one synchronous call to size the loop;
- a ``torch.cuda._sleep`` kernel holds the GPU while the host queues n launches: the host time per launch is
  the CPU dispatch cost, and CUDA events around the n kernels (recorded after the sleep) give the pure GPU time
  per kernel, back to back, without host stalls. If the host was still queueing when the sleep ended, the loop
  is repeated with a longer sleep;
- energy: power loops of one shape per class, at least ``power_loop_s`` (>= 1 s, so the NVML counter moves
  enough), with clocks, temperature and throttle reasons recorded before and after the run;
- host dispatch: each operator's tight-loop host time, scaled by one factor measured on a mixed sequence of the
  same operators (a model's mix runs with colder CPU caches than a loop of one operator);
- idle power: a CUDA context open, the host launching one-element kernels back to back (the GPU clocked up but
  idle, as during host-bound inference); the quiescent power (no kernels at all) is recorded too.

Shapes: every distinct operator of the built-in models' layer graphs (extracted by hwmap.graph.extract at
the given batches; attention chains as fused SDPA shapes), spread over their sizes, plus a few synthetic sizes
per class so that the saturation curve is anchored at both ends.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from hwmap.calibrate.meter import MeterError, NoCudaError
from hwmap.cost.gpu import (
    DTYPE_BYTES,
    MODES,
    attention_chains,
    chain_features,
    coefficients,
    fit_class_of,
    gpu_roofs,
    kernel_time_s,
    node_features,
    template_for_device_name,
)
from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.gpu_schema import FIT_CLASSES
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, DataMove, Elementwise, Gemm, Reduction

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.calibrate.fit import PowerSample, TimingSample
    from hwmap.cost.result import GraphCost
    from hwmap.hardware.calibration import GpuCalibration
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "DEFAULT_MODELS",
    "BenchCase",
    "CalibrationPlan",
    "CalibrationRun",
    "MeasureResult",
    "ModuleTime",
    "Progress",
    "cases_from_graph",
    "materialize",
    "measure_model",
    "module_kernel_times",
    "parse_device",
    "plan_calibration",
    "require_cuda",
    "run_calibration",
    "synthetic_cases",
]

DEFAULT_MODELS = ("resnet50", "segformer-b2", "deit_small_patch16_224", "swin_tiny_patch4_window7_224")
DEFAULT_BATCHES = (1, 8)
TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
MODULE_PREFIX = "hwmap.module::"
MAX_LAUNCHES = 200  # per timing loop: well under the ~1024 launches CUDA queues before the host blocks


class Progress(Protocol):
    """What long runs report to (the CLI renders it with rich.progress)."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, steps: int = 1) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass


# ----------------------------------------------------------------------------------------------------------------
# Cases: what to time (pure Python)
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchCase:
    """One kernel to time: an operator (its node) or a fused attention (its dims), with its model features."""

    fit_class: str
    op: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    work: Any
    flops: float
    bytes_: float
    elements: float
    label: str
    attention: tuple[int, int, int, int, int] | None = None  # (batch x heads, q_len, kv_len, head_dim, v_dim)

    @property
    def key(self) -> tuple:
        return (self.fit_class, self.op, tuple((t.shape, t.is_weight) for t in self.inputs), self.work,
                self.attention)


def _case_from_node(node: Node, dtype: str, label: str) -> BenchCase | None:
    cls = fit_class_of(node)
    if cls is None or node.part:
        return None
    f = node_features(node, dtype)
    return BenchCase(cls, node.op, node.inputs, node.outputs, node.work, f.flops, f.bytes_, f.elements, label)


def cases_from_graph(graph: LayerGraph, *, dtype: str = "fp16", label: str | None = None) -> list[BenchCase]:
    """Every operator of a graph that launches a kernel, plus each attention chain as a fused SDPA case."""
    label = label or graph.model
    cases = [c for c in (_case_from_node(n, dtype, label) for n in graph.nodes) if c is not None]
    for chain in attention_chains(graph):
        f = chain_features(chain, dtype)
        dims = (chain.batch, chain.q_len, chain.kv_len, chain.head_dim, chain.v_dim)
        cases.append(BenchCase("attention_fused", "sdpa", (), (), None, f.flops, f.bytes_, f.elements, label,
                               attention=dims))
    return cases


def _t(shape: Sequence[int], source: str = "input:0") -> TensorMeta:
    return TensorMeta(tuple(int(s) for s in shape), "float32", source)


def _node(op: str, op_class: OpClass, work, inputs, outputs, module_class: str = "") -> Node:
    return Node(0, op, work, op_class, "synthetic", module_class, tuple(inputs), tuple(outputs))


def _conv(batch, cin, cout, hw, k, stride=1, groups=1) -> Node:
    pad = k // 2
    out = (hw + 2 * pad - k) // stride + 1
    work = Conv(batch, cin, cout, (hw, hw), (out, out), (k, k), (stride, stride), (pad, pad), (1, 1), groups)
    # (not hwmap.ops.aten.conv_class: importing a lowering module by hand would bypass the registry's loader)
    if work.is_depthwise:
        op_class = OpClass.CONV_DEPTHWISE
    elif groups > 1:
        op_class = OpClass.CONV_GROUPED
    else:
        op_class = OpClass.CONV_POINTWISE if work.is_pointwise else OpClass.CONV_DENSE
    return _node("aten.convolution.default", op_class, work,
                 [_t((batch, cin, hw, hw)), _t((cout, cin // groups, k, k), "param:w"), _t((cout,), "param:b")],
                 [_t((batch, cout, out, out))])


def synthetic_cases(dtype: str = "fp16") -> list[BenchCase]:
    """A few sizes per class beyond the models' shapes, from tiny (launch-bound) to large (roof-bound)."""
    nodes: list[Node] = [
        _conv(1, 16, 16, 8, 3), _conv(8, 64, 64, 56, 3), _conv(32, 128, 128, 28, 3), _conv(64, 256, 256, 14, 3),
        _conv(1, 64, 64, 8, 1), _conv(8, 256, 64, 56, 1), _conv(32, 1024, 2048, 14, 1), _conv(64, 512, 512, 28, 1),
        _conv(1, 32, 32, 8, 3, groups=32), _conv(1, 64, 64, 128, 3, groups=64), _conv(8, 256, 256, 56, 3, groups=256),
        _conv(32, 512, 512, 28, 3, groups=512),
        _conv(1, 64, 64, 8, 3, groups=32), _conv(1, 128, 128, 56, 3, groups=32), _conv(8, 256, 256, 56, 3, groups=32),
        _conv(32, 512, 512, 28, 3, groups=32),
    ]
    for m, n, k in ((64, 64, 64), (1024, 1024, 1024), (4096, 4096, 4096), (8192, 8192, 1024), (16384, 256, 64)):
        nodes.append(_node("aten.addmm.default", OpClass.LINEAR, Gemm(1, m, n, k),
                           [_t((n,), "param:b"), _t((m, k)), _t((k, n), "param:w")], [_t((m, n))], "Linear"))
    for b, m, k, n in ((96, 1024, 64, 1024), (48, 4096, 64, 256), (8, 2048, 2048, 64), (6, 64, 64, 64)):
        nodes.append(_node("aten.bmm.default", OpClass.ATTENTION_MATMUL, Gemm(b, m, n, k),
                           [_t((b, m, k)), _t((b, k, n))], [_t((b, m, n))]))
    for shape in ((6, 64, 64), (6, 197, 197), (64, 1024, 1024), (8, 16384, 256)):
        numel = math.prod(shape)
        nodes.append(_node("aten._softmax.default", OpClass.ATTENTION_SOFTMAX, Reduction(numel, numel, 5),
                           [_t(shape)], [_t(shape)]))
    for shape in ((1, 64, 96), (8, 3136, 96), (64, 1024, 1024), (8, 16384, 64)):
        numel = math.prod(shape)
        nodes.append(_node("aten.native_layer_norm.default", OpClass.NORM, Reduction(numel, numel, 8),
                           [_t(shape), _t(shape[-1:], "param:w"), _t(shape[-1:], "param:b")],
                           [_t(shape), _t((*shape[:-1], 1)), _t((*shape[:-1], 1))], "LayerNorm"))
    for shape in ((1, 64, 16, 16), (1, 64, 112, 112), (8, 256, 56, 56), (32, 512, 28, 28)):
        numel, c = math.prod(shape), shape[1]
        nodes.append(_node("aten.native_batch_norm.default", OpClass.NORM, Elementwise(numel, 2),
                           [_t(shape)] + [_t((c,), f"buffer:{n}") for n in ("w", "b", "m", "v")], [_t(shape)],
                           "BatchNorm2d"))
    for numel in (4096, 1 << 20, 1 << 23, 1 << 26):
        shape = (numel // 1024, 1024)
        nodes.append(_node("aten.gelu.default", OpClass.ACTIVATION, Elementwise(numel, 8), [_t(shape)],
                           [_t(shape)], "GELU"))
        nodes.append(_node("aten.add.Tensor", OpClass.ELEMENTWISE, Elementwise(numel, 1), [_t(shape), _t(shape)],
                           [_t(shape)]))
        nodes.append(_node("aten.clone.default", OpClass.DATA_MOVEMENT, DataMove(numel, numel * 4), [_t(shape)],
                           [_t(shape)]))
    for shape, out in (((8, 64, 112, 112), (8, 64, 56, 56)), ((1, 64, 32, 32), (1, 64, 16, 16))):
        nodes.append(_node("aten.max_pool2d_with_indices.default", OpClass.POOL_RESIZE,
                           Reduction(math.prod(shape) * 9 // 4, math.prod(out), 1), [_t(shape)], [_t(out)],
                           "MaxPool2d"))
    for shape, out in (((8, 256, 64, 64), (8, 256, 128, 128)), ((1, 64, 16, 16), (1, 64, 128, 128))):
        nodes.append(_node("aten.upsample_bilinear2d.default", OpClass.POOL_RESIZE,
                           DataMove(math.prod(out), math.prod(out) * 4, 4), [_t(shape)], [_t(out)]))
    cases = [c for c in (_case_from_node(n, dtype, "synthetic") for n in nodes) if c is not None]
    for dims in ((48, 197, 197, 64, 64), (64, 1024, 1024, 64, 64), (8, 4096, 4096, 64, 64), (8, 16384, 256, 64, 64),
                 (2, 64, 64, 32, 32)):
        b, lq, lk, e, ev = dims
        bytes_ = b * (lq * e + lk * e + lk * ev + lq * ev) * DTYPE_BYTES[dtype]
        cases.append(BenchCase("attention_fused", "sdpa", (), (), None, 2.0 * b * lq * lk * (e + ev),
                               float(bytes_), float(b * lq * ev), "synthetic", attention=dims))
    return cases


def _spread(cases: list[BenchCase], limit: int) -> list[BenchCase]:
    """Up to ``limit`` cases evenly spread over the sorted sizes (smallest and largest always kept)."""
    if len(cases) <= limit:
        return cases
    ordered = sorted(cases, key=lambda c: (c.elements, c.flops, c.bytes_))
    picks = sorted({round(i * (len(ordered) - 1) / (limit - 1)) for i in range(limit)})
    return [ordered[i] for i in picks]


@dataclass(frozen=True)
class CalibrationPlan:
    """What a calibration run will time, and how long it should take."""

    cases: tuple[BenchCase, ...]
    power_cases: tuple[BenchCase, ...]
    quick: bool
    timing_target_s: float  # launches per timing loop are sized to this much GPU time
    repeats: int
    power_loop_s: float
    idle_s: float
    models: tuple[str, ...]
    batches: tuple[int, ...]

    @property
    def estimated_s(self) -> float:
        """Planned device time: per case ~ (repeats + 2) loops of the target plus setup, power loops, idle."""
        per_case = (self.repeats + 2) * self.timing_target_s + 0.02
        return len(self.cases) * per_case + len(self.power_cases) * (self.power_loop_s + 0.3) + 2 * self.idle_s + 2

    def describe(self) -> str:
        by_class: dict[str, int] = {}
        for case in self.cases:
            by_class[case.fit_class] = by_class.get(case.fit_class, 0) + 1
        return (f"{len(self.cases)} microbenchmarks over {len(by_class)} kernel classes, {len(self.power_cases)} "
                f"power loops of {self.power_loop_s:g} s, idle {2 * self.idle_s:g} s: about "
                f"{self.estimated_s:.0f} s of measurement")


def plan_calibration(graphs: Iterable[LayerGraph], *, quick: bool, dtype: str = "fp16",
                     accel: Accelerator | None = None, models: Sequence[str] = (),
                     batches: Sequence[int] = ()) -> CalibrationPlan:
    """Dedupe the graphs' operator shapes, add synthetic sizes, cap each class, pick one power loop per class."""
    seen: dict[tuple, BenchCase] = {}
    for graph in graphs:
        for case in cases_from_graph(graph, dtype=dtype):
            seen.setdefault(case.key, case)
    synthetic = synthetic_cases(dtype)
    per_class = 20 if quick else 60
    chosen: list[BenchCase] = []
    for cls in FIT_CLASSES:
        real = [c for c in seen.values() if c.fit_class == cls]
        chosen += _spread(real, per_class) + [c for c in synthetic if c.fit_class == cls and c.key not in seen]
    power: list[BenchCase] = []
    predict = _prior_predictor(accel, dtype) if accel is not None else None
    for cls in FIT_CLASSES:
        candidates = [c for c in chosen if c.fit_class == cls]
        if not candidates:
            continue
        if predict is not None:  # the biggest kernel that still runs under 20 ms: GPU-bound power loops
            fitting = [c for c in candidates if predict(c) <= 0.02] or candidates
            power.append(max(fitting, key=predict))
        else:
            power.append(max(candidates, key=lambda c: (c.flops, c.bytes_)))
    return CalibrationPlan(cases=tuple(chosen), power_cases=tuple(power), quick=quick,
                           timing_target_s=0.004 if quick else 0.01, repeats=2 if quick else 3,
                           power_loop_s=1.2 if quick else 2.5, idle_s=1.0 if quick else 2.0,
                           models=tuple(models), batches=tuple(batches))


def _prior_predictor(accel: Accelerator, dtype: str) -> Callable[[BenchCase], float]:
    roofs = gpu_roofs(accel, dtype=dtype if dtype in ("fp16", "bf16", "fp32") else "fp16")
    coef = coefficients(accel)

    def predict(case: BenchCase) -> float:
        c = coef.classes[case.fit_class]
        return float(kernel_time_s(case.flops, case.bytes_, case.elements,
                                   peak_flops_per_s=roofs.peak_for(case.fit_class),
                                   bandwidth_bytes_per_s=roofs.bandwidth_bytes_per_s,
                                   compute_eff_frac=c.compute_eff_frac, memory_eff_frac=c.memory_eff_frac,
                                   half_saturation_elements=c.half_saturation_elements,
                                   launch_overhead_s=c.launch_overhead_s))

    return predict


# ----------------------------------------------------------------------------------------------------------------
# The GPU side (torch imported lazily)
# ----------------------------------------------------------------------------------------------------------------


def parse_device(device: str) -> int:
    """'cuda:0' / 'cuda' -> CUDA device index; anything else is an error (hwmap measures NVIDIA GPUs)."""
    text = device.strip().lower()
    if text == "cuda":
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise ParameterError("device", f"{device!r}: expected cuda or cuda:N (an NVIDIA GPU)")


def require_cuda(device: str, *, command: str = "calibrate") -> tuple[Any, Any]:
    """(torch, torch.device) for a usable CUDA device, or ONE clear NoCudaError."""
    index = parse_device(device)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        raise NoCudaError(f"`hwmap {command}` needs PyTorch with CUDA; torch is not installed") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        available = torch.cuda.is_available()
        count = torch.cuda.device_count() if available else 0
    if not available:
        if torch.version.cuda is None:
            why = f"torch {torch.__version__} is a CPU-only build"
        else:
            why = (f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable NVIDIA GPU or driver "
                   "(torch.cuda.is_available() is False)")
        raise NoCudaError(f"{device}: CUDA is not available: {why}; `hwmap {command}` needs an NVIDIA GPU")
    if index >= count:
        raise NoCudaError(f"{device}: no such CUDA device, this machine has {count} (cuda:0..cuda:{count - 1})")
    return torch, torch.device("cuda", index)


def _torch_dtype(torch: Any, dtype: str) -> Any:
    if dtype not in TORCH_DTYPES:
        raise HwmapError(f"GPU measurements run in {', '.join(TORCH_DTYPES)}, not {dtype!r}")
    return getattr(torch, TORCH_DTYPES[dtype])


def _conv_fn(torch: Any, work: Conv) -> Callable:
    F = torch.nn.functional
    nd = len(work.kernel)
    if work.transposed:
        return {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]


_ACTIVATIONS = {
    "relu": "relu", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid", "tanh": "tanh", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "leaky_relu": "leaky_relu", "elu": "elu", "mish": "mish", "softplus": "softplus",
    "relu6": "relu6", "hardtanh": "hardtanh",
}
_INPLACE_ACTIVATIONS = frozenset({"relu", "silu", "hardswish", "hardsigmoid", "leaky_relu", "elu", "mish", "relu6",
                                   "hardtanh"})
_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "maximum": "maximum", "minimum": "minimum",
           "rsub": "sub", "pow": "pow"}


def build_callable(case: BenchCase, torch: Any, device: Any, dtype: Any) -> Callable[[], Any]:
    """A zero-argument callable that runs the case's kernel on the GPU (inputs allocated once)."""
    F = torch.nn.functional

    def rnd(shape: Sequence[int]) -> Any:
        return torch.randn(tuple(shape), device=device, dtype=dtype)

    name = case.op.split(".")[1] if "." in case.op else case.op
    base = name.rstrip("_")
    inplace = name.endswith("_") and not name.startswith("_")
    acts = [t for t in case.inputs if not t.is_weight]
    cls = case.fit_class
    work = case.work
    if cls == "attention_fused":
        b, lq, lk, e, ev = case.attention
        q, k, v = rnd((1, b, lq, e)), rnd((1, b, lk, e)), rnd((1, b, lk, ev))
        return lambda: F.scaled_dot_product_attention(q, k, v)
    if isinstance(work, Conv):
        fn = _conv_fn(torch, work)
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
    if isinstance(work, Gemm) and cls == "linear":
        x = rnd((work.batch * work.m, work.k) if work.batch > 1 else (work.m, work.k))
        weight = rnd((work.n, work.k))
        bias = rnd((work.n,)) if "addmm" in case.op or "linear" in case.op else None
        return lambda: F.linear(x, weight, bias)
    if isinstance(work, Gemm):
        a, b = rnd((work.batch, work.m, work.k)), rnd((work.batch, work.k, work.n))
        return lambda: torch.bmm(a, b)
    shape = acts[0].shape if acts else (case.inputs[0].shape if case.inputs else (1024,))
    if cls == "attention_softmax":
        x = rnd(shape)
        return lambda: torch.softmax(x, dim=-1)
    if cls == "normalization":
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
    if cls == "batch_norm":
        x = rnd(shape)
        c = shape[1] if len(shape) > 1 else shape[0]
        mean, var, w, bias = (torch.zeros(c, device=device, dtype=dtype), torch.ones(c, device=device, dtype=dtype),
                              rnd((c,)), rnd((c,)))
        return lambda: F.batch_norm(x, mean, var, w, bias, False, 0.1, 1e-5)
    if cls == "activation":
        x = rnd(shape)
        fname = _ACTIVATIONS.get(base, "relu")
        fn = getattr(torch, fname) if fname in ("sigmoid", "tanh") else getattr(F, fname)
        if inplace and fname in _INPLACE_ACTIVATIONS:
            return lambda: fn(x, inplace=True)
        return lambda: fn(x)
    if cls == "elementwise":
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
    if cls == "pooling_resize":
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
    # data movement
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
        return lambda: F.pad(x, pads)
    if base == "roll" and len(shape) >= 2:
        x = rnd(shape)
        return lambda: torch.roll(x, shifts=(1, 1), dims=(1, 2) if len(shape) >= 3 else (0, 1))
    if base == "index" and len(case.inputs) >= 2:
        x = rnd(case.inputs[0].shape)
        idx = torch.randint(0, max(1, case.inputs[0].shape[0]), tuple(case.inputs[1].shape), device=device)
        return lambda: x[idx]
    numel = math.prod(out) if out else 1
    if len(out) >= 2:
        swapped = (*out[:-2], out[-1], out[-2])
        src = rnd(swapped).transpose(-1, -2)
        return lambda: src.contiguous()
    src = rnd((numel,))
    return lambda: src.clone()


class _Timer:
    """Times one callable: host dispatch per launch and GPU time per kernel (see the module docstring)."""

    def __init__(self, torch: Any, *, target_s: float, repeats: int) -> None:
        self.torch = torch
        self.target_s = target_s
        self.repeats = repeats
        self.cycles_per_s = self._sleep_rate()

    def _sleep_rate(self) -> float:
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(1000)
        torch.cuda.synchronize()
        cycles = 20_000_000
        start.record()
        torch.cuda._sleep(cycles)
        end.record()
        end.synchronize()
        return cycles / max(start.elapsed_time(end) / 1e3, 1e-6)

    def time(self, fn: Callable[[], Any]) -> tuple[float, float]:
        """(GPU seconds per kernel, host seconds per launch)."""
        torch = self.torch
        fn()
        fn()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        once = time.perf_counter() - t0
        n = int(min(MAX_LAUNCHES, max(3, self.target_s / max(once, 1e-7))))
        gpu: list[float] = []
        host: list[float] = []
        for _ in range(self.repeats):
            sleep_s = min(n * once * 1.5 + 1e-3, 1.0)
            for _attempt in range(3):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda._sleep(int(sleep_s * self.cycles_per_s))
                start.record()
                h0 = time.perf_counter()
                for _ in range(n):
                    fn()
                h1 = time.perf_counter()
                end.record()
                end.synchronize()
                if h1 - h0 < 0.8 * sleep_s:
                    break
                sleep_s = min(2 * sleep_s, 4.0)  # the GPU woke up before the host finished queueing: redo
            gpu.append(start.elapsed_time(end) / 1e3 / n)
            host.append((h1 - h0) / n)
        return statistics.median(gpu), statistics.median(host)


def _host_view_and_module_s(torch: Any, device: Any) -> tuple[float, float]:
    """Host seconds of one Python-level view and of one nn.Module call (median of 5 loops of 2000)."""
    x = torch.empty(64, 64, device=device)

    class _Pass(torch.nn.Module):
        def forward(self, value):
            return value

    module = _Pass()
    views, calls = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(500):
            x.view(-1)
            x.transpose(0, 1)
            x.reshape(32, 128)
            x.permute(1, 0)
        views.append((time.perf_counter() - t0) / 2000)
        t0 = time.perf_counter()
        for _ in range(2000):
            module(x)
        calls.append((time.perf_counter() - t0) / 2000)
    return statistics.median(views), statistics.median(calls)


def _dispatch_factor(torch: Any, device: Any, dtype: Any, timer: _Timer, cases: Sequence[BenchCase],
                     measured: dict[tuple, tuple[float, float]], *, per_class: int = 6) -> float:
    """Host time of the timed operators called once each, interleaved across classes (as in a model), over the sum
    of their tight-loop host times. A loop of one operator keeps the CPU's caches and branch predictors warm; a
    model's mix of operators does not. Clipped to [0.8, 3]; 1 when there is nothing to compare."""
    by_class: dict[str, list[BenchCase]] = {}
    for case in cases:
        timing = measured.get(case.key)
        if timing is not None and timing[0] < 5e-4 and len(by_class.setdefault(case.fit_class, [])) < per_class:
            by_class[case.fit_class].append(case)
    ordered = [group[i] for i in range(per_class) for group in by_class.values() if i < len(group)]
    try:
        sequence = [build_callable(case, torch, device, dtype) for case in ordered]
    except (RuntimeError, ValueError, TypeError, IndexError):
        return 1.0
    tight = sum(measured[case.key][1] for case in ordered)
    if not sequence or tight <= 0:
        return 1.0
    for fn in sequence:
        fn()
    torch.cuda.synchronize()
    passes = []
    for _ in range(5):
        torch.cuda._sleep(int(min(3 * tight + 2e-3, 1.0) * timer.cycles_per_s))
        h0 = time.perf_counter()
        for fn in sequence:
            fn()
        passes.append(time.perf_counter() - h0)
        torch.cuda.synchronize()
    return float(min(max(statistics.median(passes) / tight, 0.8), 3.0))


def _idle_power_w(torch: Any, device: Any, meter: Any, seconds: float) -> tuple[float, float]:
    """(idle power with one-element kernels keeping the clocks up, quiescent idle power), in W."""
    torch.cuda.synchronize()
    meter.start()
    time.sleep(seconds)
    quiet = meter.stop()
    x = torch.zeros(1, device=device)
    meter.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            x.add_(1.0)
        torch.cuda.synchronize()
    active = meter.stop()
    return active.average_power_w, quiet.average_power_w


def _warm_up(torch: Any, device: Any, dtype: Any, seconds: float = 0.5) -> None:
    a = torch.randn(4096, 4096, device=device, dtype=dtype)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10):
            a @ a
        torch.cuda.synchronize()


def _set_backend_flags(torch: Any, tf32: bool) -> None:
    torch.backends.cudnn.benchmark = False  # what a default PyTorch run does: heuristics, no autotuning
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def _device_record(torch: Any, device: Any, meter: Any | None) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(device)
    record: dict[str, Any] = {
        "name": props.name, "compute_capability": f"{props.major}.{props.minor}",
        "sm_count": int(props.multi_processor_count), "memory_bytes": int(props.total_memory),
        "cuda_runtime_version": str(torch.version.cuda or ""), "torch_version": str(torch.__version__),
        "cudnn_version": str(torch.backends.cudnn.version() or ""),
    }
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        record["uuid"] = f"GPU-{uuid}" if not str(uuid).startswith(("GPU-", "MIG-")) else str(uuid)
    if meter is not None:
        info = meter.info()
        for key in ("uuid", "driver_version", "cuda_driver_version", "architecture", "energy_method",
                    "power_limit_w", "max_sm_clock_mhz", "max_mem_clock_mhz"):
            if info.get(key) not in (None, ""):
                record[key] = info[key]
        if info.get("name"):
            record["name"] = info["name"]
    return record


def _open_meter(torch: Any, device: Any) -> Any:
    from hwmap.calibrate.nvml import NvmlMeter

    props = torch.cuda.get_device_properties(device)
    uuid = getattr(props, "uuid", None)
    text = str(uuid) if uuid is not None else None
    if text and not text.startswith(("GPU-", "MIG-")):
        text = f"GPU-{text}"
    try:
        return NvmlMeter.open(device.index or 0, uuid=text)
    except MeterError:
        if text is None:
            raise
        return NvmlMeter.open(device.index or 0)  # an NVML that does not know the UUID form: by index


def _resolve_accel(accel: Accelerator | str | None, device_name: str) -> Accelerator:
    from hwmap.hardware import load_accelerator

    if accel is None:
        name = template_for_device_name(device_name)
        if name is None:
            raise HwmapError(f"no GPU template matches {device_name!r}: pass accel, one of the GPU templates "
                             "(accelerators/gpu/*.yaml) or a template file of your own")
        return load_accelerator(name)
    return load_accelerator(accel) if isinstance(accel, str) else accel


@dataclass(frozen=True)
class CalibrationRun:
    calibration: GpuCalibration
    plan: CalibrationPlan
    timing: tuple[TimingSample, ...]
    power: tuple[PowerSample, ...]
    skipped: tuple[str, ...]
    elapsed_s: float


def run_calibration(
    *,
    device: str = "cuda:0",
    accel: Accelerator | str | None = None,
    quick: bool = False,
    dtype: str = "fp16",
    tf32: bool = True,
    models: Sequence[str] = DEFAULT_MODELS,
    batches: Sequence[int] = DEFAULT_BATCHES,
    graphs: Sequence[LayerGraph] | None = None,
    progress: Progress | None = None,
) -> CalibrationRun:
    """Microbenchmark every kernel class on a real GPU, measure idle and dynamic power, fit the GPU model."""
    from hwmap.calibrate.fit import PowerSample, TimingSample, fit_all
    from hwmap.hardware.calibration import (
        CalibratedClass,
        CalibrationSettings,
        DeviceRecord,
        DeviceState,
        GpuCalibration,
    )

    progress = progress or _Silent()
    started = time.perf_counter()
    torch, dev = require_cuda(device, command="calibrate")
    tdtype = _torch_dtype(torch, dtype)
    acc = _resolve_accel(accel, torch.cuda.get_device_name(dev))
    roofs = gpu_roofs(acc, dtype=dtype, tf32=tf32)
    priors = coefficients(acc).classes
    meter = _open_meter(torch, dev)
    try:
        if graphs is None:
            from hwmap.graph.extract import extract_graph

            progress.phase("extracting layer graphs", len(models) * len(batches))
            built = []
            for model in models:
                for batch in batches:
                    built.append(extract_graph(model, batch=batch))
                    progress.advance()
            graphs = built
        plan = plan_calibration(graphs, quick=quick, dtype=dtype, accel=acc, models=models, batches=batches)
        progress.note(f"planned: {plan.describe()}")
        torch.cuda.set_device(dev)
        _set_backend_flags(torch, tf32)
        _warm_up(torch, dev, tdtype)
        state_before = meter.state()
        view_s, module_s = _host_view_and_module_s(torch, dev)
        timer = _Timer(torch, target_s=plan.timing_target_s, repeats=plan.repeats)
        timing: list[TimingSample] = []
        measured: dict[tuple, tuple[float, float]] = {}
        skipped: list[str] = []
        progress.phase("timing kernels", len(plan.cases))
        for case in plan.cases:
            try:
                gpu_s, host_s = timer.time(build_callable(case, torch, dev, tdtype))
            except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # OOM, an unsupported shape, ...
                skipped.append(f"{case.fit_class} {case.op} ({case.label}): {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:120]}")
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
                progress.advance()
                continue
            measured[case.key] = (gpu_s, host_s)
            timing.append(TimingSample(case.fit_class, case.flops, case.bytes_, case.elements, gpu_s, host_s,
                                       roofs.peak_for(case.fit_class), roofs.bandwidth_bytes_per_s, case.label))
            progress.advance()
        progress.phase("timing a mixed operator sequence", 1)
        factor = _dispatch_factor(torch, dev, tdtype, timer, plan.cases, measured)
        progress.advance()
        progress.phase("measuring idle power", 1)
        idle_w, quiet_w = _idle_power_w(torch, dev, meter, plan.idle_s)
        progress.advance()
        progress.phase("power loops", len(plan.power_cases))
        power: list[PowerSample] = []
        for case in plan.power_cases:
            if case.key not in measured:
                progress.advance()
                continue
            gpu_s, host_s = measured[case.key]
            fn = build_callable(case, torch, dev, tdtype)
            iterations = max(1, math.ceil(plan.power_loop_s / max(gpu_s, host_s, 1e-7)))
            torch.cuda.synchronize()
            meter.start()
            for _ in range(iterations):
                fn()
            torch.cuda.synchronize()
            reading = meter.stop()
            del fn
            power.append(PowerSample(case.fit_class, case.flops, case.bytes_, case.elements, iterations,
                                     reading.elapsed_s, reading.energy_j, roofs.peak_for(case.fit_class),
                                     roofs.bandwidth_bytes_per_s, case.label))
            progress.advance()
        state_after = meter.state()
        record = _device_record(torch, dev, meter)
    finally:
        meter.close()
    progress.phase("fitting", 1)
    # Host overheads as a model's operator mix sees them (see _dispatch_factor).
    timing = [dataclasses.replace(t, host_s=t.host_s * factor) for t in timing]
    view_s, module_s = view_s * factor, module_s * factor
    fits = fit_all(timing, power, priors, idle_power_w=idle_w)
    progress.advance()
    spec = acc.spec
    classes = {}
    notes = [f"skipped {len(skipped)} microbenchmarks that failed to run"] if skipped else []
    for name, (fit, watts, used) in fits.items():
        c = fit.coefficients
        prior_watts = priors[name].dynamic_power_w / max(spec.tdp_w - spec.priors.idle_power_w, 1e-9) * max(
            spec.tdp_w - idle_w, 0.0)
        from_prior = list(fit.from_prior)
        if watts is None:
            watts = prior_watts
            from_prior.append("dynamic_power_w")
        elif watts > spec.tdp_w:  # a power loop the fit cannot explain: keep the file valid, say so
            notes.append(f"{name}: measured dynamic power {watts:.0f} W exceeds the TDP; the prior "
                         f"{prior_watts:.0f} W is used")
            watts = prior_watts
            from_prior.append("dynamic_power_w")
        classes[name] = CalibratedClass(
            compute_eff_frac=c.compute_eff_frac, memory_eff_frac=c.memory_eff_frac,
            half_saturation_elements=c.half_saturation_elements, launch_overhead_us=c.launch_overhead_s * 1e6,
            host_overhead_us=min(c.host_overhead_s * 1e6, 100_000.0), dynamic_power_w=watts, samples=fit.samples,
            power_samples=used, fit_error_pct=fit.fit_error_pct, mape_pct=fit.mape_pct, from_prior=from_prior)
    calibration = GpuCalibration(
        schema_version=1, kind="gpu_calibration", accelerator=acc.name,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        device=DeviceRecord(**record, state_before=DeviceState(**state_before),
                            state_after=DeviceState(**state_after)),
        settings=CalibrationSettings(dtype=dtype, tf32=tf32, quick=quick, models=list(plan.models),
                                     batches=list(plan.batches), timing_cases=len(timing), power_loops=len(power),
                                     duration_s=round(time.perf_counter() - started, 1)),
        idle_power_w=idle_w, idle_power_quiescent_w=quiet_w, host_view_us=view_s * 1e6,
        host_module_us=module_s * 1e6, host_dispatch_factor=factor, classes=classes, notes=notes)
    return CalibrationRun(calibration, plan, tuple(timing), tuple(power), tuple(skipped),
                          time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------------------------
# Measuring a model (`hwmap measure`)
# ----------------------------------------------------------------------------------------------------------------


def materialize(module: Any, torch: Any, device: Any, dtype: Any) -> Any:
    """A meta-device module on the GPU with random weights: to_empty, then each module's own initialisation.

    Parameters get N(0, 0.02) (vectors: zero) first, buffers zero (integer index buffers stay in range), then every
    submodule's ``reset_parameters`` / ``reset_running_stats`` / ``init_non_persistent_buffers`` where it has one
    (norm weights 1, BN running variance 1, timm's relative-position indices).
    """
    module.to_empty(device=device)
    with torch.no_grad():
        for param in module.parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.02)
            else:
                param.zero_()
        for buffer in module.buffers():
            buffer.zero_()
        for sub in module.modules():
            for hook in ("reset_parameters", "reset_running_stats", "init_non_persistent_buffers"):
                method = getattr(sub, hook, None)
                if callable(method):
                    try:
                        method()
                    except Exception:  # a custom init that needs arguments: the generic init stands
                        pass
    return module.to(dtype=dtype).eval()


@dataclass(frozen=True)
class ModuleTime:
    module: str
    measured_s: float  # GPU kernel time from torch.profiler, per inference
    estimated_s: float  # hwmap's kernel time for the module's layers

    @property
    def error_pct(self) -> float | None:
        return 100 * (self.estimated_s / self.measured_s - 1) if self.measured_s > 0 else None

    def to_dict(self) -> dict:
        return {"module": self.module, "measured_ms": self.measured_s * 1e3, "estimated_ms": self.estimated_s * 1e3,
                "error_pct": self.error_pct}


@dataclass(frozen=True)
class MeasureResult:
    model: str
    batch: int
    input_chw: tuple[int, int, int]
    device: dict
    accelerator: str
    calibration: str | None
    mode: str
    dtype: str
    tf32: bool
    latency_s: float  # median of CUDA-event timings, one inference from an idle queue
    latency_p10_s: float
    latency_p90_s: float
    reps: int
    energy_j: float | None  # per inference
    average_power_w: float | None
    energy_method: str | None
    estimate: GraphCost
    modules: tuple[ModuleTime, ...]
    profiled_kernel_s: float
    estimated_kernel_s: float
    state_before: dict = field(default_factory=dict)
    state_after: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def latency_error_pct(self) -> float:
        return 100 * (self.estimate.latency_ms / 1e3 / self.latency_s - 1)

    @property
    def energy_error_pct(self) -> float | None:
        if not self.energy_j:
            return None
        return 100 * (self.estimate.energy_mj / 1e3 / self.energy_j - 1)

    def to_dict(self) -> dict:
        est = self.estimate
        return {
            "model": self.model, "batch": self.batch, "input": list(self.input_chw), "device": self.device,
            "accelerator": self.accelerator, "calibration": self.calibration,
            "calibrated": bool(est.settings.get("calibrated")), "mode": self.mode, "dtype": self.dtype,
            "tf32": self.tf32,
            "latency": {"measured_ms": self.latency_s * 1e3, "p10_ms": self.latency_p10_s * 1e3,
                        "p90_ms": self.latency_p90_s * 1e3, "reps": self.reps, "estimated_ms": est.latency_ms,
                        "error_pct": self.latency_error_pct},
            "energy": {"measured_mj": None if self.energy_j is None else self.energy_j * 1e3,
                       "estimated_mj": est.energy_mj, "estimated_terms_mj": est.energy_terms_mj,
                       "error_pct": self.energy_error_pct, "average_power_w": self.average_power_w,
                       "method": self.energy_method},
            "kernels": {"profiled_ms": self.profiled_kernel_s * 1e3, "estimated_ms": self.estimated_kernel_s * 1e3,
                        "estimated_count": est.settings.get("kernels")},
            "modules": [m.to_dict() for m in self.modules],
            "state_before": self.state_before, "state_after": self.state_after, "notes": list(self.notes),
        }


def _is_cpu_event(event: Any) -> bool:
    device_type = getattr(event, "device_type", None)
    return device_type is None or str(device_type).split(".")[-1].upper() == "CPU"


def _module_children(event: Any, prefix: str) -> Iterable[Any]:
    for child in getattr(event, "cpu_children", ()) or ():
        if getattr(child, "name", "").startswith(prefix):
            yield child
        else:
            yield from _module_children(child, prefix)


def module_kernel_times(events: Iterable[Any], *, prefix: str = MODULE_PREFIX, iterations: int = 1) -> dict[str, float]:
    """Seconds of GPU kernel time per module scope (self time: nested module ranges subtracted), per iteration.

    ``events`` are torch.profiler FunctionEvents (name, device_type, device_time_total in us, cpu_children); a
    module's range is a record_function named ``prefix + scope`` opened by a forward pre-hook.
    """
    out: dict[str, float] = {}
    for event in events:
        name = getattr(event, "name", "")
        if not name.startswith(prefix) or not _is_cpu_event(event):
            continue
        total = float(getattr(event, "device_time_total", 0.0))
        nested = sum(float(getattr(c, "device_time_total", 0.0)) for c in _module_children(event, prefix))
        scope = name[len(prefix):]
        out[scope] = out.get(scope, 0.0) + max(total - nested, 0.0) / 1e6 / max(iterations, 1)
    return out


def _truncate(scope: str, depth: int | None) -> str:
    if not scope or scope == "<root>":
        return "<root>"
    if depth is None or depth <= 0:
        return scope
    return ".".join(scope.split(".")[:depth])


def _profile_modules(torch: Any, module: Any, x: Any, iterations: int) -> tuple[dict[str, float], float]:
    from torch.profiler import ProfilerActivity, profile, record_function

    stack: list[Any] = []
    handles = []

    def pre(name: str):
        def hook(_module, _args):
            ctx = record_function(MODULE_PREFIX + (name or "<root>"))
            ctx.__enter__()
            stack.append(ctx)
        return hook

    def post(_module, _args, _output):
        if stack:
            stack.pop().__exit__(None, None, None)

    for name, sub in module.named_modules():
        handles.append(sub.register_forward_pre_hook(pre(name)))
        handles.append(sub.register_forward_hook(post))
    try:
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(iterations):
                module(x)
            torch.cuda.synchronize()
    finally:
        for handle in handles:
            handle.remove()
    events = prof.events()
    per_module = module_kernel_times(events, iterations=iterations)
    kernel_total = sum(per_module.values())
    return per_module, kernel_total


def measure_model(
    model: str,
    *,
    device: str = "cuda:0",
    batch: int = 1,
    input_chw: tuple[int, int, int] | None = None,
    accel: Accelerator | str | None = None,
    calibration: GpuCalibration | str | None = None,
    mode: str = "auto",
    dtype: str = "fp16",
    tf32: bool = True,
    reps: int = 50,
    energy_s: float = 2.0,
    profile_iterations: int = 3,
    depth: int | None = 3,
    progress: Progress | None = None,
) -> MeasureResult:
    """Real latency (median CUDA-event time) and energy (NVML) of a model on a GPU, next to hwmap's estimate."""
    from hwmap.cost.gpu import estimate_gpu, gpu_timeline
    from hwmap.graph.extract import extract_graph
    from hwmap.graph.sources import build_model
    from hwmap.hardware.calibration import find_calibration, load_calibration

    progress = progress or _Silent()
    if batch < 1:
        raise ParameterError("batch", f"must be a positive integer, got {batch}")
    if mode not in MODES:
        raise ParameterError("mode", f"{mode!r}: expected one of {', '.join(MODES)}")
    if reps < 1:
        raise ParameterError("reps", f"must be >= 1, got {reps}")
    if energy_s < 0:
        raise ParameterError("energy_s", f"must be >= 0, got {energy_s}")
    torch, dev = require_cuda(device, command="measure")
    tdtype = _torch_dtype(torch, dtype)
    acc = _resolve_accel(accel, torch.cuda.get_device_name(dev))
    notes: list[str] = []
    if isinstance(calibration, str):
        calibration = load_calibration(calibration)
    elif calibration is None:
        found = find_calibration(acc)
        if found is not None:
            calibration = load_calibration(found)
            notes.append(f"calibration found beside the template: {found}")
    progress.phase("building the model and its layer graph", 3)
    built = build_model(model)
    chw = tuple(input_chw) if input_chw is not None else built.default_input_chw
    graph = extract_graph(model, input_shape=chw, batch=batch)
    progress.advance()
    estimate = estimate_gpu(graph, acc, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32)
    timeline = gpu_timeline(graph, acc, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32)
    progress.advance()
    torch.cuda.set_device(dev)
    _set_backend_flags(torch, tf32)
    module = materialize(built.module, torch, dev, tdtype)
    x = torch.randn((batch, *chw), device=dev, dtype=tdtype)
    progress.advance()

    meter = None
    energy_method = None
    try:
        meter = _open_meter(torch, dev)
        energy_method = meter.method
    except MeterError as exc:
        notes.append(f"energy not measured: {exc}")
    try:
        state_before = meter.state() if meter is not None else {}
        progress.phase("timing inferences", reps)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times: list[float] = []
        with torch.inference_mode():
            for _ in range(5):
                module(x)
            torch.cuda.synchronize()
            for _ in range(reps):
                torch.cuda.synchronize()
                start.record()
                module(x)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
                progress.advance()
        times.sort()
        latency = statistics.median(times)
        p10 = times[int(0.1 * (len(times) - 1))]
        p90 = times[int(0.9 * (len(times) - 1))]
        energy_j = power_w = None
        if meter is not None and energy_s > 0:
            iterations = max(3, math.ceil(energy_s / max(latency, 1e-6)))
            progress.phase("measuring energy", iterations)
            with torch.inference_mode():
                torch.cuda.synchronize()
                meter.start()
                for _ in range(iterations):
                    module(x)
                    torch.cuda.synchronize()
                    progress.advance()
                reading = meter.stop()
            energy_j = reading.energy_j / iterations
            power_w = reading.average_power_w
            if reading.elapsed_s < 1.0:
                notes.append(f"energy window {reading.elapsed_s:.2f} s is under 1 s: the counter is coarse")
        state_after = meter.state() if meter is not None else {}
        device_info = _device_record(torch, dev, meter)
    finally:
        if meter is not None:
            meter.close()
    progress.phase("profiling kernels per module", 1)
    per_module, kernel_total = _profile_modules(torch, module, x, profile_iterations)
    progress.advance()
    estimated: dict[str, float] = {}
    for node, seconds in zip(graph.nodes, timeline.kernel_s, strict=True):
        key = _truncate(node.scope, depth)
        estimated[key] = estimated.get(key, 0.0) + float(seconds)
    measured: dict[str, float] = {}
    for scope, seconds in per_module.items():
        key = _truncate(scope, depth)
        measured[key] = measured.get(key, 0.0) + seconds
    modules = tuple(sorted((ModuleTime(k, measured.get(k, 0.0), estimated.get(k, 0.0))
                            for k in set(measured) | set(estimated)), key=lambda m: -max(m.measured_s, m.estimated_s)))
    return MeasureResult(
        model=model, batch=batch, input_chw=chw, device=device_info, accelerator=acc.name,
        calibration=calibration.source if calibration is not None else None, mode=mode, dtype=dtype, tf32=tf32,
        latency_s=latency, latency_p10_s=p10, latency_p90_s=p90, reps=reps, energy_j=energy_j,
        average_power_w=power_w, energy_method=energy_method, estimate=estimate, modules=modules,
        profiled_kernel_s=kernel_total, estimated_kernel_s=float(timeline.kernel_s.sum()),
        state_before=state_before, state_after=state_after, notes=tuple(notes) + tuple(estimate.notes))
