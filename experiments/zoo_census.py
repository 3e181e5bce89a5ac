"""Where the computation of the model zoo goes: every timm architecture at its default input (batch 1), costed on
systolic16x16, magnet16pe_v16 and h100_sxm, and per family the conv / linear / attention / other share of MACs
against the share of energy and of time (the paper's first figure, at zoo scale).

    python experiments/zoo_census.py            # every timm architecture (a benchmark: long on 2 cores)
    python experiments/zoo_census.py --tiny     # six small models, for CI (< 1 min after the imports)
    python experiments/zoo_census.py --replot-from experiments/results/zoo_census.csv   # the figure only

Writes results/zoo_census.csv (one row per model, `hwmap census`'s columns), results/zoo_census_families.csv
(mean shares per family over the models that traced) and results/zoo_census.png. An interrupted full run
resumes from its journal (results/zoo_census.csv.journal.jsonl) with --resume.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from hwmap.api import census, census_models  # noqa: E402
from hwmap.dse.census import FIGURE_GROUPS  # noqa: E402

ACCELS = ("systolic16x16", "magnet16pe_v16", "h100_sxm")
TINY = ("resnet18", "efficientnet_b0", "convnext_atto", "deit_tiny_patch16_224", "mobilenetv3_small_050",
        "levit_128s")
GROUPS = (*FIGURE_GROUPS, "other")  # conv, linear, attention, and the rest


def family_table(table):
    """Mean shares per family (unweighted over its models), with 'other' the rest of 100%."""
    from hwmap.dse.census import family_of

    ok = table[table.status == "ok"].copy()
    ok["family"] = [family_of(m) for m in ok.model]
    columns = {"mac": "mac_pct.group.{g}"}
    for accel in ACCELS:
        columns[f"{accel}.energy"] = f"{accel}.energy_pct.{{g}}"
        columns[f"{accel}.time"] = f"{accel}.time_pct.{{g}}"
    out = ok[["family"]].copy()
    for label, pattern in columns.items():
        known = [pattern.format(g=g) for g in GROUPS[:-1]]
        for group, column in zip(GROUPS[:-1], known, strict=True):
            out[f"{label}_pct.{group}"] = ok[column]
        out[f"{label}_pct.other"] = 100.0 - ok[known].sum(axis=1)
    grouped = out.groupby("family")
    families = grouped.mean(numeric_only=True)
    families.insert(0, "models", grouped.size())
    return families.reset_index()


TEMPLATE_COLOURS = {"systolic16x16": "tab:blue", "magnet16pe_v16": "tab:orange", "h100_sxm": "tab:green"}


def plot(families, path: Path) -> Path:
    """Per op group, a family's share of MACs (x) against its share of energy (top) and time (bottom), one
    colour per template; on the diagonal a group costs what its MACs say. The 'other' group (norms, activations,
    element-wise, pooling, data movement) has next to no MACs, so its panel shows instead how its share of energy
    and time spreads over the families on each template (a box of the middle half, the median, every family)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(15.0, 7.5), dpi=110, sharey=True)
    for row, metric in enumerate(("energy", "time")):
        for col, group in enumerate(GROUPS):
            ax = axes[row][col]
            if group == "other":
                _plot_other(ax, families, metric)
            else:
                _plot_against_macs(ax, families, metric, group, legend=(row, col) == (0, 0))
            if row == 0:
                ax.set_title(group if group != "other" else
                             f"other (norm, act., eltwise, pool, moves): at most\n"
                             f"{families['mac_pct.other'].max():.1f}% of a family's MACs, so per template",
                             fontsize=10)
            if col == 0:
                ax.set_ylabel(f"share of {metric} (%)")
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"timm zoo census: {len(families)} families ({int(families.models.sum())} models), batch 1, "
                 "default input; one point per family and template")
    return _common.save_figure(fig, path)


def _plot_against_macs(ax, families, metric: str, group: str, *, legend: bool) -> None:
    ax.plot([0, 100], [0, 100], color="0.6", lw=0.8, ls="--")
    for accel, colour in TEMPLATE_COLOURS.items():
        ax.scatter(families[f"mac_pct.{group}"], families[f"{accel}.{metric}_pct.{group}"], s=10, alpha=0.6,
                   color=colour, label=accel if legend else None)
    ax.set_xlim(-2, 102)
    ax.set_xlabel("share of MACs (%)")


def _plot_other(ax, families, metric: str) -> None:
    """One box per template over the families' share of metric spent in the 'other' group, every family a dot."""
    import numpy as np

    accels = list(TEMPLATE_COLOURS)
    shares = [families[f"{accel}.{metric}_pct.other"].to_numpy(float) for accel in accels]
    boxes = ax.boxplot(shares, positions=range(len(accels)), widths=0.5, showfliers=False, patch_artist=True,
                       medianprops={"color": "black"})
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, size=len(families))  # fixed: the figure is reproducible
    for position, (accel, values, box) in enumerate(zip(accels, shares, boxes["boxes"], strict=True)):
        box.set(facecolor=TEMPLATE_COLOURS[accel], alpha=0.25)
        ax.scatter(position + jitter, values, s=8, alpha=0.6, color=TEMPLATE_COLOURS[accel])
        ax.annotate(f"median {np.median(values):.0f}%", (position, 100), ha="center", va="top", fontsize=8)
    ax.set_xticks(range(len(accels)), accels, rotation=15, fontsize=8)
    ax.set_xlim(-0.6, len(accels) - 0.4)


def replot(census_csv: Path) -> Path:
    """The figure from a census table (zoo_census.csv), without tracing: the families' means recomputed from it."""
    import pandas as pd

    try:
        table = pd.read_csv(census_csv)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--replot-from {census_csv}: cannot read the census table ({exc})") from None
    try:
        families = family_table(table)
    except (KeyError, AttributeError) as exc:
        raise SystemExit(f"--replot-from {census_csv}: not a census table of {', '.join(ACCELS)} (no column "
                         f"{exc})") from None
    return plot(families, census_csv.with_suffix(".png"))


def main() -> None:
    import argparse

    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="six small models (CI)")
    parser.add_argument("--out-dir", type=Path, default=_common.RESULTS)
    parser.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted census from its journal")
    parser.add_argument("--time-limit-s", type=float, default=300.0, help="seconds per model")
    parser.add_argument("--partial", action="store_true", help="trace nothing: tables and figure from the models "
                                                               "an interrupted census journaled so far")
    parser.add_argument("--replot-from", type=Path, default=None, metavar="CSV",
                        help="trace nothing: redraw the figure (STEM.png beside the census CSV) from its table")
    args = parser.parse_args()
    if args.replot_from is not None:
        print(f"wrote {replot(args.replot_from)}")
        return
    args.out_dir.mkdir(parents=True, exist_ok=True)
    import time

    args.started = time.perf_counter()
    name = "zoo_census_tiny" if args.tiny else "zoo_census"
    out = args.out_dir / f"{name}.csv"
    if args.partial:
        from hwmap.dse.sweep import journal_path_for, read_journal

        rows, _size = read_journal(journal_path_for(out))
        table = pd.DataFrame(rows).drop(columns=["point_id"])
        out = args.out_dir / f"{name}_partial.csv"
        _common.write_csv(out, table.to_dict("records"))
        elapsed = f"{table.trace_s.sum():.0f} s of worker time"
    else:
        from hwmap.cli.census_commands import CensusBar

        with CensusBar(len(TINY) if args.tiny else len(census_models())) as bar:
            result = census(TINY if args.tiny else (), accels=ACCELS, out=out, workers=0 if args.tiny else args.workers,
                            resume=args.resume, time_limit_s=args.time_limit_s, progress=bar)
        table = pd.read_csv(out)
        elapsed = f"{result.elapsed_s:.0f} s ({result.resumed} from the journal)"
    families = family_table(table)
    families_path = args.out_dir / f"{name}{'_partial' if args.partial else ''}_families.csv"
    _common.write_csv(families_path, families.round(3).to_dict("records"))
    figure = plot(families, args.out_dir / f"{name}{'_partial' if args.partial else ''}.png")
    failed = table[table.status != "ok"]
    print(f"{len(table)} models, {len(failed)} failed, census {elapsed}")
    for reason, count in failed.error.astype(str).str.split(":").str[0].value_counts().items():
        print(f"  {count} failed with {reason}")
    _common.done(args, out, families_path, figure)


if __name__ == "__main__":
    main()
