"""Every GPU estimate at every batch: every GPU template x batch 1..1024 x a family list x every mode passes the
result guard (issue 19: the guard used to reject valid Winograd results, nominal-MAC rate above the peak), and the
guard still rejects a real inf/NaN/negative with GPU wording."""

from __future__ import annotations

import math

import pytest
from conftest import traced

from hwmap.cost.checks import check_cost, check_result
from hwmap.cost.gpu import MODES, WINOGRAD_GAIN, estimate_gpu
from hwmap.errors import ResultError
from hwmap.hardware import load_accelerator
from hwmap.hardware.catalog import catalog_entries

FAMILIES = ("timm:resnet18", "timm:repvgg_a0", "timm:efficientnet_b0", "timm:convnext_atto",
            "timm:vit_tiny_patch16_224", "timm:swin_tiny_patch4_window7_224", "timm:poolformer_s12", "segformer-b0")
BATCHES = (1, 8, 64, 256, 1024)
GPU_TEMPLATES = tuple(name for name, entry in catalog_entries().items() if entry.relpath.startswith("gpu/"))


def test_the_grid_covers_every_gpu_template():
    assert len(GPU_TEMPLATES) >= 18 and {"rtx3090", "rtx4090", "rtx5090", "a100_sxm", "h100_sxm"} <= set(
        GPU_TEMPLATES)


@pytest.mark.parametrize("batch", BATCHES)
def test_every_gpu_template_family_and_mode_passes_the_guard(batch):
    accels = [load_accelerator(name) for name in GPU_TEMPLATES]
    above_peak = 0
    for spec in FAMILIES:
        graph = traced(spec, batch)
        for accel in accels:
            for mode in MODES:
                for amp in (False, True) if mode == "auto" else (False,):
                    cost = estimate_gpu(graph, accel, mode=mode, amp=amp)
                    check_cost(cost)  # raises on a bad number
                    rates = cost.settings
                    # the invariants behind the guard: the algorithm never outruns the tensor peak, the nominal
                    # MACs at most by the Winograd gain, and latency/energy are positive
                    assert 0 < rates["algorithm_utilisation"] <= 1.0, (spec, accel.name, mode)
                    assert rates["nominal_utilisation"] <= WINOGRAD_GAIN * rates["algorithm_utilisation"] + 1e-9
                    assert cost.latency_ms > 0 and cost.energy_mj > 0
                    above_peak += float(cost.layers.utilisation.max()) > 1.0
    if batch >= 64:  # large batches: Winograd layers outrun the nominal peak (what the old guard rejected)
        assert above_peak > 0


def test_resnet50_at_batch_128_on_rtx3090_runs_through_the_cli(run_cli):
    code, out, err = run_cli("estimate", "resnet50", "--accel", "rtx3090", "--batch", "128")
    assert code == 0, err
    assert "nominal-MAC rate" in out and "algorithm" in out


def _gpu_result(**layer) -> dict:
    good = {"layer": "conv1", "cycles": 10, "latency_s": 1e-5, "energy_pj": 5.0, "utilisation": 1.8}
    return {"kind": "gpu", "energy_mj": 1.0, "latency_ms": 2.0,
            "settings": {"algorithm_utilisation": 0.8, "nominal_utilisation": 1.6},
            "layers": [good, {**good, "layer": "fc", **layer}]}


def test_a_gpu_result_with_a_nominal_rate_above_the_peak_passes():
    check_result(_gpu_result(), what="m on rtx3090")


@pytest.mark.parametrize(("layer", "message"), [
    ({"energy_pj": math.inf}, r"layer fc: energy_pj is inf \(not a finite number\); the GPU template's tdp_w"),
    ({"latency_s": math.nan}, r"layer fc: latency_s is nan .*; the GPU template's peaks \(peak.\*_tflops\)"),
    ({"cycles": -3}, r"layer fc: cycles is -3 \(negative\); the GPU template's boost_clock_mhz"),
    ({"utilisation": -0.5}, r"layer fc: utilisation is -0.5 \(negative\); the GPU template's peaks"),
    ({"utilisation": math.inf}, r"utilisation is inf \(not a finite number\)"),
])
def test_the_gpu_guard_still_rejects_bad_numbers_in_gpu_words(layer, message):
    with pytest.raises(ResultError, match=message):
        check_result(_gpu_result(**layer), what="m on rtx3090")


def test_the_algorithm_rate_above_the_peak_is_rejected():
    data = _gpu_result()
    data["settings"]["algorithm_utilisation"] = 1.2
    with pytest.raises(ResultError, match=r"algorithm_utilisation is 1.2 \(outside \[0, 1\]\)"):
        check_result(data, what="m on rtx3090")


def test_accelerator_results_keep_the_unit_interval():
    data = _gpu_result()
    data["kind"] = "systolic"
    with pytest.raises(ResultError, match=r"nominal_utilisation is 1.6 \(outside \[0, 1\]\); the template.s array"):
        check_result(data, what="m on s")
