"""Systolic-array design-space exploration: 3,600 variants (rows x cols x dataflow x buffer sizes x DRAM
bandwidth, experiments/spaces/array_dse.yaml) over ResNet-50 and SegFormer-B2, and the Pareto front of
(energy, latency, area) per model.

Writes experiments/results/array_dse.csv (every point) and array_dse_front.csv (the fronts). While it runs, the
sweep's journal (array_dse.csv.journal.jsonl) holds every finished point, so an interrupted run continues with
--resume; it is removed once the table is written.

    python experiments/array_dse.py [--tiny] [--workers N | --scheduler tcp://host:8786] [--resume]
    python experiments/array_dse.py --replot-from experiments/results/array_dse.csv   # the figure only

--tiny: 32 variants x the same two models (64 points), for CI; writes array_dse_tiny*.csv.
--replot-from: redraw array_dse.png (beside the CSV) from a table this script wrote, without sweeping.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np

from hwmap.dse import DesignSpace, dask_executor, journal_path_for, write_table
from hwmap.dse.sweep import sweep
from hwmap.yamlio import parse_yaml_text

HERE = Path(__file__).resolve().parent
SPACE = HERE / "spaces" / "array_dse.yaml"
TINY_AXES = {
    "array.rows": [16, 64],
    "array.cols": [16, 64],
    "array.dataflow": ["ws", "os"],
    "buffers.ifmap.size_bytes": [65536, 262144],
    "buffers.filter.size_bytes": [65536, 262144],
    "buffers.ofmap.size_bytes": [65536],
    "dram.bw_bytes_per_cycle": [32, 64],
}
SHOWN = ["array.rows", "array.cols", "array.dataflow", "buffers.ifmap.size_bytes", "buffers.ofmap.size_bytes",
         "dram.bw_bytes_per_cycle", "energy_mj", "latency_ms", "area_mm2", "average_utilisation"]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="32 variants instead of 3,600 (CI)")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results", help="where the CSV files go")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its journal")
    parser.add_argument("--replot-from", type=Path, default=None, metavar="CSV",
                        help="only redraw the figure from this results table (written beside it, same stem)")
    return parser.parse_args()


def design_space(tiny: bool) -> DesignSpace:
    data, _lines = parse_yaml_text(SPACE.read_text(), source=f"space file {SPACE}")  # as hwmap reads spaces
    if tiny:
        data["axes"] = TINY_AXES
    return DesignSpace.from_dict(data, origin=f"space file {SPACE}" + (" (--tiny)" if tiny else ""), root=SPACE.parent)


def replot(table_path: Path) -> Path:
    """The figure from a results table this script wrote; the template from its column, else the space file."""
    import pandas as pd

    try:
        table = pd.read_csv(table_path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--replot-from {table_path}: cannot read the results table ({exc})") from None
    missing = [c for c in ("model", "energy_mj", "latency_ms", "area_mm2") if c not in table.columns]
    if missing:
        raise SystemExit(f"--replot-from {table_path}: no column(s) {', '.join(missing)}; expected a table written "
                         "by experiments/array_dse.py")
    base = str(table["template"].iloc[0]) if "template" in table.columns else design_space(False).base.name
    return plot_fronts(table, table_path.with_suffix(".png"), base=base)


def main() -> None:
    args = arguments()
    if args.replot_from is not None:
        print(f"wrote {replot(args.replot_from)}")
        return
    started = time.perf_counter()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    space = design_space(args.tiny)
    stem = "array_dse_tiny" if args.tiny else "array_dse"
    table_path, front_path = args.out_dir / f"{stem}.csv", args.out_dir / f"{stem}_front.csv"
    journal = journal_path_for(table_path)
    if not args.resume:
        journal.unlink(missing_ok=True)
    print(f"{space.n_variants} variants x {len(space.workload_labels)} models = {space.n_points} points "
          f"({', '.join(space.workload_labels)})")
    reported = [0]

    def progress(done: int, total: int) -> None:
        if done * 10 // total > reported[0] or done == total:
            reported[0] = done * 10 // total
            print(f"  {done}/{total} points ({time.perf_counter() - started:.0f} s)", flush=True)

    executor_cm = dask_executor(args.scheduler) if args.scheduler else contextlib.nullcontext(None)
    with executor_cm as executor:
        result = sweep(space, executor=executor, workers=args.workers, journal=journal,
                       resume_from=journal if args.resume else None, progress=progress,
                       log=lambda message: print(f"extracting the {message}", flush=True))
    write_table(result.table, table_path)
    front = result.pareto(["energy_mj", "latency_ms", "area_mm2"])
    write_table(front, front_path)
    journal.unlink()  # the table holds every point now; the journal only matters for an interrupted run

    print(f"{result.n_points} points ({result.n_resumed} resumed), {result.n_failed} failed; graphs "
          f"{result.prepare_s:.1f} s, sweep {result.evaluate_s:.1f} s = {result.points_per_s:.0f} points/s on "
          f"{result.workers} worker(s); the workers' CPU {result.worker_cpu_s:.1f} s "
          f"({1000 * result.worker_cpu_s / max(result.n_evaluated, 1):.2f} ms per point; wall time on a shared "
          "machine is longer)")
    for model, group in front.groupby("model", sort=False):
        print(f"\nPareto front of {model} over energy, latency and area: {len(group)} of "
              f"{int((result.table['model'] == model).sum())} variants")
        print(group[SHOWN].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    figure_path = plot_fronts(result.table, args.out_dir / f"{stem}.png", base=space.base.name)
    print(f"\nwrote {table_path}\nwrote {front_path}\nwrote {figure_path}\n"
          f"finished in {time.perf_counter() - started:.1f} s")


def plot_fronts(table, path: Path, *, base: str = "") -> Path:
    """Energy vs latency of every valid variant per model, coloured by area (top), and the corner where the fronts
    sit magnified (below). Two fronts are drawn: the red line is the 2-D front of the plotted metrics (energy,
    latency), its points numbered in the magnified panel and described in the legend; the black-edged markers are
    every point of the 3-D front (energy, latency, area) that array_dse_front.csv lists, shaped by dataflow --
    most of them are not on the 2-D front because they trade latency or energy for a smaller array."""
    from _common import new_figure, save_figure

    from hwmap.report.plots import front_zoom_limits, number_points, zoom_box

    models = list(dict.fromkeys(table["model"]))
    fig, axes = new_figure(ncols=len(models), nrows=2, width_in=6.8 * len(models), height_in=12.5, squeeze=False,
                           layout="constrained", gridspec_kw={"height_ratios": [1.25, 1]})
    to_number = []
    for column, model in enumerate(models):
        rows = table[(table["model"] == model) & table["energy_mj"].notna()].reset_index(drop=True)
        overview, zoom = axes[0][column], axes[1][column]
        fronts = _draw_fronts(fig, overview, rows, numbered=False)
        overview.set_title(f"{model} on {len(rows)} variants of {base or 'the base template'}\n"
                           f"3-D front {len(fronts.front_3d)} points, 2-D front {len(fronts.front_2d)}")
        limits = front_zoom_limits(fronts.x, fronts.y, fronts.front_2d)
        overview.add_patch(zoom_box(limits))
        _draw_fronts(fig, zoom, rows, numbered=True, limits=limits)
        zoom.set_title(f"{model}: the dashed box above, magnified; the 2-D front numbered", fontsize=10)
        zoom.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below the axes: no data hidden
        to_number.append((zoom, fronts.numbered, limits))
    fig.canvas.draw()  # the numbers are placed in pixels of the laid-out figure
    for zoom, numbered, (x_limits, y_limits) in to_number:
        number_points(zoom, numbered, (x_limits[1], y_limits[1]))  # away from the box's far corner
    return save_figure(fig, path)


class _Fronts:
    def __init__(self, x, y, front_3d, front_2d_in_order):
        self.x, self.y, self.front_3d, self.front_2d = x, y, front_3d, front_2d_in_order
        self.numbered = [(k, float(x[i]), float(y[i])) for k, i in enumerate(front_2d_in_order, start=1)]


def _draw_fronts(fig, ax, rows, *, numbered: bool, limits=None) -> _Fronts:
    """Points shaded by area, the 3-D front by dataflow, the 2-D front as a red line; with numbered, its points
    described in the legend (the numbers are written later, once the figure is laid out)."""
    from _common import log_axis_labels

    from hwmap.dse.pareto import pareto_front
    from hwmap.report.plots import FRONT_COLOUR, design_label

    markers = {"ws": "^", "os": "o", "is": "s"}
    x, y = rows["energy_mj"].to_numpy(float), rows["latency_ms"].to_numpy(float)
    area = rows["area_mm2"].to_numpy(float)
    shade = ax.scatter(x, y, c=area, s=8 if limits is None else 16, alpha=0.5, cmap="viridis", zorder=1)
    front_3d = pareto_front(np.column_stack([x, y, area]))
    flows = rows["array.dataflow"].to_numpy(str) if "array.dataflow" in rows else np.full(len(rows), "")
    for flow in dict.fromkeys(flows[front_3d]):
        on = front_3d[flows[front_3d] == flow]
        ax.scatter(x[on], y[on], c=area[on], cmap="viridis", vmin=area.min(), vmax=area.max(),
                   marker=markers.get(flow, "D"), s=46, edgecolors="black", linewidths=0.9, zorder=3,
                   label=f"energy/latency/area front, {flow or 'any'} ({len(on)} point{'s' * (len(on) != 1)} in all)")
    front_2d = pareto_front(np.column_stack([x, y]))
    order = front_2d[x[front_2d].argsort()]
    ax.plot(x[order], y[order], "-", color=FRONT_COLOUR, linewidth=1.6, zorder=2)
    positions = len({(x[i], y[i]) for i in front_2d})
    ties = f" at {positions} positions: variants that differ only in area tie" if positions < len(front_2d) else ""
    ax.scatter(x[order], y[order], s=90, facecolors="none", edgecolors=FRONT_COLOUR, linewidths=1.6, zorder=4,
               label=f"energy/latency front ({len(front_2d)}{ties})" + (", numbered:" if numbered else ""))
    if numbered:
        axis_columns = [c for c in rows.columns if c.startswith(("array.", "buffers.", "dram."))]
        varying = [c for c in axis_columns if rows[c].nunique() > 1]
        for k, i in enumerate(order, start=1):
            ax.plot([], [], linestyle="none", marker=f"${k}$", color=FRONT_COLOUR, markersize=6 if k < 10 else 9,
                    label=f"{design_label(rows.iloc[i], varying)}: {x[i]:.3g} mJ, {y[i]:.3g} ms, {area[i]:.3g} mm²")
    ax.set(xscale="log", yscale="log", xlabel="energy per inference (mJ)", ylabel="latency per inference (ms)")
    if limits is not None:
        ax.set(xlim=limits[0], ylim=limits[1])
    log_axis_labels(ax)
    ax.grid(alpha=0.3, which="both")
    fig.colorbar(shade, ax=ax, label="area proxy (mm²)")
    return _Fronts(x, y, front_3d, order)


if __name__ == "__main__":
    main()
