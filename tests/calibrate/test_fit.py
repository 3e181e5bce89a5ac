"""The fit recovers known coefficients from synthetic samples (within 2%), and dynamic power from energies."""

from __future__ import annotations

import numpy as np
import pytest

from hwmap.calibrate.fit import PowerSample, TimingSample, fit_all, fit_dynamic_power, fit_time_class
from hwmap.cost.gpu import ClassCoefficients, full_rate_time_s, kernel_time_s

PEAK_TENSOR, PEAK_VECTOR, BW = 989.4e12, 66.9e12, 3.35e12  # H100 SXM: FP16 tensor, FP32, HBM3


def _time(c: ClassCoefficients, flops, bytes_, elements, peak) -> float:
    return float(kernel_time_s(flops, bytes_, elements, peak_flops_per_s=peak, bandwidth_bytes_per_s=BW,
                               compute_eff_frac=c.compute_eff_frac, memory_eff_frac=c.memory_eff_frac,
                               half_saturation_elements=c.half_saturation_elements,
                               launch_overhead_s=c.launch_overhead_s))


def _gemm_samples(true: ClassCoefficients, noise: float = 0.0, seed: int = 0) -> list[TimingSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for m in (16, 128, 1024, 8192):
        for n in (64, 768, 4096):
            for k in (64, 1024):
                flops, bytes_, elements = 2 * m * n * k, 2 * (m * k + k * n + m * n), m * n
                t = _time(true, flops, bytes_, elements, PEAK_TENSOR) * float(np.exp(noise * rng.standard_normal()))
                samples.append(TimingSample("linear", flops, bytes_, elements, t, 9e-6 + m * 1e-12, PEAK_TENSOR, BW))
    return samples


TRUE = ClassCoefficients(compute_eff_frac=0.62, memory_eff_frac=0.83, half_saturation_elements=7.5e5,
                         launch_overhead_s=3.4e-6, host_overhead_s=0.0, dynamic_power_w=0.0)
PRIOR = ClassCoefficients(compute_eff_frac=0.45, memory_eff_frac=0.6, half_saturation_elements=2e6,
                          launch_overhead_s=2e-6, host_overhead_s=5e-6, dynamic_power_w=400.0)


def test_fit_recovers_known_gemm_coefficients_within_2_percent() -> None:
    fit = fit_time_class("linear", _gemm_samples(TRUE), PRIOR)
    c = fit.coefficients
    assert c.compute_eff_frac == pytest.approx(TRUE.compute_eff_frac, rel=0.02)
    assert c.memory_eff_frac == pytest.approx(TRUE.memory_eff_frac, rel=0.02)
    assert c.half_saturation_elements == pytest.approx(TRUE.half_saturation_elements, rel=0.02)
    assert c.launch_overhead_s == pytest.approx(TRUE.launch_overhead_s, rel=0.02)
    assert fit.samples == 24 and fit.from_prior == ()
    assert fit.fit_error_pct < 0.1 and fit.mape_pct < 0.1
    # host overhead: the median of the measured dispatch times
    assert c.host_overhead_s == pytest.approx(np.median([s.host_s for s in _gemm_samples(TRUE)]))
    assert c.dynamic_power_w == PRIOR.dynamic_power_w  # power is fitted separately


def test_fit_with_measurement_noise_stays_close_and_reports_its_error() -> None:
    fit = fit_time_class("linear", _gemm_samples(TRUE, noise=0.03, seed=1), PRIOR)
    c = fit.coefficients
    assert c.compute_eff_frac == pytest.approx(TRUE.compute_eff_frac, rel=0.08)
    assert c.memory_eff_frac == pytest.approx(TRUE.memory_eff_frac, rel=0.08)
    assert 1.0 < fit.fit_error_pct < 6.0  # ~3% log-normal noise


def test_memory_bound_class_recovers_bandwidth_efficiency_and_launch() -> None:
    true = ClassCoefficients(0.3, 0.78, 1e6, 2.2e-6, 0.0, 0.0)
    samples = []
    for elements in (1e3, 1e4, 1e5, 1e6, 1e7, 1e8):
        flops, bytes_ = elements, 6 * elements  # add of two fp16 tensors: read 2, write 1
        samples.append(TimingSample("elementwise", flops, bytes_, elements,
                                    _time(true, flops, bytes_, elements, PEAK_VECTOR), 5e-6, PEAK_VECTOR, BW))
    fit = fit_time_class("elementwise", samples, ClassCoefficients(0.3, 0.5, 1e6, 4e-6, 5e-6, 200.0))
    assert fit.coefficients.memory_eff_frac == pytest.approx(0.78, rel=0.02)
    assert fit.coefficients.launch_overhead_s == pytest.approx(2.2e-6, rel=0.02)


def test_no_samples_keeps_the_prior() -> None:
    fit = fit_time_class("conv_grouped", [], PRIOR)
    assert fit.coefficients == PRIOR and fit.samples == 0 and fit.fit_error_pct is None
    assert set(fit.from_prior) == {"compute_eff_frac", "memory_eff_frac", "half_saturation_elements",
                                   "launch_overhead_s"}


def test_dynamic_power_from_power_loops() -> None:
    idle_w, dynamic_w = 110.0, 420.0
    samples = []
    loops = ((2 * 4096 ** 3, 3 * 2 * 4096 ** 2, 3000), (2 * 1024 ** 3, 3 * 2 * 1024 ** 2, 90_000))
    for flops, bytes_, iterations in loops:
        full = float(full_rate_time_s(flops, bytes_, peak_flops_per_s=PEAK_TENSOR, bandwidth_bytes_per_s=BW,
                                      compute_eff_frac=TRUE.compute_eff_frac, memory_eff_frac=TRUE.memory_eff_frac))
        elapsed = 1.3 * iterations * full  # the GPU was busy 1/1.3 of the window
        energy = idle_w * elapsed + dynamic_w * iterations * full
        samples.append(PowerSample("linear", flops, bytes_, 4096 ** 2, int(iterations), elapsed, energy,
                                   PEAK_TENSOR, BW))
    watts, used = fit_dynamic_power(samples, TRUE, idle_power_w=idle_w)
    assert used == 2
    assert watts == pytest.approx(dynamic_w, rel=1e-9)
    assert fit_dynamic_power([], TRUE, idle_power_w=idle_w) == (None, 0)


def test_fit_all_fits_the_classes_that_have_samples() -> None:
    priors = {"linear": PRIOR, "elementwise": PRIOR, "conv_dense": PRIOR}
    results = fit_all(_gemm_samples(TRUE), [], priors, idle_power_w=100.0)
    assert set(results) == {"linear"}
    fit, watts, used = results["linear"]
    assert watts is None and used == 0
    assert fit.coefficients.compute_eff_frac == pytest.approx(0.62, rel=0.02)
