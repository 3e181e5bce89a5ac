"""Buffer sweeps answered from candidate tables (issue 18 target: mean worker CPU per point <= 8 ms over >= 100
buffer configurations x 4 array shapes, the table identical to mapping every point cold).

A sweep over buffer sizes used to search every layer shape's mappings again at each new buffer configuration
(~160 ms of CPU for ResNet-50). Now the mapper builds one candidate table per layer shape (hwmap.cost.mapping:
every tiling with its best loop order, whatever the capacities) once a shape meets its second configuration, and
answers each configuration by looking up the largest tile that fits. This script measures, in one run:

- the sweep (hwmap.dse.sweep, local worker processes, an empty on-disk cache): the workers' CPU seconds per point
  (process_time in the worker, so other jobs on the machine do not inflate it), candidate tables built included;
- the same sweep again in new worker processes, with the candidate tables on disk from the first run;
- every point (or every --cold-every'th) costed cold in this process: all mapper caches cleared and the
  per-capacity search forced (hwmap.cost.mapping.per_capacity_search), its CPU seconds per point, and the rows
  compared with the sweep's, column by column, for exact equality.

    python benchmarks/bench_buffer_sweep.py [--workers 2] [--cold-every 1] [--models resnet50 segformer-b2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

TARGET_MS = 8.0
IFMAP_BYTES = [8192, 12288, 16384, 24576, 32768, 49152, 65536, 131072, 262144, 1048576]
OFMAP_BYTES = [4096, 8192, 16384, 24576, 32768, 65536, 98304, 131072, 262144, 524288]
ARRAYS = {"array.rows": [16, 32], "array.cols": [16, 32]}


def space_dict(models: list[str]) -> dict:
    return {"schema_version": 1, "description": "buffer sizes x array shapes", "base": "systolic16x16",
            "axes": {**ARRAYS, "buffers.ifmap.size_bytes": IFMAP_BYTES, "buffers.filter.size_bytes": IFMAP_BYTES,
                     "buffers.ofmap.size_bytes": OFMAP_BYTES},
            "tied": [["buffers.ifmap.size_bytes", "buffers.filter.size_bytes"]], "models": models,
            "objectives": ["energy_mj", "latency_ms"]}


def run_sweep(space, workers: int):
    from hwmap.dse.sweep import sweep

    start = time.perf_counter()
    result = sweep(space, workers=workers)
    return result, time.perf_counter() - start


def cold_rows(space, table, every: int):
    """Cost every `every`-th point of the sweep's table cold; returns (rows by point index, CPU seconds)."""
    from hwmap.cost import mapping
    from hwmap.dse.sweep import _model_row
    from hwmap.interop.inputs import model_graph, read_accelerator

    base = read_accelerator(space.base)
    axes = [c for c in table.columns if c in space_dict([])["axes"]]
    graphs = {m: model_graph(m) for m in table.model.unique()}
    rows, cpu = {}, 0.0
    with mapping.per_capacity_search():
        for i in range(0, len(table), every):
            point = table.iloc[i]
            overrides = {axis: point[axis].item() if hasattr(point[axis], "item") else point[axis] for axis in axes}
            accel = base.with_overrides(overrides, name=f"cold#{i}")
            mapping.clear_mapper_caches()
            c = time.process_time()
            rows[i] = _model_row(graphs[point.model], accel, space.estimate)
            cpu += time.process_time() - c
    return rows, cpu


def compare(table, rows) -> list[str]:
    differences = []
    for i, row in rows.items():
        for column, value in row.items():
            if column in table.columns and column not in ("status", "error"):
                swept = table.iloc[i][column]
                if not (swept == value or (swept != swept and value != value)):
                    differences.append(f"point {i} {column}: sweep {swept!r} cold {value!r}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-every", type=int, default=1, help="cost every Nth point cold (1: all)")
    parser.add_argument("--models", nargs="+", default=["resnet50", "segformer-b2"])
    args = parser.parse_args()
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="hwmap-bench-sweep-")  # empty on-disk caches

    from hwmap.api import extract_graph
    from hwmap.dse import DesignSpace

    for model in args.models:
        extract_graph(model)  # the graph cache is filled before anything is timed
    space = DesignSpace.from_dict(space_dict(args.models), origin="bench_buffer_sweep")
    first, first_wall = run_sweep(space, args.workers)
    second, second_wall = run_sweep(space, args.workers)
    points = first.n_evaluated
    buffers = len(IFMAP_BYTES) * len(OFMAP_BYTES)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(args.models)} models x {buffers} buffer configurations x "
          f"{len(ARRAYS['array.rows']) * len(ARRAYS['array.cols'])} array shapes = {points} points, "
          f"{args.workers} workers")
    per_point_ms = 1000 * first.worker_cpu_s / points
    print(f"sweep, empty disk cache:   worker CPU {first.worker_cpu_s:7.2f} s = {per_point_ms:6.2f} ms/point "
          f"(wall {first_wall:.1f} s)")
    print(f"sweep, tables on disk:     worker CPU {second.worker_cpu_s:7.2f} s = "
          f"{1000 * second.worker_cpu_s / points:6.2f} ms/point (wall {second_wall:.1f} s)")
    rows, cold_cpu = cold_rows(space, first.table, args.cold_every)
    cold_ms = 1000 * cold_cpu / len(rows)
    print(f"cold per-point mapping:    CPU {cold_cpu:7.2f} s over {len(rows)} points = {cold_ms:6.2f} ms/point")
    print(f"ratio cold / sweep: {cold_ms / per_point_ms:.1f}x; target <= {TARGET_MS:g} ms/point: "
          f"{'met' if per_point_ms <= TARGET_MS else 'NOT met'}")
    differences = compare(first.table, rows) + compare(second.table, rows)
    print(f"rows compared with the cold mapping: {len(rows)} x 2 sweeps, {len(differences)} differences")
    for line in differences[:10]:
        print("  " + line)
    if differences:
        sys.exit(1)


if __name__ == "__main__":
    main()
