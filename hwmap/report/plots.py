"""Figures (PNG or SVG by the file suffix): share bars, per-layer profiles, energy/accuracy frontiers, Pareto fronts.

matplotlib is imported inside each function (Agg backend, no display needed); files are written atomically.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwmap.errors import HwmapError, ParameterError
from hwmap.fileio import atomic_write_bytes

FORMATS = {".png": "png", ".svg": "svg"}
GROUP_COLOURS = {
    "conv": "#1f77b4", "linear": "#ff7f0e", "attention": "#d62728", "matmul": "#9467bd",
    "normalization": "#8c564b", "activation": "#e377c2", "elementwise": "#7f7f7f", "pooling_resize": "#bcbd22",
    "data_movement": "#17becf", "view": "#dddddd", "other": "#000000",
}


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(width_in: float = 8.0, height_in: float = 4.5):
    return _pyplot().subplots(figsize=(width_in, height_in), dpi=120)


def log_axis_labels(ax) -> None:
    """Log axes labelled in plain numbers (20, 50, 100), as many per decade as the axis has room for (1-2-3-5 on
    an axis spanning up to 1.5 decades,
    1-1.5-2-3-4-5-6-8 up to 0.7, 1-2-5 up to 3, powers of ten beyond), minor ticks unlabelled: no
    overlapping 3x10^1-style labels. Call after the data are plotted."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        decades = math.log10(max(limits) / min(limits))
        subs = (1, 1.5, 2, 3, 4, 5, 6, 8) if decades <= 0.7 else (1, 2, 3, 5) if decades <= 1.5 else \
            (1, 2, 5) if decades <= 3 else (1,)
        axis.set_major_locator(LogLocator(base=10, subs=[float(d) for d in subs]))
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def _save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        plt.close(fig)
        raise ParameterError("out", f"{path}: expected a .png or .svg file name")
    buffer = io.BytesIO()
    if fig.get_layout_engine() is None:
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
    keep = np.flatnonzero(cost.layers.cycles > 0)
    groups = [cost.layers.op_classes[i].split(".")[0] for i in keep]
    colours = [GROUP_COLOURS.get(g, "#000000") for g in groups]
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), dpi=120, sharex=True)
    axes[0].bar(np.arange(len(keep)), cost.layers.cycles[keep], color=colours, width=1.0)
    axes[0].set_ylabel("cycles")
    axes[1].bar(np.arange(len(keep)), cost.layers.energy_pj[keep] / 1e6, color=colours, width=1.0)
    axes[1].set_ylabel("energy (uJ)")
    axes[1].set_xlabel("layer (execution order)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=GROUP_COLOURS[g]) for g in dict.fromkeys(groups)]
    axes[0].legend(handles, list(dict.fromkeys(groups)), ncol=4, fontsize=8)
    axes[0].set_title(title or f"{cost.model} on {cost.accelerator}: per-layer cycles and energy")
    return _save(fig, path)


# Axis labels for result columns and accuracy metrics: the quantity's name and its unit.
COLUMN_LABELS = {
    "energy_mj": "energy per inference (mJ)", "latency_ms": "latency per inference (ms)",
    "area_mm2": "area proxy (mm²)", "cycles": "cycles per inference", "stall_cycles": "stall cycles",
    "average_utilisation": "average PE utilisation (fraction)", "dram_mb": "DRAM traffic per inference (MB)",
    "peak_macs_per_cycle": "peak MACs per cycle", "expected_accuracy": "expected accuracy (%)",
    "full_energy_mj": "full-model energy per inference (mJ)", "full_latency_ms": "full-model latency (ms)",
}
METRIC_LABELS = {"top1": "top-1 accuracy (%)", "miou": "mIoU (%)"}


def column_label(column: str) -> str:
    """'energy_mj' -> 'energy per inference (mJ)'; unknown columns get their unit suffix spelled out."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if column.startswith("energy_") and column.endswith("_mj"):
        return f"{column.removeprefix('energy_').removesuffix('_mj').replace('_', ' ')} energy (mJ)"
    for suffix, unit in (("_mj", "mJ"), ("_ms", "ms"), ("_mm2", "mm²"), ("_mb", "MB"), ("_s", "s")):
        if column.endswith(suffix):
            return f"{column.removesuffix(suffix).replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def accuracy_axis_label(metrics) -> str:
    """The accuracy axis's name from the data's metric field(s): 'top-1 accuracy (%)', 'mIoU (%)'."""
    named = sorted({m for m in metrics if m})
    if len(named) == 1:
        return METRIC_LABELS.get(named[0].lower(), f"{named[0]} (%)")
    if len(named) > 1:
        return f"accuracy (%): {' and '.join(METRIC_LABELS.get(m.lower(), m).removesuffix(' (%)') for m in named)}"
    return "accuracy (%)"


def frontier(points: list[dict], path: str | Path, *, selected: list[str] = (), title: str = "",
             accuracy_label: str | None = None) -> Path:
    """Energy vs accuracy of paths (dicts with name, energy_mj, accuracy or None, optionally metric); the
    selected ones marked. Paths without an accuracy are drawn on a strip below the axes, labelled "accuracy
    unknown", at their energy. The accuracy axis is named after the points' metric (top-1, mIoU)."""
    known = [p for p in points if p.get("accuracy") is not None]
    unknown = [p for p in points if p.get("accuracy") is None]
    if not points:
        raise HwmapError("no paths to plot")
    label = accuracy_label or accuracy_axis_label(p.get("metric") for p in known)
    plt = _pyplot()
    ratios = [5, 1] if unknown else [1]
    fig, axes = plt.subplots(len(ratios), 1, figsize=(8, 5.2 if unknown else 4.5), dpi=120, sharex=True,
                             gridspec_kw={"height_ratios": ratios}, squeeze=False)
    ax = axes[0][0]
    chosen_names = set(selected)
    if known:
        energy = np.array([p["energy_mj"] for p in known])
        accuracy = np.array([p["accuracy"] for p in known])
        ax.scatter(energy, accuracy, color="#999999", label="paths", zorder=2)
        order = np.argsort(energy)
        best = np.maximum.accumulate(accuracy[order])
        ax.step(energy[order], best, where="post", color="#1f77b4", alpha=0.6, label="best accuracy within energy")
    else:
        ax.text(0.5, 0.5, "no path has a known accuracy", transform=ax.transAxes, ha="center", color="#666666")
        ax.set_yticks([])  # no scale to show
    chosen = [p for p in known if p["name"] in chosen_names]
    if chosen:
        ax.scatter([p["energy_mj"] for p in chosen], [p["accuracy"] for p in chosen], s=90, facecolors="none",
                   edgecolors="#d62728", linewidths=2, label="selected", zorder=3)
    for p in chosen or known:
        ax.annotate(p["name"], (p["energy_mj"], p["accuracy"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_ylabel(label)
    ax.set_title(title or "energy / accuracy of the execution paths")
    ax.grid(alpha=0.3)
    if known:
        ax.legend(fontsize=8)
    bottom = ax
    if unknown:
        strip = axes[1][0]
        strip.scatter([p["energy_mj"] for p in unknown], [0] * len(unknown), marker="x", color="#7f7f7f",
                      label=f"accuracy unknown ({len(unknown)})")
        for i, p in enumerate(unknown):
            strip.annotate(p["name"], (p["energy_mj"], 0), fontsize=7, xytext=(4, 4 if i % 2 == 0 else -10),
                           textcoords="offset points")
        strip.set_yticks([0], ["accuracy\nunknown"])
        strip.set_ylim(-1, 1)
        strip.grid(axis="x", alpha=0.3)
        bottom = strip
    bottom.set_xlabel("energy per inference (mJ)")
    return _save(fig, path)


@dataclass(frozen=True)
class ParetoPanel:
    """One model's design points and its front (row positions in the model's rows, ascending)."""

    model: str
    points: int
    front: tuple[int, ...]


def pareto_panels(frame, front, path: str | Path, *, x: str, y: str, colour: str | None = None,
                  title: str = "") -> tuple[ParetoPanel, ...]:
    """Design points of a sweep table (pandas), one panel per model, each with its own Pareto front over x and y
    (front: the table's front rows, computed per model by the caller -- hwmap.api.pareto); axes named with units."""
    plt = _pyplot()
    models = list(dict.fromkeys(frame["model"])) if "model" in frame.columns else [""]
    columns = min(len(models), 3)
    rows = -(-len(models) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 5.2 * rows), dpi=120, squeeze=False,
                             layout="constrained")
    panels = []
    for index, model in enumerate(models):
        ax = axes[index // columns][index % columns]
        part = frame[frame["model"] == model] if model else frame
        on_front = part.index.isin(front.index)
        xs, ys = part[x].to_numpy(float), part[y].to_numpy(float)
        shade = part[colour].to_numpy(float) if colour else None
        scatter = ax.scatter(xs, ys, c=shade if shade is not None else "#999999", s=10, alpha=0.6,
                             cmap="viridis" if shade is not None else None)
        if shade is not None:
            fig.colorbar(scatter, ax=ax, label=column_label(colour))
        picked = np.flatnonzero(on_front)
        order = picked[np.argsort(xs[picked])]
        positions = len({(xs[i], ys[i]) for i in picked})
        ties = f" at {positions} positions: ties" if positions < len(picked) else ""
        ax.plot(xs[order], ys[order], "o-", color="#d62728", markersize=5,
                label=f"Pareto front of the two plotted metrics ({len(picked)} point{'s' * (len(picked) != 1)}{ties})")
        if (xs > 0).all() and (ys > 0).all():
            ax.set_xscale("log")
            ax.set_yscale("log")
            log_axis_labels(ax)
        ax.set_xlabel(column_label(x))
        ax.set_ylabel(column_label(y))
        ax.set_title(f"{model + ': ' if model else ''}{len(part)} design points")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below the axes: no data hidden
        panels.append(ParetoPanel(model, len(part), tuple(int(i) for i in picked)))
    for index in range(len(models), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return tuple(panels)
