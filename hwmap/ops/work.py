"""Canonical work descriptors: every traced operator is lowered to exactly one of these.

Cost models dispatch on the Work type, never on operator names. All counts are per call of the operator
(the whole batch included). MACs are the primitive; FLOPs are derived in hwmap.units.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Gemm:
    """batch independent GEMMs of (m x k) @ (k x n).

    Convention shared with SCALE-Sim: m = output rows (ofmap pixels or tokens), n = output columns (filters or
    output features), k = reduction length (filter size or input features).
    """

    kind: ClassVar[str] = "gemm"
    batch: int
    m: int
    n: int
    k: int

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.n * self.k

    @property
    def vector_ops(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Conv:
    """An N-d convolution. Its GEMM view is one GEMM per group (im2col lowering, as SCALE-Sim does).

    Spatial tuples are ordered like the tensor dims (H, W) for 2-d convs.
    """

    kind: ClassVar[str] = "conv"
    batch: int
    in_channels: int
    out_channels: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    transposed: bool = False

    @property
    def gemm(self) -> Gemm:
        """The per-group GEMM: m = ofmap pixels x batch, k = (C_in/groups) x kernel size, n = C_out/groups.

        A transposed conv is counted as the direct conv it is the gradient of: every input pixel meets every
        kernel tap once, so m counts input pixels instead of output pixels.
        """
        pixels = self.in_spatial if self.transposed else self.out_spatial
        return Gemm(
            batch=self.groups,
            m=self.batch * math.prod(pixels),
            n=self.out_channels // self.groups,
            k=(self.in_channels // self.groups) * math.prod(self.kernel),
        )

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels and self.out_channels % self.groups == 0

    @property
    def is_pointwise(self) -> bool:
        return self.groups == 1 and all(k == 1 for k in self.kernel)

    @property
    def macs(self) -> int:
        return self.gemm.macs

    @property
    def vector_ops(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Elementwise:
    """elements outputs, each computed with ops_per_element vector operations (activations, adds, casts)."""

    kind: ClassVar[str] = "elementwise"
    elements: int
    ops_per_element: int = 1

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> int:
        return self.elements * self.ops_per_element


@dataclass(frozen=True, slots=True)
class Reduction:
    """Reads elements_in values and writes elements_out (softmax, norms, means, pooling windows).

    ops_per_element counts vector operations per input element (softmax: max, subtract, exp, sum, divide = 5).
    """

    kind: ClassVar[str] = "reduction"
    elements_in: int
    elements_out: int
    ops_per_element: int = 1

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> int:
        return self.elements_in * self.ops_per_element


@dataclass(frozen=True, slots=True)
class DataMove:
    """Moves or re-lays out bytes_moved bytes (copies, cat, pad, gather, interpolation as a resampling copy).

    ops_per_element > 0 marks moves that also compute (bilinear interpolation: 4 taps weighted and summed).
    """

    kind: ClassVar[str] = "datamove"
    elements: int
    bytes_moved: int
    ops_per_element: int = 0

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> int:
        return self.elements * self.ops_per_element


@dataclass(frozen=True, slots=True)
class Zero:
    """Explicitly free: views, reshapes, transposes of strides, metadata queries. Nothing is silently free."""

    kind: ClassVar[str] = "zero"

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Unsupported:
    """An operator hwmap cannot lower. It is kept in the graph and listed in every report."""

    kind: ClassVar[str] = "unsupported"

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> int:
        return 0


Work = Gemm | Conv | Elementwise | Reduction | DataMove | Zero | Unsupported

WORK_TYPES: dict[str, type] = {
    cls.kind: cls for cls in (Gemm, Conv, Elementwise, Reduction, DataMove, Zero, Unsupported)
}
_FIELD_NAMES = {kind: {f.name for f in fields(cls)} for kind, cls in WORK_TYPES.items()}
_TUPLE_FIELDS = {"in_spatial", "out_spatial", "kernel", "stride", "padding", "dilation"}


def work_to_dict(work: Work) -> dict:
    return {"kind": work.kind, **asdict(work)}


def work_from_dict(data: dict) -> Work:
    """Rebuild a Work from its JSON dict; raises KeyError/TypeError/ValueError on a malformed dict."""
    values = dict(data)
    kind = values.pop("kind")
    cls = WORK_TYPES[kind]
    expected = _FIELD_NAMES[kind]
    if values.keys() != expected:
        raise ValueError(f"work of kind {kind!r} needs fields {sorted(expected)}, got {sorted(values)}")
    for name, value in values.items():
        if name in _TUPLE_FIELDS:
            values[name] = tuple(int(v) for v in value)
        elif name == "transposed":
            values[name] = bool(value)
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"work field {name!r} must be a non-negative integer, got {value!r}")
    return cls(**values)
