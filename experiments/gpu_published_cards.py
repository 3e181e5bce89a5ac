"""The GPU model on published timm benchmark tables of cards hwmap has no calibration for (no GPU needed).

For each shipped table (hwmap/data/timm_benchmarks/*.subset.csv, see PROVENANCE.md) every row of
experiments/gpu_published.py's model list that the table has is traced at the table's batch and estimated on the
card's template in the table's mode (eager tables: mode auto; `-dynamo` tables: mode compiled; fp16 under
torch.autocast): with the template priors;
calibrated on a random half of the models predicting the other half (5 splits, `hwmap calibrate --from-table`'s
fit); and the FLOPs baseline with its best single constant. Median absolute error, Spearman, per-family medians.

    python experiments/gpu_published_cards.py [--tiny] [--out-dir DIR]

Traced graphs are cached under <out-dir>/gpu_published_cards/graphs/.
"""

from __future__ import annotations

import csv
from importlib.resources import files

import numpy as np
from _common import arguments, done, published_card_dirs, write_csv
from gpu_published import MODELS, TINY, evaluate, flops_constant_s_per_mac, metrics, plan_table_rows

import hwmap
from hwmap.cost.gpu import coefficients
from hwmap.fileio import atomic_write_text

# (table file, template, mode, what)
CARDS = [
    ("benchmark-infer-amp-nchw-pt291-cu128-4090.subset.csv", "rtx4090", "auto", "GeForce RTX 4090 (Ada), eager"),
    ("benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq.subset.csv", "rtx_pro6000_blackwell_maxq", "auto",
     "RTX PRO 6000 Blackwell Max-Q (300 W), eager"),
    ("benchmark-infer-amp-nchw-pt291-cu130-5090.subset.csv", "rtx5090", "auto",
     "GeForce RTX 5090 (Blackwell, 575 W), eager"),
    ("benchmark-infer-amp-nchw-pt291-cu128-4090-dynamo.subset.csv", "rtx4090", "compiled",
     "GeForce RTX 4090 (Ada), torch.compile"),
    ("benchmark-infer-amp-nchw-pt291-cu130-5090-dynamo.subset.csv", "rtx5090", "compiled",
     "GeForce RTX 5090 (Blackwell, 575 W), torch.compile"),
    ("benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq-dynamo.subset.csv", "rtx_pro6000_blackwell_maxq", "compiled",
     "RTX PRO 6000 Blackwell Max-Q (300 W), torch.compile"),
]


def table_rows(name: str) -> dict[tuple[str, int], dict]:
    text = files("hwmap.data").joinpath(f"timm_benchmarks/{name}").read_text(encoding="utf-8")
    return {(r["model"], int(r["infer_img_size"])): r for r in csv.DictReader(text.splitlines())}


def main() -> None:
    args = arguments(__doc__)
    out, cache = published_card_dirs(args, "gpu_published_cards")
    table, lines = [], ["# The GPU model on published tables of other cards", ""]
    lines += ["| card | table | models | predictor | Spearman | median abs error | within 25% |",
              "|---|---|---|---|---|---|---|"]
    family_lines = ["", "Median signed error by family (priors):", ""]
    logs: list[str] = []
    for name, template, mode, what in CARDS:
        accel = hwmap.load_accelerator(template)
        rows = table_rows(name)
        chosen = [(f, m, s) for f, m, s in (TINY if args.tiny else MODELS) if (m, s) in rows]
        planned = plan_table_rows(chosen, rows, accel, cache, mode=mode)
        families, names, batches, plans, measured_s = planned.families, planned.names, planned.batches, \
            planned.plans, planned.measured_s
        results, summary, log = evaluate(plans, measured_s, names, families, batches, coefficients(accel),
                                         lofo=False)
        logs += [f"{what}: {line}" for line in log]
        results["FLOPs x best constant"] = flops_constant_s_per_mac(measured_s, planned.macs) * planned.macs
        summary["FLOPs x best constant"] = metrics(measured_s, results["FLOPs x best constant"])
        for predictor, m in summary.items():
            lines.append(f"| {what} | {name} | {len(plans)} | {predictor} | {m['spearman']:.3f} | "
                         f"{m['median_abs_error_pct']:.1f}% | {100 * m['within_25pct_share']:.0f}% |")
        fam_arr = np.array(families)
        error = results["priors"] / measured_s - 1
        family_lines.append(f"{what}: " + ", ".join(
            f"{f} {100 * float(np.median(error[fam_arr == f])):+.0f}%" for f in sorted(set(families))))
        for k, (f, n, m) in enumerate(zip(families, names, measured_s, strict=True)):
            table.append({"card": template, "family": f, "model": n, "batch": batches[k],
                          "measured_ms": round(m * 1e3, 3), "priors_ms": round(results["priors"][k] * 1e3, 3),
                          "priors_error_pct": round(100 * error[k], 1),
                          "flops_error_pct": round(100 * (results["FLOPs x best constant"][k] / m - 1), 1)})
    csv_path = write_csv(out / "gpu_published_cards.csv", table)
    md_path = atomic_write_text(out / "gpu_published_cards.md", "\n".join(lines + family_lines + ["", *logs]) + "\n")
    print("\n".join(lines + family_lines))
    done(args, csv_path, md_path)


if __name__ == "__main__":
    main()
