"""The traffic-vs-buffer figure of hwmap.cost.bounds and hwmap.cost.hierarchy_bounds: one log-log panel per
memory level."""

from __future__ import annotations

from pathlib import Path

from hwmap.report.plots import _pyplot, log_axis_labels, save_figure

KIB = 1024.0
MB = 1e6


def traffic_curves(bounds, path: str | Path, *, title: str | None = None) -> Path:
    """Whole-network least traffic from the level above against each level's capacity (steps), the compulsory
    traffic (dashed), the template's capacity (dotted) and the mapper's traffic there (a dot). Capacities in KiB,
    or in bytes for a level under 8 KiB (a per-PE scratchpad)."""
    levels = bounds.levels
    fig, axes = _pyplot().subplots(1, len(levels), figsize=(4.2 * len(levels), 4.0), dpi=120, squeeze=False)
    axes = list(axes[0])
    for ax, lb in zip(axes, levels, strict=True):
        net = lb.network
        unit, unit_name = (KIB, "KiB") if max(lb.template_capacity_bytes, net.min_capacity_bytes) >= 8 * KIB \
            else (1.0, "B")
        x = list(net.capacity_bytes / unit)
        y = list(net.traffic_bytes / MB)
        template = lb.template_capacity_bytes / unit
        right = max(x[-1] * 4, template * 4)
        ax.step(x + [right], y + [y[-1]], where="post", color="tab:blue", lw=1.6, label="least traffic (bound)")
        ax.axhline(net.compulsory_bytes / MB, color="0.4", ls="--", lw=1.0, label="compulsory traffic")
        ax.axvline(template, color="tab:red", ls=":", lw=1.0,
                   label=f"template capacity: {template:,.0f} {unit_name}")
        ax.plot([template], [lb.mapped_bytes / MB], "o", color="tab:red",
                label=f"hwmap map: {lb.mapped_bytes / MB:,.1f} MB")
        reach = net.compulsory_capacity_bytes
        if reach is not None:
            ax.plot([reach / unit], [net.compulsory_bytes / MB], "s", color="0.2", ms=5,
                    label=f"compulsory from {reach / unit:,.0f} {unit_name}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x[0] * 0.8, right)
        ax.set_xlabel(f"all DRAM-facing buffers together ({unit_name})" if lb.level == "all"
                      else f"{lb.level} capacity ({unit_name})")
        ax.set_ylabel(f"traffic from {lb.above} (MB)")
        ax.grid(alpha=0.3, which="both")
        log_axis_labels(ax)
        ax.legend(fontsize=7, loc="best")
    sep = "\n" if len(levels) == 1 else " "  # one narrow panel: the title on two lines
    fig.suptitle(title or f"{bounds.model} on {bounds.accelerator}:{sep}least traffic vs buffer capacity, "
                 "conv/GEMM layers",
                 fontsize=10)
    return save_figure(fig, path)
