"""Where MAC shares mislead: shares of MACs, cycles and energy per op group on systolic16x16, systolic128x128 and
a MAGNet-like template, next to the GPU model's time shares (h100_sxm, uncalibrated priors unless a calibration
file sits beside the template).

    python experiments/hw_vs_flops.py [--tiny]
"""

from __future__ import annotations

from _common import arguments, done, new_figure, save_figure, write_csv

import hwmap

MODELS = ["segformer-b0", "segformer-b2", "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
          "vit_base_patch16_224", "swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224", "resnet50"]
TINY = ["segformer-b0", "deit_tiny_patch16_224"]
TEMPLATES = ["systolic16x16", "systolic128x128", "magnet16pe_v16", "h100_sxm"]
GROUPS = ("conv", "linear", "attention", "normalization", "activation", "elementwise", "pooling_resize",
          "data_movement")


def main() -> None:
    args = arguments(__doc__)
    rows = []
    for model in TINY if args.tiny else MODELS:
        graph = hwmap.extract_graph(model)
        for template in TEMPLATES:
            shares = hwmap.estimate(graph, template).shares_by("op-group")
            for metric in ("macs", "cycles", "energy"):
                if template == "h100_sxm" and metric == "cycles":
                    metric_name = "time"
                else:
                    metric_name = metric
                row = {"model": model, "template": template, "metric": metric_name}
                row.update({g: round(shares.get(g, {}).get(metric, 0.0), 4) for g in GROUPS})
                rows.append(row)
        summary = [r for r in rows if r["model"] == model]
        attention = {(r["template"], r["metric"]): r["attention"] for r in summary}
        print(f"{model:32s} attention share: MACs {100 * attention[('systolic16x16', 'macs')]:5.1f}%  " +
              "  ".join(f"{t} {'time' if t == 'h100_sxm' else 'cycles'} "
                        f"{100 * attention[(t, 'time' if t == 'h100_sxm' else 'cycles')]:5.1f}%" for t in TEMPLATES))
    csv_path = write_csv(args.out_dir / "hw_vs_flops.csv", rows)
    png_path = plot(rows, args.out_dir / "hw_vs_flops.png", model="segformer-b0" if args.tiny else "segformer-b2")
    done(args, csv_path, png_path)


def plot(rows, path, *, model: str):
    from hwmap.report.plots import GROUP_COLOURS

    subset = [r for r in rows if r["model"] == model and not (r["metric"] == "macs" and r["template"] != TEMPLATES[0])]
    labels = ["MACs" if r["metric"] == "macs" else f"{r['template']}\n{r['metric']}" for r in subset]
    fig, ax = new_figure(width_in=10, height_in=4.8)
    bottom = [0.0] * len(subset)
    for group in GROUPS:
        values = [100 * r[group] for r in subset]
        ax.bar(labels, values, bottom=bottom, color=GROUP_COLOURS[group], label=group)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel("share (%)")
    ax.set_title(f"{model}: MAC shares vs cycle/time and energy shares on each template")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.tick_params(axis="x", labelsize=7)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
