"""Figures (PNG or SVG by the file suffix): share bars, per-layer profiles, energy/accuracy frontiers, Pareto fronts.

matplotlib is imported inside each function (Agg backend, no display needed); files are written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from hwmap.errors import HwmapError
from hwmap.fileio import atomic_write_bytes

FORMATS = {".png": "png", ".svg": "svg"}
GROUP_COLOURS = {
    "conv": "#1f77b4", "linear": "#ff7f0e", "attention": "#d62728", "matmul": "#9467bd",
    "normalization": "#8c564b", "activation": "#e377c2", "elementwise": "#7f7f7f", "pooling_resize": "#bcbd22",
    "data_movement": "#17becf", "view": "#dddddd", "other": "#000000",
}


def _figure(width_in: float = 8.0, height_in: float = 4.5):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width_in, height_in), dpi=120)


def _save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        plt.close(fig)
        raise HwmapError(f"--out {path}: expected a .png or .svg file name")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def share_bars(cost, path: str | Path, *, title: str | None = None) -> Path:
    """Grouped bars per op group: share of MACs, of cycles and of energy (the paper's contrast)."""
    shares = {g: s for g, s in cost.shares_by("op-group").items() if any(s.values())}
    groups = list(shares)
    fig, ax = _figure()
    x = np.arange(len(groups))
    for i, (metric, label) in enumerate((("macs", "MACs"), ("cycles", "cycles"), ("energy", "energy"))):
        values = [100 * shares[g][metric] for g in groups]
        ax.bar(x + (i - 1) * 0.27, values, width=0.27, label=label)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set_ylabel("share of the model's total (%)")
    ax.set_title(title or f"{cost.model} on {cost.accelerator}: MACs vs cycles vs energy by op group")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def layer_profile(cost, path: str | Path, *, title: str | None = None) -> Path:
    """Cycles and energy of every costed layer in execution order, coloured by op group."""
    keep = np.flatnonzero(cost.cycles > 0)
    groups = [cost.layers.op_classes[i].split(".")[0] for i in keep]
    colours = [GROUP_COLOURS.get(g, "#000000") for g in groups]
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 6), dpi=120, sharex=True)
    axes[0].bar(np.arange(len(keep)), cost.cycles[keep], color=colours, width=1.0)
    axes[0].set_ylabel("cycles")
    axes[1].bar(np.arange(len(keep)), cost.layer_energy_pj[keep] / 1e6, color=colours, width=1.0)
    axes[1].set_ylabel("energy (uJ)")
    axes[1].set_xlabel("layer (execution order)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=GROUP_COLOURS[g]) for g in dict.fromkeys(groups)]
    axes[0].legend(handles, list(dict.fromkeys(groups)), ncol=4, fontsize=8)
    axes[0].set_title(title or f"{cost.model} on {cost.accelerator}: per-layer cycles and energy")
    return _save(fig, path)


def frontier(points: list[dict], path: str | Path, *, selected: list[str] = (), title: str = "",
             accuracy_label: str = "accuracy (%)") -> Path:
    """Energy vs accuracy of paths (dicts with name, energy_mj, accuracy); the selected ones marked."""
    known = [p for p in points if p.get("accuracy") is not None]
    if not known:
        raise HwmapError("no path has an accuracy to plot; give accuracies or measure them with `hwmap evaluate`")
    fig, ax = _figure()
    energy = np.array([p["energy_mj"] for p in known])
    accuracy = np.array([p["accuracy"] for p in known])
    ax.scatter(energy, accuracy, color="#999999", label="paths", zorder=2)
    order = np.argsort(energy)
    best = np.maximum.accumulate(accuracy[order])
    ax.step(energy[order], best, where="post", color="#1f77b4", alpha=0.6, label="frontier")
    chosen = [p for p in known if p["name"] in set(selected)]
    if chosen:
        ax.scatter([p["energy_mj"] for p in chosen], [p["accuracy"] for p in chosen], s=90, facecolors="none",
                   edgecolors="#d62728", linewidths=2, label="selected", zorder=3)
    for p in chosen or known:
        ax.annotate(p["name"], (p["energy_mj"], p["accuracy"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xlabel("energy per inference (mJ)")
    ax.set_ylabel(accuracy_label)
    ax.set_title(title or "energy / accuracy of the execution paths")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def pareto_scatter(x: np.ndarray, y: np.ndarray, front: np.ndarray, path: str | Path, *, x_label: str,
                   y_label: str, colour: np.ndarray | None = None, colour_label: str = "", title: str = "") -> Path:
    """All design points, the Pareto front highlighted (front: indices into x/y)."""
    fig, ax = _figure()
    scatter = ax.scatter(x, y, c=colour if colour is not None else "#999999", s=10, alpha=0.6,
                         cmap="viridis" if colour is not None else None)
    if colour is not None:
        fig.colorbar(scatter, ax=ax, label=colour_label)
    order = front[np.argsort(x[front])]
    ax.plot(x[order], y[order], "o-", color="#d62728", markersize=5, label=f"Pareto front ({len(front)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title or "design points")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)
