"""Reading a 100,000-row SCALE-Sim topology into a layer graph (issue 10: linear in rows, under 2 s).

    python benchmarks/bench_topology.py [ROWS] [--distinct]

Writes a conv topology of ROWS rows (default 100,000; a mix of 3x3 and 1x1 layers, with strides 1 and 2; 192
distinct layer shapes repeating, as a network's blocks do, or with --distinct every row its own shape) to a
temporary folder, then times hwmap.api.extract_graph on it (read_topology + topology_graph) and prints the time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main(rows: int = 100_000, *, distinct: bool = False) -> float:
    import hwmap.interop.scalesim  # noqa: F401 - imports are not part of the reading time
    from hwmap.api import extract_graph

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "topology.csv"
        lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"]
        for i in range(rows):
            size, kernel, stride = (56, 3, 1) if i % 3 else (28, 1, 2)
            channels = 64 + (i if distinct else i % 64)
            lines.append(f"layer{i}, {size}, {size}, {kernel}, {kernel}, {channels}, {128 + i % 32}, {stride},")
        path.write_text("\n".join(lines) + "\n")
        start, cpu = time.perf_counter(), time.process_time()
        graph = extract_graph(str(path))
        elapsed_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    assert len(graph.nodes) == rows
    kind = "distinct shapes" if distinct else "192 repeating shapes"
    print(f"{rows:,} topology rows ({kind}) -> {len(graph.nodes):,} layers, {graph.total_macs:,} MACs in "
          f"{elapsed_s:.2f} s (CPU {cpu_s:.2f} s)")
    return elapsed_s


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 100_000, distinct="--distinct" in sys.argv[1:])
