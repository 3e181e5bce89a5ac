"""The calibration run and `hwmap measure`, wired end to end on the CPU: torch.cuda's timing and device calls are
stood in for (CUDA events read the host clock, the sleep kernel does nothing) and the NVML meter is a constant-power
meter, so every step of run_calibration / measure_model runs here as on a card. What a real GPU measures is checked
by the gpu-marked tests (tests/test_gpu_cli.py) and experiments/gpu_check.sh."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from conftest import traced

from hwmap.calibrate import measure, runner
from hwmap.calibrate.meter import EnergyReading
from hwmap.hardware import load_accelerator
from hwmap.hardware.calibration import load_calibration, save_calibration
from hwmap.hardware.gpu_schema import FIT_CLASSES

DEVICE_NAME = "NVIDIA H100 80GB HBM3"  # the name h100_sxm's template matches
ACTIVE_W, IDLE_W = 300.0, 80.0


def test_the_measurement_modules_import_no_torch() -> None:
    modules = ["bench", "cases", "kernels", "runner", "measure", "recording"]
    code = ("import sys\n"
            + "".join(f"import hwmap.calibrate.{m}\n" for m in modules)
            + "print(sorted(m for m in ('torch', 'pynvml', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class _Event:
    """torch.cuda.Event on the host clock."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.t = 0.0

    def record(self) -> None:
        self.t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: _Event) -> float:
        return (end.t - self.t) * 1e3  # ms, as CUDA events give it


class _Meter:
    """A meter that records each window, at the watts queued in ``window_w`` (then ACTIVE_W), with NVML-like state
    and info."""

    method = "counter"

    def __init__(self) -> None:
        self.window_w: list[float] = []
        self.windows: list[EnergyReading] = []
        self.closed = False
        self._t0: float | None = None

    def start(self) -> None:
        assert self._t0 is None, "start() twice"
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        assert self._t0 is not None, "stop() without start()"
        elapsed = time.perf_counter() - self._t0
        self._t0 = None
        watts = self.window_w.pop(0) if self.window_w else ACTIVE_W
        reading = EnergyReading(energy_j=watts * elapsed, elapsed_s=elapsed, method=self.method)
        self.windows.append(reading)
        return reading

    def state(self) -> dict:
        return {"sm_clock_mhz": 1980.0, "mem_clock_mhz": 2619.0, "temperature_c": 40.0, "power_w": IDLE_W,
                "throttle_reasons": []}

    def info(self) -> dict:
        return {"name": DEVICE_NAME, "uuid": "GPU-0000", "driver_version": "test", "energy_method": self.method}

    def close(self) -> None:
        self.closed = True


class _Progress:
    def __init__(self) -> None:
        self.phases: list[str] = []
        self.notes: list[str] = []

    def phase(self, name: str, total: int) -> None:
        self.phases.append(name)

    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


@pytest.fixture
def cpu_as_cuda(monkeypatch) -> _Meter:
    """torch.cuda's device, timing and sleep calls on the CPU; the NVML meter a _Meter."""
    meter = _Meter()
    cpu = torch.device("cpu")
    properties = SimpleNamespace(name=DEVICE_NAME, major=9, minor=0, multi_processor_count=132,
                                 total_memory=80 * 2**30)
    for module in (runner, measure):
        monkeypatch.setattr(module, "require_cuda", lambda device, command="calibrate": cpu)
        monkeypatch.setattr(module, "open_meter", lambda device: meter)
    for name, value in (("get_device_name", lambda device=None: DEVICE_NAME),
                        ("get_device_properties", lambda device=None: properties),
                        ("set_device", lambda device: None), ("synchronize", lambda device=None: None),
                        ("empty_cache", lambda: None), ("_sleep", lambda cycles: None), ("Event", _Event)):
        monkeypatch.setattr(torch.cuda, name, value)
    return meter


def test_a_calibration_run_goes_through_every_step_and_writes_a_valid_file(cpu_as_cuda, monkeypatch,
                                                                           tmp_path) -> None:
    planned = runner.plan_calibration

    def small_plan(graphs, **kwargs):  # the smallest case of each class, short power and idle windows
        plan = planned(graphs, **kwargs)
        cases = tuple(min((c for c in plan.cases if c.fit_class == cls), key=lambda c: (c.flops, c.bytes_))
                      for cls in FIT_CLASSES)
        return dataclasses.replace(plan, cases=cases, power_cases=cases[:3], power_loop_s=0.05, idle_s=0.05)

    monkeypatch.setattr(runner, "plan_calibration", small_plan)
    warmed = []  # (a second of 4096 x 4096 matmuls is minutes on this CPU)
    monkeypatch.setattr(runner, "_warm_up", lambda device, dtype: warmed.append((device, dtype)))
    cpu_as_cuda.window_w = [IDLE_W - 10, IDLE_W]  # quiescent, then clocked up with one-element kernels
    progress = _Progress()
    run = runner.run_calibration(device="cuda:0", quick=True, dtype="fp32", graphs=[traced("resnet18")],
                                 models=["resnet18"], batches=[1], progress=progress)
    assert progress.phases == ["timing kernels", "timing a mixed operator sequence", "measuring idle power",
                               "power loops", "fitting"]
    assert progress.notes and progress.notes[0].startswith("planned: 14 microbenchmarks over 14 kernel classes")
    assert cpu_as_cuda.closed
    # windows: idle (quiescent, then clocked up), then one per power case
    assert len(cpu_as_cuda.windows) == 2 + 3
    calibration = run.calibration
    assert calibration.accelerator == "h100_sxm" and calibration.device.name == DEVICE_NAME
    assert calibration.device.state_before.power_w == IDLE_W and calibration.device.driver_version == "test"
    assert warmed == [(torch.device("cpu"), torch.float32)]
    assert calibration.idle_power_w == pytest.approx(IDLE_W)
    assert calibration.idle_power_quiescent_w == pytest.approx(IDLE_W - 10)
    assert len(run.timing) + len(run.skipped) == 14 == calibration.settings.timing_cases + len(run.skipped)
    assert calibration.settings.power_loops == len(run.power) == 3
    assert calibration.settings.dtype == "fp32" and calibration.settings.models == ["resnet18"]
    assert 0.8 <= calibration.host_dispatch_factor <= 3.0
    assert set(calibration.classes) == set(FIT_CLASSES)
    assert all(t.gpu_s > 0 and t.host_s > 0 for t in run.timing)
    back = load_calibration(save_calibration(calibration, tmp_path / "c.yaml"))
    assert back.classes == calibration.classes


@pytest.mark.filterwarnings("ignore:CUDA is not available, disabling CUDA profiling")
def test_measuring_a_model_goes_through_every_step(cpu_as_cuda) -> None:
    progress = _Progress()
    result = measure.measure_model("resnet18", device="cuda:0", input_chw=(3, 64, 64), dtype="fp32", reps=3,
                                   energy_s=0.05, accel=load_accelerator("h100_sxm"), progress=progress)
    assert progress.phases == ["building the model and its layer graph", "timing inferences", "measuring energy",
                               "profiling kernels per module"]
    assert cpu_as_cuda.closed and len(cpu_as_cuda.windows) == 1
    window = cpu_as_cuda.windows[0]
    iterations = max(3, math.ceil(0.05 / result.latency_s))
    assert result.energy_j == pytest.approx(window.energy_j / iterations)
    assert result.average_power_w == pytest.approx(ACTIVE_W)
    assert 0 < result.latency_p10_s <= result.latency_s <= result.latency_p90_s
    assert result.device["name"] == DEVICE_NAME and result.state_before["power_w"] == IDLE_W
    assert result.input_chw == (3, 64, 64) and result.accelerator == "h100_sxm"
    # estimated kernel time per module (depth 3) adds up to the estimate's total kernel time
    assert sum(m.estimated_s for m in result.modules) == pytest.approx(result.estimated_kernel_s)
    assert {m.module.split(".")[0] for m in result.modules} >= {"layer1", "fc"}
    json.dumps(result.to_dict())
