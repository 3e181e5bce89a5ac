"""Systolic-array design-space exploration: 3,600 variants (rows x cols x dataflow x buffer sizes x DRAM
bandwidth, experiments/spaces/array_dse.yaml) over ResNet-50 and SegFormer-B2, and the Pareto front of
(energy, latency, area) per model.

Writes experiments/results/array_dse.csv (every point) and array_dse_front.csv (the fronts). While it runs, the
sweep's journal (array_dse.csv.journal.jsonl) holds every finished point, so an interrupted run continues with
--resume; it is removed once the table is written.

    python experiments/array_dse.py [--tiny] [--workers N | --scheduler tcp://host:8786] [--resume]

--tiny: 32 variants x the same two models (64 points), for CI; writes array_dse_tiny*.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import yaml

from hwmap.dse import DesignSpace, dask_executor, journal_path_for, write_table
from hwmap.dse.sweep import sweep

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
    return parser.parse_args()


def design_space(tiny: bool) -> DesignSpace:
    data = yaml.safe_load(SPACE.read_text())
    if tiny:
        data["axes"] = TINY_AXES
    return DesignSpace.from_dict(data, origin=f"space file {SPACE}" + (" (--tiny)" if tiny else ""), root=SPACE.parent)


def main() -> None:
    args = arguments()
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
    """Energy vs latency of every valid variant per model, coloured by area. Two fronts are drawn: the line is
    the 2-D front of the plotted metrics (energy, latency); the black-edged markers are every point of the
    3-D front (energy, latency, area) that array_dse_front.csv lists, shaped by dataflow -- most of them are
    not on the 2-D front because they trade latency or energy for a smaller array."""
    from _common import log_axis_labels, new_figure, save_figure

    from hwmap.dse.pareto import pareto_front

    models = list(dict.fromkeys(table["model"]))
    fig, axes = new_figure(ncols=len(models), width_in=6.5 * len(models), height_in=6.0, squeeze=False,
                           layout="constrained")
    markers = {"ws": "^", "os": "o", "is": "s"}
    for ax, model in zip(axes[0], models, strict=True):
        rows = table[(table["model"] == model) & table["energy_mj"].notna()]
        x, y = rows["energy_mj"].to_numpy(float), rows["latency_ms"].to_numpy(float)
        area = rows["area_mm2"].to_numpy(float)
        shade = ax.scatter(x, y, c=area, s=8, alpha=0.5, cmap="viridis", zorder=1)
        front_3d = pareto_front(np.column_stack([x, y, area]))
        flows = rows["array.dataflow"].to_numpy(str) if "array.dataflow" in rows else np.full(len(rows), "")
        for flow in dict.fromkeys(flows[front_3d]):
            on = front_3d[flows[front_3d] == flow]
            ax.scatter(x[on], y[on], c=area[on], cmap="viridis", vmin=area.min(), vmax=area.max(),
                       marker=markers.get(flow, "D"), s=46, edgecolors="black", linewidths=0.9, zorder=3,
                       label=f"energy/latency/area front, {flow or 'any'} ({len(on)})")
        front_2d = pareto_front(np.column_stack([x, y]))
        order = front_2d[x[front_2d].argsort()]
        ax.plot(x[order], y[order], "-", color="#d62728", linewidth=1.6, zorder=2)
        positions = len({(x[i], y[i]) for i in front_2d})
        ties = f" at {positions} positions: variants that differ only in area tie" if positions < len(front_2d) else ""
        ax.scatter(x[order], y[order], s=90, facecolors="none", edgecolors="#d62728", linewidths=1.6, zorder=4,
                   label=f"energy/latency front ({len(front_2d)}{ties})")
        ax.set(xscale="log", yscale="log", xlabel="energy per inference (mJ)", ylabel="latency per inference (ms)",
               title=f"{model}: {len(rows)} variants of {base or 'the base template'}\n"
                     f"3-D front {len(front_3d)} points, 2-D front {len(front_2d)}")
        log_axis_labels(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below the axes: no data hidden
        fig.colorbar(shade, ax=ax, label="area proxy (mm²)")
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
