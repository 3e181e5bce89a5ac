"""Operators that are explicitly free: views and stride tricks, allocations without writes, metadata queries.

They are still recorded as graph nodes (with Zero work) so producer-to-consumer edges stay intact.
"""

from __future__ import annotations

from hwmap.ops.classes import OpClass
from hwmap.ops.registry import Lowered, OpCall, register_op
from hwmap.ops.work import Zero

ZERO_OPS: tuple[str, ...] = (
    # views and layout metadata
    "view", "_unsafe_view", "reshape", "_reshape_alias", "t", "transpose", "permute", "expand", "expand_as",
    "unsqueeze", "unsqueeze_", "squeeze", "squeeze_", "select", "slice", "split", "split_with_sizes", "unbind",
    "chunk", "narrow", "alias", "detach", "detach_", "as_strided", "as_strided_", "unfold", "diagonal",
    "view_as", "view_as_real", "view_as_complex", "movedim", "flatten", "unflatten", "lift_fresh",
    "lift_fresh_copy", "contiguous", "numpy_T", "_conj", "_neg_view", "real", "imag", "swapaxes", "transpose_",
    "t_", "resolve_conj", "resolve_neg", "dropout", "feature_dropout", "alpha_dropout",
    # allocations whose contents are written by the consumer
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "new_zeros", "new_ones",
    "new_full", "scalar_tensor", "_local_scalar_dense",
    # metadata queries
    "size", "stride", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size",
    "_has_compatible_shallow_copy_type", "is_nonzero", "equal", "item", "_assert_async", "_assert_tensor_metadata",
    "_functional_assert_async", "set_", "resize_", "record_stream",
)


@register_op(*(f"aten.{name}" for name in ZERO_OPS))
def _zero(call: OpCall) -> Lowered:
    return Lowered(Zero(), OpClass.VIEW)
