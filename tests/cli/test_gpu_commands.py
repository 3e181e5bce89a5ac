"""`hwmap calibrate` and `hwmap measure`: one clear line and exit 2 without CUDA; real runs on a GPU (marker gpu)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import hwmap.cli.gpu_commands  # noqa: F401  (registers calibrate and measure on the app)

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def _one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hwmap: error: ")
    return lines[0]


@needs_no_cuda
@pytest.mark.parametrize("argv", [
    ("calibrate",), ("calibrate", "--quick", "--out", "x.yaml", "--json"),
    ("measure", "resnet50"), ("measure", "resnet50", "--batch", "8", "--json"),
])
def test_without_cuda_the_gpu_commands_exit_2_with_one_clear_line(run_cli, argv) -> None:
    line = _one_line_error(*run_cli(*argv))
    assert "CUDA is not available" in line and f"`hwmap {argv[0]}` needs an NVIDIA GPU" in line


@pytest.mark.parametrize(("argv", "fragment"), [
    (("calibrate", "--device", "cpu"), "--device 'cpu': expected cuda or cuda:N"),
    (("calibrate", "--dtype", "fp64"), "'--dtype': 'fp64' is not one of 'fp16', 'bf16', 'fp32', 'fp8', 'int8'"),
    (("measure", "resnet50", "--dtype", "int8"), "--dtype 'int8': measured runs use fp16, bf16, fp32"),
    (("measure", "resnet50", "-a", "systolic8x8", "--mode", "graph"), "'--mode': 'graph' is not one of"),
    (("measure", "resnet50", "--batch", "0"), "'--batch': 0 is out of range"),
    (("measure", "resnet50", "--input", "3xbig"), "expected CxHxW"),
])
def test_bad_options_are_one_line_before_touching_the_gpu(run_cli, argv, fragment) -> None:
    assert fragment in _one_line_error(*run_cli(*argv))


def test_the_cli_module_does_not_import_torch_or_pynvml() -> None:
    import subprocess
    import sys

    code = ("import sys, hwmap.cli.gpu_commands; "
            "print(sorted(m for m in ('torch', 'pynvml', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------ real runs (skipped without a GPU)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_quick_tiny_calibration_on_a_real_gpu(tmp_path: Path) -> None:
    from conftest import traced

    from hwmap.calibrate.bench import run_calibration
    from hwmap.hardware.calibration import load_calibration, save_calibration

    run = run_calibration(device="cuda:0", quick=True, graphs=[traced("resnet18")], models=["resnet18"],
                          batches=[1])
    calibration = run.calibration
    assert calibration.idle_power_w > 0 and calibration.device.energy_method
    assert calibration.device.state_before is not None and calibration.device.torch_version
    assert len(calibration.classes) >= 10
    for name, fitted in calibration.classes.items():
        assert fitted.samples > 0, name
        assert fitted.fit_error_pct is not None and fitted.fit_error_pct < 100, name
    back = load_calibration(save_calibration(calibration, tmp_path / "c.yaml"))
    assert back.classes == calibration.classes


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_measure_a_model_on_a_real_gpu(run_cli) -> None:
    code, out, err = run_cli("measure", "resnet18", "--batch", "2", "--reps", "5", "--energy-s", "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["latency"]["measured_ms"] > 0 and data["latency"]["estimated_ms"] > 0
    assert data["kernels"]["profiled_ms"] > 0
    assert data["modules"] and {"module", "measured_ms", "estimated_ms"} <= set(data["modules"][0])
    if data["energy"]["measured_mj"] is not None:
        assert data["energy"]["measured_mj"] > 0 and data["energy"]["method"]


def test_the_tables_render_without_a_gpu(capsys) -> None:
    """The human-readable output of both commands, from a calibration file and a measurement built by hand."""
    from conftest import traced

    from hwmap.calibrate.bench import MeasureResult, ModuleTime
    from hwmap.cli.gpu_commands import _render_calibration, _render_measure
    from hwmap.cost.gpu import estimate_gpu
    from hwmap.hardware import load_accelerator
    from hwmap.hardware.calibration import load_calibration

    calibration = load_calibration(Path(__file__).parents[1] / "data" / "gpu" / "h100_sxm.calibration.yaml")
    _render_calibration(calibration, "out.yaml", 93.0, 2)
    out = capsys.readouterr().out
    assert "NVIDIA H100 80GB HBM3" in out and "attention_fused" in out and "wrote out.yaml" in out
    estimate = estimate_gpu(traced("resnet50"), load_accelerator("h100_sxm"), calibration=calibration, mode="auto")
    result = MeasureResult(
        model="resnet50", batch=1, input_chw=(3, 224, 224), device={"name": "NVIDIA H100 80GB HBM3"},
        accelerator="h100_sxm", calibration=calibration.source, mode="auto", dtype="fp16", tf32=True,
        latency_s=estimate.latency_ms / 1e3 * 1.1, latency_p10_s=0.002, latency_p90_s=0.003, reps=30,
        energy_j=estimate.energy_mj / 1e3 * 0.9, average_power_w=150.0, energy_method="counter", estimate=estimate,
        modules=(ModuleTime("layer1", 2e-4, 2.5e-4), ModuleTime("fc", 0.0, 1e-5)), profiled_kernel_s=1e-3,
        estimated_kernel_s=1.1e-3)
    data = result.to_dict()
    assert data["latency"]["error_pct"] == pytest.approx(100 * (1 / 1.1 - 1))
    assert data["energy"]["error_pct"] == pytest.approx(100 * (1 / 0.9 - 1))
    assert data["calibrated"] is True and data["modules"][0]["error_pct"] == pytest.approx(25.0)
    json.dumps(data)
    _render_measure(result, top=5)
    out = capsys.readouterr().out
    assert "latency (ms)" in out and "energy (mJ)" in out and "layer1" in out
