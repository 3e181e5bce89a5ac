"""Operator classes used for every breakdown (MACs, cycles, energy, GPU time).

A class is 'group.detail'; reports aggregate by the group (conv, linear, attention, ...) or the full name.
"""

from __future__ import annotations

from enum import Enum


class OpClass(str, Enum):
    CONV_DENSE = "conv.dense"
    CONV_POINTWISE = "conv.pointwise"
    CONV_DEPTHWISE = "conv.depthwise"
    CONV_GROUPED = "conv.grouped"
    LINEAR = "linear"
    LINEAR_ATTENTION = "linear.attention"  # Q/K/V/output projections inside an attention module
    MATMUL = "matmul"  # activation x activation products outside attention (rare in vision models)
    ATTENTION_MATMUL = "attention.matmul"  # QK^T and AV
    ATTENTION_SOFTMAX = "attention.softmax"
    ATTENTION_PROJECTION = "attention.projection"  # LINEAR_ATTENTION under the linear-as-conv convention
    NORM = "normalization"
    ACTIVATION = "activation"
    ELEMENTWISE = "elementwise"
    POOL_RESIZE = "pooling_resize"
    DATA_MOVEMENT = "data_movement"
    VIEW = "view"  # explicit Zero work
    OTHER = "other"

    @property
    def group(self) -> str:
        return self.value.split(".")[0]

    def __str__(self) -> str:
        return self.value


GROUP_ORDER = (
    "conv", "linear", "attention", "matmul", "normalization", "activation", "elementwise",
    "pooling_resize", "data_movement", "view", "other",
)


def reporting_class(op_class: OpClass, *, linear_as_conv: bool) -> OpClass:
    """The class a report files an op under.

    With linear_as_conv (the convention of the dynamic-ViT analysis this tool reproduces), token-wise linear
    layers (MLPs, decoder projections, patch merging) count as 1x1 convolutions, while an attention block's own
    Q/K/V/output projections count with attention. SegFormer-B2 at 512x512 is then about 88% convolution.
    """
    if linear_as_conv:
        if op_class is OpClass.LINEAR:
            return OpClass.CONV_POINTWISE
        if op_class is OpClass.LINEAR_ATTENTION:
            return OpClass.ATTENTION_PROJECTION
    return op_class
