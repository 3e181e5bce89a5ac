"""ONNX import: exports made here with torch.onnx.export give the aten trace's MACs, op classes and estimates."""

from __future__ import annotations

import collections
import subprocess
import sys
import warnings

import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

import hwmap.api as api  # noqa: E402
from hwmap.errors import HwmapError, ModelError  # noqa: E402
from hwmap.interop.onnx import module_scope  # noqa: E402


def _export(module, x, path) -> None:
    """The TorchScript exporter (dynamo=False): torch 2.14's dynamo exporter needs onnxscript, not installed.
    Constant folding off keeps BatchNormalization nodes, as the aten trace has them."""
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, do_constant_folding=False)


def _mac_shares(graph) -> dict[str, float]:
    macs = collections.Counter()
    for node in graph.nodes:
        macs[node.op_class.value] += node.macs
    total = sum(macs.values())
    return {cls: 100.0 * value / total for cls, value in macs.items() if value}


def _check_same(module, x, path, expected_classes):
    _export(module, x, path)
    from_onnx = api.extract_graph(path)
    from_aten = api.extract_graph(module, example_inputs=x)
    assert from_onnx.unsupported == ()
    assert abs(from_onnx.total_macs / from_aten.total_macs - 1) <= 0.005
    onnx_shares, aten_shares = _mac_shares(from_onnx), _mac_shares(from_aten)
    assert set(onnx_shares) == set(aten_shares) == set(expected_classes)
    for cls in aten_shares:
        assert abs(onnx_shares[cls] - aten_shares[cls]) <= 1.0, cls
    cost_onnx, cost_aten = api.estimate(from_onnx, "systolic16x16"), api.estimate(from_aten, "systolic16x16")
    assert abs(cost_onnx.energy_mj / cost_aten.energy_mj - 1) <= 0.01
    assert abs(cost_onnx.cycles / cost_aten.cycles - 1) <= 0.01
    return from_onnx, from_aten


def test_resnet18_export_matches_the_aten_trace(tmp_path):
    import torchvision

    torch.manual_seed(0)
    onnx_graph, aten_graph = _check_same(torchvision.models.resnet18(), torch.randn(1, 3, 96, 96),
                                         tmp_path / "r18.onnx", {"conv.dense", "conv.pointwise", "linear"})
    # conv1 of resnet18 at 96x96: 7x7x3 filters, 64 of them, over a 48x48 output: 48*48*64*147 MACs
    conv1 = next(n for n in onnx_graph.nodes if n.scope == "conv1")
    assert conv1.macs == 48 * 48 * 64 * 147 and conv1.op_class.value == "conv.dense"
    assert {n.scope for n in onnx_graph.nodes if n.work.kind == "conv"} == \
        {n.scope for n in aten_graph.nodes if n.work.kind == "conv"}
    assert onnx_graph.capture_mode == "onnx" and onnx_graph.input_shapes == ((1, 3, 96, 96),)


def test_small_vit_export_matches_the_aten_trace(tmp_path):
    import timm

    torch.manual_seed(0)
    vit = timm.models.vision_transformer.VisionTransformer(img_size=64, patch_size=8, embed_dim=96, depth=2,
                                                          num_heads=3, num_classes=10)
    onnx_graph, _ = _check_same(vit, torch.randn(1, 3, 64, 64), tmp_path / "vit.onnx",
                                {"conv.dense", "linear", "linear.attention", "attention.matmul"})
    # QK^T of one block: 3 heads x (65 tokens x 65 tokens x 32 dims) MACs, in the fused-attention parts
    qk = [n for n in onnx_graph.nodes if n.part == "qk"]
    assert len(qk) == 2 and qk[0].macs == 3 * 65 * 65 * 32 and qk[0].scope == "blocks.0.attn"
    assert [n.part for n in onnx_graph.nodes if n.part] == ["qk", "softmax", "av"] * 2


def test_segformer_b0_export_matches_the_aten_trace(tmp_path):
    from hwmap.graph.capture import materialise_on_cpu
    from hwmap.graph.sources import build_model

    built = build_model("segformer-b0")
    materialise_on_cpu(built.module)
    _check_same(built.module, torch.randn(1, 3, 128, 128), tmp_path / "segformer.onnx",
                {"conv.dense", "conv.pointwise", "conv.depthwise", "linear", "linear.attention",
                 "attention.matmul"})


def test_depthwise_net_export_matches_the_aten_trace(tmp_path):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU6(),
        torch.nn.Conv2d(16, 16, 3, padding=1, groups=16), torch.nn.BatchNorm2d(16), torch.nn.Hardswish(),
        torch.nn.Conv2d(16, 32, 1), torch.nn.Conv2d(32, 32, 3, padding=1, groups=4),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10),
    )
    onnx_graph, _ = _check_same(net, torch.randn(1, 3, 32, 32), tmp_path / "dw.onnx",
                                {"conv.dense", "conv.depthwise", "conv.pointwise", "conv.grouped", "linear"})
    depthwise = next(n for n in onnx_graph.nodes if n.op_class.value == "conv.depthwise")
    assert depthwise.macs == 16 * 16 * 16 * 9  # 16x16 output, 16 channels, one 3x3 filter each


def test_module_scopes_from_exporter_node_names():
    assert module_scope("/layer1/layer1.0/conv1/Conv") == "layer1.0.conv1"
    assert module_scope("/blocks/blocks.3/attn/MatMul_1") == "blocks.3.attn"
    assert module_scope("/Flatten") == ""
    assert module_scope("conv_0") == ""


def _tiny_model(op_type: str = "Relu", domain: str = "", dynamic: bool = False):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    dims = ["N", 3, "H", "W"] if dynamic else [1, 3, 8, 8]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), dtype=np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="/stem/conv/Conv", pads=[1, 1, 1, 1]),
             helper.make_node(op_type, ["c"], ["y"], name="/head/Custom", domain=domain)]
    graph = helper.make_graph(nodes, "tiny", [x], [y], [weight])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)


def test_unknown_op_is_listed_as_unsupported(tmp_path):
    path = tmp_path / "custom.onnx"
    onnx.save(_tiny_model("FancyOp", "com.example"), str(path))
    graph = api.extract_graph(path)
    assert graph.total_macs == 8 * 8 * 4 * 27  # the conv still counts: 8x8 output, 4 filters of 3x3x3
    assert [n.op for n in graph.unsupported] == ["onnx.com.example.FancyOp"]
    assert graph.unsupported_summary() == "onnx.com.example.FancyOp in head"
    with pytest.raises(HwmapError, match="1 unsupported operator"):
        api.extract_graph(path, strict=True)


def test_dynamic_dims_need_input(tmp_path):
    path = tmp_path / "dynamic.onnx"
    onnx.save(_tiny_model(dynamic=True), str(path))
    with pytest.raises(HwmapError, match="dynamic dimension.*input_shape"):
        api.extract_graph(path)
    graph = api.extract_graph(path, input_shape=(3, 16, 16), batch=2)
    assert graph.input_shapes == ((2, 3, 16, 16),) and graph.total_macs == 2 * 16 * 16 * 4 * 27
    fixed = tmp_path / "fixed.onnx"
    onnx.save(_tiny_model(), str(fixed))
    with pytest.raises(HwmapError, match="fixed shape 1x3x8x8"):
        api.extract_graph(fixed, resolution=16)


def test_malformed_and_truncated_files_are_one_line_errors(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_tiny_model(), str(path))
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 7, 3):
        truncated = tmp_path / f"cut{cut}.onnx"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ModelError, match=str(truncated)):
            api.extract_graph(truncated)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not a protobuf \x00\x01" * 10)
    with pytest.raises(ModelError, match="garbage.onnx"):
        api.extract_graph(garbage)
    run = subprocess.run([sys.executable, "-m", "hwmap", "flops", str(tmp_path / "cut3.onnx")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "cut3.onnx" in run.stderr and "internal error" not in run.stderr


def test_reading_an_onnx_model_does_not_import_torch(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_tiny_model(), str(path))
    code = ("import sys, hwmap.api as api\n"
            f"graph = api.extract_graph({str(path)!r})\n"
            "assert graph.total_macs == 8 * 8 * 4 * 27, graph.total_macs\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_dynamo_exporter_scope_metadata_gives_scope_and_class(tmp_path):
    model = _tiny_model()
    conv = model.graph.node[0]
    conv.name = "node_conv2d"
    conv.metadata_props.add(key="pkg.torch.onnx.name_scopes", value="['', 'stem', 'stem.conv', 'conv2d']")
    conv.metadata_props.add(key="pkg.torch.onnx.class_hierarchy", value="['Net', 'torch.nn.modules.container."
                            "Sequential', 'torch.nn.modules.conv.Conv2d', 'aten.conv2d.default']")
    path = tmp_path / "dynamo.onnx"
    onnx.save(model, str(path))
    first = api.extract_graph(path).nodes[0]
    assert (first.scope, first.module_class, first.op) == ("stem.conv", "Conv2d", "onnx.Conv")
