"""What GPU measurements become: the fitted GpuCalibration of a calibration run, a model's MeasureResult, and the
device record both carry. Nothing here runs on the GPU; torch is imported only to read the device's properties.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hwmap.calibrate.cases import CalibrationPlan
from hwmap.cost.gpu import coefficients

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.calibrate.fit import PowerSample, TimingSample
    from hwmap.cost.result import GraphCost
    from hwmap.hardware.calibration import CalibratedClass, GpuCalibration
    from hwmap.hardware.gpu_schema import GpuSpec
    from hwmap.hardware.schema import Accelerator

__all__ = ["MODULE_PREFIX", "CalibrationMeasurements", "CalibrationRun", "MeasureResult", "ModuleTime",
           "calibration_from_measurements", "device_record", "module_kernel_times", "module_times"]

MODULE_PREFIX = "hwmap.module::"  # the profiler range of one module: this prefix + the module's scope


# ----------------------------------------------------------------------------------------------------------------
# The device
# ----------------------------------------------------------------------------------------------------------------


def device_record(device: Any, meter: Any | None) -> dict[str, Any]:
    """The GPU, its driver and software stack, as torch and (when open) the NVML meter see them."""
    import torch

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


# ----------------------------------------------------------------------------------------------------------------
# A calibration run
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationMeasurements:
    """What one calibration run measured on the GPU, before fitting (host times as the tight loops gave them)."""

    timing: list[TimingSample]
    power: list[PowerSample]
    skipped: list[str]
    host_dispatch_factor: float  # a model's operator mix over tight loops of one operator (host time)
    host_view_s: float
    host_module_s: float
    idle_power_w: float  # clocks up, no work
    quiescent_power_w: float  # no kernels at all
    device: dict[str, Any]
    state_before: dict[str, Any]
    state_after: dict[str, Any]


@dataclass(frozen=True)
class CalibrationRun:
    calibration: GpuCalibration
    plan: CalibrationPlan
    timing: tuple[TimingSample, ...]
    power: tuple[PowerSample, ...]
    skipped: tuple[str, ...]
    elapsed_s: float


def calibration_from_measurements(measured: CalibrationMeasurements, plan: CalibrationPlan, accel: Accelerator, *,
                                  dtype: str, tf32: bool, started_s: float, progress: Any) -> CalibrationRun:
    """Fit the GPU model to a run's measurements (hwmap.calibrate.fit) and record it as a GpuCalibration.

    Host overheads are scaled by the dispatch factor first (as a model's operator mix sees them); a class whose
    power loop is missing, or implausible (above the TDP), keeps the template's prior power, said in the notes.
    started_s: time.perf_counter() when the run started (the file records the duration).
    """
    from hwmap.calibrate.fit import fit_all
    from hwmap.hardware.calibration import CalibrationSettings, DeviceRecord, DeviceState, GpuCalibration

    progress.phase("fitting", 1)
    factor = measured.host_dispatch_factor
    timing = [dataclasses.replace(t, host_s=t.host_s * factor) for t in measured.timing]
    view_s, module_s = measured.host_view_s * factor, measured.host_module_s * factor
    priors = coefficients(accel).classes
    idle_w = measured.idle_power_w
    fits = fit_all(timing, measured.power, priors, idle_power_w=idle_w)
    progress.advance()
    notes = [f"skipped {len(measured.skipped)} microbenchmarks that failed to run"] if measured.skipped else []
    classes = _calibrated_classes(fits, priors, accel.spec, idle_w, notes)
    calibration = GpuCalibration(
        schema_version=1, kind="gpu_calibration", accelerator=accel.name,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        device=DeviceRecord(**measured.device, state_before=DeviceState(**measured.state_before),
                            state_after=DeviceState(**measured.state_after)),
        settings=CalibrationSettings(dtype=dtype, tf32=tf32, quick=plan.quick, models=list(plan.models),
                                     batches=list(plan.batches), timing_cases=len(timing),
                                     power_loops=len(measured.power),
                                     duration_s=round(time.perf_counter() - started_s, 1)),
        idle_power_w=idle_w, idle_power_quiescent_w=measured.quiescent_power_w, host_view_us=view_s * 1e6,
        host_module_us=module_s * 1e6, host_dispatch_factor=factor, classes=classes, notes=notes)
    return CalibrationRun(calibration, plan, tuple(timing), tuple(measured.power), tuple(measured.skipped),
                          time.perf_counter() - started_s)


def _calibrated_classes(fits: Mapping[str, tuple], priors: Mapping[str, Any], spec: GpuSpec, idle_w: float,
                        notes: list[str]) -> dict[str, CalibratedClass]:
    """One CalibratedClass per fitted class; the dynamic power falls back to the prior (scaled to the measured
    idle power) when no power loop measured it or the measurement exceeds the TDP (a note says so)."""
    from hwmap.hardware.calibration import CalibratedClass

    classes = {}
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
    return classes


# ----------------------------------------------------------------------------------------------------------------
# A measured model (`hwmap measure`)
# ----------------------------------------------------------------------------------------------------------------


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


def module_times(scopes: Sequence[str], estimated_s: Iterable[float], measured_s: Mapping[str, float],
                 depth: int | None) -> tuple[ModuleTime, ...]:
    """Estimated (one per graph node, by its module scope) next to measured (per profiled module scope) kernel
    seconds, both summed per module truncated to ``depth`` name parts; the biggest first."""
    estimated: dict[str, float] = {}
    for scope, seconds in zip(scopes, estimated_s, strict=True):
        key = _truncate(scope, depth)
        estimated[key] = estimated.get(key, 0.0) + float(seconds)
    measured: dict[str, float] = {}
    for scope, seconds in measured_s.items():
        key = _truncate(scope, depth)
        measured[key] = measured.get(key, 0.0) + seconds
    return tuple(sorted((ModuleTime(k, measured.get(k, 0.0), estimated.get(k, 0.0))
                         for k in set(measured) | set(estimated)), key=lambda m: -max(m.measured_s, m.estimated_s)))
