"""What a reader sees in hwmap's figures, read off the matplotlib objects: log ticks at the data, points
identified (marker by dataflow, the front numbered and described), titles naming model and template, layer names
in the layer plot, and a selection from another CSV refused instead of drawn as 'accuracy unknown'."""

from __future__ import annotations

import csv
import json
import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import traced

from hwmap.api import estimate, pareto
from hwmap.dse.sweep import SerialExecutor, sweep
from hwmap.graph.io import save_graph
from hwmap.paths.costing import CostedPath, read_costed_csv, write_costed_csv
from hwmap.report.plots import (
    LOG_TICK_EDGE_GAP,
    design_label,
    layer_profile_figure,
    pareto_figure,
    plain_number,
    readable_log_ticks,
)


def _visible_ticks(axis) -> list[tuple[float, str]]:
    """(position, label) of the labelled major ticks inside the axis's view, as drawn."""
    low, high = sorted(axis.get_view_interval())
    return [(tick.get_loc(), tick.label1.get_text()) for tick in axis.get_major_ticks()
            if low <= tick.get_loc() <= high and tick.label1.get_text()]


@pytest.mark.parametrize("low, high", [(10.5, 60.0), (8.87, 12.17), (184.0, 1140.0), (0.0027, 0.022),
                                       (1.15, 80.0), (670.0, 4.4e6), (100.0, 104.0), (1.9, 2.6)])
def test_log_ticks_are_inside_the_range_near_both_ends_and_plain(low, high):
    ticks = readable_log_ticks(low, high)
    assert len(ticks) >= 3 and all(low <= t <= high for t in ticks) and ticks == sorted(ticks)
    span = math.log10(high / low)
    assert math.log10(ticks[0] / low) <= LOG_TICK_EDGE_GAP * span
    assert math.log10(high / ticks[-1]) <= LOG_TICK_EDGE_GAP * span
    assert all("e" not in plain_number(t) for t in ticks if t < 1e6)


def test_log_ticks_on_many_decades_stay_few_and_readable():
    ticks = readable_log_ticks(1e-3, 1e12)
    assert 3 <= len(ticks) <= 9 and ticks[0] == pytest.approx(1e-3)
    assert plain_number(20.0) == "20" and plain_number(0.5) == "0.5" and plain_number(1e7) == "$10^{7}$"


SPACE = """\
    schema_version: 1
    base: systolic16x16
    axes:
      array.rows: [8, 16, 32]
      array.dataflow: [ws, os]
    square: true
    models: [{model: resnet18.json, name: resnet18}]
    """


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("space")
    save_graph(traced("resnet18"), folder / "resnet18.json")
    (folder / "space.yaml").write_text(textwrap.dedent(SPACE))
    return sweep(folder / "space.yaml", executor=SerialExecutor()).table


def test_sweep_table_names_its_template(swept):
    assert swept["template"].tolist() == ["systolic16x16"] * 6
    assert list(swept.columns[:4]) == ["point_id", "variant", "model", "template"]


def test_pareto_figure_names_model_and_template_marks_dataflows_and_numbers_the_front(swept):
    front = pareto(swept, ["energy_mj", "latency_ms"])
    fig, (panel,) = pareto_figure(swept, front, x="energy_mj", y="latency_ms", colour="area_mm2")
    ax = fig.axes[0]
    assert fig.get_suptitle() == "Pareto fronts of energy vs latency: resnet18 on variants of systolic16x16"
    assert ax.get_title() == "resnet18 on systolic16x16: 6 design points"
    assert panel.template == "systolic16x16" and len(panel.front) == len(front) >= 1
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:2] == ["dataflow ws (3 points)", "dataflow os (3 points)"]
    assert legend[2].startswith(f"Pareto front of the two plotted metrics ({len(front)} point")
    # one described legend line per front point, in energy order, naming its array and dataflow and its numbers
    ordered = front.sort_values("energy_mj", kind="stable")
    expected = [f"{r['array.rows']}x{r['array.cols']}, {r['array.dataflow']}: {r['energy_mj']:.3g} mJ, "
                f"{r['latency_ms']:.3g} ms" for _, r in ordered.iterrows()]
    assert legend[3:] == expected
    numbers = [child.get_text() for child in ax.texts]
    assert numbers == [str(k) for k in range(1, len(front) + 1)]
    # every log axis is labelled near both ends of the data it shows
    for axis in (ax.xaxis, ax.yaxis):
        assert axis.get_scale() == "log"
        ticks = _visible_ticks(axis)
        low, high = sorted(axis.get_view_interval())
        span = math.log10(high / low)
        assert len(ticks) >= 3 and all(label == plain_number(loc) for loc, label in ticks)
        assert math.log10(ticks[0][0] / low) <= LOG_TICK_EDGE_GAP * span + 1e-9


def test_pareto_title_without_a_template_column_says_so_and_an_explicit_title_wins(swept):
    table = swept.drop(columns=["template"])
    front = pareto(table, ["energy_mj", "latency_ms"])
    fig, _panels = pareto_figure(table, front, x="energy_mj", y="latency_ms")
    assert fig.get_suptitle().endswith("resnet18 (the table does not name its template)")
    assert fig.axes[0].get_title() == "resnet18: 6 design points"
    fig, _panels = pareto_figure(table, front, x="energy_mj", y="latency_ms", title="mine")
    assert fig.get_suptitle() == "mine"


def test_design_label_reads_like_a_datasheet():
    row = pd.Series({"array.rows": 64, "array.cols": 32, "array.dataflow": "ws",
                     "buffers.ifmap.size_bytes": 262144, "dram.bw_bytes_per_cycle": 32})
    assert design_label(row, list(row.index)) == "64x32, ws, ifmap 256 KiB, DRAM 32 B/cycle"


def test_design_label_of_a_hierarchy_sweep_names_the_level():
    row = pd.Series({"hierarchy.levels.shared_glb.capacity_bytes": 1048576, "freq_mhz.x": 1500.0,
                     "hierarchy.levels.DRAM.energy.read_pj": 12.5})
    assert design_label(row, list(row.index)) == "shared_glb 1 MiB, x 1500, read_pj 12.5"


def test_a_colour_column_without_numbers_draws_grey_points_without_a_scale(tmp_path, monkeypatch):
    """A hierarchy template has no area section: the default colour, area_mm2, is empty in its sweeps (drawn
    before as an invisible NaN colour for every point off the front, with a -0.1..0.1 scale)."""
    import hwmap.report.plots as plots
    from hwmap.api import plot_pareto

    drawn = {}
    original = plots.pareto_panels

    def spy(frame, front, path, **kwargs):
        drawn.update(kwargs)
        return original(frame, front, path, **kwargs)

    monkeypatch.setattr(plots, "pareto_panels", spy)
    table = pd.DataFrame({"model": ["m"] * 4, "energy_mj": [1.0, 2.0, 3.0, 4.0], "latency_ms": [4.0, 3.0, 2.5, 5.0],
                          "area_mm2": [None] * 4, "hierarchy.levels.glb.capacity_bytes": [1024, 2048, 4096, 8192]})
    figure = plot_pareto(table, out=tmp_path / "p.png")
    assert drawn["colour"] is None and (tmp_path / "p.png").stat().st_size > 0
    assert figure.plotted["models"][0]["front_points"] == 3
    plot_pareto(table.assign(area_mm2=[1.0, 2.0, 3.0, 4.0]), out=tmp_path / "q.png")
    assert drawn["colour"] == "area_mm2"


def test_layer_plot_names_the_top_layers_and_sums_the_rest():
    cost = estimate("resnet18", "systolic8x8")
    fig, (cycles, energy) = layer_profile_figure(cost, top=5)
    assert fig.get_suptitle().startswith("resnet18 on systolic8x8 (ws): per-layer cycles and energy")
    layers = cost.layers
    for ax, panel, values in ((fig.axes[0], cycles, layers.cycles / 1e6), (fig.axes[1], energy,
                                                                          layers.energy_pj / 1e6)):
        costed = np.flatnonzero(values > 0)
        top = sorted(costed, key=lambda i: -values[i])[:5]
        assert sorted(values[list(panel.layers)]) == sorted(values[top])  # the five largest (ties in any order)
        labels = [tick.get_text() for tick in ax.get_yticklabels()]
        assert labels == [layers.names[i] for i in panel.layers] + [f"other ({len(costed) - 5} layers)"]
        assert panel.other_value == pytest.approx(values.sum() - sum(panel.values))
        bar_widths = [patch.get_width() for patch in ax.patches]
        assert bar_widths == pytest.approx([*panel.values, panel.other_value])
        assert ax.get_title() == f"top 5 of {len(costed)} costed layers by {panel.quantity}"
        # 'other' (the 43 smaller layers) is far longer than any named bar: cut at the axis, its share still written
        assert panel.other_value > 2 * max(panel.values) and ax.get_xlim()[1] == pytest.approx(1.3 * max(panel.values))
        share = f"{100 * panel.other_value / values.sum():.1f}% (bar cut)"
        assert [t.get_text() for t in ax.texts][-1] == share
    assert "layer4.1.conv1:convolution#77" in [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert fig.axes[0].get_xlabel() == "million cycles per inference"


def test_layer_plot_json_lists_the_named_layers(run_cli, tmp_path):
    out = tmp_path / "layers.png"
    code, stdout, err = run_cli("plot", "layers", "resnet18", "--accel", "systolic8x8", "--out", str(out),
                                "--top", "3", "--json")
    assert code == 0, err
    top = json.loads(stdout)["plotted"]["top_layers"]
    assert [row["name"] for row in top["energy"]][:1] == ["layer4.0.conv2:convolution#69"]
    assert len(top["cycles"]) == 4 and top["cycles"][-1]["name"].startswith("other (")
    code, stdout, err = run_cli("plot", "layers", "resnet18", "--accel", "systolic8x8", "--out", str(out),
                                "--top", "0", "--json")  # 0 = all, as for every --top
    assert code == 0, err
    every = json.loads(stdout)["plotted"]["top_layers"]["cycles"]
    assert len(every) == 48 and not any(row["name"].startswith("other") for row in every)
    code, _, err = run_cli("plot", "layers", "resnet18", "--accel", "systolic8x8", "--out", str(out), "--top", "-1")
    assert code == 2 and "--top" in err


def _costed_csv(path, rows, accelerator=None):
    write_costed_csv(path, [CostedPath(name, "m", energy, latency, 0, 0, "g", 20.0, None, accelerator)
                            for name, energy, latency in rows])
    text = path.read_text().splitlines()
    accuracies = {"full": "80", "mid": "78", "low": "74"}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = next(csv.reader([text[0]]))
        writer.writerow(header)
        for line in text[1:]:
            cells = next(csv.reader([line]))
            cells[header.index("accuracy")] = accuracies.get(cells[0], "")
            writer.writerow(cells)
    return path


def test_costed_csv_keeps_the_template_and_selection_and_frontier_name_it(run_cli, tmp_path):
    costed = _costed_csv(tmp_path / "c.csv", [("full", 10, 5), ("mid", 6, 3), ("low", 4, 2)], "systolic8x8")
    assert {c.accelerator for c in read_costed_csv(costed)} == {"systolic8x8"}
    selection = tmp_path / "sel.json"
    code, _, err = run_cli("select-paths", str(costed), "--budget", "0.5,1.0", "--out", str(selection))
    assert code == 0, err
    assert json.loads(selection.read_text())["accelerator"] == "systolic8x8"
    out = tmp_path / "f.svg"
    code, stdout, err = run_cli("plot", "frontier", str(costed), "--selection", str(selection), "--out", str(out),
                                "--json")
    assert code == 0, err
    assert json.loads(stdout)["plotted"]["template"] == "systolic8x8"
    assert "energy / accuracy of the execution paths on systolic8x8" in out.read_text()


def test_frontier_refuses_a_selection_made_from_other_paths(run_cli, tmp_path):
    costed = _costed_csv(tmp_path / "c.csv", [("full", 10, 5), ("mid", 6, 3), ("low", 4, 2)])
    selection = tmp_path / "sel.json"
    code, _, err = run_cli("select-paths", str(costed), "--budget", "0.5,1.0", "--out", str(selection))
    assert code == 0, err
    chosen = json.loads(selection.read_text())["chosen_names"]
    assert "low" in chosen
    out = tmp_path / "f.png"

    renamed = _costed_csv(tmp_path / "renamed.csv", [("full", 10, 5), ("mid", 6, 3), ("lower", 4, 2)])
    code, _, err = run_cli("plot", "frontier", str(renamed), "--selection", str(selection), "--out", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"selection {selection} does not match paths CSV {renamed}" in err and "'low'" in err

    recosted = _costed_csv(tmp_path / "recosted.csv", [("full", 10, 5), ("mid", 6, 3), ("low", 4.5, 2)])
    code, _, err = run_cli("plot", "frontier", str(recosted), "--selection", str(selection), "--out", str(out))
    assert code == 2 and f"does not match paths CSV {recosted}" in err and "'low' costs 4 mJ" in err

    other_template = _costed_csv(tmp_path / "other.csv", [("full", 10, 5), ("mid", 6, 3), ("low", 4, 2)],
                                 "magnet16pe_v8")
    data = json.loads(selection.read_text())
    data["accelerator"] = "systolic8x8"
    selection.write_text(json.dumps(data))
    code, _, err = run_cli("plot", "frontier", str(other_template), "--selection", str(selection), "--out",
                           str(out))
    assert code == 2 and "made on systolic8x8" in err and "costed on magnet16pe_v8" in err
    assert not out.exists()

    code, _, err = run_cli("plot", "frontier", str(costed), "--selection", str(selection), "--out", str(out))
    assert code == 0, err  # the CSV it was made from (no template recorded in it) is accepted


def test_a_front_cramped_in_a_corner_is_magnified_and_numbered_there():
    """Ten front points within 2x of each other under a cloud spanning 1000x: a second row magnifies them."""
    rng = np.random.default_rng(0)
    cloud = 10 ** rng.uniform(0.5, 3.0, size=(200, 2))
    front_x = np.linspace(1.0, 2.0, 10)
    table = pd.DataFrame({"model": "m", "template": "t", "array.dataflow": "ws",
                          "array.rows": np.r_[np.full(200, 8), np.arange(10) + 16],
                          "energy_mj": np.r_[cloud[:, 0], front_x], "latency_ms": np.r_[cloud[:, 1], 3.0 / front_x],
                          "area_mm2": 1.0})
    front = pareto(table, ["energy_mj", "latency_ms"])
    assert sorted(front["energy_mj"]) == pytest.approx(front_x)
    fig, (panel,) = pareto_figure(table, front, x="energy_mj", y="latency_ms", colour="area_mm2")
    overview, zoom = fig.axes[:2]  # the panels; their colour bars follow
    assert zoom.get_title() == "m: the dashed box above, magnified"
    (box,) = [p for p in overview.patches if p.get_linestyle() == "--"]
    assert box.get_x() < 1.0 and box.get_x() + box.get_width() > 2.0  # the box holds the whole front
    assert overview.get_legend() is None and not overview.texts  # numbers and key below, with the magnified front
    assert [t.get_text() for t in zoom.texts] == [str(k) for k in range(1, 11)]
    low, high = zoom.get_xlim()
    assert low < 1.0 and 2.0 < high < 4.0
    labels = [t.get_text() for t in zoom.get_legend().get_texts()]
    assert labels[2:4] == ["rows 16: 1 mJ, 3 ms", "rows 17: 1.11 mJ, 2.7 ms"]  # the varying axis (rows) and the numbers
    assert len(panel.front) == 10
