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
    ],
)
def test_edited_graph_files_name_the_field(tmp_path, edit, message):
    path, data = _saved(tmp_path)
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(GraphFileError, match=message):
        load_graph(path)


def test_missing_file(tmp_path):
    with pytest.raises(GraphFileError, match="cannot read it"):
        load_graph(tmp_path / "nope.json")
