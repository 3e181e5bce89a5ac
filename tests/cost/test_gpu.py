"""The GPU cost model: formulas, modes, invariants, priors vs calibration, and the paper's finding on SegFormer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import traced
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.cost.gpu import (
    attention_chains,
    estimate_gpu,
    fit_class_of,
    gpu_roofs,
    gpu_timeline,
    kernel_time_s,
)
from hwmap.cost.result import GraphCost
from hwmap.errors import HwmapError, TemplateError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware import load_accelerator
from hwmap.hardware.calibration import load_calibration
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Gemm, Zero

H100 = load_accelerator("h100_sxm")
CALIBRATION = Path(__file__).parents[1] / "data" / "gpu" / "h100_sxm.calibration.yaml"


def _gemm_graph(m: int, n: int, k: int) -> LayerGraph:
    """fc (Linear): a view, then addmm (m x k) @ (k x n) + bias."""
    x = TensorMeta((m, k), "float32", "input:0")
    w = TensorMeta((k, n), "float32", "param:fc.weight")
    b = TensorMeta((n,), "float32", "param:fc.bias")
    nodes = (
        Node(0, "aten.view.default", Zero(), OpClass.VIEW, "", "Net", (x,), (x,)),
        Node(1, "aten.addmm.default", Gemm(1, m, n, k), OpClass.LINEAR, "fc", "Linear", (b, x, w),
             (TensorMeta((m, n), "float32", ""),)),
    )
    return LayerGraph("net", ((m, k),), nodes, params=k * n + n, param_bytes=4 * (k * n + n), buffer_bytes=0)


def test_one_gemm_by_hand() -> None:
    cost = estimate_gpu(_gemm_graph(4096, 4096, 4096), H100)
    # h100_sxm priors, linear: compute_eff 0.7, memory_eff 0.8, half saturation 1e6, launch 3 us, host 9 us;
    # a Python-level view 1.5 us; module calls 2 us each (the root Net, then fc).
    flops = 2 * 4096 ** 3
    w = 4096 * 4096
    compute_s = flops / (989.4e12 * 0.7 * (w / (w + 1e6)))  # 210.3 us
    bytes_ = 2 * (3 * 4096 * 4096 + 4096)  # fp16: A, B, C and the bias
    memory_s = bytes_ / (3350e9 * 0.8)  # 37.6 us < compute: compute-bound
    kernel_s = max(compute_s, memory_s) + 3e-6
    host_s = 2e-6 + 1.5e-6 + 2e-6 + 9e-6  # root module, view, fc module, addmm
    assert cost.layers.latency_s[0] == 0.0  # the view: no kernel, no latency of its own
    assert cost.layers.latency_s[1] == pytest.approx(host_s + kernel_s)
    assert cost.latency_ms == pytest.approx((host_s + kernel_s) * 1e3)
    # the L2 level: the working set (100.7 MB) is 1.92x the 50 MiB L2, so 8% of the activations (A and C; the
    # weight and bias are parameters, always from DRAM) stay in L2; memory stays far below compute either way
    resident = 2 - bytes_ / (50 * 2**20)
    activations = 2 * 2 * 4096 * 4096
    assert cost.layers.dram_bytes[1] == pytest.approx(bytes_ - resident * activations) == cost.dram_bytes
    assert 0.07 < resident < 0.09
    # idle 100 W x latency; dynamic 0.9 x (700 - 100) W x full-rate time (compute at the saturated rate)
    assert cost.layers.energy_terms_pj["idle"][1] == pytest.approx(100 * (host_s + kernel_s) * 1e12)
    assert cost.layers.energy_terms_pj["dynamic"][1] == pytest.approx(540 * flops / (989.4e12 * 0.7) * 1e12)
    assert cost.settings["kernels"] == 1


def test_estimate_from_priors_is_a_graph_cost_that_says_it_is_uncalibrated() -> None:
    graph = traced("resnet50")
    cost = estimate_gpu(graph, H100)
    assert isinstance(cost, GraphCost) and cost.kind == "gpu" and cost.accelerator == "h100_sxm"
    assert cost.settings["calibrated"] is False and cost.settings["calibration"] is None
    assert cost.notes[0].startswith("uncalibrated:")
    assert set(cost.energy_terms_mj) == set(cost.layers.energy_terms_pj) == {"idle", "dynamic"}
    assert np.all(cost.layers.stall_cycles == 0) and cost.stall_cycles == 0
    assert cost.freq_mhz == 1980
    # whole cycles: each layer's latency at the 1980 MHz boost clock, rounded up; the latency itself is not rounded
    over = cost.layers.cycles - cost.layers.latency_s * 1980e6
    assert cost.layers.cycles.dtype == np.int64 and (over > -1e-6).all() and (over < 1).all()
    assert cost.latency_ms == pytest.approx(float(cost.layers.latency_s.sum()) * 1e3, rel=1e-12)
    assert len(cost.layers) == len(graph.nodes)
    assert cost.macs == graph.total_macs
    assert 0.1 < cost.latency_ms < 100 and cost.energy_mj > 0
    assert cost.to_dict(layers=False)["settings"]["mode"] == "eager"


def test_views_cost_nothing_and_launch_no_kernel() -> None:
    graph = traced("deit_small_patch16_224")
    for mode in ("eager", "auto", "compiled"):
        timeline = gpu_timeline(graph, H100, mode=mode)
        views = np.array([isinstance(n.work, Zero) for n in graph.nodes])
        assert views.any()
        for column in (timeline.latency_s, timeline.kernel_s, timeline.launches, timeline.dram_bytes,
                       timeline.idle_energy_j, timeline.dynamic_energy_j):
            assert np.all(column[views] == 0)
        assert timeline.total_latency_s == pytest.approx(float(timeline.latency_s.sum()))


def test_a_calibration_drives_the_estimate() -> None:
    graph = traced("resnet50")
    calibration = load_calibration(CALIBRATION)
    cost = estimate_gpu(graph, H100, calibration=calibration)
    assert cost.settings["calibrated"] is True and cost.settings["calibration"] == str(CALIBRATION)
    assert cost.settings["idle_power_w"] == 112.0
    assert not any(note.startswith("uncalibrated") for note in cost.notes)
    assert cost.latency_ms != pytest.approx(estimate_gpu(graph, H100).latency_ms)
    with pytest.raises(HwmapError, match="fitted against template 'h100_sxm', not 'a100_sxm'"):
        estimate_gpu(graph, load_accelerator("a100_sxm"), calibration=calibration)


def test_dtype_and_tf32_pick_the_compute_roof() -> None:
    assert gpu_roofs(H100, dtype="fp16").tensor_flops_per_s == pytest.approx(989.4e12)
    assert gpu_roofs(H100, dtype="fp32", tf32=True).tensor_flops_per_s == pytest.approx(494.7e12)
    fp32 = gpu_roofs(H100, dtype="fp32", tf32=False)
    assert fp32.tensor_flops_per_s == pytest.approx(66.9e12) and fp32.tensor_label == "fp32 CUDA cores"
    assert gpu_roofs(H100, dtype="fp8").tensor_flops_per_s == pytest.approx(1978.9e12)
    v100 = load_accelerator("v100")
    roofs = gpu_roofs(v100, dtype="fp32", tf32=True)
    assert roofs.tensor_flops_per_s == pytest.approx(15.7e12) and "no TF32" in roofs.notes[0]
    with pytest.raises(HwmapError, match="v100 has no bf16 tensor cores"):
        gpu_roofs(v100, dtype="bf16")
    # deit: no 3x3 stride-1 convolution, so no algorithm switch with the roof (conv_algorithm) changes the bytes
    graph = traced("deit_small_patch16_224")
    fp16, fp32 = estimate_gpu(graph, H100, dtype="fp16"), estimate_gpu(graph, H100, dtype="fp32", tf32=False)
    assert fp32.dram_bytes == pytest.approx(2 * fp16.dram_bytes)
    assert fp32.settings["kernel_s"] > fp16.settings["kernel_s"]


def test_execution_modes_fuse_what_they_document() -> None:
    deit = traced("deit_small_patch16_224")  # timm calls F.scaled_dot_product_attention
    swin = traced("swin_tiny_patch4_window7_224")  # timm's Swin runs explicit matmul + softmax
    chains = attention_chains(deit)
    assert len(chains) == 12 and all(c.sdpa_origin for c in chains)
    assert (chains[0].batch, chains[0].q_len, chains[0].kv_len, chains[0].head_dim) == (6, 197, 197, 64)
    assert len(attention_chains(swin)) == 12 and not any(c.sdpa_origin for c in attention_chains(swin))
    kernels = {mode: estimate_gpu(deit, H100, mode=mode).settings["kernels"] for mode in
               ("eager", "auto", "sdpa", "compiled")}
    # deit: SDPA's decomposition (scale q, scale k, QK^T, softmax, AV) becomes one kernel per block
    assert kernels["eager"] - kernels["auto"] == 12 * 4
    assert kernels["sdpa"] == kernels["auto"] > kernels["compiled"]
    swin_eager = estimate_gpu(swin, H100, mode="eager").settings
    assert estimate_gpu(swin, H100, mode="auto").settings["kernels"] == swin_eager["kernels"]
    sdpa = estimate_gpu(swin, H100, mode="sdpa").settings
    assert sdpa["fused_attention"] == 12 and sdpa["kernels"] < swin_eager["kernels"]


def test_compiled_mode_fuses_relu_and_residual_adds_into_the_batch_norm_kernels() -> None:
    """Inductor calls cuDNN for every convolution (no epilogue): each batch norm starts a generated kernel that the
    ReLU after it joins, and so does a residual add whose input is that batch norm's output."""
    graph = traced("resnet50")
    timeline = gpu_timeline(graph, H100, mode="compiled")
    classes = [fit_class_of(n) for n in graph.nodes]
    launched = {cls: [int(timeline.launches[p]) for p, c in enumerate(classes) if c == cls] for cls in set(classes)}
    assert launched["batch_norm"] == [1] * 53 and launched["conv_pointwise"] + launched["conv_dense"] == [1] * 53
    assert launched["activation"] == [0] * 49  # every ReLU
    # 16 residual adds: 12 follow their block's last batch norm; in the 4 downsampling blocks the shortcut's batch
    # norm runs between them and the add joins that kernel (its second input is the shortcut's output; Inductor
    # fuses a consumer whichever argument its producer feeds), reading the block's output as an external input
    assert launched["elementwise"] == [0] * 16
    assert timeline.fused_pointwise == 49 + 16
    for p, cls in enumerate(classes):
        if cls == "activation":
            assert timeline.host_s[p] == 0
    eager = gpu_timeline(graph, H100, mode="eager")
    assert timeline.total_latency_s < eager.total_latency_s


@pytest.mark.parametrize("mode", ["eager", "auto", "compiled"])
def test_a_bigger_batch_is_never_faster(mode: str) -> None:
    small = estimate_gpu(traced("resnet50"), H100, mode=mode)
    big = estimate_gpu(traced("resnet50", batch=8), H100, mode=mode)
    assert big.latency_ms >= small.latency_ms and big.energy_mj > small.energy_mj
    assert big.macs == 8 * small.macs


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 4096), n=st.integers(1, 4096), k=st.integers(1, 4096),
       eff=st.floats(0.05, 1.0), mem=st.floats(0.05, 2.0), half=st.floats(1.0, 1e8))
def test_kernel_time_grows_with_the_batch(m, n, k, eff, mem, half) -> None:
    def time(rows: int) -> float:
        return float(kernel_time_s(2 * rows * n * k, 2 * (rows * k + k * n + rows * n), rows * n,
                                   peak_flops_per_s=989.4e12, bandwidth_bytes_per_s=3.35e12, compute_eff_frac=eff,
                                   memory_eff_frac=mem, half_saturation_elements=half, launch_overhead_s=3e-6))
    assert time(2 * m) >= time(m) * (1 - 1e-12)


def test_segformer_time_shares_differ_from_mac_shares_in_the_documented_direction() -> None:
    """The paper's finding: on a GPU, attention and norms take a larger share of time than of MACs (they run far
    below the tensor-core peak), convolutions and linear layers a smaller one."""
    cost = estimate_gpu(traced("segformer-b2"), H100)
    shares = cost.shares_by("op-group")
    for group in ("attention", "normalization"):
        assert shares[group]["cycles"] > shares[group]["macs"], (group, shares[group])
    assert shares["normalization"]["macs"] == 0 and shares["normalization"]["cycles"] > 0.02
    assert shares["attention"]["cycles"] > 1.5 * shares["attention"]["macs"]
    assert shares["conv"]["cycles"] < shares["conv"]["macs"]
    by_class = cost.shares_by("op-class")
    assert by_class["attention.softmax"]["cycles"] > 0 == by_class["attention.softmax"]["macs"]


def test_wrong_inputs_are_clear_errors() -> None:
    graph = traced("resnet50")
    with pytest.raises(TemplateError, match="not 'gpu'"):
        estimate_gpu(graph, load_accelerator("systolic16x16"))
    with pytest.raises(HwmapError, match="unknown GPU execution mode"):
        estimate_gpu(graph, H100, mode="graph")  # type: ignore[arg-type]
    with pytest.raises(HwmapError, match="unknown GPU dtype"):
        estimate_gpu(graph, H100, dtype="fp64")  # type: ignore[arg-type]


def test_every_gpu_template_estimates(tmp_path: Path) -> None:
    graph = traced("resnet50")
    for name in ("h100_sxm", "h200_sxm", "a100_sxm", "v100", "titan_v", "rtx4090", "jetson_orin"):
        cost = estimate_gpu(graph, load_accelerator(name))
        assert cost.latency_ms > 0 and cost.energy_mj > 0
    assert estimate_gpu(graph, load_accelerator("jetson_orin")).latency_ms > \
        estimate_gpu(graph, load_accelerator("h100_sxm")).latency_ms
