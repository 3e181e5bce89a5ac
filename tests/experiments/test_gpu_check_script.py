"""experiments/gpu_check.sh end to end without a GPU: the script runs with $PYTHON pointing at a shim that answers its
two hwmap commands (`calibrate --quick` writes a file; `measure ... --json` prints what the real command prints,
hwmap.calibrate.recording.MeasureResult.to_dict, with made-up measured numbers) and passes every other call to this
Python. What this checks: the script's plumbing, its arguments, and that its summary step reads the JSON the measure
command writes (the contract between them). What it cannot check: the NVML/CUDA path, which needs a card."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "gpu_check.sh"

SHIM = textwrap.dedent('''
    """Stands in for `python` in experiments/gpu_check.sh; see tests/experiments/test_gpu_check_script.py."""
    import json, os, sys
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "-c" or "hwmap.cli" not in args[1]:
        os.execv(REAL_PYTHON, [REAL_PYTHON, *args])
    command, rest = args[2], args[3:]
    option = lambda name: rest[rest.index(name) + 1]
    with open(LOG, "a") as log:
        log.write(" ".join([command, *rest]) + "\\n")
    if command == "calibrate":
        assert "--quick" in rest
        with open(option("--out"), "w") as handle:
            handle.write("# stand-in calibration\\n")
        sys.exit(0)
    assert command == "measure" and "--json" in rest, rest
    from hwmap.calibrate.recording import MeasureResult, ModuleTime

    class Estimate:  # the GraphCost fields MeasureResult.to_dict reads
        latency_ms, energy_mj = 2.0, 600.0
        energy_terms_mj = {"idle": 100.0, "dynamic": 500.0}
        settings = {"calibrated": True, "kernels": 120}

    batch = int(option("--batch"))
    result = MeasureResult(
        model=rest[0], batch=batch, input_chw=(3, 224, 224), device={"name": "stand-in GPU"},
        accelerator="h100_sxm", calibration=option("--calibration"), mode="auto", dtype="fp16", tf32=True,
        latency_s=2.0e-3 * MEASURED_OVER_ESTIMATED, latency_p10_s=1.9e-3, latency_p90_s=2.2e-3,
        reps=int(option("--reps")), energy_j=0.6 * MEASURED_OVER_ESTIMATED, average_power_w=300.0,
        energy_method="nvml energy counter", estimate=Estimate(), modules=(ModuleTime("stem", 1e-4, 1.1e-4),),
        profiled_kernel_s=1.8e-3, estimated_kernel_s=1.9e-3)
    print(json.dumps(result.to_dict()))
''')


def _run(tmp_path: Path, measured_over_estimated: float) -> tuple[subprocess.CompletedProcess, Path, list[str]]:
    shim, log, results = tmp_path / "shim.py", tmp_path / "commands.log", tmp_path / "results"
    shim.write_text(f"REAL_PYTHON = {sys.executable!r}\nLOG = {str(log)!r}\n"
                    f"MEASURED_OVER_ESTIMATED = {measured_over_estimated!r}\n" + SHIM)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {shim} \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PYTHON": str(python), "RESULTS": str(results), "DEVICE": "cuda:0"}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    commands = log.read_text().splitlines() if log.exists() else []
    return done, results, commands


@pytest.mark.skipif(shutil.which("bash") is None, reason="gpu_check.sh is a bash script")
def test_gpu_check_runs_end_to_end_and_meets_its_targets_on_matching_numbers(tmp_path):
    done, results, commands = _run(tmp_path, measured_over_estimated=1.1)  # estimates 9.1% below the measurements
    assert done.returncode == 0, done.stdout + done.stderr
    assert commands[0].startswith("calibrate --quick --device cuda:0 --out ")
    measured = [[c.split()[1], c.split()[c.split().index("--batch") + 1]] for c in commands[1:]]  # model, batch
    assert measured == [[m, b] for m in ("resnet50", "segformer-b2", "deit_small_patch16_224",
                                         "swin_tiny_patch4_window7_224") for b in ("1", "8")]
    rows = list(csv.DictReader((results / "gpu_check.csv").open()))
    assert len(rows) == 9 and rows[-1]["model"] == "MAPE"
    assert float(rows[0]["latency_error_pct"]) == pytest.approx(100 * (1 / 1.1 - 1))
    assert float(rows[-1]["latency_error_pct"]) == pytest.approx(100 * (1 - 1 / 1.1), abs=0.01)
    assert "targets met" in done.stdout and "on stand-in GPU" in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="gpu_check.sh is a bash script")
def test_gpu_check_exits_1_when_the_estimates_miss_the_targets(tmp_path):
    done, results, _ = _run(tmp_path, measured_over_estimated=1.5)  # estimates 33% below: latency MAPE > 15%
    assert done.returncode == 1
    assert "TARGETS MISSED" in done.stdout
    assert (results / "gpu_check.csv").is_file()
