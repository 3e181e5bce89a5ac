"""Calibrating the GPU model on a table of measured whole-model step times (e.g. timm's published benchmarks).

No GPU is needed: each row of the table (model, input size, batch, measured step time) is traced with hwmap's
extraction, turned into a :class:`TimelinePlan` (the kernels hwmap.cost.gpu launches for it and the host work
between them, independent of the coefficients), and the coefficients are fitted to the measured times by
``scipy.optimize.least_squares``: a MAP fit in log space, rows' log errors / NOISE_LOG with a robust loss (soft L1:
a model the GPU model cannot describe does not drag the others) beside one prior residual per coefficient,
(log value - log prior) / PRIOR_SCALES[parameter]. Hard bounds (hwmap.hardware.gpu_schema.COEFFICIENT_BOUNDS: no
compute efficiency above 1, no DRAM efficiency above 0.95, launch and host overheads in the ranges measured on real
cards) are never left. A coefficient whose data precision (sum of squared Jacobian entries) is below its prior's
precision keeps the prior value: at batch 1024 the launch and host overheads, for instance. Every coefficient's
move is reported (:class:`CoefficientMove`: prior, fitted, prior and posterior one-sigma factors).

:func:`fit_table_checked` adds a held-out check (k-fold by model: fit on the other folds, predict each; a fit,
shrunk fit or fit with a parameter group at its priors is kept only if it beats the priors in every fold at every
batch, else the priors are kept);
:func:`representative_rows` picks the default subset of a large table.

A plan (:class:`hwmap.cost.gpu.TimelinePlan`) is evaluated by :class:`hwmap.cost.gpu.PlanStack`, the one place of
the timeline formulas, which the estimate (:func:`hwmap.cost.gpu.gpu_timeline`) evaluates too: the fit stacks every
row and evaluates them in one numpy pass. A test checks plan == estimate on several models, cards and modes.

Fitted parameters (``TABLE_PARAMETERS``): per class compute_eff_frac, memory_eff_frac, half_saturation_elements,
launch_overhead_s, host_overhead_s; shared host_view_s and host_module_s.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwmap.cost.gpu import (
    DTYPE_BYTES,
    MODES,
    ClassCoefficients,
    CoefficientArrays,
    GpuCoefficients,
    PlanStack,
    TimelinePlan,
    predict_step_s,
    timeline_plan,
)
from hwmap.errors import HwmapError, ParameterError
from hwmap.hardware.gpu_schema import COEFFICIENT_BOUNDS, FIT_CLASSES

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.graph.ir import LayerGraph
    from hwmap.hardware.calibration import GpuCalibration
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "TABLE_PARAMETERS",
    "TIMM_COLUMNS",
    "TableFit",
    "TableRow",
    "TimelinePlan",
    "calibrate_from_table",
    "fit_table",
    "fit_table_checked",
    "holdout_folds",
    "representative_rows",
    "parse_columns",
    "predict_step_s",
    "read_table",
    "table_calibration",
    "timeline_plan",
]

TABLE_PARAMETERS = ("compute_eff_frac", "memory_eff_frac", "half_saturation_elements", "launch_overhead_s",
                    "host_overhead_s")
# Prior uncertainty of each parameter, in log units (one sigma: exp(scale) as a factor). The regularisation pulls
# each coefficient towards its prior by (log value - log prior) / scale, as a residual beside the rows' log errors
# / NOISE_LOG: the data moves a coefficient only as far as its evidence outweighs that.
PRIOR_SCALES = {
    "compute_eff_frac": math.log(1.5),  # the generation rules put compute efficiency within ~1.5x
    "memory_eff_frac": math.log(1.25),  # streaming reaches 0.6-0.95 of the DRAM peak
    "half_saturation_elements": math.log(4.0),  # the wave-size rule is a rule of thumb
    "launch_overhead_s": math.log(2.0),
    "host_overhead_s": math.log(2.0),
    "host_view_s": math.log(2.0),
    "host_module_s": math.log(2.0),
}
NOISE_LOG = 0.10  # the GPU model's own error per table row (~10%): what one row's log error weighs against priors
# Multiplies every prior residual. Chosen on the shipped RTX 3090 table (87 models, 5 random half splits by model,
# median error on the held-out half): 6.9% at 1.0, 6.9% at 0.5, 6.0% at 0.3, 6.3% at 0.2 (priors: 7.9%). The
# hard bounds and the held-out check (fit_table_checked) guard what a weak pull lets through.
PRIOR_WEIGHT = 0.3
# The held-out check's fallbacks before it reverts parameter groups: the same fit pulled harder towards the priors
# (PRIOR_WEIGHT x these factors), i.e. the data's moves shrunk, not dropped.
SHRINK_FACTORS = (3.0, 10.0)
# Parameter groups the held-out check can set back to their priors together.
PARAMETER_GROUPS = {
    "compute": ("compute_eff_frac", "half_saturation_elements"),
    "memory": ("memory_eff_frac",),
    "launch": ("launch_overhead_s",),
    "host": ("host_overhead_s", "host_view_s", "host_module_s"),
}

# timm's results/benchmark-infer-*.csv: model, infer_img_size, infer_samples_per_sec, infer_step_time (ms per
# batch), infer_batch_size, param_count, infer_gmacs, infer_macts.
TIMM_COLUMNS = {"model": "model", "img_size": "infer_img_size", "batch": "infer_batch_size",
                "step_time_ms": "infer_step_time", "samples_per_s": "infer_samples_per_sec",
                "params_m": "param_count"}


class TableError(HwmapError):
    """A measurement table that cannot be read (file, columns, values)."""


@dataclass(frozen=True)
class TableRow:
    model: str
    img_size: int
    batch: int
    step_time_s: float
    line: int  # 1-based line in the CSV (header = line 1)
    params_m: float | None = None  # the measured model's parameters (millions; optional column): which form ran


def parse_columns(text: str | None) -> dict[str, str]:
    """columns 'model=name,img_size=res,batch=bs,step_time_ms=ms' over the timm defaults.

    Keys: model, img_size, batch, and one of step_time_ms / step_time_s / samples_per_s; optional params_m
    (parameters in millions: a re-parameterisable model whose count is its fused form's is traced fused).
    """
    columns = dict(TIMM_COLUMNS)
    if not text:
        return columns
    allowed = {"model", "img_size", "batch", "step_time_ms", "step_time_s", "samples_per_s", "params_m"}
    given: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in allowed or not value:
            raise ParameterError("columns", f"{text!r}: expected comma-separated KEY=COLUMN with KEY one of "
                                            f"{', '.join(sorted(allowed))}, got {item!r}")
        given[key] = value
    if {"step_time_ms", "step_time_s", "samples_per_s"} & set(given):
        for key in ("step_time_ms", "step_time_s", "samples_per_s"):
            columns.pop(key, None)
    columns.update(given)
    return columns


def read_table(path: str | Path, *, columns: Mapping[str, str] | None = None) -> list[TableRow]:
    """The rows of a measurement CSV (one clear error for a missing file, column or a bad value)."""
    columns = dict(columns or TIMM_COLUMNS)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TableError(f"{path}: cannot read the table ({exc.strerror or exc})") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    time_key = next((k for k in ("step_time_ms", "step_time_s", "samples_per_s") if k in columns
                     and columns[k] in header), None)
    for key in ("model", "img_size", "batch"):
        if columns.get(key) not in header:
            raise TableError(f"{path}: no column {columns.get(key)!r} for {key} (columns: {', '.join(header)}); "
                             "map it with columns")
    if time_key is None:
        tried = ", ".join(columns[k] for k in ("step_time_ms", "step_time_s", "samples_per_s") if k in columns)
        raise TableError(f"{path}: no step-time column (tried {tried}"
                         f"; columns: {', '.join(header)}); map it with columns step_time_ms=NAME")
    rows = []
    for line, record in enumerate(reader, start=2):
        try:
            size = int(float(record[columns["img_size"]]))
            batch = int(float(record[columns["batch"]]))
            value = float(record[columns[time_key]])
        except (TypeError, ValueError):
            raise TableError(f"{path}:{line}: img_size, batch and time must be numbers, got "
                             f"{record.get(columns['img_size'])!r}, {record.get(columns['batch'])!r}, "
                             f"{record.get(columns[time_key])!r}") from None
        if size < 1 or batch < 1 or not math.isfinite(value) or value <= 0:
            raise TableError(f"{path}:{line}: img_size and batch must be positive integers and the time a positive "
                             f"number, got {size}, {batch}, {value}")
        step_s = {"step_time_ms": value * 1e-3, "step_time_s": value, "samples_per_s": batch / value}[time_key]
        rows.append(TableRow(record[columns["model"]].strip(), size, batch, step_s, line,
                             _params_m(record, columns.get("params_m"), f"{path}:{line}")))
    if not rows:
        raise TableError(f"{path}: the table has no rows")
    return rows


def _params_m(record: Mapping[str, str], column: str | None, where: str) -> float | None:
    """The row's parameter count in millions, None where the table has no such column or the cell is empty."""
    text = (record.get(column) or "").strip() if column else ""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise TableError(f"{where}: the parameter count ({column}) must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise TableError(f"{where}: the parameter count ({column}) must be positive, got {text!r}")
    return value


# ----------------------------------------------------------------------------------------------------------------
# The fit
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoefficientMove:
    """How far the data moved one coefficient from its prior (log-space MAP fit, Gaussian approximation)."""

    name: str  # "conv_dense.memory_eff_frac", "host.host_view_s"
    prior: float
    fitted: float
    prior_sigma_factor: float  # the prior's one-sigma factor (exp of its log scale)
    posterior_sigma_factor: float  # after the data: exp(1 / sqrt(data precision + prior precision))
    determined: bool  # the data's precision exceeds the prior's (else the prior value is kept)

    @property
    def ratio(self) -> float:
        return self.fitted / self.prior if self.prior else float("nan")


@dataclass(frozen=True)
class TableFit:
    coefficients: GpuCoefficients  # fitted (calibrated=True) for every class, priors where undetermined
    fitted: tuple[str, ...]  # "class.parameter" names the data determined
    from_prior: Mapping[str, tuple[str, ...]]  # class -> parameters left at the prior
    rows: int
    fit_error_pct: float  # 100 x (exp(RMS of log residuals) - 1)
    median_abs_error_pct: float
    predicted_s: tuple[float, ...]
    moves: tuple[CoefficientMove, ...] = ()  # every fitted parameter, determined or not
    holdout: HoldoutCheck | None = None  # set by fit_table_checked


def _active_classes(plans: Sequence[TimelinePlan], base: CoefficientArrays, share: float) -> list[int]:
    """Classes that carry at least `share` of the predicted time of some plan (others cannot be fitted)."""
    active: set[int] = set()
    for plan in plans:
        if not len(plan.cls):
            continue
        total = predict_step_s(plan, base)
        for ci in np.unique(plan.cls):
            trial = CoefficientArrays(base.compute_eff_frac * np.where(np.arange(len(FIT_CLASSES)) == ci, 0.5, 1),
                                      base.memory_eff_frac * np.where(np.arange(len(FIT_CLASSES)) == ci, 0.5, 1),
                                      base.half_saturation_elements, base.launch_overhead_s, base.host_overhead_s,
                                      base.host_view_s, base.host_module_s)
            if predict_step_s(plan, trial) - total >= share * total:
                active.add(int(ci))
    return sorted(active)


def fit_table(plans: Sequence[TimelinePlan], measured_s: Sequence[float], prior: GpuCoefficients, *,
              prior_weight: float = PRIOR_WEIGHT, noise_log: float = NOISE_LOG, min_share: float = 0.02,
              frozen_groups: Sequence[str] = (), source: str | None = None) -> TableFit:
    """Fit the coefficients to measured step times: a MAP fit in log space (see the module docstring).

    prior_weight: multiplies every prior residual (default PRIOR_WEIGHT; 1: the PRIOR_SCALES as one sigma; small:
    nearly unregularised).
    noise_log: the model's own error per row in log units (data residuals are divided by it).
    frozen_groups: parameter groups (PARAMETER_GROUPS) kept at their priors (the held-out check's fallback).
    """
    from scipy.optimize import least_squares

    measured = _checked_measured(plans, measured_s, frozen_groups)
    frozen = {p for g in frozen_groups for p in PARAMETER_GROUPS[g]}
    base = CoefficientArrays.from_coefficients(prior)
    if underfilled_rows(plans, base) < MIN_UNDERFILLED_ROWS:  # only full GPUs in the table: saturation unseen
        frozen.add("half_saturation_elements")
    active = _active_classes(plans, base, min_share)
    # parameter vector (log space): per active class its parameters, then host_view, host_module
    names: list[tuple[int | None, str]] = [(ci, p) for ci in active for p in TABLE_PARAMETERS if p not in frozen]
    names += [(None, p) for p in ("host_view_s", "host_module_s") if p not in frozen]

    def prior_value(ci: int | None, p: str) -> float:
        if ci is None:
            return base.host_view_s if p == "host_view_s" else base.host_module_s
        return float(getattr(base, p)[ci])

    bounds = np.array([_bounds_s(p) for _, p in names]).reshape(-1, 2)
    lower, upper = np.log(bounds[:, 0]), np.log(bounds[:, 1])
    x0 = np.clip(np.log([max(prior_value(ci, p), 1e-12) for ci, p in names]), lower + 1e-9, upper - 1e-9)
    scales = np.array([PRIOR_SCALES[p] for _, p in names])

    def arrays(x: np.ndarray) -> CoefficientArrays:
        values = {p: getattr(base, p).copy() for p in TABLE_PARAMETERS}
        shared = {"host_view_s": base.host_view_s, "host_module_s": base.host_module_s}
        for (ci, p), v in zip(names, np.exp(x), strict=True):
            if ci is None:
                shared[p] = float(v)
            else:
                values[p][ci] = v
        return CoefficientArrays(**values, **shared)

    log_measured = np.log(measured)
    stacked = PlanStack(plans)

    def data_residuals(x: np.ndarray) -> np.ndarray:
        return np.log(stacked.step_s(arrays(x))) - log_measured

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.concatenate([data_residuals(x) / noise_log, prior_weight * (x - x0) / scales])

    if len(names):
        result = least_squares(residuals, x0, bounds=(lower, upper), method="trf", loss="soft_l1", f_scale=2.0,
                               x_scale=scales, xtol=1e-6, ftol=1e-6, gtol=1e-8, max_nfev=20 * len(x0))
        x = result.x.copy()
        jac = np.asarray(result.jac)[: len(plans)]
        data_precision = np.sum(jac ** 2, axis=0)
    else:
        x, data_precision = x0.copy(), np.zeros(0)
    prior_precision = (prior_weight / scales) ** 2
    # a parameter the data says less about than its prior does keeps the prior value (reported as such)
    undetermined = data_precision < prior_precision
    x[undetermined] = x0[undetermined]
    fitted = arrays(x)
    exact: dict[str, float] = {}
    for (ci, p), flag in zip(names, undetermined, strict=True):  # the prior's exact value, not exp(log(prior))
        if flag and ci is None:
            exact[p] = prior_value(ci, p)
        elif flag:
            getattr(fitted, p)[ci] = prior_value(ci, p)
    fitted = dataclasses.replace(fitted, **exact)
    r = data_residuals(x)
    determined = {(ci, p) for (ci, p), flag in zip(names, undetermined, strict=True) if not flag}
    coef, from_prior = _fitted_coefficients(fitted, prior, determined, source)
    label = [f"{FIT_CLASSES[ci] if ci is not None else 'host'}.{p}" for ci, p in names]
    moves = tuple(CoefficientMove(lab, float(np.exp(x0[j])), float(np.exp(x[j])), float(np.exp(scales[j])),
                                  float(np.exp(1 / np.sqrt(data_precision[j] + prior_precision[j]))),
                                  not bool(undetermined[j]))
                  for j, lab in enumerate(label))
    predicted = tuple(float(np.exp(v + m)) for v, m in zip(r, log_measured, strict=True))
    return TableFit(coef, tuple(lab for lab, flag in zip(label, undetermined, strict=True) if not flag), from_prior,
                    len(plans), 100 * math.expm1(float(np.sqrt(np.mean(r ** 2)))),
                    100 * float(np.median(np.abs(np.expm1(r)))), predicted, moves)


def _checked_measured(plans: Sequence[TimelinePlan], measured_s: Sequence[float],
                      frozen_groups: Sequence[str]) -> np.ndarray:
    """The measured step times as an array: one positive finite time per plan, and known frozen groups."""
    measured = np.asarray(measured_s, dtype=float)
    if len(plans) != len(measured) or not len(plans):
        raise HwmapError(f"fit_table needs one measured time per plan and at least one row, got {len(plans)} plans "
                         f"and {len(measured)} times")
    if np.any(~np.isfinite(measured)) or np.any(measured <= 0):
        raise HwmapError("measured step times must be positive finite numbers")
    unknown = set(frozen_groups) - set(PARAMETER_GROUPS)
    if unknown:
        raise HwmapError(f"unknown parameter group(s) {', '.join(sorted(unknown))}, expected "
                         f"{', '.join(PARAMETER_GROUPS)}")
    return measured


def _fitted_coefficients(fitted: CoefficientArrays, prior: GpuCoefficients, determined: set[tuple[int | None, str]],
                         source: str | None) -> tuple[GpuCoefficients, dict[str, tuple[str, ...]]]:
    """(the fitted GpuCoefficients, per class the parameters left at their priors); dynamic and idle power stay
    the prior's (a table of step times says nothing about power)."""
    classes: dict[str, ClassCoefficients] = {}
    from_prior: dict[str, tuple[str, ...]] = {}
    for ci, name in enumerate(FIT_CLASSES):
        old = prior.classes[name]
        classes[name] = ClassCoefficients(float(fitted.compute_eff_frac[ci]), float(fitted.memory_eff_frac[ci]),
                                          float(fitted.half_saturation_elements[ci]),
                                          float(fitted.launch_overhead_s[ci]), float(fitted.host_overhead_s[ci]),
                                          old.dynamic_power_w)
        from_prior[name] = tuple(p for p in TABLE_PARAMETERS if (ci, p) not in determined)
    coef = GpuCoefficients(classes, prior.idle_power_w, fitted.host_view_s, fitted.host_module_s, calibrated=True,
                           calibration_source=source)
    return coef, from_prior


MIN_UNDERFILLED_ROWS = 5  # rows that must show under-filled kernels before half-saturation sizes are fitted
UNDERFILLED_SHARE = 0.10  # of a row's time, in kernels with less work than 4 x their class's half-saturation size


def underfilled_rows(plans: Sequence[TimelinePlan], c: CoefficientArrays) -> int:
    """Rows that spend at least UNDERFILLED_SHARE of their kernel time (under coefficients c) in kernels too small to
    fill the GPU (work w < 4 x half-saturation: efficiency below 80% of its large-kernel value). A table without
    MIN_UNDERFILLED_ROWS of them (timm's batch-1024 tables) says nothing about the half-saturation sizes, which
    set small-batch times: fit_table keeps them at their priors instead of letting them absorb other misfits."""
    count = 0
    for plan in plans:
        kernel = PlanStack([plan]).launch_s(c)
        small = np.maximum(plan.elements, 1.0) < 4 * c.half_saturation_elements[plan.cls]
        count += bool(kernel.sum() > 0 and kernel[small].sum() >= UNDERFILLED_SHARE * kernel.sum())
    return count


def _bounds_s(parameter: str) -> tuple[float, float]:
    """COEFFICIENT_BOUNDS in the fit's units (seconds for the _s parameters)."""
    if parameter.endswith("_s"):
        low, high = COEFFICIENT_BOUNDS[parameter[:-2] + "_us"]
        return low * 1e-6, high * 1e-6
    return COEFFICIENT_BOUNDS[parameter]


@dataclass(frozen=True)
class HoldoutCandidate:
    """One fit the held-out check judged: its prior pull and groups kept at their priors, its pooled held-out median
    error by batch, and in how many folds it beat the priors at every batch group the fold has."""

    prior_weight: float
    reverted_groups: tuple[str, ...]
    error_pct: Mapping[int, float]  # batch -> median |error| over every fold's held-out rows
    folds_better: int  # folds where it beat the priors at every batch group of the fold's held-out rows
    folds: int

    @property
    def accepted(self) -> bool:
        """Every fold agrees that it beats the priors (see fit_table_checked)."""
        return self.folds_better == self.folds


@dataclass(frozen=True)
class HoldoutCheck:
    """Fits on k - 1 of k folds of the table's models, each checked on the remaining fold, against the priors."""

    train_rows: int  # rows the fits were trained on, over all folds (each row in k - 1 of them)
    test_rows: int  # rows predicted by a fit that did not see them (every row once)
    prior_error_pct: Mapping[int, float]  # batch -> median |error| of the priors on the held-out rows
    fitted_error_pct: Mapping[int, float]  # batch -> the same for the chosen candidate (the priors if none passed)
    reverted_groups: tuple[str, ...]  # parameter groups set back to their priors (all of them: the priors kept)
    prior_weight: float = PRIOR_WEIGHT  # the pull towards the priors the chosen fit used (stronger: shrunk)
    candidates: tuple[HoldoutCandidate, ...] = ()  # every fit judged, in the order tried


MIN_ROWS_PER_BATCH_GROUP = 5  # held-out rows a batch group needs for its median error to mean something


def batch_groups(batches: np.ndarray, min_rows: int = MIN_ROWS_PER_BATCH_GROUP) -> np.ndarray:
    """Per row, the batch that labels its group: batches in increasing order, a batch with fewer than min_rows rows
    joined with the next larger one (the last with the previous), so every group's median has min_rows rows; a
    group is labelled by its most frequent batch."""
    values, counts = np.unique(batches, return_counts=True)
    count_of = dict(zip(values.tolist(), counts.tolist(), strict=True))
    groups: list[list[int]] = []
    pending: list[int] = []
    for value in values.tolist():
        pending.append(value)
        if sum(count_of[v] for v in pending) >= min_rows:
            groups.append(pending)
            pending = []
    if pending:
        if groups:
            groups[-1].extend(pending)
        else:
            groups.append(pending)
    label = {v: max(group, key=lambda b: count_of[b]) for group in groups for v in group}
    return np.array([label[b] for b in batches.tolist()])


def _median_error_by_batch(predicted: np.ndarray, measured: np.ndarray, batches: np.ndarray) -> dict[int, float]:
    error = np.abs(predicted / measured - 1)
    groups = batch_groups(batches)
    return {int(b): 100 * float(np.median(error[groups == b])) for b in np.unique(groups)}


def holdout_split(models: Sequence[str], seed: int = 0) -> np.ndarray:
    """True for the rows held out: those of a random half of the models (seeded; every row of a model together)."""
    unique = sorted(set(models))
    rng = np.random.default_rng(seed)
    test_models = set(rng.permutation(unique)[: len(unique) // 2].tolist())
    return np.array([m in test_models for m in models], dtype=bool)


HOLDOUT_FOLDS = 4  # the held-out check's folds: each fit sees 3/4 of the models, close to the final fit's data


def holdout_folds(models: Sequence[str], folds: int = HOLDOUT_FOLDS, seed: int = 0) -> np.ndarray:
    """Per row, its fold (0..folds-1): the models in a seeded random order dealt round-robin (a model's rows
    together); fewer models than folds: one fold per model."""
    unique = sorted(set(models))
    order = np.random.default_rng(seed).permutation(unique).tolist()
    fold_of = {m: k % max(1, min(folds, len(unique))) for k, m in enumerate(order)}
    return np.array([fold_of[m] for m in models], dtype=int)


def fit_table_checked(plans: Sequence[TimelinePlan], measured_s: Sequence[float], prior: GpuCoefficients, *,
                      models: Sequence[str], batches: Sequence[int], seed: int = 0,
                      source: str | None = None) -> TableFit:
    """fit_table with a held-out check: a fit replaces the priors only where every held-out fold says it is better.

    K-fold by model (HOLDOUT_FOLDS, random, seeded): for each candidate (the fit at PRIOR_WEIGHT; shrunk towards
    the priors, PRIOR_WEIGHT x SHRINK_FACTORS; each parameter group of PARAMETER_GROUPS at its priors) the fit on
    the other folds predicts each fold's rows. A candidate is accepted only if it beats the priors' median error in
    every fold, at every batch group that fold holds (:func:`batch_groups`, the same rule at every batch): a gain on
    the pooled median alone is not evidence, since on a table of ~40 models the folds' gains over the priors spread
    by several points around pooled gains of under one (timm's 3090 table), and k folds all agreeing on a fit no
    better than the priors has chance 1/2^k (sign test; 1/16 at k = 4). Among the accepted candidates the lowest
    pooled held-out error (summed over batch groups) wins; if none is accepted the priors are kept (every group
    reverted). (Two folds judge fits made from half the rows, noisier than the final fit from all of them.) The
    final fit uses every row with the chosen pull and groups kept at their priors.
    """
    measured = np.asarray(measured_s, dtype=float)
    batch_arr = np.asarray(batches)
    fold = holdout_folds(models, seed=seed)
    if fold.max() == 0:  # one model: nothing to hold out
        return fit_table(plans, measured, prior, source=source)
    folds = [(fold != k, fold == k) for k in range(int(fold.max()) + 1)]  # (train rows, held-out rows)
    stacked = [PlanStack([p for p, t in zip(plans, held, strict=True) if t]) for _, held in folds]
    group_arr = batch_groups(batch_arr)  # grouped over the whole table, then judged per fold and pooled

    def held_out_errors(coefs: Sequence[GpuCoefficients]) -> list[np.ndarray]:
        """Per fold, |error| of its held-out rows."""
        return [np.abs(s.step_s(CoefficientArrays.from_coefficients(c)) / measured[held] - 1)
                for s, c, (_, held) in zip(stacked, coefs, folds, strict=True)]

    def pooled_pct(errors: list[np.ndarray]) -> dict[int, float]:
        pooled = np.concatenate(errors)
        groups = np.concatenate([group_arr[held] for _, held in folds])
        return {int(b): 100 * float(np.median(pooled[groups == b])) for b in np.unique(groups)}

    prior_errors = held_out_errors([prior] * len(folds))

    def folds_better(errors: list[np.ndarray]) -> int:
        better = 0
        for (_, held), err, base in zip(folds, errors, prior_errors, strict=True):
            groups = group_arr[held]
            better += all(np.median(err[groups == b]) < np.median(base[groups == b]) for b in np.unique(groups))
        return better

    groups = tuple(PARAMETER_GROUPS)
    tried = [(PRIOR_WEIGHT, ()), *((PRIOR_WEIGHT * f, ()) for f in SHRINK_FACTORS),
             *((PRIOR_WEIGHT, (g,)) for g in groups)]
    candidates = []
    for pull, reverted in tried:
        fits = [fit_table([p for p, t in zip(plans, train, strict=True) if t], measured[train], prior,
                          prior_weight=pull, frozen_groups=reverted).coefficients for train, _ in folds]
        errors = held_out_errors(fits)
        candidates.append(HoldoutCandidate(pull, reverted, pooled_pct(errors), folds_better(errors), len(folds)))
    prior_err = pooled_pct(prior_errors)
    accepted = [c for c in candidates if c.accepted]
    chosen = min(accepted, key=lambda c: sum(c.error_pct.values())) if accepted else None
    weight, choice = (chosen.prior_weight, chosen.reverted_groups) if chosen else (PRIOR_WEIGHT, groups)
    check = HoldoutCheck(int(len(plans)) * (len(folds) - 1), int(len(plans)), prior_err,
                         chosen.error_pct if chosen else dict(prior_err), tuple(choice), weight, tuple(candidates))
    final = fit_table(plans, measured, prior, prior_weight=weight, frozen_groups=choice, source=source)
    return dataclasses.replace(final, holdout=check)


def _holdout_choice_note(check: HoldoutCheck) -> str:
    """What the held-out check kept and why, for the calibration file's notes."""
    best = max((c.folds_better for c in check.candidates), default=0)
    folds = check.candidates[0].folds if check.candidates else HOLDOUT_FOLDS
    if set(check.reverted_groups) == set(PARAMETER_GROUPS):
        return (f"; the priors kept: no fit beat them in every fold at every batch (best: {best} of {folds} folds), "
                "so the calibrated coefficients are the priors")
    return ((f"; groups kept at their priors: {', '.join(check.reverted_groups)}" if check.reverted_groups else "")
            + (f"; fit shrunk towards the priors (prior pull x{check.prior_weight / PRIOR_WEIGHT:g})"
               if check.prior_weight != PRIOR_WEIGHT else "")
            + f"; this fit beat the priors in all {folds} folds at every batch")


def table_calibration(fit: TableFit, *, accel: Accelerator, table: str, rows: Sequence[TableRow], mode: str,
                      dtype: str, amp: bool, per_row_error_pct: Sequence[float],
                      subset: str | None = None) -> GpuCalibration:
    """A calibration file (the NVML calibration's format) holding a table fit and its provenance."""
    from datetime import UTC, datetime

    from hwmap.hardware.calibration import (
        CalibratedClass,
        CalibrationSettings,
        DeviceRecord,
        GpuCalibration,
    )

    if mode not in MODES or dtype not in DTYPE_BYTES:
        raise HwmapError(f"unknown mode {mode!r} or dtype {dtype!r}")
    classes = {}
    fitted_classes = {label.split(".", 1)[0] for label in fit.fitted}
    for name in FIT_CLASSES:
        c = fit.coefficients.classes[name]
        classes[name] = CalibratedClass(
            compute_eff_frac=c.compute_eff_frac, memory_eff_frac=c.memory_eff_frac,
            half_saturation_elements=c.half_saturation_elements, launch_overhead_us=c.launch_overhead_s * 1e6,
            host_overhead_us=c.host_overhead_s * 1e6, dynamic_power_w=c.dynamic_power_w,
            samples=fit.rows if name in fitted_classes else 0,
            fit_error_pct=fit.fit_error_pct if name in fitted_classes else None,
            from_prior=[p.replace("_s", "_us") if p.endswith("_s") else p for p in fit.from_prior[name]])
    worst = sorted(zip(per_row_error_pct, rows, strict=True), key=lambda t: -abs(t[0]))[:5]
    moved = [m for m in fit.moves if m.determined]
    moved.sort(key=lambda m: -abs(math.log(m.ratio)))
    check = fit.holdout
    notes = [
        f"fitted to the published table {table}: {len(rows)} rows (model, img size, batch), mode {mode}, dtype "
        f"{dtype}{', torch.autocast' if amp else ''}; robust least squares on log step time",
        f"fit error {fit.fit_error_pct:.1f}% RMS, median absolute error {fit.median_abs_error_pct:.1f}%",
        *([f"rows used: {subset}"] if subset else []),
        "rows: " + "; ".join(f"{r.model}@{r.img_size}x{r.batch}" for r in rows),
        "worst rows: " + "; ".join(f"{r.model} {e:+.1f}%" for e, r in worst),
        "dynamic power and idle power are the template priors (a time table measures no energy)",
        "fitted parameters: " + ", ".join(fit.fitted),
        "moved by the data (fitted / prior, posterior one-sigma factor): " + (", ".join(
            f"{m.name} x{m.ratio:.3g} (+-x{m.posterior_sigma_factor:.2f})" for m in moved) or "none"),
    ]
    if check is not None:
        notes.append(
            f"held-out check ({HOLDOUT_FOLDS}-fold by model): median error of {check.test_rows} rows each predicted "
            "by a fit on the other folds, by batch: " + ", ".join(
                f"b{b} priors {check.prior_error_pct[b]:.1f}% -> fit {check.fitted_error_pct[b]:.1f}%"
                for b in sorted(check.prior_error_pct))
            + _holdout_choice_note(check))
    return GpuCalibration(
        schema_version=1, kind="gpu_calibration", accelerator=accel.name,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        device=DeviceRecord(name=f"published table {Path(table).name}", energy_method="none (time table)"),
        settings=CalibrationSettings(dtype=dtype, tf32=True, quick=False, models=sorted({r.model for r in rows}),
                                     batches=sorted({r.batch for r in rows}), timing_cases=len(rows), amp=amp),
        idle_power_w=fit.coefficients.idle_power_w, host_view_us=fit.coefficients.host_view_s * 1e6,
        host_module_us=fit.coefficients.host_module_s * 1e6, classes=classes, notes=notes)


DEFAULT_MAX_ROWS = 80


def model_family(model: str) -> str:
    """The family a timm model name belongs to, for spreading a subset: its leading letters ('resnet50d' ->
    'resnet', 'vit_base_patch16_224' -> 'vit', 'efficientnet_b0' -> 'efficientnet')."""
    match = re.match(r"[a-z]+", model.lower())
    return match.group(0) if match else model


def representative_rows(rows: Sequence[TableRow], max_rows: int = DEFAULT_MAX_ROWS) -> list[TableRow]:
    """At most max_rows rows spread over the table's model families and step times (the default --from-table set).

    Why: the fitted coefficients are per kernel class, and which classes a model exercises comes from its
    architecture; many variants of one family add tracing time (~1 s a row here), not information. A table of at
    most max_rows rows is used whole; otherwise: one row per model (its smallest image size), families by their
    leading letters (:func:`model_family`), and rounds over the families (largest first), each taking its next
    model in the order median, fastest, slowest, then the quartiles and so on (by measured step time), until
    max_rows. Deterministic; the table's order otherwise kept.
    """
    if max_rows < 1:
        raise ParameterError("max_rows", f"expected a positive number of rows, got {max_rows}")
    if len(rows) <= max_rows:
        return list(rows)
    per_model: dict[str, TableRow] = {}
    for row in rows:
        kept = per_model.get(row.model)
        if kept is None or row.img_size < kept.img_size:
            per_model[row.model] = row
    if len(per_model) <= max_rows:
        chosen = set(per_model.values())
        return [r for r in rows if r in chosen]
    families: dict[str, list[TableRow]] = {}
    for row in per_model.values():
        families.setdefault(model_family(row.model), []).append(row)
    queues = [_spread(sorted(members, key=lambda r: (r.step_time_s, r.model)))
              for _, members in sorted(families.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    picked: list[TableRow] = []
    depth = 0
    while len(picked) < max_rows:
        took = False
        for queue in queues:
            if depth < len(queue) and len(picked) < max_rows:
                picked.append(queue[depth])
                took = True
        if not took:
            break
        depth += 1
    chosen = set(picked)
    return [r for r in rows if r in chosen]


def _spread(members: list[TableRow]) -> list[TableRow]:
    """Median, fastest, slowest, then ever finer quantiles: the order a family gives up its models."""
    n = len(members)
    order: list[int] = []
    for fraction in (0.5, 0.0, 1.0, 0.25, 0.75, 0.125, 0.375, 0.625, 0.875):
        i = round(fraction * (n - 1))
        if i not in order:
            order.append(i)
    order += [i for i in range(n) if i not in order]
    return [members[i] for i in order]


def trace_timm(model: str, *, img_size: int, batch: int, fused: bool = False) -> LayerGraph:
    """The graph of a timm model on the meta device at batch x 3 x img_size x img_size (as hwmap extract).

    fused: re-parameterised for inference first (timm.utils.reparameterize_model, as timm's benchmark.py --reparam
    runs it: RepVGG's 3x3 + 1x1 + identity branches become one 3x3 convolution, LeViT's batch norms fold)."""
    from hwmap.graph.capture import capture, meta_inputs
    from hwmap.graph.sources import build_model

    spec = model if model.startswith("timm:") else f"timm:{model}"
    built = build_model(spec)
    module = _fused(built.module) if fused else built.module
    chw = (built.default_input_chw[0], img_size, img_size)
    meta = {"spec": spec, **built.meta, **({"reparameterized": True} if fused else {})}
    return capture(module, meta_inputs([(batch, *chw)]), name=built.name, meta=meta)


def _fused(module):
    import torch
    from timm.utils.model import reparameterize_model

    with torch.device("meta"):  # the fused layers are created on the meta device, like the model's own
        return reparameterize_model(module)


def _is_reparameterisable(module) -> bool:
    """timm.utils.reparameterize_model fuses every submodule with a reparameterize() or fuse() method."""
    return any(hasattr(m, "reparameterize") or hasattr(m, "fuse") for m in module.modules())


def ran_fused(model: str, params_m: float) -> bool:
    """Whether a table row with params_m million parameters measured the model's fused (re-parameterised) form:
    the model has layers to fuse and params_m is nearer the fused form's count than the trained form's (timm's
    tables: repvgg_b1 57.42 as trained in the RTX 3090 file, 51.83 fused in the PyTorch 2.9.1 files)."""
    from hwmap.graph.sources import build_model

    trained = build_model(model if model.startswith("timm:") else f"timm:{model}").module
    if not _is_reparameterisable(trained):
        return False
    trained_m = sum(p.numel() for p in trained.parameters()) / 1e6
    fused_m = sum(p.numel() for p in _fused(trained).parameters()) / 1e6
    return abs(params_m - fused_m) < abs(params_m - trained_m)


@dataclass(frozen=True)
class TableCalibrationRun:
    calibration: GpuCalibration
    fit: TableFit
    rows: tuple[TableRow, ...]
    skipped: tuple[str, ...]  # "model@size: why"
    elapsed_s: float


def calibrate_from_table(table: str | Path, *, accel: str | Accelerator, mode: str = "auto", dtype: str = "fp16",
                         amp: bool = True, columns: str | None = None, models: Sequence[str] = (),
                         max_rows: int | None = None, graph_cache: str | Path | None = None,
                         out_hint: Path | None = None, progress=None) -> TableCalibrationRun:
    """Trace the table's rows (graphs cached on disk), fit with the held-out check (:func:`fit_table_checked`), and
    build the calibration file content.

    Rows: without models and max_rows, a representative subset of DEFAULT_MAX_ROWS (:func:`representative_rows`);
    models (globs): every matching row; max_rows: a representative subset of at most that many.

    A row whose model cannot be built or traced is skipped and listed (a table of a whole model zoo has some).
    Graphs are cached as ``<cache>/<model>_<size>_b<batch>[_p<params>].json`` (default cache: ``<out>.graphs``
    beside the output file, else ``hwmap-table-graphs`` in the working folder).
    """
    import fnmatch
    import time

    from hwmap.graph.io import load_graph, save_graph
    from hwmap.hardware import load_accelerator

    started = time.perf_counter()
    acc = load_accelerator(accel) if not hasattr(accel, "spec") else accel
    rows = read_table(table, columns=parse_columns(columns))
    total = len(rows)
    if models:
        rows = [r for r in rows if any(fnmatch.fnmatchcase(r.model, p) for p in models)]
        if not rows:
            raise ParameterError("models", f"{','.join(models)}: no row of {table} matches")
    if max_rows is not None or not models:
        limit = max_rows or DEFAULT_MAX_ROWS
        rows = representative_rows(rows, limit)
        subset = (f"{len(rows)} of the table's {total} rows: a representative subset (at most {limit}, one row per "
                  "model, spread over model families and step times; --models/--max-rows choose others)")
    else:
        subset = f"{len(rows)} of the table's {total} rows: those matching --models {','.join(models)}"
    if graph_cache is not None:
        cache = Path(graph_cache)
    elif out_hint is not None:
        cache = out_hint.with_name(out_hint.name.split(".", 1)[0] + ".graphs")
    else:
        cache = Path("hwmap-table-graphs")
    cache.mkdir(parents=True, exist_ok=True)
    if progress is not None:
        progress.phase(f"tracing {subset}", len(rows))
    plans, used, skipped = [], [], []
    for row in rows:
        # the parameter count decides the traced form (fused or trained), so it is part of the cache key
        params = f"_p{row.params_m:g}" if row.params_m is not None else ""
        path = cache / f"{row.model}_{row.img_size}_b{row.batch}{params}.json"
        try:
            if path.is_file():
                graph = load_graph(path)
            else:
                fused = row.params_m is not None and ran_fused(row.model, row.params_m)
                graph = trace_timm(row.model, img_size=row.img_size, batch=row.batch, fused=fused)
                save_graph(graph, path)
            plans.append(timeline_plan(graph, acc, mode=mode, dtype=dtype, amp=amp))
            used.append(row)
        except HwmapError as exc:
            skipped.append(f"{row.model}@{row.img_size}: {str(exc).splitlines()[0]}")
        if progress is not None:
            progress.advance()
    if not plans:
        raise TableError(f"{table}: none of the {len(rows)} rows could be traced ({skipped[0] if skipped else ''})")
    from hwmap.cost.gpu import coefficients

    if progress is not None:
        progress.phase("fitting", 1)
    measured = [r.step_time_s for r in used]
    fit = fit_table_checked(plans, measured, coefficients(acc), models=[r.model for r in used],
                            batches=[r.batch for r in used], source=str(table))
    errors = [100 * (p / m - 1) for p, m in zip(fit.predicted_s, measured, strict=True)]
    calibration = table_calibration(fit, accel=acc, table=str(table), rows=used, mode=mode, dtype=dtype, amp=amp,
                                    per_row_error_pct=errors, subset=subset)
    if progress is not None:
        progress.advance()
    return TableCalibrationRun(calibration, fit, tuple(used), tuple(skipped), time.perf_counter() - started)
