"""Issue 21 target: the first Ctrl-C stops a sweep on local workers within 2 s; a second one exits at once.

Runs `hwmap sweep` as a user would (a fresh process, 2 local workers, resnet18 at 64 px on a few hundred systolic
variants), waits until the journal holds its first finished chunk, sends SIGINT to the sweep's process group (as a
terminal does) and times until the process has exited; then the same with a second SIGINT 0.1 s after the first.
Each run is checked: exit code 130 (or killed by the second SIGINT), a journal that reads back with no point twice.
Prints every time, the median and the ratio to the target, and the load average (other jobs on a 2-core machine
stretch wall times).

    python benchmarks/bench_interrupt.py [--repeats 3] [--chunk-size 100] [--target-s 2.0] [--repo DIR]

--repo runs the hwmap of another checkout (e.g. the main branch, for a before/after in the same minutes). A run
that has not exited --hang-s seconds after the signal counts as a hang: it is killed and reported as such.
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


def one_run(folder: Path, *, repo: Path, chunk_size: int, twice: bool, hang_s: float) -> float:
    from hwmap.dse.sweep import read_journal

    out = folder / "swept.csv"
    journal = Path(f"{out}.journal.jsonl")
    for stale in folder.glob("*swept.csv*"):
        stale.unlink()
    process = subprocess.Popen([sys.executable, "-m", "hwmap", "sweep", "space.yaml", "--workers", "2",
                                "--chunk-size", str(chunk_size), "--out", str(out)], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(repo)}, start_new_session=True)
    while not (journal.exists() and journal.read_text().count("\n") >= 2):
        if process.poll() is not None:
            raise SystemExit(f"the sweep ended before its first chunk: {process.communicate()[1]}")
        time.sleep(0.01)
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground process group
    if twice:
        time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=hang_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the fork server and workers go too
        process.communicate()
        return float("inf")
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
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose hwmap to run (default: this one)")
    parser.add_argument("--hang-s", type=float, default=120.0, help="seconds after which a run counts as hung")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from hwmap.api import extract_graph, save_graph

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_graph(extract_graph("resnet18", resolution=64), folder / "resnet18.json")
        (folder / "space.yaml").write_text(SPACE)
        print(f"hwmap from {args.repo}; load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
              flush=True)
        for twice in (False, True):
            times = [one_run(folder, repo=args.repo, chunk_size=args.chunk_size, twice=twice, hang_s=args.hang_s)
                     for _ in range(args.repeats)]
            median = statistics.median(times)
            what = "two Ctrl-C (0.1 s apart)" if twice else "one Ctrl-C"
            shown = ", ".join(f"{t:.2f}" if t != float("inf") else f"HUNG (> {args.hang_s:g})" for t in times)
            print(f"{what:>26}: SIGINT -> exit {shown} s; median {median:.2f} s = {median / args.target_s:.2f} x the "
                  f"{args.target_s:g} s target ({'met' if max(times) <= args.target_s else 'NOT met'})", flush=True)
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
