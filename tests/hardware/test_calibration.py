"""Calibration files: strict round trip, clear errors, found beside the template, used by estimate_gpu."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwmap.errors import HwmapError
from hwmap.hardware import load_accelerator
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
from hwmap.hardware.catalog import catalog_entries
from hwmap.hardware.gpu_schema import FIT_CLASSES


def make_calibration(accelerator: str = "h100_sxm", **overrides) -> GpuCalibration:
    classes = {name: CalibratedClass(compute_eff_frac=0.5, memory_eff_frac=0.8, half_saturation_elements=1e6,
                                     launch_overhead_us=3.0, host_overhead_us=7.5, dynamic_power_w=400.0,
                                     samples=20, power_samples=1, fit_error_pct=4.2, mape_pct=3.1)
               for name in FIT_CLASSES}
    data = dict(
        schema_version=1, kind="gpu_calibration", accelerator=accelerator, created_utc="2025-01-02T03:04:05Z",
        device=DeviceRecord(name="NVIDIA H100 80GB HBM3", driver_version="550.54.15", cuda_runtime_version="12.4",
                            torch_version="2.5.1", cudnn_version="90100", energy_method="counter",
                            state_before=DeviceState(sm_clock_mhz=1980, temperature_c=35, throttle_reasons=[]),
                            state_after=DeviceState(sm_clock_mhz=1755, temperature_c=52,
                                                    throttle_reasons=["sw_power_cap"])),
        settings=CalibrationSettings(dtype="fp16", tf32=True, quick=True, models=["resnet50"], batches=[1, 8],
                                     timing_cases=280, power_loops=14, duration_s=95.0),
        idle_power_w=112.0, idle_power_quiescent_w=74.0, host_view_us=1.4, host_module_us=2.1, classes=classes,
    )
    data.update(overrides)
    return GpuCalibration(**data)


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    calibration = make_calibration()
    path = save_calibration(calibration, tmp_path / "h100.calibration.yaml")
    back = load_calibration(path)
    assert back.source == str(path)
    assert back.model_dump() == calibration.model_dump()  # source is not part of the file
    assert back == calibration.model_copy(update={"source": str(path)})
    text = path.read_text()
    assert text.startswith("# hwmap GPU calibration of NVIDIA H100 80GB HBM3")
    assert "source" not in yaml.safe_load(text)
    assert dump_calibration(back) == text


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    path = save_calibration(make_calibration(), tmp_path / "c.yaml")
    assert load_calibration(path).created_utc == "2025-01-02T03:04:05Z"


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda d: d.update(extra_key=1), "extra_key: unknown key"),
    (lambda d: d["classes"].update(conv_fancy=d["classes"]["linear"]), "unknown kernel class(es) conv_fancy"),
    (lambda d: d["classes"]["linear"].update(compute_eff_frac=1.5), "classes.linear.compute_eff_frac"),
    (lambda d: d.update(idle_power_w="100 W"), "idle_power_w"),
    (lambda d: d.pop("device"), "device"),
])
def test_bad_calibration_files_are_one_clear_error(tmp_path: Path, edit, fragment) -> None:
    data = make_calibration().model_dump(mode="json")
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationFileError) as info:
        load_calibration(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_keys_missing_files_and_other_kinds(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("kind: gpu_calibration\nidle_power_w: 1\nidle_power_w: 2\n")
    with pytest.raises(CalibrationFileError, match="duplicate key"):
        load_calibration(dup)
    with pytest.raises(CalibrationFileError, match="no such calibration file"):
        load_calibration(tmp_path / "missing.yaml")
    template = tmp_path / "t.yaml"
    template.write_text("schema_version: 1\nkind: gpu\n")
    with pytest.raises(CalibrationFileError, match="not a GPU calibration file"):
        load_calibration(template)
    assert issubclass(CalibrationFileError, HwmapError)


def test_find_calibration_beside_a_template_file(tmp_path: Path) -> None:
    source = catalog_entries()["h100_sxm"].read_text()
    template = tmp_path / "h100_sxm.yaml"
    template.write_text(source)
    accel = load_accelerator(template)
    assert find_calibration(accel) is None
    assert calibration_path_for(accel) == tmp_path / "h100_sxm.calibration.yaml"
    save_calibration(make_calibration(), tmp_path / "h100_sxm.calibration.yaml")
    assert find_calibration(accel) == tmp_path / "h100_sxm.calibration.yaml"
    assert find_calibration(str(template)) == tmp_path / "h100_sxm.calibration.yaml"
    variant = accel.with_overrides({"tdp_w": 650})
    assert find_calibration(variant) == tmp_path / "h100_sxm.calibration.yaml"  # the base template's calibration


def test_find_calibration_for_a_shipped_template_looks_in_the_gpu_folder() -> None:
    path = calibration_path_for(load_accelerator("a100_sxm"))
    assert path is not None and path.name == "a100_sxm.calibration.yaml" and path.parent.name == "gpu"
    if not path.exists():
        assert find_calibration("a100_sxm") is None


def test_a_calibration_file_is_not_listed_as_a_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwmap.hardware import catalog

    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "h100_sxm.yaml").write_text(catalog_entries()["h100_sxm"].read_text())
    save_calibration(make_calibration(), tmp_path / "gpu" / "h100_sxm.calibration.yaml")
    monkeypatch.setattr(catalog, "templates_root", lambda: tmp_path)
    assert catalog.list_accelerators() == ["h100_sxm"]
    assert find_calibration("h100_sxm") == tmp_path / "gpu" / "h100_sxm.calibration.yaml"


def test_the_shipped_test_calibration_loads() -> None:
    calibration = load_calibration(Path(__file__).parents[1] / "data" / "gpu" / "h100_sxm.calibration.yaml")
    assert calibration.accelerator == "h100_sxm" and set(calibration.classes) == set(FIT_CLASSES)
