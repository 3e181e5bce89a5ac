"""paths generate / cost, select-paths and simulate from the command line, including every failure path."""

from __future__ import annotations

import json

import pytest
import yaml

from hwmap.paths.model import PathSet, load_paths, path_graph


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


SEGFORMER_PATHS = """\
schema_version: 1
model: segformer-b0
paths:
  - name: full
  - name: skip-s3-last1
    skip_blocks: ["segformer.stages.2.blocks.1"]
    accuracy: {value: 35.0, metric: miou, provenance: "made up for this test"}
  - name: decoder-drop-s4
    drop_decoder_stages: [3]
    accuracy: {value: 33.0, metric: miou, provenance: "made up for this test"}
  - name: same-as-full
"""


def test_paths_file_resolves_catalogue_accuracy_and_weight_groups(tmp_path):
    paths = load_paths(_write(tmp_path, "p.yaml", SEGFORMER_PATHS))
    full, skip, drop, same = paths.paths
    assert full.accuracy.value == 37.4 and full.accuracy.source == "catalogue"  # SegFormer-B0 ADE20K mIoU
    assert skip.accuracy.source == "user" and same.accuracy.value == 37.4
    assert {p.weight_group for p in paths.paths} == {"segformer-b0"}


def test_identical_paths_are_traced_once(tmp_path):
    paths = load_paths(_write(tmp_path, "p.yaml", SEGFORMER_PATHS))
    cache: dict = {}
    graphs = [path_graph(p, cache=cache) for p in paths.paths]
    assert len({key for key in cache if key[0] != "block-containers"}) == 3 and graphs[0] is graphs[3]
    # dropping stage 4's decoder input: fuse conv 3*256 -> 256 over 128x128 pixels, and encoder stage 4 skipped
    fuse = next(n for n in graphs[2].nodes if n.scope == "decode_head.linear_fuse")
    assert fuse.macs == 128 * 128 * 768 * 256
    assert graphs[1].total_macs < graphs[0].total_macs


def test_cost_then_select_then_simulate(run_cli, tmp_path):
    paths_file = _write(tmp_path, "p.yaml", SEGFORMER_PATHS)
    costed = tmp_path / "costed.csv"
    code, out, err = run_cli("paths", "cost", str(paths_file), "--accel", "systolic16x16", "--csv", str(costed),
                             "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["full"]["energy_mj"] == rows["same-as-full"]["energy_mj"]
    assert rows["decoder-drop-s4"]["energy_mj"] < rows["full"]["energy_mj"]
    selection = tmp_path / "selection.json"
    code, out, err = run_cli("select-paths", str(costed), "--budget", "0.85:1.0:0.05", "--out", str(selection),
                             "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "optimal"
    assert data["full_model"]["name"] in ("full", "same-as-full") and data["reference"] == data["full_model"]["name"]
    assert data["budget_unit"] == "fraction" and data["budgets"] == [0.85, 0.9, 0.95, 1.0]
    assert all(row["energy_mj"] <= row["budget"] + 1e-9 for row in data["table"])
    trace = _write(tmp_path, "trace.csv", "budget_mj\n" + "\n".join(str(r["budget"]) for r in data["table"]) + "\n")
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(trace), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["steps"] == len(data["table"]) and result["violations"] == 0
    assert result["energy_saved_pct"] == pytest.approx(data["energy_saved_pct"], rel=1e-6)


def test_ofa_subnets_on_systolic16x16_report_saving_next_to_drop(run_cli, tmp_path):
    paths_file = tmp_path / "ofa.yaml"
    assert run_cli("paths", "generate", "ofa-resnet50", "--ofa-published", "--out", str(paths_file))[0] == 0
    code, out, err = run_cli("select-paths", str(paths_file), "--accel", "systolic16x16", "--budget",
                             "0.3:1.0:0.1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["full_model"]["name"] == data["reference"] == "ofa-resnet50D-41"
    by_name = {row["path"]: row for row in data["chosen_vs_reference"]}
    # switching from the 4.1 G subnet (79.8% top-1) to the 1.8 G one (78.3%): 1.5 points for about half the energy
    # (48.8% with the mapping-aware model and epilogue fusion; weights' DRAM traffic does not shrink with MACs)
    small = by_name["ofa-resnet50D-18"]
    assert small["accuracy_drop"] == pytest.approx(1.5)
    assert 45 < small["energy_saved_pct"] < 70


def test_paths_without_accuracy_are_never_lossless(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", "name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
                                       "big,10,5,80,g,20\nsmall,4,2,,g,10\n")
    code, _, err = run_cli("select-paths", str(costed), "--budget", "0.5,1.0")
    assert code == 2 and "1 path(s) have no accuracy: small" in err
    code, out, err = run_cli("select-paths", str(costed), "--budget", "1.0", "--drop-unknown", "--json")
    assert code == 0, err
    assert json.loads(out)["dropped_without_accuracy"] == ["small"]


def test_infeasible_budget_and_memory_name_what_would_work(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", "name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
                                       "big,10,5,80,a,20\nsmall,4,2,70,b,10\n")
    code, _, err = run_cli("select-paths", str(costed), "--budget", "3mJ,10mJ")
    assert code == 2 and "smallest feasible budget is 4" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("select-paths", str(costed), "--budget", "4mJ,10mJ", "--memory-mb", "5")
    assert code == 2 and "memory" in err and "10" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema_version: 1\nmodel: segformer-b0\npaths:\n  - name: a\n    colour: red\n", "paths.0.colour"),
        ("schema_version: 1\nmodel: segformer-b0\nmodel: resnet50\npaths:\n  - name: a\n", "duplicate"),
        ("schema_version: 1\npaths:\n  - name: a\n", "path 'a' has no model"),
        ("schema_version: 1\nmodel: x\npaths: [ {name: a\n", "not valid YAML"),
        ("schema_version: 1\nmodel: r\npaths:\n  - name: a\n    accuracy: {value: 180, provenance: p}\n",
         "paths.0.accuracy.value"),
        ("schema_version: 1\nmodel: r\npaths:\n  - name: a\n  - name: a\n", "repeated: a"),
        ("schema_version: 2\nmodel: r\npaths:\n  - name: a\n", "schema_version 2 is not supported"),
    ],
)
def test_malformed_paths_files(run_cli, tmp_path, text, message):
    paths_file = _write(tmp_path, "bad.yaml", text)
    out_csv = tmp_path / "out.csv"
    code, _, err = run_cli("paths", "cost", str(paths_file), "--accel", "systolic8x8", "--csv", str(out_csv))
    assert code == 2
    assert message in err and "bad.yaml" in err and len(err.strip().splitlines()) == 1
    assert not out_csv.exists()


def test_unknown_block_pattern_lists_the_blocks(run_cli, tmp_path):
    paths_file = _write(tmp_path, "p.yaml", "schema_version: 1\nmodel: segformer-b0\npaths:\n"
                                            "  - name: a\n    skip_blocks: ['encoder.layer.7']\n")
    code, _, err = run_cli("paths", "cost", str(paths_file), "--accel", "systolic8x8")
    assert code == 2
    assert "matches no block" in err and "segformer.stages.2.blocks.0-1" in err


def test_skipping_a_shape_changing_block_is_refused(run_cli, tmp_path):
    paths_file = _write(tmp_path, "p.yaml", "schema_version: 1\nmodel: resnet18\npaths:\n"
                                            "  - name: a\n    skip_blocks: ['layer2.0']\n")
    code, _, err = run_cli("paths", "cost", str(paths_file), "--accel", "systolic8x8")
    assert code == 2 and "layer2.0 change the tensor shape" in err


def test_generate_writes_a_loadable_file(run_cli, tmp_path):
    out = tmp_path / "gen.yaml"
    code, _, err = run_cli("paths", "generate", "resnet18", "--skip-last", "1", "--resolution", "160",
                           "--resolution", "192", "--variants", "resnet34", "--skip-blocks", "layer[34].1", "--out",
                           str(out))
    assert code == 0, err
    paths = load_paths(out)
    names = [p.name for p in paths.paths]
    assert names[0] == "full" and "r160" in names and "resnet34" in names
    assert {"skip-layer1.1", "skip-layer4.1", "skip-layer[34].1"} <= set(names)
    code, out_json, err = run_cli("paths", "cost", str(out), "--accel", "systolic8x8", "--json")
    assert code == 0, err
    costs = {row["name"]: row["macs"] for row in json.loads(out_json)}
    assert costs["skip-layer[34].1"] < costs["skip-layer4.1"] < costs["full"]
    assert paths.paths[0].accuracy.source == "catalogue"
    assert yaml.safe_load(out.read_text())["model"] == "resnet18"
    assert isinstance(paths, PathSet)


def test_costed_csv_errors_name_line_and_column(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", "name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\nbig,ten,5,80,a,20\n")
    code, _, err = run_cli("select-paths", str(costed), "--budget", "1.0")
    assert code == 2 and "line 2, column energy_mj: 'ten'" in err
    missing = _write(tmp_path, "m.csv", "name,energy_mj\nbig,10\n")
    code, _, err = run_cli("select-paths", str(missing), "--budget", "1.0")
    assert code == 2 and "missing column(s) latency_ms, accuracy, weight_group, weight_mb" in err


def test_simulate_with_a_damaged_selection(run_cli, tmp_path):
    selection = _write(tmp_path, "s.json", '{"objective": "accuracy"')
    trace = _write(tmp_path, "t.csv", "budget_mj\n1\n")
    code, _, err = run_cli("simulate", str(selection), "--budget-trace", str(trace))
    assert code == 2 and "not valid JSON" in err


# a 2 mJ 60 %, b 4 mJ 70 %, c 6 mJ 75 %, d 10 mJ 80 % (the most expensive: the default reference)
LADDER_CSV = ("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
              "a,2,8,60,g,1\nb,4,4,70,g,1\nc,6,6,75,g,1\nd,10,5,80,g,1\n")


def test_budgets_with_units_round_trip_through_select_paths_and_simulate(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", LADDER_CSV)
    selection = tmp_path / "s.json"
    # 5 mJ -> b (70 %), 8 mJ -> c (75 %), 10 mJ -> d (80 %)
    code, out, err = run_cli("select-paths", str(costed), "--budget", "5mJ,8mJ,10mJ", "--out", str(selection))
    assert code == 0, err
    assert "budgets in mJ (energy); savings measured against d (10 mJ)" in out
    data = json.loads(selection.read_text())
    assert data["budget_unit"] == "mJ" and data["budgets"] == [5.0, 8.0, 10.0] and data["reference"] == "d"
    assert [row["path"] for row in data["table"]] == ["b", "c", "d"]
    # the trace: 10, 5, 8, 3 mJ -> d, b, c, and nothing fits 3 mJ: the cheapest kept path (b), a violation
    trace = _write(tmp_path, "t.csv", "# unit: mJ\nbudget\n10\n5\n8\n3\n")
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(trace), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["steps_per_path"] == {"b": 2, "c": 1, "d": 1} and result["violations"] == 1
    assert result["first_violation_step"] == 3 and result["trace_unit"] == "mJ" and result["reference"] == "d"
    assert result["energy_used_mj"] == pytest.approx(10 + 4 + 6 + 4)
    # 3000 uJ and 0.008 J are 3 and 8 mJ: the same steps
    trace_uj = _write(tmp_path, "t_uj.csv", "step,budget_uj\n0,10000\n1,5000\n2,8000\n3,3000\n")
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(trace_uj), "--json")
    assert code == 0, err
    assert json.loads(out)["steps_per_path"] == result["steps_per_path"]
    # a fraction trace against this absolute selection: one line, exit 2
    fractions = _write(tmp_path, "f.csv", "budget_fraction\n0.5\n1.0\n")
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(fractions))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "holds fractions but the selection's budgets are in mJ" in err
    # a latency trace against an energy selection: one line, exit 2
    latency = _write(tmp_path, "l.csv", "budget_ms\n5\n")
    code, _, err = run_cli("simulate", str(selection), "--budget-trace", str(latency))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "is in ms (latency) but the selection is on energy" in err
    # a trace without a unit: says how to declare one
    bare = _write(tmp_path, "b.csv", "budget\n5\n")
    code, _, err = run_cli("simulate", str(selection), "--budget-trace", str(bare))
    assert code == 2 and "has no unit; name the column budget_mj" in err and len(err.strip().splitlines()) == 1


def test_budget_trace_with_a_unit_header_round_trips(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", LADDER_CSV)
    selection = tmp_path / "s.json"
    # fractions of c (6 mJ): 0.5 -> 3 mJ (a), 1.0 -> 6 mJ (c, twice: weight 2)
    trace = _write(tmp_path, "t.csv", "# unit: fraction\nbudget\n1.0\n0.5\n1.0\n")
    code, out, err = run_cli("select-paths", str(costed), "--budget-trace", str(trace), "--reference", "c",
                             "--out", str(selection), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["reference"] == "c" and data["reference_energy_mj"] == 6.0 and data["budget_unit"] == "fraction"
    assert [(row["budget"], row["weight"], row["path"]) for row in data["table"]] == [(3.0, 1.0, "a"), (6.0, 2.0, "c")]
    assert data["expected_accuracy"] == pytest.approx((60 + 2 * 75) / 3)
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(trace))
    assert code == 0, err
    assert "trace budgets are fractions of c (6 mJ)" in out and "always running c" in out
    code, out, err = run_cli("simulate", str(selection), "--budget-trace", str(trace), "--json")
    result = json.loads(out)
    assert result["steps_per_path"] == {"a": 1, "c": 2} and result["fraction_scale"] == 6.0
    assert result["violations"] == 0 and result["switches"] == 2


def test_select_paths_prints_the_reference_and_refuses_bad_units(run_cli, tmp_path):
    costed = _write(tmp_path, "c.csv", LADDER_CSV)
    code, out, err = run_cli("select-paths", str(costed), "--budget", "0.5,1.0")
    assert code == 0, err
    assert "budgets are fractions of d (10 mJ)" in out and "budget (fraction of d)" in out
    code, out, err = run_cli("select-paths", str(costed), "--budget", "0.5,1.0", "--reference", "c", "--json")
    assert code == 0, err
    data = json.loads(out)
    # fractions of c (6 mJ): 3 mJ -> a, 6 mJ -> c
    assert data["reference"] == "c" and [row["budget_mj"] for row in data["budget_rows"]] == [3.0, 6.0]
    for argv, message in (
        (["--budget", "20mJ,5ms"], "'20mJ' is energy (mJ) but '5ms' is latency (ms)"),
        (["--budget", "20mJ", "--metric", "latency"], "metric is 'latency' but the budgets are energy (mJ)"),
        (["--budget", "0.5", "--reference", "full"], "reference 'full' is not one of the paths; expected one of a, b, "
                                                     "c, d"),
        (["--budget", "30kJ"], "unit 'kJ'"),
        (["--budget", "0.5", "--dataflow", "xs"], "--dataflow"),
        (["--budget", "0.5", "--absolute"], "--absolute"),
    ):
        code, out, err = run_cli("select-paths", str(costed), *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
