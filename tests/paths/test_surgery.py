"""A skipped-blocks path derived from the base graph equals the traced graph of the transformed model."""

from __future__ import annotations

import pytest

from hwmap.errors import HwmapError
from hwmap.paths.model import PathSpec, path_graph


@pytest.mark.parametrize(
    ("model", "blocks"),
    [
        ("segformer-b0", ("segformer.stages.2.blocks.1", "segformer.stages.0.blocks.1")),
        ("resnet18", ("layer3.1",)),
        ("deit_tiny_patch16_224", ("blocks.1[01]",)),
    ],
)
def test_derived_graph_equals_traced_graph(model, blocks):
    spec = PathSpec(name="skip", model=model, input_chw=None, skip_blocks=blocks)
    traced = path_graph(spec)  # no cache: built, transformed and traced
    derived = path_graph(spec, cache={})  # cache: derived from the full model's graph
    assert [(n.op, n.work, n.op_class, n.scope, n.inputs, n.outputs) for n in traced.nodes] == \
        [(n.op, n.work, n.op_class, n.scope, n.inputs, n.outputs) for n in derived.nodes]
    assert (traced.params, traced.param_bytes) == (derived.params, derived.param_bytes)
    full = path_graph(PathSpec(name="full", model=model, input_chw=None))
    assert derived.total_macs < full.total_macs


def test_derived_path_refuses_shape_changing_blocks():
    with pytest.raises(HwmapError, match="layer2.0 change the tensor shape"):
        path_graph(PathSpec(name="bad", model="resnet18", input_chw=None, skip_blocks=("layer2.0",)), cache={})
