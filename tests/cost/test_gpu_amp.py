"""torch.autocast in the GPU model (amp=True): dtypes, casts and bytes by autocast's rules, checked by hand."""

from __future__ import annotations

import pytest
import torch
from conftest import traced

from hwmap.api import extract_graph
from hwmap.cost.gpu import amp_plan, conv_algorithm, gpu_roofs, gpu_timeline, node_features, winograd_eligible
from hwmap.hardware import load_accelerator

RTX3090 = load_accelerator("rtx3090")


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 1)
        self.gamma = torch.nn.Parameter(torch.ones(8, 1, 1))
        self.norm = torch.nn.GroupNorm(1, 8)
        self.conv2 = torch.nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.conv2(self.norm(self.conv1(x) + self.gamma))


def test_autocast_dtypes_casts_and_bytes_by_hand() -> None:
    graph = extract_graph(_Block().to("meta"), input_shape=(3, 4, 4), batch=1)
    ops = [n.op.split(".")[1] for n in graph.nodes]
    assert ops == ["convolution", "add", "native_group_norm", "convolution"], ops
    plan = amp_plan(graph)
    # conv (fp16 list) -> fp16; + fp32 gamma -> fp32 (promotion); group norm (fp32 list) -> fp32; conv -> fp16
    assert plan.output_bytes == (2, 4, 4, 2)
    # conv1 casts the fp32 input (3x4x4 = 48), its weight (8x3 = 24) and bias (8); group norm gets fp32: no cast;
    # conv2 casts the fp32 activation (8x4x4 = 128), weight (64) and bias (8)
    assert plan.casts == {0: (48, 24, 8), 3: (128, 64, 8)}
    # the add: fp16 activation 128 x 2 B + fp32 gamma 8 x 4 B in, fp32 128 x 4 B out = 256 + 32 + 512 = 800 B
    assert plan.features[1].bytes_ == 800
    # group norm: fp32 in (128 x 4) + weight and bias (2 x 8 x 4) + fp32 out, mean and rstd ((128 + 1 + 1) x 4)
    # = 512 + 64 + 520 = 1096 B
    assert plan.features[2].bytes_ == 1096
    # conv2 at fp16: activation 128 x 2 + weight 64 x 2 + bias 8 x 2 + out 128 x 2 = 656 B
    assert plan.features[3].bytes_ == 656
    # the timeline launches the 6 casts as kernels of their own (4 ops + 6 casts)
    assert gpu_timeline(graph, RTX3090, mode="auto", amp=True).kernels == 10
    assert gpu_timeline(graph, RTX3090, mode="auto", amp=False).kernels == 4


def test_autocast_makes_a_transformer_residual_stream_fp32_and_costs_time() -> None:
    graph = traced("deit_tiny_patch16_224", 64)
    plan = amp_plan(graph)
    norms = [p for p, n in enumerate(graph.nodes) if "native_layer_norm" in n.op]
    assert norms and all(plan.output_bytes[p] == 4 for p in norms)
    gemms = [p for p, n in enumerate(graph.nodes) if n.op.startswith("aten.addmm")]
    assert all(plan.output_bytes[p] == 2 for p in gemms)
    # every block's qkv and fc1 read a fp32 LayerNorm output: cast before each (2 per block, 12 blocks), and the
    # classifier head reads the final norm's: 25 GEMMs cast activation, weight and bias
    cast_activations = sum(1 for p in gemms if len(plan.casts.get(p, ())) == 3)
    assert cast_activations == 25
    amp_s = gpu_timeline(graph, RTX3090, mode="auto", amp=True).total_latency_s
    half_s = gpu_timeline(graph, RTX3090, mode="auto", amp=False).total_latency_s
    assert amp_s > 1.1 * half_s


@pytest.mark.parametrize(("channels", "winograd"), [(64, False), (512, True)])
def test_conv_algorithm_picks_winograd_only_where_it_is_faster_on_the_roofline(channels: int, winograd: bool) -> None:
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to("meta")
    graph = extract_graph(conv, input_shape=(channels, 28, 28), batch=64)
    node = graph.nodes[0]
    assert winograd_eligible(node)
    direct = node_features(node, "fp16")
    weight_bytes = channels * channels * 9 * 2 + channels * 2
    chosen = conv_algorithm(node, direct, gpu_roofs(RTX3090), weight_bytes)
    # roofline at 71 TFLOP/s and 936 GB/s: direct FLOPs 2*9*c per output element vs Winograd FLOPs / 2.25 with
    # activations 9x through DRAM; crossover near c = ridge (75.9 FLOP/B) x 36 / 8 = 342 channels
    if winograd:
        assert chosen.flops == pytest.approx(direct.flops / 2.25)
        assert chosen.bytes_ == pytest.approx(9 * (direct.bytes_ - weight_bytes) + weight_bytes)
    else:
        assert chosen == direct
    strided = extract_graph(torch.nn.Conv2d(512, 512, 3, stride=2).to("meta"), input_shape=(512, 28, 28), batch=8)
    assert not winograd_eligible(strided.nodes[0])
