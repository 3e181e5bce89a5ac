"""The fusion pass: groups on real traced models, the rules on small hand-built modules, and the GPU's compiled mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwmap.errors import HwmapError
from hwmap.graph.fusion import plan_fusion
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Conv, Gemm
from tests.conftest import traced


def _module_graph(module: nn.Module, example=None):
    from hwmap.api import extract_graph

    if example is not None:
        return extract_graph(module.eval(), example_inputs=(example,))
    return extract_graph(module.eval(), input_shape=(3, 8, 8), batch=1)


def _positions_of(graph, predicate):
    return [p for p, n in enumerate(graph.nodes) if predicate(n)]


def test_resnet18_every_batch_norm_folds_and_every_relu_and_add_is_an_epilogue():
    graph = traced("resnet18")
    plan = plan_fusion(graph, policy="epilogue")
    norms = _positions_of(graph, lambda n: n.op_class is OpClass.NORM)
    relus = _positions_of(graph, lambda n: n.op_class is OpClass.ACTIVATION)
    adds = _positions_of(graph, lambda n: n.op_class is OpClass.ELEMENTWISE)
    # ResNet-18: 20 convs each followed by a BN; ReLUs: stem 1 + 2 per basic block x 8 = 17; 8 residual adds.
    assert (len(norms), len(relus), len(adds)) == (20, 17, 8)
    assert all(plan.role(p) == "folded" for p in norms)
    assert all(plan.role(p) == "epilogue" for p in relus + adds)
    assert plan.folded_count == 20 and plan.epilogue_count == 25
    for p in norms:  # folded into the conv that produced its input
        group = plan.group_of(p)
        assert isinstance(graph.nodes[group.anchor].work, Conv)
        assert group.anchor == graph.nodes[p].predecessors[0]


def test_residual_add_reads_only_its_other_operand_from_memory():
    graph = traced("resnet18")
    plan = plan_fusion(graph, policy="epilogue")
    add = _positions_of(graph, lambda n: n.op_class is OpClass.ELEMENTWISE)[0]  # layer1.0: 1x64x56x56 fp32 + same
    group = plan.group_of(add)
    assert group.output == group.epilogue[-1] and graph.nodes[group.output].op_class is OpClass.ACTIVATION
    # the other operand is layer1.0's input (the stem's pooled output): 64*56*56 elements * 4 bytes = 802,816 bytes
    assert group.external_input_bytes(graph, add) == 64 * 56 * 56 * 4
    relu = group.epilogue[-1]
    assert group.external_input_bytes(graph, relu) == 0


def test_policy_none_fuses_nothing_and_unknown_policy_is_an_error():
    graph = traced("resnet18")
    plan = plan_fusion(graph, policy="none")
    assert plan.groups == () and plan.role(1) == "alone"
    with pytest.raises(HwmapError, match="fusion policy must be one of none, epilogue, compiled"):
        plan_fusion(graph, policy="all")


class _ReluThenNorm(nn.Module):
    """conv -> relu -> bn: the norm follows an activation, so it cannot fold into the conv's weights."""

    def __init__(self):
        super().__init__()
        self.conv, self.act, self.bn = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.act(self.conv(x)))


class _TwoConsumers(nn.Module):
    """conv output read by a BN and by a second conv: it must reach memory, so nothing fuses after the conv."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.side = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + self.side(y)


class _SoftmaxAfterLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.act = nn.Linear(8, 8), nn.GELU()

    def forward(self, x):
        return torch.softmax(self.act(self.fc(x)), dim=-1)


def test_norm_after_activation_is_an_epilogue_scale_not_a_fold():
    graph = _module_graph(_ReluThenNorm())
    plan = plan_fusion(graph, policy="epilogue")
    (norm,) = _positions_of(graph, lambda n: n.op_class is OpClass.NORM)
    (relu,) = _positions_of(graph, lambda n: n.op_class is OpClass.ACTIVATION)
    assert plan.role(relu) == "epilogue" and plan.role(norm) == "epilogue"
    assert plan.folded_count == 0
    assert plan.describe(graph) == ["conv:convolution <- act:relu (epilogue), bn:native_batch_norm (epilogue)"]


def test_an_intermediate_read_twice_is_not_fused():
    graph = _module_graph(_TwoConsumers())
    plan = plan_fusion(graph, policy="epilogue")
    (norm,) = _positions_of(graph, lambda n: n.op_class is OpClass.NORM)
    assert plan.role(norm) == "alone"
    # the side conv's output feeds the add, with the (unfused) norm's output as the external operand
    (add,) = _positions_of(graph, lambda n: n.op_class is OpClass.ELEMENTWISE)
    assert plan.role(add) == "epilogue"
    assert isinstance(graph.nodes[plan.group_of(add).anchor].work, Conv)


def test_softmax_stays_separate_and_gelu_fuses_into_the_linear():
    graph = _module_graph(_SoftmaxAfterLinear(), torch.zeros(1, 4, 8))
    plan = plan_fusion(graph, policy="epilogue")
    (gelu,) = _positions_of(graph, lambda n: "gelu" in n.op)
    softmax = [p for p, n in enumerate(graph.nodes) if "softmax" in n.op]
    assert plan.role(gelu) == "epilogue" and isinstance(graph.nodes[plan.group_of(gelu).anchor].work, Gemm)
    assert softmax and all(plan.role(p) == "alone" for p in softmax)


@pytest.mark.parametrize("spec", ["resnet18", "deit_tiny_patch16_224", "mobilenetv3_small_100", "convnext_atto"])
def test_compiled_policy_reproduces_the_gpu_models_fused_kernels(spec):
    """The GPU model's compiled mode fuses exactly the operators the pass marks (launch-free, non-view nodes)."""
    from hwmap.api import load_accelerator
    from hwmap.cost.gpu import attention_chains, gpu_timeline

    graph = traced(spec)
    chains = attention_chains(graph)
    plan = plan_fusion(graph, policy="compiled", kernels=[(c.av, c.members) for c in chains])
    timeline = gpu_timeline(graph, load_accelerator("h100_sxm"), mode="compiled")
    in_chain = {m for c in chains for m in c.members}
    unlaunched = {p for p, cls in enumerate(timeline.fit_classes)
                  if cls is not None and timeline.launches[p] == 0 and p not in in_chain}
    fused = {p for p in range(len(graph.nodes)) if plan.role(p) == "epilogue"}
    assert fused == unlaunched
    assert plan.epilogue_count == timeline.fused_pointwise > 0
