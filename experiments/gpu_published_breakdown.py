"""Where the GPU model's time goes on each published table, and which op groups each card disagrees on.

For every card of experiments/gpu_published.py (RTX 3090) and experiments/gpu_published_cards.py (RTX 4090 eager
and torch.compile, RTX 5090, RTX PRO 6000 Max-Q) each model's predicted step time (template priors) is split by
the kernels' op group and bound: tensor-core kernels (convolutions, GEMMs, attention) that are compute-bound or
memory-bound, the other kernels (norms, activations, elementwise, copies, pooling), and the host/launch gaps (step
time minus the kernels' sum). Reports per card:

- median signed error by family;
- a diagnostic fit: the factor each op group's predicted time would need for the best fit on that card
  (non-negative least squares on relative error; a diagnostic of where the card disagrees, never a model input);
- per-image speed ratios between cards, measured against predicted, for memory-bound rows (>= 90% of the
  predicted kernel time in memory-bound kernels) and tensor-compute rows (>= 40% in compute-bound tensor kernels).

    python experiments/gpu_published_breakdown.py [--tiny] [--out-dir DIR]

Traced graphs are cached under <out-dir>/gpu_published_cards/graphs/ (shared with gpu_published_cards.py).
"""

from __future__ import annotations

import numpy as np
from _common import arguments, done, new_figure, published_card_dirs, save_figure, write_csv
from gpu_published import MODELS, TINY, plan_table_rows
from gpu_published import table_rows as rtx3090_rows
from gpu_published_cards import CARDS
from gpu_published_cards import table_rows as card_rows

import hwmap
from hwmap.calibrate.table import CoefficientArrays
from hwmap.cost.gpu import FIT_CLASSES, TENSOR_CLASSES, PlanStack, coefficients
from hwmap.fileio import atomic_write_text

GROUPS = ("tensor_compute", "tensor_memory", "other_memory", "other_compute", "gaps")
MEMORY_BOUND_SHARE = 0.90  # a row is memory-bound when this share of its kernel time is in memory-bound kernels
TENSOR_COMPUTE_SHARE = 0.40  # a row is tensor-compute-heavy above this share in compute-bound tensor kernels

# (key, table file or None for the RTX 3090 table, template, mode, label)
TABLES = [("rtx3090", None, "rtx3090", "auto", "RTX 3090 (eager, PyTorch 2.4)")] + [
    (template + ("-compiled" if mode == "compiled" else ""), name, template, mode, what)
    for name, template, mode, what in CARDS]
TINY_TABLES = ("rtx3090", "rtx4090")
RATIOS = [("rtx3090", "rtx4090"), ("rtx4090", "rtx5090"), ("rtx5090", "rtx_pro6000_blackwell_maxq"),
          ("rtx4090", "rtx4090-compiled"), ("rtx5090", "rtx5090-compiled"),
          ("rtx_pro6000_blackwell_maxq", "rtx_pro6000_blackwell_maxq-compiled")]


def group_times_s(plan, coef: CoefficientArrays) -> tuple[float, dict[str, float]]:
    """A plan's predicted step time and its split into GROUPS (kernel time by op group and bound; gaps)."""
    stack = PlanStack([plan])
    kernel = stack.kernel_s(coef)
    k = stack.cls
    sat = stack.w / (stack.w + coef.half_saturation_elements[k])
    compute = stack.flops / (stack.peak * coef.compute_eff_frac[k] * sat)
    memory = stack.bytes_ / (stack.bw * coef.memory_eff_frac[k])
    tensor = np.isin(k, [FIT_CLASSES.index(c) for c in sorted(TENSOR_CLASSES)])
    bound_memory = memory >= compute
    step = float(stack.step_s(coef)[0])
    groups = {"tensor_compute": float(kernel[tensor & ~bound_memory].sum()),
              "tensor_memory": float(kernel[tensor & bound_memory].sum()),
              "other_memory": float(kernel[~tensor & bound_memory].sum()),
              "other_compute": float(kernel[~tensor & ~bound_memory].sum())}
    groups["gaps"] = max(step - sum(groups.values()), 0.0)
    return step, groups


def diagnostic_scales(groups: np.ndarray, measured_s: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative factors per group (gaps fixed at 1) minimising the relative error; the fit's median |error|."""
    from scipy.optimize import nnls

    weight = 1.0 / measured_s
    fitted = groups[:, :-1]
    scales, _ = nnls(fitted * weight[:, None], (measured_s - groups[:, -1]) * weight)
    predicted = fitted @ scales + groups[:, -1]
    return scales, 100 * float(np.median(np.abs(predicted / measured_s - 1)))


def evaluate_table(key: str, table: str | None, template: str, mode: str, tiny: bool, cache) -> list[dict]:
    accel = hwmap.load_accelerator(template)
    rows = rtx3090_rows() if table is None else card_rows(table)
    chosen = [(f, m, s) for f, m, s in (TINY if tiny else MODELS) if (m, s) in rows]
    planned = plan_table_rows(chosen, rows, accel, cache, mode=mode)
    coef = CoefficientArrays.from_coefficients(coefficients(accel))
    out = []
    for family, name, batch, plan, measured in zip(planned.families, planned.names, planned.batches, planned.plans,
                                                   planned.measured_s, strict=True):
        step, groups = group_times_s(plan, coef)
        out.append({"card": key, "family": family, "model": name, "batch": batch,
                    "measured_ms": round(measured * 1e3, 3),
                    "priors_ms": round(step * 1e3, 3), "priors_error_pct": round(100 * (step / measured - 1), 1),
                    **{f"{g}_ms": round(groups[g] * 1e3, 3) for g in GROUPS}})
    return out


def card_summary(label: str, rows: list[dict]) -> list[str]:
    from scipy.stats import spearmanr

    measured = np.array([r["measured_ms"] for r in rows]) * 1e-3
    predicted = np.array([r["priors_ms"] for r in rows]) * 1e-3
    error = predicted / measured - 1
    families = np.array([r["family"] for r in rows])
    groups = np.array([[r[f"{g}_ms"] for g in GROUPS] for r in rows]) * 1e-3
    shares = groups.sum(0) / groups.sum()
    lines = [f"**{label}**: {len(rows)} models, priors median |error| {100 * np.median(np.abs(error)):.1f}%, "
             f"Spearman {spearmanr(measured, predicted)[0]:.3f}",
             "- median signed error by family: " + ", ".join(
                 f"{f} {100 * np.median(error[families == f]):+.0f}%" for f in sorted(set(families))),
             "- predicted time by group: " + ", ".join(f"{g} {100 * s:.0f}%" for g, s in zip(GROUPS, shares,
                                                                                            strict=True))]
    if len(rows) >= 8:
        scales, median = diagnostic_scales(groups, measured)
        lines.append("- diagnostic fit (factor on each group's predicted time; groups under 2% of it not shown): "
                     + ", ".join(f"{g} x{s:.2f}" for g, s, share in zip(GROUPS[:-1], scales, shares, strict=False)
                                 if share >= 0.02) + f" (median |error| {median:.1f}%)")
    return lines


def row_kind(row: dict) -> str | None:
    kernels = sum(row[f"{g}_ms"] for g in GROUPS[:-1])
    memory = row["tensor_memory_ms"] + row["other_memory_ms"]
    if kernels > 0 and memory / kernels >= MEMORY_BOUND_SHARE:
        return "memory-bound"
    if kernels > 0 and row["tensor_compute_ms"] / kernels >= TENSOR_COMPUTE_SHARE:
        return "tensor-compute"
    return None


def ratio_lines(by_card: dict[str, list[dict]]) -> list[str]:
    """Measured and predicted speed-up from card a to card b (a's time per image / b's), median over shared rows."""
    lines = []
    for a, b in RATIOS:
        if a not in by_card or b not in by_card:
            continue
        rows_b = {(r["model"]): r for r in by_card[b]}
        parts = []
        for kind in ("memory-bound", "tensor-compute"):
            pairs = [(ra, rows_b[ra["model"]]) for ra in by_card[a]
                     if ra["model"] in rows_b and row_kind(ra) == kind]
            if not pairs:
                continue
            measured = np.median([ra["measured_ms"] / ra["batch"] / (rb["measured_ms"] / rb["batch"])
                                  for ra, rb in pairs])
            predicted = np.median([ra["priors_ms"] / ra["batch"] / (rb["priors_ms"] / rb["batch"]) for ra, rb in pairs])
            parts.append(f"{kind} rows ({len(pairs)}) measured x{measured:.2f}, predicted x{predicted:.2f}")
        if parts:
            lines.append(f"- {a} -> {b}: " + "; ".join(parts))
    return lines


def plot(by_card: dict[str, list[dict]], path) -> None:
    fig, ax = new_figure(width_in=7.5, height_in=4.6)
    markers = "osD^vP<"
    if len(by_card) > len(markers):  # a table without a marker of its own would be indistinguishable
        raise SystemExit(f"gpu_published_breakdown: {len(by_card)} tables but {len(markers)} markers; add markers")
    for (card, rows), marker in zip(by_card.items(), markers, strict=False):
        share = [(r["tensor_memory_ms"] + r["other_memory_ms"]) / max(sum(r[f"{g}_ms"] for g in GROUPS), 1e-12)
                 for r in rows]
        ax.scatter(share, [r["priors_error_pct"] for r in rows], s=16, marker=marker, label=card, alpha=0.75)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("share of predicted step time in memory-bound kernels")
    ax.set_ylabel("priors error, % (+ = predicted too slow)")
    ax.set_title("GPU model priors on timm's published tables, by memory-bound share")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4)  # below: no point hidden
    save_figure(fig, path)


def main() -> None:
    args = arguments(__doc__)
    out, cache = published_card_dirs(args, "gpu_published_breakdown")
    by_card: dict[str, list[dict]] = {}
    lines = ["# Where the GPU model's time goes on each published table", ""]
    for key, table, template, mode, label in TABLES:
        if args.tiny and key not in TINY_TABLES:
            continue
        by_card[key] = evaluate_table(key, table, template, mode, args.tiny, cache)
        lines += card_summary(label, by_card[key]) + [""]
    lines += ["Speed-up per image between cards (median over the rows both tables have):", "",
              *ratio_lines(by_card)]
    rows = [r for card_rows_ in by_card.values() for r in card_rows_]
    csv_path = write_csv(out / "gpu_published_breakdown.csv", rows)
    md_path = atomic_write_text(out / "gpu_published_breakdown.md", "\n".join(lines) + "\n")
    png_path = out / "gpu_published_breakdown.png"
    plot(by_card, png_path)
    print("\n".join(lines))
    done(args, csv_path, md_path, png_path)


if __name__ == "__main__":
    main()
