"""Where the MACs of vision models go: conv / linear / attention / other shares, under both conventions
(linear layers as linear, and token-wise linear layers as 1x1 convs with attention projections as attention).

    python experiments/flops_breakdown.py [--tiny]
"""

from __future__ import annotations

from _common import arguments, done, new_figure, save_figure, write_csv

import hwmap

MODELS = ["segformer-b0", "segformer-b1", "segformer-b2", "segformer-b3", "segformer-b4", "segformer-b5",
          "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224", "vit_base_patch16_224",
          "swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224", "resnet50"]
TINY = ["segformer-b0", "deit_tiny_patch16_224", "resnet18"]
GROUPS = ("conv", "linear", "attention")


def main() -> None:
    args = arguments(__doc__)
    rows = []
    for model in TINY if args.tiny else MODELS:
        graph = hwmap.extract_graph(model)
        for linear_as_conv in (False, True):
            shares = hwmap.flops(graph, linear_as_conv=linear_as_conv).group_shares
            row = {"model": model, "convention": "linear-as-conv" if linear_as_conv else "linear-as-linear",
                   "gmacs": round(graph.total_macs / 1e9, 3)}
            row.update({g: round(shares.get(g, 0.0), 4) for g in GROUPS})
            row["other"] = round(max(0.0, 1 - sum(row[g] for g in GROUPS)), 4)
            rows.append(row)
            print(f"{model:32s} {row['convention']:17s} {row['gmacs']:8.2f} GMACs  " +
                  "  ".join(f"{g} {100 * row[g]:5.1f}%" for g in (*GROUPS, "other")))
    csv_path = write_csv(args.out_dir / "flops_breakdown.csv", rows)
    png_path = plot(rows, args.out_dir / "flops_breakdown.png")
    done(args, csv_path, png_path)


def plot(rows: list[dict], path):
    """Stacked share bars per model, one panel per convention; the legend sits below the panels, off the bars."""
    fig, axes = new_figure(ncols=2, width_in=12, height_in=0.45 * len(rows) / 2 + 2.2, sharey=True,
                           layout="constrained")
    colours = {"conv": "#1f77b4", "linear": "#ff7f0e", "attention": "#d62728", "other": "#7f7f7f"}
    for ax, convention in zip(axes, ("linear-as-linear", "linear-as-conv"), strict=True):
        subset = [r for r in rows if r["convention"] == convention]
        left = [0.0] * len(subset)
        for group, colour in colours.items():
            values = [100 * r[group] for r in subset]
            ax.barh([r["model"] for r in subset], values, left=left, color=colour, label=group)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_title(convention)
        ax.set_xlabel("share of MACs (%)")
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(colours), frameon=False)
    fig.suptitle("Where the MACs go (batch 1, default input of each model)")
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
