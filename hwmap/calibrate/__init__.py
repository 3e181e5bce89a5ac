"""Measuring a real GPU and fitting hwmap's GPU model to it (the only code that touches a GPU or NVML).

- meter.py        EnergyMeter protocol, EnergyReading, the MeterError family (no driver, no GPU, MIG, no counter)
- nvml.py         NvmlMeter: NVML total-energy counter, or instantaneous power integrated (the only pynvml import)
- replay.py       ReplayMeter: plays back a recorded JSON-lines energy log (tests)
- cases.py        what a calibration times: one BenchCase per operator shape (models' and synthetic), the plan
- kernels.py      a case as a GPU kernel (torch imported inside)
- runner.py       timing and power loops, idle power, run_calibration (`hwmap calibrate`)
- measure.py      measure_model (`hwmap measure`): real latency, energy, per-module GPU time
- recording.py    measurements -> GpuCalibration, MeasureResult; the device record
- bench.py        the public names of the five above, at one address
- fit.py          least-squares fit of the per-class coefficients, dynamic power from measured energy
- table.py        calibration from a table of published whole-model step times (no GPU): timeline plans, robust fit
The calibration file model (load_calibration, save_calibration, find_calibration) lives in
hwmap.hardware.calibration, so that cost/ reads it without importing calibrate/; it is re-exported here.

Names are re-exported lazily: importing hwmap.calibrate imports neither torch, nor pynvml, nor scipy.
"""

from __future__ import annotations

import importlib

_FILE = "hwmap.hardware.calibration"
_EXPORTS = {
    "EnergyMeter": "meter", "EnergyReading": "meter", "MeterError": "meter", "NvmlUnavailableError": "meter",
    "NoGpuError": "meter", "MigDeviceError": "meter", "EnergyCounterUnsupportedError": "meter",
    "NvmlError": "meter", "NoCudaError": "meter", "ReplayLogError": "meter",
    "NvmlMeter": "nvml", "translate_nvml_error": "nvml",
    "ReplayMeter": "replay", "EnergyLog": "replay", "read_log": "replay", "write_log": "replay",
    "GpuCalibration": _FILE, "CalibrationFileError": _FILE, "load_calibration": _FILE, "save_calibration": _FILE,
    "find_calibration": _FILE, "dump_calibration": _FILE,
    "TimingSample": "fit", "PowerSample": "fit", "fit_time_class": "fit", "fit_all": "fit",
    "fit_table": "table", "read_table": "table", "timeline_plan": "table", "calibrate_from_table": "table",
    "run_calibration": "runner", "measure_model": "measure", "CalibrationPlan": "cases", "plan_calibration": "cases",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hwmap.calibrate' has no attribute {name!r}")
    return getattr(importlib.import_module(module if module == _FILE else f"hwmap.calibrate.{module}"), name)
