"""The NVML meter, driven by a fake pynvml module: every NVML error becomes a clear one-line hwmap error."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

import hwmap
from hwmap.calibrate import nvml
from hwmap.calibrate.meter import (
    EnergyCounterUnsupportedError,
    EnergyMeter,
    MeterError,
    MigDeviceError,
    NoGpuError,
    NvmlError,
    NvmlUnavailableError,
)
from hwmap.calibrate.nvml import NVML_ERRORS, NvmlMeter, decode_throttle_reasons, translate_nvml_error
from hwmap.errors import HwmapError


class FakeNVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"fake error string {self.value}"


class _Value:
    def __init__(self, ui: int) -> None:
        self.uiVal = ui


class _Field:
    def __init__(self, milliwatts: int | None) -> None:
        self.nvmlReturn = 0 if milliwatts is not None else 3
        self.valueType = 1
        self.value = _Value(milliwatts or 0)


def fake_pynvml(*, init_error=None, count=1, counter=None, instant_w=None, usage_mw=None, arch=9, mig=0,
                mig_handle=False, counter_error=3):
    """A pynvml stand-in. counter / instant_w: callables (None = not supported)."""
    mod = types.ModuleType("pynvml")
    mod.NVMLError = FakeNVMLError
    mod.NVML_CLOCK_SM, mod.NVML_CLOCK_MEM, mod.NVML_TEMPERATURE_GPU = 1, 2, 0
    calls = {"shutdown": 0}

    def raise_(code):
        raise FakeNVMLError(code)

    def init():
        if init_error is not None:
            raise_(init_error)

    def shutdown():
        calls["shutdown"] += 1

    def energy(_handle):
        if counter is None:
            raise_(counter_error)
        return counter()

    def fields(_handle, ids):
        return [_Field(int(instant_w() * 1000) if instant_w is not None else None) for _ in ids]

    def usage(_handle):
        if usage_mw is None:
            raise_(3)
        return usage_mw

    mod.nvmlInit = init
    mod.nvmlShutdown = shutdown
    mod.nvmlDeviceGetCount = lambda: count
    mod.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    mod.nvmlDeviceGetHandleByUUID = lambda u: ("handle", u)
    mod.nvmlDeviceIsMigDeviceHandle = lambda h: int(mig_handle)
    mod.nvmlDeviceGetMigMode = lambda h: [mig, mig]
    mod.nvmlDeviceGetTotalEnergyConsumption = energy
    mod.nvmlDeviceGetFieldValues = fields
    mod.nvmlDeviceGetPowerUsage = usage
    mod.nvmlDeviceGetArchitecture = lambda h: arch
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    mod.nvmlDeviceGetUUID = lambda h: "GPU-1234"
    mod.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    mod.nvmlSystemGetCudaDriverVersion = lambda: 12040
    mod.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700000
    mod.nvmlDeviceGetMaxClockInfo = lambda h, clock: 1980 if clock == 1 else 2619
    mod.nvmlDeviceGetClockInfo = lambda h, clock: 1755 if clock == 1 else 2619
    mod.nvmlDeviceGetTemperature = lambda h, sensor: 41
    mod.nvmlDeviceGetCurrentClocksEventReasons = lambda h: 0x1 | 0x4
    mod.calls = calls
    return mod


@pytest.fixture
def install(monkeypatch):
    def put(mod):
        monkeypatch.setitem(sys.modules, "pynvml", mod)
        return mod
    return put


def _counter(start=5_000_000, step=7):
    state = {"value": start}

    def read():
        state["value"] += step
        return state["value"]
    return read


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("code", sorted(NVML_ERRORS))
def test_every_nvml_error_becomes_a_clear_hwmap_error(install, code: int) -> None:
    install(fake_pynvml(init_error=code))
    with pytest.raises(MeterError) as info:
        NvmlMeter.open(0)
    expected_class, meaning = NVML_ERRORS[code]
    error = info.value
    assert type(error) is expected_class
    assert isinstance(error, HwmapError)
    message = str(error)
    assert message.startswith("NVML: cannot initialise NVML: ")
    assert meaning in message and f"NVML error {code}" in message
    assert "\n" not in message


@pytest.mark.parametrize(("code", "cls", "fragment"), [
    (12, NvmlUnavailableError, "no NVIDIA driver is installed"),  # NVMLError_LibraryNotFound
    (9, NvmlUnavailableError, "driver is not loaded"),  # NVMLError_DriverNotLoaded
    (28, NoGpuError, "found no GPU"),  # NVMLError_GPUNotFound
    (3, EnergyCounterUnsupportedError, "does not support"),  # NVMLError_NotSupported
    (4, NvmlError, "permission denied"),
    (18, NvmlUnavailableError, "different versions"),
])
def test_the_important_nvml_errors(code, cls, fragment) -> None:
    error = translate_nvml_error(FakeNVMLError(code), action="read the energy counter")
    assert type(error) is cls and fragment in str(error)
    assert str(error).startswith("NVML: cannot read the energy counter: ")


def test_an_unknown_nvml_code_is_still_one_line() -> None:
    error = translate_nvml_error(FakeNVMLError(4242), action="do it")
    assert type(error) is NvmlError
    assert "unrecognised NVML error" in str(error) and "4242" in str(error)


def test_missing_bindings_say_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    with pytest.raises(NvmlUnavailableError, match="pip install nvidia-ml-py"):
        NvmlMeter.open(0)


def test_no_gpu_and_a_wrong_index(install) -> None:
    install(fake_pynvml(count=0))
    with pytest.raises(NoGpuError, match="no NVIDIA GPU found"):
        NvmlMeter.open(0)
    install(fake_pynvml(count=2, counter=_counter()))
    with pytest.raises(NoGpuError, match=r"no GPU with index 3: this machine has 2 \(0..1\)"):
        NvmlMeter.open(3)


@pytest.mark.parametrize("kwargs", [{"mig": 1}, {"mig_handle": True}])
def test_a_mig_slice_is_refused(install, kwargs) -> None:
    mod = install(fake_pynvml(counter=_counter(), **kwargs))
    with pytest.raises(MigDeviceError, match="MIG"):
        NvmlMeter.open(0)
    assert mod.calls["shutdown"] == 1  # NVML released on failure


def test_no_counter_and_no_instant_power_on_ampere_is_refused(install) -> None:
    install(fake_pynvml(counter=None, instant_w=None, usage_mw=250_000, arch=7))
    with pytest.raises(EnergyCounterUnsupportedError, match="1-second averaged power"):
        NvmlMeter.open(0)


def test_counter_that_does_not_move_falls_back_to_instant_power(install) -> None:
    install(fake_pynvml(counter=lambda: 1000, instant_w=lambda: 123.0))
    meter = NvmlMeter.open(0, probe_s=0.05)
    assert meter.method == "power-instant"
    meter.close()


def test_counter_forced_but_unsupported(install) -> None:
    install(fake_pynvml(counter=None, instant_w=lambda: 100.0))
    with pytest.raises(EnergyCounterUnsupportedError, match="total-energy counter is unusable"):
        NvmlMeter.open(0, method="counter")


# ------------------------------------------------------------------ measuring


def test_counter_meter_reports_the_counter_difference(install) -> None:
    install(fake_pynvml(counter=_counter(step=2500)))  # each read: +2500 mJ
    ticks = iter([10.0, 12.0])
    meter = NvmlMeter.open(0, clock=lambda: next(ticks))
    assert isinstance(meter, EnergyMeter)
    assert meter.method == "counter"
    meter.start()
    reading = meter.stop()
    assert reading.energy_j == pytest.approx(2.5)  # one read later: 2500 mJ
    assert reading.elapsed_s == pytest.approx(2.0)
    assert reading.method == "counter"
    assert [s["t_s"] for s in meter.recorded_samples()] == [0.0, 2.0]
    meter.close()
    meter.close()  # idempotent


def test_power_polling_integrates_with_the_trapezoid_rule(install) -> None:
    clock = {"t": 0.0}

    def tick() -> float:
        clock["t"] += 0.01
        return clock["t"]

    # power linear in time: the trapezoid rule is exact whatever the number of samples
    install(fake_pynvml(counter=None, instant_w=lambda: 100.0 + 1000.0 * clock["t"]))
    meter = NvmlMeter.open(0, poll_interval_s=0.001, clock=tick)
    assert meter.method == "power-instant"
    meter.start()
    t0 = 0.01  # the window opens at the first tick (the polling thread starts after it)
    import time

    # every poll ticks the fake clock: wait for four polls after the first tick instead of a fixed sleep that a
    # loaded machine's scheduler may not give the polling thread enough of
    deadline = time.monotonic() + 60
    while clock["t"] < 0.045 and time.monotonic() < deadline:
        time.sleep(0.005)
    reading = meter.stop()
    t1 = clock["t"]
    exact = 100.0 * (t1 - t0) + 500.0 * (t1 ** 2 - t0 ** 2)
    assert reading.samples >= 3
    assert reading.energy_j == pytest.approx(exact, rel=1e-5)  # NVML reports whole milliwatts
    assert reading.elapsed_s == pytest.approx(t1 - t0)
    meter.close()


def test_power_usage_is_used_only_before_ampere(install) -> None:
    install(fake_pynvml(counter=None, instant_w=None, usage_mw=150_000, arch=4))  # Pascal: instantaneous reading
    meter = NvmlMeter.open(0)
    assert meter.method == "power-usage"
    meter.close()


def test_meter_misuse(install) -> None:
    install(fake_pynvml(counter=_counter()))
    meter = NvmlMeter.open(0)
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already measuring"):
        meter.start()
    meter.stop()
    meter.close()
    with pytest.raises(MeterError, match="closed"):
        meter.start()


def test_device_info_and_state(install) -> None:
    install(fake_pynvml(counter=_counter()))
    with NvmlMeter.open(0) as meter:
        info = meter.info()
        state = meter.state()
    assert info["name"] == "NVIDIA H100 80GB HBM3" and info["driver_version"] == "550.54.15"
    assert info["cuda_driver_version"] == "12.4" and info["power_limit_w"] == 700.0
    assert info["architecture"] == "hopper" and info["energy_method"] == "counter"
    assert state["sm_clock_mhz"] == 1755 and state["temperature_c"] == 41
    assert state["throttle_reasons"] == ["gpu_idle", "sw_power_cap"]


def test_decode_throttle_reasons() -> None:
    assert decode_throttle_reasons(0) == []
    assert decode_throttle_reasons(0x40 | 0x1000) == ["hw_thermal_slowdown", "0x1000"]


# ------------------------------------------------------------------ contracts


def test_importing_the_meter_does_not_import_pynvml() -> None:
    assert "pynvml" not in {name for name in vars(nvml) if not name.startswith("_")}


def test_only_nvml_py_imports_pynvml() -> None:
    root = Path(hwmap.__file__).parent
    importers = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "pynvml" for n in names):
                importers.append(path.relative_to(root).as_posix())
    assert importers == ["calibrate/nvml.py"]


def test_real_nvml_without_a_driver_is_a_clear_error() -> None:
    """On this machine class (no NVIDIA driver) the real bindings fail with NVMLError_LibraryNotFound."""
    pytest.importorskip("pynvml")
    try:
        meter = NvmlMeter.open(0, probe_s=0.1)
    except NvmlUnavailableError as error:
        assert "\n" not in str(error)
        assert "driver" in str(error)
    except MeterError:
        pytest.skip("an NVIDIA driver is present but this GPU cannot be metered")
    else:
        meter.close()
        pytest.skip("an NVIDIA driver and GPU are present")
