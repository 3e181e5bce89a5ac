"""`hwmap bounds` and `hwmap plot bounds` on the command line: tables, JSON, CSV, figure, one-line errors."""

from __future__ import annotations

import csv
import json

import pytest


def test_bounds_json_csv_and_table(run_cli, resnet18_graph_file, tmp_path):
    out_csv = tmp_path / "curves.csv"
    code, out, err = run_cli("bounds", resnet18_graph_file, "--accel", "systolic16x16", "--json", "--csv", str(out_csv))
    assert code == 0, err
    data = json.loads(out)
    assert [lv["level"] for lv in data["levels"]] == ["ifmap", "filter", "ofmap", "all"]
    for level in data["levels"]:
        assert len(level["layers"]) == 21  # 20 convs + fc
        points = level["network"]["points"]
        traffic = [p["traffic_bytes"] for p in points]
        assert traffic == sorted(traffic, reverse=True) and len(set(traffic)) == len(traffic)
        assert level["at_template_bytes"] <= level["mapped_bytes"]
    everything = data["levels"][3]
    assert everything["at_template_bytes"] == everything["mapped_bytes"]
    assert everything["network"]["points"][-1]["traffic_bytes"] == everything["network"]["compulsory_bytes"]
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["level"] for r in rows} == {"ifmap", "filter", "ofmap", "all"}
    assert sum(r["layer"] == "network" and r["level"] == "all" for r in rows) == len(everything["network"]["points"])
    code, out, err = run_cli("bounds", resnet18_graph_file, "--accel", "magnet16pe_v16", "--layer", "layer4.*")
    assert code == 0, err
    assert "global" in out and "compulsory" in out and "layer4" not in out.split("\n")[0]


@pytest.mark.parametrize(("accel", "level"), [("systolic16x16", "all"), ("eyeriss_like", "psum_spad")])
def test_plot_bounds_writes_a_png(run_cli, resnet18_graph_file, tmp_path, accel, level):
    """Every level of a single-level template, and one per-PE level of a hierarchy template."""
    png = tmp_path / "curves.png"
    code, out, err = run_cli("plot", "bounds", resnet18_graph_file, "--accel", accel, "--level", level, "-o", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.parametrize(("args", "message"), [
    (("--accel", "systolic16x16", "--level", "global"), "--level 'global' is not a level the mapper handles"),
    (("--accel", "h100_sxm"), "--accel 'h100_sxm' is of kind 'gpu'"),
    (("--accel", "systolic16x16", "--layer", "nope*"), "--layer 'nope*' matches no conv/GEMM layer"),
])
def test_bounds_errors_are_one_line(run_cli, resnet18_graph_file, args, message):
    code, out, err = run_cli("bounds", resnet18_graph_file, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""
