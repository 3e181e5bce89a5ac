"""Calibration planning and microbenchmark construction (no GPU needed), profiler attribution, materialisation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from conftest import traced

from hwmap.calibrate.bench import (
    build_callable,
    cases_from_graph,
    materialize,
    module_kernel_times,
    parse_device,
    plan_calibration,
    require_cuda,
    synthetic_cases,
)
from hwmap.calibrate.meter import NoCudaError
from hwmap.errors import HwmapError
from hwmap.hardware import load_accelerator
from hwmap.hardware.gpu_schema import FIT_CLASSES

H100 = load_accelerator("h100_sxm")


def _graphs():
    graphs = [traced(m, batch=b) for m in ("resnet50", "deit_small_patch16_224", "swin_tiny_patch4_window7_224")
              for b in (1, 8)]
    return graphs + [traced("segformer-b2")]


def test_plan_covers_every_class_dedupes_shapes_and_fits_the_quick_budget() -> None:
    graphs = _graphs()
    plan = plan_calibration(graphs, quick=True, accel=H100)
    classes = {c.fit_class for c in plan.cases}
    assert classes == set(FIT_CLASSES)
    assert len({c.key for c in plan.cases}) == len(plan.cases)  # deduplicated
    per_class = {cls: sum(1 for c in plan.cases if c.fit_class == cls and c.label != "synthetic")
                 for cls in FIT_CLASSES}
    assert max(per_class.values()) <= 20
    assert {c.fit_class for c in plan.power_cases} == set(FIT_CLASSES)  # one power loop per class
    assert all(c.fit_class == "attention_fused" for c in plan.cases if c.attention is not None)
    # --quick must finish in under 6 minutes on an H100: measurement is planned well below that
    assert plan.estimated_s < 120
    assert "microbenchmarks over 14 kernel classes" in plan.describe()
    full = plan_calibration(graphs, quick=False, accel=H100)
    assert len(full.cases) > len(plan.cases) and full.power_loop_s >= 2 and plan.power_loop_s >= 1


def test_cases_carry_the_models_features() -> None:
    graph = traced("deit_small_patch16_224")
    cases = cases_from_graph(graph)
    fused = [c for c in cases if c.fit_class == "attention_fused"]
    assert len(fused) == 12 and fused[0].attention == (6, 197, 197, 64, 64)
    # 2 GEMMs of 6 x 197 x 197 x 64 MACs, 2 FLOPs per MAC
    assert fused[0].flops == 2 * 2 * 6 * 197 * 197 * 64
    assert all(c.label == graph.model for c in cases)


def test_every_small_microbenchmark_runs_and_produces_the_operator_shape() -> None:
    small = [c for c in plan_calibration(_graphs(), quick=True, accel=H100).cases if c.flops < 3e8 and c.bytes_ < 2e7]
    cases = [c for cls in FIT_CLASSES for c in [c for c in small if c.fit_class == cls][:8]]
    assert len({c.fit_class for c in cases}) == len(FIT_CLASSES)
    checked = 0
    for case in cases:
        out = build_callable(case, torch.device("cpu"), torch.float32)()
        assert out is not None, case
        single = case.outputs and not case.op.startswith(("aten.native_layer_norm", "aten.max_pool2d_with",
                                                          "aten.native_batch_norm", "aten.mean",
                                                          "aten.addmm", "aten.mm"))
        if single and isinstance(out, torch.Tensor):
            assert tuple(out.shape) == tuple(case.outputs[0].shape), (case.fit_class, case.op)
            checked += 1
    assert checked > 30


def test_synthetic_cases_span_small_and_large_kernels() -> None:
    cases = synthetic_cases()
    for cls in FIT_CLASSES:
        sizes = [c.elements for c in cases if c.fit_class == cls]
        assert sizes, cls
        if cls != "conv_grouped":
            assert max(sizes) / min(sizes) >= 50, cls


def _event(name, total_us, children=(), device_type="DeviceType.CPU"):
    return SimpleNamespace(name=name, device_time_total=total_us, cpu_children=list(children),
                           device_type=device_type)


def test_profiler_time_is_attributed_to_the_innermost_module() -> None:
    p = "hwmap.module::"
    conv = _event(p + "layer1.conv", 300.0)
    relu_op = _event("aten::relu", 50.0)
    block = _event(p + "layer1", 420.0, [conv, relu_op])  # 300 in conv, 120 of its own (incl. the relu)
    root = _event(p + "<root>", 500.0, [block, _event("aten::add", 80.0)])
    gpu_side = _event(p + "layer1", 999.0, device_type="DeviceType.CUDA")  # the GPU copy of the range: ignored
    times = module_kernel_times([root, block, conv, relu_op, gpu_side], iterations=2)
    assert times == pytest.approx({"<root>": 40e-6, "layer1": 60e-6, "layer1.conv": 150e-6})


def test_materialize_gives_a_working_module_with_initialised_buffers() -> None:
    from hwmap.graph.sources import build_model

    swin = materialize(build_model("swin_tiny_patch4_window7_224").module, torch.device("cpu"), torch.float32)
    index = swin.layers[0].blocks[0].attn.relative_position_index
    assert int(index.max()) == (2 * 7 - 1) ** 2 - 1  # recomputed by init_non_persistent_buffers, not garbage
    assert all(torch.isfinite(p).all() for p in swin.parameters())
    resnet = materialize(build_model("resnet18").module, torch.device("cpu"), torch.float32)
    assert torch.equal(resnet.bn1.running_var, torch.ones(64))
    with torch.inference_mode():
        out = resnet(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


def test_devices_are_checked() -> None:
    assert parse_device("cuda") == 0 and parse_device("cuda:3") == 3
    with pytest.raises(HwmapError, match="expected cuda or cuda:N"):
        parse_device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(NoCudaError, match="CUDA is not available") as info:
            require_cuda("cuda:0", command="measure")
        assert "\n" not in str(info.value) and "`hwmap measure` needs an NVIDIA GPU" in str(info.value)
