"""The traffic-vs-buffer figure of hwmap.cost.bounds: one log-log panel per memory level."""

from __future__ import annotations

from pathlib import Path

from hwmap.report.plots import _pyplot, log_axis_labels, save_figure

KIB = 1024.0
MB = 1e6


def traffic_curves(bounds, path: str | Path, *, title: str | None = None) -> Path:
    """Whole-network least DRAM traffic against each level's capacity (steps), the compulsory traffic (dashed),
    the template's capacity (dotted) and the mapper's traffic there (a dot)."""
    levels = bounds.levels
    fig, axes = _pyplot().subplots(1, len(levels), figsize=(4.2 * len(levels), 4.0), dpi=120, squeeze=False)
    axes = list(axes[0])
    for ax, lb in zip(axes, levels, strict=True):
        net = lb.network
        x = list(net.capacity_bytes / KIB)
        y = list(net.traffic_bytes / MB)
        right = max(x[-1] * 4, lb.template_capacity_bytes / KIB * 4)
        ax.step(x + [right], y + [y[-1]], where="post", color="tab:blue", lw=1.6, label="least traffic (bound)")
        ax.axhline(net.compulsory_bytes / MB, color="0.4", ls="--", lw=1.0, label="compulsory traffic")
        ax.axvline(lb.template_capacity_bytes / KIB, color="tab:red", ls=":", lw=1.0, label="template capacity")
        ax.plot([lb.template_capacity_bytes / KIB], [lb.mapped_bytes / MB], "o", color="tab:red",
                label=f"hwmap map: {lb.mapped_bytes / MB:,.1f} MB")
        reach = net.compulsory_capacity_bytes
        if reach is not None:
            ax.plot([reach / KIB], [net.compulsory_bytes / MB], "s", color="0.2", ms=5,
                    label=f"compulsory from {reach / KIB:,.0f} KiB")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x[0] * 0.8, right)
        ax.set_xlabel("all DRAM-facing buffers together (KiB)" if lb.level == "all" else f"{lb.level} capacity (KiB)")
        ax.set_ylabel("DRAM traffic, conv/GEMM layers (MB)")
        ax.grid(alpha=0.3, which="both")
        log_axis_labels(ax)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title or f"{bounds.model} on {bounds.accelerator}: least DRAM traffic vs buffer capacity",
                 fontsize=10)
    return save_figure(fig, path)
