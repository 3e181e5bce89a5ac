"""Every experiment runs from a fresh checkout in its reduced (--tiny) form, so none of them rots."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
TINY_RUNS = {
    "array_dse.py": ("array_dse_tiny.csv", "array_dse_tiny.png"),
    "buffer_bounds.py": ("buffer_bounds_tiny_summary.csv", "buffer_bounds_tiny.png"),
    "digits_resilience.py": ("digits_resilience.csv", "digits_resilience.png"),
    "flops_breakdown.py": ("flops_breakdown.csv", "flops_breakdown.png"),
    "gpu_published.py": ("gpu_published_tiny/gpu_published.csv", "gpu_published_tiny/gpu_published.png"),
    "gpu_published_breakdown.py": ("gpu_published_breakdown_tiny/gpu_published_breakdown.csv",
                                   "gpu_published_breakdown_tiny/gpu_published_breakdown.png"),
    "hw_vs_flops.py": ("hw_vs_flops.csv", "hw_vs_flops.png"),
    "ofa_switching.py": ("ofa_switching.csv", "ofa_switching.png"),
    "segformer_dynamic.py": ("segformer_dynamic.csv", "segformer_dynamic.png"),
    "vector_width.py": ("vector_width.csv", "vector_width.png"),
    "zoo_census.py": ("zoo_census_tiny_families.csv", "zoo_census_tiny.png"),
}


def _check_flops_breakdown(rows: list[dict]) -> None:
    by_key = {(r["model"], r["convention"]): r for r in rows}
    b0 = by_key[("segformer-b0", "linear-as-linear")]
    assert float(b0["gmacs"]) == pytest.approx(8.388, abs=0.001)
    assert sum(float(b0[g]) for g in ("conv", "linear", "attention", "other")) == pytest.approx(1, abs=1e-3)
    assert float(by_key[("resnet18", "linear-as-conv")]["conv"]) == pytest.approx(1.0)


def _check_ofa_switching(rows: list[dict]) -> None:
    full = next(r for r in rows if r["path"] == "ofa-resnet50D-41")
    assert float(full["energy_saved_pct"]) == 0 and float(full["top1"]) == 79.8
    assert all(0 <= float(r["energy_saved_pct"]) < 100 for r in rows)


def _check_zoo_census(rows: list[dict]) -> None:
    by_family = {r["family"]: r for r in rows}
    assert len(by_family) == 6
    assert float(by_family["resnet"]["mac_pct.conv"]) > 99.9  # resnet18: all but the classifier's 0.03%
    deit = by_family["deit"]
    assert sum(float(deit[f"mac_pct.{g}"]) for g in ("conv", "linear", "attention", "other")) == pytest.approx(100)


def _check_gpu_published(rows: list[dict]) -> None:
    by_model = {r["model"]: r for r in rows}
    assert float(by_model["resnet50@224"]["measured_ms"]) == 318.095  # timm's RTX 3090 table, batch 1024
    for r in rows:  # the GPU model's priors within 50% on every tiny row, the FLOPs baseline off on some
        assert abs(float(r["priors_error_pct"])) < 50
    assert max(abs(float(r["flops_error_pct"])) for r in rows) > 50


def _check_gpu_published_breakdown(rows: list[dict]) -> None:
    by_key = {(r["card"], r["model"]): r for r in rows}
    assert float(by_key[("rtx3090", "resnet50@224")]["measured_ms"]) == 318.095  # timm's RTX 3090 table
    assert float(by_key[("rtx4090", "resnet50@224")]["measured_ms"]) == 237.959  # timm's RTX 4090 table
    groups = ("tensor_compute_ms", "tensor_memory_ms", "other_memory_ms", "other_compute_ms", "gaps_ms")
    for r in rows:  # the groups split the predicted step time (rounded to 1 us each)
        assert all(float(r[g]) >= 0 for g in groups)
        assert sum(float(r[g]) for g in groups) == pytest.approx(float(r["priors_ms"]), abs=0.01)
    assert float(by_key[("rtx3090", "resnet50@224")]["tensor_compute_ms"]) > 0


def _check_buffer_bounds(rows: list[dict]) -> None:
    assert {(r["model"], r["accelerator"]) for r in rows} == {
        (m, a) for m in ("resnet18", "mobilenetv3_small_050") for a in ("systolic16x16", "magnet16pe_v16")}
    for r in rows:
        assert float(r["compulsory_bytes"]) <= float(r["bound_at_template_bytes"]) <= float(r["mapped_bytes"])
        assert float(r["capacity_within_2x_bytes"]) <= float(r["capacity_within_1x_bytes"])


CHECKS = {"buffer_bounds.py": _check_buffer_bounds,
          "flops_breakdown.py": _check_flops_breakdown, "ofa_switching.py": _check_ofa_switching,
          "zoo_census.py": _check_zoo_census, "gpu_published.py": _check_gpu_published,
          "gpu_published_breakdown.py": _check_gpu_published_breakdown}


@pytest.mark.parametrize("script", sorted(TINY_RUNS))
def test_experiment_runs_tiny(script, tmp_path):
    result = subprocess.run([sys.executable, str(EXPERIMENTS / script), "--tiny", "--out-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    table, figure = (tmp_path / name for name in TINY_RUNS[script])
    rows = list(csv.DictReader(table.open()))
    assert rows
    assert figure.read_bytes()[:4] == b"\x89PNG"
    if script in CHECKS:
        CHECKS[script](rows)
