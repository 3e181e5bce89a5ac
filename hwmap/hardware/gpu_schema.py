"""GPU templates (kind ``gpu``): published peaks plus documented priors for the GPU cost model.

A GPU template holds two kinds of numbers:

- **published peaks**: dense tensor-core TFLOP/s per dtype, FP32 (CUDA-core) TFLOP/s, memory bandwidth, TDP,
  SM count and boost clock, each cited in a YAML comment of the template (NVIDIA datasheets and whitepapers);
- **priors**: idle power, per-class efficiencies, saturation sizes, launch and host overheads and dynamic power,
  used by :mod:`hwmap.cost.gpu` only when no calibration file (``hwmap calibrate``) is given. They are labelled as
  priors in the template, with the reasoning next to them.

Priors by architecture generation (the templates added with issue 12, and the RTX 4090's since issue 19, follow these
rules; the six older ones keep the values written next to them). The rule inputs are the tensor-core generation, the
memory type and the host:

- tensor generation ``mma`` (mma.sync tensor cores: Turing, Ampere, Ada, GeForce/workstation Blackwell sm_120) vs
  ``async`` (Hopper wgmma, data-center Blackwell tcgen05, whose peaks PyTorch's cuBLAS/cuDNN/FlashAttention-2 paths
  reach a smaller share of): compute_eff of the FP32-accumulate tensor roof: conv_dense 0.55 / 0.50, conv_pointwise
  0.60 / 0.55, conv_grouped 0.8 x conv_dense (0.44 / 0.40: a grouped conv is an implicit GEMM per group, memory-
  bound at small group width, so its compute efficiency only binds on wide groups), linear 0.75 / 0.70,
  attention_matmul 0.50 / 0.45, attention_fused 0.50 / 0.35; CUDA-core classes 0.20-0.30 of the FP32 peak
  (conv_depthwise 0.35 / 0.30). Parts whose FP32-accumulate rate is half their FP16-accumulate rate (GeForce;
  the RTX PRO 6000 Blackwell by measurement, see its template): linear 0.95, the halved MMA pipe rather than
  operand delivery bounds a large GEMM. Set from published torch.matmul measurements, not from timm's tables
  (LARGE_GEMM_MEASUREMENTS in tests/cost/test_gpu_gemm_rate.py, with their sources: FP16 square GEMMs of side
  8192-10240 reach 0.94-0.96 of the rated FP32-accumulate peak on RTX 4090s, 0.82-1.12 on RTX 5090s, 1.08 on an
  RTX 3080): 0.95 x the sustained clock (x1.036 on the 3090/4090/5090) puts the model at 0.98 of the rated peak, the
  middle of those reports; 0.90 put it at 0.93, below five of the six. On timm's tables (median |error|, priors)
  0.90 -> 0.95 moved 3090 6.33% -> 6.27% (the held-out halves of experiments/gpu_published.py 6.09% -> 5.89%),
  4090 eager 7.9% -> 7.7%, compiled 9.5% -> 9.1%, 5090 6.9% -> 6.6%, Max-Q 8.6% -> 8.0%. (The round before, 0.75 ->
  0.90 was chosen on those tables: ViT/DeiT/BEiT/EVA rows +19% (3090), +28% (4090), +15% (5090) and +21% (Max-Q)
  too slow at 0.75, +8%, +18%, +3%, +11% at 0.90.);
- memory: streaming kernels reach 0.85 (GDDR), 0.80 (HBM), 0.70 (LPDDR, shared with the CPU) of the peak
  bandwidth; strided kernels (depthwise, grouped, pooling, copies) 0.65 / 0.55 / 0.50; convolution and norm
  operands 0.75 / 0.70 / 0.60; the cost model scales them by the template's memory technology
  (``memory.technology``, MEMORY_STREAMING_SCALE below: GDDR6X x1.027, GDDR7 x0.885);
- L2: ``l2_cache_mib`` from the whitepaper; ``l2_bandwidth_gb_per_s`` where a source gives it (A100 5120 B/clk,
  V100 2048 B/clk, GH100 as A100), else hwmap.cost.gpu.L2_TO_DRAM_BANDWIDTH_RULE x the DRAM bandwidth;
- half_saturation_elements = SMs x 128 x 128 / 2 (half a wave of 128x128 output tiles), half of it for fused
  attention;
- host ``desktop`` (x86 desktop/server core: views 1.5 us, module calls 2 us, per-class dispatch 5-25 us, GPU
  launch 2.5-5 us) vs ``arm`` (Jetson Cortex-A78AE: host costs x3, launches x1.5);
- sustained_clock_frac: 1.10 for GeForce cards (GPU Boost holds clocks ~10% above the rated boost under a
  sustained compute load with the stock cooler: an RTX 3090 rated 1695 MHz runs ~1.85-1.9 GHz), 1.0 for workstation,
  data-center and embedded parts (quoted at their maximum boost or power-capped);
- idle power: ~10% of TDP for desktop, workstation and GDDR data-center cards, ~1/7 for HBM data-center parts,
  ~20% for 70 W cards, ~1/4 of the power mode for Jetson modules; dynamic_power_frac per class as on the older
  templates.

Registered as kind ``gpu`` in :mod:`hwmap.hardware.kinds` (cost module :mod:`hwmap.cost.gpu_kind`).
Every numeric key names its unit (``_tflops``, ``_gb_per_s``, ``_w``, ``_us``, ``_mhz``, ``_frac`` for fractions,
``_elements`` for element counts).
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import Field

from hwmap.hardware.schema import MAX_PLAUSIBLE_FREQ_MHZ, Problem, StrictModel, TemplateSpec

__all__ = [
    "COEFFICIENT_BOUNDS",
    "FIT_CLASSES",
    "MEMORY_STREAMING_SCALE",
    "ChipPower",
    "GpuClassPrior",
    "GpuClassPriors",
    "GpuMemory",
    "GpuPeaks",
    "GpuPriors",
    "GpuSpec",
    "device_words",
    "gpu_aliases",
    "gpu_device_names",
    "template_for_device_name",
]

# The classes the GPU model fits separately (kernels that behave alike on a GPU). hwmap.cost.gpu maps every
# OpClass onto one of them; calibration files and template priors list the same names.
FIT_CLASSES: tuple[str, ...] = (
    "conv_dense",
    "conv_pointwise",
    "conv_depthwise",
    "conv_grouped",
    "linear",
    "attention_matmul",
    "attention_fused",
    "attention_softmax",
    "normalization",
    "batch_norm",
    "activation",
    "elementwise",
    "pooling_resize",
    "data_movement",
)

_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def device_words(name: str) -> tuple[str, ...]:
    """A device name as the words device_names match: lower case, '-' and '_' as spaces."""
    return tuple(name.lower().replace("-", " ").replace("_", " ").split())


def template_for_device_name(name: str) -> str | None:
    """The shipped GPU template for a CUDA/NVML device name ('NVIDIA H100 80GB HBM3' -> 'h100_sxm'), or None.

    Each GPU template lists the words that mean its card (``device_names``); a template matches when its words occur
    consecutively in the name, and the longest match wins ('h100 pcie' over 'h100'; 'a10' does not match 'a100').
    Variants without a template of their own (NVL, other memory sizes) map to the template of the same chip (their
    clocks, power and bandwidth differ: calibrate them, the fit absorbs the difference in efficiency).
    """
    words = device_words(name)
    best: tuple[int, str] | None = None
    for template, needles in gpu_device_names().items():
        for needle in needles:
            n = len(needle)
            if any(words[i:i + n] == needle for i in range(len(words) - n + 1)) and (best is None or n > best[0]):
                best = (n, template)
    return best[1] if best else None


def gpu_device_names() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Template name -> its device_names as word tuples, over the shipped GPU templates."""
    return {name: tuple(device_words(w) for w in spec.device_names) for name, spec in _shipped_gpu_specs().items()}


def gpu_aliases() -> dict[str, str]:
    """Alias -> template name over the shipped GPU templates (hwmap.hardware.loader resolves --accel with it)."""
    from hwmap.hardware.loader import gpu_aliases as aliases

    return dict(aliases())


@functools.cache
def _shipped_gpu_specs() -> dict[str, GpuSpec]:
    from hwmap.hardware.catalog import catalog_entries
    from hwmap.hardware.loader import load_accelerator

    return {name: load_accelerator(name).spec for name, entry in catalog_entries().items()
            if entry.relpath.startswith("gpu/")}


# Hard physical bounds of the GPU model's coefficients: a fit never leaves them, and a calibration file outside them
# is clamped with a note (hwmap.cost.gpu.coefficients). Units as in the templates (_us, _frac, _elements). Which are
# definitions and which are assumptions (checked in December 2026 against what the search tool could read):
# - compute_eff_frac <= 1: a definition, no kernel beats the published peak at the clock the roofs assume.
# - memory_eff_frac <= 0.95 of the DRAM peak: assumed. Stream/copy kernels are commonly reported at ~85-92% of the
#   datasheet bandwidth on GDDR6X and HBM cards (BabelStream-style measurements); no such measurement could be read
#   back this session. Traffic that stays in L2 would be an L2 level's, which the model does not have yet.
# - launch_overhead_us in [1, 20]: assumed. GPU-side cost per kernel (launch latency, ramp, tail) on top of its
#   roofline time; the ~3 us per back-to-back short kernel figure is recalled from NVIDIA's "Getting Started with
#   CUDA Graphs" (developer.nvidia.com/blog/cuda-graphs, 2019; the page exists, its numbers were not re-read).
# - host_overhead_us in [2, 100]: assumed. CPU dispatch of one PyTorch eager operator, ~5-20 us on x86
#   desktops/servers, up to ~75 us on Jetson's ARM cores (recalled, not from a source read this session);
#   host_view_us in [0.1, 10], host_module_us in [0.2, 15] (one Python view / nn.Module call): assumed.
COEFFICIENT_BOUNDS: dict[str, tuple[float, float]] = {
    "compute_eff_frac": (1e-3, 1.0),
    "memory_eff_frac": (1e-2, 0.95),
    "half_saturation_elements": (1.0, 1e10),
    "launch_overhead_us": (1.0, 20.0),
    "host_overhead_us": (2.0, 100.0),
    "host_view_us": (0.1, 10.0),
    "host_module_us": (0.2, 15.0),
}

MAX_PLAUSIBLE_TFLOPS = 100_000.0  # 100 PFLOP/s dense on one GPU: a unit slip (GFLOP/s written as TFLOP/s)
MAX_PLAUSIBLE_TDP_W = 5_000.0


class GpuPeaks(StrictModel):
    """Dense (no structured sparsity) peak throughput. A dtype the GPU has no tensor-core path for is omitted."""

    fp32_tflops: float = Field(gt=0, le=MAX_PLAUSIBLE_TFLOPS, description="FP32 on CUDA cores (non-tensor)")
    fp16_tensor_tflops: float = Field(gt=0, le=MAX_PLAUSIBLE_TFLOPS, description="FP16 inputs, FP32 accumulate")
    bf16_tensor_tflops: float | None = Field(default=None, gt=0, le=MAX_PLAUSIBLE_TFLOPS)
    tf32_tensor_tflops: float | None = Field(default=None, gt=0, le=MAX_PLAUSIBLE_TFLOPS)
    fp8_tensor_tflops: float | None = Field(default=None, gt=0, le=MAX_PLAUSIBLE_TFLOPS)
    int8_tensor_tops: float | None = Field(default=None, gt=0, le=MAX_PLAUSIBLE_TFLOPS)


# Streaming efficiency by memory technology: the share of the datasheet bandwidth a memory system delivers differs
# by technology (signalling, controller, refresh/ECC overheads), so the classes' memory_eff priors (the generation
# rules above) are scaled by the card's memory technology. No published STREAM-style measurement of GDDR7 could be
# read (December 2026); each value is set from ONE published timm table and checked on a sibling card the value was
# not set from (experiments/gpu_published_cards.py, same technology, other board, power and batch):
# - gddr6x 1.027: the scale that minimises the priors' median |error| on the RTX 3090 table (6.3% instead of 7.2%;
#   near-best 1.020-1.035); on the RTX 4090's (held out) 7.9% instead of 8.3%. Streaming kernels then reach 0.87 of
#   the peak, inside the 85-92% range COEFFICIENT_BOUNDS assumes (recalled, not read from a source).
# - gddr7 0.885: the same on the RTX 5090 table (6.9% instead of 9.0%; near-best 0.880-0.890); on the RTX PRO 6000
#   Blackwell Max-Q's (held out) 8.6% instead of 13.1%. Streaming kernels reach 0.75 of the 1792 GB/s.
# Other technologies: 1.0 (no table to set it from; their templates' rules stand as written).
MEMORY_STREAMING_SCALE: dict[str, float] = {"gddr6x": 1.027, "gddr7": 0.885}

MemoryTechnology = Literal["gddr6", "gddr6x", "gddr7", "hbm2", "hbm2e", "hbm3", "hbm3e", "lpddr5", "lpddr5x"]


class GpuMemory(StrictModel):
    bandwidth_gb_per_s: float = Field(gt=0, le=100_000, description="peak DRAM (HBM/GDDR/LPDDR) bandwidth, 1e9 B/s")
    size_gib: float = Field(gt=0, le=10_000)
    technology: MemoryTechnology | None = Field(default=None, description=(
        "DRAM technology: scales the classes' memory_eff priors by MEMORY_STREAMING_SCALE (1 where it has no value)"))

    @property
    def streaming_scale(self) -> float:
        return MEMORY_STREAMING_SCALE.get(self.technology, 1.0) if self.technology else 1.0


class GpuClassPrior(StrictModel):
    """Prior coefficients of one kernel class (see hwmap.cost.gpu for the formula they enter).

    compute_eff_frac: fraction of the class's compute roof reached by a large kernel.
    memory_eff_frac: fraction of the DRAM bandwidth reached by a large kernel (above 1 when operands stay in L2).
    half_saturation_elements: output elements at which a kernel reaches half of its large-kernel efficiency.
    launch_overhead_us: GPU-side time per kernel on top of the roofline time (launch latency, ramp, tail).
    host_overhead_us: CPU time to dispatch one operator in PyTorch eager (Python, dispatcher, library setup).
    dynamic_power_frac: dynamic power of a saturated kernel of this class, as a fraction of (TDP - idle power).
    """

    compute_eff_frac: float = Field(gt=0, le=1)
    memory_eff_frac: float = Field(gt=0, le=4)
    half_saturation_elements: float = Field(ge=0, le=1e12)
    launch_overhead_us: float = Field(ge=0, le=10_000)
    host_overhead_us: float = Field(ge=0, le=100_000)
    dynamic_power_frac: float = Field(ge=0, le=1.5)


class GpuClassPriors(StrictModel):
    """One prior per fit class (hwmap.hardware.gpu_schema.FIT_CLASSES)."""

    conv_dense: GpuClassPrior
    conv_pointwise: GpuClassPrior
    conv_depthwise: GpuClassPrior
    conv_grouped: GpuClassPrior
    linear: GpuClassPrior
    attention_matmul: GpuClassPrior
    attention_fused: GpuClassPrior
    attention_softmax: GpuClassPrior
    normalization: GpuClassPrior
    batch_norm: GpuClassPrior
    activation: GpuClassPrior
    elementwise: GpuClassPrior
    pooling_resize: GpuClassPrior
    data_movement: GpuClassPrior

    def get(self, fit_class: str) -> GpuClassPrior:
        return getattr(self, fit_class)


class ChipPower(StrictModel):
    """A saturated tensor load draws power_w at clock_mhz on this chip (e.g. the uncapped sibling's TDP and boost)."""

    power_w: float = Field(gt=0, le=MAX_PLAUSIBLE_TDP_W)
    clock_mhz: float = Field(gt=0, le=MAX_PLAUSIBLE_FREQ_MHZ)


class GpuPriors(StrictModel):
    """Documented priors, used when no calibration file is given (the estimate then says it is uncalibrated)."""

    idle_power_w: float = Field(ge=0, le=MAX_PLAUSIBLE_TDP_W, description="power with a CUDA context open, idle")
    host_view_us: float = Field(ge=0, le=10_000, description="host time of one Python-level view/reshape")
    host_module_us: float = Field(ge=0, le=10_000, description="host time of one nn.Module call")
    sustained_clock_frac: float = Field(default=1.0, ge=0.5, le=1.5, description=(
        "clock ceiling: the highest SM clock GPU Boost holds when the power budget allows, / the rated boost clock "
        "the peaks are quoted at (GeForce cards run above their rated boost); the sustained clock of a class is "
        "this or the clock its power allows, whichever is lower (hwmap.cost.gpu.sustained_clock_fracs)"))
    chip_power: ChipPower | None = Field(default=None, description=(
        "the chip's power at a known clock when it is the card's own TDP at a different clock (a power-capped "
        "variant of a chip sold at a higher power); absent: the card's TDP at its rated boost clock"))
    classes: GpuClassPriors


Architecture = Literal["volta", "turing", "ampere", "ada", "hopper", "blackwell"]


class GpuSpec(TemplateSpec):
    """An NVIDIA GPU: published peaks and priors for :func:`hwmap.cost.gpu.estimate_gpu`."""

    kind: Literal["gpu"]
    architecture: Architecture
    device_names: tuple[str, ...] = Field(default=(), strict=False, description=(
        "words of the CUDA/NVML device name that mean this card ('h100 pcie' in 'NVIDIA H100 PCIe'), matched as "
        "whole words after lower-casing and '-'/'_' -> space; the longest match over all templates wins"))
    aliases: tuple[str, ...] = Field(default=(), strict=False, description=(
        "other names people type for this template (--accel h100 -> h100_sxm), resolved with a one-line note"))
    sm_count: int = Field(ge=1, le=10_000)
    boost_clock_mhz: float = Field(gt=0, le=MAX_PLAUSIBLE_FREQ_MHZ)
    tdp_w: float = Field(gt=0, le=MAX_PLAUSIBLE_TDP_W)
    l2_cache_mib: float | None = Field(default=None, gt=0, le=4096, description="on-chip L2 cache, MiB")
    l2_bandwidth_gb_per_s: float | None = Field(default=None, gt=0, le=1_000_000, description=(
        "L2 read bandwidth, 1e9 B/s, where published; absent: L2_TO_DRAM_BANDWIDTH_RULE x the DRAM bandwidth "
        "(hwmap.cost.gpu.l2_level)"))
    memory: GpuMemory
    peak: GpuPeaks
    priors: GpuPriors

    @property
    def freq_mhz(self) -> float:
        """The clock GraphCost cycles are counted in: the boost clock."""
        return self.boost_clock_mhz

    @property
    def peak_macs_per_cycle(self) -> int:
        """Dense FP16 tensor-core MACs per boost-clock cycle: TFLOP/s * 1e12 / 2 / (boost MHz * 1e6)."""
        return max(1, round(self.peak.fp16_tensor_tflops * 1e12 / 2 / (self.boost_clock_mhz * 1e6)))

    def semantic_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for i, alias in enumerate(self.aliases):
            if not _ALIAS.fullmatch(alias):
                problems.append(Problem(f"aliases[{i}]", f"an alias is a name as typed after --accel (letters, "
                                                         f"digits, '_', '-'), got {alias!r}"))
        for i, words in enumerate(self.device_names):
            if not device_words(words):
                problems.append(Problem(f"device_names[{i}]", f"expected words of a device name, got {words!r}"))
        peak = self.peak
        if peak.fp16_tensor_tflops < peak.fp32_tflops:
            problems.append(Problem(
                "peak.fp16_tensor_tflops",
                f"tensor cores run FP16 at least as fast as the CUDA cores run FP32 ({peak.fp32_tflops:g} TFLOP/s), "
                f"got {peak.fp16_tensor_tflops:g}"))
        if peak.tf32_tensor_tflops is not None and peak.tf32_tensor_tflops > peak.fp16_tensor_tflops:
            problems.append(Problem(
                "peak.tf32_tensor_tflops",
                f"TF32 runs at most at the FP16 rate ({peak.fp16_tensor_tflops:g} TFLOP/s), "
                f"got {peak.tf32_tensor_tflops:g}"))
        for key in ("fp8_tensor_tflops", "int8_tensor_tops"):
            value = getattr(peak, key)
            if value is not None and value < peak.fp16_tensor_tflops:
                problems.append(Problem(
                    f"peak.{key}",
                    f"8-bit tensor throughput is at least the FP16 rate ({peak.fp16_tensor_tflops:g}), got {value:g}"))
        if self.l2_bandwidth_gb_per_s is not None:
            if self.l2_cache_mib is None:
                problems.append(Problem("l2_bandwidth_gb_per_s", "an L2 bandwidth needs the L2 size: add l2_cache_mib"))
            if self.l2_bandwidth_gb_per_s <= self.memory.bandwidth_gb_per_s:
                problems.append(Problem(
                    "l2_bandwidth_gb_per_s",
                    f"the L2 is faster than DRAM ({self.memory.bandwidth_gb_per_s:g} GB/s), got "
                    f"{self.l2_bandwidth_gb_per_s:g}"))
        if self.priors.idle_power_w >= self.tdp_w:
            problems.append(Problem(
                "priors.idle_power_w",
                f"idle power must be below the TDP ({self.tdp_w:g} W), got {self.priors.idle_power_w:g}"))
        return problems
