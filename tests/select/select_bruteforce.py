"""An independent brute force for path selection: every subset of paths, vectorised with numpy.

Written from the semantics in hwmap/select/problem.py, sharing no code with it, so the ILP can be checked
against it. Only paths with accuracy >= min_accuracy that fit the largest budget are selectable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEM_RTOL = 1e-9


@dataclass(frozen=True)
class Brute:
    feasible: bool
    primary: float = float("nan")  # objective A (max) or B (min)
    secondary: float = float("nan")  # expected energy (A, min) or expected accuracy (B, max)
    best_sets: tuple[frozenset[str], ...] = ()  # every lexicographically optimal subset


def brute_force(
    paths,
    budgets,
    weights,
    *,
    metric="energy",
    max_paths=None,
    memory_mb=None,
    min_accuracy=None,
    penalty=0.0,
    objective="accuracy",
    targets=(),
):
    n = len(paths)
    names = [p.name for p in paths]
    acc = np.array([p.accuracy for p in paths], dtype=float)
    energy = np.array([p.energy_mj for p in paths], dtype=float)
    cost = np.array([p.energy_mj if metric == "energy" else p.latency_ms for p in paths], dtype=float)
    wmb = np.array([p.weight_mb for p in paths], dtype=float)
    groups = [p.weight_group or ("own:" + p.name) for p in paths]

    masks = np.arange(1, 2**n, dtype=np.int64)
    member = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    selectable = cost <= max(budgets)
    if min_accuracy is not None:
        selectable &= acc >= min_accuracy
    valid = ~(member & ~selectable).any(axis=1)
    count = member.sum(axis=1)
    if max_paths is not None:
        valid &= count <= max_paths
    if memory_mb is not None:
        mem = np.zeros(len(masks))
        for g in set(groups):
            cols = [i for i in range(n) if groups[i] == g]
            mem += (member[:, cols] * wmb[cols]).max(axis=1)
        valid &= mem <= memory_mb * (1 + MEM_RTOL) + MEM_RTOL

    # Rank: accuracy desc, energy, latency, weight_mb asc, name.
    order = sorted(
        range(n),
        key=lambda i: (-paths[i].accuracy, paths[i].energy_mj, paths[i].latency_ms, paths[i].weight_mb, paths[i].name),
    )
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    exp_acc = np.zeros(len(masks))
    exp_energy = np.zeros(len(masks))
    for b, wl in zip(budgets, w, strict=True):
        cols = [i for i in order if cost[i] <= b]
        if not cols:
            valid &= False
            continue
        sub = member[:, cols]
        served = sub.any(axis=1)
        valid &= served
        first = np.array(cols)[sub.argmax(axis=1)]
        exp_acc += wl * acc[first]
        exp_energy += wl * energy[first]

    if not valid.any():
        return Brute(False)
    if objective == "accuracy":
        primary = exp_acc - penalty * (count - 1)
        secondary = exp_energy
        p_best = primary[valid].max()
        near = valid & (primary >= p_best - 1e-9)
        s_best = secondary[near].min()
        best = near & (secondary <= s_best + 1e-9)
    else:
        tw = np.array([t.weight for t in targets], dtype=float)
        tw = tw / tw.sum()
        shortfall = np.zeros(len(masks))
        for t, wt in zip(targets, tw, strict=True):
            within = energy <= t.energy_mj
            best_acc = np.where(member & within, acc, 0.0).max(axis=1)
            shortfall += wt * np.maximum(0.0, t.accuracy - best_acc)
        primary = shortfall + penalty * (count - 1)
        secondary = exp_acc
        p_best = primary[valid].min()
        near = valid & (primary <= p_best + 1e-9)
        s_best = secondary[near].max()
        best = near & (secondary >= s_best - 1e-9)
    best_sets = tuple(frozenset(names[i] for i in range(n) if row[i]) for row in member[best])
    return Brute(True, float(p_best), float(s_best), best_sets)
