"""One set of bounds (hwmap.limits) at every door: sizes beyond them are one clear error before any model is built,
traced, folded or costed; the same sizes inside them still work."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from hwmap.errors import HwmapError, ModelError, ParameterError
from hwmap.limits import MAX_BATCH, MAX_LAYERS, MAX_RESOLUTION, check_graph_size, check_input_chw, check_size


def test_the_readme_promise_is_the_bound():
    assert MAX_RESOLUTION == 65_536
    assert check_input_chw((3, 65_536, 1)) == (3, 65_536, 1)
    with pytest.raises(ParameterError, match=r"^input_shape must be C x H x W with positive sizes up to 65,536"):
        check_input_chw((3, 65_537, 1))
    with pytest.raises(ParameterError, match=r"^batch must be at most 1,048,576, got 1,048,577$"):
        check_size(MAX_BATCH + 1, name="batch", limit=MAX_BATCH)
    with pytest.raises(HwmapError, match="operators, more than"):
        check_graph_size(2**21, 10, name="m")
    with pytest.raises(HwmapError, match="MACs, more than"):
        check_graph_size(10, 2**63, name="m")


# ---------------------------------------------------------------- paths files, design spaces, OFA specs (CLI)


@pytest.mark.parametrize(("new", "names"), [
    ("    resolution: 1000000", ("paths.1.resolution", "65536", "1000000")),
    ("    input: 3x1000000x64", ("paths file", "65536")),
    ("    resolution: 0", ("paths.1.resolution", "greater than or equal to 1")),
])
def test_paths_file_sizes_are_bounded(inputs, hostile, new, names):
    path = inputs["paths"]
    path.write_text(path.read_text().replace("    resolution: 160", new))
    hostile("paths", "cost", path, "--accel", "systolic8x8", names=(path.name, *names))


def test_design_space_model_sizes_are_bounded(inputs, hostile):
    path = inputs["space"]
    path.write_text(path.read_text().replace("{model: graph.json, name: tiny}",
                                             "{model: resnet18, resolution: 100000, batch: 2}"))
    hostile("sweep", path, "--workers", "1", names=(path.name, "models[0].resolution", "65536"))


@pytest.mark.parametrize("r", ["99999", "65537", "0"])
def test_ofa_spec_resolution_is_bounded(hostile, r):
    hostile("flops", f"ofa-resnet50:d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2;r={r}", names=("r needs", "65536", r))


@pytest.mark.parametrize(("argv", "names"), [
    (["--resolution", "65537"], ("--resolution", "65537")),
    (["--input", "3x70000x64"], ("--input", "65536")),
    (["--batch", str(MAX_BATCH + 1)], ("--batch",)),
])
def test_cli_sizes_are_bounded(inputs, hostile, argv, names):
    hostile("flops", "resnet18", *argv, names=names)


# ---------------------------------------------------------------- hf: configs


def _hf(tmp_path, **fields):
    config = {"model_type": "vit", "image_size": 32, "patch_size": 16, "hidden_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "intermediate_size": 64, **fields}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def no_construction(monkeypatch):
    """Fail the test if a transformers model would be constructed."""
    import hwmap.graph.sources as sources

    def refuse(*_args, **_kwargs):
        raise AssertionError("a model was constructed")

    monkeypatch.setattr(sources, "_hf_from_config", refuse)


@pytest.mark.parametrize(("fields", "message"), [
    ({"num_hidden_layers": 20_000}, "num_hidden_layers is 20000; expected integers from 0 to 4,096"),
    ({"num_hidden_layers": 3000, "vision_config": {"num_layers": 3000}}, "6,000 repeated layers"),
    ({"image_size": 1_000_000}, "image_size is 1000000"),
    ({"num_labels": 10**9}, "num_labels is 1000000000"),
    ({"hidden_size": 32.5}, "hidden_size is 32.5"),
    ({"depths": [2, 2, "x"]}, "depths is [2, 2, 'x']"),
    ({"vision_config": {"image_size": 70000}}, "config field vision_config.image_size is 70000"),
])
def test_hf_config_sizes_are_refused_before_construction(tmp_path, no_construction, fields, message):
    from hwmap.graph.sources import build_model

    with pytest.raises(ModelError) as caught:
        build_model(f"hf:{_hf(tmp_path, **fields)}")
    assert message in str(caught.value) and str(tmp_path) in str(caught.value)
    assert MAX_LAYERS == 4096


@pytest.mark.parametrize("name", ["pipeline", "set_seed", "BertModel", "TrainingArguments", "__class__", 7])
def test_hf_builds_only_vision_model_classes_transformers_pairs_with_the_config(tmp_path, hostile, name):
    config = _hf(tmp_path, architectures=[name])
    hostile("flops", f"hf:{config}", names=("architectures names", "not a vision model class", "ViTModel"))


def test_hf_named_vision_class_is_built(tmp_path):
    from hwmap.graph.sources import build_model

    built = build_model(f"hf:{_hf(tmp_path, architectures=['ViTForImageClassification'])}")
    assert type(built.module).__name__ == "ViTForImageClassification"
    assert build_model(f"hf:{_hf(tmp_path)}").module.__class__.__name__ == "ViTModel"  # no architectures: base


# ---------------------------------------------------------------- ONNX


def _onnx(path, nodes, input_dims=(1, 3, 8, 8), outputs=()):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [*nodes, helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(input_dims)), *outputs])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _folding_bomb(path, *, computed: bool):
    """A file of a few hundred bytes whose ConstantOfShape asks for a 30000 x 30000 float tensor (3.6 GB); computed:
    the shape comes from an Add that shape inference alone does not resolve."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def const(name, values):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.int64)))

    shape = [const("a", [15000, 15000]), helper.make_node("Add", ["a", "a"], ["s"])] if computed \
        else [const("s", [30000, 30000])]
    nodes = [*shape, helper.make_node("ConstantOfShape", ["s"], ["big"]), helper.make_node("Shape", ["big"], ["bs"])]
    return _onnx(path, nodes, outputs=[helper.make_tensor_value_info("bs", TensorProto.INT64, [2])])


@pytest.mark.parametrize("computed", [False, True])
def test_onnx_constant_folding_never_materialises_a_large_tensor(tmp_path, computed):
    from hwmap.interop.onnx import onnx_graph

    path = _folding_bomb(tmp_path / "bomb.onnx", computed=computed)
    assert path.stat().st_size < 400
    tracemalloc.start()
    try:
        graph = onnx_graph(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"peak {peak / 1e6:.0f} MB while reading a {path.stat().st_size}-byte file"  # was 3,600 MB
    assert graph.total_macs == 0 and len(graph.nodes) >= 1


def test_onnx_declared_input_sizes_are_bounded(tmp_path, hostile):
    path = _onnx(tmp_path / "huge.onnx", [], input_dims=(1, 3, 1_000_000, 1_000_000))
    hostile("flops", path, names=("huge.onnx", "1x3x1000000x1000000", "65,536"))


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input_shape": (3, 70000, 8)}, "input_shape"), ({"input_shape": (3, 8.5, 8)}, "input_shape"),
    ({"resolution": 70000}, "resolution"), ({"batch": MAX_BATCH + 1}, "batch"), ({"batch": 2.0}, "batch"),
])
def test_onnx_api_sizes_are_bounded(tmp_path, kwargs, param):
    from hwmap.interop.onnx import onnx_graph

    path = _onnx(tmp_path / "dyn.onnx", [], input_dims=("N", 3, "H", "W"))
    with pytest.raises(ParameterError) as caught:
        onnx_graph(path, **kwargs)
    assert caught.value.param == param


# ---------------------------------------------------------------- nn.Modules and the API


def test_module_sizes_are_bounded_before_tracing():
    import torch

    from hwmap.graph.extract import extract_graph

    conv = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(ParameterError, match="^input_shape must be C x H x W"):
        extract_graph(conv, input_shape=(3, 70000, 8))
    # real weights run real arithmetic: a 3 x 65536 x 65536 input (51 GB of fp32) is refused before allocation
    with pytest.raises(ParameterError, match=r"^input_shape x batch is 12,884,901,888 input elements"):
        extract_graph(conv, input_shape=(3, 65536, 65536))
    assert extract_graph(conv, input_shape=(3, 8, 8)).total_macs == 4 * 6 * 6 * 27
    with torch.device("meta"):
        meta_conv = torch.nn.Conv2d(3, 4, 3)
    graph = extract_graph(meta_conv, input_shape=(3, 65536, 65536))  # the meta device allocates nothing
    assert graph.total_macs == 4 * 65534 * 65534 * 27
