"""GPU calibration files: what ``hwmap calibrate`` measured and fitted on one card, read by hwmap.cost.gpu.

The data model lives in hardware/ (beside the templates it calibrates) so that cost/ can read it without
importing calibrate/, which measures and fits (and imports cost/).

A calibration file is strict YAML (unknown and duplicate keys rejected, like templates) holding:

- the template it was fitted against (``accelerator``) and the device it was measured on (name, driver, CUDA,
  torch and cuDNN versions, clocks, temperature and throttle reasons before and after);
- ``idle_power_w`` (CUDA context open, GPU clocked up but idle) and host overheads (views, module calls);
- per fit class (hwmap.hardware.gpu_schema.FIT_CLASSES): the fitted efficiencies, half-saturation size, launch
  and host overheads, dynamic power, the sample counts and the fit error;
- a UTC timestamp.

``<template>.calibration.yaml`` beside a template (``accelerators/gpu/h100_sxm.calibration.yaml``) is found by
:func:`find_calibration`; the catalog does not list it as a template (a dotted stem is not a template name).
Pure pydantic + PyYAML: no torch, no NVML.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, field_validator

from hwmap.errors import HwmapError
from hwmap.fileio import atomic_write_text
from hwmap.hardware.gpu_schema import FIT_CLASSES
from hwmap.hardware.schema import StrictModel
from hwmap.yamlio import dump_yaml

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.hardware.schema import Accelerator

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

CALIBRATION_SUFFIX = ".calibration.yaml"


class CalibrationFileError(HwmapError):
    """A calibration file that is missing, not YAML, or does not match the calibration schema."""


class DeviceState(StrictModel):
    """Clocks, temperature, power and throttle reasons at one moment (NVML)."""

    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)


class DeviceRecord(StrictModel):
    """The card and software stack a calibration was measured on."""

    name: str
    uuid: str = ""
    architecture: str = ""
    compute_capability: str = ""
    sm_count: int | None = None
    memory_bytes: int | None = None
    driver_version: str = ""
    cuda_driver_version: str = ""
    cuda_runtime_version: str = ""
    torch_version: str = ""
    cudnn_version: str = ""
    energy_method: str = ""
    power_limit_w: float | None = None
    max_sm_clock_mhz: float | None = None
    max_mem_clock_mhz: float | None = None
    state_before: DeviceState | None = None
    state_after: DeviceState | None = None


class CalibrationSettings(StrictModel):
    dtype: str
    tf32: bool
    quick: bool
    models: list[str] = Field(default_factory=list)
    batches: list[int] = Field(default_factory=list)
    timing_cases: int = Field(default=0, ge=0)
    power_loops: int = Field(default=0, ge=0)
    duration_s: float = Field(default=0.0, ge=0)
    amp: bool = Field(default=False, description="fitted to a model run under torch.autocast (timm's AMP tables); "
                                                 "estimates with this calibration then assume autocast too")


class CalibratedClass(StrictModel):
    """Fitted coefficients of one kernel class (same meaning as the template priors, power in watts)."""

    compute_eff_frac: float = Field(gt=0, le=1)
    memory_eff_frac: float = Field(gt=0, le=4)
    half_saturation_elements: float = Field(ge=0, le=1e12)
    launch_overhead_us: float = Field(ge=0, le=10_000)
    host_overhead_us: float = Field(ge=0, le=100_000)
    dynamic_power_w: float = Field(ge=0, le=10_000)
    samples: int = Field(ge=0)
    power_samples: int = Field(default=0, ge=0)
    fit_error_pct: float | None = Field(default=None, ge=0, description="RMS relative error of the time fit")
    mape_pct: float | None = Field(default=None, ge=0, description="mean absolute percentage error of the fit")
    from_prior: list[str] = Field(default_factory=list, description="coefficients the samples did not determine")


class GpuCalibration(StrictModel):
    """A calibration file's content. ``source`` (not written) is the file it was read from."""

    schema_version: Literal[1]
    kind: Literal["gpu_calibration"]
    accelerator: str = Field(min_length=1)
    created_utc: str = Field(min_length=1)
    device: DeviceRecord
    settings: CalibrationSettings
    idle_power_w: float = Field(ge=0, le=10_000)
    idle_power_quiescent_w: float | None = Field(default=None, ge=0, le=10_000)
    host_view_us: float = Field(ge=0, le=10_000)
    host_module_us: float = Field(ge=0, le=10_000)
    host_dispatch_factor: float = Field(default=1.0, gt=0, le=10, description=(
        "host time of a mixed operator sequence / the sum of the same operators' tight-loop host times; the host "
        "overheads in this file already include it"))
    classes: dict[str, CalibratedClass]
    notes: list[str] = Field(default_factory=list)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: dict[str, CalibratedClass]) -> dict[str, CalibratedClass]:
        unknown = sorted(set(value) - set(FIT_CLASSES))
        if unknown:
            raise ValueError(f"unknown kernel class(es) {', '.join(unknown)} (known: {', '.join(FIT_CLASSES)})")
        return value

    @property
    def template_name(self) -> str:
        return self.accelerator.split("[", 1)[0]


def dump_calibration(calibration: GpuCalibration) -> str:
    """YAML text of a calibration (the inverse of :func:`load_calibration`)."""
    data = calibration.model_dump(mode="json")
    header = (f"# hwmap GPU calibration of {calibration.device.name} against template {calibration.accelerator!r}\n"
              f"# written by `hwmap calibrate` at {calibration.created_utc}; read by hwmap.cost.gpu.estimate_gpu\n")
    return header + dump_yaml(data, default_flow_style=False, width=120)


def save_calibration(calibration: GpuCalibration, path: str | os.PathLike[str]) -> Path:
    """Write atomically (a temporary file, then a rename): a crash never leaves half a calibration."""
    return atomic_write_text(path, dump_calibration(calibration))


def load_calibration(path: str | os.PathLike[str]) -> GpuCalibration:
    """Read and validate a calibration file, or raise ONE CalibrationFileError naming the file and field."""
    from hwmap.yamlio import parse_yaml_text

    shown = str(path)
    file = Path(path)
    if not file.is_file():
        raise CalibrationFileError(f"{shown}: no such calibration file" if not file.exists()
                                   else f"{shown}: not a file, expected a calibration YAML")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"{shown}: cannot read the calibration file: {exc}") from None
    from hwmap.fileio import check_nesting

    check_nesting(text, origin=shown, error=CalibrationFileError)  # PyYAML's C parser crashes on deep nesting
    data, _ = parse_yaml_text(text, source=shown, error=CalibrationFileError)
    if not isinstance(data, dict) or data.get("kind") != "gpu_calibration":
        got = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise CalibrationFileError(f"{shown}: not a GPU calibration file (kind: gpu_calibration expected, got {got!r})")
    try:
        calibration = GpuCalibration.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{shown}: {where}: {message}")
        raise CalibrationFileError("; ".join(problems)) from None
    return calibration.model_copy(update={"source": shown})


def calibration_path_for(accel: Accelerator | str) -> Path | None:
    """Where the calibration of a template lives: ``<template folder>/<name>.calibration.yaml`` (may not exist).

    None when the template is not a file on disk (e.g. a template built from a dict).
    """
    from hwmap.hardware.catalog import catalog_entries, templates_root

    if isinstance(accel, str):
        name, source = accel, None
        if accel.endswith((".yaml", ".yml")) or os.sep in accel or "/" in accel:
            name, source = Path(accel).stem, accel
    else:
        name, source = accel.name, accel.source
    base = name.split("[", 1)[0]
    if source and Path(source).is_file():
        return Path(source).with_name(base + CALIBRATION_SUFFIX)
    entry = catalog_entries().get(base)
    relpath = entry.relpath if entry is not None else source
    if not relpath:
        return None
    root = templates_root()
    folder = Path(str(root)) / Path(relpath).parent
    return folder / (base + CALIBRATION_SUFFIX) if folder.is_dir() else None


def find_calibration(accel: Accelerator | str) -> Path | None:
    """The calibration file beside a template (``<name>.calibration.yaml``) when one exists, else None."""
    path = calibration_path_for(accel)
    return path if path is not None and path.is_file() else None
