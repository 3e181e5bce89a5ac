"""How much buffer is enough? The least DRAM traffic of ResNet-50's and SegFormer-B2's conv/GEMM layers against
on-chip buffer capacity (hwmap.cost.bounds: every tiling the mapper searches, per layer, summed over the network),
on systolic16x16 (its three DRAM-facing buffers scaled together, level 'all') and magnet16pe_v16 (one shared
global buffer, level 'global'), with each template's own capacity and the mapper's traffic there.

    python experiments/buffer_bounds.py [--tiny]

Writes results/buffer_bounds.csv (every step of the whole-network curves), results/buffer_bounds_summary.csv
(per model and template: traffic at the template, compulsory traffic, the capacity where the curve comes within
2x, 1.25x and 1.0x of it) and results/buffer_bounds.png. --tiny: resnet18 and mobilenetv3_small_050 (CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from hwmap.api import bounds  # noqa: E402

CASES = (("systolic16x16", "all"), ("magnet16pe_v16", "global"))
MODELS = ("resnet50", "segformer-b2")
TINY_MODELS = ("resnet18", "mobilenetv3_small_050")
WITHIN = (2.0, 1.25, 1.0)


def capacity_within(curve, factor: float) -> float | None:
    """The smallest capacity whose least traffic is at most factor x the compulsory traffic."""
    import numpy as np

    hit = np.flatnonzero(curve.traffic_bytes <= factor * curve.compulsory_bytes)
    return float(curve.capacity_bytes[hit[0]]) if len(hit) else None


def plot(curves: dict, path: Path) -> Path:
    fig, axes = _common.new_figure(ncols=len(curves), width_in=6.0 * len(curves), height_in=4.6)
    colours = {"systolic16x16": "tab:blue", "magnet16pe_v16": "tab:orange"}
    for ax, (model, by_accel) in zip(axes, curves.items(), strict=True):
        for accel, lb in by_accel.items():
            net, colour = lb.network, colours[accel]
            x = [*(net.capacity_bytes / 1024), net.capacity_bytes[-1] / 1024 * 8]
            y = [*(net.traffic_bytes / 1e6), net.traffic_bytes[-1] / 1e6]
            label = f"{accel} ({'3 buffers scaled together' if lb.level == 'all' else 'shared buffer'})"
            ax.step(x, y, where="post", color=colour, lw=1.5, label=label)
            ax.plot([lb.template_capacity_bytes / 1024], [lb.mapped_bytes / 1e6], "o", color=colour, ms=7,
                    markeredgecolor="black", label=f"{accel} as shipped: {lb.template_capacity_bytes / 1024:.0f} KiB, "
                                                   f"{lb.mapped_bytes / 1e6:,.1f} MB")
        compulsory = next(iter(by_accel.values())).network.compulsory_bytes / 1e6
        ax.axhline(compulsory, color="0.3", ls="--", lw=1.0, label=f"compulsory: {compulsory:,.1f} MB")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("on-chip buffer capacity (KiB; double-buffered: both halves)")
        ax.set_ylabel("least DRAM traffic, conv/GEMM layers (MB)")
        ax.set_title(f"{model}, batch 1")
        ax.grid(alpha=0.3, which="both")
        from hwmap.report.plots import log_axis_labels

        log_axis_labels(ax)
        ax.legend(fontsize=7.5, loc="upper right")
    return _common.save_figure(fig, path)


def main() -> None:
    args = _common.arguments(__doc__.splitlines()[0])
    models = TINY_MODELS if args.tiny else MODELS
    suffix = "_tiny" if args.tiny else ""
    curves: dict = {}
    steps, summary = [], []
    for model in models:
        curves[model] = {}
        for accel, level in CASES:
            lb = bounds(model, accel, level=level).levels[0]
            curves[model][accel] = lb
            net = lb.network
            for x, y in net.points():
                steps.append({"model": model, "accelerator": accel, "level": level, "capacity_bytes": x,
                              "traffic_bytes": y})
            row = {"model": model, "accelerator": accel, "level": level,
                   "template_capacity_bytes": lb.template_capacity_bytes, "mapped_bytes": lb.mapped_bytes,
                   "bound_at_template_bytes": net.at(lb.template_capacity_bytes),
                   "compulsory_bytes": net.compulsory_bytes, "min_capacity_bytes": net.min_capacity_bytes,
                   "traffic_at_min_capacity_bytes": float(net.traffic_bytes[0]),
                   "layers": len(lb.layers),
                   "layers_mapper_above_bound": sum(lc.curve.at(lb.template_capacity_bytes) < lc.mapped_bytes
                                                    for lc in lb.layers)}
            for factor in WITHIN:
                row[f"capacity_within_{factor:g}x_bytes"] = capacity_within(net, factor)
            summary.append(row)
            print(f"{model} on {accel} ({level}): at {lb.template_capacity_bytes / 1024:.0f} KiB "
                  f"{lb.mapped_bytes / 1e6:,.1f} MB mapped, bound {net.at(lb.template_capacity_bytes) / 1e6:,.1f} MB; "
                  f"compulsory {net.compulsory_bytes / 1e6:,.1f} MB; within 2x from "
                  f"{(row['capacity_within_2x_bytes'] or float('nan')) / 1024:,.0f} KiB, 1.25x from "
                  f"{(row['capacity_within_1.25x_bytes'] or float('nan')) / 1024:,.0f} KiB, compulsory from "
                  f"{(row['capacity_within_1x_bytes'] or float('nan')) / 1024:,.0f} KiB")
    paths = (_common.write_csv(args.out_dir / f"buffer_bounds{suffix}.csv", steps),
             _common.write_csv(args.out_dir / f"buffer_bounds{suffix}_summary.csv", summary),
             plot(curves, args.out_dir / f"buffer_bounds{suffix}.png"))
    _common.done(args, *paths)


if __name__ == "__main__":
    main()
