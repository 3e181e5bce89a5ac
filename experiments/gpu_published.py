"""The GPU model against timm's published RTX 3090 inference benchmark (AMP, eager, batch mostly 1024).

For each model (>= 70 across ten families) the measured step time of the table is compared with hwmap's GPU model
(template rtx3090, mode auto, fp16 under torch.autocast): with the template priors; calibrated on a random half
of the models and predicting the other half (5 splits, the fit `hwmap calibrate --from-table` runs:
hwmap.calibrate.table.fit_table_checked); with a leave-one-family-out calibration (fitted on the other families,
predicting the held-out family); and with a FLOPs-proportional baseline given its best single constant (fitted on
all rows: the most favourable setting for it). Reports Spearman rank correlation, median and mean absolute error,
the share within 25% and the worst five; a log-log scatter coloured by family.

    python experiments/gpu_published.py [--tiny] [--out-dir DIR]

Traced graphs are cached under <out-dir>/gpu_published/graphs/ (reruns skip tracing); --tiny writes to
<out-dir>/gpu_published_tiny/.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from _common import arguments, done, new_figure, save_figure, write_csv

import hwmap
from hwmap.calibrate.table import (
    CoefficientArrays,
    fit_table,
    fit_table_checked,
    holdout_split,
    predict_step_s,
    ran_fused,
    timeline_plan,
    trace_timm,
)
from hwmap.cost.gpu import coefficients
from hwmap.fileio import atomic_write_text
from hwmap.graph.io import load_graph, save_graph

TABLE = "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv"
ACCEL = "rtx3090"
MODELS = [
    ("ResNet/ResNeXt/RegNet", "resnet18", 224),
    ("ResNet/ResNeXt/RegNet", "resnet34", 224),
    ("ResNet/ResNeXt/RegNet", "resnet50", 224),
    ("ResNet/ResNeXt/RegNet", "resnet101", 224),
    ("ResNet/ResNeXt/RegNet", "resnet152", 224),
    ("ResNet/ResNeXt/RegNet", "resnet50d", 224),
    ("ResNet/ResNeXt/RegNet", "resnext50_32x4d", 224),
    ("ResNet/ResNeXt/RegNet", "resnext101_32x8d", 224),
    ("ResNet/ResNeXt/RegNet", "regnetx_004", 224),
    ("ResNet/ResNeXt/RegNet", "regnetx_016", 224),
    ("ResNet/ResNeXt/RegNet", "regnetx_032", 224),
    ("ResNet/ResNeXt/RegNet", "regnety_008", 224),
    ("ResNet/ResNeXt/RegNet", "regnety_040", 224),
    ("ResNet/ResNeXt/RegNet", "regnety_160", 224),
    ("ResNet/ResNeXt/RegNet", "repvgg_a2", 224),
    ("ResNet/ResNeXt/RegNet", "repvgg_b1", 224),
    ("EfficientNet/MobileNet/GhostNet", "efficientnet_b0", 224),
    ("EfficientNet/MobileNet/GhostNet", "efficientnet_b1", 240),
    ("EfficientNet/MobileNet/GhostNet", "efficientnet_b2", 256),
    ("EfficientNet/MobileNet/GhostNet", "efficientnet_b3", 288),
    ("EfficientNet/MobileNet/GhostNet", "mobilenetv2_100", 224),
    ("EfficientNet/MobileNet/GhostNet", "mobilenetv2_140", 224),
    ("EfficientNet/MobileNet/GhostNet", "mobilenetv3_large_100", 224),
    ("EfficientNet/MobileNet/GhostNet", "mobilenetv3_small_100", 224),
    ("EfficientNet/MobileNet/GhostNet", "ghostnet_100", 224),
    ("EfficientNet/MobileNet/GhostNet", "ghostnetv2_100", 224),
    ("ConvNeXt", "convnext_atto", 224),
    ("ConvNeXt", "convnext_nano", 224),
    ("ConvNeXt", "convnext_tiny", 224),
    ("ConvNeXt", "convnext_small", 224),
    ("ConvNeXt", "convnext_base", 224),
    ("ConvNeXt", "inception_next_tiny", 224),
    ("ViT/DeiT/BEiT/EVA", "vit_tiny_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "vit_small_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "vit_base_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "deit_tiny_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "deit_small_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "deit_base_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "deit_base_patch16_384", 384),
    ("ViT/DeiT/BEiT/EVA", "beit_base_patch16_224", 224),
    ("ViT/DeiT/BEiT/EVA", "eva02_tiny_patch14_224", 224),
    ("ViT/DeiT/BEiT/EVA", "eva02_small_patch14_224", 224),
    ("ViT/DeiT/BEiT/EVA", "eva02_base_patch14_224", 224),
    ("Swin/Twins", "swin_tiny_patch4_window7_224", 224),
    ("Swin/Twins", "swin_small_patch4_window7_224", 224),
    ("Swin/Twins", "swin_base_patch4_window7_224", 224),
    ("Swin/Twins", "twins_svt_small", 224),
    ("Swin/Twins", "twins_pcpvt_small", 224),
    ("Swin/Twins", "twins_svt_base", 224),
    ("PVT", "pvt_v2_b0", 224),
    ("PVT", "pvt_v2_b1", 224),
    ("PVT", "pvt_v2_b2", 224),
    ("PVT", "pvt_v2_b3", 224),
    ("PoolFormer/ConvFormer/CAFormer", "poolformer_s12", 224),
    ("PoolFormer/ConvFormer/CAFormer", "poolformer_s24", 224),
    ("PoolFormer/ConvFormer/CAFormer", "poolformer_m36", 224),
    ("PoolFormer/ConvFormer/CAFormer", "poolformerv2_s12", 224),
    ("PoolFormer/ConvFormer/CAFormer", "convformer_s18", 224),
    ("PoolFormer/ConvFormer/CAFormer", "caformer_s18", 224),
    ("PoolFormer/ConvFormer/CAFormer", "caformer_s36", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "mobilevit_xxs", 256),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "mobilevit_s", 256),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "mobilevitv2_100", 256),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "efficientformer_l1", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "efficientformer_l3", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "levit_128", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "levit_256", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "edgenext_small", 256),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "xcit_tiny_12_p16_224", 224),
    ("MobileViT/EfficientFormer/LeViT/EdgeNeXt/XCiT", "xcit_small_12_p16_224", 224),
    ("CoAtNet/MaxViT", "coatnet_0_rw_224", 224),
    ("CoAtNet/MaxViT", "coatnet_nano_rw_224", 224),
    ("CoAtNet/MaxViT", "coatnet_1_rw_224", 224),
    ("CoAtNet/MaxViT", "maxvit_nano_rw_256", 256),
    ("CoAtNet/MaxViT", "maxvit_tiny_rw_224", 224),
    ("CoAtNet/MaxViT", "maxvit_tiny_tf_224", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "densenet121", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "densenet169", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "inception_v3", 299),
    ("DenseNet/Inception/VGG/DLA/HRNet", "inception_v4", 299),
    ("DenseNet/Inception/VGG/DLA/HRNet", "vgg11", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "vgg16", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "vgg16_bn", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "dla34", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "dla60", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "hrnet_w18", 224),
    ("DenseNet/Inception/VGG/DLA/HRNet", "hrnet_w32", 224),
]
TINY = [("ResNet/ResNeXt/RegNet", "resnet18", 224), ("ResNet/ResNeXt/RegNet", "resnet50", 224),
        ("ViT/DeiT/BEiT/EVA", "deit_tiny_patch16_224", 224), ("ViT/DeiT/BEiT/EVA", "deit_small_patch16_224", 224),
        ("EfficientNet/MobileNet/GhostNet", "mobilenetv3_small_100", 224),
        ("EfficientNet/MobileNet/GhostNet", "efficientnet_b0", 224)]


def table_rows() -> dict[tuple[str, int], dict]:
    text = files("hwmap.data").joinpath(f"timm_benchmarks/{TABLE}").read_text(encoding="utf-8")
    rows: dict[tuple[str, int], dict] = {}
    for record in csv.DictReader(text.splitlines()):
        rows.setdefault((record["model"], int(record["infer_img_size"])), record)
    return rows


def traced(model: str, size: int, batch: int, cache: Path, *, table_params_m: float | None = None):
    """The graph of the model in the form the table measured (hwmap.calibrate.table.ran_fused: timm's benchmark.py
    --reparam runs RepVGG, LeViT, ... fused; the row's param_count says which form ran)."""
    fused = table_params_m is not None and ran_fused(model, table_params_m)
    path = cache / f"{model}_{size}_b{batch}{'_fused' if fused else ''}.json"
    if path.is_file():
        return load_graph(path)
    if fused:
        graph = trace_timm(model, img_size=size, batch=batch, fused=True)
    else:
        graph = hwmap.extract_graph(f"timm:{model}", resolution=size, batch=batch)
    save_graph(graph, path)
    return graph


def metrics(measured: np.ndarray, predicted: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    error = predicted / measured - 1
    return {"spearman": float(spearmanr(measured, predicted)[0]),
            "median_abs_error_pct": 100 * float(np.median(np.abs(error))),
            "mean_abs_error_pct": 100 * float(np.mean(np.abs(error))),
            "within_25pct_share": float(np.mean(np.abs(error) <= 0.25))}


SPLITS = 5  # random 50/50 splits by model
SPLIT_PREDICTORS = ("calibrated (held-out half)", "calibrated, no held-out check")


def evaluate(plans, measured_s: np.ndarray, names: list[str], families: list[str], batches: list[int], prior,
             *, lofo: bool = True) -> tuple[dict[str, np.ndarray], dict[str, dict], list[str]]:
    """Priors; calibrated on a random half of the models predicting the other half (SPLITS times, the fit as
    `hwmap calibrate --from-table` runs it: fit_table_checked); leave-one-family-out. Returns per-model predictions
    (split: the median over the splits that held the model out; NaN if none did), metrics (the split's are the
    mean over splits of each split's held-out metrics) and log lines."""
    log: list[str] = []
    prior_s = np.array([predict_step_s(p, CoefficientArrays.from_coefficients(prior)) for p in plans])
    held = {name: [[] for _ in plans] for name in SPLIT_PREDICTORS}
    split_metrics: dict[str, list[dict]] = {name: [] for name in SPLIT_PREDICTORS}
    for seed in range(SPLITS):
        test = holdout_split(names, seed=1000 + seed)
        train = [p for p, t in zip(plans, test, strict=True) if not t]
        fits = {"calibrated (held-out half)": fit_table_checked(
                    train, measured_s[~test], prior, models=[n for n, t in zip(names, test, strict=True) if not t],
                    batches=[b for b, t in zip(batches, test, strict=True) if not t]),
                "calibrated, no held-out check": fit_table(train, measured_s[~test], prior)}
        m_prior = metrics(measured_s[test], prior_s[test])
        line = f"split {seed}: fitted on {len(train)} rows, held-out median error priors " \
               f"{m_prior['median_abs_error_pct']:.1f}%"
        for name, fit in fits.items():
            coef = CoefficientArrays.from_coefficients(fit.coefficients)
            predicted = np.array([predict_step_s(p, coef) for p, t in zip(plans, test, strict=True) if t])
            for k, value in zip(np.flatnonzero(test), predicted, strict=True):
                held[name][k].append(float(value))
            m = metrics(measured_s[test], predicted)
            split_metrics[name].append(m)
            line += f", {name} {m['median_abs_error_pct']:.1f}%"
        check = fits[SPLIT_PREDICTORS[0]].holdout
        best = max(c.folds_better for c in check.candidates)
        line += (f" (checked fit: groups back at priors: {', '.join(check.reverted_groups) or 'none'}; "
                 f"best candidate beat the priors in {best} of {check.candidates[0].folds} inner folds)")
        log.append(line)
    results = {"priors": prior_s}
    summary = {"priors": metrics(measured_s, prior_s)}
    for name in SPLIT_PREDICTORS:
        results[name] = np.array([float(np.median(v)) if v else np.nan for v in held[name]])
        summary[name] = {k: float(np.mean([m[k] for m in split_metrics[name]])) for k in split_metrics[name][0]}
    if lofo:
        lofo_s = np.zeros(len(plans))
        fam_arr = np.array(families)
        for family in sorted(set(families)):
            held = fam_arr == family
            train = [p for p, h in zip(plans, held, strict=True) if not h]
            fit = fit_table_checked(train, measured_s[~held], prior,
                                    models=[n for n, h in zip(names, held, strict=True) if not h],
                                    batches=[b for b, h in zip(batches, held, strict=True) if not h])
            coef = CoefficientArrays.from_coefficients(fit.coefficients)
            lofo_s[held] = [predict_step_s(p, coef) for p, h in zip(plans, held, strict=True) if h]
            log.append(f"held out {family}: trained on {len(train)} rows, fit error {fit.fit_error_pct:.1f}%")
        results["leave-one-family-out"] = lofo_s
        summary["leave-one-family-out"] = metrics(measured_s, lofo_s)
    return results, summary, log


@dataclass(frozen=True)
class TableRows:
    """The chosen rows of a published table: their family, name, batch, measured step time, MACs per step and
    GPU timeline plan, in the same order."""

    families: list[str]
    names: list[str]
    batches: list[int]
    measured_s: np.ndarray
    macs: np.ndarray
    plans: list


def plan_table_rows(chosen, rows: dict, accel, cache: Path, *, mode: str) -> TableRows:
    """Trace (or read from cache) every chosen (family, model, size) row at the table's batch, in the form the
    table measured, and plan its timeline on accel in mode (fp16 AMP, as timm's tables ran)."""
    families, names, measured, plans, macs, batches = [], [], [], [], [], []
    for family, model, size in chosen:
        record = rows[(model, size)]
        batch = int(record["infer_batch_size"])
        graph = traced(model, size, batch, cache, table_params_m=float(record["param_count"]))
        families.append(family)
        names.append(f"{model}@{size}")
        batches.append(batch)
        measured.append(float(record["infer_step_time"]) * 1e-3)
        macs.append(float(record["infer_gmacs"]) * 1e9 * batch)
        plans.append(timeline_plan(graph, accel, mode=mode, dtype="fp16", amp=True))
    return TableRows(families, names, batches, np.array(measured), np.array(macs), plans)


def flops_constant_s_per_mac(measured_s: np.ndarray, macs: np.ndarray) -> float:
    """The FLOPs baseline's one constant: step time = MACs x it, the best fit (least squares on log error)."""
    return float(np.exp(np.mean(np.log(measured_s / macs))))


def main() -> None:
    args = arguments(__doc__)
    out = args.out_dir / ("gpu_published_tiny" if args.tiny else "gpu_published")  # --tiny keeps the full results
    cache = args.out_dir / "gpu_published" / "graphs"
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    accel = hwmap.load_accelerator(ACCEL)
    rows = table_rows()
    chosen = TINY if args.tiny else MODELS
    table = plan_table_rows(chosen, rows, accel, cache, mode="auto")
    families, names, batches, plans, measured_s = table.families, table.names, table.batches, table.plans, \
        table.measured_s
    prior = coefficients(accel)
    results, summary, log = evaluate(plans, measured_s, names, families, batches, prior, lofo=not args.tiny)
    print("\n".join(log))
    constant = flops_constant_s_per_mac(measured_s, table.macs)
    flops_s = constant * table.macs
    results["FLOPs x best constant"] = flops_s
    summary["FLOPs x best constant"] = metrics(measured_s, flops_s)

    short = {"priors": "priors", "calibrated (held-out half)": "split",
             "calibrated, no held-out check": "split_unchecked", "leave-one-family-out": "lofo",
             "FLOPs x best constant": "flops"}
    table = []
    for k, (f, n, m) in enumerate(zip(families, names, measured_s, strict=True)):
        row = {"family": f, "model": n, "measured_ms": round(m * 1e3, 3)}
        for name, pred in results.items():
            row[f"{short[name]}_ms"] = round(pred[k] * 1e3, 3) if np.isfinite(pred[k]) else ""
        for name, pred in results.items():
            row[f"{short[name]}_error_pct"] = round(100 * (pred[k] / m - 1), 1) if np.isfinite(pred[k]) else ""
        table.append(row)
    csv_path = write_csv(out / "gpu_published.csv", table)

    lines = [f"# GPU model vs timm's published RTX 3090 table ({TABLE})", "",
             f"{len(plans)} models, {len(set(families))} families; template {ACCEL}, mode auto, fp16 autocast, "
             f"the table's batch (mostly 1024). Calibrated: `hwmap calibrate --from-table`'s fit (MAP towards the "
             f"priors, held-out check) on a random half of the models, predicting the other half, {SPLITS} splits "
             f"(metrics: mean over splits); leave-one-family-out: fitted on the other families. FLOPs baseline "
             f"constant: {constant * 1e12:.3f} ms per TMAC (fitted on all rows: its most favourable setting).", "",
             "| predictor | Spearman | median abs error | mean abs error | within 25% |", "|---|---|---|---|---|"]
    for name, m in summary.items():
        lines.append(f"| {name} | {m['spearman']:.3f} | {m['median_abs_error_pct']:.1f}% | "
                     f"{m['mean_abs_error_pct']:.1f}% | {100 * m['within_25pct_share']:.0f}% |")
    for name, pred in results.items():
        error = pred / measured_s - 1
        worst = [i for i in np.argsort(-np.nan_to_num(np.abs(error), nan=-1.0))[:5] if np.isfinite(error[i])]
        lines += ["", f"Worst five, {name}: " + ", ".join(f"{names[i]} {100 * error[i]:+.0f}%" for i in worst)]
    header = " | ".join(f"{name} median error" for name in results)
    lines += ["", f"| family | models | {header} |", "|---|---|" + "---|" * len(results)]
    fam_arr = np.array(families)
    for family in sorted(set(families)):
        held = fam_arr == family
        med = [100 * float(np.nanmedian(pred[held] / measured_s[held] - 1)) for pred in results.values()]
        lines.append(f"| {family} | {int(held.sum())} | " + " | ".join(f"{v:+.1f}%" for v in med) + " |")
    lines += ["", *log]
    md_path = atomic_write_text(out / "gpu_published.md", "\n".join(lines) + "\n")

    shown = results
    fig, axes = new_figure(ncols=len(shown), width_in=5.4 * len(shown), height_in=5.6, sharex=True, sharey=True)
    colours = {f: c for f, c in zip(sorted(set(families)), _palette(len(set(families))), strict=True)}
    for ax, (name, pred) in zip(axes, shown.items(), strict=True):
        for family in sorted(set(families)):
            held = (fam_arr == family) & np.isfinite(pred)
            ax.scatter(measured_s[held] * 1e3, pred[held] * 1e3, s=18, color=colours[family], label=family)
        lo, hi = measured_s.min() * 1e3 * 0.6, measured_s.max() * 1e3 * 1.6
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
        for f in (0.75, 1.25):
            ax.plot([lo, hi], [lo * f, hi * f], color="grey", lw=0.6, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _readable_log_ticks(ax)
        m = summary[name]
        ax.set_title(f"{name}\nSpearman {m['spearman']:.3f}, median |err| {m['median_abs_error_pct']:.1f}%",
                     fontsize=10)
        ax.set_xlabel("measured step time (ms, RTX 3090, timm table)")
    axes[0].set_ylabel("predicted step time (ms)")
    axes[0].legend(fontsize=6.5, loc="upper left")
    png_path = save_figure(fig, out / "gpu_published.png")
    print("\n".join(lines[:8 + len(results)]))
    done(args, csv_path, md_path, png_path)


def _readable_log_ticks(ax) -> None:
    """Labels at 1, 2 and 5 x 10^k only, written as plain numbers: a span under a decade otherwise gets a label at
    every minor tick, which overlap."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def _palette(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


if __name__ == "__main__":
    main()
