"""Graph extraction and template reading outside hwmap.api (hwmap.graph.extract, hwmap.interop.inputs): the
numbers the API gives, errors that name the API parameters, and the template loader's own strict reading."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwmap.api as api
from hwmap.errors import HwmapError, TemplateError
from hwmap.graph.extract import extract_graph
from hwmap.graph.io import save_graph
from hwmap.graph.spec import graph_spec
from hwmap.hardware.loader import load_accelerator
from hwmap.interop.inputs import model_graph, read_accelerator

SCALESIM = Path(__file__).parents[1] / "data" / "scalesim" / "conv_is_16x16_sram64k"


def _conv():
    import torch

    return torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)


def test_an_nn_module_gives_the_hand_counted_macs_and_the_api_the_same_graph():
    graph = extract_graph(_conv(), input_shape=(3, 8, 8), batch=2)
    # 2 images x 8x8 outputs x 8 filters x (3 channels x 3x3 taps) = 2 * 64 * 8 * 27
    assert graph.total_macs == 2 * 64 * 8 * 27 == 27648
    assert api.extract_graph(_conv(), input_shape=(3, 8, 8), batch=2).total_macs == graph.total_macs
    assert extract_graph(graph) is graph


def test_a_saved_graph_and_a_topology_and_the_api_agree(tmp_path):
    graph = extract_graph(_conv(), input_shape=(3, 8, 8))
    save_graph(graph, tmp_path / "conv.json")
    assert extract_graph(tmp_path / "conv.json").total_macs == 64 * 8 * 27
    # SCALE-Sim topology: first layer 16x16 ifmap, 3x3 filter, 8 channels, 24 filters, stride 1, no padding:
    # 14 x 14 outputs x 24 filters x 72 taps = 338688 MACs
    topology = model_graph(str(SCALESIM / "topology.csv"))
    assert topology.nodes[0].macs == 14 * 14 * 24 * 72 == 338688
    assert api.extract_graph(str(SCALESIM / "topology.csv")).total_macs == topology.total_macs


@pytest.mark.parametrize(("call", "message"), [
    (lambda: extract_graph("resnet18", batch=0), "batch must be a positive integer, got 0"),
    (lambda: graph_spec("resnet18", input_shape=(3, 64, 64), resolution=64),
     "give input_shape or resolution, not both"),
    (lambda: graph_spec("resnet18", input_shape=(3, 0, 64)), "input_shape must be C x H x W with positive sizes"),
    (lambda: graph_spec("resnet18", resolution=0), "resolution must be a positive integer, got 0"),
    (lambda: extract_graph(_conv()), "an nn.Module needs example_inputs or input_shape=(C, H, W)"),
    (lambda: extract_graph(42), "model must be a spec string, a graph .json, a LayerGraph or an nn.Module, got int"),
    (lambda: model_graph("model.onnx", num_classes=10), "num_classes does not apply"),
])
def test_errors_name_the_api_parameter(call, message):
    with pytest.raises(HwmapError) as caught:
        call()
    assert message in str(caught.value) and "--" not in str(caught.value)


def test_a_saved_graph_refuses_shape_options_by_their_api_names(tmp_path):
    save_graph(extract_graph(_conv(), input_shape=(3, 8, 8)), tmp_path / "conv.json")
    with pytest.raises(HwmapError, match="saved graph with fixed shapes: input_shape, resolution, batch and "
                                         "num_classes do not apply"):
        extract_graph(tmp_path / "conv.json", batch=2)


def test_templates_are_read_the_same_in_the_library_and_the_api(tmp_path):
    accel = read_accelerator("systolic16x16")
    assert read_accelerator(accel) is accel and api.load_accelerator("systolic16x16") == accel
    from_cfg = read_accelerator(str(SCALESIM / "config.cfg"))
    assert (from_cfg.spec.array.rows, from_cfg.spec.array.cols, from_cfg.spec.array.dataflow) == (16, 16, "is")
    assert api.load_accelerator(str(SCALESIM / "config.cfg")) == from_cfg


def test_the_template_loader_refuses_absurd_nesting_and_binary_text_in_one_line(tmp_path):
    nested = tmp_path / "nested.yaml"
    nested.write_text("[" * 100_000)  # PyYAML's C parser would crash the process on this
    with pytest.raises(TemplateError) as caught:
        load_accelerator(nested)
    assert "nested.yaml" in str(caught.value) and "\n" not in str(caught.value)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"kind: systolic\n\x00\x00")
    with pytest.raises(TemplateError, match="binary.yaml: is a binary file, expected a YAML accelerator template"):
        load_accelerator(binary)
