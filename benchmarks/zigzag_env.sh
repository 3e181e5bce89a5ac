#!/usr/bin/env bash
# Full ZigZag cross-check run (issue 9, item 6), in the background, logs under benchmarks/.zigzag-work/.
# Usage: benchmarks/zigzag_env.sh [extra bench_zigzag.py options]; the venv is created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/.zigzag-work
python benchmarks/bench_zigzag.py --models resnet50,deit_s --out benchmarks/.zigzag-work/resnet50_deit.csv "$@"
python benchmarks/bench_zigzag.py --models segformer_b0 --max-distinct 12 \
    --out benchmarks/.zigzag-work/segformer.csv "$@"
