"""Building timm models on meta without running their weight initialisers changes nothing that hwmap reads."""

from __future__ import annotations

import contextlib

import pytest

from hwmap.graph import sources

MODELS = ("deit_tiny_patch16_224", "swin_tiny_patch4_window7_224", "efficientnet_b0", "levit_128s",
          "coat_lite_mini")


def _signature(module):
    return [(name, tuple(t.shape), t.dtype, t.stride()) for name, t in module.state_dict().items()]


@pytest.mark.parametrize("name", MODELS)
def test_skipping_meta_init_keeps_every_tensor_and_the_traced_graph(name, monkeypatch):
    from hwmap.graph.extract import extract_graph

    fast = sources.build_model(name)
    fast_graph = extract_graph(name, cache=False)
    monkeypatch.setattr(sources, "_skip_meta_init", contextlib.nullcontext)
    plain = sources.build_model(name)
    plain_graph = extract_graph(name, cache=False)
    assert _signature(fast.module) == _signature(plain.module)
    assert len(fast_graph.nodes) == len(plain_graph.nodes) > 10
    assert fast_graph.total_macs == plain_graph.total_macs > 0
    assert [(n.name, n.macs, n.op_class) for n in fast_graph.nodes] == \
        [(n.name, n.macs, n.op_class) for n in plain_graph.nodes]


def test_skip_applies_to_meta_tensors_only():
    import torch

    with sources._skip_meta_init():
        real = torch.zeros(3)
        real.add_(2.0)
        meta = torch.zeros(3, device="meta")
        assert meta.add_(2.0) is meta
    assert real.tolist() == [2.0, 2.0, 2.0]
