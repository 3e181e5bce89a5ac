"""GraphSpec: what to extract a layer graph from and how, parsed once at the boundary.

hwmap.api builds it from its keywords after hwmap.api_checks has checked and normalised them
(GraphSpec.from_checked); library callers that hold raw keywords (dse, calibrate, tests) use graph_spec(), which
checks them with the same hwmap.limits rules. Every front end (hwmap.graph.frontends) takes the spec as is and
re-validates nothing: it only refuses the options that do not apply to its form (a saved graph has fixed shapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hwmap.errors import HwmapError
from hwmap.limits import MAX_BATCH, MAX_CLASSES, MAX_RESOLUTION, check_input_chw, check_size

__all__ = ["GraphSpec", "graph_spec"]


@dataclass(frozen=True)
class GraphSpec:
    """A model (a spec string, a file path, a LayerGraph or an nn.Module) and the options of its extraction, every
    value already checked: input_chw (C, H, W) or resolution (not both), batch >= 1, num_classes >= 1 or None."""

    model: Any
    input_chw: tuple[int, int, int] | None = None
    resolution: int | None = None
    batch: int = 1
    num_classes: int | None = None
    example_inputs: Any = None  # an nn.Module's own inputs (tensors), interpreted by the module front end
    strict: bool = False  # an op hwmap cannot lower is an error instead of a reported Unsupported node
    name: str | None = None  # the graph's name (default: the model's)
    cache: bool = True  # a traced spec's graph is read from / written to hwmap.graph.cache

    @classmethod
    def from_checked(cls, model: Any, *, input_shape: Sequence[int] | None = None, resolution: int | None = None,
                     batch: int = 1, num_classes: int | None = None, example_inputs: Any = None, strict: bool = False,
                     name: str | None = None, cache: bool = True) -> GraphSpec:
        """The spec of keywords each already checked on its own (hwmap.api_checks); only the rule between two of
        them is checked here."""
        if input_shape is not None and resolution is not None:
            raise HwmapError("give input_shape or resolution, not both")
        chw = None if input_shape is None else (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
        return cls(model, chw, resolution, batch, num_classes, example_inputs, strict, name, cache)

    @property
    def sets_input(self) -> bool:
        """True when any option that changes a model's input or classifier is given (a saved graph refuses them)."""
        return bool(self.input_chw or self.resolution or self.batch != 1 or self.num_classes)

    def input_for(self, default_chw: tuple[int, int, int]) -> tuple[int, int, int]:
        """The (C, H, W) the model is traced at: input_chw, or the default's channels at resolution x resolution,
        or the model's default."""
        if self.input_chw is not None:
            return self.input_chw
        if self.resolution is not None:
            return (default_chw[0], self.resolution, self.resolution)
        return default_chw


def graph_spec(model: Any, *, input_shape: Sequence[int] | None = None, resolution: int | None = None,
               batch: int = 1, num_classes: int | None = None, example_inputs: Any = None, strict: bool = False,
               name: str | None = None, cache: bool = True) -> GraphSpec:
    """A GraphSpec from a library caller's raw keywords, each checked once here (ParameterError naming the
    keyword, the rules hwmap.api_checks applies to the API's keywords)."""
    return GraphSpec.from_checked(
        model,
        input_shape=None if input_shape is None else check_input_chw(input_shape),
        resolution=None if resolution is None else check_size(resolution, name="resolution", limit=MAX_RESOLUTION),
        batch=check_size(batch, name="batch", limit=MAX_BATCH),
        num_classes=None if num_classes is None else check_size(num_classes, name="num_classes", limit=MAX_CLASSES),
        example_inputs=example_inputs, strict=strict, name=name, cache=cache)
