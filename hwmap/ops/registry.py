"""The one operator registry: aten op name -> lowering to canonical Work and an op class.

Lowerings read only shapes, dtypes and plain arguments (duck-typed: anything with .shape and .dtype), so this
module and the lowerings never import torch. Capture (hwmap.graph.capture) builds an OpCall per traced op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Unsupported, Work

_ATTENTION_HINTS = ("attn", "attention")


@dataclass(frozen=True, slots=True)
class OpCall:
    """What a lowering may look at: the op, its raw arguments (tensors duck-typed), and tensor metadata."""

    op: str  # packet name, e.g. "aten.convolution"
    args: Sequence[Any]
    kwargs: dict[str, Any]
    inputs: tuple[TensorMeta, ...]  # tensor arguments in argument order (lists flattened)
    outputs: tuple[TensorMeta, ...]
    scope: str
    module_class: str

    @property
    def in_attention(self) -> bool:
        """True inside a module whose qualified name or class mentions attention (timm 'attn', HF 'attention')."""
        text = f"{self.scope}.{self.module_class}".lower()
        return any(hint in text for hint in _ATTENTION_HINTS)

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default)


@dataclass(frozen=True, slots=True)
class Lowered:
    """One canonical step of an op. Most ops lower to one step; fused attention lowers to three."""

    work: Work
    op_class: OpClass
    part: str = ""


Lowering = Callable[[OpCall], "Lowered | list[Lowered]"]

_REGISTRY: dict[str, Lowering] = {}


def register_op(*names: str) -> Callable[[Lowering], Lowering]:
    """Register one lowering under aten packet names ('aten.mm'); a name registered twice is a bug."""

    def decorator(fn: Lowering) -> Lowering:
        for name in names:
            if name in _REGISTRY:
                raise ValueError(f"op {name!r} is registered twice ({_REGISTRY[name].__name__}, {fn.__name__})")
            _REGISTRY[name] = fn
        return fn

    return decorator


def _ensure_loaded() -> None:
    """Import every lowering module (idempotent: a module imported earlier by anyone is not run twice)."""
    from hwmap.ops import aten, ignored, onnx_ops  # noqa: F401  (registration side effects)


def registered_ops() -> dict[str, Lowering]:
    _ensure_loaded()
    return dict(_REGISTRY)


def lookup(op: str) -> Lowering | None:
    _ensure_loaded()
    return _REGISTRY.get(op)


def lower(call: OpCall) -> list[Lowered]:
    """Lower one op call; an unknown op becomes an Unsupported step (kept, reported, never dropped)."""
    fn = lookup(call.op)
    if fn is None:
        return [Lowered(Unsupported(), OpClass.OTHER)]
    result = fn(call)
    return result if isinstance(result, list) else [result]
