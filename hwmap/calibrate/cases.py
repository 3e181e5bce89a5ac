"""What a GPU calibration measures: one BenchCase per kernel to time, and the plan of a run (pure Python).

Shapes: every distinct operator of the built-in models' layer graphs (extracted by hwmap.graph.extract at
the given batches; attention chains as fused SDPA shapes), spread over their sizes, plus a few synthetic sizes
per class so that the saturation curve is anchored at both ends. hwmap.calibrate.kernels turns a case into a
GPU kernel; hwmap.calibrate.runner times it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwmap.cost.gpu import (
    DTYPE_BYTES,
    attention_chains,
    chain_features,
    coefficients,
    dram_bytes_after_l2,
    fit_class_of,
    gpu_roofs,
    kernel_time_s,
    node_features,
)
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.gpu_schema import FIT_CLASSES
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, DataMove, Elementwise, Gemm, Reduction

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.hardware.schema import Accelerator

__all__ = ["DEFAULT_BATCHES", "DEFAULT_MODELS", "BenchCase", "CalibrationPlan", "cases_from_graph",
           "plan_calibration", "synthetic_cases"]

DEFAULT_MODELS = ("resnet50", "segformer-b2", "deit_small_patch16_224", "swin_tiny_patch4_window7_224")
DEFAULT_BATCHES = (1, 8)


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
                                   launch_overhead_s=c.launch_overhead_s,
                                   dram_bytes=dram_bytes_after_l2(case.bytes_, 0.0, roofs.l2_bytes),
                                   l2_bandwidth_bytes_per_s=roofs.l2_bandwidth_bytes_per_s))

    return predict
