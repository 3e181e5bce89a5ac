"""The implicit contiguous copy an eager layer/group norm makes of a permuted input (channels-first LayerNorm,
patch-embedding norms), with PyTorch's layout propagation: after the first copy the stream is channels-last and
the next channels-first norms read a contiguous NHWC view."""

from __future__ import annotations

import pytest

from hwmap.api import extract_graph
from hwmap.cost.gpu import gpu_timeline, layout_copies
from hwmap.hardware import load_accelerator


def _channels_first_net(blocks: int):
    from torch import nn

    class LayerNorm2d(nn.LayerNorm):  # timm's: permute -> layer_norm -> permute
        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 4, stride=4)
            self.norms = nn.ModuleList(LayerNorm2d(16) for _ in range(blocks))
            self.convs = nn.ModuleList(nn.Conv2d(16, 16, 1) for _ in range(blocks))

        def forward(self, x):
            x = self.stem(x)
            for norm, conv in zip(self.norms, self.convs, strict=True):
                x = conv(norm(x)) + x  # the branch first (as ConvNeXt): the sum keeps its channels-last layout
            return x

    return Net().eval()


def test_only_the_first_channels_first_norm_copies_its_input():
    net = _channels_first_net(3)
    graph = extract_graph(net, input_shape=(3, 32, 32), batch=2, cache=False)
    copies = layout_copies(graph)
    assert list(copies.values()) == [2 * 16 * 8 * 8]  # the stem's NCHW output, permuted: one copy
    norm_positions = [p for p, n in enumerate(graph.nodes) if "layer_norm" in n.op]
    assert len(norm_positions) == 3 and list(copies) == norm_positions[:1]


def test_a_transposed_patch_embedding_norm_copies_its_input():
    from torch import nn

    class PatchEmbed(nn.Module):  # PVT/Twins: conv -> flatten(2) -> transpose(1, 2) -> LayerNorm
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(3, 8, 4, stride=4)
            self.norm = nn.LayerNorm(8)

        def forward(self, x):
            return self.norm(self.proj(x).flatten(2).transpose(1, 2))

    graph = extract_graph(PatchEmbed().eval(), input_shape=(3, 16, 16), batch=1, cache=False)
    assert list(layout_copies(graph).values()) == [8 * 4 * 4]


@pytest.mark.parametrize("amp, element_bytes", [(False, 2), (True, 4)])
def test_the_copy_is_one_data_movement_kernel_in_eager_and_none_compiled(amp, element_bytes):
    net = _channels_first_net(1)
    graph = extract_graph(net, input_shape=(3, 32, 32), batch=2, cache=False)
    # the kernels' traffic, every byte through DRAM: without the L2 level (which holds this tiny net whole)
    accel = load_accelerator("rtx3090").with_overrides({"l2_cache_mib": None})
    eager = gpu_timeline(graph, accel, mode="eager", amp=amp)
    norm = next(p for p, n in enumerate(graph.nodes) if "layer_norm" in n.op)
    numel = 2 * 16 * 8 * 8
    assert eager.launches[norm] >= 2  # the copy and the norm (plus an autocast cast under amp)
    # bytes at the norm: copy (read + write at the norm's dtype) + the norm's own traffic + any autocast cast
    without = gpu_timeline(graph, accel, mode="compiled", amp=amp)
    assert eager.dram_bytes[norm] >= 2 * numel * element_bytes
    assert without.launches.sum() < eager.launches.sum()
