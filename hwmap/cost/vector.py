"""Vector compute: the SIMD unit every template has for non-GEMM work, and the MAGNet-like vector-PE array.

Pure functions over numpy columns (one entry per layer), so a sweep over templates is a loop over arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def ceil_div(a, b):
    return -(-np.asarray(a) // np.asarray(b))


def vector_unit_cycles(vector_ops: np.ndarray, *, lanes: int, ops_per_cycle_per_lane: int) -> np.ndarray:
    """Cycles of the SIMD unit: ceil(ops / (lanes x ops per cycle per lane)).

    Assumes: every vector op (add, multiply, compare, exp step) takes one lane-cycle and the unit is fully
    pipelined; element counts are large enough that partial last vectors do not matter (the ceil keeps them).
    """
    return ceil_div(vector_ops, lanes * ops_per_cycle_per_lane).astype(np.float64)


@dataclass(frozen=True)
class VectorPEMapping:
    """Cycles and buffer accesses of GEMMs on a MAGNet-like vector-PE array (per layer columns)."""

    compute_cycles: np.ndarray
    input_buffer_reads: np.ndarray  # elements
    weight_buffer_reads: np.ndarray  # elements
    accumulation_reads: np.ndarray  # partial sums
    accumulation_writes: np.ndarray
    global_buffer_reads: np.ndarray  # elements (inputs once per PE, weights once, multicast)
    global_buffer_writes: np.ndarray  # outputs


def vector_pe_gemm(
    batch: np.ndarray, m: np.ndarray, n: np.ndarray, k: np.ndarray,
    *, num_pes: int, lanes: int, vector_width: int,
) -> VectorPEMapping:
    """Map GEMMs (batch x (m x k) @ (k x n)) onto PEs x lanes x vector MACs of vector_width inputs.

    Mapping (documented assumptions, after MAGNet/Simba's vector MAC PE):
    - k (reduction: input channels x kernel taps) runs along the vector: ceil(k / vector_width) steps;
    - n (output channels) runs across the lanes of a PE: lanes share one broadcast input vector and hold
      different weight vectors, so ceil(n / lanes) steps;
    - m (output pixels or tokens) is split across PEs: ceil(m / num_pes) pixels per PE;
    - batch (groups of a grouped conv, heads of attention) runs one after another.
    - Depthwise convs are a batch of groups with n = 1 and k = kernel taps: one lane of each PE works (inputs
      differ per channel, so the broadcast cannot feed other lanes) and ceil(taps / width) vector steps run
      with partial vectors; utilisation is 1/lanes x taps / (ceil(taps / width) x width).
    Loop order inside a PE: for each lane group (n), for each vector step (k) the weights sit in the lane
    registers while the PE's pixels stream (weight-stationary at the lane); partial sums live in the
    accumulation buffer and are read and written once per vector step after the first.
    """
    pixels_per_pe = ceil_div(m, num_pes)
    lane_steps = ceil_div(n, lanes)
    vector_steps = ceil_div(k, vector_width)
    cycles = batch * pixels_per_pe * lane_steps * vector_steps
    input_reads = batch * m * k * lane_steps  # each input vector read once per lane group
    weight_reads = batch * np.minimum(m, num_pes) * n * k  # every busy PE loads all weights once
    acc_writes = batch * m * n * vector_steps
    acc_reads = batch * m * n * np.maximum(vector_steps - 1, 0)
    global_reads = batch * (m * k + n * k)
    global_writes = batch * m * n
    return VectorPEMapping(cycles.astype(np.float64), input_reads, weight_reads, acc_reads, acc_writes,
                           global_reads, global_writes)
