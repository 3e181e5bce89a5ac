"""Switching between the published Once-For-All ResNet-50 subnets: energy and latency on the accelerator
templates, savings against always running the 4.1 G subnet next to the top-1 drop, compared with the paper's
53% energy saved at 3.3% top-1 drop (Sreedhar et al., ISPASS 2024, ResNet-50 with OFA subnets).

Subnet configurations are hwmap's reconstructions (published MACs and params matched within 0.12%); top-1 values
are the published ones.

    python experiments/ofa_switching.py [--tiny]
"""

from __future__ import annotations

from _common import arguments, done, new_figure, save_figure, write_csv

import hwmap

TEMPLATES = ["systolic16x16", "systolic32x32", "systolic128x128", "magnet16pe_v16"]
PAPER = {"energy_saved_pct": 53.0, "top1_drop": 3.3}


def main() -> None:
    args = arguments(__doc__)
    paths = hwmap.generate_paths("ofa-resnet50-published")
    rows = []
    for template in TEMPLATES[:1] if args.tiny else TEMPLATES:
        costed = hwmap.cost_paths(paths, template)
        full = max(costed, key=lambda c: c.energy_mj)
        for c in costed:
            saved = 100 * (1 - c.energy_mj / full.energy_mj)
            rows.append({"template": template, "path": c.name, "gmacs": round(c.macs / 1e9, 3),
                         "energy_mj": round(c.energy_mj, 4), "latency_ms": round(c.latency_ms, 4),
                         "top1": c.accuracy.value, "energy_saved_pct": round(saved, 2),
                         "top1_drop": round(full.accuracy.value - c.accuracy.value, 2)})
        closest = min((r for r in rows if r["template"] == template),
                      key=lambda r: abs(r["energy_saved_pct"] - PAPER["energy_saved_pct"]))
        print(f"{template}: switching from {full.name} to {closest['path']} saves {closest['energy_saved_pct']:.1f}% "
              f"energy at {closest['top1_drop']:.1f} points top-1 (paper: {PAPER['energy_saved_pct']:.0f}% at "
              f"{PAPER['top1_drop']} points)")
        lowest = min(c.energy_mj for c in costed) / full.energy_mj  # budgets from the cheapest subnet up
        budgets = [lowest + (1 - lowest) * i / 7 for i in range(8)]
        selection = hwmap.select_paths(costed, budgets=budgets, max_paths=3)
        print(f"  selection over 8 budgets {100 * lowest:.0f}..100% (max 3 paths): keeps "
              f"{', '.join(selection.chosen_names)}; "
              f"expected energy saved {selection.energy_saved_pct:.1f}% at {selection.accuracy_drop:.2f} points")
    csv_path = write_csv(args.out_dir / "ofa_switching.csv", rows)
    png_path = plot(rows, args.out_dir / "ofa_switching.png")
    done(args, csv_path, png_path)


def plot(rows, path):
    fig, ax = new_figure(width_in=8, height_in=4.5)
    for template in dict.fromkeys(r["template"] for r in rows):
        subset = sorted((r for r in rows if r["template"] == template), key=lambda r: r["energy_saved_pct"])
        ax.plot([r["energy_saved_pct"] for r in subset], [r["top1_drop"] for r in subset], "o-", label=template)
    ax.scatter([PAPER["energy_saved_pct"]], [PAPER["top1_drop"]], marker="*", s=200, color="black",
               label="paper (ISPASS 2024)", zorder=3)
    ax.set_xlabel("energy saved vs the 4.1 G subnet (%)")
    ax.set_ylabel("top-1 drop (points)")
    ax.set_title("OFA ResNet-50 subnet switching: energy saved vs accuracy lost")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
