"""The energy-meter interface (after Zeus: a small meter, vendor errors translated, replayed logs for tests).

A meter measures the energy a device used between :meth:`EnergyMeter.start` and :meth:`EnergyMeter.stop`:

    meter.start()
    run_the_work()
    reading = meter.stop()   # EnergyReading(energy_j=..., elapsed_s=..., method=...)

Implementations: :class:`hwmap.calibrate.nvml.NvmlMeter` (a real NVIDIA GPU through NVML; the only code that
imports pynvml) and :class:`hwmap.calibrate.replay.ReplayMeter` (plays back a recorded log, for tests).

Every failure is a :class:`MeterError` (a HwmapError): the CLI prints it on one line and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from hwmap.errors import HwmapError

__all__ = [
    "EnergyCounterUnsupportedError",
    "EnergyMeter",
    "EnergyReading",
    "MeterError",
    "MeterMethod",
    "MigDeviceError",
    "NoCudaError",
    "NoGpuError",
    "NvmlError",
    "NvmlUnavailableError",
    "ReplayLogError",
]


class MeterError(HwmapError):
    """Energy or timing cannot be measured."""


class NvmlUnavailableError(MeterError):
    """No NVIDIA driver / NVML library on this machine (or the Python bindings are missing)."""


class NoGpuError(MeterError):
    """NVML works but the requested GPU does not exist."""


class MigDeviceError(MeterError):
    """The GPU is partitioned with MIG: NVML reports power for the whole GPU, not for the slice."""


class EnergyCounterUnsupportedError(MeterError):
    """Neither the total-energy counter nor instantaneous power can be read on this GPU."""


class NvmlError(MeterError):
    """Any other NVML failure (permissions, a lost GPU, a driver/library mismatch, ...)."""


class NoCudaError(MeterError):
    """PyTorch cannot use a CUDA device (CPU-only build, no driver, or no such device)."""


class ReplayLogError(MeterError):
    """A recorded energy log that cannot be read or replayed."""


MeterMethod = Literal["counter", "power-instant", "power-usage", "replay-counter", "replay-power"]


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """Energy used between start and stop, the wall time it covers and how it was obtained.

    method: "counter" (NVML total-energy counter difference), "power-instant" (instantaneous power polled and
    integrated with the trapezoid rule), "power-usage" (nvmlDeviceGetPowerUsage polled, only where it is an
    instantaneous reading), or "replay-*" for recorded logs.
    """

    energy_j: float
    elapsed_s: float
    method: str
    samples: int = 0  # power samples integrated (0 for counter differences)

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {"energy_j": self.energy_j, "elapsed_s": self.elapsed_s, "method": self.method,
                "samples": self.samples, "average_power_w": self.average_power_w}


@runtime_checkable
class EnergyMeter(Protocol):
    """Measures the energy of a device between start() and stop()."""

    @property
    def method(self) -> str:
        """How energy is obtained ("counter", "power-instant", ...)."""
        ...

    def start(self) -> None:
        """Begin a measurement window (raises MeterError when one is already open)."""
        ...

    def stop(self) -> EnergyReading:
        """End the window and return the energy used in it (raises MeterError without a start)."""
        ...

    def close(self) -> None:
        """Release the device (idempotent)."""
        ...
