"""GPU cost model: per-kernel roofline with saturation and launch overhead, a host/GPU pipeline, idle + dynamic energy.

Why a GPU model differs from the accelerator models: GPUs run dense convolutions and GEMMs on tensor cores near
their peak, while softmax, norms, depthwise convs, data movement and small kernels run far below it, and at small
batch the CPU that launches kernels is often the bottleneck. FLOP shares therefore do not predict GPU time.

Per kernel of fit class c (hwmap.hardware.gpu_schema.FIT_CLASSES; see :func:`fit_class_of`)::

    kernel_s = max(FLOPs / (roof_c x compute_eff_c x s(w)), bytes / (bandwidth x memory_eff_c)) + launch_overhead_c
    s(w)     = w / (w + half_saturation_c)        (the compute efficiency saturates with the work size)
    full_s   = max(FLOPs / (roof_c x compute_eff_c), bytes / (bandwidth x memory_eff_c))   (saturated rate)

- roof_c (x the class's sustained clock / the rated boost: :func:`sustained_clock_fracs`, the GPU Boost ceiling or
  the clock the power budget allows for that class, whichever is lower): the tensor-core peak of the dtype for
  conv_dense, conv_pointwise, conv_grouped, linear, attention_matmul and attention_fused (fp32 uses TF32 when
  ``tf32`` and the GPU has it, else the FP32 CUDA-core peak); the FP32 CUDA-core peak for every other class.
- FLOPs: 2 x MACs for GEMMs and convolutions, the Work's vector operations otherwise.
- bytes: (activation inputs + weights + outputs) x dtype bytes, all through the L2; the L2 level (:func:`l2_level`,
  :func:`dram_bytes_after_l2`): a kernel whose working set fits in the template's L2 serves its activations from
  it (inputs left by the kernels that wrote them, outputs kept for the kernels that read them), the resident share
  falling linearly from 1 at the L2's size to 0 at twice it; parameters cross DRAM once per forward. The memory
  term is then max(DRAM bytes / (bandwidth x memory_eff_c), bytes / (L2 bandwidth x memory_eff_c)). At timm's
  table batches (1024) tensors are hundreds of MB and the L2 holds almost nothing; at batch 1-64 it holds most.
  memory_eff priors are scaled by the memory technology's streaming efficiency
  (hwmap.hardware.gpu_schema.MEMORY_STREAMING_SCALE: GDDR6X x1.027, GDDR7 x0.885, set from one published table
  each and checked on a sibling card).
- w (parallel work): output elements for GEMMs/convolutions, max(input, output) elements otherwise.
  Assumes: compute efficiency saturates with the work available to fill the SMs (eff = eff_max x w / (w + w_half));
  memory-bound kernels stream at a constant efficiency, their small-size cost is the launch overhead. Both terms
  grow with the batch, so a larger batch never runs faster.

Convolution algorithm (:func:`conv_algorithm`). Assumes: for a dense 3x3 stride-1 convolution cuDNN runs whichever
of implicit GEMM (direct FLOPs, operands once) and non-fused Winograd F(2x2,3x3) (FLOPs / 2.25, activations 9x
through DRAM) is faster on the card's roofline; wide layers (compute-bound) get Winograd, narrow ones the direct
kernel. Every other convolution is an implicit GEMM.

Mixed precision (``amp=True``, :func:`amp_plan`): the model is traced in fp32 and run under torch.autocast, as
timm's benchmarks run. Assumes autocast's rules: GEMMs, convolutions and SDPA run in fp16/bf16 and cast fp32
activations and parameters (one cast kernel each, every forward); autocast's fp32 ops (layer/group norm, softmax,
pow, rsqrt, exp, sum, ...) return fp32; every other op returns the widest dtype of its inputs (an fp32 parameter
such as a layer-scale gamma or a position embedding turns the stream fp32). The residual streams of transformers
and MetaFormers are then fp32: their memory-bound norms, elementwise ops and permutes move twice the bytes.

Layouts (eager and sdpa modes, :func:`layout_copies`): a layer/group norm whose input is a permuted view (a
channels-first LayerNorm's permute of an NCHW tensor, a patch embedding's transpose) first copies it to contiguous
memory (one data-movement kernel at the norm's dtype); layouts propagate as in PyTorch eager, so only the first
channels-first norm of a ConvNeXt stream copies.

Host/GPU pipeline (PyTorch eager launches kernels asynchronously)::

    H += host_i                          (CPU dispatch: per-class operator cost, views, module calls)
    G  = max(G, H) + kernel_s            (a launch starts when both the GPU and its launch are ready)
    latency_i = increase of G at node i  (additive; sums to the end-to-end latency)

host_i: the class's host overhead for an operator that launches a kernel, ``host_view`` for a Python-level view
(views inside a library call, e.g. the transpose inside F.linear, cost nothing extra), ``host_module`` per
nn.Module entered. A view launches no kernel and is charged no latency itself; its host time only delays the
next launch. Unsupported operators cost nothing and are listed in the notes.

Execution modes (what runs as one kernel):

- ``eager``: every operator that does work is one kernel; attention runs as bmm + softmax + bmm.
- ``sdpa``: every attention chain (QK^T GEMM -> optional scale/bias/mask elementwise ops -> softmax -> AV GEMM,
  found through the graph's producer edges) is ONE fused kernel (FlashAttention / memory-efficient SDPA, class
  attention_fused) that also absorbs the elementwise ops on the scores and, for chains that came from
  F.scaled_dot_product_attention, the scaling of q and k; everything else as eager.
- ``auto``: fused only where the model itself called F.scaled_dot_product_attention (the trace shows torch's SDPA
  decomposition, aten._safe_softmax, or the qk/softmax/av parts of a fused-attention lowering), eager elsewhere:
  what PyTorch eager really runs. ``hwmap measure`` uses it.
- In every mode a chain fuses only if its q/k/v are 4-D (batch, heads, sequence, head dim): PyTorch's fused SDPA
  kernels (flash, memory-efficient, cuDNN) refuse any other rank (``check_tensor_shapes`` in
  aten/src/ATen/native/transformers/sdp_utils_cpp.h) and SDPA runs its math path, the chain's kernels one by one
  (Twins-SVT's locally-grouped attention passes 5-D windows). Assumes: those kernels follow autocast's rules as an
  explicit attention does (PyTorch >= 2.5's math path computes fp16 inputs in fp32 instead: not modelled).
- ``compiled`` (torch.compile, Inductor; hwmap.graph.fusion's ``compiled`` policy): attention chains fused as
  in sdpa; convolutions (depthwise included), GEMMs and fused attention are library kernels (cuDNN, cuBLAS,
  FlashAttention) that take no epilogue; an activation, elementwise, batch-norm, layer/group/RMS-norm or
  data-movement operator one of whose inputs comes from the generated (Triton) kernel launched just before it is
  fused into that kernel, and after a library kernel starts a new one. A fused operator launches nothing and
  costs no host time; the kernel reads its members' inputs from outside it and writes the outputs that an
  operator outside it reads (or nothing reads: the graph's output); an output read only inside the kernel is never
  written (:func:`_write_fused_outputs`). Views and module calls
  cost no host time (compiled away); each remaining kernel keeps its class's host overhead.
  Convolutions run channels-last where Inductor's layout rule chooses it (:func:`inductor_channels_last`): an
  ungrouped one (1x1 or spatial) is then an NHWC implicit GEMM, a kernel of class ``linear``
  (:func:`channels_last_fit_class`); a grouped one takes Inductor's measured channels-last ratio
  (:func:`channels_last_features`); a depthwise one keeps its eager time.

Energy: idle power x latency_i (term "idle") + dynamic power of the class x full_s (term "dynamic"). Assumes:
dynamic energy is proportional to the work (a kernel too small to fill the GPU runs longer, not hotter per
operation); idle power is the power with a context open and clocks up.

Coefficients come from a calibration file (``hwmap calibrate``) or, without one, from the template's documented
priors; the result says which ("calibrated" in settings, and a note when uncalibrated).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from hwmap.cost.layers import layer_arrays
from hwmap.cost.result import GraphCost, layer_costs
from hwmap.errors import HwmapError, TemplateError
from hwmap.graph.fusion import plan_fusion, readers
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.gpu_schema import COEFFICIENT_BOUNDS, FIT_CLASSES, GpuSpec, template_for_device_name
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Conv, DataMove, Elementwise, Gemm, Reduction, Unsupported, Zero

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.hardware.calibration import GpuCalibration
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "DTYPE_BYTES",
    "MODES",
    "AmpPlan",
    "AttentionChain",
    "ClassCoefficients",
    "GpuCoefficients",
    "GpuRoofs",
    "GpuTimeline",
    "NodeFeatures",
    "amp_plan",
    "attention_chains",
    "chain_features",
    "coefficients",
    "estimate_gpu",
    "fit_class_of",
    "full_rate_time_s",
    "gpu_roofs",
    "gpu_timeline",
    "kernel_time_s",
    "layout_copies",
    "mac_rates",
    "node_features",
    "saturation",
    "sustained_clock_fracs",
    "template_for_device_name",
]

from hwmap.vocabulary import GPU_DTYPES, GPU_MODES as MODES  # noqa: E402, I001 (the one lists: hwmap.vocabulary)
Mode = Literal[MODES]  # type: ignore[valid-type]
GpuDtype = Literal[GPU_DTYPES]  # type: ignore[valid-type]
DTYPE_BYTES: dict[str, int] = {"fp16": 2, "bf16": 2, "fp32": 4, "fp8": 1, "int8": 1}
TENSOR_CLASSES = frozenset({"conv_dense", "conv_pointwise", "conv_grouped", "linear", "attention_matmul",
                            "attention_fused"})
# classes whose FLOPs are 2 x multiply-accumulates (the rest count vector operations)
MAC_CLASSES = TENSOR_CLASSES | {"conv_depthwise"}

_CLASS_BY_OPCLASS: dict[OpClass, str | None] = {
    OpClass.CONV_DENSE: "conv_dense",
    OpClass.CONV_POINTWISE: "conv_pointwise",
    OpClass.CONV_DEPTHWISE: "conv_depthwise",
    OpClass.CONV_GROUPED: "conv_grouped",
    OpClass.LINEAR: "linear",
    OpClass.LINEAR_ATTENTION: "linear",
    OpClass.ATTENTION_PROJECTION: "linear",
    OpClass.MATMUL: "attention_matmul",
    OpClass.ATTENTION_MATMUL: "attention_matmul",
    OpClass.ATTENTION_SOFTMAX: "attention_softmax",
    OpClass.ACTIVATION: "activation",
    OpClass.ELEMENTWISE: "elementwise",
    OpClass.POOL_RESIZE: "pooling_resize",
    OpClass.DATA_MOVEMENT: "data_movement",
}
_CLASS_BY_WORK = {"gemm": "linear", "elementwise": "elementwise", "reduction": "normalization",
                  "datamove": "data_movement"}

# Views that happen inside one library call (C++), not as a Python statement: no host cost of their own.
_INTERNAL_VIEW_OPS = frozenset({
    "aten.t", "aten.expand", "aten._unsafe_view", "aten.alias", "aten.empty", "aten.empty_like",
    "aten.new_empty", "aten.detach", "aten.lift_fresh", "aten.empty_strided", "aten._reshape_alias",
    "aten.as_strided",
})
# torch.nn modules whose forward is one functional call: views traced inside them are internal to that call.
_BUILTIN_LEAF_MODULES = frozenset({
    "Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LayerNorm",
    "GroupNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GELU", "ReLU", "ReLU6", "SiLU", "Softmax",
    "Dropout", "Identity", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample", "Hardswish", "Sigmoid",
    "Tanh", "LeakyReLU", "Mish",
})


# ----------------------------------------------------------------------------------------------------------------
# Formulas (pure, vectorised: the calibration fit calls the same functions)
# ----------------------------------------------------------------------------------------------------------------


def _all_scalars(*values) -> bool:
    return all(type(v) in (float, int) for v in values)


def saturation(elements, half_saturation_elements):
    """s(w) = w / (w + w_half), with w >= 1 (a kernel always has some work)."""
    w = np.maximum(np.asarray(elements, dtype=float), 1.0)
    return w / (w + np.asarray(half_saturation_elements, dtype=float))


def memory_time_s(bytes_, *, bandwidth_bytes_per_s, memory_eff_frac, dram_bytes=None,
                  l2_bandwidth_bytes_per_s=math.inf):
    """max(DRAM bytes / (bandwidth x memory_eff), bytes / (L2 bandwidth x memory_eff)): every operand passes the
    L2, the bytes it does not hold cross DRAM (dram_bytes None: all of them, see :func:`l2_resident_frac`)."""
    dram = bytes_ if dram_bytes is None else dram_bytes
    if _all_scalars(bytes_, dram, bandwidth_bytes_per_s, memory_eff_frac, l2_bandwidth_bytes_per_s):
        return max(dram / (bandwidth_bytes_per_s * memory_eff_frac),
                   bytes_ / (l2_bandwidth_bytes_per_s * memory_eff_frac))
    through_dram = np.asarray(dram, dtype=float) / (np.asarray(bandwidth_bytes_per_s, dtype=float) * memory_eff_frac)
    through_l2 = np.asarray(bytes_, dtype=float) / (np.asarray(l2_bandwidth_bytes_per_s, dtype=float)
                                                     * memory_eff_frac)
    return np.maximum(through_dram, through_l2)


def full_rate_time_s(flops, bytes_, *, peak_flops_per_s, bandwidth_bytes_per_s, compute_eff_frac, memory_eff_frac,
                     dram_bytes=None, l2_bandwidth_bytes_per_s=math.inf):
    """max(FLOPs / (peak x compute_eff), memory time): the kernel at its class's best rate."""
    memory = memory_time_s(bytes_, bandwidth_bytes_per_s=bandwidth_bytes_per_s, memory_eff_frac=memory_eff_frac,
                           dram_bytes=dram_bytes, l2_bandwidth_bytes_per_s=l2_bandwidth_bytes_per_s)
    if _all_scalars(flops, peak_flops_per_s, compute_eff_frac, memory):
        return max(flops / (peak_flops_per_s * compute_eff_frac), memory)
    compute = np.asarray(flops, dtype=float) / (np.asarray(peak_flops_per_s, dtype=float) * compute_eff_frac)
    return np.maximum(compute, memory)


def kernel_time_s(flops, bytes_, elements, *, peak_flops_per_s, bandwidth_bytes_per_s, compute_eff_frac,
                  memory_eff_frac, half_saturation_elements, launch_overhead_s, dram_bytes=None,
                  l2_bandwidth_bytes_per_s=math.inf):
    """max(FLOPs / (peak x compute_eff x s(w)), memory time) + launch: one kernel's GPU time."""
    memory = memory_time_s(bytes_, bandwidth_bytes_per_s=bandwidth_bytes_per_s, memory_eff_frac=memory_eff_frac,
                           dram_bytes=dram_bytes, l2_bandwidth_bytes_per_s=l2_bandwidth_bytes_per_s)
    if _all_scalars(flops, elements, peak_flops_per_s, compute_eff_frac, memory, half_saturation_elements,
                    launch_overhead_s):  # one kernel: no numpy
        w = max(float(elements), 1.0)
        sat = w / (w + half_saturation_elements)
        return max(flops / (peak_flops_per_s * compute_eff_frac * sat), memory) + launch_overhead_s
    sat = saturation(elements, half_saturation_elements)
    compute = np.asarray(flops, dtype=float) / (np.asarray(peak_flops_per_s, dtype=float) * compute_eff_frac * sat)
    return np.maximum(compute, memory) + launch_overhead_s


# The L2 level. Assumes: a kernel whose working set (every operand's bytes) fits in the L2 finds the activations
# it reads there (the kernels that wrote them just ran) and leaves its outputs there for the kernels that read
# them (PyTorch's caching allocator hands the freed blocks to the next tensors while they are still cached, so
# the dirty lines are overwritten rather than written back); parameters cross DRAM once per forward (first
# touch). The replacement policy is not documented: the resident share falls linearly from all of the working
# set at the L2's size to none at twice it (a ramp, so that time grows smoothly with the batch). Every operand
# still passes the L2: time >= bytes / (L2 bandwidth x memory_eff).
L2_TO_DRAM_BANDWIDTH_RULE = 3.0  # L2 bandwidth / DRAM bandwidth where a template gives none: the smallest published
# ratio (V100 3133 / 900 = 3.5, A100 7219 / 2039 = 3.5, H100 SXM 10138 / 3352 = 3.0: the templates' sources)


def l2_level(spec: GpuSpec) -> tuple[float, float]:
    """(L2 capacity in bytes, L2 bandwidth in B/s) of a template; (0, inf) when it gives no L2 size."""
    if spec.l2_cache_mib is None:
        return 0.0, math.inf
    dram = spec.memory.bandwidth_gb_per_s * 1e9
    bandwidth = spec.l2_bandwidth_gb_per_s * 1e9 if spec.l2_bandwidth_gb_per_s is not None else \
        L2_TO_DRAM_BANDWIDTH_RULE * dram
    return spec.l2_cache_mib * 2**20, bandwidth


def l2_resident_frac(working_set_bytes, l2_bytes: float):
    """Share of a kernel's activations served by the L2: 1 up to the L2's size, 0 from twice it, linear between."""
    if _all_scalars(working_set_bytes):
        return 0.0 if l2_bytes <= 0 else min(1.0, max(0.0, 2.0 - working_set_bytes / l2_bytes))
    w = np.asarray(working_set_bytes, dtype=float)
    return np.zeros_like(w) if l2_bytes <= 0 else np.clip(2.0 - w / l2_bytes, 0.0, 1.0)


def dram_bytes_after_l2(bytes_, parameter_bytes, l2_bytes: float):
    """The bytes of a kernel that cross DRAM: all but the L2-resident share of its non-parameter operands."""
    resident = l2_resident_frac(bytes_, l2_bytes)
    if _all_scalars(bytes_, parameter_bytes, resident):
        return bytes_ - resident * max(bytes_ - parameter_bytes, 0.0)
    b = np.asarray(bytes_, dtype=float)
    return b - resident * np.maximum(b - np.asarray(parameter_bytes, dtype=float), 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Hardware: roofs and coefficients
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuRoofs:
    tensor_flops_per_s: float  # roof of the tensor classes at this dtype
    vector_flops_per_s: float  # FP32 CUDA-core peak: roof of every other class
    bandwidth_bytes_per_s: float
    dtype: str
    tensor_label: str  # e.g. "fp16 tensor", "tf32 tensor", "fp32 CUDA cores"
    notes: tuple[str, ...] = ()
    clock_frac: Mapping[str, float] = field(default_factory=dict)  # class -> its sustained clock / the ceiling's
    l2_bytes: float = 0.0  # L2 capacity (0: the template gives none, no L2 level)
    l2_bandwidth_bytes_per_s: float = math.inf

    def peak_for(self, fit_class: str) -> float:
        """The class's roof at its sustained clock (tensor/vector roofs at the clock ceiling x its clock share)."""
        roof = self.tensor_flops_per_s if fit_class in TENSOR_CLASSES else self.vector_flops_per_s
        return roof * self.clock_frac.get(fit_class, 1.0)


def _gpu_spec(accel: Accelerator) -> GpuSpec:
    if not isinstance(accel.spec, GpuSpec):
        raise TemplateError(f"accelerator {accel.name!r} is of kind {accel.kind!r}, not 'gpu': the GPU model needs "
                            "a GPU template (accelerators/gpu/*.yaml)")
    return accel.spec


def gpu_roofs(accel: Accelerator, *, dtype: str = "fp16", tf32: bool = True) -> GpuRoofs:
    """The compute roofs and bandwidth for a dtype; fp32 without TF32 (or without TF32 hardware) -> FP32 peak."""
    spec = _gpu_spec(accel)
    if dtype not in DTYPE_BYTES:
        raise HwmapError(f"unknown GPU dtype {dtype!r}, expected one of {', '.join(DTYPE_BYTES)}")
    peak = spec.peak
    notes: list[str] = []
    if dtype == "fp32":
        if tf32 and peak.tf32_tensor_tflops is not None:
            tflops, label = peak.tf32_tensor_tflops, "tf32 tensor"
        else:
            tflops, label = peak.fp32_tflops, "fp32 CUDA cores"
            if tf32:
                notes.append(f"{accel.name} has no TF32 tensor cores: fp32 GEMMs use the FP32 CUDA-core peak")
    else:
        key = {"fp16": "fp16_tensor_tflops", "bf16": "bf16_tensor_tflops", "fp8": "fp8_tensor_tflops",
               "int8": "int8_tensor_tops"}[dtype]
        value = getattr(peak, key)
        if value is None:
            raise HwmapError(f"{accel.name} has no {dtype} tensor cores (its template gives no peak.{key}); "
                             "use fp16 or fp32")
        tflops, label = value, f"{dtype} tensor"
    clocks = sustained_clock_fracs(spec)
    ceiling = spec.priors.sustained_clock_frac
    limited = sorted(c for c, r in clocks.items() if r < ceiling - 1e-9)
    if limited:
        shown = ", ".join(f"{c} x{clocks[c]:.3f}" for c in limited if c in TENSOR_CLASSES) or \
            ", ".join(f"{c} x{clocks[c]:.3f}" for c in limited[:3])
        notes.append(f"power-limited clocks on {accel.name} ({spec.tdp_w:g} W): {shown} of the rated boost "
                     f"(ceiling x{ceiling:g}; hwmap.cost.gpu.sustained_clock_fracs)")
    elif ceiling != 1.0:
        notes.append(f"compute roofs x {ceiling:g}: {accel.name} sustains clocks above its rated boost (template "
                     "prior, within its power budget)")
    l2_bytes, l2_bandwidth = l2_level(spec)
    if l2_bytes == 0:
        notes.append(f"{accel.name} states no L2 size (l2_cache_mib): every operand crosses DRAM")
    return GpuRoofs(tensor_flops_per_s=tflops * 1e12 * ceiling, vector_flops_per_s=peak.fp32_tflops * 1e12 * ceiling,
                    bandwidth_bytes_per_s=spec.memory.bandwidth_gb_per_s * 1e9, dtype=dtype, tensor_label=label,
                    notes=tuple(notes), clock_frac={c: r / ceiling for c, r in clocks.items()},
                    l2_bytes=l2_bytes, l2_bandwidth_bytes_per_s=l2_bandwidth)


# Dynamic power ~ C V^2 f with the voltage rising about linearly with the clock over the boost range: ~ f^3.
DYNAMIC_POWER_CLOCK_EXPONENT = 3.0


def sustained_clock_fracs(spec: GpuSpec) -> dict[str, float]:
    """Per fit class, the sustained SM clock / the rated boost clock: the ceiling, or the clock at which a
    saturated kernel of the class draws the card's TDP, whichever is lower.

    Assumes: a saturated kernel of class c draws idle + D_c x r^3 at clock ratio r (DYNAMIC_POWER_CLOCK_EXPONENT),
    with D_c = dynamic_power_frac_c x (P_chip - idle) x (f_rated / f_chip)^3 the dynamic power at the rated clock;
    (P_chip, f_chip) is the chip's power at a known clock (priors.chip_power: a power-capped card's uncapped
    sibling), by default (TDP, rated boost). So r_c = min(ceiling, ((TDP - idle) / D_c)^(1/3)): a card whose
    rated clock needs more than its TDP (RTX PRO 6000 Max-Q: the 600 W chip capped at 300 W) runs compute-heavy
    kernels below it, and a GeForce card's GPU Boost headroom is spent only as far as the budget allows.
    """
    priors = spec.priors
    ceiling = priors.sustained_clock_frac
    budget_w = max(spec.tdp_w - priors.idle_power_w, 0.0)
    if priors.chip_power is not None:
        chip_w, chip_mhz = priors.chip_power.power_w, priors.chip_power.clock_mhz
    else:
        chip_w, chip_mhz = spec.tdp_w, spec.boost_clock_mhz
    scale = max(chip_w - priors.idle_power_w, 0.0) * (spec.boost_clock_mhz / chip_mhz) ** DYNAMIC_POWER_CLOCK_EXPONENT
    out = {}
    for name in FIT_CLASSES:
        dynamic_w = priors.classes.get(name).dynamic_power_frac * scale
        allowed = (budget_w / dynamic_w) ** (1 / DYNAMIC_POWER_CLOCK_EXPONENT) if dynamic_w > 0 else ceiling
        out[name] = min(ceiling, allowed)
    return out


@dataclass(frozen=True)
class ClassCoefficients:
    compute_eff_frac: float
    memory_eff_frac: float
    half_saturation_elements: float
    launch_overhead_s: float
    host_overhead_s: float
    dynamic_power_w: float


@dataclass(frozen=True)
class GpuCoefficients:
    """Everything the model needs besides the graph and the roofs: per class, idle power, host overheads."""

    classes: Mapping[str, ClassCoefficients]
    idle_power_w: float
    host_view_s: float
    host_module_s: float
    calibrated: bool
    calibration_source: str | None = None
    notes: tuple[str, ...] = ()


def _prior_coefficients(spec: GpuSpec) -> dict[str, ClassCoefficients]:
    """The template's class priors; memory_eff scaled by the memory technology's streaming scale
    (hwmap.hardware.gpu_schema.MEMORY_STREAMING_SCALE), within the physical bound."""
    dynamic_w = max(spec.tdp_w - spec.priors.idle_power_w, 0.0)
    scale = spec.memory.streaming_scale
    memory_eff_max = COEFFICIENT_BOUNDS["memory_eff_frac"][1]
    out = {}
    for name in FIT_CLASSES:
        p = spec.priors.classes.get(name)
        memory_eff = min(p.memory_eff_frac * scale, memory_eff_max) if scale != 1.0 else p.memory_eff_frac
        out[name] = ClassCoefficients(p.compute_eff_frac, memory_eff, p.half_saturation_elements,
                                      p.launch_overhead_us * 1e-6, p.host_overhead_us * 1e-6,
                                      p.dynamic_power_frac * dynamic_w)
    return out


def coefficients(accel: Accelerator, calibration: GpuCalibration | None = None) -> GpuCoefficients:
    """The template's priors, replaced class by class by a calibration's fitted values when one is given."""
    spec = _gpu_spec(accel)
    priors = _prior_coefficients(spec)
    if calibration is None:
        scale = spec.memory.streaming_scale
        notes = (f"memory_eff priors x{scale:g} for {spec.memory.technology} memory (streaming efficiency by "
                 "technology: hwmap.hardware.gpu_schema.MEMORY_STREAMING_SCALE)",) if scale != 1.0 else ()
        return GpuCoefficients(priors, spec.priors.idle_power_w, spec.priors.host_view_us * 1e-6,
                               spec.priors.host_module_us * 1e-6, calibrated=False, notes=notes)
    base = accel.name.split("[", 1)[0]
    if calibration.template_name != base:
        where = f" ({calibration.source})" if calibration.source else ""
        raise HwmapError(f"the calibration{where} was fitted against template {calibration.accelerator!r}, not "
                         f"{accel.name!r}: calibrate this GPU with `hwmap calibrate --accel {base}`")
    classes: dict[str, ClassCoefficients] = {}
    missing = []
    clamped: list[str] = []

    def clamp(label: str, value: float) -> float:
        low, high = COEFFICIENT_BOUNDS[label.rsplit(".", 1)[-1]]
        if low <= value <= high:
            return value
        bounded = min(max(value, low), high)
        clamped.append(f"{label} {value:g} -> {bounded:g}")
        return bounded

    for name in FIT_CLASSES:
        fitted = calibration.classes.get(name)
        if fitted is None:
            classes[name] = priors[name]
            missing.append(name)
            continue
        classes[name] = ClassCoefficients(
            clamp(f"{name}.compute_eff_frac", fitted.compute_eff_frac),
            clamp(f"{name}.memory_eff_frac", fitted.memory_eff_frac),
            clamp(f"{name}.half_saturation_elements", fitted.half_saturation_elements),
            clamp(f"{name}.launch_overhead_us", fitted.launch_overhead_us) * 1e-6,
            clamp(f"{name}.host_overhead_us", fitted.host_overhead_us) * 1e-6, fitted.dynamic_power_w)
    notes = [f"calibration has no fit for {', '.join(missing)}: template priors used for them"] if missing else []
    view_us, module_us = clamp("host_view_us", calibration.host_view_us), clamp("host_module_us",
                                                                                calibration.host_module_us)
    if clamped:
        notes.append("calibration coefficients outside the physical bounds (hwmap.hardware.gpu_schema."
                      "COEFFICIENT_BOUNDS) were clamped: " + "; ".join(clamped))
    return GpuCoefficients(classes, calibration.idle_power_w, view_us * 1e-6, module_us * 1e-6, calibrated=True,
                           calibration_source=calibration.source, notes=tuple(notes))


# ----------------------------------------------------------------------------------------------------------------
# Graph -> per-node features
# ----------------------------------------------------------------------------------------------------------------


def _op_base(op: str) -> str:
    """'aten.add.Tensor' -> 'aten.add'."""
    parts = op.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else op


def fit_class_of(node: Node) -> str | None:
    """The GPU fit class of a node; None for views (Zero work) and unsupported operators."""
    work = node.work
    if isinstance(work, (Zero, Unsupported)):
        return None
    if isinstance(work, Conv):
        if work.is_depthwise:
            return "conv_depthwise"
        if work.groups > 1:
            return "conv_grouped"
        return "conv_pointwise" if work.is_pointwise else "conv_dense"
    if "softmax" in node.op:
        return "attention_softmax"
    if node.op_class is OpClass.NORM:
        return "batch_norm" if isinstance(work, Elementwise) else "normalization"
    cls = _CLASS_BY_OPCLASS.get(node.op_class)
    if cls is not None:
        return cls
    return _CLASS_BY_WORK.get(work.kind)


@dataclass(frozen=True, slots=True)
class NodeFeatures:
    flops: float
    bytes_: float
    elements: float  # parallel work w of the saturation curve


def node_features(node: Node, dtype: str = "fp16") -> NodeFeatures:
    """FLOPs, DRAM bytes (at the GPU dtype) and parallel work of one node (see the module docstring)."""
    size = DTYPE_BYTES[dtype]
    work = node.work
    if isinstance(work, (Zero, Unsupported)):
        return NodeFeatures(0.0, 0.0, 0.0)
    inputs = sum(t.numel for t in node.inputs if not t.is_weight)
    weights = sum(t.numel for t in node.inputs if t.is_weight)
    outputs = sum(t.numel for t in node.outputs)
    if isinstance(work, DataMove):
        outputs = work.elements
    if isinstance(work, (Gemm, Conv)):
        gemm = work.gemm if isinstance(work, Conv) else work
        if node.part:  # a step of a fused lowering: the node's tensors are the call's, use the GEMM's own operands
            inputs, weights = gemm.batch * gemm.m * gemm.k, gemm.batch * gemm.k * gemm.n
            outputs = gemm.batch * gemm.m * gemm.n
        return NodeFeatures(2.0 * work.macs, float(inputs + weights + outputs) * size,
                            float(gemm.batch * gemm.m * gemm.n))
    if isinstance(work, Reduction) and node.part:
        inputs, weights, outputs = work.elements_in, 0, work.elements_out
    return NodeFeatures(float(work.vector_ops), float(inputs + weights + outputs) * size,
                        float(max(inputs, outputs)))


# ----------------------------------------------------------------------------------------------------------------
# Automatic mixed precision (torch.autocast): which tensors are fp16 and which fp32, and the casts it launches
# ----------------------------------------------------------------------------------------------------------------

# torch.autocast's CUDA op lists (torch.amp documentation, "CUDA Ops that can autocast to float32"), as the aten
# operators the trace records: they run in fp32 and return fp32 whatever their input.
_AMP_FP32_OPS = frozenset({
    "aten.native_layer_norm", "aten.native_group_norm", "aten.layer_norm", "aten.group_norm", "aten._softmax",
    "aten._safe_softmax", "aten._log_softmax", "aten.softmax", "aten.log_softmax", "aten.pow", "aten.rsqrt",
    "aten.exp", "aten.expm1", "aten.log", "aten.log1p", "aten.sum", "aten.cumsum", "aten.prod", "aten.norm",
    "aten.linalg_vector_norm", "aten.reciprocal", "aten.softplus", "aten.erfinv", "aten.acos", "aten.asin",
    "aten.cosh", "aten.sinh", "aten.tan",
})


@dataclass(frozen=True)
class AmpPlan:
    """Per node: its features with every tensor at the dtype autocast gives it, and the casts autocast launches.

    casts[p]: element counts of the cast kernels launched when node p is dispatched (an fp32 activation or
    parameter going into an fp16 op, or an fp16 activation going into an fp32 op).
    """

    features: tuple[NodeFeatures, ...]
    output_bytes: tuple[int, ...]  # bytes per output element
    casts: Mapping[int, tuple[int, ...]]
    parameter_casts: Mapping[int, tuple[bool, ...]] = field(default_factory=dict)  # casts[p][i] reads a parameter


def amp_plan(graph: LayerGraph, *, low_bytes: int = 2) -> AmpPlan:
    """The dtypes torch.autocast (fp16/bf16) gives every tensor of a graph traced in fp32.

    Assumes (autocast's rules): GEMMs, convolutions and SDPA run in fp16 (fp32 inputs and parameters are cast,
    one kernel each, every forward: autocast's cast cache lives only as long as the autocast context); the ops of
    autocast's fp32 list (layer/group norm, softmax, pow, rsqrt, exp, sum, ...) cast fp16 inputs to fp32 and
    return fp32; every other op returns the widest dtype of its inputs, fp32 parameters included (a layer-scale
    gamma or a position embedding turns an fp16 stream into fp32: the residual stream of most transformers and
    MetaFormers then stays fp32); batch norm returns its input's dtype (cuDNN takes fp32 statistics). The
    network input is fp32 (timm's benchmark feeds fp32 images to an autocast model).
    """
    nodes = graph.nodes
    pos = {n.index: p for p, n in enumerate(nodes)}
    out_bytes: list[int] = []
    feats: list[NodeFeatures] = []
    casts: dict[int, tuple[int, ...]] = {}
    parameter_casts: dict[int, tuple[bool, ...]] = {}

    def size_of(tensor) -> int:
        source = tensor.source
        if source.isdigit() and int(source) in pos:
            return out_bytes[pos[int(source)]]
        return 4  # parameters, buffers, the fp32 network input, constants

    for p, node in enumerate(nodes):
        work = node.work
        cls = fit_class_of(node)
        base = _op_base(node.op)
        in_sizes = [size_of(t) for t in node.inputs]
        node_casts: list[int] = []
        node_parameter_casts: list[bool] = []
        if isinstance(work, (Zero, Unsupported)) or cls is None:
            out = in_sizes[0] if in_sizes else 4
            if isinstance(work, Zero) or cls is None:
                out_bytes.append(out)
                feats.append(NodeFeatures(0.0, 0.0, 0.0))
                continue
        if isinstance(work, (Gemm, Conv)):
            out = low_bytes
            cast = [t for t, b in zip(node.inputs, in_sizes, strict=True) if b != low_bytes]
            node_casts, node_parameter_casts = [t.numel for t in cast], [t.is_weight for t in cast]
            sizes = [low_bytes] * len(node.inputs)
        elif base in _AMP_FP32_OPS:
            out = 4
            node_casts = [t.numel for t, b in zip(node.inputs, in_sizes, strict=True)
                          if b != 4 and not t.is_weight]
            node_parameter_casts = [False] * len(node_casts)
            sizes = [4] * len(node.inputs)
        elif cls == "batch_norm":
            out = in_sizes[0] if in_sizes else 4
            sizes = in_sizes
        else:
            wide = [b for t, b in zip(node.inputs, in_sizes, strict=True) if len(t.shape) > 0]
            out = max(wide) if wide else (in_sizes[0] if in_sizes else 4)
            sizes = in_sizes
        out_bytes.append(out)
        if node_casts:
            casts[p] = tuple(node_casts)
            parameter_casts[p] = tuple(node_parameter_casts)
        feats.append(_features_at_sizes(node, sizes, out))
    return AmpPlan(tuple(feats), tuple(out_bytes), casts, parameter_casts)


def _features_at_sizes(node: Node, in_sizes: Sequence[int], out_size: int) -> NodeFeatures:
    """node_features with each input at its own element size and the outputs at out_size."""
    base = node_features(node, "fp32")  # FLOPs and parallel work do not depend on the dtype
    work = node.work
    if node.part and isinstance(work, (Gemm, Conv, Reduction)):  # a step of a fused lowering: uniform size
        return NodeFeatures(base.flops, base.bytes_ / 4 * out_size, base.elements)
    inputs = sum(t.numel * b for t, b in zip(node.inputs, in_sizes, strict=True))
    outputs = (work.elements if isinstance(work, DataMove) else sum(t.numel for t in node.outputs)) * out_size
    return NodeFeatures(base.flops, float(inputs + outputs), base.elements)


# ----------------------------------------------------------------------------------------------------------------
# Attention chains
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionChain:
    """QK^T -> [elementwise on scores] -> softmax -> AV, as positions in graph.nodes."""

    qk: int
    softmax: int
    av: int
    members: tuple[int, ...]  # every position the fused kernel replaces (qk, softmax, av, absorbed ops)
    sdpa_origin: bool  # the model called F.scaled_dot_product_attention (not an explicit matmul/softmax)
    batch: int  # batch x heads
    q_len: int
    kv_len: int
    head_dim: int
    v_dim: int
    four_d: bool = True  # scores (so q, k, v) are 4-D: a fused SDPA kernel can run it (module docstring)

    @property
    def macs(self) -> int:
        return self.batch * self.q_len * self.kv_len * (self.head_dim + self.v_dim)


def chain_features(chain: AttentionChain, dtype: str = "fp16") -> NodeFeatures:
    """A fused attention kernel: FLOPs of both GEMMs, bytes of q, k, v and the output, parallel work = output."""
    c = chain
    bytes_ = c.batch * (c.q_len * c.head_dim + c.kv_len * c.head_dim + c.kv_len * c.v_dim + c.q_len * c.v_dim)
    return NodeFeatures(2.0 * c.macs, float(bytes_ * DTYPE_BYTES[dtype]), float(c.batch * c.q_len * c.v_dim))


def _is_attention_gemm(node: Node) -> bool:
    return isinstance(node.work, Gemm) and node.op_class in (OpClass.ATTENTION_MATMUL, OpClass.MATMUL)


class _Edges:
    """Producer/consumer positions of a graph (views resolved through)."""

    def __init__(self, graph: LayerGraph) -> None:
        self.nodes = graph.nodes
        self.pos = {n.index: p for p, n in enumerate(graph.nodes)}
        self.preds = [[self.pos[i] for i in n.predecessors if i in self.pos] for n in graph.nodes]
        self.consumers: list[list[int]] = [[] for _ in graph.nodes]
        for p, preds in enumerate(self.preds):
            for q in preds:
                self.consumers[q].append(p)

    def resolve(self, p: int) -> int:
        """Follow views back to the operator that produced the data."""
        seen = 0
        while isinstance(self.nodes[p].work, Zero) and self.preds[p] and seen < 64:
            p = self.preds[p][0]
            seen += 1
        return p

    def activation_preds(self, p: int) -> list[int]:
        """Resolved producers of p's activation inputs."""
        return [self.resolve(q) for q in self.preds[p]]

    def output_numel(self, p: int) -> int:
        return sum(t.numel for t in self.nodes[p].outputs)


def attention_chains(graph: LayerGraph) -> tuple[AttentionChain, ...]:
    """Every QK^T -> softmax -> AV chain of a graph (see the module docstring for what each mode fuses)."""
    nodes = graph.nodes
    edges = _Edges(graph)
    used: set[int] = set()
    chains: list[AttentionChain] = []
    # Fused-attention lowerings: consecutive qk / softmax / av parts.
    for p in range(len(nodes) - 2):
        if (nodes[p].part, nodes[p + 1].part, nodes[p + 2].part) == ("qk", "softmax", "av"):
            qk, av = nodes[p].work, nodes[p + 2].work
            if isinstance(qk, Gemm) and isinstance(av, Gemm):
                chains.append(AttentionChain(p, p + 1, p + 2, (p, p + 1, p + 2), True, qk.batch, qk.m, qk.n,
                                             qk.k, av.n))
                used.update((p, p + 1, p + 2))
    for s, node in enumerate(nodes):
        if s in used or node.part or fit_class_of(node) != "attention_softmax":
            continue
        absorbed: list[int] = []
        preds = edges.activation_preds(s)
        j = preds[0] if preds else None
        steps = 0
        while j is not None and isinstance(nodes[j].work, Elementwise) and steps < 4 and j not in used:
            absorbed.append(j)
            candidates = edges.activation_preds(j)
            j = max(candidates, key=edges.output_numel) if candidates else None
            steps += 1
        if j is None or j in used or not _is_attention_gemm(nodes[j]):
            continue
        qk = j
        av = _first_consumer_gemm(edges, s)
        if av is None or av in used:
            continue
        sdpa_origin = "_safe_softmax" in node.op
        if sdpa_origin:  # torch's SDPA decomposition scales and copies q, k, v before the GEMMs: all in the kernel
            absorbed += _sdpa_operand_ops(edges, (qk, av), nodes[qk].scope, used)
        qw, aw = nodes[qk].work, nodes[av].work
        assert isinstance(qw, Gemm) and isinstance(aw, Gemm)
        members = tuple(sorted({qk, s, av, *absorbed}))
        used.update(members)
        four_d = not node.outputs or len(node.outputs[0].shape) == 4  # the softmax's scores have q's rank
        chains.append(AttentionChain(qk, s, av, members, sdpa_origin, qw.batch, qw.m, qw.n, qw.k, aw.n, four_d))
    return tuple(sorted(chains, key=lambda c: c.av))


def _sdpa_operand_ops(edges: _Edges, gemms: tuple[int, ...], scope: str, used: set[int]) -> list[int]:
    """Scalings and copies of q, k and v (same module scope, one input each) that feed the chain's GEMMs."""
    found: list[int] = []
    stack = [q for g in gemms for q in edges.preds[g]]
    seen: set[int] = set()
    while stack:
        q = stack.pop()
        if q in seen or q in used:
            continue
        seen.add(q)
        node = edges.nodes[q]
        if node.scope != scope:
            continue
        if isinstance(node.work, Zero):
            stack.extend(edges.preds[q])
        elif isinstance(node.work, (Elementwise, DataMove)) and len(edges.preds[q]) == 1:
            found.append(q)
            stack.extend(edges.preds[q])
    return found


def _first_consumer_gemm(edges: _Edges, start: int) -> int | None:
    frontier, seen = [start], {start}
    for _ in range(6):
        nxt = []
        for p in frontier:
            for c in edges.consumers[p]:
                if c in seen:
                    continue
                seen.add(c)
                if _is_attention_gemm(edges.nodes[c]):
                    return c
                if isinstance(edges.nodes[c].work, Zero):
                    nxt.append(c)
        frontier = nxt
    return None


# ----------------------------------------------------------------------------------------------------------------
# Timeline
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Launch:
    position: int  # where the host issues it
    fit_class: str
    flops: float
    bytes_: float
    elements: float
    members: list[int]
    weights: list[float]  # share of the launch's time per member (normalised later)
    extra_full_s: float = 0.0  # fused pointwise work added in compiled mode
    extra_dynamic_j: float = 0.0
    extra_bytes: float = 0.0
    extras: list[tuple[str, float, float]] = field(default_factory=list)  # fused members: (class, FLOPs, bytes)
    parameter_bytes: float = 0.0  # operands read straight from the model's parameters (never L2-resident)
    dram_bytes: float | None = None  # bytes_ less the L2-resident activations (None: not yet set, all of them)

    @property
    def dram(self) -> float:
        return self.bytes_ if self.dram_bytes is None else self.dram_bytes


@dataclass(frozen=True)
class GpuTimeline:
    """Per-node results of the GPU model (positions as in graph.nodes) and what produced them."""

    fit_classes: tuple[str | None, ...]
    launches: np.ndarray  # int: kernels launched at this node
    host_s: np.ndarray  # CPU time charged at this node
    kernel_s: np.ndarray  # GPU kernel time attributed to this node
    full_rate_s: np.ndarray  # kernel work at the class's saturated rate (drives dynamic energy)
    latency_s: np.ndarray  # increase of the end-to-end latency at this node (sums to total_latency_s)
    dram_bytes: np.ndarray
    idle_energy_j: np.ndarray
    dynamic_energy_j: np.ndarray
    mode: str
    dtype: str
    tf32: bool
    roofs: GpuRoofs
    coefficients: GpuCoefficients
    fused_attention: int
    fused_pointwise: int
    notes: tuple[str, ...] = field(default=())
    amp: bool = False
    algorithm_macs: float = 0.0  # multiplications the kernels really run (Winograd: nominal / 2.25)

    @property
    def total_latency_s(self) -> float:
        return float(self.latency_s.sum())

    @property
    def total_energy_j(self) -> float:
        return float(self.idle_energy_j.sum() + self.dynamic_energy_j.sum())

    @property
    def kernels(self) -> int:
        return int(self.launches.sum())


def _cast_launches(position: int, casts: Sequence[tuple[int, bool]], full_s) -> list[_Launch]:
    """One elementwise kernel per autocast cast (fp32 <-> fp16 copy: reads 4 or 2 bytes, writes the other); casts
    are (elements, reads a parameter) pairs (a parameter is read in fp32 from DRAM)."""
    out = []
    for numel, of_parameter in casts:
        flops, bytes_ = float(numel), float(numel) * 6.0
        read_parameter = 4.0 * numel if of_parameter else 0.0
        out.append(_Launch(position, "elementwise", flops, bytes_, float(numel), [position],
                           [full_s("elementwise", flops, bytes_)], parameter_bytes=read_parameter))
    return out


# Norm kernels that need a contiguous input: PyTorch's CUDA layer/group norm call input.contiguous() inside the
# kernel's C++ code (below the dispatcher a trace sees), so a permuted input is copied first.
_CONTIGUOUS_INPUT_NORMS = frozenset({"aten.native_layer_norm", "aten.layer_norm", "aten.native_group_norm",
                                     "aten.group_norm"})
_PERMUTING_VIEWS = frozenset({"aten.permute", "aten.transpose", "aten.t", "aten.swapaxes", "aten.movedim"})


def _view_layout(view: Node, layout: str) -> str:
    """The memory layout of a view's output given its input's: "contiguous", "channels_last" (an NCHW-shaped
    tensor with NHWC strides) or "strided" (innermost dimension not unit-stride: read non-contiguously).

    Only permutes/transposes change it, judged from the shapes (a permutation that swaps equal-sized dimensions
    is not seen): NCHW -> NHWC of a contiguous tensor is strided, of a channels-last one contiguous; NHWC -> NCHW
    of a contiguous tensor is channels-last; any other permute moving the innermost dimension is strided.
    """
    if _op_base(view.op) not in _PERMUTING_VIEWS or not view.inputs or not view.outputs:
        return layout if layout != "strided" else "strided"
    before, after = view.inputs[0].shape, view.outputs[0].shape
    if len(before) < 2 or len(after) < 2 or before[-1] == after[-1]:
        return layout
    if len(before) == 4 and len(after) == 4:
        to_nhwc = after[3] == before[1] and after[1:3] == before[2:4]
        to_nchw = after[1] == before[3] and after[2:4] == before[1:3]
        if to_nhwc and layout == "channels_last":
            return "contiguous"
        if to_nchw and layout == "contiguous":
            return "channels_last"
    return "strided"


def layout_copies(graph: LayerGraph) -> dict[int, int]:
    """Position -> elements of the implicit contiguous copy an eager norm makes of its permuted input.

    Assumes: ``F.layer_norm``/``F.group_norm`` on a strided view (a channels-first LayerNorm's permute of an NCHW
    tensor; PVT/Twins/Swin patch embeddings: flatten -> transpose -> norm) copy their input to contiguous memory
    first (at::native_layer_norm and at::native_group_norm take ``X.expect_contiguous()``): one extra kernel that
    reads and writes the input, which a trace on the meta device does not record. Layouts propagate as in
    PyTorch eager: a norm's output is contiguous; its permute back to NCHW is channels-last; convolutions and
    pointwise ops keep their first activation input's channels-last layout (cuDNN and TensorIterator follow the
    input's memory format), so after a ConvNeXt stem the next channels-first LayerNorms need no copy.
    torch.compile plans layouts itself: compiled mode adds no copy.
    """
    nodes = graph.nodes
    pos = {n.index: p for p, n in enumerate(nodes)}
    layouts: list[str] = []
    out: dict[int, int] = {}

    def layout_of(tensor) -> str:
        source = tensor.source
        return layouts[pos[int(source)]] if source.isdigit() and int(source) in pos else "contiguous"

    for p, node in enumerate(nodes):
        activations = [t for t in node.inputs if not t.is_weight]
        first = layout_of(activations[0]) if activations else "contiguous"
        if isinstance(node.work, Zero):
            layouts.append(_view_layout(node, first))
            continue
        if _op_base(node.op) in _CONTIGUOUS_INPUT_NORMS:
            if first == "strided":
                out[p] = activations[0].numel
            layouts.append("contiguous")
            continue
        rank4 = bool(node.outputs) and len(node.outputs[0].shape) == 4
        layouts.append("channels_last" if first == "channels_last" and rank4 else "contiguous")
    return out


def _copy_launches(position: int, numel: int, element_bytes: int, full_s) -> list[_Launch]:
    """The contiguous copy of a norm's permuted input: one data-movement kernel reading and writing it."""
    bytes_ = 2.0 * numel * element_bytes
    return [_Launch(position, "data_movement", 0.0, bytes_, float(numel), [position],
                    [full_s("data_movement", 0.0, bytes_)])]


def _casts_outside_fused_chains(position: int, plan: AmpPlan, score_numel: Mapping[int, int]) -> tuple:
    """The autocast casts at a node as (elements, reads a parameter), less those of attention scores inside a fused
    attention kernel."""
    numels = plan.casts.get(position, ())
    casts = zip(numels, plan.parameter_casts.get(position, (False,) * len(numels)), strict=True)
    scores = score_numel.get(position)
    return tuple(c for c in casts if c[0] != scores) if scores is not None else tuple(casts)


def _scope_prefixes(scope: str) -> tuple[str, ...]:
    if not scope:
        return ()
    parts = scope.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def _module_entries(nodes: Sequence[Node]) -> np.ndarray:
    """Modules entered at each node (the root module is entered at the first node)."""
    entries = np.zeros(len(nodes))
    previous: set[str] = set()
    for p, node in enumerate(nodes):
        prefixes = _scope_prefixes(node.scope)
        entries[p] = sum(1 for s in prefixes if s not in previous) + (1 if p == 0 else 0)
        previous = set(prefixes)
    return entries


def _write_fused_outputs(launch: _Launch, edges: _Edges, read_by: Sequence[Sequence[int]], size: int, full_s,
                         coef: GpuCoefficients) -> None:
    """A compiled kernel's memory traffic: what its members read from outside it (their extras' bytes so far) and
    the outputs it writes: a member's output is written when an operator outside the kernel reads it, or nothing
    does (the graph's output); one read only inside the kernel stays in registers. The anchor's output, counted in
    launch.bytes_, is taken out when only fused members read it. Then each member's full-rate time (its share of
    the kernel) and dynamic energy. read_by: hwmap.graph.fusion.readers of the graph."""
    inside = set(launch.members)

    def written(p: int) -> bool:
        return not read_by[p] or not inside.issuperset(read_by[p])

    if not written(launch.position):
        launch.bytes_ = max(launch.bytes_ - edges.output_numel(launch.position) * size, 0.0)
    extras = []
    for member, (cls, flops, external) in zip(launch.members[-len(launch.extras):], launch.extras, strict=True):
        moved = external + (edges.output_numel(member) * size if written(member) else 0.0)
        extra = full_s(cls, flops, moved)
        launch.weights.append(extra)
        launch.extra_full_s += extra
        launch.extra_dynamic_j += coef.classes[cls].dynamic_power_w * extra
        launch.extra_bytes += moved
        extras.append((cls, flops, moved))
    launch.extras = extras


def _produced_by(edges: _Edges, tensor, members: list[int]) -> bool:
    source = tensor.source
    if not source.isdigit() or int(source) not in edges.pos:
        return False
    return edges.resolve(edges.pos[int(source)]) in members


def _is_python_view(node: Node) -> bool:
    return _op_base(node.op) not in _INTERNAL_VIEW_OPS and node.module_class not in _BUILTIN_LEAF_MODULES


# cuDNN's Winograd F(2x2, 3x3): 16 multiplies per 2x2 output tile and input channel instead of 36.
WINOGRAD_GAIN = 36 / 16
# Non-fused Winograd moves the 4x4 transformed input tiles (4x the input) and the 4x4 product tiles (4x the output)
# through DRAM, each written once and read once, besides the input read and the output write: 9x each.
WINOGRAD_ACTIVATION_TRAFFIC = 9.0


def winograd_eligible(node: Node) -> bool:
    """A dense 3x3, stride-1, undilated convolution (the layers cuDNN has Winograd kernels for)."""
    conv = node.work
    return (isinstance(conv, Conv) and not node.part and conv.groups == 1 and tuple(conv.kernel) == (3, 3)
            and tuple(conv.stride) == (1, 1) and tuple(conv.dilation) == (1, 1))


def conv_algorithm(node: Node, features: NodeFeatures, roofs: GpuRoofs, weight_bytes: float) -> NodeFeatures:
    """The features of the algorithm cuDNN runs for a convolution: direct (implicit GEMM) or Winograd.

    Assumes: for a 3x3 stride-1 convolution cuDNN picks whichever of implicit GEMM (the direct FLOPs, operands
    once) and non-fused Winograd F(2x2,3x3) (FLOPs / 2.25, activations through DRAM 9x) is faster on the roofline
    of the card's peaks (tensor roof, DRAM bandwidth). Winograd therefore wins on wide layers (compute-bound), the
    direct kernel on narrow ones (Winograd would be memory-bound): the crossover is at ~ridge x 36 / 8 channels.
    """
    if not winograd_eligible(node):
        return features
    flops_w = features.flops / WINOGRAD_GAIN
    bytes_w = WINOGRAD_ACTIVATION_TRAFFIC * (features.bytes_ - weight_bytes) + weight_bytes
    direct_s = max(features.flops / roofs.tensor_flops_per_s, features.bytes_ / roofs.bandwidth_bytes_per_s)
    winograd_s = max(flops_w / roofs.tensor_flops_per_s, bytes_w / roofs.bandwidth_bytes_per_s)
    return NodeFeatures(flops_w, bytes_w, features.elements) if winograd_s < direct_s else features


# torch.compile (Inductor) runs convolutions channels-last when its layout heuristic expects a gain
# (torch/_inductor/graph.py, GraphLowering.decide_layout_opt, PyTorch 2.1-2.14): its measured mean time of a
# channels-last convolution relative to the contiguous (NCHW) one, by convolution type ("average benchmarked
# channels last speedup / slowdown, < 1 is speedup", from torchbench's convolution inputs). Eager PyTorch runs the
# model's NCHW tensors as they come (timm's tables: nchw), so a channels-last convolution is compiled mode's alone.
# Used for Inductor's layout decision (inductor_channels_last) and for a grouped convolution's channels-last time.
CHANNELS_LAST_TIME_FRAC = {"grouped": 1.358, "small": 0.783, "in_out": 0.725, "default": 0.823}
# Inductor skips the layout change for graphs with few convolutions (>= 300 nodes per convolution).
LAYOUT_OPT_MAX_NODES_PER_CONV = 300


def inductor_conv_type(conv: Conv) -> str:
    """Inductor's class of a convolution (decide_layout_opt): grouped (groups > 1 and more than one input channel
    per group: depthwise is not grouped), small (<= 64 output and input channels per group), in_out (output
    channels at most half the per-group input channels, kernel wider than 1) or default."""
    in_per_group = conv.in_channels // conv.groups
    if conv.groups > 1 and in_per_group > 1:
        return "grouped"
    if conv.out_channels <= 64 and in_per_group <= 64:
        return "small"
    if conv.out_channels * 2 <= in_per_group and conv.kernel[0] > 1:
        return "in_out"
    return "default"


def inductor_channels_last(graph: LayerGraph) -> bool:
    """Whether torch.compile runs this graph's convolutions channels-last: Inductor's inference rule, the FLOPs of
    its convolutions weighted by CHANNELS_LAST_TIME_FRAC at most their unweighted sum."""
    convs = [node.work for node in graph.nodes if isinstance(node.work, Conv) and not node.work.transposed]
    if not convs or len(graph.nodes) >= LAYOUT_OPT_MAX_NODES_PER_CONV * len(convs):
        return False
    flops = [2.0 * c.gemm.macs for c in convs]
    weighted = sum(f * CHANNELS_LAST_TIME_FRAC[inductor_conv_type(c)] for f, c in zip(flops, convs, strict=True))
    return weighted <= sum(flops)


def channels_last_features(node: Node, features: NodeFeatures) -> NodeFeatures:
    """A grouped convolution's features when it runs channels-last: its work scaled by Inductor's measured time ratio
    for grouped convolutions (CHANNELS_LAST_TIME_FRAC["grouped"], slower; the kernel time is linear in both roofs).
    Ungrouped convolutions change class instead (:func:`channels_last_fit_class`); a depthwise one is memory-bound
    and its bytes do not depend on the layout."""
    conv = node.work
    if not isinstance(conv, Conv) or conv.transposed or conv.is_depthwise or conv.groups == 1:
        return features
    frac = CHANNELS_LAST_TIME_FRAC["grouped"]
    return NodeFeatures(features.flops * frac, features.bytes_ * frac, features.elements)


def channels_last_fit_class(node: Node, fit_class: str | None) -> str | None:
    """The fit class of a node's kernel when the graph runs channels-last: ``linear`` for an ungrouped convolution.

    Assumes: an ungrouped convolution (1x1 or spatial) on NHWC tensors is an implicit GEMM whose reduction runs
    along contiguous channels, the same tiled tensor-core kernel as a linear layer, so it runs at the linear class's
    efficiencies (its FLOPs and bytes unchanged); the convolution classes' lower priors are what eager PyTorch's
    NCHW layout costs (cuDNN's fp16 tensor-core kernels work on NHWC tiles). On timm's RTX 4090 torch.compile table
    (with library kernels taking no epilogue, hwmap.graph.fusion) Inductor's per-type ratios on spatial
    convolutions only (0.73-0.82, 1x1 convolutions unchanged) left every convolutional family too slow (median
    15.3%: ResNet/ResNeXt/RegNet +28%, DenseNet/Inception/VGG/DLA/HRNet +22%); with this rule 10.0% (+13%, +8%).
    """
    conv = node.work
    if isinstance(conv, Conv) and not conv.transposed and not conv.is_depthwise and conv.groups == 1:
        return "linear"
    return fit_class


def _memo(graph: LayerGraph, key, compute):
    """A template-independent property of a graph (fit classes, features, attention chains, fusion plan, host
    structure), computed once per graph object and kept on it (a LayerGraph is immutable; the value lives in its
    instance dict, as a cached_property's does), so that sweeping GPU templates or modes re-derives only what
    depends on the card."""
    store = graph.__dict__.setdefault("_gpu_structure", {})
    if key not in store:
        store[key] = compute()
    return store[key]


@dataclass
class _Setup:
    """What runs as which kernel and the host time per node, before the pipeline (see gpu_timeline)."""

    roofs: GpuRoofs
    coef: GpuCoefficients
    classes: tuple[str | None, ...]
    launches: list[_Launch]
    launch_at: dict[int, list[int]]
    host: np.ndarray  # every host cost charged at each node
    module_entries: np.ndarray
    python_views: np.ndarray  # 1 where a Python-level view is charged host_view
    fused_chains: tuple[AttentionChain, ...]
    fused_pointwise: int


def _class_full_rate_s(roofs: GpuRoofs, coef: GpuCoefficients, fit_class: str, flops: float, bytes_: float, *,
                       dram_bytes: float | None = None) -> float:
    """One kernel's work at its class's saturated rate (the weight of a fused member, the drive of dynamic energy);
    dram_bytes: what of bytes_ crosses DRAM past the L2 (None: all of it)."""
    c = coef.classes[fit_class]
    return float(full_rate_time_s(flops, bytes_, peak_flops_per_s=roofs.peak_for(fit_class),
                                  bandwidth_bytes_per_s=roofs.bandwidth_bytes_per_s,
                                  compute_eff_frac=c.compute_eff_frac, memory_eff_frac=c.memory_eff_frac,
                                  dram_bytes=dram_bytes, l2_bandwidth_bytes_per_s=roofs.l2_bandwidth_bytes_per_s))


def _setup(graph: LayerGraph, accel: Accelerator, *, calibration: GpuCalibration | None, mode: str, dtype: str,
           tf32: bool, amp: bool) -> _Setup:
    if mode not in MODES:
        raise HwmapError(f"unknown GPU execution mode {mode!r}, expected one of {', '.join(MODES)}")
    roofs = gpu_roofs(accel, dtype=dtype, tf32=tf32)
    coef = coefficients(accel, calibration)
    nodes = graph.nodes
    classes = _memo(graph, "classes", lambda: tuple(fit_class_of(node) for node in nodes))
    amp = bool(amp and dtype in ("fp16", "bf16"))
    plan = _memo(graph, ("amp", dtype), lambda: amp_plan(graph, low_bytes=DTYPE_BYTES[dtype])) if amp else None
    feats = list(plan.features) if plan is not None else \
        _memo(graph, ("features", dtype), lambda: [node_features(node, dtype) for node in nodes])
    size = DTYPE_BYTES[dtype]
    weight_elements = _memo(graph, "weights", lambda: [sum(t.numel for t in node.inputs if t.is_weight)
                                                       for node in nodes])
    feats = [conv_algorithm(node, f, roofs, w * size) for node, f, w in zip(nodes, feats, weight_elements,
                                                                              strict=True)]
    channels_last = mode == "compiled" and _memo(graph, "channels_last", lambda: inductor_channels_last(graph))
    if channels_last:
        feats = [channels_last_features(node, f) for node, f in zip(nodes, feats, strict=True)]

    def full_s(cls: str, flops: float, bytes_: float) -> float:
        return _class_full_rate_s(roofs, coef, cls, flops, bytes_)

    # --- which nodes run as which kernel ---------------------------------------------------------------------
    fused_chains = _fused_chains(graph, mode)
    chain_at: dict[int, AttentionChain] = {c.av: c for c in fused_chains}
    # a fused kernel never materialises its scores: no autocast casts of them (softmax in, AV-GEMM in)
    score_numel = {m: c.batch * c.q_len * c.kv_len for c in fused_chains for m in (c.softmax, c.av)}
    in_chain: set[int] = {m for c in fused_chains for m in c.members}

    # compiled mode: the shared fusion pass (hwmap.graph.fusion, policy "compiled") says which operators join
    # which kernel; attention chains are pre-formed kernels launched at their AV position
    fusion = _memo(graph, "compiled_fusion", lambda: plan_fusion(
        graph, policy="compiled", kernels=[(c.av, c.members) for c in fused_chains])) if mode == "compiled" else None
    edges = _memo(graph, "edges", lambda: _Edges(graph)) if fusion is not None else None
    copies = _memo(graph, "layout_copies", lambda: layout_copies(graph)) if mode != "compiled" else {}
    launches: list[_Launch] = []
    launch_at_anchor: dict[int, _Launch] = {}
    fused_pointwise = 0
    for p, node in enumerate(nodes):
        cls = channels_last_fit_class(node, classes[p]) if channels_last else classes[p]
        if plan is not None and edges is None:
            launches.extend(_cast_launches(p, _casts_outside_fused_chains(p, plan, score_numel), full_s))
        if p in copies:  # a norm's implicit contiguous copy (at the norm's compute dtype: fp32 under autocast)
            launches.extend(_copy_launches(p, copies[p], 4 if plan is not None else size, full_s))
        if p in chain_at:
            c = chain_at[p]
            f = chain_features(c, dtype)
            weights = [full_s(classes[m], feats[m].flops, feats[m].bytes_) if classes[m] else 0.0
                       for m in c.members]
            launches.append(_Launch(p, "attention_fused", f.flops, f.bytes_, f.elements, list(c.members), weights))
            launch_at_anchor[p] = launches[-1]
            continue
        if cls is None or p in in_chain:
            continue
        if fusion is not None and edges is not None and fusion.role(p) == "epilogue":
            group = fusion.group_of(p)
            last = launch_at_anchor.get(group.anchor) if group is not None else None
            if last is not None:
                external = sum(t.numel for t in node.inputs if not _produced_by(edges, t, last.members)) * size
                last.members.append(p)
                last.extras.append((cls, feats[p].flops, float(external)))
                fused_pointwise += 1
                continue
        f = feats[p]
        # a member's weight is its work at full rate, so fused operators share a kernel's time by their work
        launches.append(_Launch(p, cls, f.flops, f.bytes_, f.elements, [p], [full_s(cls, f.flops, f.bytes_)],
                                parameter_bytes=_parameter_bytes(node, weight_elements[p], size, amp=plan is not None,
                                                                 casts_launched=edges is None)))
        launch_at_anchor[p] = launches[-1]

    if edges is not None:
        read_by = _memo(graph, "readers", lambda: readers(graph))
        for launch in launches:
            if launch.extras:
                _write_fused_outputs(launch, edges, read_by, size, full_s, coef)
    for launch in launches:
        launch.dram_bytes = float(dram_bytes_after_l2(launch.bytes_, launch.parameter_bytes, roofs.l2_bytes))

    host, entries, views = _host_times(graph, mode, coef, fused_chains)
    launch_at: dict[int, list[int]] = {}
    for i, launch in enumerate(launches):
        launch_at.setdefault(launch.position, []).append(i)
        host[launch.position] += coef.classes[launch.fit_class].host_overhead_s
    return _Setup(roofs, coef, classes, launches, launch_at, host, entries, views, fused_chains,
                  fused_pointwise)


def _parameter_bytes(node: Node, weight_elements: int, element_bytes: int, *, amp: bool,
                     casts_launched: bool) -> float:
    """Bytes a node's kernel reads straight from the model's parameters: none for a GEMM/convolution under
    autocast where the cast kernels run (eager: it reads the fp16 copies they just wrote; compiled mode launches no
    casts, so it reads its weights at the dtype), the fp32 parameters of other ops under autocast, the weights at
    the dtype otherwise."""
    if amp and isinstance(node.work, (Gemm, Conv)):
        return 0.0 if casts_launched else float(weight_elements * element_bytes)
    return float(weight_elements * (4 if amp else element_bytes))


def _fused_chains(graph: LayerGraph, mode: str) -> tuple[AttentionChain, ...]:
    """The attention chains that run as one fused kernel in this mode: none in eager, those that came from SDPA in
    auto, every one in sdpa and compiled; in every mode only chains with 4-D q/k/v (the fused kernels' rank)."""
    chains = _memo(graph, "chains", lambda: attention_chains(graph))
    if mode == "eager":
        return ()
    if mode == "auto":
        return tuple(c for c in chains if c.sdpa_origin and c.four_d)
    return tuple(c for c in chains if c.four_d)


def _host_times(graph: LayerGraph, mode: str, coef, fused_chains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host seconds per node before its launches (module entries, Python-level views outside fused attention
    chains; nothing in compiled mode), and the module-entry and view counts behind them."""
    nodes = graph.nodes
    n = len(nodes)
    host = np.zeros(n)
    entries = np.zeros(n)
    views = np.zeros(n)
    if mode == "compiled":
        return host, entries, views
    chain_span_views: set[int] = set()
    for c in fused_chains:
        scope = nodes[c.av].scope
        chain_span_views.update(p for p in range(c.members[0], c.members[-1] + 1)
                                if isinstance(nodes[p].work, Zero) and nodes[p].scope == scope)
    entries = _memo(graph, "module_entries", lambda: _module_entries(nodes))
    host += entries * coef.host_module_s
    python_views = _memo(graph, "python_views", lambda: [p for p, node in enumerate(nodes)
                                                         if isinstance(node.work, Zero) and _is_python_view(node)])
    for p in python_views:
        if p not in chain_span_views:
            host[p] += coef.host_view_s
            views[p] = 1.0
    return host, entries, views


# ----------------------------------------------------------------------------------------------------------------
# Timeline plan: the kernels and host work as arrays, evaluated for any coefficients (the estimate and the table fit)
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePlan:
    """The kernels of one graph on one GPU (mode, dtype, amp fixed) as per-launch arrays in launch order: what does
    not depend on the coefficients (work, roofs, host work counts); :class:`PlanStack` applies coefficients."""

    model: str
    cls: np.ndarray  # int index into FIT_CLASSES, per launch
    flops: np.ndarray
    bytes_: np.ndarray
    elements: np.ndarray
    peak_flops_per_s: np.ndarray
    bandwidth_bytes_per_s: float
    views_before: np.ndarray  # Python-level views charged before each launch (since the previous one)
    modules_before: np.ndarray
    views_after: float  # after the last launch
    modules_after: float
    extra_launch: np.ndarray  # fused members: which launch they belong to
    extra_cls: np.ndarray
    extra_flops: np.ndarray
    extra_bytes: np.ndarray
    extra_peak: np.ndarray
    dram_bytes: np.ndarray | None = None  # bytes_ less the L2-resident activations (None: every byte crosses DRAM)
    l2_bandwidth_bytes_per_s: float = math.inf


@dataclass(frozen=True)
class CoefficientArrays:
    """Coefficients as arrays indexed like FIT_CLASSES (what the vectorised evaluation takes)."""

    compute_eff_frac: np.ndarray
    memory_eff_frac: np.ndarray
    half_saturation_elements: np.ndarray
    launch_overhead_s: np.ndarray
    host_overhead_s: np.ndarray
    host_view_s: float
    host_module_s: float

    @classmethod
    def from_coefficients(cls, coef: GpuCoefficients) -> CoefficientArrays:
        c = [coef.classes[name] for name in FIT_CLASSES]
        return cls(np.array([x.compute_eff_frac for x in c]), np.array([x.memory_eff_frac for x in c]),
                   np.array([x.half_saturation_elements for x in c]), np.array([x.launch_overhead_s for x in c]),
                   np.array([x.host_overhead_s for x in c]), coef.host_view_s, coef.host_module_s)


def _launch_order(setup: _Setup, n_nodes: int) -> list[int]:
    """Indices into setup.launches in the order the host issues them."""
    return [i for p in range(n_nodes) for i in setup.launch_at.get(p, ())]


def _plan_of(setup: _Setup, model: str, n_nodes: int) -> TimelinePlan:
    index = {name: i for i, name in enumerate(FIT_CLASSES)}
    launches = [setup.launches[i] for i in _launch_order(setup, n_nodes)]
    positions = np.array([launch.position for launch in launches], dtype=np.int64)
    views_cum = np.concatenate([[0.0], np.cumsum(setup.python_views)])
    mods_cum = np.concatenate([[0.0], np.cumsum(setup.module_entries)])
    # host work of views/modules at positions up to and including a launch's position, since the previous launch
    upto = positions + 1
    previous = np.concatenate([[0], upto[:-1]]) if len(upto) else np.zeros(0, dtype=np.int64)
    previous = np.minimum(previous, upto)
    views_before = views_cum[upto] - views_cum[previous] if len(upto) else np.zeros(0)
    modules_before = mods_cum[upto] - mods_cum[previous] if len(upto) else np.zeros(0)
    last = int(upto[-1]) if len(upto) else 0
    extra = [(k, index[c], f, b) for k, launch in enumerate(launches) for (c, f, b) in launch.extras]
    roofs = setup.roofs
    return TimelinePlan(
        model=model,
        cls=np.array([index[launch.fit_class] for launch in launches], dtype=np.int64),
        flops=np.array([launch.flops for launch in launches], dtype=float),
        bytes_=np.array([launch.bytes_ for launch in launches], dtype=float),
        elements=np.array([launch.elements for launch in launches], dtype=float),
        peak_flops_per_s=np.array([roofs.peak_for(launch.fit_class) for launch in launches], dtype=float),
        bandwidth_bytes_per_s=roofs.bandwidth_bytes_per_s,
        views_before=views_before, modules_before=modules_before,
        views_after=float(views_cum[-1] - views_cum[last]), modules_after=float(mods_cum[-1] - mods_cum[last]),
        extra_launch=np.array([e[0] for e in extra], dtype=np.int64),
        extra_cls=np.array([e[1] for e in extra], dtype=np.int64),
        extra_flops=np.array([e[2] for e in extra], dtype=float),
        extra_bytes=np.array([e[3] for e in extra], dtype=float),
        extra_peak=np.array([roofs.peak_for(FIT_CLASSES[e[1]]) for e in extra], dtype=float),
        dram_bytes=np.array([launch.dram for launch in launches], dtype=float),
        l2_bandwidth_bytes_per_s=roofs.l2_bandwidth_bytes_per_s,
    )


def timeline_plan(graph: LayerGraph, accel: Accelerator, *, mode: str = "auto", dtype: str = "fp16",
                  tf32: bool = True, amp: bool = False) -> TimelinePlan:
    """The plan :func:`gpu_timeline` evaluates for graph on accel (coefficients left open)."""
    setup = _setup(graph, accel, calibration=None, mode=mode, dtype=dtype, tf32=tf32, amp=amp)
    return _plan_of(setup, graph.model, len(graph.nodes))


class PlanStack:
    """Plans concatenated, evaluated in one numpy pass over every launch: the one place of the timeline formulas.

    Per launch i, ``k_i = max(FLOPs / (roof x e_c x s(w)), bytes / (bw x m_c)) + launch_c`` plus the full-rate time
    of the pointwise members fused into it; host time ``H_i`` accumulates views, module calls and each launch's host
    overhead; the GPU finishes launch i at ``G_i = max(G_{i-1}, H_i) + k_i``, i.e.
    ``G_i = S_i + max(0, max_{j<=i} (H_j - S_{j-1}))`` with ``S`` the cumulative kernel time; a plan's step time is
    ``max(G_last, H_end)``. The estimate evaluates a stack of one plan (:func:`gpu_timeline`), the table fit a stack
    of every row thousands of times (hwmap.calibrate.table).
    """

    def __init__(self, plans: Sequence[TimelinePlan]) -> None:
        if any(len(p.cls) == 0 for p in plans):
            raise HwmapError("a table row's model launches no kernel: nothing to fit")
        self.n = len(plans)
        sizes = np.array([len(p.cls) for p in plans])
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.ends = self.starts + sizes - 1
        cat = np.concatenate
        self.cls = cat([p.cls for p in plans])
        self.flops = cat([p.flops for p in plans])
        self.bytes_ = cat([p.bytes_ for p in plans])
        self.w = np.maximum(cat([p.elements for p in plans]), 1.0)
        self.peak = cat([p.peak_flops_per_s for p in plans])
        self.bw = cat([np.full(len(p.cls), p.bandwidth_bytes_per_s) for p in plans])
        self.dram = cat([p.bytes_ if p.dram_bytes is None else p.dram_bytes for p in plans])
        self.l2_bw = cat([np.full(len(p.cls), p.l2_bandwidth_bytes_per_s) for p in plans])
        self.views = cat([p.views_before for p in plans])
        self.modules = cat([p.modules_before for p in plans])
        self.views_after = np.array([p.views_after for p in plans])
        self.modules_after = np.array([p.modules_after for p in plans])
        offsets = self.starts
        self.extra_launch = cat([p.extra_launch + o for p, o in zip(plans, offsets, strict=True)])
        self.extra_cls = cat([p.extra_cls for p in plans])
        self.extra_flops = cat([p.extra_flops for p in plans])
        self.extra_bytes = cat([p.extra_bytes for p in plans])
        self.extra_peak = cat([p.extra_peak for p in plans])
        self.extra_bw = self.bw[self.extra_launch] if len(self.extra_launch) else np.zeros(0)
        self.segment = np.repeat(np.arange(self.n), sizes)

    def launch_s(self, c: CoefficientArrays) -> np.ndarray:
        """Each launch's own kernel time (its anchor's work and the launch overhead; no fused members)."""
        k = self.cls
        sat = self.w / (self.w + c.half_saturation_elements[k])
        memory = memory_time_s(self.bytes_, bandwidth_bytes_per_s=self.bw, memory_eff_frac=c.memory_eff_frac[k],
                               dram_bytes=self.dram, l2_bandwidth_bytes_per_s=self.l2_bw)
        return np.maximum(self.flops / (self.peak * c.compute_eff_frac[k] * sat), memory) + c.launch_overhead_s[k]

    def kernel_s(self, c: CoefficientArrays) -> np.ndarray:
        """Each launch's kernel time, fused pointwise members included (at their class's full rate)."""
        kernel = self.launch_s(c)
        if len(self.extra_cls):
            e = self.extra_cls
            full = np.maximum(self.extra_flops / (self.extra_peak * c.compute_eff_frac[e]),
                              self.extra_bytes / (self.extra_bw * c.memory_eff_frac[e]))
            kernel = kernel + np.bincount(self.extra_launch, weights=full, minlength=len(self.cls))
        return kernel

    def _pipeline(self, c: CoefficientArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per launch: kernel time, host time issued so far, GPU finish time without host waits, host lead over the
        GPU (H_i - S_{i-1}); per plan: host time at the end. Cumulative sums restart at each plan."""
        kernel = self.kernel_s(c)
        host_step = self.views * c.host_view_s + self.modules * c.host_module_s + c.host_overhead_s[self.cls]
        host_cum = np.cumsum(host_step)
        kern_cum = np.cumsum(kernel)
        host_base = np.concatenate([[0.0], host_cum])[self.starts]
        kern_base = np.concatenate([[0.0], kern_cum])[self.starts]
        host = host_cum - host_base[self.segment]
        finish = kern_cum - kern_base[self.segment]
        started = finish - kernel
        host_end = host[self.ends] + self.views_after * c.host_view_s + self.modules_after * c.host_module_s
        return kernel, finish, host - started, host_end

    def step_s(self, c: CoefficientArrays) -> np.ndarray:
        """Each plan's end-to-end step time under coefficients c."""
        _, finish, lead, host_end = self._pipeline(c)
        lag = np.maximum.reduceat(lead, self.starts)
        gpu_end = finish[self.ends] + np.maximum(lag, 0.0)
        return np.maximum(gpu_end, host_end)

    def launch_times_s(self, c: CoefficientArrays) -> tuple[np.ndarray, np.ndarray, float]:
        """A stack of one plan: each launch's kernel time and GPU finish time G_i (waits for the host included), and
        the host's end time (after the last launch's views and module calls)."""
        if self.n != 1:
            raise ValueError("launch_times_s evaluates a stack of one plan")
        kernel, finish, lead, host_end = self._pipeline(c)
        gpu_done = finish + np.maximum(np.maximum.accumulate(lead), 0.0)
        return kernel, gpu_done, float(host_end[0])


def predict_step_s(plan: TimelinePlan, c: CoefficientArrays) -> float:
    """The end-to-end latency of a plan under coefficients c (equals gpu_timeline's total_latency_s)."""
    if len(plan.cls) == 0:
        return float(plan.views_after * c.host_view_s + plan.modules_after * c.host_module_s)
    return float(PlanStack([plan]).step_s(c)[0])


def _shares(launch: _Launch) -> tuple[np.ndarray, np.ndarray]:
    """A launch's members and the share of its time each carries (by work at full rate; equal when none has any)."""
    weights = np.asarray(launch.weights, dtype=float)
    share = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1.0 / len(weights))
    return share, np.asarray(launch.members)


def gpu_timeline(
    graph: LayerGraph,
    accel: Accelerator,
    *,
    calibration: GpuCalibration | None = None,
    mode: Mode = "eager",
    dtype: GpuDtype = "fp16",
    tf32: bool = True,
    amp: bool | None = None,
) -> GpuTimeline:
    """Per-node host time, kernel time, latency and energy of a graph on a GPU (see the module docstring).

    amp: run under torch.autocast (see :func:`amp_plan`); None: as the calibration was fitted (its settings.amp),
    else False.
    """
    if amp is None:
        amp = bool(calibration is not None and calibration.settings.amp)
    setup = _setup(graph, accel, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32, amp=amp)
    roofs, coef, classes = setup.roofs, setup.coef, setup.classes
    n = len(graph.nodes)
    launches = [setup.launches[i] for i in _launch_order(setup, n)]

    # --- pipeline (PlanStack: the formulas the table fit evaluates), then each launch's share per member ------
    latency = np.zeros(n)
    kernel = np.zeros(n)
    full_rate = np.zeros(n)
    dynamic = np.zeros(n)
    dram = np.zeros(n)
    launched = np.zeros(n, dtype=np.int64)
    algorithm_macs = 0.0
    if launches:
        kernel_s, gpu_done_s, host_end_s = PlanStack([_plan_of(setup, graph.model, n)]).launch_times_s(
            CoefficientArrays.from_coefficients(coef))
        step_s = np.diff(gpu_done_s, prepend=0.0)  # how much later the GPU finishes because of launch i
        for launch, k, step in zip(launches, kernel_s.tolist(), step_s.tolist(), strict=True):
            c = coef.classes[launch.fit_class]
            base_full = _class_full_rate_s(roofs, coef, launch.fit_class, launch.flops, launch.bytes_,
                                           dram_bytes=launch.dram)
            share, members = _shares(launch)
            latency[members] += step * share
            kernel[members] += k * share
            full_rate[members] += (base_full + launch.extra_full_s) * share
            dynamic[members] += (c.dynamic_power_w * base_full + launch.extra_dynamic_j) * share
            dram[members] += (launch.dram + launch.extra_bytes) * share
            launched[launch.position] += 1
            if launch.fit_class in MAC_CLASSES:
                algorithm_macs += launch.flops / 2
        tail_s = host_end_s - float(gpu_done_s[-1])
        if tail_s > 0:  # the host is still dispatching views after the last kernel
            share, members = _shares(launches[-1])
            latency[members] += tail_s * share

    notes = list(roofs.notes) + list(coef.notes) + list(graph.notes)  # the graph's own (an ONNX file's folds)
    operand_bytes = sum(launch.bytes_ + launch.extra_bytes for launch in launches)
    if roofs.l2_bytes > 0 and operand_bytes > 0:
        served = 1.0 - float(dram.sum()) / operand_bytes
        notes.append(f"L2 level: {served:.0%} of the kernels' {operand_bytes / 1e9:.3g} GB of operands served by the "
                     f"{roofs.l2_bytes / 2**20:g} MiB L2 (working sets that fit; hwmap.cost.gpu.l2_level)")
    unsupported = graph.unsupported
    if unsupported:
        notes.append(f"{len(unsupported)} unsupported operators cost nothing: {graph.unsupported_summary()}")
    return GpuTimeline(
        fit_classes=classes, launches=launched, host_s=setup.host, kernel_s=kernel, full_rate_s=full_rate,
        latency_s=latency, dram_bytes=dram, idle_energy_j=latency * coef.idle_power_w, dynamic_energy_j=dynamic,
        mode=mode, dtype=dtype, tf32=tf32, roofs=roofs, coefficients=coef,
        fused_attention=len(setup.fused_chains), fused_pointwise=setup.fused_pointwise, notes=tuple(notes), amp=amp,
        algorithm_macs=algorithm_macs)


ASSUMPTIONS = (
    "Assumes: kernel time = max(FLOPs / (roof x compute_eff x s(w)), bytes / (bandwidth x memory_eff)) + launch "
    "overhead, s(w) = w / (w + w_half) with w the output elements (GEMM/conv) or max(input, output) elements",
    "Assumes: every operand crosses DRAM once per kernel, except the activations of a kernel whose working set "
    "fits in the L2 (served at L2 bandwidth; resident share 1 up to the L2 size, 0 from twice it); parameters cross "
    "DRAM once per forward",
    "Assumes: the host launches kernels asynchronously; a kernel starts when the GPU is free and its launch is "
    "dispatched (per-operator, per-view and per-module host costs)",
    "Assumes: energy = idle power x latency + class dynamic power x work time at the saturated rate",
    "Assumes: 3x3 stride-1 convolutions run as implicit GEMM or non-fused Winograd F(2x2,3x3), whichever is faster "
    "on the roofline (Winograd: FLOPs / 2.25, activations 9x through DRAM)",
    "Assumes (amp=True): torch.autocast's op lists decide each tensor's dtype; casts are kernels of their own",
    "utilisation is the nominal-MAC rate against the dtype's tensor peak (above 1 where Winograd runs fewer "
    "multiplications); settings.algorithm_utilisation is the rate of the multiplications the kernels run (<= 1)",
)


def mac_rates(nominal_macs: float, timeline: GpuTimeline) -> dict[str, float]:
    """What utilisation means on a GPU, over the end-to-end latency, against the dtype's tensor peak (MAC/s)::

        nominal_utilisation   = nominal MACs   / (peak MAC/s x latency)   (the graph's MAC count, as FLOP counters)
        algorithm_utilisation = algorithm MACs / (peak MAC/s x latency)   (the multiplications the kernels run)

    The algorithm can do fewer multiplications than the nominal MACs (Winograd F(2x2,3x3): 2.25x fewer), so the
    nominal rate may exceed 1 (up to 2.25); the algorithm's rate never does (every kernel takes at least its
    FLOPs / peak). The per-layer ``utilisation`` of a GPU result is the nominal rate of that layer's share of the
    time (the GraphCost definition, MACs / (peak MACs per cycle x cycles)): above 1 for a Winograd layer, and for a
    member of a fused kernel (fused attention) whose time is shared by work. The result guard checks
    algorithm_utilisation <= 1 and every utilisation finite and >= 0.
    """
    peak_macs_per_s = timeline.roofs.tensor_flops_per_s / 2
    busy = peak_macs_per_s * timeline.total_latency_s
    if busy <= 0:
        return {"nominal_utilisation": 0.0, "algorithm_utilisation": 0.0, "algorithm_macs": timeline.algorithm_macs}
    return {"nominal_utilisation": nominal_macs / busy, "algorithm_utilisation": timeline.algorithm_macs / busy,
            "algorithm_macs": timeline.algorithm_macs}


def estimate_gpu(
    graph: LayerGraph,
    accel: Accelerator,
    *,
    calibration: GpuCalibration | None = None,
    mode: Mode = "eager",
    dtype: GpuDtype = "fp16",
    tf32: bool = True,
    amp: bool | None = None,
) -> GraphCost:
    """Latency and energy of a layer graph on a GPU template, as a GraphCost.

    calibration: a loaded calibration (hwmap.hardware.calibration.load_calibration / find_calibration), or None
    for the template's documented priors (the result then says it is uncalibrated).
    amp: the model runs under torch.autocast at dtype (a model traced in fp32; see :func:`amp_plan`), as timm's
    benchmark tables do; False: the model itself is in dtype (``model.half()``, what ``hwmap measure`` runs);
    None: as the calibration was fitted (a calibration from an AMP table says amp), else False.
    Cycles are counted at the template's boost clock: each layer's cycles = ceil(latency_s x freq) (whole cycles),
    its latency_s the timeline's. stall_cycles are 0 (host stalls are part of the latency). Energy terms: "idle"
    and "dynamic".
    """
    timeline = gpu_timeline(graph, accel, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32, amp=amp)
    amp = timeline.amp
    spec = _gpu_spec(accel)
    freq_hz = spec.boost_clock_mhz * 1e6
    coef = timeline.coefficients
    notes = list(timeline.notes)
    if not coef.calibrated:
        notes.insert(0, f"uncalibrated: efficiencies, overheads, idle and dynamic power are the priors of template "
                        f"{accel.name!r}; run `hwmap calibrate` on the card and pass "
                        "its file as calibration for fitted values")
    settings = {
        "mode": mode, "dtype": dtype, "tf32": tf32, "amp": amp, "calibrated": coef.calibrated,
        "calibration": coef.calibration_source, "compute_roof": timeline.roofs.tensor_label,
        "compute_roof_tflops": timeline.roofs.tensor_flops_per_s / 1e12,
        "vector_roof_tflops": timeline.roofs.vector_flops_per_s / 1e12,
        "bandwidth_gb_per_s": timeline.roofs.bandwidth_bytes_per_s / 1e9, "idle_power_w": coef.idle_power_w,
        "kernels": timeline.kernels, "host_s": float(timeline.host_s.sum()),
        "kernel_s": float(timeline.kernel_s.sum()), "fused_attention": timeline.fused_attention,
        "fused_pointwise": timeline.fused_pointwise,
        **mac_rates(float(sum(node.work.macs for node in graph.nodes)), timeline),
    }
    peak_macs_per_cycle = timeline.roofs.tensor_flops_per_s / 2 / freq_hz
    layers = layer_costs(
        layer_arrays(graph).identity, freq_mhz=spec.boost_clock_mhz, peak_macs_per_cycle=peak_macs_per_cycle,
        compute_cycles=timeline.latency_s * freq_hz,  # whole cycles: ceil(latency_s x clock) per layer
        stall_cycles=np.zeros(len(graph.nodes)), latency_s=timeline.latency_s,
        energy_terms_pj={"idle": timeline.idle_energy_j * 1e12, "dynamic": timeline.dynamic_energy_j * 1e12},
        dram_bytes=timeline.dram_bytes, what=f"{graph.model} on {accel.name}")
    return GraphCost(
        model=graph.model,
        accelerator=accel.name,
        kind="gpu",
        freq_mhz=spec.boost_clock_mhz,
        peak_macs_per_cycle=peak_macs_per_cycle,
        layers=layers,
        assumptions=ASSUMPTIONS,
        notes=tuple(notes),
        settings=settings,
    )
