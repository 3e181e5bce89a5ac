"""Accuracies as their own input: a YAML or CSV file with provenance fills or overrides the accuracies of costed
paths for select-paths, without costing them again."""

from __future__ import annotations

import json

import pytest

import hwmap.api
from hwmap.errors import HwmapError
from hwmap.paths.accuracies import apply_accuracies, read_accuracies
from hwmap.paths.catalog import Accuracy

COSTED = ("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\n"
          "full,10,2,80,a,1\nsmall,5,1,70,a,1\nnew,3,1,,a,1\n")


@pytest.fixture
def costed(tmp_path):
    path = tmp_path / "costed.csv"
    path.write_text(COSTED)
    return path


def test_yaml_and_csv_forms(tmp_path):
    yaml_file = tmp_path / "acc.yaml"
    yaml_file.write_text('provenance: "ImageNet val, our weights"\nmetric: top1\naccuracies:\n  new: 60.5\n'
                         '  full: {value: 81, provenance: "paper, Table 2"}\n')
    assert read_accuracies(yaml_file) == {"new": Accuracy(60.5, "top1", "user", "ImageNet val, our weights"),
                                          "full": Accuracy(81.0, "top1", "user", "paper, Table 2")}
    csv_file = tmp_path / "acc.csv"
    csv_file.write_text("path,accuracy,provenance,metric\nnew,61,my eval,miou\n")
    assert read_accuracies(csv_file) == {"new": Accuracy(61.0, "miou", "user", "my eval")}


def test_select_paths_fills_and_overrides_without_costing(costed, tmp_path, monkeypatch):
    accuracies = tmp_path / "acc.yaml"
    accuracies.write_text('provenance: "eval run 7"\naccuracies:\n  new: 75\n  full: 82\n')

    def no_costing(*_args, **_kwargs):
        raise AssertionError("select_paths costed the paths again")

    monkeypatch.setattr(hwmap.api, "cost_paths", no_costing)
    with pytest.raises(HwmapError, match="1 path.s. have no accuracy: new"):
        hwmap.api.select_paths(costed, budgets="0.3,1")
    result = hwmap.api.select_paths(costed, budgets="0.3,1", accuracies=accuracies)
    by_name = {p.name: p for p in result.chosen}
    # 'new' (3 mJ, now 75%) serves the 0.3 budget; full's accuracy is the file's 82, not the CSV's 80
    assert [row["path"] for row in result.rows()] == ["new", "full"]
    assert by_name["new"].accuracy == 75.0 and by_name["full"].accuracy == 82.0
    assert by_name["new"].accuracy_source == "user: eval run 7"
    assert result.expected_accuracy == pytest.approx((75.0 + 82.0) / 2)
    # a path the file does not name keeps the CSV's accuracy: small (70%) beats new (60% now) at 5 mJ
    lower = tmp_path / "lower.yaml"
    lower.write_text('provenance: "eval run 8"\naccuracies:\n  new: 60\n')
    again = hwmap.api.select_paths(costed, budgets="0.5,1", accuracies=lower)
    assert [(row["path"], row["accuracy"]) for row in again.rows()] == [("small", 70.0), ("full", 80.0)]


def test_cli_select_paths_accuracies(costed, tmp_path, run_cli):
    accuracies = tmp_path / "acc.csv"
    accuracies.write_text("path,accuracy,provenance\nnew,75,eval run 7\n")
    code, out, err = run_cli("select-paths", str(costed), "--budget", "0.3,1", "--accuracies", str(accuracies),
                             "--json")
    assert code == 0, err
    chosen = {p["name"]: p for p in json.loads(out)["chosen"]}
    assert chosen["new"]["accuracy"] == 75.0 and chosen["new"]["accuracy_source"] == "user: eval run 7"
    code, _, err = run_cli("select-paths", str(costed), "--budget", "1")
    assert code == 2 and "accuracies file (accuracies: path,accuracy,provenance)" in err


BAD_FILES = [
    ("acc.yaml", "accuracies:\n  full: 80\n", "path 'full' has no provenance; give 'provenance: ...'"),
    ("acc.yaml", "provenance: x\naccuracies:\n  ful: 80\n", "'ful' is not among the paths (full, small, new)"),
    ("acc.yaml", "provenance: x\naccuracies:\n  full: 180\n", "path 'full': 180.0; expected a percentage from 0"),
    ("acc.yaml", "provenance: x\naccuracies:\n  full: .nan\n", "path 'full': nan; expected a percentage"),
    ("acc.yaml", "provenance: x\naccuracies:\n  full: true\n", "accuracies.full"),
    ("acc.yaml", "provenance: x\naccuracies:\n  full: '80'\n", "accuracies.full"),
    ("acc.yaml", "provenance: x\naccuracies:\n  full: 80\n  full: 81\n", "full"),
    ("acc.yaml", "provenance: x\naccuracies: {}\n", "accuracies"),
    ("acc.yaml", "provenance: x\naccuracy:\n  full: 80\n", "accuracy: Extra inputs are not permitted"),
    ("acc.csv", "path,accuracy\nfull,80\n", "columns path, accuracy; expected path, accuracy, provenance"),
    ("acc.csv", "path,accuracy,provenance\nfull,1_0,x\n", "line 2, column accuracy: '1_0'"),
    ("acc.csv", "path,accuracy,provenance\nfull,80,\n", "line 2, column provenance: empty"),
    ("acc.csv", "path,accuracy,provenance\nfull,80,x\nfull,81,y\n", "line 3, column path: 'full' appears twice"),
    ("acc.txt", "full 80\n", "unknown format '.txt'; expected a YAML file"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD_FILES)
def test_bad_accuracy_files_are_one_line_naming_the_file(costed, tmp_path, run_cli, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(HwmapError, match=r"^accuracies ") as caught:
        hwmap.api.select_paths(costed, budgets="1", accuracies=path, drop_unknown=True)
    assert expected in str(caught.value) and str(path) in str(caught.value)
    code, out, err = run_cli("select-paths", str(costed), "--budget", "1", "--accuracies", str(path),
                             "--drop-unknown")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"hwmap: error: --accuracies {'' if 'among' in expected else 'file '}{path}")


def test_apply_accepts_every_path_form():
    from hwmap.select.problem import PathPoint

    accuracy = Accuracy(50.0, "top1", "user", "note")
    point = PathPoint("a", 1.0, 1.0, 10.0)
    [updated] = apply_accuracies([point], {"a": accuracy}, origin="x")
    assert updated.accuracy == 50.0 and updated.accuracy_source == "user: note"
    [mapping] = apply_accuracies([{"name": "a", "energy_mj": 1, "latency_ms": 1, "accuracy": None}],
                                 {"a": accuracy}, origin="x")
    assert mapping["accuracy"] == 50.0
