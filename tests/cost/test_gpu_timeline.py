"""One GPU timeline: the estimate's latency equals the table calibration's predicted step time for the same
coefficients, on convolutional, depthwise and attention models, several cards, every mode, with and without AMP."""

from __future__ import annotations

import pytest
from conftest import traced

from hwmap.calibrate.table import CoefficientArrays, predict_step_s, timeline_plan
from hwmap.cost.gpu import coefficients, estimate_gpu
from hwmap.hardware import load_accelerator

MODELS = (("resnet18", 2, 64), ("timm:convnext_atto", 2, 64), ("timm:vit_tiny_patch16_224", 2, 224),
          ("timm:efficientnet_b0", 2, 64))
CARDS = ("rtx3090", "a100_sxm", "jetson_orin", "h100_sxm")


@pytest.fixture(scope="module")
def graphs():
    return {spec: traced(spec, batch, size) for spec, batch, size in MODELS}


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("mode", ["eager", "auto", "compiled"])
@pytest.mark.parametrize("amp", [False, True])
def test_estimate_latency_equals_the_calibration_plans_step_time(graphs, card: str, mode: str, amp: bool) -> None:
    accel = load_accelerator(card)
    coef = CoefficientArrays.from_coefficients(coefficients(accel))
    for spec, graph in graphs.items():
        estimated_s = estimate_gpu(graph, accel, mode=mode, amp=amp).latency_ms / 1e3
        planned_s = predict_step_s(timeline_plan(graph, accel, mode=mode, amp=amp), coef)
        assert estimated_s > 0
        assert planned_s == pytest.approx(estimated_s, rel=1e-12), spec
