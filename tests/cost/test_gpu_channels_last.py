"""Compiled mode's channels-last convolutions: Inductor's layout rule (decide_layout_opt, its measured
channels-last time ratios per convolution type); an ungrouped channels-last convolution runs as an NHWC implicit
GEMM at the linear class's efficiencies."""

from __future__ import annotations

import pytest

from hwmap.api import extract_graph
from hwmap.cost.gpu import (
    coefficients,
    conv_algorithm,
    full_rate_time_s,
    gpu_roofs,
    gpu_timeline,
    inductor_channels_last,
    inductor_conv_type,
    node_features,
)
from hwmap.hardware import load_accelerator
from hwmap.hardware.gpu_schema import MEMORY_STREAMING_SCALE
from hwmap.ops.work import Conv


def _conv(c_in: int, c_out: int, kernel: int, groups: int = 1) -> Conv:
    return Conv(batch=1, in_channels=c_in, out_channels=c_out, in_spatial=(8, 8), out_spatial=(8, 8),
                kernel=(kernel, kernel), stride=(1, 1), padding=(kernel // 2,) * 2, dilation=(1, 1), groups=groups)


@pytest.mark.parametrize(("conv", "kind"), [
    (_conv(256, 256, 3, groups=8), "grouped"),  # 32 input channels per group
    (_conv(256, 256, 3, groups=256), "default"),  # depthwise: one input channel per group is not "grouped"
    (_conv(32, 32, 3, groups=32), "small"),
    (_conv(64, 64, 3), "small"),
    (_conv(512, 128, 3), "in_out"),
    (_conv(512, 128, 1), "default"),  # in_out needs a kernel wider than 1
    (_conv(128, 256, 3), "default"),
])
def test_inductor_classifies_convolutions_as_its_layout_rule_does(conv, kind):
    assert inductor_conv_type(conv) == kind


def _net(groups: int, pointwise: bool = False):
    from torch import nn

    layers = [nn.Conv2d(3, 128, 3, padding=1)]
    for _ in range(3):
        layers.append(nn.Conv2d(128, 128, 3, padding=1, groups=groups))
        if pointwise:
            layers.append(nn.Conv2d(128, 128, 1))
    return nn.Sequential(*layers).eval()


# the class rates, every byte through DRAM: the RTX 4090 without its L2 level (tests/cost/test_gpu_l2.py)
RTX4090_DRAM_ONLY = load_accelerator("rtx4090").with_overrides({"l2_cache_mib": None})


def _conv_full_rate_s(graph, mode: str) -> list[float]:
    timeline = gpu_timeline(graph, RTX4090_DRAM_ONLY, mode=mode, dtype="fp16", amp=False)
    return [float(timeline.full_rate_s[p]) for p, node in enumerate(graph.nodes) if isinstance(node.work, Conv)]


def test_compiled_ungrouped_convolutions_run_at_the_linear_class_rates():
    """A channels-last 1x1 or 3x3 convolution is a kernel of class linear: it costs what a GEMM of the same FLOPs and
    bytes costs on the card (RTX 4090 priors: linear 0.95 compute, 0.85 memory, against conv_dense 0.55 / 0.75,
    conv_pointwise 0.60 / 0.75), and is therefore faster than its eager NCHW kernel."""
    accel = RTX4090_DRAM_ONLY
    graph = extract_graph(_net(groups=1, pointwise=True), input_shape=(3, 32, 32), batch=64, cache=False)
    assert inductor_channels_last(graph)
    roofs, coef = gpu_roofs(accel, dtype="fp16"), coefficients(accel)
    linear = coef.classes["linear"]
    memory_eff = 0.85 * MEMORY_STREAMING_SCALE["gddr6x"]
    assert (linear.compute_eff_frac, linear.memory_eff_frac) == (0.95, pytest.approx(memory_eff))
    eager, compiled = _conv_full_rate_s(graph, "eager"), _conv_full_rate_s(graph, "compiled")
    convs = [n for n in graph.nodes if isinstance(n.work, Conv)]
    assert [n.work.is_pointwise for n in convs] == [False] + [False, True] * 3
    for node, e, c in zip(convs, eager, compiled, strict=True):
        weights = sum(t.numel for t in node.inputs if t.is_weight) * 2
        f = conv_algorithm(node, node_features(node, "fp16"), roofs, weights)
        gemm_s = full_rate_time_s(f.flops, f.bytes_, peak_flops_per_s=roofs.peak_for("linear"),
                                  bandwidth_bytes_per_s=roofs.bandwidth_bytes_per_s, compute_eff_frac=0.95,
                                  memory_eff_frac=memory_eff)
        assert c == pytest.approx(gemm_s, rel=1e-9)
        assert c < e
    assert [inductor_conv_type(n.work) for n in convs][1:] == ["default"] * (len(convs) - 1)


def test_grouped_convolutions_keep_the_graph_contiguous():
    graph = extract_graph(_net(groups=8), input_shape=(3, 32, 32), batch=64, cache=False)
    assert not inductor_channels_last(graph)  # grouped: 1.358x slower channels-last, Inductor keeps NCHW
    assert _conv_full_rate_s(graph, "compiled") == pytest.approx(_conv_full_rate_s(graph, "eager"), rel=1e-9)
