"""hwmap.cost.vector on hand-computed cases: the SIMD unit's cycles and the MAGNet-like vector-PE GEMM mapping
(cycles, buffer accesses, the depthwise utilisation its docstring states), column by column as dispatch calls it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwmap.cost.dispatch import estimate_graph
from hwmap.cost.vector import ceil_div, vector_pe_gemm, vector_unit_cycles
from hwmap.hardware import load_accelerator
from hwmap.ops.work import Gemm
from tests.cost.test_dispatch import _single_layer_graph


def _column(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_ceil_div_rounds_up_and_keeps_exact_quotients():
    assert ceil_div(_column(0, 1, 7, 8, 9), 8).tolist() == [0, 1, 1, 1, 2]
    assert ceil_div(2**62 + 1, 2**31).tolist() == 2**31 + 1  # integer arithmetic: no float rounding at int64 sizes


def test_vector_unit_cycles_is_ops_over_lane_throughput_rounded_up():
    # 16 lanes x 4 ops per lane-cycle = 64 ops per cycle
    cycles = vector_unit_cycles(_column(0, 1, 64, 65, 1000), lanes=16, ops_per_cycle_per_lane=4)
    assert cycles.dtype == np.float64
    assert cycles.tolist() == [0.0, 1.0, 1.0, 2.0, 16.0]  # 1000 / 64 = 15.6 -> 16
    # large counts stay exact: 2**40 ops at 64 per cycle is 2**34 cycles
    assert vector_unit_cycles(_column(2**40), lanes=32, ops_per_cycle_per_lane=2).tolist() == [2.0**34]


def test_vector_pe_gemm_ragged_case_by_hand():
    # m = 10 pixels over 4 PEs -> 3 per PE; n = 20 over 8 lanes -> 3 lane groups; k = 50 in 16-wide vectors -> 4 steps
    got = vector_pe_gemm(_column(1), _column(10), _column(20), _column(50), num_pes=4, lanes=8, vector_width=16)
    assert got.compute_cycles.dtype == np.float64
    assert got.compute_cycles.tolist() == [36.0]  # 1 x 3 x 3 x 4
    assert got.input_buffer_reads.tolist() == [1500]  # m k = 500 inputs, read once per lane group (3)
    assert got.weight_buffer_reads.tolist() == [4000]  # 4 busy PEs each load all n k = 1000 weights
    assert got.accumulation_writes.tolist() == [800]  # m n = 200 partial sums, written at each of 4 vector steps
    assert got.accumulation_reads.tolist() == [600]  # ... and read back at every step after the first
    assert got.global_buffer_reads.tolist() == [1500]  # m k + n k: inputs and weights once each (multicast)
    assert got.global_buffer_writes.tolist() == [200]  # the outputs


def test_vector_pe_gemm_divisible_case_keeps_every_mac_busy():
    batch, m, n, k, pes, lanes, width = 2, 8, 16, 32, 4, 8, 16
    got = vector_pe_gemm(_column(batch), _column(m), _column(n), _column(k), num_pes=pes, lanes=lanes,
                         vector_width=width)
    assert got.compute_cycles.tolist() == [16.0]  # 2 x (8/4) x (16/8) x (32/16)
    assert got.compute_cycles[0] * pes * lanes * width == batch * m * n * k  # 16 x 512 = 8192 MACs: utilisation 1


def test_vector_pe_gemm_depthwise_uses_one_lane_and_partial_vectors():
    # a 3x3 depthwise conv over 32 channels at 56x56: 32 groups with n = 1, k = 9 taps, m = 3136 pixels
    batch, m, n, k, pes, lanes, width = 32, 56 * 56, 1, 9, 16, 8, 8
    got = vector_pe_gemm(_column(batch), _column(m), _column(n), _column(k), num_pes=pes, lanes=lanes,
                         vector_width=width)
    assert got.compute_cycles.tolist() == [12544.0]  # 32 x 196 pixels per PE x 1 lane group x 2 vector steps
    utilisation = batch * m * n * k / (got.compute_cycles[0] * pes * lanes * width)
    assert utilisation == 1 / lanes * k / (2 * width) == 0.0703125  # the docstring's 1/lanes x taps/(steps x width)
    assert got.accumulation_writes.tolist() == [200704] and got.accumulation_reads.tolist() == [100352]


def test_vector_pe_gemm_one_vector_step_needs_no_accumulation_reads():
    got = vector_pe_gemm(_column(1), _column(3), _column(5), _column(8), num_pes=16, lanes=8, vector_width=8)
    assert got.accumulation_reads.tolist() == [0] and got.accumulation_writes.tolist() == [15]
    assert got.weight_buffer_reads.tolist() == [3 * 5 * 8]  # only 3 of the 16 PEs get a pixel, each loads the weights
    assert got.compute_cycles.tolist() == [1.0]


def test_vector_pe_gemm_columns_are_independent_layers():
    dims = [(1, 10, 20, 50), (2, 8, 16, 32), (32, 3136, 1, 9), (3, 7, 1, 100)]
    batch, m, n, k = (_column(*axis) for axis in zip(*dims, strict=True))
    together = vector_pe_gemm(batch, m, n, k, num_pes=4, lanes=8, vector_width=16)
    for i, layer in enumerate(dims):
        alone = vector_pe_gemm(*(_column(v) for v in layer), num_pes=4, lanes=8, vector_width=16)
        for field in dataclasses.fields(together):
            assert getattr(together, field.name)[i] == getattr(alone, field.name)[0], (layer, field.name)


@pytest.mark.parametrize(("m", "n", "k"), [(196, 160, 96), (1, 1000, 512), (3136, 64, 27)])
def test_estimate_on_a_vector_pe_template_uses_this_mapping(m, n, k):
    accel = load_accelerator("magnet16pe_v8")
    pe = accel.vector_pe.pe_array
    assert (pe.num_pes, pe.lanes, pe.vector_width) == (16, 8, 8)
    hand = {(196, 160, 96): 13 * 20 * 12, (1, 1000, 512): 1 * 125 * 64, (3136, 64, 27): 196 * 8 * 4}[(m, n, k)]
    cost = estimate_graph(_single_layer_graph(Gemm(1, m, n, k)), accel)
    assert cost.layers.compute_cycles[0] == hand
