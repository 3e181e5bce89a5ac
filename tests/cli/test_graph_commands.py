"""The flops / graph / export / models commands, including their failures (one line, exit 2, no files)."""

from __future__ import annotations

import csv
import json

from hwmap.graph.io import save_graph
from tests.conftest import traced


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_flops_json_and_csv(run_cli, tmp_path):
    out_csv = tmp_path / "b.csv"
    code, out, err = run_cli("flops", "resnet50", "--json", "--csv", str(out_csv))
    assert code == 0, err
    data = json.loads(out)
    assert data["total_macs"] == 4_089_184_256
    assert data["total_flops"] == 2 * 4_089_184_256
    assert data["params"] == 25_557_032
    rows = list(csv.DictReader(out_csv.open()))
    assert sum(int(r["macs"]) for r in rows) == 4_089_184_256


def test_flops_table_names_modules(run_cli):
    code, out, _ = run_cli("flops", "segformer-b2", "--by", "module", "--top", "3")
    assert code == 0
    assert "decode_head.linear_fuse" in out and "62.0%" in out


def test_flops_input_and_batch(run_cli):
    code, out, _ = run_cli("flops", "resnet50", "--input", "3x448x448", "--batch", "2", "--json")
    assert code == 0
    # convs scale with pixels (4x at 448x448, every stage size stays even), the classifier does not; x2 batch
    data = json.loads(out)
    assert data["input_shapes"] == [[2, 3, 448, 448]]
    assert data["total_macs"] == 2 * ((4_089_184_256 - 2_048_000) * 4 + 2_048_000)


def test_graph_then_flops_on_the_saved_file(run_cli, tmp_path):
    path = tmp_path / "g.json"
    code, out, _ = run_cli("graph", "segformer-b0", "--out", str(path))
    assert code == 0 and path.exists()
    code, out, _ = run_cli("flops", str(path), "--json")
    assert json.loads(out)["total_macs"] == traced("segformer-b0").total_macs


def test_export_scalesim_matches_the_reference_topology(run_cli, tmp_path):
    from pathlib import Path

    out = tmp_path / "topo.csv"
    code, _, err = run_cli("export", "tv:resnet50", "--format", "scalesim", "--out", str(out))
    assert code == 0, err
    reference = Path(__file__).parents[1] / "data" / "scalesim" / "resnet50_32x32_ws" / "topology.csv"
    ours = [row[1:8] for row in csv.reader(out.open())][1:]
    theirs = [[c.strip() for c in row[1:8]] for row in csv.reader(reference.open())][1:]
    assert [[c.strip() for c in r] for r in ours] == theirs


def test_export_without_out_writes_the_topology_to_stdout_and_the_summary_to_stderr(run_cli, tmp_path):
    """`hwmap export MODEL --format scalesim` (no --out) prints the CSV, clean enough to pipe: the same bytes as
    --out FILE, the 'wrote ...' line on stderr. --json needs a file (stdout carries the export)."""
    out = tmp_path / "topo.csv"
    code, _, err = run_cli("export", "tv:resnet18", "--format", "scalesim", "--out", str(out))
    assert code == 0, err
    code, printed, err = run_cli("export", "tv:resnet18", "--format", "scalesim")
    assert code == 0, err
    assert printed == out.read_text() and len(printed.splitlines()) == 22  # header + 21 conv/FC layers
    assert err.startswith("wrote -: 21 rows covering 1,814,073,344 of 1,814,073,344 MACs")
    code, printed, err = run_cli("export", "tv:resnet18", "--json")
    assert code == 2 and printed == "" and err.count("\n") == 1 and "give --out FILE" in err


def test_models_lists_builtins(run_cli):
    code, out, _ = run_cli("models", "segformer")
    assert code == 0 and "segformer-b5" in out


def test_flops_compare_shows_three_counters(run_cli):
    code, out, err = run_cli("flops", "resnet18", "--compare", "--json")
    assert code == 0, err
    rows = {r["family"]: r for r in json.loads(out)["compare"]["rows"]}
    assert rows["conv"]["hwmap_macs"] == rows["conv"]["torch_macs"] == rows["conv"]["fvcore_macs"]


# ------------------------------------------------------------------ bad input


def test_unknown_model_names_close_matches(run_cli):
    code, out, err = run_cli("flops", "resnet5O")
    assert code == 2 and out == ""
    line = _one_error_line(err)
    assert "unknown model 'resnet5O'" in line and "resnet50" in line


def test_unknown_model_suggests_prefix_matches_first(run_cli):
    code, _, err = run_cli("flops", "deit_small")
    assert code == 2
    line = _one_error_line(err)
    suggestions = line.split("close matches: ")[1].split(" (")[0].split(", ")
    # both timm names that start with the spec, the shorter first, then difflib's near misses
    assert suggestions[:2] == ["deit_small_patch16_224", "deit_small_distilled_patch16_224"]
    assert len(suggestions) == 5


def test_malformed_input_shape(run_cli):
    code, _, err = run_cli("flops", "resnet50", "--input", "3xaax224")
    assert code == 2
    assert "--input '3xaax224': expected CxHxW" in _one_error_line(err)


def test_model_whose_forward_fails(run_cli, tmp_path):
    out = tmp_path / "g.json"
    code, _, err = run_cli("graph", "deit_small_patch16_224", "--input", "3x100x100", "--out", str(out))
    assert code == 2
    line = _one_error_line(err)
    assert "failed in forward on input 1x3x100x100" in line
    assert not out.exists()


def test_damaged_graph_file_leaves_no_csv(run_cli, tmp_path):
    path = save_graph(traced("segformer-b0"), tmp_path / "g.json")
    path.write_text(path.read_text()[:-100])
    out_csv = tmp_path / "out.csv"
    code, _, err = run_cli("flops", str(path), "--csv", str(out_csv))
    assert code == 2
    assert "not valid JSON" in _one_error_line(err)
    assert not out_csv.exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left either


def test_saved_graph_rejects_shape_options(run_cli, tmp_path):
    path = save_graph(traced("segformer-b0"), tmp_path / "g.json")
    code, _, err = run_cli("flops", str(path), "--resolution", "256")
    assert code == 2
    assert "saved graph with fixed shapes" in _one_error_line(err)


def test_bad_ofa_spec(run_cli):
    code, _, err = run_cli("flops", "ofa-resnet50:d=2,2;e=0.35;w=2,2,2,2,2,2")
    assert code == 2
    assert "d needs 5 values" in _one_error_line(err)


def test_csv_into_missing_folder(run_cli, tmp_path):
    code, _, err = run_cli("flops", "resnet18", "--csv", str(tmp_path / "no" / "such.csv"))
    assert code == 2
    assert "does not exist" in _one_error_line(err)


def test_every_command_is_mapped_to_its_module():
    from hwmap.cli import COMMAND_MODULES, _register_commands, app

    _register_commands([])  # all modules
    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    assert names == set(COMMAND_MODULES)


def test_help_lists_every_command(run_cli):
    from hwmap.cli import COMMAND_MODULES

    code, out, _ = run_cli("--help")
    assert code == 0
    assert all(name in out for name in COMMAND_MODULES)


def test_api_compare_counters_needs_a_model_spec():
    import pytest

    from hwmap.api import compare_counters
    from hwmap.errors import HwmapError

    with pytest.raises(HwmapError, match="a saved graph cannot be compared"):
        compare_counters("graph.json")
