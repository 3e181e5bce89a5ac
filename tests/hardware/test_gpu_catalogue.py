"""The GPU catalogue (issue 12): every new template validates, cites its peaks, follows the generation rules for its
priors, shows in `hwmap accels list --kind gpu`, and estimates ResNet-50 and DeiT-S with sane numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import traced

from hwmap.cost.gpu import estimate_gpu, gpu_roofs
from hwmap.hardware import load_accelerator
from hwmap.hardware.catalog import catalog_entries, templates_root

NEW = ["rtx3090", "rtx5090", "rtx_pro6000_blackwell", "rtx_pro6000_blackwell_maxq", "b200", "l4", "l40s", "t4", "a10",
       "h100_pcie", "jetson_orin_nano"]


def _text(name: str) -> str:
    return (Path(str(templates_root())) / catalog_entries()[name].relpath).read_text()


@pytest.mark.parametrize(("name", "fp16", "fp32", "bandwidth", "tdp", "sms"), [
    ("rtx3090", 71, 35.6, 936, 350, 82),  # GA102 whitepaper, FP32 accumulate
    ("rtx5090", 209.5, 104.8, 1792, 575, 170),  # RTX Blackwell whitepaper, FP32 accumulate
    ("rtx_pro6000_blackwell", 250, 125, 1792, 600, 188),  # 4000 AI TOPS / 16: FP32 accumulate
    ("rtx_pro6000_blackwell_maxq", 219.4, 110, 1792, 300, 188),  # 3511 AI TOPS / 16: FP32 accumulate
    ("b200", 2250, 74.4, 8000, 1000, 148),  # HGX B200 datasheet: 4.5 PFLOPS sparse / 2
    ("l4", 121, 30.3, 300, 72, 58),  # L4 datasheet: 242 sparse / 2
    ("l40s", 362.05, 91.6, 864, 350, 142),  # L40S datasheet: 733 sparse / 2
    ("t4", 65, 8.1, 320, 70, 40),  # T4 datasheet
    ("a10", 125, 31.2, 600, 150, 72),  # A10 datasheet: 250 sparse / 2
    ("h100_pcie", 756.5, 51.2, 2000, 350, 114),  # H100 whitepaper, PCIe column
    ("jetson_orin_nano", 10, 1.28, 68, 15, 8),  # Orin Nano datasheet: 40 sparse INT8 TOPS / 2 / 2
])
def test_new_templates_carry_their_published_peaks(name, fp16, fp32, bandwidth, tdp, sms) -> None:
    spec = load_accelerator(name).spec
    assert (spec.peak.fp16_tensor_tflops, spec.peak.fp32_tflops) == (fp16, fp32)
    assert (spec.memory.bandwidth_gb_per_s, spec.tdp_w, spec.sm_count) == (bandwidth, tdp, sms)
    text = _text(name)
    assert "Sources (published peaks)" in text and "generation rules" in text
    for key in ("fp16_tensor_tflops", "fp32_tflops", "bandwidth_gb_per_s", "tdp_w", "sm_count", "boost_clock_mhz"):
        line = next(li for li in text.splitlines() if li.strip().startswith(key + ":"))
        assert "#" in line, f"{name}: {key} has no citation"


# the older RTX 4090 template follows the rules too since issue 19 (its hand-set values made the 4090 eager table's
# priors 10.8% off instead of 9.0%)
@pytest.mark.parametrize("name", [*NEW, "rtx4090"])
def test_priors_follow_the_generation_rules(name: str) -> None:
    spec = load_accelerator(name).spec
    classes = spec.priors.classes
    # half saturation = one half wave of 128x128 output tiles on every SM
    assert classes.linear.half_saturation_elements == pytest.approx(spec.sm_count * 128 * 128 / 2, rel=0.02)
    assert classes.attention_fused.half_saturation_elements == pytest.approx(spec.sm_count * 128 * 128 / 4, rel=0.02)
    # tensor generation: mma.sync parts (Turing/Ampere/Ada/GeForce and workstation Blackwell) vs async
    # (Hopper wgmma, data-center Blackwell tcgen05) where PyTorch's FlashAttention-2 reaches a smaller share
    asynchronous = name in ("b200", "h100_pcie")
    # FP32 accumulate at half the FP16-accumulate rate (GeForce; the RTX PRO 6000 by measurement): linear 0.95
    half_rate = name in ("rtx3090", "rtx4090", "rtx5090", "rtx_pro6000_blackwell", "rtx_pro6000_blackwell_maxq")
    assert classes.linear.compute_eff_frac == (0.70 if asynchronous else 0.95 if half_rate else 0.75)
    assert classes.attention_fused.compute_eff_frac == (0.35 if asynchronous else 0.50)
    # memory rule: HBM 0.80, GDDR 0.85, LPDDR 0.70 for streaming kernels
    expected = {"b200": 0.80, "h100_pcie": 0.80, "jetson_orin_nano": 0.70}.get(name, 0.85)
    assert classes.elementwise.memory_eff_frac == expected
    assert classes.batch_norm.memory_eff_frac == classes.attention_softmax.memory_eff_frac == expected
    # strided kernels (depthwise, grouped, pooling, copies): GDDR 0.65, HBM 0.55, LPDDR 0.50
    strided = {0.85: 0.65, 0.80: 0.55, 0.70: 0.50}[expected]
    for name_ in ("conv_depthwise", "conv_grouped", "pooling_resize", "data_movement"):
        assert getattr(classes, name_).memory_eff_frac == strided, name_
    # a grouped convolution at 0.8 x the dense convolution's compute efficiency
    assert classes.conv_grouped.compute_eff_frac == pytest.approx(0.8 * classes.conv_dense.compute_eff_frac)
    assert 0 < spec.priors.idle_power_w < spec.tdp_w


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("model", ["resnet50", "timm:deit_small_patch16_224"])
def test_new_templates_estimate_resnet50_and_deit_s(name: str, model: str) -> None:
    accel = load_accelerator(name)
    graph = traced(model, 8, 224)
    cost = estimate_gpu(graph, accel, mode="auto")
    latency_s = cost.latency_ms / 1e3
    roofs = gpu_roofs(accel)
    flops = 2 * graph.total_macs
    # never faster than the tensor roof; slower than the roof by at most 100x at batch 8
    assert flops / roofs.tensor_flops_per_s < latency_s < 100 * flops / roofs.tensor_flops_per_s + 0.05
    assert cost.energy_mj > 0 and cost.settings["calibrated"] is False


def test_accels_list_kind_gpu_shows_the_catalogue(run_cli) -> None:
    code, out, err = run_cli("accels", "list", "--kind", "gpu", "--json")
    assert code == 0, err
    names = {row["name"] for row in json.loads(out)}
    assert set(NEW) | {"h100_sxm", "a100_sxm", "h200_sxm", "v100", "titan_v", "rtx4090", "jetson_orin"} == names
    assert all(row["kind"] == "gpu" for row in json.loads(out))
