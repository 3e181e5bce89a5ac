"""Benchmark: path selection on 500 random candidate paths x 200 budget levels x a memory limit.

    python benchmarks/bench_select.py [--paths 500] [--levels 200] [--groups 25] [--seeds 0,1,2]
                                      [--memory-fraction 0.1] [--max-paths N] [--solver cbc]

The paths are drawn like real dynamic-inference candidates: ``--groups`` weight groups (base models of
different size and accuracy), each with variants that run a fraction of the compute (fewer blocks, lower
resolution): energy and latency scale with that fraction, accuracy falls with it (plus noise), and the weights a
variant needs shrink with it. The memory limit is ``--memory-fraction`` of all the groups' full weights; the
default 0.1 binds (the memory-free optimum needs about twice as much), so the ILP is really solved.

For each seed it prints the solve time (target: < 10 s on a 2-core machine) and brute-force-free sanity checks:
the selection respects every limit and follows the run rule; its goal value lies between the best single path and
the memory-free optimum; no single add, drop or swap of a path improves it; and, given exactly the memory the
memory-free optimum needs, the ILP (presolve shortcut off) finds that optimum on the full instance.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwmap.select import (  # noqa: E402
    BudgetLevel,
    PathPoint,
    candidates,
    evaluate,
    make_problem,
    rank_key,
    solve,
)


def random_paths(n: int, groups: int, rng: random.Random) -> list[PathPoint]:
    bases = []
    for g in range(groups):
        size = rng.uniform(0.3, 3.0)  # relative model size
        bases.append(
            dict(
                group=f"m{g}",
                energy_mj=8.0 * size * rng.uniform(0.8, 1.2),
                latency_ms=5.0 * size * rng.uniform(0.7, 1.3),
                accuracy=70.0 + 8.0 * (size - 0.3) / 2.7 + rng.gauss(0, 1.0),
                weight_mb=20.0 * size * rng.uniform(0.8, 1.2),
            )
        )
    paths = []
    for i in range(n):
        b = bases[i % groups]
        frac = rng.uniform(0.25, 1.0)  # fraction of the compute this variant runs
        paths.append(
            PathPoint(
                name=f"p{i:03d}",
                energy_mj=round(b["energy_mj"] * frac * rng.uniform(0.95, 1.05), 4),
                latency_ms=round(b["latency_ms"] * frac * rng.uniform(0.9, 1.1), 4),
                accuracy=round(max(0.0, b["accuracy"] - 25.0 * (1 - frac) ** 1.5 + rng.gauss(0, 0.5)), 3),
                accuracy_source="synthetic",
                weight_group=b["group"],
                weight_mb=round(b["weight_mb"] * (0.6 + 0.4 * frac), 3),
            )
        )
    return paths


def instance(args: argparse.Namespace, seed: int) -> tuple[list[PathPoint], list[BudgetLevel], float, float]:
    rng = random.Random(seed)
    paths = random_paths(args.paths, args.groups, rng)
    energies = sorted(p.energy_mj for p in paths)
    lo, hi = energies[len(energies) // 50], energies[-1]
    levels = [
        BudgetLevel(round(rng.uniform(lo, hi), 4), "energy", rng.choice((1.0, 2.0, 3.0))) for _ in range(args.levels)
    ]
    group_full: dict[str, float] = {}
    for p in paths:
        group_full[p.weight_group] = max(group_full.get(p.weight_group, 0.0), p.weight_mb)
    total = sum(group_full.values())
    return paths, levels, round(args.memory_fraction * total, 2), total


def local_moves(problem, chosen, cands, rng: random.Random, swaps: int) -> tuple[int, float]:
    """Single add/drop/swap moves: (moves tried, best improvement of the goal value among the feasible ones)."""
    sign = 1.0 if problem.terms.goal == "accuracy" else -1.0
    base = sign * evaluate(problem, chosen).goal_value
    names = {p.name for p in chosen}
    others = [p for p in cands if p.name not in names]
    moves = [list(chosen) + [q] for q in others]
    moves += [[p for p in chosen if p is not d] for d in chosen]
    for _ in range(swaps if others else 0):
        d, q = rng.choice(chosen), rng.choice(others)
        moves.append([p for p in chosen if p is not d] + [q])
    best_gain = 0.0
    for move in moves:
        ev = evaluate(problem, move)
        if ev.feasible:
            best_gain = max(best_gain, sign * ev.goal_value - base)
    return len(moves), best_gain


def run_seed(args: argparse.Namespace, seed: int) -> tuple[float, list[str]]:
    paths, levels, memory_mb, total_mb = instance(args, seed)
    problem = make_problem(paths, levels, memory_mb=memory_mb, max_paths=args.max_paths)
    t0 = time.perf_counter()
    cands = candidates(problem)
    t_prune = time.perf_counter() - t0
    t0 = time.perf_counter()
    sel = solve(problem, solver=args.solver)
    wall = time.perf_counter() - t0

    free_problem = make_problem(paths, levels, max_paths=args.max_paths)
    free = solve(free_problem, solver=args.solver)  # the presolve shortcut answers this one
    groups_left = len({p.weight_group for p in cands})
    print(
        f"seed {seed}: {args.paths} paths in {args.groups} weight groups, {args.levels} energy levels, memory limit "
        f"{memory_mb} MB of {total_mb:.1f} MB (the memory-free optimum needs {free.memory_mb:.1f} MB)"
    )
    print(
        f"  candidates after filtering and dominance pruning: {len(cands)} in {groups_left} groups "
        f"({t_prune * 1e3:.0f} ms)"
    )
    print(
        f"  solver {sel.solver}: status {sel.status}, solve time {sel.solve_time_s:.2f} s, wall time "
        f"(prune + build + solve + report) {wall:.2f} s"
    )
    print(
        f"  chose {len(sel.chosen)} paths; expected accuracy {sel.expected_accuracy:.3f} % (full model "
        f"'{sel.full_model.name}' {sel.full_model.accuracy:.3f} %), expected energy {sel.expected_energy_mj:.3f} "
        f"mJ, saved {sel.energy_saved_pct:.1f} %, memory {sel.memory_mb:.2f} MB"
    )

    failures = []
    ev = evaluate(problem, list(sel.chosen))
    rule_ok = all(
        row.path == min((p for p in sel.chosen if p.energy_mj <= lv.budget), key=rank_key).name
        for row, lv in zip(sel.table, problem.levels, strict=True)
    )
    if not (ev.feasible and rule_ok and sel.memory_mb <= memory_mb + 1e-9):
        failures.append("the selection breaks a limit or the run rule")
    singles = [evaluate(problem, [p]) for p in cands]
    single = max((s.goal_value for s in singles if s.feasible), default=float("-inf"))
    print(
        f"  check: best single path {single:.4f} <= ILP {sel.goal_value:.4f} <= memory-free optimum "
        f"{free.goal_value:.4f}"
    )
    if not (single - 1e-9 <= sel.goal_value <= free.goal_value + 1e-9):
        failures.append("goal value outside [best single path, memory-free optimum]")
    t0 = time.perf_counter()
    tried, gain = local_moves(problem, list(sel.chosen), cands, random.Random(seed), args.swaps)
    print(
        f"  check: {tried} single add/drop/swap moves, best improvement {gain:.1e} ({time.perf_counter() - t0:.1f} s)"
    )
    if gain > 1e-6:
        failures.append(f"a local move improves the goal value by {gain:g}")
    # With exactly the memory the memory-free optimum needs, the ILP (presolve off) must find that optimum.
    roomy = make_problem(paths, levels, memory_mb=free.memory_mb, max_paths=args.max_paths)
    ilp_free = solve(roomy, solver=args.solver, presolve=False)
    same = (
        abs(ilp_free.goal_value - free.goal_value) <= 1e-6
        and abs(ilp_free.expected_energy_mj - free.expected_energy_mj) <= 1e-6
    )
    print(
        f"  check: ILP (no presolve) with memory_mb {free.memory_mb:.2f} on {ilp_free.candidates} candidates "
        f"{ilp_free.goal_value:.4f} == memory-free optimum {free.goal_value:.4f} "
        f"({ilp_free.solve_time_s:.2f} s): {'yes' if same else 'NO'}"
    )
    if not same:
        failures.append("the ILP misses the memory-free optimum")
    if sel.status != "optimal":
        failures.append(f"status {sel.status}")
    print("  sanity checks: " + ("all passed" if not failures else "FAILED: " + "; ".join(failures)))
    return sel.solve_time_s, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--levels", type=int, default=200)
    parser.add_argument("--groups", type=int, default=25)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one instance each")
    parser.add_argument("--solver", default="cbc")
    parser.add_argument("--memory-fraction", type=float, default=0.1)
    parser.add_argument("--max-paths", type=int, default=None)
    parser.add_argument("--swaps", type=int, default=300, help="random swap moves in the local-move check")
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")
    times, failed = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        seconds, failures = run_seed(args, seed)
        times.append(seconds)
        failed += failures
    verdict = "meets" if max(times) < 10 else "misses"
    print(
        f"solve time over {len(times)} seeds: max {max(times):.2f} s, mean {sum(times) / len(times):.2f} s: "
        f"{verdict} the 10 s target; sanity checks {'all passed' if not failed else 'FAILED'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
