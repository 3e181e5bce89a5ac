"""Fitting the GPU model's coefficients to microbenchmark measurements (numpy + scipy; no torch, no GPU).

Per kernel class, the measured GPU time of each sample is fitted with the same formula hwmap.cost.gpu uses::

    gpu_s = max(FLOPs / (roof x compute_eff x s(w)), bytes / (bandwidth x memory_eff)) + launch_overhead
    s(w)  = w / (w + half_saturation)

by ``scipy.optimize.least_squares`` on log time (relative errors weigh small and large kernels alike), with the
four coefficients in log space, within the hard physical bounds (COEFFICIENT_BOUNDS), started from the template
priors (and a few perturbed starts; the best fit wins). A weak pull towards the prior (weight 1e-3 in log units)
keeps coefficients the samples cannot determine (e.g. the compute efficiency of a class that is always
memory-bound) at their prior; those are listed in ``from_prior``.

Host overhead per class is the median measured dispatch time. Dynamic power per class comes from the energy of
power loops::

    dynamic_power = (energy - idle_power x elapsed) / (iterations x full_rate_time)

with full_rate_time the kernel's work at the fitted saturated rate (hwmap.cost.gpu.full_rate_time_s), the same
quantity the model multiplies dynamic power by.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hwmap.cost.gpu import ClassCoefficients, full_rate_time_s, kernel_time_s
from hwmap.errors import HwmapError
from hwmap.hardware.gpu_schema import COEFFICIENT_BOUNDS

__all__ = [
    "PARAMETERS",
    "ClassFit",
    "PowerSample",
    "TimingSample",
    "fit_dynamic_power",
    "fit_time_class",
    "predict_gpu_s",
]

PARAMETERS = ("compute_eff_frac", "memory_eff_frac", "half_saturation_elements", "launch_overhead_s")
# hard physical bounds (hwmap.hardware.gpu_schema.COEFFICIENT_BOUNDS, the same as the table fit's)
_LIMITS = [COEFFICIENT_BOUNDS[k] for k in ("compute_eff_frac", "memory_eff_frac", "half_saturation_elements")]
_LIMITS.append(tuple(v * 1e-6 for v in COEFFICIENT_BOUNDS["launch_overhead_us"]))
_LOWER = np.log([low for low, _ in _LIMITS])
_UPPER = np.log([high for _, high in _LIMITS])
PRIOR_WEIGHT = 1e-3


@dataclass(frozen=True)
class TimingSample:
    """One microbenchmark: a kernel's work, the roofs it ran against, and its measured GPU and host time."""

    fit_class: str
    flops: float
    bytes_: float
    elements: float
    gpu_s: float
    host_s: float
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    label: str = ""
    # the L2 level (hwmap.cost.gpu.l2_resident_frac): a microbenchmark re-runs one kernel on the same buffers, so a
    # working set that fits stays in L2 whole; None: every byte crosses DRAM
    dram_bytes: float | None = None
    l2_bandwidth_bytes_per_s: float = math.inf


@dataclass(frozen=True)
class PowerSample:
    """A power loop: ``iterations`` back-to-back kernels of one shape, the energy and wall time they took."""

    fit_class: str
    flops: float
    bytes_: float
    elements: float
    iterations: int
    elapsed_s: float
    energy_j: float
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    label: str = ""


@dataclass(frozen=True)
class ClassFit:
    fit_class: str
    coefficients: ClassCoefficients  # dynamic_power_w is filled by fit_dynamic_power (the prior's until then)
    samples: int
    fit_error_pct: float | None  # 100 x (exp(RMS of log residuals) - 1)
    mape_pct: float | None
    from_prior: tuple[str, ...]


def predict_gpu_s(samples: Sequence[TimingSample], coefficients: ClassCoefficients) -> np.ndarray:
    """The model's GPU time for each sample under the given coefficients."""
    return kernel_time_s(
        np.array([s.flops for s in samples]), np.array([s.bytes_ for s in samples]),
        np.array([s.elements for s in samples]),
        peak_flops_per_s=np.array([s.peak_flops_per_s for s in samples]),
        bandwidth_bytes_per_s=np.array([s.bandwidth_bytes_per_s for s in samples]),
        compute_eff_frac=coefficients.compute_eff_frac, memory_eff_frac=coefficients.memory_eff_frac,
        half_saturation_elements=coefficients.half_saturation_elements,
        launch_overhead_s=coefficients.launch_overhead_s, dram_bytes=_dram_bytes(samples),
        l2_bandwidth_bytes_per_s=np.array([s.l2_bandwidth_bytes_per_s for s in samples]))


def _dram_bytes(samples: Sequence[TimingSample]) -> np.ndarray:
    return np.array([s.bytes_ if s.dram_bytes is None else s.dram_bytes for s in samples])


def _to_x(c: ClassCoefficients) -> np.ndarray:
    x = np.log([c.compute_eff_frac, c.memory_eff_frac, max(c.half_saturation_elements, 1.0),
                max(c.launch_overhead_s, 1e-8)])
    return np.clip(x, _LOWER + 1e-9, _UPPER - 1e-9)


def _from_x(x: np.ndarray, prior: ClassCoefficients, host_s: float) -> ClassCoefficients:
    e, m, h, t0 = np.exp(x)
    return ClassCoefficients(float(e), float(m), float(h), float(t0), host_s, prior.dynamic_power_w)


def fit_time_class(fit_class: str, samples: Sequence[TimingSample], prior: ClassCoefficients, *,
                   prior_weight: float = PRIOR_WEIGHT) -> ClassFit:
    """Fit one class's four time coefficients to its samples (see the module docstring)."""
    from scipy.optimize import least_squares

    samples = [s for s in samples if s.gpu_s > 0 and math.isfinite(s.gpu_s)]
    host = [s.host_s for s in samples if s.host_s > 0 and math.isfinite(s.host_s)]
    host_s = float(np.median(host)) if host else prior.host_overhead_s
    if not samples:
        return ClassFit(fit_class, prior, 0, None, None, PARAMETERS)
    measured = np.log(np.array([s.gpu_s for s in samples]))
    flops = np.array([s.flops for s in samples])
    bytes_ = np.array([s.bytes_ for s in samples])
    elements = np.array([s.elements for s in samples])
    peak = np.array([s.peak_flops_per_s for s in samples])
    bw = np.array([s.bandwidth_bytes_per_s for s in samples])
    dram = _dram_bytes(samples)
    l2_bw = np.array([s.l2_bandwidth_bytes_per_s for s in samples])
    x_prior = _to_x(prior)

    def data_residuals(x: np.ndarray) -> np.ndarray:
        e, m, h, t0 = np.exp(x)
        predicted = kernel_time_s(flops, bytes_, elements, peak_flops_per_s=peak, bandwidth_bytes_per_s=bw,
                                  compute_eff_frac=e, memory_eff_frac=m, half_saturation_elements=h,
                                  launch_overhead_s=t0, dram_bytes=dram, l2_bandwidth_bytes_per_s=l2_bw)
        return np.log(predicted) - measured

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.concatenate([data_residuals(x), prior_weight * (x - x_prior)])

    starts = [x_prior]
    for shift in ([0, 0, math.log(10), 0], [0, 0, -math.log(10), 0], [-math.log(2), -math.log(2), 0, 0],
                  [0, 0, 0, math.log(3)], [0, 0, 0, -math.log(3)]):
        starts.append(np.clip(x_prior + np.array(shift), _LOWER + 1e-9, _UPPER - 1e-9))
    best = None
    for start in starts:
        result = least_squares(residuals, start, bounds=(_LOWER, _UPPER), method="trf", x_scale=1.0,
                               xtol=1e-10, ftol=1e-12, gtol=1e-12, max_nfev=1000)
        if best is None or result.cost < best.cost:
            best = result
        if best.cost < 1e-10 * len(samples):  # an exact fit: other starts cannot improve it
            break
    assert best is not None
    x = best.x.copy()
    # Coefficients the data does not move (zero sensitivity) are reported as priors.
    jac = best.jac[: len(samples)]
    norms = np.sqrt(np.sum(np.asarray(jac) ** 2, axis=0))
    undetermined = norms < 1e-6 * max(float(norms.max()), 1e-30)
    x[undetermined] = x_prior[undetermined]
    coefficients = _from_x(x, prior, host_s)
    r = data_residuals(x)
    rms = float(np.sqrt(np.mean(r ** 2)))
    mape = float(np.mean(np.abs(np.expm1(r)))) * 100
    from_prior = tuple(name for name, flag in zip(PARAMETERS, undetermined, strict=True) if flag)
    return ClassFit(fit_class, coefficients, len(samples), 100 * math.expm1(rms), mape, from_prior)


def fit_dynamic_power(samples: Sequence[PowerSample], coefficients: ClassCoefficients, *,
                      idle_power_w: float) -> tuple[float | None, int]:
    """(dynamic power in W, samples used) of one class from its power loops; None without usable samples."""
    values = []
    for s in samples:
        full = float(full_rate_time_s(s.flops, s.bytes_, peak_flops_per_s=s.peak_flops_per_s,
                                      bandwidth_bytes_per_s=s.bandwidth_bytes_per_s,
                                      compute_eff_frac=coefficients.compute_eff_frac,
                                      memory_eff_frac=coefficients.memory_eff_frac))
        work_s = s.iterations * full
        if work_s <= 0 or s.elapsed_s <= 0 or not math.isfinite(s.energy_j):
            continue
        values.append(max(0.0, (s.energy_j - idle_power_w * s.elapsed_s) / work_s))
    if not values:
        return None, 0
    return float(np.median(values)), len(values)


def group_by_class(samples: Sequence[TimingSample] | Sequence[PowerSample]) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for sample in samples:
        grouped.setdefault(sample.fit_class, []).append(sample)
    return grouped


def fit_all(timing: Sequence[TimingSample], power: Sequence[PowerSample], priors: Mapping[str, ClassCoefficients],
            *, idle_power_w: float) -> dict[str, tuple[ClassFit, float | None, int]]:
    """Every class with samples: (time fit, dynamic power or None, power samples used)."""
    if idle_power_w < 0 or not math.isfinite(idle_power_w):
        raise HwmapError(f"idle power must be a non-negative number, got {idle_power_w}")
    timing_by = group_by_class(timing)
    power_by = group_by_class(power)
    out = {}
    for name, prior in priors.items():
        if name not in timing_by and name not in power_by:
            continue
        fit = fit_time_class(name, timing_by.get(name, []), prior)
        watts, used = fit_dynamic_power(power_by.get(name, []), fit.coefficients, idle_power_w=idle_power_w)
        out[name] = (fit, watts, used)
    return out
