"""Compiled mode's generated kernels (hwmap.graph.fusion policy "compiled", hwmap.cost.gpu): which operators join
a kernel, and what the kernel reads and writes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwmap.api import extract_graph
from hwmap.cost.gpu import gpu_timeline
from hwmap.hardware import load_accelerator

# every byte through DRAM (the L2 level would serve part of these small tensors): the RTX 4090 without its L2
RTX4090_DRAM_ONLY = load_accelerator("rtx4090").with_overrides({"l2_cache_mib": None})


class SqueezeExcite(nn.Module):
    """x * sigmoid(conv1x1(mean(x))): the gate's sigmoid runs after a library convolution, so it starts a generated
    kernel; the multiply reads the gate from that kernel (its second argument) and x from outside it."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.reduce(x.mean((2, 3), keepdim=True)))


def test_a_multiply_joins_the_kernel_that_produced_its_second_argument_and_writes_its_output():
    batch, channels, side = 8, 64, 32
    graph = extract_graph(SqueezeExcite(channels).eval(), input_shape=(channels, side, side), batch=batch,
                          cache=False)
    timeline = gpu_timeline(graph, RTX4090_DRAM_ONLY, mode="compiled", dtype="fp16")
    ops = [n.op.split(".")[1] for n in graph.nodes]
    sigmoid, mul = ops.index("sigmoid"), ops.index("mul")
    assert timeline.launches[sigmoid] == 1 and timeline.launches[mul] == 0  # one generated kernel for both
    assert timeline.fused_pointwise == 1
    # the kernel reads the gate's input (the 1x1 convolution's output) and x, and writes the product; the
    # sigmoid's output is read only inside the kernel, so it is never written: 2 bytes per fp16 element
    gate, image = batch * channels, batch * channels * side * side
    kernel_bytes = timeline.dram_bytes[sigmoid] + timeline.dram_bytes[mul]
    assert kernel_bytes == pytest.approx(2 * (gate + image + image))
