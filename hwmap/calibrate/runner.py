"""The calibration run on a real GPU: timing loops, power loops and idle power (NVML), then the fit.

torch is imported inside the functions that run on the GPU; importing this module imports no torch.

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

What is timed: hwmap.calibrate.cases; how a case runs: hwmap.calibrate.kernels; the fit and the file:
hwmap.calibrate.recording.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hwmap.calibrate.cases import DEFAULT_BATCHES, DEFAULT_MODELS, BenchCase, CalibrationPlan, plan_calibration
from hwmap.calibrate.kernels import build_callable, torch_dtype
from hwmap.calibrate.meter import MeterError, NoCudaError
from hwmap.calibrate.recording import (
    CalibrationMeasurements,
    CalibrationRun,
    calibration_from_measurements,
    device_record,
)
from hwmap.cost.gpu import dram_bytes_after_l2, gpu_roofs, template_for_device_name
from hwmap.errors import HwmapError, ParameterError
from hwmap.graph.ir import LayerGraph

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.calibrate.fit import PowerSample, TimingSample
    from hwmap.cost.gpu import GpuRoofs
    from hwmap.hardware.schema import Accelerator

__all__ = ["MAX_LAUNCHES", "Progress", "SilentProgress", "open_meter", "parse_device", "require_cuda",
           "resolve_accel", "run_calibration", "set_backend_flags"]

MAX_LAUNCHES = 200  # per timing loop: well under the ~1024 launches CUDA queues before the host blocks


class Progress(Protocol):
    """What long runs report to (the CLI renders it with rich.progress)."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, steps: int = 1) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    """A Progress that reports nothing (the default of library calls)."""

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass


# ----------------------------------------------------------------------------------------------------------------
# The device
# ----------------------------------------------------------------------------------------------------------------


def parse_device(device: str) -> int:
    """'cuda:0' / 'cuda' -> CUDA device index; anything else is an error (hwmap measures NVIDIA GPUs)."""
    text = device.strip().lower()
    if text == "cuda":
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise ParameterError("device", f"{device!r}: expected cuda or cuda:N (an NVIDIA GPU)")


def require_cuda(device: str, *, command: str = "calibrate") -> Any:
    """The torch.device of a usable CUDA device, or ONE clear NoCudaError."""
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
    return torch.device("cuda", index)


def set_backend_flags(tf32: bool) -> None:
    """cuDNN heuristics without autotuning (what a default PyTorch run does), TF32 on or off."""
    import torch

    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def open_meter(device: Any) -> Any:
    """The NVML energy meter of a CUDA device, found by its UUID (by index where NVML does not know the UUID)."""
    import torch

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


def resolve_accel(accel: Accelerator | str | None, device_name: str) -> Accelerator:
    """The GPU template to estimate with: accel (a name, a file or a template), else the one matching the device."""
    from hwmap.hardware import load_accelerator

    if accel is None:
        name = template_for_device_name(device_name)
        if name is None:
            raise HwmapError(f"no GPU template matches {device_name!r}: pass accel, one of the GPU templates "
                             "(accelerators/gpu/*.yaml) or a template file of your own")
        return load_accelerator(name)
    return load_accelerator(accel) if isinstance(accel, str) else accel


# ----------------------------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------------------------


class _Timer:
    """Times one callable: host dispatch per launch and GPU time per kernel (see the module docstring)."""

    def __init__(self, *, target_s: float, repeats: int) -> None:
        self.target_s = target_s
        self.repeats = repeats
        self.cycles_per_s = self._sleep_rate()

    @staticmethod
    def _sleep_rate() -> float:
        import torch

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
        import torch

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


def _host_view_and_module_s(device: Any) -> tuple[float, float]:
    """Host seconds of one Python-level view and of one nn.Module call (median of 5 loops of 2000)."""
    import torch

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


def _dispatch_factor(device: Any, dtype: Any, timer: _Timer, cases: Sequence[BenchCase],
                     measured: dict[tuple, tuple[float, float]], *, per_class: int = 6) -> float:
    """Host time of the timed operators called once each, interleaved across classes (as in a model), over the sum
    of their tight-loop host times. A loop of one operator keeps the CPU's caches and branch predictors warm; a
    model's mix of operators does not. Clipped to [0.8, 3]; 1 when there is nothing to compare."""
    import torch

    by_class: dict[str, list[BenchCase]] = {}
    for case in cases:
        timing = measured.get(case.key)
        if timing is not None and timing[0] < 5e-4 and len(by_class.setdefault(case.fit_class, [])) < per_class:
            by_class[case.fit_class].append(case)
    ordered = [group[i] for i in range(per_class) for group in by_class.values() if i < len(group)]
    try:
        sequence = [build_callable(case, device, dtype) for case in ordered]
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


def _idle_power_w(device: Any, meter: Any, seconds: float) -> tuple[float, float]:
    """(idle power with one-element kernels keeping the clocks up, quiescent idle power), in W."""
    import torch

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


def _warm_up(device: Any, dtype: Any, seconds: float = 0.5) -> None:
    import torch

    a = torch.randn(4096, 4096, device=device, dtype=dtype)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10):
            a @ a
        torch.cuda.synchronize()


def _time_cases(timer: _Timer, cases: Sequence[BenchCase], device: Any, dtype: Any, roofs: GpuRoofs,
                progress: Progress) -> tuple[list[TimingSample], dict[tuple, tuple[float, float]], list[str]]:
    """(timing samples, case key -> (GPU s, host s), skipped cases) for every case that runs; a case that fails
    (out of memory, an unsupported shape, ...) is skipped with its reason."""
    import torch

    from hwmap.calibrate.fit import TimingSample

    timing: list[TimingSample] = []
    measured: dict[tuple, tuple[float, float]] = {}
    skipped: list[str] = []
    progress.phase("timing kernels", len(cases))
    for case in cases:
        try:
            gpu_s, host_s = timer.time(build_callable(case, device, dtype))
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # OOM, an unsupported shape, ...
            skipped.append(f"{case.fit_class} {case.op} ({case.label}): {type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:120]}")
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            progress.advance()
            continue
        measured[case.key] = (gpu_s, host_s)
        # the timing loop re-runs the kernel on the same buffers: every operand, weights too, may stay in L2
        timing.append(TimingSample(case.fit_class, case.flops, case.bytes_, case.elements, gpu_s, host_s,
                                   roofs.peak_for(case.fit_class), roofs.bandwidth_bytes_per_s, case.label,
                                   dram_bytes=dram_bytes_after_l2(case.bytes_, 0.0, roofs.l2_bytes),
                                   l2_bandwidth_bytes_per_s=roofs.l2_bandwidth_bytes_per_s))
        progress.advance()
    return timing, measured, skipped


def _power_loops(plan: CalibrationPlan, measured: dict[tuple, tuple[float, float]], meter: Any, device: Any,
                 dtype: Any, roofs: GpuRoofs, progress: Progress) -> list[PowerSample]:
    """Energy of each power case run back to back for plan.power_loop_s (cases that did not time are left out)."""
    import torch

    from hwmap.calibrate.fit import PowerSample

    progress.phase("power loops", len(plan.power_cases))
    power: list[PowerSample] = []
    for case in plan.power_cases:
        if case.key not in measured:
            progress.advance()
            continue
        gpu_s, host_s = measured[case.key]
        fn = build_callable(case, device, dtype)
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
    return power


def _extract_graphs(models: Sequence[str], batches: Sequence[int], progress: Progress) -> list[LayerGraph]:
    from hwmap.graph.extract import extract_graph

    progress.phase("extracting layer graphs", len(models) * len(batches))
    graphs = []
    for model in models:
        for batch in batches:
            graphs.append(extract_graph(model, batch=batch))
            progress.advance()
    return graphs


# ----------------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------------


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
    import torch

    progress = progress or SilentProgress()
    started = time.perf_counter()
    dev = require_cuda(device, command="calibrate")
    tdtype = torch_dtype(dtype)
    acc = resolve_accel(accel, torch.cuda.get_device_name(dev))
    roofs = gpu_roofs(acc, dtype=dtype, tf32=tf32)
    meter = open_meter(dev)
    try:
        if graphs is None:
            graphs = _extract_graphs(models, batches, progress)
        plan = plan_calibration(graphs, quick=quick, dtype=dtype, accel=acc, models=models, batches=batches)
        progress.note(f"planned: {plan.describe()}")
        torch.cuda.set_device(dev)
        set_backend_flags(tf32)
        _warm_up(dev, tdtype)
        state_before = meter.state()
        view_s, module_s = _host_view_and_module_s(dev)
        timer = _Timer(target_s=plan.timing_target_s, repeats=plan.repeats)
        timing, measured, skipped = _time_cases(timer, plan.cases, dev, tdtype, roofs, progress)
        progress.phase("timing a mixed operator sequence", 1)
        factor = _dispatch_factor(dev, tdtype, timer, plan.cases, measured)
        progress.advance()
        progress.phase("measuring idle power", 1)
        idle_w, quiet_w = _idle_power_w(dev, meter, plan.idle_s)
        progress.advance()
        power = _power_loops(plan, measured, meter, dev, tdtype, roofs, progress)
        state_after = meter.state()
        measurements = CalibrationMeasurements(
            timing=timing, power=power, skipped=skipped, host_dispatch_factor=factor, host_view_s=view_s,
            host_module_s=module_s, idle_power_w=idle_w, quiescent_power_w=quiet_w,
            device=device_record(dev, meter), state_before=state_before, state_after=state_after)
    finally:
        meter.close()
    return calibration_from_measurements(measurements, plan, acc, dtype=dtype, tf32=tf32, started_s=started,
                                         progress=progress)
