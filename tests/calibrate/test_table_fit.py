"""Calibration that generalises: a MAP fit towards the priors within hard physical bounds, coefficients a table
cannot identify stay at their priors, a held-out check that never leaves the model worse than the priors, and the
default representative subset of a large table."""

from __future__ import annotations

import dataclasses
import math
from importlib.resources import files

import numpy as np
import pytest
from conftest import synthetic_gpu_plans

from hwmap.calibrate.table import (
    HOLDOUT_FOLDS,
    CoefficientArrays,
    fit_table,
    fit_table_checked,
    holdout_folds,
    holdout_split,
    model_family,
    read_table,
    representative_rows,
)
from hwmap.cost.gpu import PlanStack, coefficients
from hwmap.hardware import load_accelerator
from hwmap.hardware.calibration import CalibratedClass, GpuCalibration
from hwmap.hardware.gpu_schema import COEFFICIENT_BOUNDS

RTX3090 = load_accelerator("rtx3090")
PRIOR = coefficients(RTX3090)


def _truth(**changes) -> object:
    """The priors with conv_dense/linear efficiencies (at most 1), every launch and host overhead changed."""
    classes = dict(PRIOR.classes)
    for name in ("conv_dense", "linear", "elementwise", "normalization"):
        c = classes[name]
        compute = min(c.compute_eff_frac * changes.get("compute", 1.0), 1.0)  # a physical truth: at most the peak
        classes[name] = dataclasses.replace(c, compute_eff_frac=compute,
                                            launch_overhead_s=c.launch_overhead_s * changes.get("launch", 1.0),
                                            host_overhead_s=c.host_overhead_s * changes.get("host", 1.0))
    return dataclasses.replace(PRIOR, classes=classes, host_view_s=PRIOR.host_view_s * changes.get("host", 1.0),
                               host_module_s=PRIOR.host_module_s * changes.get("host", 1.0))


def _measure(plans, truth) -> list[float]:
    return list(PlanStack(plans).step_s(CoefficientArrays.from_coefficients(truth)))


def test_a_batch_1024_table_leaves_launch_and_host_overheads_at_their_priors():
    # kernels of 1e8-1e9 elements (a batch of 1024 images): launch and host overheads are invisible in step times;
    # the 'truth' has 3x launch and 3x host overheads and 1.3x compute efficiency
    plans = synthetic_gpu_plans(60, seed=11, log_elements=(8, 9))
    truth = _truth(compute=1.3, launch=3.0, host=3.0)
    fit = fit_table(plans, _measure(plans, truth), PRIOR)
    for name in ("conv_dense", "linear", "elementwise", "normalization"):
        got, prior = fit.coefficients.classes[name], PRIOR.classes[name]
        assert got.launch_overhead_s == prior.launch_overhead_s, name
        assert got.host_overhead_s == prior.host_overhead_s, name
        assert {"launch_overhead_s", "host_overhead_s"} <= set(fit.from_prior[name])
    assert fit.coefficients.host_view_s == PRIOR.host_view_s and fit.coefficients.host_module_s == PRIOR.host_module_s
    for name in ("conv_dense", "linear", "elementwise", "normalization"):  # no under-filled GPU in the table
        assert fit.coefficients.classes[name].half_saturation_elements == PRIOR.classes[name].half_saturation_elements
    moves = {m.name: m for m in fit.moves}
    assert not moves["conv_dense.launch_overhead_s"].determined and not moves["host.host_view_s"].determined
    # what the table does show moved: the compute efficiency of the GEMM classes, towards the truth
    conv = moves["conv_dense.compute_eff_frac"]
    assert conv.determined and 1.15 < conv.ratio <= 1.3 + 1e-6
    assert conv.posterior_sigma_factor < conv.prior_sigma_factor


def test_a_batch_1_table_does_identify_the_host_overheads():
    # the same models at ~1e3-1e4 elements per kernel: host-bound, so the host overheads are determined
    plans = synthetic_gpu_plans(60, seed=12, log_elements=(3, 4))
    fit = fit_table(plans, _measure(plans, _truth(host=1.6)), PRIOR)
    assert fit.coefficients.classes["conv_dense"].host_overhead_s == pytest.approx(
        1.6 * PRIOR.classes["conv_dense"].host_overhead_s, rel=0.1)
    assert "conv_dense.host_overhead_s" in fit.fitted


def _within_bounds(coef) -> None:
    for name, c in coef.classes.items():
        for key, value in (("compute_eff_frac", c.compute_eff_frac), ("memory_eff_frac", c.memory_eff_frac),
                           ("half_saturation_elements", c.half_saturation_elements),
                           ("launch_overhead_us", c.launch_overhead_s * 1e6),
                           ("host_overhead_us", c.host_overhead_s * 1e6)):
            low, high = COEFFICIENT_BOUNDS[key]
            # template priors of classes the table never sees are not fitted; fitted ones must be in bounds
            assert low * (1 - 1e-9) <= value <= high * (1 + 1e-9), (name, key, value)
    for key, value in (("host_view_us", coef.host_view_s * 1e6), ("host_module_us", coef.host_module_s * 1e6)):
        low, high = COEFFICIENT_BOUNDS[key]
        assert low * (1 - 1e-9) <= value <= high * (1 + 1e-9)


@pytest.mark.parametrize("factor", [1 / 20, 20.0])
def test_a_fit_never_leaves_the_physical_bounds(factor):
    # 20x faster than any roof allows, or 20x slower than launches can explain: bounded, and it says so
    plans = synthetic_gpu_plans(30, seed=5, log_elements=(3, 8))
    measured = [t * factor for t in _measure(plans, PRIOR)]
    fit = fit_table(plans, measured, PRIOR)
    _within_bounds(fit.coefficients)
    if factor < 1:  # faster than the peaks: cannot be met, and the fit error shows it (slower can: inefficiency)
        assert fit.fit_error_pct > 50


def test_a_calibration_file_outside_the_bounds_is_clamped_with_a_note():
    # what the old fit wrote for the 3090 table: memory efficiency 2.0, a 606 us launch overhead
    classes = {name: CalibratedClass(compute_eff_frac=0.5, memory_eff_frac=2.0, half_saturation_elements=1e5,
                                     launch_overhead_us=606.0, host_overhead_us=10.0, dynamic_power_w=100.0,
                                     samples=10) for name in ("conv_dense", "linear")}
    calibration = GpuCalibration(schema_version=1, kind="gpu_calibration", accelerator="rtx3090",
                                 created_utc="2026-01-01T00:00:00Z", device={"name": "synthetic"},
                                 settings={"dtype": "fp16", "tf32": True, "quick": False}, idle_power_w=30.0,
                                 host_view_us=1.5, host_module_us=2.0, classes=classes)
    coef = coefficients(RTX3090, calibration)
    assert coef.classes["conv_dense"].memory_eff_frac == COEFFICIENT_BOUNDS["memory_eff_frac"][1]
    assert coef.classes["conv_dense"].launch_overhead_s == pytest.approx(20e-6)
    assert any("conv_dense.memory_eff_frac 2 -> 0.95" in note and "conv_dense.launch_overhead_us 606 -> 20" in note
               for note in coef.notes)
    _within_bounds(coef)


def test_the_held_out_check_never_leaves_the_model_worse_than_the_priors():
    # the training half is 1.6x slower than the priors, the held-out half is exactly the priors: any move the
    # training half asks for makes the held-out half worse, so the check must give the priors back
    plans = synthetic_gpu_plans(40, seed=7, log_elements=(4, 8))
    models = [f"m{i}" for i in range(40)]
    batches = [1024 if i % 2 else 64 for i in range(40)]
    test = holdout_split(models, seed=0)
    base = _measure(plans, PRIOR)
    measured = [t if held else 1.6 * t for t, held in zip(base, test, strict=True)]
    fit = fit_table_checked(plans, measured, PRIOR, models=models, batches=batches)
    check = fit.holdout
    # k folds: every row held out once, and in the training rows of the k - 1 other folds' fits
    assert check is not None and check.test_rows == 40 and check.train_rows == (HOLDOUT_FOLDS - 1) * 40
    assert set(check.prior_error_pct) == {64, 1024}
    for batch in (64, 1024):
        assert check.fitted_error_pct[batch] <= check.prior_error_pct[batch] + 1e-9
    assert check.reverted_groups  # something had to go back to the priors


def test_the_held_out_check_keeps_a_fit_that_generalises():
    # every model 1.3x compute efficiency: the fit on one half predicts the other better than the priors
    plans = synthetic_gpu_plans(40, seed=8, log_elements=(6, 8))
    models = [f"m{i}" for i in range(40)]
    measured = _measure(plans, _truth(compute=1.3))
    fit = fit_table_checked(plans, measured, PRIOR, models=models, batches=[256] * 40)
    check = fit.holdout
    assert "compute" not in check.reverted_groups
    assert check.fitted_error_pct[256] < 0.5 * check.prior_error_pct[256]
    assert fit.median_abs_error_pct < 3.0


def test_the_default_subset_of_the_shipped_table_spreads_over_families():
    table = files("hwmap.data").joinpath("timm_benchmarks/benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv")
    rows = read_table(str(table))
    subset = representative_rows(rows, 80)
    assert len(subset) == 80 and len({r.model for r in subset}) == 80  # one row per model
    assert subset == representative_rows(rows, 80)  # deterministic
    families = {model_family(r.model) for r in subset}
    all_families = {model_family(r.model) for r in rows}
    assert len(families) >= min(60, len(all_families))  # many families before any family's second model
    big = max(all_families, key=lambda f: sum(model_family(r.model) == f for r in rows))
    members = sorted((r for r in rows if model_family(r.model) == big), key=lambda r: r.step_time_s)
    chosen = [r for r in subset if model_family(r.model) == big]
    assert members[0].model in {r.model for r in chosen} or len(chosen) == 1  # fastest after the median
    assert len(representative_rows(rows[:10], 80)) == 10  # a small table is used whole
    assert math.isfinite(sum(r.step_time_s for r in subset))



def test_batches_with_few_rows_are_judged_with_their_neighbours():
    from hwmap.calibrate.table import batch_groups

    batches = np.array([1] * 6 + [192] + [256] * 2 + [1024] * 30)
    groups = batch_groups(batches, min_rows=5)
    assert set(groups[:6]) == {1}  # six rows: a group of its own
    assert set(groups[6:]) == {1024}  # 192 and 256 join 1024, labelled by its most frequent batch
    assert set(batch_groups(np.array([64, 64, 128]), min_rows=5)) == {64}  # too few rows overall: one group


def test_holdout_folds_keep_a_models_rows_together_and_balance_the_folds():
    models = [f"m{i % 10}" for i in range(30)]  # 10 models, 3 rows each
    fold = holdout_folds(models, folds=4, seed=3)
    assert all(len({int(f) for m, f in zip(models, fold, strict=True) if m == name}) == 1 for name in set(models))
    per_fold = np.bincount(fold, minlength=4)
    assert sorted(per_fold.tolist()) == [6, 6, 9, 9]  # 10 models dealt round-robin: 3, 3, 2, 2 models
    assert (fold == holdout_folds(models, folds=4, seed=3)).all()  # seeded
    assert set(holdout_folds(["a", "a", "b"], folds=4).tolist()) == {0, 1}  # fewer models than folds
