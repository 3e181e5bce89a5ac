"""Energy and device state of an NVIDIA GPU through NVML: the only module in hwmap that imports pynvml.

pynvml (package nvidia-ml-py) is imported inside :func:`load_pynvml`, never at module import, so importing hwmap
(or this module) works on machines without a driver.

How energy is measured, in order of preference:

1. **counter**: ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver loaded; Volta and newer).
   A live probe checks that it moves before it is trusted.
2. **power-instant**: ``nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)`` polled on a thread every few
   milliseconds and integrated over time with the trapezoid rule.
3. **power-usage**: ``nvmlDeviceGetPowerUsage`` polled the same way, only before Ampere, where it is an
   instantaneous reading. On Ampere and newer it is a 1-second average, which cannot measure sub-second windows:
   it is never used for energy there.

Every NVML error becomes a one-line :class:`~hwmap.calibrate.meter.MeterError` that says what went wrong and
what to do (:func:`translate_nvml_error`): no driver, no GPU, a MIG slice, no counter, permissions, ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from hwmap.calibrate.meter import (
    EnergyCounterUnsupportedError,
    EnergyReading,
    MeterError,
    MigDeviceError,
    NoGpuError,
    NvmlError,
    NvmlUnavailableError,
)

__all__ = [
    "NVML_ERRORS",
    "NvmlMeter",
    "decode_throttle_reasons",
    "load_pynvml",
    "translate_nvml_error",
]

# NVML return codes (nvml.h, stable across driver versions) -> (error class, what it means for the user).
NVML_ERRORS: dict[int, tuple[type[MeterError], str]] = {
    1: (NvmlError, "NVML is not initialised (nvmlInit was not called or failed)"),
    2: (NvmlError, "NVML rejected an argument (a wrong device index or handle)"),
    3: (EnergyCounterUnsupportedError, "this GPU or driver does not support it"),
    4: (NvmlError, "permission denied: the process needs access to /dev/nvidia* (run in the video group or "
                   "expose the GPU to the container)"),
    5: (NvmlError, "NVML was already initialised"),
    6: (NoGpuError, "NVML found no such GPU (check the device index and CUDA_VISIBLE_DEVICES)"),
    7: (NvmlError, "an NVML buffer was too small (update nvidia-ml-py)"),
    8: (NvmlError, "the GPU's external power cables are not connected properly"),
    9: (NvmlUnavailableError, "the NVIDIA kernel driver is not loaded (no usable GPU driver on this machine; "
                              "nvidia-smi fails too)"),
    10: (NvmlError, "NVML timed out"),
    11: (NvmlError, "the NVIDIA kernel driver reported an interrupt problem with the GPU"),
    12: (NvmlUnavailableError, "the NVML library (libnvidia-ml.so / nvml.dll) was not found: no NVIDIA driver is "
                               "installed on this machine"),
    13: (NvmlError, "the installed NVIDIA driver is too old for this NVML function (update the driver)"),
    14: (NvmlError, "the GPU's infoROM is corrupted (contact the system administrator)"),
    15: (NvmlError, "the GPU has fallen off the bus or is otherwise inaccessible (the machine needs a GPU reset)"),
    16: (NvmlError, "the GPU needs a reset before it can be used"),
    17: (NvmlError, "the operating system blocked the request"),
    18: (NvmlUnavailableError, "the NVML library and the kernel driver have different versions (driver updated "
                               "without a reboot?)"),
    19: (NvmlError, "the GPU is in use by another operation"),
    20: (NvmlError, "NVML ran out of memory"),
    21: (NvmlError, "NVML has no data for this query yet"),
    22: (NvmlError, "ECC is not supported on this vGPU"),
    23: (NvmlError, "the GPU ran out of a resource NVML needed"),
    24: (NvmlError, "the requested frequency is not supported"),
    25: (NvmlError, "the NVML bindings and the driver disagree on a structure version (update nvidia-ml-py or the "
                    "driver)"),
    26: (NvmlError, "the NVML function is deprecated in this driver"),
    27: (NvmlError, "the GPU is not ready yet (still initialising): retry"),
    28: (NoGpuError, "NVML found no GPU on this machine"),
    29: (NvmlError, "the GPU is in an invalid state for this operation"),
    30: (NvmlError, "the reset type is not supported"),
    999: (NvmlError, "an unknown NVML error occurred"),
}

ARCH_NAMES = {2: "kepler", 3: "maxwell", 4: "pascal", 5: "volta", 6: "turing", 7: "ampere", 8: "ada", 9: "hopper",
              10: "blackwell"}
_ARCH_AMPERE = 7
_FI_DEV_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT (nvml.h)
_MIG_ENABLED = 1  # NVML_DEVICE_MIG_ENABLE

THROTTLE_REASONS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap", 0x8: "hw_slowdown",
    0x10: "sync_boost", 0x20: "sw_thermal_slowdown", 0x40: "hw_thermal_slowdown", 0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


def decode_throttle_reasons(mask: int) -> list[str]:
    """NVML clock-event (throttle) reason bits -> names; unknown bits as hex."""
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    rest = mask & ~sum(THROTTLE_REASONS)
    return names + ([f"0x{rest:x}"] if rest else [])


def load_pynvml() -> Any:
    """The pynvml module (imported here and nowhere else in hwmap)."""
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailableError(
            "NVML: the Python bindings are not installed: pip install nvidia-ml-py") from None
    return pynvml


def translate_nvml_error(exc: BaseException, *, action: str) -> MeterError:
    """A pynvml NVMLError -> the hwmap MeterError (one line) saying what failed and what to do."""
    code = getattr(exc, "value", None)
    try:
        detail = " ".join(str(exc).split())
    except Exception:  # str() of an NVMLError calls into the library, which may be missing
        detail = ""
    cls, meaning = NVML_ERRORS.get(code, (NvmlError, "an unrecognised NVML error occurred"))
    suffix = f" (NVML error {code}{': ' + detail if detail else ''})" if code is not None else \
        f" ({detail or type(exc).__name__})"
    return cls(f"NVML: cannot {action}: {meaning}{suffix}")


class _Nvml:
    """pynvml with every call translated into hwmap errors."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def call(self, action: str, name: str, *args: Any) -> Any:
        nv = self.module
        try:
            return getattr(nv, name)(*args)
        except nv.NVMLError as exc:
            raise translate_nvml_error(exc, action=action) from None

    def try_call(self, name: str, *args: Any, default: Any = None) -> Any:
        """A query whose failure only leaves a field empty (state reports)."""
        nv = self.module
        try:
            return getattr(nv, name)(*args)
        except (nv.NVMLError, AttributeError):
            return default


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field_value(field: Any) -> float | None:
    """The number in an nvmlFieldValue_t, or None when the field is not supported."""
    if getattr(field, "nvmlReturn", 0) != 0:
        return None
    value = field.value
    kind = getattr(field, "valueType", 1)
    attr = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}.get(kind, "uiVal")
    return float(getattr(value, attr, value))


Method = Literal["auto", "counter", "power"]


class NvmlMeter:
    """Energy of one NVIDIA GPU between start() and stop(). Open with :meth:`open` (nothing happens in __init__)."""

    def __init__(self, nvml: _Nvml, handle: Any, *, index: int | None, method: str, poll_interval_s: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._nvml = nvml
        self._handle = handle
        self._index = index
        self._method = method
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._t0: float | None = None
        self._e0_mj: float | None = None
        self._samples: list[tuple[float, float]] = []
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._poll_error: BaseException | None = None
        self._closed = False

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, index: int = 0, *, uuid: str | None = None, method: Method = "auto",
             poll_interval_s: float = 0.005, probe_s: float = 0.6,
             clock: Callable[[], float] = time.perf_counter) -> NvmlMeter:
        """Initialise NVML, find the GPU (by CUDA UUID when given, else NVML index), refuse MIG, pick the method.

        ``clock`` (seconds) timestamps the measurement window and the power samples.
        """
        nvml = _Nvml(load_pynvml())
        nvml.call("initialise NVML", "nvmlInit")
        try:
            handle = cls._find(nvml, index, uuid)
            cls._refuse_mig(nvml, handle)
            chosen = cls._choose_method(nvml, handle, method, probe_s)
        except BaseException:
            nvml.try_call("nvmlShutdown")
            raise
        return cls(nvml, handle, index=index, method=chosen, poll_interval_s=poll_interval_s, clock=clock)

    @staticmethod
    def _find(nvml: _Nvml, index: int, uuid: str | None) -> Any:
        if uuid:
            return nvml.call(f"find the GPU with UUID {uuid}", "nvmlDeviceGetHandleByUUID", uuid)
        count = nvml.call("count the GPUs", "nvmlDeviceGetCount")
        if count == 0:
            raise NoGpuError("NVML: no NVIDIA GPU found on this machine")
        if not 0 <= index < count:
            raise NoGpuError(f"NVML: no GPU with index {index}: this machine has {count} (0..{count - 1})")
        return nvml.call(f"open GPU {index}", "nvmlDeviceGetHandleByIndex", index)

    @staticmethod
    def _refuse_mig(nvml: _Nvml, handle: Any) -> None:
        if nvml.try_call("nvmlDeviceIsMigDeviceHandle", handle, default=0):
            raise MigDeviceError("NVML: the device is a MIG slice: NVML reports energy and power for the whole GPU, "
                                 "not the slice; measure on a full GPU (MIG disabled)")
        mode = nvml.try_call("nvmlDeviceGetMigMode", handle)
        current = mode[0] if isinstance(mode, (tuple, list)) and mode else mode
        if current == _MIG_ENABLED:
            raise MigDeviceError("NVML: MIG is enabled on this GPU: its energy counter covers every slice, so one "
                                 "workload's energy cannot be measured; disable MIG (nvidia-smi -mig 0) first")

    @classmethod
    def _choose_method(cls, nvml: _Nvml, handle: Any, method: Method, probe_s: float) -> str:
        if method in ("auto", "counter"):
            reason = cls._probe_counter(nvml, handle, probe_s)
            if reason is None:
                return "counter"
            if method == "counter":
                raise EnergyCounterUnsupportedError(f"NVML: the total-energy counter is unusable: {reason}")
        if cls._read_instant_power_w(nvml, handle) is not None:
            return "power-instant"
        arch = nvml.try_call("nvmlDeviceGetArchitecture", handle)
        if arch is not None and arch < _ARCH_AMPERE:
            try:
                nvml.call("read the power draw", "nvmlDeviceGetPowerUsage", handle)
            except EnergyCounterUnsupportedError:
                pass
            else:
                return "power-usage"
        name = ARCH_NAMES.get(arch, "this") if arch is not None else "this"
        raise EnergyCounterUnsupportedError(
            f"NVML: cannot measure energy on {name} GPU: no total-energy counter and no instantaneous power reading "
            "(only the 1-second averaged power, which cannot measure short windows)")

    @staticmethod
    def _probe_counter(nvml: _Nvml, handle: Any, probe_s: float) -> str | None:
        """None when the energy counter exists and moves; else why not."""
        nv = nvml.module
        try:
            first = nv.nvmlDeviceGetTotalEnergyConsumption(handle)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) == 3:
                return "not supported on this GPU (it needs Volta or newer)"
            raise translate_nvml_error(exc, action="read the total-energy counter") from None
        deadline = time.perf_counter() + probe_s
        while time.perf_counter() < deadline:
            time.sleep(0.02)
            now = nvml.call("read the total-energy counter", "nvmlDeviceGetTotalEnergyConsumption", handle)
            if now > first:
                return None
            if now < first:
                return "it went backwards"
        return f"it did not move in {probe_s:g} s"

    @staticmethod
    def _read_instant_power_w(nvml: _Nvml, handle: Any) -> float | None:
        nv = nvml.module
        try:
            values = nv.nvmlDeviceGetFieldValues(handle, [_FI_DEV_POWER_INSTANT])
        except (nv.NVMLError, AttributeError):
            return None
        value = _field_value(values[0]) if len(values) else None
        return None if value is None else value / 1e3

    # ------------------------------------------------------------------ measuring

    @property
    def method(self) -> str:
        return self._method

    def _read_power_w(self) -> float:
        if self._method == "power-instant":
            value = self._read_instant_power_w(self._nvml, self._handle)
            if value is None:
                raise EnergyCounterUnsupportedError("NVML: the instantaneous power reading stopped working")
            return value
        return self._nvml.call("read the power draw", "nvmlDeviceGetPowerUsage", self._handle) / 1e3

    def _read_counter_mj(self) -> float:
        return float(self._nvml.call("read the total-energy counter", "nvmlDeviceGetTotalEnergyConsumption",
                                     self._handle))

    def start(self) -> None:
        if self._closed:
            raise MeterError("the NVML meter is closed")
        if self._t0 is not None:
            raise MeterError("the meter is already measuring: stop() before start()")
        self._samples = []
        self._poll_error = None
        if self._method == "counter":
            self._e0_mj = self._read_counter_mj()
            self._t0 = self._clock()
            self._samples.append((self._t0, self._e0_mj))
            return
        self._t0 = self._clock()
        self._samples.append((self._t0, self._read_power_w()))
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._poll, name="hwmap-nvml-power", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        try:
            while not self._stop_event.wait(self._poll_interval_s):
                self._samples.append((self._clock(), self._read_power_w()))
        except BaseException as exc:  # surfaced by stop()
            self._poll_error = exc

    def stop(self) -> EnergyReading:
        if self._t0 is None:
            raise MeterError("stop() without start()")
        t0, self._t0 = self._t0, None
        if self._method == "counter":
            e1 = self._read_counter_mj()
            t1 = self._clock()
            self._samples.append((t1, e1))
            assert self._e0_mj is not None
            return EnergyReading(energy_j=(e1 - self._e0_mj) / 1e3, elapsed_s=t1 - t0, method="counter")
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._poll_error is not None:
            error, self._poll_error = self._poll_error, None
            raise error
        t1 = self._clock()
        self._samples.append((t1, self._read_power_w()))
        pairs = zip(self._samples, self._samples[1:], strict=False)
        energy = sum((p0 + p1) / 2 * (s1 - s0) for (s0, p0), (s1, p1) in pairs)  # trapezoid rule
        return EnergyReading(energy_j=energy, elapsed_s=t1 - t0, method=self._method, samples=len(self._samples))

    def recorded_samples(self) -> list[dict[str, float]]:
        """The last window's samples as replay-log records (see hwmap.calibrate.replay.write_log)."""
        if not self._samples:
            return []
        base = self._samples[0][0]
        key = "energy_mj" if self._method == "counter" else "power_w"
        return [{"t_s": t - base, key: v} for t, v in self._samples]

    def close(self) -> None:
        if self._closed:
            return
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._closed = True
        self._nvml.try_call("nvmlShutdown")

    def __enter__(self) -> NvmlMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ device description

    def info(self) -> dict[str, Any]:
        """Static facts: name, UUID, driver, CUDA driver version, architecture, power limit, max clocks."""
        q, h, nv = self._nvml.try_call, self._handle, self._nvml.module
        cuda = q("nvmlSystemGetCudaDriverVersion")
        limit = q("nvmlDeviceGetEnforcedPowerLimit", h)
        arch = q("nvmlDeviceGetArchitecture", h)
        return {
            "name": _as_text(q("nvmlDeviceGetName", h, default="unknown")),
            "uuid": _as_text(q("nvmlDeviceGetUUID", h, default="")),
            "driver_version": _as_text(q("nvmlSystemGetDriverVersion", default="")),
            "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else "",
            "architecture": ARCH_NAMES.get(arch, str(arch)) if arch is not None else "",
            "power_limit_w": limit / 1e3 if isinstance(limit, (int, float)) else None,
            "max_sm_clock_mhz": q("nvmlDeviceGetMaxClockInfo", h, getattr(nv, "NVML_CLOCK_SM", 1)),
            "max_mem_clock_mhz": q("nvmlDeviceGetMaxClockInfo", h, getattr(nv, "NVML_CLOCK_MEM", 2)),
            "energy_method": self._method,
        }

    def state(self) -> dict[str, Any]:
        """What can change during a run: clocks, temperature, power, throttle (clock-event) reasons."""
        q, h, nv = self._nvml.try_call, self._handle, self._nvml.module
        reasons = q("nvmlDeviceGetCurrentClocksEventReasons", h)
        if reasons is None:
            reasons = q("nvmlDeviceGetCurrentClocksThrottleReasons", h)
        power = self._read_instant_power_w(self._nvml, h)
        if power is None:
            usage = q("nvmlDeviceGetPowerUsage", h)
            power = usage / 1e3 if isinstance(usage, (int, float)) else None
        return {
            "sm_clock_mhz": q("nvmlDeviceGetClockInfo", h, getattr(nv, "NVML_CLOCK_SM", 1)),
            "mem_clock_mhz": q("nvmlDeviceGetClockInfo", h, getattr(nv, "NVML_CLOCK_MEM", 2)),
            "temperature_c": q("nvmlDeviceGetTemperature", h, getattr(nv, "NVML_TEMPERATURE_GPU", 0)),
            "power_w": power,
            "throttle_reasons": decode_throttle_reasons(int(reasons)) if isinstance(reasons, int) else [],
        }
