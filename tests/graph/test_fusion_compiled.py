"""The fusion pass's compiled policy (torch.compile / Inductor): library kernels (cuDNN convolutions, depthwise
included; cuBLAS GEMMs) take no epilogue; pointwise operators, norms and copies fuse into the generated kernel before
them."""

from __future__ import annotations

import torch
from torch import nn

from hwmap.graph.fusion import plan_fusion
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Conv, Gemm


def _graph(module: nn.Module, example: torch.Tensor):
    from hwmap.api import extract_graph

    return extract_graph(module.eval(), example_inputs=(example,))


def _positions(graph, predicate) -> list[int]:
    return [p for p, n in enumerate(graph.nodes) if predicate(n)]


class _DepthwiseBlock(nn.Module):
    """EfficientNet's depthwise stage: depthwise conv -> batch norm -> SiLU."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class _ChannelsLastNormMlp(nn.Module):
    """ConvNeXt's block core: permute -> LayerNorm -> Linear -> GELU -> Linear -> permute -> contiguous copy."""

    def __init__(self):
        super().__init__()
        self.norm, self.fc1, self.act, self.fc2 = nn.LayerNorm(8), nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8)

    def forward(self, x):
        y = self.norm(x.permute(0, 2, 3, 1))
        y = self.fc2(self.act(self.fc1(y)))
        return y.permute(0, 3, 1, 2).contiguous()


class _NormThenCopy(nn.Module):
    """LayerNorm -> transpose -> contiguous copy (a patch embedding's layout change after its norm)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        return self.norm(x).transpose(1, 2).contiguous()


def test_nothing_fuses_into_a_depthwise_convolution():
    graph = _graph(_DepthwiseBlock(), torch.zeros(2, 8, 8, 8))
    plan = plan_fusion(graph, policy="compiled")
    (conv,) = _positions(graph, lambda n: isinstance(n.work, Conv))
    (norm,) = _positions(graph, lambda n: n.op_class is OpClass.NORM)
    (act,) = _positions(graph, lambda n: n.op_class is OpClass.ACTIVATION)
    assert plan.role(conv) == "alone"
    # the batch norm starts the generated kernel, the SiLU joins it
    assert plan.role(norm) == "anchor" and plan.role(act) == "epilogue" and plan.group_of(act).anchor == norm
    assert plan.epilogue_count == 1


def test_gemms_take_no_epilogue_and_the_copy_after_them_is_its_own_kernel():
    graph = _graph(_ChannelsLastNormMlp(), torch.zeros(2, 8, 4, 4))
    plan = plan_fusion(graph, policy="compiled")
    gemms = _positions(graph, lambda n: isinstance(n.work, Gemm))
    (gelu,) = _positions(graph, lambda n: "gelu" in n.op)
    copies = _positions(graph, lambda n: n.op_class is OpClass.DATA_MOVEMENT)
    assert len(gemms) == 2 and all(plan.role(p) == "alone" for p in gemms)
    assert plan.role(gelu) == "alone"  # after cuBLAS: a kernel of its own
    assert copies and all(plan.role(p) == "alone" for p in copies)  # after fc2 (cuBLAS)
    assert plan.epilogue_count == 0


def test_a_copy_after_a_norm_joins_the_norms_kernel():
    graph = _graph(_NormThenCopy(), torch.zeros(2, 4, 8))
    plan = plan_fusion(graph, policy="compiled")
    (norm,) = _positions(graph, lambda n: n.op_class is OpClass.NORM)
    (copy,) = _positions(graph, lambda n: n.op_class is OpClass.DATA_MOVEMENT)
    assert plan.role(copy) == "epilogue" and plan.group_of(copy).anchor == norm
