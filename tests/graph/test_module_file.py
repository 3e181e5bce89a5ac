"""MODEL 'file.py:Name': the user's own module from the command line, its errors, and its ONNX export."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import hwmap.api as api  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MYNET = ROOT / "examples" / "mynet.py"
SPEC = f"{MYNET}:MyNet"


def _mynet():
    from hwmap.graph.module_file import build_module

    module, _name, _meta = build_module(SPEC)
    return module


def _export(path: Path, *, fold: bool, dynamic_batch: bool = False) -> None:
    """The TorchScript exporter (dynamo=False: the dynamo exporter needs onnxscript, the `onnx` extra). With
    constant folding the exporter folds the batch norms into the convolutions; without, they stay."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mynet_for_export", MYNET)
    mynet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mynet)
    torch.manual_seed(0)
    module = mynet.MyNet().eval()
    axes = {"x": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, 3, 64, 64),), str(path), dynamo=False, do_constant_folding=fold,
                          input_names=["x"], dynamic_axes=axes)


def test_cli_estimate_of_a_file_module_equals_the_api_on_the_module(run_cli):
    code, out, err = run_cli("estimate", SPEC, "--input", "3x64x64", "-a", "systolic16x16", "--json")
    assert code == 0, err
    cli = json.loads(out)
    import importlib.util

    spec = importlib.util.spec_from_file_location("mynet_api", MYNET)
    mynet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mynet)
    cost = api.estimate(mynet.MyNet(), "systolic16x16", input_shape=(3, 64, 64))
    assert cli["model"] == cost.model == "MyNet"
    assert cli["energy_mj"] == pytest.approx(cost.energy_mj, rel=1e-12)
    assert cli["latency_ms"] == pytest.approx(cost.latency_ms, rel=1e-12)
    # 3 convs (27*32 + 288*64 + 576*128 MACs per pixel at 64, 32, 16 px) + the 128 x 10 classifier
    assert cost.macs == 64 * 64 * 27 * 32 + 32 * 32 * 288 * 64 + 16 * 16 * 576 * 128 + 128 * 10


def test_a_factory_and_num_classes(run_cli):
    code, out, err = run_cli("flops", f"{MYNET}:mynet_wide", "--input", "3x32x32", "--num-classes", "7", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_macs"] == 32 * 32 * 27 * 64 + 16 * 16 * 576 * 128 + 8 * 8 * 1152 * 256 + 256 * 7


@pytest.mark.parametrize(("source", "name", "expected"), [
    (None, "MyNet", "no such file"),
    ("import torch\n", "MyNet", "defines no 'MyNet'; its nn.Module classes and functions: none"),
    ("raise RuntimeError('boom')\n", "X", "importing it raised RuntimeError: boom"),
    ("def f(:\n", "f", "importing it raised SyntaxError"),
    ("X = 3\n", "X", "is a int, not an nn.Module class or a function returning one"),
    ("def f():\n    return 3\n", "f", "f() returned a int; expected an nn.Module"),
    ("import torch\nclass Net(torch.nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n",
     "Net", "Net() raised TypeError"),
    ("import torch\nclass Net(torch.nn.Module):\n    pass\n", "Net()", "'Net()' is not a Python name"),
])
def test_file_errors_are_one_line(run_cli, tmp_path, source, name, expected):
    path = tmp_path / "net.py"
    if source is not None:
        path.write_text(source)
    code, out, err = run_cli("estimate", f"{path}:{name}", "--input", "3x32x32", "-a", "systolic16x16")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("hwmap: error: ") and expected in err and "Traceback" not in err


def test_a_file_module_needs_an_input_size(run_cli):
    code, _, err = run_cli("estimate", SPEC, "-a", "systolic16x16")
    assert code == 2 and "--input is needed for a model from a Python file" in err
    with pytest.raises(Exception, match="input_shape is needed"):
        api.extract_graph(SPEC)


def test_unknown_model_lists_every_route(run_cli):
    code, _, err = run_cli("estimate", "mynet", "-a", "systolic16x16")
    assert code == 2 and err.count("\n") == 1
    for route in ("timm name", "tv:", "segformer-b0..b5", "hf:", "ofa-resnet50:", "file.py:ClassOrFactory", ".onnx",
                  "saved graph", "hwmap.api.estimate(module"):
        assert route in err, route


def test_onnx_export_gives_the_same_accelerator_energy(tmp_path):
    module_cost = api.estimate(_mynet(), "systolic16x16", input_shape=(3, 64, 64))
    for fold in (True, False):
        path = tmp_path / f"mynet_fold{fold}.onnx"
        _export(path, fold=fold)
        onnx_cost = api.estimate(path, "systolic16x16")
        assert onnx_cost.energy_mj == pytest.approx(module_cost.energy_mj, rel=1e-9)
        assert onnx_cost.macs == module_cost.macs


def test_gpu_note_when_the_exporter_folded_the_batch_norms(tmp_path, run_cli):
    folded, kept = tmp_path / "folded.onnx", tmp_path / "kept.onnx"
    _export(folded, fold=True)
    _export(kept, fold=False)
    module = api.estimate(_mynet(), "h100_sxm", input_shape=(3, 64, 64))
    folded_cost = api.estimate(folded, "h100_sxm")
    kept_cost = api.estimate(kept, "h100_sxm")
    note = "no BatchNormalization in this ONNX file"
    assert any(note in n for n in folded_cost.notes)
    assert not any(note in n for n in kept_cost.notes) and not any(note in n for n in module.notes)
    assert folded_cost.latency_ms < 0.9 * module.latency_ms  # why the note matters: the batch-norm kernels are gone
    code, out, _ = run_cli("estimate", str(folded), "-a", "h100_sxm")
    assert code == 0 and note in " ".join(out.split())


def test_dynamic_batch_axis_says_the_batch_it_used(tmp_path):
    path = tmp_path / "dynamic.onnx"
    _export(path, fold=False, dynamic_batch=True)
    one = api.extract_graph(path)
    four = api.extract_graph(path, batch=4)
    assert four.total_macs == 4 * one.total_macs
    assert any("dynamic batch axis: costed at batch 1" in n for n in one.notes)
    assert any("dynamic batch axis: costed at batch 4" in n for n in four.notes)
    fixed = tmp_path / "fixed.onnx"
    _export(fixed, fold=False)
    assert not any("dynamic batch" in n for n in api.extract_graph(fixed).notes)


def test_paths_of_a_file_module_need_an_input_and_cost_like_estimate(run_cli, tmp_path):
    paths = tmp_path / "paths.yaml"
    paths.write_text(f"schema_version: 1\nmodel: {SPEC}\npaths:\n  - name: full\n")
    code, _, err = run_cli("paths", "cost", str(paths), "-a", "systolic16x16")
    assert code == 2 and "path 'full': model" in err and "give 'input: CxHxW' in the paths file" in err
    paths.write_text(f"schema_version: 1\nmodel: {SPEC}\ninput: 3x64x64\npaths:\n  - name: full\n")
    [costed] = api.cost_paths(str(paths), "systolic16x16")
    estimate = api.estimate(SPEC, "systolic16x16", input_shape=(3, 64, 64))
    assert costed.energy_mj == pytest.approx(estimate.energy_mj, rel=1e-12) and costed.macs == estimate.macs
