"""problem_of: convs (strides, dilation, groups, batch, halos) and GEMMs as the 8-dim loop problem."""

from __future__ import annotations

import pytest

from hwmap.cost.multilevel import LoopProblem, problem_of
from hwmap.errors import HwmapError
from hwmap.ops.work import Conv, Gemm


def _conv(**kw):
    base = dict(batch=2, in_channels=8, out_channels=16, in_spatial=(9, 9), out_spatial=(4, 4), kernel=(3, 3),
                stride=(2, 2), padding=(0, 0), dilation=(1, 1), groups=1)
    return Conv(**{**base, **kw})


def test_conv():
    p = problem_of(_conv())
    assert (p.B, p.G, p.K, p.C, p.OY, p.OX, p.FY, p.FX, p.stride_y, p.dilation_y) == (2, 1, 16, 8, 4, 4, 3, 3, 2, 1)
    assert p.macs == 2 * 16 * 8 * 16 * 9 == _conv().gemm.macs
    # input extent: (O - 1) * stride + (F - 1) * dilation + 1 = 9 rows and columns, per image and channel
    assert p.elements("input") == 2 * 8 * 9 * 9
    assert p.elements("weight") == 16 * 8 * 9 and p.elements("output") == 2 * 16 * 16


def test_depthwise_dilated_conv():
    p = problem_of(_conv(in_channels=8, out_channels=8, groups=8, dilation=(2, 2), in_spatial=(12, 12)))
    assert (p.G, p.K, p.C, p.dilation_x) == (8, 1, 1, 2)
    assert p.elements("input") == 2 * 8 * 11 * 11  # (4 - 1) * 2 + (3 - 1) * 2 + 1 = 11


def test_strided_pointwise_touches_only_its_pixels():
    p = problem_of(_conv(kernel=(1, 1), in_spatial=(8, 8)))
    assert p.elements("input") == 2 * 8 * 4 * 4  # stride 2 skips every other row and column
    g = p.canonical()
    assert (g.B, g.OY, g.OX, g.stride_y) == (1, 2 * 4 * 4, 1, 1) and g.elements("input") == p.elements("input")


def test_gemm_and_batched_matmul():
    p = problem_of(Gemm(batch=12, m=197, n=64, k=197))
    assert (p.G, p.K, p.C, p.OY, p.OX, p.FY) == (12, 64, 197, 197, 1, 1) and p.macs == 12 * 197 * 64 * 197
    assert p == LoopProblem.gemm(197, 64, 197, batch=12, name="layer")


def test_transposed_conv_is_its_gemm_view():
    work = _conv(transposed=True, in_spatial=(4, 4), out_spatial=(9, 9))
    p = problem_of(work)
    assert (p.K, p.C, p.OY) == (work.gemm.n, work.gemm.k, work.gemm.m)


def test_not_gemm_like_and_bad_sizes():
    with pytest.raises(HwmapError, match="is not a conv or GEMM"):
        problem_of(object())
    with pytest.raises(HwmapError, match=r"loop problem field K = 0; expected an integer >= 1"):
        LoopProblem(K=0)
