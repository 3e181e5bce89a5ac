"""PyTorch's fused SDPA kernels take 4-D q/k/v only (sdp_utils_cpp.h, check_tensor_shapes): a model that calls
F.scaled_dot_product_attention on 5-D windows (Twins-SVT's locally-grouped attention) runs SDPA's math path, its
QK^T GEMM, softmax and AV GEMM as separate kernels, in every GPU mode."""

from __future__ import annotations

import pytest
from conftest import traced

from hwmap.cost.gpu import attention_chains, gpu_timeline
from hwmap.hardware import load_accelerator

RTX3090 = load_accelerator("rtx3090")
BATCH, WINDOWS, TOKENS, HEADS, HEAD_DIM = 2, 4, 49, 2, 32


def _window_attention(five_d: bool):
    """Windows of 49 tokens (dim 64, 2 heads of 32): SDPA on (B, windows, heads, N, hd), or on (B x windows, heads,
    N, hd) after a reshape."""
    import torch
    import torch.nn.functional as F

    class WindowAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = torch.nn.Linear(HEADS * HEAD_DIM, 3 * HEADS * HEAD_DIM)

        def forward(self, x):
            b, w, n, _ = x.shape
            qkv = self.qkv(x).reshape(b, w, n, 3, HEADS, HEAD_DIM).permute(3, 0, 1, 4, 2, 5)
            if not five_d:
                qkv = qkv.reshape(3, b * w, HEADS, n, HEAD_DIM)
            q, k, v = qkv.unbind(0)
            return F.scaled_dot_product_attention(q, k, v)

    from hwmap.api import extract_graph

    example = torch.randn(BATCH, WINDOWS, TOKENS, HEADS * HEAD_DIM)
    return extract_graph(WindowAttention(), example_inputs=(example,), cache=False)


@pytest.mark.parametrize("five_d", [True, False])
def test_sdpa_fuses_only_4d_attention(five_d: bool) -> None:
    graph = _window_attention(five_d)
    (chain,) = attention_chains(graph)
    assert chain.sdpa_origin
    # batch x windows x heads attention problems of 49 x 49 tokens, head dim 32, whatever the rank
    assert (chain.batch, chain.q_len, chain.kv_len, chain.head_dim) == (BATCH * WINDOWS * HEADS, TOKENS, TOKENS,
                                                                        HEAD_DIM)
    assert chain.four_d is not five_d
    eager = gpu_timeline(graph, RTX3090, mode="eager")
    for mode in ("auto", "sdpa", "compiled"):
        timeline = gpu_timeline(graph, RTX3090, mode=mode)
        assert timeline.fused_attention == (0 if five_d else 1)
    auto = gpu_timeline(graph, RTX3090, mode="auto")
    if five_d:  # the math path: exactly eager's kernels and time
        assert auto.kernels == eager.kernels
        assert auto.total_latency_s == pytest.approx(eager.total_latency_s, rel=1e-12)
    else:
        assert auto.kernels < eager.kernels


def test_twins_svt_fuses_its_global_attention_but_not_its_5d_windows() -> None:
    graph = traced("timm:twins_svt_small")
    chains = attention_chains(graph)
    # depths (2, 2, 10, 4), blocks alternate locally-grouped (5-D windows) and global sub-sampled (4-D) attention
    assert len(chains) == 18 and all(c.sdpa_origin for c in chains)
    windows = [c for c in chains if not c.four_d]
    assert len(windows) == 9
    # a 224 x 224 image: stage 1 has 56 x 56 tokens in 64 windows of 7 x 7, 2 heads of 32
    assert (windows[0].batch, windows[0].q_len, windows[0].head_dim) == (64 * 2, 49, 32)
    assert gpu_timeline(graph, RTX3090, mode="auto").fused_attention == 9
