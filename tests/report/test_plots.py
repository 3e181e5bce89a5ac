"""Figures are written as PNG or SVG, whole, and bad requests are one clear error."""

from __future__ import annotations

import csv


def test_share_and_layer_plots(run_cli, tmp_path):
    png, svg = tmp_path / "shares.png", tmp_path / "layers.svg"
    assert run_cli("plot", "shares", "resnet18", "--accel", "systolic8x8", "--out", str(png))[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert run_cli("plot", "layers", "resnet18", "--accel", "magnet16pe_v8", "--out", str(svg))[0] == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "per-layer cycles and energy" in svg.read_text()


def test_frontier_plot_from_costed_paths(run_cli, tmp_path):
    costed = tmp_path / "c.csv"
    with costed.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "energy_mj", "latency_ms", "accuracy", "weight_group", "weight_mb"])
        writer.writerows([["big", 10, 5, 80, "g", 20], ["mid", 6, 3, 78, "g", 20], ["small", 3, 1, "", "g", 5]])
    out = tmp_path / "f.png"
    code, _, err = run_cli("plot", "frontier", str(costed), "--out", str(out))
    assert code == 0, err
    assert out.stat().st_size > 5_000


def test_wrong_suffix_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "shares.jpg"
    code, _, err = run_cli("plot", "shares", "resnet18", "--accel", "systolic8x8", "--out", str(out))
    assert code == 2 and "expected a .png or .svg" in err
    assert list(tmp_path.iterdir()) == []


def _write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_frontier_keeps_paths_without_accuracy_and_names_the_metric(run_cli, tmp_path):
    import json

    costed = _write_csv(tmp_path / "c.csv", ["name", "energy_mj", "latency_ms", "accuracy", "weight_group",
                                             "weight_mb", "accuracy_metric"],
                        [["full", 10, 5, 47.5, "g", 20, "miou"], ["drop-s1", 6, 3, 44.0, "g", 20, "miou"],
                         ["r384", 4, 2, "", "g", 20, ""]])
    svg = tmp_path / "f.svg"
    code, out, err = run_cli("plot", "frontier", str(costed), "--out", str(svg), "--json", "--title", "B2 on v8")
    assert code == 0, err
    data = json.loads(out)
    assert data["written"] == str(svg) and data["plotted"]["accuracy_axis"] == "mIoU (%)"
    paths = {p["name"]: p for p in data["plotted"]["paths"]}
    assert set(paths) == {"full", "drop-s1", "r384"}  # the unknown one is plotted, not dropped
    assert paths["r384"]["accuracy_known"] is False and paths["full"]["accuracy_known"] is True
    text = svg.read_text()  # matplotlib keeps each text as a comment beside its glyphs
    assert "mIoU (%)" in text and "r384" in text and "unknown" in text and "B2 on v8" in text
    assert "accuracy (%)" not in text


def test_pareto_draws_one_front_per_model(run_cli, tmp_path):
    import json

    # Model a's points dominate all of b's: one mixed front would hold a's points only.
    results = _write_csv(tmp_path / "sweep.csv", ["model", "energy_mj", "latency_ms", "area_mm2",
                                                  "average_utilisation"],
                         [["a", 1, 10, 1, 0.2], ["a", 2, 5, 1, 0.9], ["a", 10, 1, 1, 0.5], ["a", 11, 11, 1, 0.95],
                          ["b", 100, 100, 2, 0.4], ["b", 200, 50, 2, 0.3], ["b", 300, 300, 2, 0.1]])
    out = tmp_path / "p.png"
    code, stdout, err = run_cli("plot", "pareto", str(results), "--out", str(out), "--json")
    assert code == 0, err
    plotted = json.loads(stdout)["plotted"]
    assert plotted["x"]["label"] == "energy per inference (mJ)" and plotted["y"]["label"] == \
        "latency per inference (ms)"
    fronts = {m["model"]: sorted((r["energy_mj"], r["latency_ms"]) for r in m["front"]) for m in plotted["models"]}
    assert fronts == {"a": [(1, 10), (2, 5), (10, 1)], "b": [(100, 100), (200, 50)]}
    assert [m["points"] for m in plotted["models"]] == [4, 3]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # --model keeps one model; a maximised metric (utilisation) is maximised on the front
    code, stdout, err = run_cli("plot", "pareto", str(results), "--out", str(out), "--json", "--model", "a",
                                "--y", "average_utilisation", "--colour", "area_mm2")
    assert code == 0, err
    (panel,) = json.loads(stdout)["plotted"]["models"]
    assert sorted((r["energy_mj"], r["average_utilisation"]) for r in panel["front"]) == [(1, 0.2), (2, 0.9),
                                                                                         (11, 0.95)]
    code, _, err = run_cli("plot", "pareto", str(results), "--out", str(out), "--model", "c")
    assert code == 2 and "--model 'c': not in" in err and "models: a, b" in err


def test_share_plot_json(run_cli, tmp_path):
    import json

    out = tmp_path / "s.png"
    code, stdout, err = run_cli("plot", "shares", "resnet18", "--accel", "systolic8x8", "--out", str(out), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert data["written"] == str(out) and data["plotted"]["accelerator"] == "systolic8x8"
    shares = data["plotted"]["shares_by_op_group"]
    assert abs(sum(s["macs"] for s in shares.values()) - 1) < 1e-9 and shares["conv"]["macs"] > 0.99
