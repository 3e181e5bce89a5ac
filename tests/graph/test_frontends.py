"""The front-end registry's contract, generated from the registry: every registered front end (hwmap.graph.frontends,
hwmap.interop.frontends) has a tiny example here that it is routed to and reads with hand-counted MACs, as timm
tests every registered model. A front end added without an example fails test_every_front_end_has_an_example."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmap.graph.frontends import front_end_for, front_ends, model_routes
from hwmap.graph.sources import OFA_EXAMPLE
from hwmap.graph.spec import GraphSpec, graph_spec
from hwmap.interop.frontends import load as load_interop_front_ends
from hwmap.interop.inputs import read_graph
from hwmap.ops.work import Conv

load_interop_front_ends()

# A 3 -> 8 channel 3x3 conv, padding 1, on a 3x8x8 input: 8x8 outputs x 8 filters x 27 taps
TINY_CONV_MACS = 8 * 8 * 8 * 27  # 13,824
CONV_FILE = '''import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(x)
'''


def _conv():
    import torch

    return torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)


def _layer_graph(tmp_path: Path) -> GraphSpec:
    from hwmap.graph.extract import extract_graph

    return GraphSpec(extract_graph(_conv(), input_shape=(3, 8, 8)))


def _saved_graph(tmp_path: Path) -> GraphSpec:
    from hwmap.graph.extract import extract_graph
    from hwmap.graph.io import save_graph

    save_graph(extract_graph(_conv(), input_shape=(3, 8, 8)), tmp_path / "conv.json")
    return GraphSpec(str(tmp_path / "conv.json"))


def _module_file(tmp_path: Path) -> GraphSpec:
    (tmp_path / "tiny.py").write_text(CONV_FILE)
    return graph_spec(f"{tmp_path / 'tiny.py'}:Tiny", input_shape=(3, 8, 8))


def _onnx(tmp_path: Path) -> GraphSpec:
    """An ONNX file made here with onnx.helper: one Conv node, weights as an initializer."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save

    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), dtype=np.float32), name="w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], [weight])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "tiny.onnx")
    return GraphSpec(str(tmp_path / "tiny.onnx"))


def _topology(tmp_path: Path) -> GraphSpec:
    """A SCALE-Sim topology row: a 10x10 ifmap (the 8x8 input with its padding), 3x3 filter, 3 -> 8 channels."""
    (tmp_path / "tiny.csv").write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                                       "Channels, Num Filter, Strides,\nconv, 10, 10, 3, 3, 3, 8, 1,\n")
    return GraphSpec(str(tmp_path / "tiny.csv"))


def _hf_vit(tmp_path: Path) -> GraphSpec:
    """A one-layer ViT config: 32x32 images in 16x16 patches, width 32."""
    import json

    config = {"model_type": "vit", "architectures": ["ViTModel"], "image_size": 32, "patch_size": 16,
              "num_channels": 3, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 64}
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "config.json").write_text(json.dumps(config))
    return GraphSpec(f"hf:{tmp_path / 'vit'}")


# ResNet-18's stem at 32x32: a 7x7 stride-2 conv, 3 -> 64 channels, 16x16 outputs x 64 x 147 taps
RESNET18_STEM_MACS_32 = 16 * 16 * 64 * 147  # 2,408,448

# front end -> (its tiny example, the MACs of the example's first conv (= all its MACs where only_conv))
EXAMPLES = {
    "layer-graph": (_layer_graph, TINY_CONV_MACS),
    "saved-graph": (_saved_graph, TINY_CONV_MACS),
    "nn-module": (lambda tmp_path: graph_spec(_conv(), input_shape=(3, 8, 8)), TINY_CONV_MACS),
    "module-file": (_module_file, TINY_CONV_MACS),
    "onnx": (_onnx, TINY_CONV_MACS),
    "scalesim-topology": (_topology, TINY_CONV_MACS),
    "timm": (lambda tmp_path: graph_spec("resnet18", resolution=32), RESNET18_STEM_MACS_32),
    "timm-prefixed": (lambda tmp_path: graph_spec("timm:resnet18", resolution=32), RESNET18_STEM_MACS_32),
    "torchvision": (lambda tmp_path: graph_spec("tv:resnet18", resolution=32), RESNET18_STEM_MACS_32),
    # SegFormer-B0's first patch embedding at 64x64: 7x7 stride-4 conv, 3 -> 32 channels, 16x16 outputs x 147 taps
    "segformer": (lambda tmp_path: graph_spec("segformer-b0", resolution=64), 16 * 16 * 32 * 147),
    # ViT patch embedding: 2x2 patches x 32 channels x (3 x 16 x 16) taps
    "hugging-face": (_hf_vit, 2 * 2 * 32 * 768),
    # OFA ResNet-50's input stem at 64x64: 3x3 stride-2 conv, 3 -> 32 channels (w=2: width 1.0 x 32), 32x32 outputs
    "ofa-resnet50": (lambda tmp_path: graph_spec(OFA_EXAMPLE, resolution=64), 32 * 32 * 32 * 27),
}
ONLY_A_CONV = {"layer-graph", "saved-graph", "nn-module", "module-file", "onnx", "scalesim-topology"}


def test_every_front_end_has_an_example():
    assert set(front_ends()) == set(EXAMPLES)


def test_exactly_one_fallback_and_every_route_in_the_unknown_model_error():
    assert [f.name for f in front_ends().values() if f.fallback] == ["timm"]
    routes = model_routes()
    assert all(f.route in routes for f in front_ends().values())
    assert routes.startswith("a timm name (resnet50, deit_small_patch16_224), tv:<torchvision name>")
    assert routes.endswith(", or an nn.Module in Python (hwmap.api.estimate(module, accel, input_shape=(3, 224, 224)))")


@pytest.mark.parametrize("name", list(front_ends()))  # from the registry: a new front end is a new case here
def test_each_front_end_reads_its_example(name, tmp_path):
    assert name in EXAMPLES, f"front end {name!r} is registered but has no tiny example in EXAMPLES"
    example, first_conv_macs = EXAMPLES[name]
    spec = example(tmp_path)
    assert front_end_for(spec.model).name == name
    graph = read_graph(spec)
    convs = [node for node in graph.nodes if isinstance(node.work, Conv)]
    assert convs and convs[0].macs == first_conv_macs
    if name in ONLY_A_CONV:
        assert graph.total_macs == first_conv_macs == 13824
    if front_ends()[name].build is not None:  # a name of an nn.Module also builds it (paths, calibration)
        from hwmap.graph.sources import build_model

        assert build_model(str(spec.model)).name == graph.model


def test_a_front_end_gets_the_spec_as_is(monkeypatch, tmp_path):
    """No front end re-validates: the spec hwmap.api built reaches the reader unchanged (the same object)."""
    import hwmap.api as api
    from hwmap.graph import frontends

    seen = []
    entry = frontends._FRONT_ENDS["scalesim-topology"]
    monkeypatch.setitem(frontends._FRONT_ENDS, "scalesim-topology",
                        frontends.FrontEnd(entry.name, entry.route, entry.order, entry.matches,
                                           lambda spec: seen.append(spec) or entry.read(spec)))
    path = _topology(tmp_path).model
    assert api.extract_graph(path, input_shape="3x8x8").total_macs == 13824
    assert seen == [GraphSpec(path, input_chw=(3, 8, 8))]


@pytest.mark.parametrize(("registration", "message"), [
    (dict(name="timm", route="x", order=1, suffix=".x"), "front end 'timm' is registered twice"),
    (dict(name="new", route="x", order=1, suffix=".x", matches=bool), "give matches or suffix, one of them"),
    (dict(name="new", route="x", order=1, matches=bool, fallback=True), "there is already a fallback front end"),
])
def test_a_registration_that_would_make_routing_ambiguous_is_refused(registration, message):
    from hwmap.graph.frontends import register_front_end

    front_ends()  # every front end registered
    with pytest.raises(ValueError, match=message):
        register_front_end(**registration)(lambda spec: None)
    assert "new" not in front_ends()


def test_a_suffix_front_end_takes_any_case_and_the_first_by_order_wins():
    assert front_end_for("MODEL.ONNX").name == "onnx" and front_end_for("net.CSV").name == "scalesim-topology"
    assert front_end_for("hf:config.json").name == "hugging-face"  # not a saved graph: hf: names a config
    assert front_end_for("tv:resnet18").name == "torchvision" and front_end_for("segformer-B2").name == "segformer"
