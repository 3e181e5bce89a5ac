"""Calibration from a table of measured step times: plans equal the timeline, the fit recovers known coefficients,
the CLI writes a calibration that `hwmap estimate --calibration` reads back, bad tables are one clear line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_gpu_plans, traced

import hwmap.cli.gpu_commands  # noqa: F401  (registers calibrate)
from hwmap.calibrate.table import (
    CoefficientArrays,
    TableError,
    fit_table,
    parse_columns,
    predict_step_s,
    read_table,
    timeline_plan,
)
from hwmap.cost.gpu import ClassCoefficients, coefficients, gpu_timeline
from hwmap.errors import ParameterError
from hwmap.hardware import load_accelerator
from hwmap.hardware.calibration import load_calibration

RTX3090 = load_accelerator("rtx3090")


@pytest.mark.parametrize(("spec", "size"), [("resnet18", 96), ("timm:deit_tiny_patch16_224", 224),
                                            ("timm:efficientnet_b0", 96)])
@pytest.mark.parametrize("mode", ["auto", "eager", "compiled"])
@pytest.mark.parametrize("amp", [False, True])
def test_a_plan_predicts_exactly_the_timeline_latency(spec: str, size: int, mode: str, amp: bool) -> None:
    graph = traced(spec, 4, size)
    # perturbed coefficients: the plan must follow them exactly as the timeline does (host-bound at batch 4)
    coef = coefficients(RTX3090)
    expected = gpu_timeline(graph, RTX3090, mode=mode, amp=amp).total_latency_s
    got = predict_step_s(timeline_plan(graph, RTX3090, mode=mode, amp=amp), CoefficientArrays.from_coefficients(coef))
    assert got == pytest.approx(expected, rel=1e-12)


def test_stacked_plans_predict_what_each_plan_predicts() -> None:
    from hwmap.cost.gpu import PlanStack

    plans = [timeline_plan(traced(spec, b, size), RTX3090, mode=mode, amp=True)
             for spec, b, size, mode in (("resnet18", 4, 96, "auto"),
                                         ("timm:deit_tiny_patch16_224", 4, 224, "compiled"),
                                         ("timm:efficientnet_b0", 4, 96, "compiled"), ("resnet18", 1, 96, "eager"))]
    coef = CoefficientArrays.from_coefficients(coefficients(RTX3090))
    assert PlanStack(plans).step_s(coef) == pytest.approx([predict_step_s(p, coef) for p in plans], rel=1e-12)


def test_the_fit_recovers_known_coefficients_from_a_synthetic_table_within_2_percent() -> None:
    prior = coefficients(RTX3090)
    truth_classes = dict(prior.classes)
    truth_values = {  # class: (compute_eff, memory_eff, half_saturation, launch_s, host_s), all off the prior
        "conv_dense": (0.72, 0.66, 4.0e5, 6.0e-6, 25e-6),
        "linear": (0.91, 0.77, 9.0e5, 2.0e-6, 11e-6),
        "elementwise": (0.41, 0.93, 2.0e6, 3.3e-6, 4.0e-6),
        "normalization": (0.33, 0.61, 1.5e6, 4.0e-6, 9.5e-6),
    }
    for name, (e, m, h, t0, host) in truth_values.items():
        truth_classes[name] = ClassCoefficients(e, m, h, t0, host, prior.classes[name].dynamic_power_w)
    truth = dataclasses.replace(prior, classes=truth_classes, host_view_s=2.2e-6, host_module_s=1.4e-6)
    plans = synthetic_gpu_plans(160, seed=3)
    measured = [predict_step_s(p, CoefficientArrays.from_coefficients(truth)) for p in plans]
    fit = fit_table(plans, measured, prior, prior_weight=1e-6)
    assert fit.median_abs_error_pct < 0.1
    for name, values in truth_values.items():
        got = fit.coefficients.classes[name]
        recovered = (got.compute_eff_frac, got.memory_eff_frac, got.half_saturation_elements, got.launch_overhead_s,
                     got.host_overhead_s)
        for want, have, what in zip(values, recovered, ("compute", "memory", "half", "launch", "host"), strict=True):
            assert have == pytest.approx(want, rel=0.02), (name, what)
    assert fit.coefficients.host_view_s == pytest.approx(2.2e-6, rel=0.02)
    assert fit.coefficients.host_module_s == pytest.approx(1.4e-6, rel=0.02)
    # classes absent from the table stay at their prior
    assert fit.coefficients.classes["conv_grouped"] == prior.classes["conv_grouped"]
    assert set(fit.from_prior["conv_grouped"]) == {"compute_eff_frac", "memory_eff_frac", "half_saturation_elements",
                                                   "launch_overhead_s", "host_overhead_s"}


def test_the_fit_keeps_every_coefficient_physical_on_impossible_data() -> None:
    prior = coefficients(RTX3090)
    plans = synthetic_gpu_plans(30, seed=5)
    # 20x faster than any roof allows: compute efficiency would have to exceed 1
    measured = [predict_step_s(p, CoefficientArrays.from_coefficients(prior)) / 20 for p in plans]
    fit = fit_table(plans, measured, prior)
    for c in fit.coefficients.classes.values():
        assert 0 < c.compute_eff_frac <= 1 and 0 < c.memory_eff_frac <= 2
        assert c.launch_overhead_s > 0 and c.host_overhead_s > 0 and c.half_saturation_elements >= 1
    assert np.isfinite(fit.fit_error_pct) and fit.fit_error_pct > 100  # it says the data is not met


def _write_table(path: Path, rows: list[tuple[str, int, int, float]]) -> Path:
    lines = ["model,infer_img_size,infer_samples_per_sec,infer_step_time,infer_batch_size"]
    lines += [f"{m},{s},{b / (t / 1e3):.2f},{t:.6f},{b}" for m, s, b, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_table_calibration_round_trips_through_estimate_calibration(run_cli, tmp_path: Path) -> None:
    # a synthetic table: step times of the priors x 1.3 for three models at two batches
    specs = [("resnet18", 64, 2), ("resnet18", 64, 8), ("deit_tiny_patch16_224", 224, 1),
             ("deit_tiny_patch16_224", 224, 4), ("mobilenetv2_050", 64, 4)]
    rows = []
    for model, size, batch in specs:
        graph = traced(f"timm:{model}", batch, size)
        rows.append((model, size, batch, 1.3e3 * gpu_timeline(graph, RTX3090, mode="auto", amp=True).total_latency_s))
    table = _write_table(tmp_path / "bench.csv", rows)
    out = tmp_path / "cal.yaml"
    code, stdout, err = run_cli("calibrate", "--from-table", str(table), "--accel", "rtx3090", "--out", str(out),
                                "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["rows"] == 5 and report["skipped"] == []
    assert (tmp_path / "cal.graphs").is_dir() and len(list((tmp_path / "cal.graphs").glob("*.json"))) == 5
    calibration = load_calibration(out)
    assert calibration.accelerator == "rtx3090" and calibration.settings.timing_cases == 5
    assert any("bench.csv" in note and "5 rows" in note for note in calibration.notes)
    # the fit is close to the table (a uniform 1.3x slowdown is within the model's reach)
    fit_note = next(n for n in calibration.notes if n.startswith("fit error"))
    assert float(fit_note.split("median absolute error ")[1].rstrip("%")) < 5.0
    # round trip: `hwmap estimate --calibration` gives the calibrated latency, and the calibration is used
    code, stdout, err = run_cli("estimate", "timm:resnet18", "--accel", "rtx3090", "--batch", "8", "--resolution",
                                "64", "--calibration", str(out), "--mode", "auto", "--json")
    assert code == 0, err
    estimate = json.loads(stdout)
    settings = estimate["settings"] if "settings" in estimate else estimate["cost"]["settings"]
    assert settings["calibrated"] is True and settings["calibration"] == str(out)
    assert settings["amp"] is True  # fitted to an AMP table: estimates with it assume autocast too
    assert calibration.settings.amp is True
    # the same calibration through the library: latency = the plan's prediction with the fitted coefficients
    from hwmap.cost.gpu import coefficients as coef_of

    fitted = CoefficientArrays.from_coefficients(coef_of(RTX3090, calibration))
    graph = traced("timm:resnet18", 8, 64)
    expected = predict_step_s(timeline_plan(graph, RTX3090, mode="auto", amp=True), fitted)
    assert gpu_timeline(graph, RTX3090, calibration=calibration, mode="auto").total_latency_s == \
        pytest.approx(expected, rel=1e-9)


def test_columns_map_any_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,res,bs,throughput\nresnet18,224,256,1000\n")
    rows = read_table(path, columns=parse_columns("model=name,img_size=res,batch=bs,samples_per_s=throughput"))
    assert rows[0].model == "resnet18" and rows[0].batch == 256
    assert rows[0].step_time_s == pytest.approx(0.256)  # 256 samples at 1000 samples/s


@pytest.mark.parametrize(("text", "columns", "fragment"), [
    ("model,infer_img_size,infer_batch_size\nr,224,8\n", None, "no step-time column"),
    ("model,infer_img_size,infer_step_time,infer_batch_size\nr,224,-1,8\n", None, "positive"),
    ("model,infer_img_size,infer_step_time,infer_batch_size\nr,big,1,8\n", None, "must be numbers"),
    ("model,size,infer_step_time,infer_batch_size\nr,224,1,8\n", None, "no column 'infer_img_size'"),
    ("model,infer_img_size,infer_step_time,infer_batch_size\n", None, "no rows"),
])
def test_bad_tables_are_one_clear_error(tmp_path: Path, text, columns, fragment) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TableError, match=fragment):
        read_table(path, columns=parse_columns(columns))


def test_bad_columns_option_is_one_clear_error() -> None:
    with pytest.raises(ParameterError, match="^columns 'model': expected comma-separated KEY=COLUMN"):
        parse_columns("model")


def test_from_table_needs_accel_and_says_so_in_one_line(run_cli, tmp_path: Path) -> None:
    table = _write_table(tmp_path / "t.csv", [("resnet18", 64, 2, 1.0)])
    code, out, err = run_cli("calibrate", "--from-table", str(table))
    assert code == 2 and out == "" and "--accel is needed with --from-table" in err
    assert len(err.strip().splitlines()) == 1
