#!/usr/bin/env bash
# GPU check of hwmap's GPU model, in one run (< 9 minutes on an H100 SXM):
#   1. `hwmap calibrate --quick`: per-operator microbenchmarks over the built-in models' layer shapes + power loops,
#      fitted into experiments/results/h100_calibration.yaml;
#   2. `hwmap measure` of resnet50, segformer-b2, deit_small_patch16_224 and swin_tiny_patch4_window7_224 at
#      batch 1 and 8: real latency (median CUDA-event time) and energy (NVML) next to the calibrated estimate.
#      These end-to-end runs are held out: the fit only ever sees single-operator microbenchmarks.
#   3. a table of estimated vs measured latency and energy with the errors and the mean absolute percentage
#      errors (targets on an H100: latency MAPE <= 15%, energy MAPE <= 20%), also written to
#      experiments/results/gpu_check.csv. Exit status 1 when a target is missed.
#
# Installs nothing: it runs the already-installed hwmap (`pip install -e .`) with $PYTHON (default: python).
# Environment: PYTHON, DEVICE (default cuda:0), RESULTS (default experiments/results).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda:0}
RESULTS=${RESULTS:-experiments/results}
CALIBRATION="$RESULTS/h100_calibration.yaml"
MODELS=(resnet50 segformer-b2 deit_small_patch16_224 swin_tiny_patch4_window7_224)
BATCHES=(1 8)
mkdir -p "$RESULTS"

# The GPU commands register themselves on import; this works whether or not the CLI already imports them.
hwmap() { "$PYTHON" -c 'import sys, hwmap.cli.gpu_commands; from hwmap.cli import main; main(sys.argv[1:])' "$@"; }

started=$(date +%s)
echo "== hwmap calibrate --quick on $DEVICE -> $CALIBRATION"
hwmap calibrate --quick --device "$DEVICE" --out "$CALIBRATION"
echo "== calibration took $(( $(date +%s) - started )) s"

for model in "${MODELS[@]}"; do
  for batch in "${BATCHES[@]}"; do
    echo "== hwmap measure $model --batch $batch"
    hwmap measure "$model" --device "$DEVICE" --batch "$batch" --calibration "$CALIBRATION" --reps 30 \
      --energy-s 1.5 --json > "$RESULTS/measure_${model}_b${batch}.json"
  done
done
echo "== total $(( $(date +%s) - started )) s"

"$PYTHON" - "$RESULTS" "${MODELS[@]}" <<'PY'
import csv, json, sys
from pathlib import Path

results, models = Path(sys.argv[1]), sys.argv[2:]
rows = []
for model in models:
    for batch in (1, 8):
        data = json.loads((results / f"measure_{model}_b{batch}.json").read_text())
        lat, energy = data["latency"], data["energy"]
        rows.append({
            "model": model, "batch": batch, "device": data["device"].get("name", ""),
            "calibrated": data["calibrated"], "mode": data["mode"], "dtype": data["dtype"],
            "measured_latency_ms": lat["measured_ms"], "estimated_latency_ms": lat["estimated_ms"],
            "latency_error_pct": lat["error_pct"],
            "measured_energy_mj": energy["measured_mj"], "estimated_energy_mj": energy["estimated_mj"],
            "energy_error_pct": energy["error_pct"],
        })
lat_errors = [abs(r["latency_error_pct"]) for r in rows]
energy_errors = [abs(r["energy_error_pct"]) for r in rows if r["energy_error_pct"] is not None]
lat_mape = sum(lat_errors) / len(lat_errors)
energy_mape = sum(energy_errors) / len(energy_errors) if energy_errors else float("nan")

def fmt(value, spec):
    return "-" if value is None else format(value, spec)

header = f"{'model':32} {'b':>2} {'lat meas ms':>11} {'lat est ms':>10} {'err':>7} {'E meas mJ':>10} {'E est mJ':>9} {'err':>7}"
print(header)
print("-" * len(header))
for r in rows:
    print(f"{r['model']:32} {r['batch']:>2} {r['measured_latency_ms']:>11.3f} {r['estimated_latency_ms']:>10.3f} "
          f"{r['latency_error_pct']:>+6.1f}% {fmt(r['measured_energy_mj'], '>10.2f')} "
          f"{r['estimated_energy_mj']:>9.2f} {fmt(r['energy_error_pct'], '>+6.1f')}%")
print("-" * len(header))
print(f"latency MAPE {lat_mape:.1f}% (target <= 15%)   energy MAPE {energy_mape:.1f}% (target <= 20%)   "
      f"on {rows[0]['device']}")

out = results / "gpu_check.csv"
with out.open("w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    writer.writerow({"model": "MAPE", "latency_error_pct": round(lat_mape, 2), "energy_error_pct": round(energy_mape, 2)})
print(f"wrote {out}")
ok = lat_mape <= 15 and energy_errors and energy_mape <= 20
print("targets met" if ok else "TARGETS MISSED")
sys.exit(0 if ok else 1)
PY
