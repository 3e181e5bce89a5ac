"""The GPU model's L2 level: a kernel whose working set fits in the L2 serves its activations from there (issue 19,
item 3a). Hand-computed kernels on the RTX 4090 template (72 MiB L2, no published L2 bandwidth: the rule's 3x the
1008 GB/s DRAM) and the A100 (40 MiB, 7219 GB/s from its whitepaper's 5120 B/clk)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import traced

from hwmap.cost.gpu import (
    L2_TO_DRAM_BANDWIDTH_RULE,
    dram_bytes_after_l2,
    estimate_gpu,
    gpu_roofs,
    gpu_timeline,
    l2_level,
    l2_resident_frac,
)
from hwmap.errors import TemplateError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware import load_accelerator
from hwmap.hardware.gpu_schema import MEMORY_STREAMING_SCALE
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Elementwise

MIB = 2**20
RTX4090 = load_accelerator("rtx4090")


def _add_graph(numel: int) -> LayerGraph:
    """One fp16 elementwise add of two activations (a residual add): reads 2 x numel, writes numel."""
    a = TensorMeta((numel,), "float16", "input:0")
    b = TensorMeta((numel,), "float16", "input:1")
    node = Node(0, "aten.add.Tensor", Elementwise(numel, 1), OpClass.ELEMENTWISE, "", "Net", (a, b),
                (TensorMeta((numel,), "float16", ""),))
    return LayerGraph("add", ((numel,), (numel,)), (node,), params=0, param_bytes=0, buffer_bytes=0)


def test_resident_share_is_one_up_to_the_l2_size_and_none_from_twice_it():
    c = 72 * MIB
    assert l2_resident_frac(0.5 * c, c) == 1.0
    assert l2_resident_frac(c, c) == 1.0
    assert l2_resident_frac(1.5 * c, c) == pytest.approx(0.5)
    assert l2_resident_frac(2 * c, c) == 0.0
    assert l2_resident_frac(10 * c, c) == 0.0
    assert l2_resident_frac(1.0, 0.0) == 0.0  # no L2 size in the template: no L2 level
    np.testing.assert_allclose(l2_resident_frac(np.array([c, 1.25 * c, 3 * c]), c), [1.0, 0.75, 0.0])


def test_parameters_always_cross_dram():
    c = 72 * MIB
    # 10 MiB of which 4 MiB parameters, fits: only the parameters cross DRAM
    assert dram_bytes_after_l2(10 * MIB, 4 * MIB, c) == 4 * MIB
    # 108 MiB (1.5x): half of the 100 MiB of activations stays in L2
    assert dram_bytes_after_l2(108 * MIB, 8 * MIB, c) == pytest.approx(8 * MIB + 50 * MIB)
    assert dram_bytes_after_l2(200 * MIB, 8 * MIB, c) == 200 * MIB


def test_templates_carry_their_l2_with_the_rule_where_no_bandwidth_is_published():
    assert l2_level(RTX4090.spec) == (72 * MIB, L2_TO_DRAM_BANDWIDTH_RULE * 1008e9)
    assert l2_level(load_accelerator("a100_sxm").spec) == (40 * MIB, 7219e9)
    assert l2_level(load_accelerator("h100_sxm").spec) == (50 * MIB, 10138e9)
    assert l2_level(load_accelerator("jetson_orin_nano").spec) == (0.0, math.inf)  # not in its datasheet
    roofs = gpu_roofs(load_accelerator("jetson_orin_nano"))
    assert any("no L2 size" in note for note in roofs.notes)


def test_a_small_add_runs_at_l2_bandwidth_and_a_large_one_at_dram_bandwidth():
    # rtx4090 priors, elementwise: memory_eff 0.85 x the GDDR6X streaming scale, launch 2.5 us
    m = 0.85 * MEMORY_STREAMING_SCALE["gddr6x"]
    small = 4 * MIB  # 3 x 4 Mi x 2 B = 24 MiB working set: fits
    cost = estimate_gpu(_add_graph(small), RTX4090)
    bytes_ = 3 * small * 2
    kernel_s = bytes_ / (3 * 1008e9 * m) + 2.5e-6
    assert cost.layers.dram_bytes[0] == 0.0  # inputs left by their producers, output kept for its consumer
    assert gpu_timeline(_add_graph(small), RTX4090).kernel_s[0] == pytest.approx(kernel_s)
    large = 64 * MIB  # 384 MiB working set: more than twice the L2
    big = gpu_timeline(_add_graph(large), RTX4090)
    assert big.dram_bytes[0] == 3 * large * 2
    assert big.kernel_s[0] == pytest.approx(3 * large * 2 / (1008e9 * m) + 2.5e-6)
    # without the L2 level the small add would take the DRAM time: 3x longer (the rule's bandwidth ratio)
    flat = gpu_timeline(_add_graph(small), RTX4090.with_overrides({"l2_cache_mib": None}))
    assert flat.kernel_s[0] - 2.5e-6 == pytest.approx(3 * (kernel_s - 2.5e-6))


@pytest.mark.parametrize("model", ["resnet18", "timm:vit_tiny_patch16_224"])
def test_time_grows_with_the_batch_through_the_l2_ramp(model):
    # the ramp (resident share falls linearly between the L2 size and twice it) keeps a larger batch slower
    latencies = [estimate_gpu(traced(model, batch), RTX4090, mode="auto", amp=True).latency_ms
                 for batch in (1, 2, 4, 8, 16, 32, 64, 128, 256)]
    assert all(b >= a for a, b in zip(latencies, latencies[1:], strict=False)), latencies


def test_a_large_l2_card_moves_less_dram_at_mid_batch_and_the_same_at_large_batch():
    graph = traced("resnet18", 32)
    with_l2 = estimate_gpu(graph, RTX4090, mode="auto", amp=True)
    without = estimate_gpu(graph, RTX4090.with_overrides({"l2_cache_mib": None}), mode="auto", amp=True)
    assert with_l2.dram_bytes < 0.5 * without.dram_bytes  # batch 32: most activations stay in 72 MiB
    served = next(note for note in with_l2.notes if note.startswith("L2 level:"))
    assert served.startswith(f"L2 level: {1 - with_l2.dram_bytes / without.dram_bytes:.0%} of the kernels'")
    assert not any(note.startswith("L2 level:") for note in without.notes)
    assert with_l2.latency_ms < without.latency_ms
    big = traced("resnet18", 1024)
    gap = estimate_gpu(big, RTX4090, mode="auto", amp=True).dram_bytes / \
        estimate_gpu(big, RTX4090.with_overrides({"l2_cache_mib": None}), mode="auto", amp=True).dram_bytes
    assert 0.97 < gap <= 1.0  # batch 1024: tensors of hundreds of MB, the L2 holds almost nothing


def test_an_l2_bandwidth_needs_a_size_and_must_beat_dram():
    with pytest.raises(TemplateError, match="l2_bandwidth_gb_per_s"):
        RTX4090.with_overrides({"l2_bandwidth_gb_per_s": 900})
    with pytest.raises(TemplateError, match="l2_cache_mib"):
        RTX4090.with_overrides({"l2_cache_mib": None, "l2_bandwidth_gb_per_s": 5000})


def test_parameters_cross_dram_once_per_forward_in_eager_and_compiled_mode():
    from torch import nn

    from hwmap.api import extract_graph

    graph = extract_graph(nn.Sequential(nn.Conv2d(3, 16, 3)).eval(), input_shape=(3, 8, 8), batch=1, cache=False)
    parameters = 16 * 3 * 3 * 3 + 16  # weight and bias
    conv = next(p for p, node in enumerate(graph.nodes) if "convolution" in node.op)
    # eager under autocast: cast kernels read the fp32 parameters from DRAM and write fp16 copies the convolution
    # reads from L2 (the input's cast and the output stay there too): 4 bytes per parameter cross DRAM
    eager = gpu_timeline(graph, RTX4090, mode="eager", amp=True)
    assert eager.launches[conv] == 4  # three casts and the convolution
    assert eager.dram_bytes[conv] == 4 * parameters
    # torch.compile launches no casts: the convolution reads its weights at fp16, from DRAM
    compiled = gpu_timeline(graph, RTX4090, mode="compiled", amp=True)
    assert compiled.launches[conv] == 1
    assert compiled.dram_bytes[conv] == 2 * parameters
