"""Graph JSON round trip, torch-free reading, and clear errors for damaged files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hwmap.errors import GraphFileError
from hwmap.graph.io import graph_to_dict, load_graph, save_graph
from tests.conftest import traced


@pytest.mark.parametrize("spec", ["segformer-b0", "swin_tiny_patch4_window7_224"])
def test_round_trip_is_lossless(tmp_path, spec):
    graph = traced(spec)
    path = save_graph(graph, tmp_path / "g.json")
    loaded = load_graph(path)
    assert loaded == graph  # every node: op, work, class, scope, shapes, dtypes, sources
    assert loaded.meta == graph.meta
    assert graph_to_dict(loaded) == graph_to_dict(graph)


def test_reading_a_graph_does_not_import_torch(tmp_path):
    path = save_graph(traced("segformer-b0"), tmp_path / "g.json")
    code = (
        "import sys; from hwmap.cli import main\n"
        f"try:\n    main(['flops', {str(path)!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('TORCH-FREE')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TORCH-FREE" in result.stdout
    data = json.loads(result.stdout.split("TORCH-FREE")[0])
    assert data["total_macs"] == traced("segformer-b0").total_macs


def test_import_hwmap_does_not_import_torch():
    code = "import sys, hwmap, hwmap.api, hwmap.cli; assert 'torch' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def _saved(tmp_path):
    path = save_graph(traced("segformer-b0"), tmp_path / "g.json")
    return path, json.loads(path.read_text())


def test_truncated_file_is_a_clear_error(tmp_path):
    path, _ = _saved(tmp_path)
    path.write_text(path.read_text()[:5000])
    with pytest.raises(GraphFileError, match=r"not valid JSON at line 1 .*truncated"):
        load_graph(path)


def test_hand_edited_macs_are_detected(tmp_path):
    path, data = _saved(tmp_path)
    conv = next(n for n in data["nodes"] if n["work"]["kind"] == "conv")
    conv["work"]["out_channels"] *= 2
    conv["outputs"][0][0][1] *= 2  # a consistent conv, only the MACs total disagrees
    path.write_text(json.dumps(data))
    with pytest.raises(GraphFileError, match="does not match the sum over its nodes"):
        load_graph(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("nodes"), "missing field 'nodes'"),
        (lambda d: d["nodes"][3].update({"class": "bogus"}), r"nodes\[3\]: .bogus. is not an op class"),
        (lambda d: d["nodes"][0]["work"].update({"kind": "warp"}), r"nodes\[0\]: missing field 'warp'"),
        (lambda d: d["nodes"][5]["inputs"][0].__setitem__(2, "99999"), r"nodes\[5\]: .*not an earlier node"),
        (lambda d: d.update({"schema_version": 7}), "schema_version 7 is not supported"),
        (lambda d: d.update({"format": "other"}), "not an hwmap layer graph"),
        (lambda d: d.update({"params": -3}), "header: expected a non-negative integer"),
        (lambda d: _conv(d).update({"kernel": [-7, -7]}), r"nodes\[0\]: work field 'kernel' must hold non-neg"),
        (lambda d: _conv(d).update({"kernel": [7.9, 7.9]}), r"nodes\[0\]: work field 'kernel' must hold non-neg"),
        (lambda d: _conv(d).update({"stride": [0, 0]}), r"nodes\[0\]: conv stride \[0, 0\] must hold positive"),
        (lambda d: _conv(d).update({"stride": [-2, -2]}), r"nodes\[0\]: work field 'stride'"),
        (lambda d: _conv(d).update({"dilation": [0, 1]}), r"conv dilation \[0, 1\] must hold positive"),
        (lambda d: _conv(d).update({"groups": 0}), r"nodes\[0\]: conv groups 0 must be positive and divide"),
        (lambda d: _conv(d).update({"groups": 2}), r"conv groups 2 must be positive and divide in_channels 3"),
        (lambda d: _conv(d).update({"kernel": [7]}), r"conv kernel \[7\] has not the rank of in_spatial"),
        (lambda d: _conv(d).update({"stride": [1, 1]}), r"conv output size \[128, 128\] does not follow"),
        (lambda d: _conv(d).update({"in_spatial": [5120, 5120]}), r"conv output size .* does not follow"),
        (lambda d: d["nodes"][0]["outputs"][0][0].__setitem__(1, 65), r"conv output tensor \[1, 65, 128, 128\]"),
        (lambda d: d.update({"input_shapes": [[1, -3, 512, 512]]}), r"header: tensor shape \[1, -3, 512, 512\]"),
        (lambda d: d["nodes"][0].update({"inputs": 7}), r"nodes\[0\]: 'int' object is not iterable"),
        (lambda d: d["nodes"].__setitem__(0, "x"), r"nodes\[0\]:"),
    ],
)
def test_edited_graph_files_name_the_field(tmp_path, edit, message):
    path, data = _saved(tmp_path)
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(GraphFileError, match=message):
        load_graph(path)


def _conv(data: dict) -> dict:
    work = data["nodes"][0]["work"]  # segformer-b0's stem: 3 -> 32 channels, 7x7 stride 4 padding 3, 512 -> 128
    assert work["kind"] == "conv" and work["kernel"] == [7, 7]
    return work


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (lambda t: t.replace('"model":', '"model":"x","model":', 1), "duplicate key 'model'"),
        (lambda t: t.replace('"params":', '"params":NaN,"x":', 1), "NaN is not a number JSON allows"),
        (lambda t: t.replace('"params":', '"params":Infinity,"x":', 1), "Infinity is not a number JSON allows"),
        (lambda t: t.replace('"params":', '"params":1' + "0" * 30 + ',"x":', 1), r"integer 10+\.\.\. is too large"),
        (lambda t: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (lambda t: t.replace('"params":', '"params":1e999,"x":', 1), "number 1e999 is out of range"),
    ],
)
def test_hostile_json_is_one_clear_error(tmp_path, text, message):
    path, _ = _saved(tmp_path)
    path.write_text(text(path.read_text()))
    with pytest.raises(GraphFileError, match=message):
        load_graph(path)


def test_binary_and_non_utf8_graph_files_name_the_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(GraphFileError, match=f"graph file {path}: is a binary file"):
        load_graph(path)
    path.write_bytes('{"format": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(GraphFileError, match=f"graph file {path}: not UTF-8 text"):
        load_graph(path)
    with pytest.raises(GraphFileError, match=f"graph file {tmp_path}: is a folder"):
        load_graph(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(GraphFileError, match="cannot read it"):
        load_graph(tmp_path / "nope.json")
