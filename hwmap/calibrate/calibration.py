"""The calibration file model moved to hwmap.hardware.calibration (DESIGN.md: calibration file models live in
hardware/, so that cost/ reads them without importing calibrate/); this module re-exports it for calibrate's
callers."""

from hwmap.hardware.calibration import (
    CalibratedClass,
    CalibrationFileError,
    CalibrationSettings,
    DeviceRecord,
    DeviceState,
    GpuCalibration,
    calibration_path_for,
    dump_calibration,
    find_calibration,
    load_calibration,
    save_calibration,
)

__all__ = [
    "CalibratedClass",
    "CalibrationFileError",
    "CalibrationSettings",
    "DeviceRecord",
    "DeviceState",
    "GpuCalibration",
    "calibration_path_for",
    "dump_calibration",
    "find_calibration",
    "load_calibration",
    "save_calibration",
]
