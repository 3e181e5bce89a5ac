"""A layer graph as columns of numpy arrays: what every cost model reads, built once per graph.

Element counts (not bytes) are kept, because the traced dtype (float32 on meta) is not the accelerator's
operand width; each cost model multiplies by its own operand bytes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hwmap.cost.result import UNIT_ARRAY, UNIT_DMA, UNIT_NONE, UNIT_UNSUPPORTED, UNIT_VECTOR, LayerIdentity
from hwmap.graph.ir import LayerGraph
from hwmap.ops.work import Conv, DataMove, Gemm

_UNIT_BY_KIND = {"gemm": UNIT_ARRAY, "conv": UNIT_ARRAY, "elementwise": UNIT_VECTOR, "reduction": UNIT_VECTOR,
                 "datamove": UNIT_DMA, "zero": UNIT_NONE, "unsupported": UNIT_UNSUPPORTED}


@dataclass(frozen=True)
class LayerArrays:
    """Per-layer columns of a graph, in execution order."""

    identity: LayerIdentity
    work_kinds: tuple[str, ...]
    vector_ops: np.ndarray  # int64: vector-unit operations (0 for GEMMs and views)
    input_elements: np.ndarray  # int64: activation elements read (weights excluded)
    weight_elements: np.ndarray  # int64: parameter/buffer elements read
    output_elements: np.ndarray  # int64: elements written
    depthwise: np.ndarray  # bool: grouped conv with one input channel per group
    geometry: np.ndarray  # int64 (L, 6): SCALE-Sim conv view per group, see conv_geometry_row
    nest: np.ndarray  # int64 (L, 10): loop nest (n, k, c, p, q, r, s, stride_h, stride_w, groups), see nest_row

    def mask(self, unit: str) -> np.ndarray:
        return self._units == unit

    @cached_property
    def _units(self) -> np.ndarray:
        """The layers' units as an array (a sweep asks for each mask at every design point)."""
        return np.array(self.identity.units, dtype=object)

    def __len__(self) -> int:
        return len(self.identity.names)


def _gemm_of(work) -> Gemm | None:
    if isinstance(work, Conv):
        return work.gemm
    return work if isinstance(work, Gemm) else None


_CACHE: dict[int, tuple[weakref.ref, LayerArrays]] = {}


def layer_arrays(graph: LayerGraph) -> LayerArrays:
    """Columns for graph, cached per graph object (by identity: hashing thousands of nodes costs more than a
    lookup), so sweeps over many templates build them once."""
    hit = _CACHE.get(id(graph))
    if hit is not None and hit[0]() is graph:
        return hit[1]
    arrays = _build_layer_arrays(graph)
    _CACHE[id(graph)] = (weakref.ref(graph, lambda _ref, key=id(graph): _CACHE.pop(key, None)), arrays)
    return arrays


def _build_layer_arrays(graph: LayerGraph) -> LayerArrays:
    nodes = graph.nodes
    gemms = [_gemm_of(n.work) for n in nodes]

    def column(values) -> np.ndarray:
        return np.fromiter(values, dtype=np.int64, count=len(nodes))

    identity = LayerIdentity(
        names=tuple(n.name for n in nodes),
        op_classes=tuple(n.op_class.value for n in nodes),
        scopes=tuple(n.scope for n in nodes),
        units=tuple(_UNIT_BY_KIND[n.work.kind] for n in nodes),
        macs=column(n.work.macs for n in nodes),
        gemm_batch=column(g.batch if g else 0 for g in gemms),
        gemm_m=column(g.m if g else 0 for g in gemms),
        gemm_n=column(g.n if g else 0 for g in gemms),
        gemm_k=column(g.k if g else 0 for g in gemms),
    )
    return LayerArrays(
        identity=identity,
        work_kinds=tuple(n.work.kind for n in nodes),
        vector_ops=column(n.work.vector_ops for n in nodes),
        input_elements=column(sum(t.numel for t in n.inputs if not t.is_weight) for n in nodes),
        weight_elements=column(sum(t.numel for t in n.inputs if t.is_weight) for n in nodes),
        output_elements=column(
            n.work.elements if isinstance(n.work, DataMove) else sum(t.numel for t in n.outputs) for n in nodes),
        depthwise=np.fromiter((isinstance(n.work, Conv) and n.work.is_depthwise for n in nodes), dtype=bool,
                              count=len(nodes)),
        geometry=np.array([conv_geometry_row(n.work, g) for n, g in zip(nodes, gemms, strict=True)],
                          dtype=np.int64).reshape(len(nodes), 6),
        nest=np.array([nest_row(n.work, g) for n, g in zip(nodes, gemms, strict=True)],
                      dtype=np.int64).reshape(len(nodes), 10),
    )


def nest_row(work, gemm: Gemm | None) -> tuple[int, ...]:
    """The 7-deep loop nest of a layer for the mapper (hwmap.cost.mapping.LoopNest fields, in order).

    A 2-d, undilated, direct conv keeps its real geometry (N, K, C per group, P, Q, R, S, strides, groups);
    anything else GEMM-like is its GEMM view (N = 1, K = n, C = k, P = m, Q = R = S = 1, groups = batch).
    """
    if gemm is None:
        return (0,) * 10
    if (isinstance(work, Conv) and len(work.kernel) == 2 and not work.transposed
            and all(d == 1 for d in work.dilation)):
        (kh, kw), (sh, sw), (p, q) = work.kernel, work.stride, work.out_spatial
        return (work.batch, work.out_channels // work.groups, work.in_channels // work.groups, p, q, kh, kw, sh, sw,
                work.groups)
    return (1, gemm.n, gemm.k, gemm.m, 1, 1, 1, 1, 1, gemm.batch)


def conv_geometry_row(work, gemm: Gemm | None) -> tuple[int, int, int, int, int, int]:
    """(ifmap_h, ifmap_w, filter_h, filter_w, channels, stride) of one group, as SCALE-Sim sees a layer.

    A 2-d, batch-1, equal-stride, undilated conv keeps its geometry, with the effective input extent
    H_eff = (H_out - 1) * stride + kernel (SCALE-Sim has no padding field); anything else is its GEMM view
    (SCALE-Sim's own mapping of a GEMM row: H = m, W = k, a 1 x k filter, 1 channel, stride 1), which makes
    the ifmap's distinct words the im2col matrix, an upper bound on the real input's words.
    """
    if gemm is None:
        return (0, 0, 0, 0, 0, 0)
    if (isinstance(work, Conv) and len(work.kernel) == 2 and work.batch == 1 and not work.transposed
            and work.stride[0] == work.stride[1] and all(d == 1 for d in work.dilation)):
        (kh, kw), s = work.kernel, work.stride[0]
        h_eff, w_eff = (work.out_spatial[0] - 1) * s + kh, (work.out_spatial[1] - 1) * s + kw
        return (h_eff, w_eff, kh, kw, work.in_channels // work.groups, s)
    return (gemm.m, gemm.k, 1, gemm.k, 1, 1)
