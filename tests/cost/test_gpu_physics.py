"""Physics behind the GPU model's misses: the clock a card sustains under its power limit, and fused attention
under autocast (no casts of the scores a fused kernel never materialises)."""

from __future__ import annotations

import pytest
from conftest import traced

from hwmap.cost.gpu import TENSOR_CLASSES, gpu_roofs, gpu_timeline, sustained_clock_fracs
from hwmap.hardware import load_accelerator


def test_a_power_capped_card_runs_compute_heavy_classes_below_its_rated_clock():
    maxq = load_accelerator("rtx_pro6000_blackwell_maxq").spec  # the 600 W chip capped at 300 W
    clocks = sustained_clock_fracs(maxq)
    # the chip at its rated 2286 MHz would draw idle + frac x (600 - idle) x (2286 / 2597)^3 W; the clock within
    # 300 W: ((300 - idle) / that dynamic power)^(1/3)
    idle = maxq.priors.idle_power_w
    linear = maxq.priors.classes.linear.dynamic_power_frac * (600 - idle) * (2286 / 2597) ** 3
    assert clocks["linear"] == pytest.approx(((300 - idle) / linear) ** (1 / 3), rel=1e-9)
    assert 0.85 < clocks["linear"] < 0.95
    assert all(clocks[c] < 1 for c in ("conv_dense", "linear", "attention_fused"))
    assert clocks["elementwise"] == 1.0  # a light class stays at the rated clock
    # the uncapped sibling holds its rated clock everywhere
    assert set(sustained_clock_fracs(load_accelerator("rtx_pro6000_blackwell").spec).values()) == {1.0}


def test_geforce_boost_headroom_is_spent_only_as_far_as_the_power_budget_allows():
    spec = load_accelerator("rtx3090").spec
    clocks = sustained_clock_fracs(spec)
    assert spec.priors.sustained_clock_frac == pytest.approx(1.10)
    frac = spec.priors.classes.conv_dense.dynamic_power_frac
    assert clocks["conv_dense"] == pytest.approx(frac ** (-1 / 3))  # TDP reached below the ceiling
    assert clocks["elementwise"] == pytest.approx(1.10)  # the ceiling: power is not the limit
    roofs = gpu_roofs(load_accelerator("rtx3090"))
    assert roofs.peak_for("conv_dense") == pytest.approx(71e12 * clocks["conv_dense"])
    assert roofs.tensor_flops_per_s == pytest.approx(71e12 * 1.10)  # the ceiling roof bounds every class
    assert any("power-limited clocks" in note for note in roofs.notes)


def test_every_class_roof_stays_at_or_below_the_ceiling_roof():
    for name in ("rtx3090", "rtx4090", "rtx5090", "h100_sxm", "rtx_pro6000_blackwell_maxq", "jetson_orin"):
        roofs = gpu_roofs(load_accelerator(name))
        for cls in TENSOR_CLASSES:
            assert 0 < roofs.peak_for(cls) <= roofs.tensor_flops_per_s * (1 + 1e-12)


def test_fused_attention_under_autocast_casts_no_scores():
    graph = traced("timm:deit_tiny_patch16_224", 8)
    # the kernels' traffic, every byte through DRAM: without the L2 level (at batch 8 it would hold the scores)
    accel = load_accelerator("rtx3090").with_overrides({"l2_cache_mib": None})
    fused = gpu_timeline(graph, accel, mode="sdpa", amp=True)
    eager = gpu_timeline(graph, accel, mode="eager", amp=True)
    # eager: softmax runs in fp32 (autocast), so the fp16 scores are cast up and its fp32 output cast down for the
    # AV GEMM: two cast kernels per block; a fused kernel has neither
    blocks = 12
    assert fused.fused_attention == blocks
    scores_bytes = 8 * 3 * 197 * 197 * 6  # batch x heads x q x kv, read 2 + write 4 (or 4 + 2) bytes
    eager_casts = eager.kernels - gpu_timeline(graph, accel, mode="eager", amp=False).kernels
    fused_casts = fused.kernels - gpu_timeline(graph, accel, mode="sdpa", amp=False).kernels
    assert eager_casts - fused_casts == 2 * blocks
    assert eager.dram_bytes.sum() - fused.dram_bytes.sum() > 2 * blocks * scores_bytes


def test_memory_priors_follow_the_memory_technology():
    from hwmap.cost.gpu import coefficients
    from hwmap.hardware.gpu_schema import MEMORY_STREAMING_SCALE

    for name, technology in (("rtx3090", "gddr6x"), ("rtx4090", "gddr6x"), ("rtx5090", "gddr7"),
                             ("rtx_pro6000_blackwell_maxq", "gddr7")):
        accel = load_accelerator(name)
        assert accel.spec.memory.technology == technology
        coef = coefficients(accel)
        for cls, prior in (("elementwise", 0.85), ("conv_depthwise", 0.65), ("conv_dense", 0.75)):
            assert accel.spec.priors.classes.get(cls).memory_eff_frac == prior  # the template states the rule
            assert coef.classes[cls].memory_eff_frac == pytest.approx(prior * MEMORY_STREAMING_SCALE[technology])
        assert any(f"x{MEMORY_STREAMING_SCALE[technology]:g} for {technology}" in note for note in coef.notes)
    # a technology without a scale (or none stated) keeps the template's priors as written
    h100 = load_accelerator("h100_sxm")
    assert coefficients(h100).classes["elementwise"].memory_eff_frac == \
        h100.spec.priors.classes.elementwise.memory_eff_frac
    # streaming kernels: GDDR7 below the GDDR rule's 0.85, GDDR6X above it and within the ~0.85-0.92 reported
    assert 0.85 * MEMORY_STREAMING_SCALE["gddr7"] < 0.85 < 0.85 * MEMORY_STREAMING_SCALE["gddr6x"] <= 0.92
