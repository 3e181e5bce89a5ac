"""Measuring a real model on a GPU (`hwmap measure`): latency by CUDA events, energy by NVML, GPU time per module by
torch.profiler, each next to hwmap's estimate for the same settings.

torch is imported inside the functions that run on the GPU; importing this module imports no torch.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from hwmap.calibrate.kernels import torch_dtype
from hwmap.calibrate.meter import MeterError
from hwmap.calibrate.recording import MODULE_PREFIX, MeasureResult, device_record, module_kernel_times, module_times
from hwmap.calibrate.runner import (
    Progress,
    SilentProgress,
    open_meter,
    require_cuda,
    resolve_accel,
    set_backend_flags,
)
from hwmap.cost.gpu import MODES
from hwmap.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.hardware.calibration import GpuCalibration
    from hwmap.hardware.schema import Accelerator

__all__ = ["materialize", "measure_model"]


def materialize(module: Any, device: Any, dtype: Any) -> Any:
    """A meta-device module on the GPU with random weights: to_empty, then each module's own initialisation.

    Parameters get N(0, 0.02) (vectors: zero) first, buffers zero (integer index buffers stay in range), then every
    submodule's ``reset_parameters`` / ``reset_running_stats`` / ``init_non_persistent_buffers`` where it has one
    (norm weights 1, BN running variance 1, timm's relative-position indices).
    """
    import torch

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


def _profile_modules(module: Any, x: Any, iterations: int) -> tuple[dict[str, float], float]:
    """(GPU kernel seconds per module scope per inference, their sum), from torch.profiler ranges that forward
    hooks open and close around every submodule."""
    import torch
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


def _check_measure_arguments(*, batch: int, mode: str, reps: int, energy_s: float) -> None:
    if batch < 1:
        raise ParameterError("batch", f"must be a positive integer, got {batch}")
    if mode not in MODES:
        raise ParameterError("mode", f"{mode!r}: expected one of {', '.join(MODES)}")
    if reps < 1:
        raise ParameterError("reps", f"must be >= 1, got {reps}")
    if energy_s < 0:
        raise ParameterError("energy_s", f"must be >= 0, got {energy_s}")


def _resolve_calibration(calibration: GpuCalibration | str | None, accel: Accelerator,
                         notes: list[str]) -> GpuCalibration | None:
    """A calibration object from a file name, or the one found beside the template (noted), or None."""
    from hwmap.hardware.calibration import find_calibration, load_calibration

    if isinstance(calibration, str):
        return load_calibration(calibration)
    if calibration is None:
        found = find_calibration(accel)
        if found is not None:
            loaded = load_calibration(found)
            notes.append(f"calibration found beside the template: {found}")
            return loaded
    return calibration


def _time_inferences(module: Any, x: Any, reps: int, progress: Progress) -> tuple[float, float, float]:
    """(median, 10th and 90th percentile) seconds of one inference from an idle queue, by CUDA events, after 5
    warm-up inferences."""
    import torch

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
    return statistics.median(times), times[int(0.1 * (len(times) - 1))], times[int(0.9 * (len(times) - 1))]


def _measure_energy(module: Any, x: Any, meter: Any, energy_s: float, latency_s: float, progress: Progress,
                    notes: list[str]) -> tuple[float, float]:
    """(joules per inference, average watts) over inferences run for about energy_s (at least 3)."""
    import torch

    iterations = max(3, math.ceil(energy_s / max(latency_s, 1e-6)))
    progress.phase("measuring energy", iterations)
    with torch.inference_mode():
        torch.cuda.synchronize()
        meter.start()
        for _ in range(iterations):
            module(x)
            torch.cuda.synchronize()
            progress.advance()
        reading = meter.stop()
    if reading.elapsed_s < 1.0:
        notes.append(f"energy window {reading.elapsed_s:.2f} s is under 1 s: the counter is coarse")
    return reading.energy_j / iterations, reading.average_power_w


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
    import torch

    from hwmap.cost.gpu import estimate_gpu, gpu_timeline
    from hwmap.graph.extract import extract_graph
    from hwmap.graph.sources import build_model

    progress = progress or SilentProgress()
    _check_measure_arguments(batch=batch, mode=mode, reps=reps, energy_s=energy_s)
    dev = require_cuda(device, command="measure")
    tdtype = torch_dtype(dtype)
    acc = resolve_accel(accel, torch.cuda.get_device_name(dev))
    notes: list[str] = []
    calibration = _resolve_calibration(calibration, acc, notes)
    progress.phase("building the model and its layer graph", 3)
    built = build_model(model)
    chw = tuple(input_chw) if input_chw is not None else built.default_input_chw
    graph = extract_graph(model, input_shape=chw, batch=batch)
    progress.advance()
    estimate = estimate_gpu(graph, acc, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32)
    timeline = gpu_timeline(graph, acc, calibration=calibration, mode=mode, dtype=dtype, tf32=tf32)
    progress.advance()
    torch.cuda.set_device(dev)
    set_backend_flags(tf32)
    module = materialize(built.module, dev, tdtype)
    x = torch.randn((batch, *chw), device=dev, dtype=tdtype)
    progress.advance()

    meter = None
    energy_method = None
    try:
        meter = open_meter(dev)
        energy_method = meter.method
    except MeterError as exc:
        notes.append(f"energy not measured: {exc}")
    try:
        state_before = meter.state() if meter is not None else {}
        latency, p10, p90 = _time_inferences(module, x, reps, progress)
        energy_j = power_w = None
        if meter is not None and energy_s > 0:
            energy_j, power_w = _measure_energy(module, x, meter, energy_s, latency, progress, notes)
        state_after = meter.state() if meter is not None else {}
        device_info = device_record(dev, meter)
    finally:
        if meter is not None:
            meter.close()
    progress.phase("profiling kernels per module", 1)
    per_module, kernel_total = _profile_modules(module, x, profile_iterations)
    progress.advance()
    modules = module_times([node.scope for node in graph.nodes], timeline.kernel_s, per_module, depth)
    return MeasureResult(
        model=model, batch=batch, input_chw=chw, device=device_info, accelerator=acc.name,
        calibration=calibration.source if calibration is not None else None, mode=mode, dtype=dtype, tf32=tf32,
        latency_s=latency, latency_p10_s=p10, latency_p90_s=p90, reps=reps, energy_j=energy_j,
        average_power_w=power_w, energy_method=energy_method, estimate=estimate, modules=modules,
        profiled_kernel_s=kernel_total, estimated_kernel_s=float(timeline.kernel_s.sum()),
        state_before=state_before, state_after=state_after, notes=tuple(notes) + tuple(estimate.notes))
