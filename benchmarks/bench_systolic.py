"""Time the closed-form SCALE-Sim model: ResNet-50's 54 layers, then 1,000 array variants x 54 layers.

    python benchmarks/bench_systolic.py

SCALE-Sim 3.0.0 itself needs 10-250 s per ResNet-50 layer on one core (tests/data/scalesim/README.md).
"""

from __future__ import annotations

import sys
import time
import timeit
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwmap.cost.systolic import systolic_costs  # noqa: E402
from hwmap.interop.scalesim import read_config, read_topology  # noqa: E402

DATA = ROOT / "tests" / "data" / "scalesim" / "resnet50_32x32_ws"


def _best_of(stmt, number: int, repeat: int = 7) -> float:
    """Best per-call CPU time in seconds over `repeat` runs of `number` calls.

    CPU time (time.process_time) rather than wall time: on a shared machine the wall clock also counts the time
    spent waiting for a core.
    """
    return min(timeit.repeat(stmt, number=number, repeat=repeat, timer=time.process_time)) / number


def main() -> None:
    topology = read_topology(DATA / "topology.csv")
    config = read_config(DATA / "config.cfg")
    sram = dict(
        ifmap_sram_words=config.ifmap_sram_words,
        filter_sram_words=config.filter_sram_words,
        ofmap_sram_words=config.ofmap_sram_words,
    )
    rng = np.random.default_rng(0)
    rows = rng.integers(4, 129, size=(1000, 1))
    cols = rng.integers(4, 129, size=(1000, 1))
    tiny = np.arange(54)
    op = _best_of(partial(np.add, tiny, tiny), number=20000)
    print(f"numpy {np.__version__}; CPU time of one call = all SCALE-Sim report columns for every layer")
    print(f"machine speed: one numpy add on 54 int64s takes {op * 1e6:.2f} us here")
    for dataflow in ("ws", "os", "is"):
        layers = partial(
            systolic_costs, topology.m, topology.n, topology.k, dataflow=dataflow, conv=topology.conv, **sram
        )
        one = _best_of(partial(layers, rows=config.rows, cols=config.cols), number=200)
        grid = _best_of(partial(layers, rows=rows, cols=cols), number=5)
        print(f"{dataflow}: 54 layers x 1 array   {one * 1e6:9.1f} us  ({one / 54 * 1e6:.2f} us per layer)")
        print(f"{dataflow}: 54 layers x 1000 arrays {grid * 1e3:8.2f} ms  ({grid / 54000 * 1e6:.3f} us per layer)")


if __name__ == "__main__":
    main()
