"""MAGNet-like vector-PE templates with vector widths 8, 16, 32 and 64 over SegFormer paths: the energy/accuracy
trade-off per width. The paper found that wider vectors trade better (switching to a cheaper path saves a larger
share of the energy); under hwmap's model they do not: wider vectors cut B2's energy more than B0's, so the share
saved by switching shrinks with the width (the README's Results give the numbers).

Width 64 is magnet16pe_v32 with lanes and vector width doubled and its per-PE buffers scaled like the shipped
family (weight and accumulation buffers with the lanes, the input buffer with the width, the global buffer with
the width).

    python experiments/vector_width.py [--tiny]
    python experiments/vector_width.py --replot-from experiments/results/vector_width.csv   # the figure only
"""

from __future__ import annotations

from _common import arguments, done, new_figure, read_rows, replot_option, save_figure, write_csv

import hwmap


def templates(tiny: bool):
    shipped = [hwmap.load_accelerator(f"magnet16pe_v{w}") for w in ((8, 16) if tiny else (8, 16, 32))]
    if tiny:
        return shipped
    v32 = shipped[-1].template_dict()
    doubled = {"pe_array.lanes": 64, "pe_array.vector_width": 64}
    for buffer in ("pe_buffers.weight", "pe_buffers.input", "pe_buffers.accumulation", "global_buffer"):
        section = v32
        for key in buffer.split("."):
            section = section[key]
        doubled[f"{buffer}.size_bytes"] = 2 * section["size_bytes"]
    return shipped + [shipped[-1].with_overrides(doubled, name="magnet16pe_v64")]


def main() -> None:
    args = arguments(__doc__, add_options=replot_option)
    if args.replot_from is not None:
        print(f"wrote {plot(read_rows(args.replot_from), args.replot_from.with_suffix('.png'))}")
        return
    variants = ["segformer-b0", "segformer-b1"] if args.tiny else [f"segformer-b{i}" for i in (0, 1, 3)]
    paths = hwmap.generate_paths("segformer-b2", drop_decoder=not args.tiny, variants=variants)
    rows = []
    for accel in templates(args.tiny):
        costed = hwmap.cost_paths(paths, accel)
        full = next(c for c in costed if c.name == "full")
        for c in costed:
            rows.append({"template": accel.name, "vector_width": accel.vector_pe.pe_array.vector_width,
                         "path": c.name, "energy_mj": round(c.energy_mj, 3), "latency_ms": round(c.latency_ms, 3),
                         "energy_vs_full": round(c.energy_mj / full.energy_mj, 4),
                         "miou": c.accuracy.value if c.accuracy else ""})
        b0 = next(c for c in costed if c.name == "segformer-b0")
        drop = full.accuracy.value - b0.accuracy.value
        print(f"{accel.name}: full B2 {full.energy_mj:.1f} mJ; switching to B0 saves "
              f"{100 * (1 - b0.energy_mj / full.energy_mj):.1f}% energy for {drop:.1f} mIoU points")
    csv_path = write_csv(args.out_dir / "vector_width.csv", rows)
    png_path = plot(rows, args.out_dir / "vector_width.png")
    done(args, csv_path, png_path)


def plot(rows, path):
    """mIoU against energy relative to the full B2, one line per vector width, each variant named once."""
    fig, ax = new_figure(width_in=8, height_in=4.8)
    widths = sorted({r["vector_width"] for r in rows})
    for width in widths:
        known = sorted((r for r in rows if r["vector_width"] == width and r["miou"] != ""),
                       key=lambda r: r["energy_vs_full"])
        template = known[0]["template"]
        ax.plot([r["energy_vs_full"] for r in known], [r["miou"] for r in known], "o-",
                label=f"vector width {width} ({template})")
        if width == widths[0]:  # the variants sit at the same mIoU on every line: name them once, on the left
            for r in known:
                name = "B2 (full)" if r["path"] == "full" else r["path"].replace("segformer-", "").upper()
                ax.annotate(name, (r["energy_vs_full"], r["miou"]), xytext=(-6, 4), textcoords="offset points",
                            ha="right", fontsize=8)
    ax.set_xlabel("energy relative to the full SegFormer-B2 on the same template (left: more saved by switching)")
    ax.set_ylabel("ADE20K mIoU (%)")
    ax.set_title("Switching between SegFormer variants on MAGNet-like templates of each vector width")
    ax.set_xlim(left=min(r["energy_vs_full"] for r in rows) - 0.08)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
