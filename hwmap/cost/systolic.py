"""Closed-form systolic-array model that reproduces SCALE-Sim 3.0.0 (CALC bandwidth mode) exactly.

SCALE-Sim lowers a layer to a GEMM (m x k) @ (k x n): m = ofmap pixels, k = filter size (filter_h * filter_w *
channels), n = number of filters. It maps two of {m, n, k} onto an R x C array and streams the third in time:

    dataflow   rows of the array (SR)   cols of the array (SC)   time (T)
    os         m                        n                        k
    ws         k                        n                        m
    is         k                        m                        n

The operands are cut into ceil(SR/R) x ceil(SC/C) folds, run one after another (col fold outer, row fold
inner). SCALE-Sim builds, cycle by cycle, a "demand matrix" per operand (one row = one cycle) and replays it
through double-buffered SRAM models. Every fold has the same length, and inside one fold each operand's demand is
a block of a x b addresses starting at a fixed line, either skewed (element (i, j) on line offset + i + j) or
flat (element (i, j) on line offset + i). This module evaluates those matrices in closed form: counts are
products, first/last lines are offsets, and "the cycle of the x-th request" is a lattice-point count under a
diagonal, inverted with an integer square root. Everything is vectorised with numpy broadcasting over layers
and array variants; nothing loops over cycles or folds.

Sources read (scalesim 3.0.0 from PyPI): compute/systolic_compute_{os,ws,is}.py, single_layer_sim.py,
memory/double_buffered_scratchpad_mem.py, memory/read_buffer_estimate_bw.py, memory/write_buffer.py,
memory/read_port.py, memory/write_port.py, topology_utils.py, compute/operand_matrix.py.

Exact (checked against SCALE-Sim on every layer of tests/data/scalesim): Total Cycles, Total Cycles (incl.
prefetch), Stall Cycles, SRAM reads/writes and start/stop cycles of all three operands, DRAM start cycles of all
three, DRAM OFMAP stop cycle and writes; the three utilisation percentages up to float rounding (SCALE-Sim sums
per-fold ratios one by one). DRAM IFMAP/FILTER reads and stop cycles are exact where the result's *_dram_exact
flag says so (the buffer never fills, or no address repeats) and estimates elsewhere: SCALE-Sim decides hits by
replaying the address stream through a window of recent misses, which has no closed form.

Scope: SCALE-Sim's CALC interface-bandwidth mode without sparsity or custom layouts (the shipped references).
USER mode replaces the read buffers with a bandwidth-limited prefetcher that stalls; it is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hwmap.errors import HwmapError
from hwmap.vocabulary import DATAFLOWS

Dataflow = Literal[DATAFLOWS]  # type: ignore[valid-type]

# SCALE-Sim constants (single_layer_sim.py, read_buffer_estimate_bw.py, read_port.py, write_port.py).
SRAM_HIT_LATENCY_CYCLES = 1  # read buffers answer a request one cycle after it is made
DRAM_READ_LATENCY_CYCLES = 1  # read_port.latency; write_port.latency is 0
CALC_PREFETCH_BW_WORDS_PER_CYCLE = 10  # CALC mode: "The number 10 elems per cycle is arbitrary"
_SETS_PER_READ_BUFFER = 100  # the estimate-bandwidth read buffer splits its words into 100 sets
_ACTIVE_SETS = 50  # active_buf_frac = 0.5 -> 50 active sets and 50 prefetch sets

_I64 = np.int64


@dataclass(frozen=True)
class SystolicCosts:
    """SCALE-Sim's COMPUTE_REPORT and DETAILED_ACCESS_REPORT columns, one array element per layer (broadcast).

    Cycle columns are SCALE-Sim's: `compute_cycles` is its "Total Cycles", the index of the last demand cycle
    (the number of cycles minus one). Start/stop columns are cycle indices; DRAM read starts are negative
    because the first buffer fill is prefetched before cycle 0.
    """

    macs: np.ndarray
    row_folds: np.ndarray
    col_folds: np.ndarray
    compute_cycles: np.ndarray  # SCALE-Sim "Total Cycles"
    total_cycles_incl_prefetch: np.ndarray  # SCALE-Sim "Total Cycles (incl. prefetch)"
    stall_cycles: np.ndarray
    overall_util_frac: np.ndarray  # "Overall Util %" / 100
    mapping_efficiency_frac: np.ndarray  # "Mapping Efficiency %" / 100
    compute_util_frac: np.ndarray  # "Compute Util %" / 100
    ifmap_sram_reads_words: np.ndarray
    filter_sram_reads_words: np.ndarray
    ofmap_sram_writes_words: np.ndarray  # as SCALE-Sim reports it (os quirk included)
    ofmap_sram_writes_real_words: np.ndarray  # words actually written by the array
    ifmap_sram_start_cycle: np.ndarray
    ifmap_sram_stop_cycle: np.ndarray
    filter_sram_start_cycle: np.ndarray
    filter_sram_stop_cycle: np.ndarray
    ofmap_sram_start_cycle: np.ndarray
    ofmap_sram_stop_cycle: np.ndarray
    ifmap_dram_start_cycle: np.ndarray
    ifmap_dram_stop_cycle: np.ndarray  # exact where ifmap_dram_exact, else an estimate
    ifmap_dram_reads_words: np.ndarray  # exact where ifmap_dram_exact, else an estimate
    ifmap_dram_exact: np.ndarray  # bool
    filter_dram_start_cycle: np.ndarray
    filter_dram_stop_cycle: np.ndarray
    filter_dram_reads_words: np.ndarray
    filter_dram_exact: np.ndarray  # bool
    ofmap_dram_start_cycle: np.ndarray
    ofmap_dram_stop_cycle: np.ndarray
    ofmap_dram_writes_words: np.ndarray  # as SCALE-Sim reports it (padding quirk included)
    ofmap_dram_writes_real_words: np.ndarray


@dataclass(frozen=True)
class ConvGeometry:
    """Conv layers as SCALE-Sim lowers them (im2col), as int arrays that broadcast against each other.

    A GEMM (m x k) @ (k x n) is the conv H = m, W = k, filter 1 x k, 1 channel, stride 1 (SCALE-Sim's own
    mapping of GEMM topology rows). Address of ifmap element (pixel p, window element e):
    ((oh * s + kr) * W + ow * s + kc) * C + ch with e = (kr * S + kc) * C + ch; -1 when it falls off the map.
    """

    ifmap_h: np.ndarray
    ifmap_w: np.ndarray
    filter_h: np.ndarray
    filter_w: np.ndarray
    channels: np.ndarray
    stride: np.ndarray

    @classmethod
    def gemm(cls, m, k) -> ConvGeometry:
        return cls(
            np.asarray(m, dtype=_I64),
            np.asarray(k, dtype=_I64),
            np.ones_like(m, dtype=_I64),
            np.asarray(k, dtype=_I64),
            np.ones_like(m, dtype=_I64),
            np.ones_like(m, dtype=_I64),
        )

    @property
    def ofmap_h(self) -> np.ndarray:
        # SCALE-Sim quirk: ceil((H - R + s) / s), so with (H - R) % s != 0 the last window row hangs off the map.
        return _ceil_div(self.ifmap_h - self.filter_h + self.stride, self.stride)

    @property
    def ofmap_w(self) -> np.ndarray:
        return _ceil_div(self.ifmap_w - self.filter_w + self.stride, self.stride)

    @property
    def m(self) -> np.ndarray:
        return self.ofmap_h * self.ofmap_w

    @property
    def k(self) -> np.ndarray:
        return self.filter_h * self.filter_w * self.channels

    @property
    def ifmap_distinct_words(self) -> np.ndarray:
        """Distinct valid ifmap addresses: touched rows x touched cols x channels."""
        rows = _touched(self.ifmap_h, self.filter_h, self.stride, self.ofmap_h)
        return rows * _touched(self.ifmap_w, self.filter_w, self.stride, self.ofmap_w) * self.channels

    @property
    def any_ragged(self) -> bool:
        """Whether any window row/col hangs off the map ((H - R) % s != 0 or (W - S) % s != 0)."""
        rows_off = np.any((self.ifmap_h - self.filter_h) % self.stride)
        return bool(rows_off or np.any((self.ifmap_w - self.filter_w) % self.stride))

    def valid_taps(self, pixel) -> tuple[np.ndarray, np.ndarray]:
        """(last valid kernel row, last valid kernel col) of output pixel `pixel`: the valid window elements
        of a pixel are the rectangle kr <= a, kc <= b (any channel)."""
        oh, ow = np.divmod(pixel, self.ofmap_w)
        a = np.minimum(self.filter_h - 1, self.ifmap_h - 1 - oh * self.stride)
        return a, np.minimum(self.filter_w - 1, self.ifmap_w - 1 - ow * self.stride)


def _touched(extent, kernel, stride, out):
    """Input positions covered by `out` windows of `kernel` taps `stride` apart, clipped to the input.

    Windows before the last valid one lie wholly inside; SCALE-Sim's ceil rounding can add a last window that
    starts past the edge, so count up to the last window that starts inside.
    """
    last = np.minimum(out - 1, (extent - 1) // stride)
    return last * np.minimum(stride, kernel) + np.minimum(kernel, extent - last * stride)


@dataclass(frozen=True)
class _Folding:
    """The fold structure of one dataflow, as broadcast int64 arrays."""

    dataflow: str
    rows: np.ndarray
    cols: np.ndarray
    sr: np.ndarray  # GEMM dimension mapped onto the array rows (SR)
    sc: np.ndarray  # GEMM dimension mapped onto the array cols (SC)
    t: np.ndarray  # GEMM dimension streamed in time (T)
    row_folds: np.ndarray
    col_folds: np.ndarray
    rows_last: np.ndarray  # rows used by the last row fold
    cols_last: np.ndarray  # cols used by the last col fold
    lines_per_fold: np.ndarray

    @property
    def folds(self) -> np.ndarray:
        return self.row_folds * self.col_folds


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return -(-a // b)


def _spatio_temporal(m, n, k, dataflow: str):
    """(SR, SC, T) as in topology_utils.calc_spatio_temporal_params."""
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def _folding(m, n, k, rows, cols, dataflow: str) -> _Folding:
    sr, sc, t = _spatio_temporal(m, n, k, dataflow)
    row_folds, col_folds = _ceil_div(sr, rows), _ceil_div(sc, cols)
    # Fold length = rows of every demand matrix per fold. os: T + R + C - 2 (operands skewed over R and C);
    # ws/is: an extra R-line prefix while the stationary operand is loaded, so T + 2R + C - 2.
    lines = t + rows + cols - 2 if dataflow == "os" else t + 2 * rows + cols - 2
    return _Folding(
        dataflow=dataflow,
        rows=rows,
        cols=cols,
        sr=sr,
        sc=sc,
        t=t,
        row_folds=row_folds,
        col_folds=col_folds,
        rows_last=sr - (row_folds - 1) * rows,
        cols_last=sc - (col_folds - 1) * cols,
        lines_per_fold=lines,
    )


# ---------------------------------------------------------------------------------------------------------------
# Demand-matrix geometry: where each operand's requests sit inside one fold.


def _stream_block(f: _Folding, operand: str, r, c):
    """(a, b, offset, skewed) of an operand's demand in a fold that uses r rows and c cols of the array.

    The block has a x b requests. Skewed: element (i, j) is requested on line offset + i + j (systolic skew);
    flat: on line offset + i (the stationary operand is loaded one array row per cycle, bottom row first).
    """
    if f.dataflow == "os":
        if operand == "ifmap":
            return f.t, r, 0, True
        if operand == "filter":
            return f.t, c, 0, True
        # Outputs drain after T - 1 lines; rows are flipped so unused (padded) rows come first.
        return r, c, f.t - 1 + f.rows - r, True
    stationary, streamed = ("filter", "ifmap") if f.dataflow == "ws" else ("ifmap", "filter")
    if operand == stationary:
        return r, c, f.rows - r, False
    if operand == streamed:
        return f.t, r, f.rows, True
    return f.t, c, 2 * f.rows - 1, True


def _fold_requests(f: _Folding, operand: str, r, c):
    a, b, _, _ = _stream_block(f, operand, r, c)
    return a * b


def _total_requests(f: _Folding, operand: str) -> np.ndarray:
    """Sum over folds of the block size (partial last row/col folds included)."""
    full_r = _fold_requests(f, operand, f.rows, f.cols) * (f.row_folds - 1) * (f.col_folds - 1)
    last_r = _fold_requests(f, operand, f.rows_last, f.cols) * (f.col_folds - 1)
    last_c = _fold_requests(f, operand, f.rows, f.cols_last) * (f.row_folds - 1)
    return full_r + last_r + last_c + _fold_requests(f, operand, f.rows_last, f.cols_last)


def _first_line(f: _Folding, operand: str) -> np.ndarray:
    """First demand line of the operand (in the first fold, which uses min(R, SR) rows)."""
    offset = _stream_block(f, operand, np.minimum(f.rows, f.sr), f.cols)[2]
    return offset + np.zeros_like(f.rows)


def _last_line(f: _Folding, operand: str) -> np.ndarray:
    """Last demand line of the operand, assuming every address of the last fold's block is valid."""
    a, b, offset, skewed = _stream_block(f, operand, f.rows_last, f.cols_last)
    return (f.folds - 1) * f.lines_per_fold + offset + a - 1 + (b - 1 if skewed else 0)


def _ifmap_last_line(f: _Folding, conv: ConvGeometry) -> np.ndarray:
    """Last ifmap demand line with a valid address (SCALE-Sim skips -1 when it reports the stop cycle).

    SCALE-Sim quirk: with (H - R) % s != 0 the last window row/col hangs off the map, or lies wholly outside
    it, so the last valid request can sit early in the last fold or in an earlier fold. A pixel's valid window
    elements are a rectangle of kernel taps (kr <= a, kc <= b) that only shrinks on the last valid output
    row/col, so the latest pixel of each (last row?, last col?) kind decides: p0 and the 2 x 2 last valid ones.
    """
    wo = conv.ofmap_w
    oh_v = np.minimum(conv.ofmap_h - 1, (conv.ifmap_h - 1) // conv.stride)  # last output row with a valid tap
    ow_v = np.minimum(wo - 1, (conv.ifmap_w - 1) // conv.stride)
    corners = [(oh_v - i, ow_v - j) for i in (0, 1) for j in (0, 1)]
    fold, p0, e0 = _last_valid_ifmap_fold(f, conv, oh_v * wo + ow_v, corners)
    best = np.full(np.broadcast_shapes(fold.shape, p0.shape), -1, dtype=_I64)
    for oh, ow in [np.divmod(p0, wo), *corners]:
        pixel = oh * wo + ow
        ok = (oh >= 0) & (ow >= 0) & (ow <= ow_v) & (oh <= oh_v) & (pixel >= p0)
        a, b = conv.valid_taps(np.maximum(pixel, 0))
        best = np.maximum(best, np.where(ok, _ifmap_line_in_fold(f, conv, pixel - p0, a, b, e0), -1))
    return fold * f.lines_per_fold + best


def _last_valid_ifmap_fold(f: _Folding, conv: ConvGeometry, last_pixel, corner):
    """(fold index, first pixel p0, first window element e0) of the last fold holding a valid ifmap address."""
    last_fc, last_fr = f.col_folds - 1, f.row_folds - 1
    if f.dataflow == "os":  # rows = pixels, all window elements in every fold
        fr = last_pixel // f.rows
        return last_fc * f.row_folds + fr, fr * f.rows, np.zeros_like(fr)
    if f.dataflow == "ws":  # rows = window elements, all pixels in every fold; pixel 0 is always whole
        return last_fc * f.row_folds + last_fr, np.zeros_like(last_fr), last_fr * f.rows
    fc = last_pixel // f.cols  # is: cols = pixels, rows = window elements
    p0 = fc * f.cols
    # The fold of the chunk's largest valid window element; corners before p0 stand in for p0 itself.
    taps = [conv.valid_taps(np.maximum(oh * conv.ofmap_w + ow, p0)) for oh, ow in corner]
    fr = np.maximum.reduce([_window_max(conv, a, b) for a, b in taps]) // f.rows
    return fc * f.row_folds + fr, p0, fr * f.rows


def _window_max(conv: ConvGeometry, a, b):
    """Largest valid window element of a pixel whose valid taps are kr <= a, kc <= b (-1: none valid)."""
    return np.where((a >= 0) & (b >= 0), (a * conv.filter_w + b) * conv.channels + conv.channels - 1, -1)


def _ifmap_line_in_fold(f: _Folding, conv: ConvGeometry, j, a, b, e0):
    """Latest line inside a fold of one pixel's valid ifmap elements (j = pixel - p0), or -1 if none."""
    valid_pixel = (a >= 0) & (b >= 0)
    if f.dataflow == "is":
        # Flat stationary block, element e on line R - 1 - (e - e0): the smallest valid e >= e0 wins.
        row_len = conv.filter_w * conv.channels
        kr0, kc0 = e0 // row_len, (e0 % row_len) // conv.channels
        e_min = np.where((kr0 <= a) & (kc0 <= b), e0, np.where(kr0 + 1 <= a, (kr0 + 1) * row_len, -1))
        ok = valid_pixel & (e_min >= 0) & (e_min < np.minimum(e0 + f.rows, conv.k))
        return np.where(ok, f.rows - 1 - (e_min - e0), -1)
    # Skewed streamed block, element (pixel, e) on line offset + j + (e - e0): the largest valid e wins.
    e_max = _window_max(conv, a, b)
    offset = 0 if f.dataflow == "os" else f.rows
    return np.where(valid_pixel & (e_max >= e0), offset + j + e_max - e0, -1)


# ---------------------------------------------------------------------------------------------------------------
# "On which cycle is the x-th request of an operand made?" (x is 1-based, in demand order).


def _tri(n):
    return n * (n + 1) // 2


def _tri_root_floor(y):
    """Largest e >= 0 with e(e+1)/2 <= y, for int64 y >= 0 (float sqrt, then an exact integer fix-up)."""
    e = ((np.sqrt(8.0 * y + 1.0) - 1.0) // 2).astype(_I64)
    e = np.where(_tri(e + 1) <= y, e + 1, e)
    return np.where(_tri(e) > y, e - 1, e)


def _skew_diagonal_of(x, a, b):
    """Smallest d with #{(i, j): i < a, j < b, i + j <= d} >= x, for 1 <= x <= a * b."""
    p, q = np.minimum(a, b), np.maximum(a, b)
    head = _tri(p)  # diagonals 0 .. p-1 hold 1, 2, .., p elements
    body = head + (q - p) * p  # diagonals p .. q-1 hold p elements each
    in_head = x <= head
    # Head: smallest d with tri(d + 1) >= x. Tail: the largest e with tri(e) <= p * q - x elements left after it.
    root = _tri_root_floor(np.maximum(np.where(in_head, x - 1, p * q - x), 0))
    d_body = p - 1 + _ceil_div(x - head, p)
    return np.where(in_head, root, np.where(x <= body, d_body, p + q - 2 - root))


def _request_line(f: _Folding, operand: str, x) -> np.ndarray:
    """Demand line (cycle, no stalls) of the x-th request; x must lie in [1, total requests]."""
    block_full_c = _fold_requests(f, operand, f.rows, f.cols) * (f.row_folds - 1) + _fold_requests(
        f, operand, f.rows_last, f.cols
    )
    fc = np.minimum((x - 1) // np.maximum(block_full_c, 1), f.col_folds - 1)
    x1 = x - fc * block_full_c
    c = np.where(fc == f.col_folds - 1, f.cols_last, f.cols)
    fold_full_r = _fold_requests(f, operand, f.rows, c)
    fr = np.minimum((x1 - 1) // np.maximum(fold_full_r, 1), f.row_folds - 1)
    x2 = x1 - fr * fold_full_r
    r = np.where(fr == f.row_folds - 1, f.rows_last, f.rows)
    a, b, offset, skewed = _stream_block(f, operand, r, c)
    d = _skew_diagonal_of(x2, a, b) if skewed else _ceil_div(x2, b) - 1
    return (fc * f.row_folds + fr) * f.lines_per_fold + offset + d


# ---------------------------------------------------------------------------------------------------------------
# Report columns.


def _sram_reads_and_writes(f: _Folding):
    ifmap = _total_requests(f, "ifmap")
    filt = _total_requests(f, "filter")
    ofmap_real = _total_requests(f, "ofmap")
    # SCALE-Sim quirk (systolic_compute_os.create_ofmap_demand_mat): os adds the padded block's
    # rows + cols to ofmap_writes once per fold, on top of the real count.
    quirk = f.folds * (f.rows + f.cols) if f.dataflow == "os" else 0
    return ifmap, filt, ofmap_real + quirk, ofmap_real


def _utilisation(f: _Folding, macs, compute_cycles):
    pe = f.rows * f.cols
    # Mapping efficiency: mean over folds of rows_used * cols_used / (R * C); the sum over folds is SR * SC.
    mapping = (macs // f.t) / (f.folds * pe)
    # SCALE-Sim quirk: ws/is compute the per-fold cycles from the filter/ifmap demand block *before* skew
    # plus its width: 2R + 2C + T - 3, one C - 1 more than the fold really lasts. os uses the true length.
    util_cycles = f.lines_per_fold if f.dataflow == "os" else f.t + 2 * f.rows + 2 * f.cols - 3
    # Mean over folds of (rows_used * cols_used * T) / (R * C * util_cycles); SCALE-Sim sums floats fold by
    # fold, so the last bits of the float can differ (relative 1e-13).
    compute = macs / (f.folds * pe * util_cycles)
    with np.errstate(divide="ignore"):  # SCALE-Sim raises ZeroDivisionError for a 1 x 1 x 1 GEMM on a 1 x 1 os array
        overall = (macs * 100) / (compute_cycles * pe) / 100
    return overall, mapping, compute


# ---------------------------------------------------------------------------------------------------------------
# OFMAP write buffer (memory/write_buffer.py) in CALC mode.


def _ofmap_dram(f: _Folding, compute_cycles, writes, ofmap_words):
    """Start/stop cycles and write count of the OFMAP drain to DRAM.

    The write buffer packs outputs into lines of C words (C = array cols, the CALC-mode drain bandwidth). When
    more than S = words - ceil(words / 2) words are waiting, it flushes the current partial line and drains
    the next L = ceil(S / C) lines, one line per cycle. After the last demand cycle every remaining line is
    drained, L lines at a time, back to back. Accounting quirk: a drain credits every slot of its lines as
    written except the padding of its last line, so padded lines drained mid-chunk inflate the count.

    If C divides S, the first drain leaves a 1-word padded line behind; later drains then fall on line
    boundaries, drains happen at the (jS + 1)-th write, and the padded line adds C - 1 phantom writes (unless it
    is the very last line). Otherwise every drain empties the buffer exactly, at the j(S + 1)-th write.
    Assumes: S >= 2C (a drain spans at least two lines). Stalls: a drain of L lines lasts L cycles while the
    array writes at most C words per cycle, so the buffer never fills and CALC mode never stalls.
    """
    cols = f.cols
    s = ofmap_words - _ceil_div(ofmap_words, 2)
    lines = _ceil_div(s, cols)
    divides = s % cols == 0
    k = np.where(divides, np.maximum(writes - 1, 0) // s, writes // (s + 1))
    w_k = np.where(divides, k * s + 1, k * (s + 1))
    # Lines still in the buffer after the last demand cycle (the 1-word padded line counts when C divides S).
    rem = np.where(divides & (k >= 1), 1, 0) + _ceil_div(writes - np.where(k >= 1, w_k, 0), cols)
    phantom = np.where(divides & ((k >= 2) | ((k == 1) & (rem >= 2))), cols - 1, 0)
    # Cycles of the first and the last in-run drain, inverted in one call on a stacked leading axis.
    t_first, t_last_drain = _request_line(
        f, "ofmap", np.stack(np.broadcast_arrays(np.minimum(s + 1, writes), np.maximum(w_k, 1)))
    )
    start = np.where(k >= 1, t_first, compute_cycles)
    stop_final = np.where(rem > 0, compute_cycles + rem - 1, -1)
    stop = np.maximum(stop_final, np.where(k >= 1, t_last_drain + lines - 1, -1))
    return start, stop, writes + phantom


# ---------------------------------------------------------------------------------------------------------------
# IFMAP / FILTER read buffers (memory/read_buffer_estimate_bw.py) in CALC mode.


def _read_dram(f: _Folding, operand: str, distinct, sram_reads, sram_words, bw):
    """Start/stop cycles and DRAM reads of one read buffer, plus a mask of which values are exact.

    The buffer tracks misses in sets of s = floor(words / 100) addresses. Once 50 sets have missed, it
    back-dates the prefetch of those 50 sets to end at (first request line - 1 - DRAM latency); the trace shows
    each prefetch line one DRAM latency later, so start = first request line - ceil(50 s / bw). If the operand
    never fills 50 sets, all of it is prefetched at the end of the run, ending at cycle -1:
    start = -ceil(ceil(D / s) * s / bw), stop = -1, reads = D (D = distinct addresses).
    Later prefetches happen when the (50 j + 50)-th set fills; DRAM stop = that cycle + 1.
    Exact when the buffer never fills or no address is requested twice (reads = D, each request a miss).
    Otherwise hits depend on the address order through a window of 0-50 sets, and the reads and stop cycle are
    estimates (_estimated_dram_reads; stop = the last request's cycle + 1). The start is exact either way.
    """
    per_set = sram_words // _SETS_PER_READ_BUFFER
    first = _first_line(f, operand)
    filled = distinct >= _ACTIVE_SETS * per_set
    start = np.where(
        filled,
        first - _ceil_div(_ACTIVE_SETS * per_set, bw),
        -_ceil_div(_ceil_div(distinct, per_set) * per_set, bw),
    )
    unique_stream = sram_reads == distinct
    exact = ~filled | unique_stream
    if not np.any(filled):  # the common case with large SRAMs: skip the stream inversion
        return start, np.full_like(start, -1), distinct, exact
    stop_line = _last_line(f, operand)  # estimate where addresses repeat
    if np.any(filled & unique_stream):
        last_trigger = (distinct // per_set) // _ACTIVE_SETS * _ACTIVE_SETS * per_set
        trigger_line = _request_line(f, operand, np.clip(last_trigger, 1, np.maximum(sram_reads, 1)))
        stop_line = np.where(unique_stream, trigger_line, stop_line)
    stop = np.where(filled, stop_line + DRAM_READ_LATENCY_CYCLES, -1)
    reads = np.where(exact, distinct, _estimated_dram_reads(f, operand, distinct, sram_reads, sram_words))
    return start, stop, reads, exact


def _estimated_dram_reads(f: _Folding, operand: str, distinct, sram_reads, sram_words):
    """An estimate (not SCALE-Sim's number) of the DRAM reads of an operand whose addresses repeat.

    The read buffer keeps the misses of the last 0 to 50 sets (it forgets everything at each prefetch), so it
    remembers at most window = 50 * floor(words / 100) words. Three stream shapes occur:
    - a block of B words re-read in consecutive folds (os filter): every forget costs one re-fetch of the
      block, so reads = D / (1 - B / window) while B < window, else every request misses;
    - blocks re-read once per col fold (os/ws ifmap, is filter): the sweep over all blocks exceeds the window
      (the operand filled it), so each sweep fetches afresh: D per sweep for os ifmap (adjacent pixel windows
      overlap), min(D, M * rows used) per fold for ws ifmap (window chunks), k * n per sweep for is filter;
    - the stationary is ifmap: a col fold's c pixels x k window words, treated like the consecutive case.
    Against SCALE-Sim: ResNet-50 (64 kB SRAMs, 16x16 os, 32x32 ws) -36% .. +130% per layer, 80% within 5%;
    the 1-4 kB test cases up to 5x over. Never below D or above the SRAM reads.
    """
    window = _ACTIVE_SETS * (sram_words // _SETS_PER_READ_BUFFER)
    if (f.dataflow, operand) in (("os", "filter"), ("is", "ifmap")):
        block = f.t * f.cols if operand == "filter" else np.minimum(f.cols * f.sr, distinct)
        refetch = distinct * window // np.maximum(window - block, 1)
        estimate = np.where(block < window, refetch, sram_reads)
    elif (f.dataflow, operand) == ("ws", "ifmap"):
        per_fold = np.minimum(distinct, f.t * f.rows), np.minimum(distinct, f.t * f.rows_last)
        estimate = f.col_folds * ((f.row_folds - 1) * per_fold[0] + per_fold[1])
    elif f.dataflow == "os":
        estimate = f.col_folds * distinct
    else:
        estimate = sram_reads  # is filter: k * n per sweep, all of it missed again in the next sweep
    return np.clip(estimate, distinct, sram_reads)


# ---------------------------------------------------------------------------------------------------------------
# Public entry point.


def _as_int64(**arrays) -> dict[str, np.ndarray]:
    values = [np.asarray(v, dtype=_I64) for v in arrays.values()]
    for name, value in zip(arrays, values, strict=True):
        if value.min(initial=1) < 1:
            raise ValueError(f"{name} must be >= 1 everywhere, got min {value.min()}")
    return dict(zip(arrays, np.broadcast_arrays(*values), strict=True))


def _check_buffers(v: dict[str, np.ndarray]) -> None:
    """Assumes: read SRAMs of >= 100 words (SCALE-Sim's 100 sets) and an ofmap drain of >= 2 lines.

    SCALE-Sim itself crashes below 100 words; a buffer that small is a template outside the model's domain.
    """
    for name in ("ifmap_sram_words", "filter_sram_words"):
        if np.any(v[name] < _SETS_PER_READ_BUFFER):
            smallest = v[name].min()
            raise HwmapError(
                f"{name} = {smallest}; expected >= {_SETS_PER_READ_BUFFER} (SCALE-Sim splits it in 100 sets)"
            )
    if np.any(v["ofmap_sram_words"] // 2 < 2 * v["cols"]):
        raise HwmapError(
            "ofmap_sram_words too small; expected >= 4 * cols (half of it drains >= 2 lines of cols words)"
        )


def _check_conv(conv: ConvGeometry, m: np.ndarray, k: np.ndarray) -> None:
    if np.any(np.broadcast_to(conv.m, m.shape) != m) or np.any(np.broadcast_to(conv.k, k.shape) != k):
        raise ValueError("conv geometry disagrees with m = ofmap_h * ofmap_w or k = filter_h * filter_w * channels")


def systolic_costs(
    m,
    n,
    k,
    *,
    rows,
    cols,
    dataflow: Dataflow,
    ifmap_sram_words,
    filter_sram_words,
    ofmap_sram_words,
    conv: ConvGeometry | None = None,
    prefetch_bw_words_per_cycle=CALC_PREFETCH_BW_WORDS_PER_CYCLE,
) -> SystolicCosts:
    """SCALE-Sim 3.0.0 (CALC mode) report columns for GEMMs (m x k) @ (k x n) on an R x C systolic array.

    All numeric arguments broadcast against each other (e.g. layers as shape (L,), array variants as (V, 1)).
    SRAM sizes are in words: SCALE-Sim uses kB * 1024 with 1-byte words. `conv` gives the conv geometry
    behind m and k (im2col reuse and windows hanging off the map); without it the layers are plain GEMMs.
    It only changes the ifmap DRAM columns, "Total Cycles (incl. prefetch)" and the ifmap SRAM stop cycle.
    Note: `compute_cycles` is SCALE-Sim's last cycle index, so `compute_cycles >= ceil(macs / (rows * cols))`
    holds only for rows + cols >= 3 (a 1 x 1 os array reports macs - 1).

    Kept whole on purpose (85 lines): the work is in the helpers above; what is left is the signature and one
    constructor naming each of SCALE-Sim's report columns once, which reads best next to the report.
    """
    if dataflow not in DATAFLOWS:
        raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {dataflow!r}")
    v = _as_int64(
        m=m,
        n=n,
        k=k,
        rows=rows,
        cols=cols,
        ifmap_sram_words=ifmap_sram_words,
        filter_sram_words=filter_sram_words,
        ofmap_sram_words=ofmap_sram_words,
        bw=prefetch_bw_words_per_cycle,
    )
    _check_buffers(v)
    m, n, k = v["m"], v["n"], v["k"]
    if conv is not None:
        _check_conv(conv, m, k)
    f = _folding(m, n, k, v["rows"], v["cols"], dataflow)
    macs = m * n * k
    compute_cycles = f.folds * f.lines_per_fold - 1
    ifmap_reads, filter_reads, ofmap_writes, ofmap_real = _sram_reads_and_writes(f)
    overall, mapping, compute = _utilisation(f, macs, compute_cycles)
    distinct = m * k if conv is None else np.broadcast_to(conv.ifmap_distinct_words, m.shape)
    if_dram = _read_dram(f, "ifmap", distinct, ifmap_reads, v["ifmap_sram_words"], v["bw"])
    fi_dram = _read_dram(f, "filter", k * n, filter_reads, v["filter_sram_words"], v["bw"])
    of_start, of_stop, of_writes = _ofmap_dram(f, compute_cycles, ofmap_real, v["ofmap_sram_words"])
    ifmap_last = _last_line(f, "ifmap") if conv is None or not conv.any_ragged else _ifmap_last_line(f, conv)
    hit = SRAM_HIT_LATENCY_CYCLES
    return SystolicCosts(
        macs=macs,
        row_folds=f.row_folds,
        col_folds=f.col_folds,
        compute_cycles=compute_cycles,
        # "Total Cycles (incl. prefetch)": last OFMAP DRAM write minus the earliest IFMAP/FILTER prefetch.
        total_cycles_incl_prefetch=of_stop - np.minimum(if_dram[0], fi_dram[0]),
        stall_cycles=np.zeros_like(macs),  # CALC mode: read buffers always hit, the write buffer never fills
        overall_util_frac=overall,
        mapping_efficiency_frac=mapping,
        compute_util_frac=compute,
        ifmap_sram_reads_words=ifmap_reads,
        filter_sram_reads_words=filter_reads,
        ofmap_sram_writes_words=ofmap_writes,
        ofmap_sram_writes_real_words=ofmap_real,
        ifmap_sram_start_cycle=_first_line(f, "ifmap") + hit,
        ifmap_sram_stop_cycle=ifmap_last + hit,
        filter_sram_start_cycle=_first_line(f, "filter") + hit,
        filter_sram_stop_cycle=_last_line(f, "filter") + hit,
        ofmap_sram_start_cycle=_first_line(f, "ofmap"),
        ofmap_sram_stop_cycle=_last_line(f, "ofmap"),
        ifmap_dram_start_cycle=if_dram[0],
        ifmap_dram_stop_cycle=if_dram[1],
        ifmap_dram_reads_words=if_dram[2],
        ifmap_dram_exact=if_dram[3],
        filter_dram_start_cycle=fi_dram[0],
        filter_dram_stop_cycle=fi_dram[1],
        filter_dram_reads_words=fi_dram[2],
        filter_dram_exact=fi_dram[3],
        ofmap_dram_start_cycle=of_start,
        ofmap_dram_stop_cycle=of_stop,
        ofmap_dram_writes_words=of_writes,
        ofmap_dram_writes_real_words=ofmap_real,
    )
