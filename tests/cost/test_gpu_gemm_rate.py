"""The GPU model's large-GEMM rate on half-rate FP32-accumulate parts against published torch.matmul measurements.

The linear class's prior on these parts (compute_eff 0.95, hwmap.hardware.gpu_schema "Priors by architecture
generation") is set from these measurements, not from timm's model tables: square FP16 GEMMs timed with
torch.matmul by users of https://github.com/zzc0721/torch-performance-test-data (one issue per card, PyTorch 2.7-2.8,
CUDA 12.8) and https://github.com/mli/transformers-benchmarks (issue #4, PyTorch 2.0, CUDA 12.0).
Also behind the prior, with no template here to test: an RTX 3080 10GB (GA102, the 3090's chip) at 63.94 / 64.10
TFLOP/s for sides 8192 / 10240 (zzc0721/torch-performance-test-data#114, PyTorch 2.1.2), 1.08 x its rated 59.5.
"""

from __future__ import annotations

import functools
import statistics

import pytest
import torch

from hwmap.api import extract_graph
from hwmap.cost.gpu import gpu_timeline
from hwmap.hardware import load_accelerator

# card -> (source, matrix side, measured FP16 TFLOP/s); sides 4096-10240 (smaller ones do not fill the card)
LARGE_GEMM_MEASUREMENTS = {
    "rtx4090": [
        ("zzc0721/torch-performance-test-data#78", 4096, 168.38),
        ("zzc0721/torch-performance-test-data#78", 8192, 155.50),
        ("zzc0721/torch-performance-test-data#78", 10240, 156.88),
        ("mli/transformers-benchmarks#4", 8192, 158.596),
    ],
    "rtx5090": [
        ("zzc0721/torch-performance-test-data#96", 4096, 181.21),
        ("zzc0721/torch-performance-test-data#96", 8192, 233.99),
        ("zzc0721/torch-performance-test-data#96", 10240, 234.63),
        ("zzc0721/torch-performance-test-data#124", 4096, 217.99),
        ("zzc0721/torch-performance-test-data#124", 8192, 223.98),
        ("zzc0721/torch-performance-test-data#124", 10240, 220.03),
        ("zzc0721/torch-performance-test-data#200", 4096, 140.24),
        ("zzc0721/torch-performance-test-data#200", 8192, 172.79),
        ("zzc0721/torch-performance-test-data#200", 10240, 179.02),
    ],
}
SIDE = 8192


@functools.cache
def _gemm_graph():
    return extract_graph(torch.nn.Linear(SIDE, SIDE, bias=False), input_shape=(1, 1, SIDE), batch=SIDE, cache=False)


def _model_tflops(template: str) -> float:
    """hwmap's FP16 rate for one SIDE x SIDE x SIDE matmul: a bias-free Linear over the last axis of a 1 x 1 x SIDE
    input, SIDE of them in the batch (eager, no AMP)."""
    timeline = gpu_timeline(_gemm_graph(), load_accelerator(template), mode="eager", dtype="fp16")
    assert [c for c in timeline.fit_classes if c] == ["linear"]
    return 2 * SIDE ** 3 / float(timeline.kernel_s.sum()) / 1e12


@pytest.mark.parametrize("template", sorted(LARGE_GEMM_MEASUREMENTS))
def test_large_gemm_rate_lies_within_the_published_measurements(template):
    measured = [tflops for _, _, tflops in LARGE_GEMM_MEASUREMENTS[template]]
    rate = _model_tflops(template)
    # 4090: 155.5-168.4 TFLOP/s measured, the model 160.0 (0.95 x 1.036 x 165.2, less the wave tail s(w) and the
    # launch); at the earlier 0.90, 151.6: below every report. 5090: 140-235 measured (one user's card far below
    # the others), the model 201.8.
    assert min(measured) <= rate <= max(measured)


def test_large_gemm_rate_is_near_the_middle_of_the_reports_relative_to_the_rated_peak():
    """Over both cards, measured / rated FP32-accumulate peak at sides 8192-10240 spans 0.83-1.12, median 0.96; the
    model's ratio (0.97 on both cards) is within 3% of that median, where compute_eff 0.90 (0.92) was 4.5% below it
    and 1.0 would be 6% above."""
    ratios, model = [], []
    for template, rows in LARGE_GEMM_MEASUREMENTS.items():
        rated = load_accelerator(template).spec.peak.fp16_tensor_tflops
        ratios += [tflops / rated for _, side, tflops in rows if side >= 8192]
        model.append(_model_tflops(template) / rated)
    assert 0.82 < min(ratios) and max(ratios) < 1.13
    for ratio in model:
        assert ratio == pytest.approx(statistics.median(ratios), rel=0.03)
