"""Issue 11 target: `hwmap estimate resnet50 --accel systolic16x16` the second time in under 1 s of wall time.

Runs the command as a user would (a fresh `hwmap` process each time) against an empty graph cache in a temporary
XDG_CACHE_HOME: the first run traces (torch + timm), later runs read the cached graph. For scale it also times the
same command on a saved graph .json (no cache involved) and `hwmap --no-cache estimate ...`, and checks in a
subprocess that a cached estimate imports neither torch nor timm.

    python benchmarks/bench_cache.py [--model resnet50] [--accel systolic16x16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECK_IMPORTS = """
import sys
from hwmap.cli import main
try:
    main(["estimate", {model!r}, "--accel", {accel!r}, "--json"])
except SystemExit:
    pass
heavy = ("torch", "timm", "transformers", "torchvision")
print("heavy modules imported:", sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""

LOOKUP = """
import time
from hwmap.graph import cache
start = time.perf_counter()
key = cache.graph_key({model!r}, input_shape=None, resolution=None, batch=1, num_classes=None, strict=False)
keyed = time.perf_counter()
graph = cache.load_cached(key)
loaded = time.perf_counter()
assert graph is not None
print(f"in the cached run: key {{(keyed - start) * 1e3:.1f}} ms, graph read {{(loaded - keyed) * 1e3:.1f}} ms "
      f"({{len(graph.nodes)}} nodes)")
"""


LAST_CPU_S: list[float] = []  # CPU seconds (user + sys) of each wall_s run, in order


def wall_s(argv: list[str], env: dict) -> float:
    """Wall time of one fresh process; its CPU time (user + sys, which a busy machine inflates less) is kept too."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU_S.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--accel", default="systolic16x16")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    hwmap = shutil.which("hwmap") or sys.exit("hwmap is not on PATH (pip install -e .)")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "XDG_CACHE_HOME": folder}
        command = [hwmap, "estimate", args.model, "--accel", args.accel]
        first_s = wall_s(command, env)
        cached_s = [wall_s(command, env) for _ in range(args.repeats)]
        cached_cpu_s = LAST_CPU_S[-args.repeats:]
        graph = Path(folder) / "graph.json"
        subprocess.run([hwmap, "graph", args.model, "-o", str(graph)], env=env, check=True, stdout=subprocess.DEVNULL)
        saved_s = [wall_s([hwmap, "estimate", str(graph), "--accel", args.accel], env) for _ in range(args.repeats)]
        saved_cpu_s = LAST_CPU_S[-args.repeats:]
        no_cache_s = wall_s([hwmap, "--no-cache", *command[1:]], env)
        lookup = subprocess.run([sys.executable, "-c", LOOKUP.format(model=args.model)], env=env, check=True,
                                capture_output=True, text=True)
        check = subprocess.run([sys.executable, "-c", CHECK_IMPORTS.format(model=args.model, accel=args.accel)],
                               env=env, check=True, capture_output=True, text=True)
    load = os.getloadavg()[0]
    print(f"hwmap estimate {args.model} --accel {args.accel} (wall time of a fresh process; {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the end)")
    print(f"  first run (empty cache, traces):        {first_s:6.2f} s")
    print(f"  second and later runs (cached graph):   {statistics.median(cached_s):6.2f} s median, "
          f"{min(cached_s):.2f} s best of {len(cached_s)}; CPU (user+sys) {statistics.median(cached_cpu_s):.2f} s")
    print(f"  same command on a saved graph .json:    {statistics.median(saved_s):6.2f} s median, "
          f"{min(saved_s):.2f} s best of {len(saved_s)}; CPU (user+sys) {statistics.median(saved_cpu_s):.2f} s")
    print(f"  hwmap --no-cache (traces again):        {no_cache_s:6.2f} s")
    print(f"  {lookup.stdout.strip()}")
    print(f"  cached run, {check.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
