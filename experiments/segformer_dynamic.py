"""No-retraining execution paths of SegFormer-B2 (blocks skipped, decoder inputs dropped, lower resolution) and
the B0..B5 switch: energy on two templates, the energy/accuracy frontier, and what selection keeps.

Accuracy: published ADE20K mIoU where the path IS a published model (B0..B5 at 512x512); every other path is
marked unknown (measure it with `hwmap evaluate` on ADE20K with your weights) rather than invented, so
selection runs over the paths with a known accuracy and the others are reported by energy only.

    python experiments/segformer_dynamic.py [--tiny]
    python experiments/segformer_dynamic.py --replot-from experiments/results/segformer_dynamic.csv
"""

from __future__ import annotations

from _common import arguments, done, log_axis_labels, new_figure, read_rows, replot_option, save_figure, write_csv

import hwmap

TEMPLATES = ["systolic16x16", "magnet16pe_v16"]


def main() -> None:
    args = arguments(__doc__, add_options=replot_option)
    if args.replot_from is not None:
        print(f"wrote {plot(read_rows(args.replot_from), args.replot_from.with_suffix('.png'))}")
        return
    variants = ["segformer-b0", "segformer-b1"] if args.tiny else [f"segformer-b{i}" for i in (0, 1, 3, 4, 5)]
    paths = hwmap.generate_paths("segformer-b2", skip_last=1 if args.tiny else 2, drop_decoder=not args.tiny,
                                 resolutions=(384,) if args.tiny else (384, 448), variants=variants)
    rows = []
    for template in TEMPLATES:
        costed = hwmap.cost_paths(paths, template)
        full = next(c for c in costed if c.name == "full")
        for c in costed:
            rows.append({"template": template, "path": c.name, "gmacs": round(c.macs / 1e9, 3),
                         "energy_mj": round(c.energy_mj, 3), "latency_ms": round(c.latency_ms, 3),
                         "energy_saved_pct": round(100 * (1 - c.energy_mj / full.energy_mj), 2),
                         "weight_mb": round(c.weight_mb, 3),
                         "miou": c.accuracy.value if c.accuracy else "",
                         "accuracy_source": c.accuracy.source if c.accuracy else "unknown"})
        _report_template(template, costed, full)
    csv_path = write_csv(args.out_dir / "segformer_dynamic.csv", rows)
    png_path = plot(rows, args.out_dir / "segformer_dynamic.png")
    done(args, csv_path, png_path)


def _report_template(template, costed, full) -> None:
    pruned = sorted((c for c in costed if c.accuracy is None), key=lambda c: c.energy_mj)
    print(f"{template}: full segformer-b2 {full.energy_mj:.1f} mJ, {full.latency_ms:.1f} ms")
    for c in pruned[:3] + pruned[-2:]:
        print(f"  {c.name:40s} {c.energy_mj:9.1f} mJ  saves {100 * (1 - c.energy_mj / full.energy_mj):5.1f}%  "
              "accuracy unknown")
    known = [c for c in costed if c.accuracy is not None]
    lowest = min(c.energy_mj for c in known) / max(c.energy_mj for c in known)
    budgets = [lowest + (1 - lowest) * i / 9 for i in range(10)]
    selection = hwmap.select_paths(costed, budgets=budgets, max_paths=3, drop_unknown=True)
    print(f"  selection (paths with published mIoU, 10 budgets, max 3): {', '.join(selection.chosen_names)}; "
          f"expected mIoU {selection.expected_accuracy:.2f} vs {selection.reference.accuracy:.1f} for "
          f"{selection.reference.name}, energy saved {selection.energy_saved_pct:.1f}%")


def plot(rows, path):
    templates = list(dict.fromkeys(r["template"] for r in rows))
    fig, axes = new_figure(ncols=len(templates), width_in=6 * len(templates), height_in=4.5)
    for ax, template in zip(axes, templates, strict=True):
        subset = [r for r in rows if r["template"] == template]
        full = next(r for r in subset if r["path"] == "full")
        unknown = [r for r in subset if r["miou"] == ""]
        known = sorted((r for r in subset if r["miou"] != ""), key=lambda r: r["energy_mj"])
        ax.plot([r["energy_mj"] for r in known], [r["miou"] for r in known], "o-", label="published models")
        for r in known:
            ax.annotate(r["path"].replace("segformer-", ""), (r["energy_mj"], r["miou"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        variants = [r["path"].replace("segformer-", "") for r in unknown if r["path"].startswith("segformer-")]
        unknown_label = (f"accuracy unknown ({len(unknown)}): no-retraining B2 paths"
                         + (f", {', '.join(variants)}" if variants else ""))
        for index, r in enumerate(unknown):
            ax.axvline(r["energy_mj"], color="#bbbbbb", linewidth=0.6, zorder=0,
                       label=unknown_label if index == 0 else None)
        ax.axvline(full["energy_mj"], color="#d62728", linewidth=1, label="full B2")
        ax.set_xscale("log")
        log_axis_labels(ax)
        ax.set_xlabel("energy per inference (mJ, log scale)")
        ax.set_ylabel("ADE20K mIoU (%)")
        ax.set_title(f"SegFormer-B2 paths and the B0..B5 switch on {template}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
