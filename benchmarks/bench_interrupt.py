"""Issue 21 target: the first Ctrl-C stops a sweep on local workers within 2 s; a second one exits at once.

Runs `hwmap sweep` as a user would (a fresh process, 2 local workers, resnet18 at 64 px on a few hundred systolic
variants), waits until the journal holds its first finished chunk, sends SIGINT and times until the process has
exited; then the same with a second SIGINT 0.1 s after the first. Each run is checked: exit code 130 (or killed by
the second SIGINT), a journal that reads back with no point twice. Prints every time, the median and the ratio to
the target, and the load average (other jobs on a 2-core machine stretch wall times).

    python benchmarks/bench_interrupt.py [--repeats 3] [--chunk-size 100] [--target-s 2.0]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE = """\
schema_version: 1
base: systolic16x16
axes:
  array.rows: [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 72, 80, 96, 128]
  array.dataflow: [ws, os, is]
  buffers.ofmap.size_bytes: [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288]
square: true
models: [{model: resnet18.json, name: resnet18}]
"""


def one_run(folder: Path, *, chunk_size: int, twice: bool) -> float:
    from hwmap.dse.sweep import read_journal

    out = folder / "swept.csv"
    journal = Path(f"{out}.journal.jsonl")
    for stale in folder.glob("*swept.csv*"):
        stale.unlink()
    process = subprocess.Popen([sys.executable, "-m", "hwmap", "sweep", "space.yaml", "--workers", "2",
                                "--chunk-size", str(chunk_size), "--out", str(out)], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    while not (journal.exists() and journal.read_text().count("\n") >= 2):
        if process.poll() is not None:
            raise SystemExit(f"the sweep ended before its first chunk: {process.communicate()[1]}")
        time.sleep(0.01)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=600)
    stopped_s = time.monotonic() - sent
    if process.returncode not in (130, -signal.SIGINT):
        raise SystemExit(f"exit code {process.returncode}: {err}")
    rows, _ = read_journal(journal)
    if len({r["point_id"] for r in rows}) != len(rows):
        raise SystemExit("the journal holds a point twice")
    return stopped_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=100, help="points per worker task (default 100)")
    parser.add_argument("--target-s", type=float, default=2.0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from hwmap.api import extract_graph, save_graph

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_graph(extract_graph("resnet18", resolution=64), folder / "resnet18.json")
        (folder / "space.yaml").write_text(SPACE)
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for twice in (False, True):
            times = [one_run(folder, chunk_size=args.chunk_size, twice=twice) for _ in range(args.repeats)]
            median = statistics.median(times)
            what = "two Ctrl-C (0.1 s apart)" if twice else "one Ctrl-C"
            print(f"{what:>26}: SIGINT -> exit {', '.join(f'{t:.2f}' for t in times)} s; median {median:.2f} s = "
                  f"{median / args.target_s:.2f} x the {args.target_s:g} s target "
                  f"({'met' if median <= args.target_s else 'NOT met'})")
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
