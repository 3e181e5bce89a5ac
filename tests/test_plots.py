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
