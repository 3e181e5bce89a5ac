"""Issue 3 targets, measured in one run:

- the cost part of `hwmap estimate resnet50 --accel systolic16x16` (graph already extracted) under 20 ms;
- at least 10,000x faster than SCALE-Sim 3.0.0 on the same topology and config, on a few ResNet-50 layers;
- 1,000 template variants x ResNet-50 under 5 s.

SCALE-Sim is not an hwmap dependency: install it in its own environment (it needs numpy < 2.4) and pass its
interpreter, e.g.

    python3 -m venv /tmp/scalesim-venv && /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.4'
    python benchmarks/bench_estimate.py --scalesim-python /tmp/scalesim-venv/bin/python
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from hwmap.api import extract_graph, load_accelerator
from hwmap.cost.dispatch import estimate_graph
from hwmap.cost.systolic import systolic_costs
from hwmap.interop.scalesim import read_config, read_topology

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "scalesim" / "resnet50_16x16_os"
GENERATE = ROOT / "tests" / "data" / "scalesim" / "generate.py"
# Three ResNet-50 layers (rows of the reference topology): the classifier, a 1x1 and a 3x3 conv of layer4.
SCALESIM_LAYERS = (53, 51, 50)


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench_estimate() -> None:
    graph = extract_graph("resnet50")
    accel = load_accelerator("systolic16x16")
    cold = timed(lambda: estimate_graph(graph, accel), 1)[0]  # builds the per-layer columns once
    warm = statistics.median(timed(lambda: estimate_graph(graph, accel), 50))
    print(f"estimate resnet50 on systolic16x16, cost part: first call {cold * 1e3:.1f} ms (builds layer columns), "
          f"then median {warm * 1e3:.2f} ms  -> {warm / 0.020:.3f} of the 20 ms target")

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(1000):
        rows, cols = (int(v) for v in rng.choice([8, 16, 24, 32, 48, 64, 96, 128], size=2))
        kib = int(rng.choice([16, 32, 64, 128, 256, 512]))
        variant = accel.with_overrides({
            "array.rows": rows, "array.cols": cols, "array.dataflow": str(rng.choice(["ws", "os", "is"])),
            "buffers.ifmap.size_bytes": kib * 1024, "buffers.filter.size_bytes": kib * 1024,
            "buffers.ofmap.size_bytes": kib * 1024, "dram.bw_bytes_per_cycle": float(rng.choice([8, 16, 32, 64])),
        })
        estimate_graph(graph, variant)
    sweep = time.perf_counter() - start
    print(f"1,000 template variants x resnet50 (variant validation included): {sweep:.2f} s  -> "
          f"{sweep / 5:.3f} of the 5 s target")


def bench_against_scalesim(scalesim_python: str) -> None:
    topology = read_topology(REFERENCE / "topology.csv")
    config = read_config(REFERENCE / "config.cfg")
    rows = list(SCALESIM_LAYERS)
    lines = (REFERENCE / "topology.csv").read_text().splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        case.mkdir()
        shutil.copy(REFERENCE / "config.cfg", case / "config.cfg")
        (case / "topology.csv").write_text("\n".join([lines[0]] + [lines[1 + r] for r in rows]) + "\n")
        start = time.perf_counter()
        subprocess.run([scalesim_python, str(GENERATE), "run", str(case)], check=True, capture_output=True)
        scalesim_s = time.perf_counter() - start

    def ours():
        systolic_costs(topology.m[rows], topology.n[rows], topology.k[rows], rows=config.rows, cols=config.cols,
                       dataflow=config.dataflow, ifmap_sram_words=config.ifmap_sram_words,
                       filter_sram_words=config.filter_sram_words, ofmap_sram_words=config.ofmap_sram_words)

    hwmap_s = statistics.median(timed(ours, 200))
    print(f"SCALE-Sim 3.0.0 on {len(rows)} ResNet-50 layers ({config.rows}x{config.cols} {config.dataflow}): "
          f"{scalesim_s:.1f} s wall; hwmap closed form on the same layers: {hwmap_s * 1e6:.0f} us  -> "
          f"{scalesim_s / hwmap_s:,.0f}x faster (target >= 10,000x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scalesim-python", help="interpreter of an environment with scalesim==3.0.0")
    args = parser.parse_args()
    bench_estimate()
    if args.scalesim_python:
        bench_against_scalesim(args.scalesim_python)
    else:
        print("SCALE-Sim comparison skipped: pass --scalesim-python (see this script's docstring)")


if __name__ == "__main__":
    main()
