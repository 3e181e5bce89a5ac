"""Tensor metadata as the trace sees it: shape, dtype and where the tensor came from."""

from __future__ import annotations

from typing import NamedTuple

DTYPE_BYTES: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint8": 1, "bool": 1, "complex64": 8, "float8_e4m3fn": 1, "float8_e5m2": 1,
}


class TensorMeta(NamedTuple):
    """A tensor seen by an operator. source names where it came from: a node id, 'param:<name>',
    'buffer:<name>', 'input:<i>' or 'const' (a tensor created inside the forward).

    A NamedTuple rather than a frozen dataclass: graphs hold thousands and reading a saved graph must be fast."""

    shape: tuple[int, ...]
    dtype: str
    source: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def size_bytes(self) -> int:
        return self.numel * DTYPE_BYTES.get(self.dtype, 4)

    @property
    def is_weight(self) -> bool:
        return self.source.startswith(("param:", "buffer:"))
