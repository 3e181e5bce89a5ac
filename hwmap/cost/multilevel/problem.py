"""One GEMM-like layer as the 8-deep loop problem the multi-level mapper tiles (issue 17).

Loop dims (hwmap.hardware.hierarchy.LOOP_DIMS): B (batch), G (groups), K (output channels per group), C (input
channels per group), OY/OX (output rows/columns), FY/FX (filter rows/columns). Operands and the dims relevant to
them: input (B, G, C, OY, OX, FY, FX: a window's rows are those of its outputs and filter taps), weight (G, K, C,
FY, FX) and output (B, G, K, OY, OX). A GEMM ``(m x k) @ (k x n)`` (a linear layer, a matmul, ``batch`` of them)
is B = 1, G = batch, K = n, C = k, OY = m, OX = FY = FX = 1.

Input extents (the halo): a tile of ``o`` output rows and ``f`` filter rows touches
``(o - 1) * min(stride, w) + w`` input rows, w = (f - 1) * dilation + 1 the tile's window: rows between windows
that no window touches (stride > window, a strided 1 x 1 conv) are not fetched. Exact for dilation 1; with
dilation > 1 it counts the window's span (the rows between dilated taps included). Sizes are in elements.

Padding: ``padding_y`` / ``padding_x`` are the zero rows / columns the windows read before and after the image
(begin, end; end = what the last window reaches past the image, as hwmap.interop.zigzag exports it). hwmap's own
counts fetch a tile's padded border like any other row (the halo above); with ``clip_to_tensor`` (ZigZag's rule,
hwmap.cost.multilevel.evaluate.AccessConventions.clip_input_to_tensor) a tile's input rows are at most the real
tensor's rows, :meth:`LoopProblem.input_rows` (the rows all windows touch less the padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwmap.errors import HwmapError
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS

__all__ = ["RELEVANT", "LoopProblem", "extent_sum", "problem_of", "tile_elements"]

RELEVANT: dict[str, frozenset[str]] = {
    "input": frozenset({"B", "G", "C", "OY", "OX", "FY", "FX"}),
    "weight": frozenset({"G", "K", "C", "FY", "FX"}),
    "output": frozenset({"B", "G", "K", "OY", "OX"}),
}


@dataclass(frozen=True, slots=True)
class LoopProblem:
    """Sizes of the 8 loop dims, strides and dilations of one layer (all groups)."""

    B: int = 1
    G: int = 1
    K: int = 1
    C: int = 1
    OY: int = 1
    OX: int = 1
    FY: int = 1
    FX: int = 1
    stride_y: int = 1
    stride_x: int = 1
    dilation_y: int = 1
    dilation_x: int = 1
    name: str = "layer"
    padding_y: tuple[int, int] = (0, 0)  # zero rows read before / after the image (module docstring)
    padding_x: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        for field in (*LOOP_DIMS, "stride_y", "stride_x", "dilation_y", "dilation_x"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise HwmapError(f"{self.name}: loop problem field {field} = {value!r}; expected an integer >= 1")
        for field in ("padding_y", "padding_x"):
            value = getattr(self, field)
            if (not isinstance(value, tuple) or len(value) != 2
                    or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in value)):
                raise HwmapError(f"{self.name}: loop problem field {field} = {value!r}; expected (begin, end) "
                                 "integers >= 0")
        for axis in ("y", "x"):
            if self.input_rows(axis) < 1:
                raise HwmapError(f"{self.name}: loop problem field padding_{axis} = {getattr(self, f'padding_{axis}')}"
                                 f" leaves no input (the windows touch {self._touched(axis)}); expected less padding")

    @classmethod
    def gemm(cls, m: int, n: int, k: int, *, batch: int = 1, name: str = "gemm") -> LoopProblem:
        return cls(G=batch, K=n, C=k, OY=m, name=name)

    def size(self, dim: str) -> int:
        return getattr(self, dim)

    @property
    def sizes(self) -> dict[str, int]:
        return {d: getattr(self, d) for d in LOOP_DIMS}

    @property
    def macs(self) -> int:
        return math.prod(self.sizes.values())

    def elements(self, operand: str) -> int:
        """Compulsory elements of an operand (the input's touched extent, halo included)."""
        return int(tile_elements(self, self.sizes, operand))

    def _touched(self, axis: str) -> int:
        """Input rows (axis "y") or columns ("x") all the layer's windows touch, padding included."""
        o, f = (self.OY, self.FY) if axis == "y" else (self.OX, self.FX)
        return int(_rows(o, f, getattr(self, f"stride_{axis}"), getattr(self, f"dilation_{axis}")))

    def input_rows(self, axis: str) -> int:
        """The real (unpadded) input rows (axis "y") or columns ("x") the windows touch: the touched extent less the
        padding (ZigZag 3.9.1's LayerNode.calc_pr_dimension_size_total, the extent it clips tiles to)."""
        return self._touched(axis) - sum(getattr(self, f"padding_{axis}"))

    def canonical(self) -> LoopProblem:
        """A 1 x 1 conv is a GEMM: B, OY and OX fold into OY (its input words are its outputs' pixels, whatever
        the stride), so a pointwise conv and the equivalent linear layer map alike (as hwmap.cost.mapping's
        LoopNest.canonical does). Other problems (and a padded 1 x 1 conv) are returned as they are."""
        if (self.FY == 1 and self.FX == 1 and (self.B, self.OX, self.stride_y, self.stride_x) != (1, 1, 1, 1)
                and not any(self.padding_y + self.padding_x)):
            return LoopProblem(G=self.G, K=self.K, C=self.C, OY=self.B * self.OY * self.OX, name=self.name)
        return self

    def shape_key(self) -> tuple:
        """Everything but the name: layers with equal keys map identically."""
        return tuple(getattr(self, f) for f in (*LOOP_DIMS, "stride_y", "stride_x", "dilation_y", "dilation_x",
                                                 "padding_y", "padding_x"))


def _rows(out_rows, filter_rows, stride: int, dilation: int):
    """Input rows touched by a tile of out_rows outputs and filter_rows taps (see the module docstring)."""
    window = (filter_rows - 1) * dilation + 1
    step = np.minimum(stride, window) if isinstance(window, np.ndarray) else min(stride, window)  # scalars: no ufunc
    return (out_rows - 1) * step + window


def tile_elements(problem: LoopProblem, tile: dict, operand: str, *, clip_to_tensor: bool = False):
    """Elements of ``operand`` in a tile with per-dim extents ``tile`` (ints or numpy arrays, clipped to the
    layer by the caller). clip_to_tensor: an input tile's rows and columns at most the real tensor's
    (LoopProblem.input_rows; the module docstring)."""
    t = tile
    if operand == "weight":
        return t["G"] * t["K"] * t["C"] * t["FY"] * t["FX"]
    if operand == "output":
        return t["B"] * t["G"] * t["K"] * t["OY"] * t["OX"]
    if operand == "input":
        rows = _rows(t["OY"], t["FY"], problem.stride_y, problem.dilation_y)
        cols = _rows(t["OX"], t["FX"], problem.stride_x, problem.dilation_x)
        if clip_to_tensor:
            rows, cols = np.minimum(rows, problem.input_rows("y")), np.minimum(cols, problem.input_rows("x"))
        return t["B"] * t["G"] * t["C"] * rows * cols
    raise HwmapError(f"unknown operand {operand!r}; expected one of {', '.join(OPERANDS)}")


def _halo_sum(size_o: int, tile_o, size_f: int, tile_f, stride: int, dilation: int):
    """Sum over every (output tile, filter tile) pair along one image axis of the input rows it touches."""
    n_o = -(-size_o // tile_o)
    n_f = -(-size_f // tile_f)
    last_f = size_f - (n_f - 1) * tile_f
    full_w = (tile_f - 1) * dilation + 1
    last_w = (last_f - 1) * dilation + 1
    step_sum = (n_f - 1) * np.minimum(stride, full_w) + np.minimum(stride, last_w)
    window_sum = (n_f - 1) * full_w + last_w
    return step_sum * (size_o - n_o) + n_o * window_sum


def _clipped_halo_sum(size_o: int, tile_o, size_f: int, tile_f, stride: int, dilation: int, real_rows: int):
    """_halo_sum with every (output tile, filter tile) pair's rows at most ``real_rows``: the pairs take four
    shapes (full or last output tile x full or last filter tile), each counted as often as it occurs."""
    n_o = -(-size_o // tile_o)
    n_f = -(-size_f // tile_f)
    last_o = size_o - (n_o - 1) * tile_o
    last_f = size_f - (n_f - 1) * tile_f
    total = 0
    for o, count_o in ((tile_o, n_o - 1), (last_o, 1)):
        for f, count_f in ((tile_f, n_f - 1), (last_f, 1)):
            total = total + count_o * count_f * np.minimum(_rows(o, f, stride, dilation), real_rows)
    return total


def extent_sum(problem: LoopProblem, tile: dict, operand: str, *, clip_to_tensor: bool = False):
    """Sum of ``operand``'s elements over every tile of the layer cut into tiles of ``tile`` (per dim, clipped at
    the layer's edge): the data one pass over all tiles moves. clip_to_tensor: every input tile's rows and
    columns at most the real tensor's (the module docstring)."""
    s = problem.sizes
    if operand == "input" and clip_to_tensor:
        return (s["B"] * s["G"] * s["C"]
                * _clipped_halo_sum(s["OY"], tile["OY"], s["FY"], tile["FY"], problem.stride_y, problem.dilation_y,
                                    problem.input_rows("y"))
                * _clipped_halo_sum(s["OX"], tile["OX"], s["FX"], tile["FX"], problem.stride_x, problem.dilation_x,
                                    problem.input_rows("x")))
    if operand == "input":
        return (s["B"] * s["G"] * s["C"]
                * _halo_sum(s["OY"], tile["OY"], s["FY"], tile["FY"], problem.stride_y, problem.dilation_y)
                * _halo_sum(s["OX"], tile["OX"], s["FX"], tile["FX"], problem.stride_x, problem.dilation_x))
    return problem.elements(operand)  # no halo: the tiles partition the operand


def problem_of(node) -> LoopProblem:
    """The loop problem of a graph node whose work is a Conv (2-d, not transposed; with its padding: the conv's
    at the begin, what the last window reaches past the image at the end) or a Gemm (its GEMM view)."""
    from hwmap.ops.work import Conv, Gemm

    work = getattr(node, "work", node)
    name = getattr(node, "name", "layer")
    if isinstance(work, Conv) and len(work.kernel) == 2 and not work.transposed:
        (oy, ox), (fy, fx), (sy, sx), (dy, dx) = work.out_spatial, work.kernel, work.stride, work.dilation
        pads = [(begin, max(0, (o - 1) * s + d * (f - 1) + 1 - extent - begin))  # end: the last window's overhang
                for begin, o, s, d, f, extent in zip(work.padding, (oy, ox), (sy, sx), (dy, dx), (fy, fx),
                                                     work.in_spatial, strict=True)]
        return LoopProblem(B=work.batch, G=work.groups, K=work.out_channels // work.groups,
                           C=work.in_channels // work.groups, OY=oy, OX=ox, FY=fy, FX=fx, stride_y=sy, stride_x=sx,
                           dilation_y=dy, dilation_x=dx, name=name, padding_y=pads[0], padding_x=pads[1])
    gemm = work if isinstance(work, Gemm) else getattr(work, "gemm", None)  # a Conv's per-group GEMM view
    if isinstance(gemm, Gemm):
        return LoopProblem.gemm(gemm.m, gemm.n, gemm.k, batch=gemm.batch, name=name)
    raise HwmapError(f"{name}: {type(work).__name__} is not a conv or GEMM; the multi-level mapper maps only those")
