"""GPU measurement, by one name: the calibration run (`hwmap calibrate`) and real-model measurement (`hwmap measure`).

The work is split by responsibility; this module re-exports the public names so that ``hwmap.calibrate.bench.X``
(hwmap.api, scripts) keeps one stable address:

- cases.py       what is measured: BenchCase, the models' and synthetic shapes, the CalibrationPlan (pure Python)
- kernels.py     a case as a GPU kernel (build_callable), the torch dtypes of measured runs
- runner.py      the device checks, timing and power loops, idle power, run_calibration; the Progress protocol
- measure.py     measure_model: latency, energy and per-module profile of a real model, materialize
- recording.py   what measurements become: CalibrationRun/GpuCalibration, MeasureResult, ModuleTime, device record

Importing any of them imports no torch: torch is imported inside the functions that run on the GPU.
"""

from __future__ import annotations

from hwmap.calibrate.cases import (
    DEFAULT_BATCHES,
    DEFAULT_MODELS,
    BenchCase,
    CalibrationPlan,
    cases_from_graph,
    plan_calibration,
    synthetic_cases,
)
from hwmap.calibrate.kernels import build_callable
from hwmap.calibrate.measure import materialize, measure_model
from hwmap.calibrate.recording import CalibrationRun, MeasureResult, ModuleTime, module_kernel_times
from hwmap.calibrate.runner import Progress, parse_device, require_cuda, run_calibration

__all__ = [
    "DEFAULT_BATCHES",
    "DEFAULT_MODELS",
    "BenchCase",
    "CalibrationPlan",
    "CalibrationRun",
    "MeasureResult",
    "ModuleTime",
    "Progress",
    "build_callable",
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
