"""`hwmap map` and the mapping/fusion columns of `hwmap estimate --json/--csv`."""

from __future__ import annotations

import csv
import json


def test_map_prints_the_mapping_of_matching_layers(run_cli, resnet18_graph_file):
    code, out, err = run_cli("map", resnet18_graph_file, "--accel", "systolic16x16", "--layer", "layer4.*")
    assert code == 0, err
    assert "best mapping, objective energy" in out and "layer4.1.conv2" in out and "layer1.0" not in out
    assert "fusion epilogue: 20 fused groups" in out and "(folded)" in out
    code, out, err = run_cli("map", resnet18_graph_file, "--accel", "magnet16pe_v16", "--objective", "latency",
                             "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["settings"]["objective"] == "latency" and len(data["layers"]) == 21  # 20 convs + fc
    first = data["layers"][0]
    assert first["map_order"].count(">") == 4 and first["dram_input_read_bytes"] >= 3 * 224 * 224
    assert len(data["fused"]) == 20 and first["fused_into_it"] == "bn1 (folded), act1 (epilogue)"


def test_map_errors_are_one_line(run_cli, resnet18_graph_file):
    code, _, err = run_cli("map", resnet18_graph_file, "--accel", "systolic16x16", "--layer", "nothing*")
    assert code == 2 and "--layer 'nothing*' matches no conv/GEMM layer" in err
    code, _, err = run_cli("map", resnet18_graph_file, "--accel", "magnet16pe_v16", "--mapping", "scalesim")
    assert code == 2 and "--mapping scalesim applies to systolic templates" in err


def test_estimate_json_and_csv_carry_the_mapping(run_cli, resnet18_graph_file, tmp_path):
    out_csv = tmp_path / "layers.csv"
    code, out, err = run_cli("estimate", resnet18_graph_file, "--accel", "systolic16x16", "--by", "layer", "--json",
                             "--csv", str(out_csv), "--fusion", "none", "--mapping", "scalesim")
    assert code == 0, err
    data = json.loads(out)
    assert data["settings"] == {"dataflow": "ws", "mapping": "scalesim", "objective": "energy", "fusion": "none"}
    conv1 = data["layers"][0]
    assert conv1["map_mode"] == "scalesim" and conv1["map_order"] == "K-fold>C-fold"
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[0]["map_mode"] == "scalesim" and "dram_psum_write_bytes" in rows[0]
    code, out, err = run_cli("estimate", resnet18_graph_file, "--accel", "systolic16x16", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["settings"]["mapping"] == "best" and len(data["fused"]) == 20
