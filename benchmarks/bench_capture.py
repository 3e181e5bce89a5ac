"""Issue 2 targets, measured in one run and printed as ratios:

- trace of segformer-b5 at 1024x1024 within 2x the time of a plain meta-device forward, and under 2 s;
- `hwmap flops GRAPH.json` under 0.5 s wall, start-up included.

Run: python benchmarks/bench_capture.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from hwmap.graph.capture import capture, meta_inputs
from hwmap.graph.io import save_graph
from hwmap.graph.sources import build_model


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    built = build_model("segformer-b5")
    module = built.module.eval()
    inputs = meta_inputs([(1, 3, 1024, 1024)])

    def plain_forward():
        with torch.no_grad():
            module(*inputs)

    graphs = []

    def traced():
        graphs.append(capture(module, inputs, name="segformer-b5"))

    plain_forward()  # warm-up: first meta kernels
    plain_s = best_of(plain_forward, 5)
    trace_s = best_of(traced, 5)
    graph = graphs[-1]
    print(f"segformer-b5 @1024x1024: {len(graph.nodes)} ops, {graph.total_macs / 1e9:.1f} GMACs")
    print(f"  plain meta forward   {plain_s * 1e3:8.1f} ms")
    print(f"  hwmap trace          {trace_s * 1e3:8.1f} ms   ratio {trace_s / plain_s:.2f}x (target <= 2x), "
          f"{'under' if trace_s < 2 else 'OVER'} 2 s")

    with tempfile.TemporaryDirectory() as tmp:
        path = save_graph(graph, Path(tmp) / "segformer-b5.json")
        command = [sys.executable, "-m", "hwmap", "flops", str(path)]
        subprocess.run(command, check=True, capture_output=True)  # warm the file cache and .pyc files
        walls = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        bare = [best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 1) for _ in range(5)]
    wall = statistics.median(walls)
    print(f"  `hwmap flops graph.json` median wall {wall * 1e3:.0f} ms (target < 500 ms; "
          f"bare python start-up {statistics.median(bare) * 1e3:.0f} ms), ratio to target {wall / 0.5:.2f}")


if __name__ == "__main__":
    main()
