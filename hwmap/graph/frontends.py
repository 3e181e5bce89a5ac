"""The registry of model front ends: every form of MODEL hwmap reads is one FrontEnd that says which models it
takes (a predicate, or a file suffix) and how to read one into a LayerGraph from a GraphSpec; a front end for model
names that become an nn.Module also says how to build the module (hwmap.graph.sources.build_model, used by paths
and calibration). As torch's fake-tensor registry does for ops, a front end registers itself in its own module:

- hwmap.graph.extract: a LayerGraph, a saved graph .json, an nn.Module;
- hwmap.graph.sources: timm:<name>, tv:<torchvision name>, hf:<config>, segformer-b0..b5, ofa-resnet50:<d;e;w>,
  the user's own module 'path/to/file.py:Name' (hwmap.graph.module_file) and, for any other text, a timm name
  (the fallback front end);
- every module of hwmap.interop.frontends (other tools' formats: .onnx, SCALE-Sim topology .csv), which
  hwmap.interop.inputs loads before it reads a model (this layer cannot import interop).

A model goes to the first front end, by `order`, whose predicate takes it, else to the fallback; the unknown-model
error lists the front ends' routes in the same order (model_routes), the fallback's first. tests/graph/test_frontends.py
reads a tiny model through every registered front end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.graph.ir import LayerGraph
    from hwmap.graph.spec import GraphSpec

__all__ = ["FrontEnd", "front_end_for", "front_ends", "model_routes", "read_graph", "register_front_end"]

Reader = Callable[["GraphSpec"], "LayerGraph"]
Builder = Callable[[str, "int | None"], Any]  # (spec, num_classes) -> hwmap.graph.sources.BuiltModel


@dataclass(frozen=True)
class FrontEnd:
    """One form of MODEL: its name, how the unknown-model error names it, which models it takes, how to read one
    (and, for names of nn.Modules, how to build the module)."""

    name: str
    route: str  # how the unknown-model error names this form ('' : covered by another front end's route)
    order: float  # place among the front ends, for matching and in the error's list
    matches: Callable[[object], bool]
    read: Reader
    build: Builder | None = None
    fallback: bool = False  # takes any text no other front end takes; there is one (timm names)


_FRONT_ENDS: dict[str, FrontEnd] = {}


def has_suffix(suffix: str) -> Callable[[object], bool]:
    """The predicate of a front end for files with this suffix (any case)."""
    return lambda model: isinstance(model, str | Path) and str(model).lower().endswith(suffix)


def register_front_end(name: str, *, route: str, order: float, matches: Callable[[object], bool] | None = None,
                       suffix: str | None = None, build: Builder | None = None,
                       fallback: bool = False) -> Callable[[Reader], Reader]:
    """Register the decorated reader (GraphSpec -> LayerGraph) as front end `name`, taking the models `matches`
    accepts or the files ending in `suffix`; a name registered twice is a bug."""
    if (matches is None) == (suffix is None):
        raise ValueError(f"front end {name!r}: give matches or suffix, one of them")

    def decorator(read: Reader) -> Reader:
        if name in _FRONT_ENDS:
            raise ValueError(f"front end {name!r} is registered twice")
        if fallback and any(f.fallback for f in _FRONT_ENDS.values()):
            raise ValueError(f"front end {name!r}: there is already a fallback front end")
        _FRONT_ENDS[name] = FrontEnd(name, route, order, matches or has_suffix(suffix or ""), read, build, fallback)
        return read

    return decorator


def _ensure_loaded() -> None:
    """Import this layer's front-end modules (idempotent: a module imported earlier is not run twice)."""
    from hwmap.graph import extract, module_file, sources  # noqa: F401  (registration side effects)


def front_ends() -> dict[str, FrontEnd]:
    """The registered front ends by name, in their order."""
    _ensure_loaded()
    return {f.name: f for f in sorted(_FRONT_ENDS.values(), key=lambda f: f.order)}


def front_end_for(model: object) -> FrontEnd:
    """The front end that reads this model: the first whose predicate takes it, else the fallback."""
    registered = front_ends().values()
    for front_end in registered:
        if not front_end.fallback and front_end.matches(model):
            return front_end
    return next(f for f in registered if f.fallback)


def read_graph(spec: GraphSpec) -> LayerGraph:
    """The layer graph of spec.model, read by its front end."""
    return front_end_for(spec.model).read(spec)


def model_routes() -> str:
    """Every way to name a model, for the unknown-model error: the registered front ends' routes."""
    ordered = sorted(front_ends().values(), key=lambda f: not f.fallback)  # stable: by order after the fallback
    routes = [f.route for f in ordered if f.route]
    return ", ".join(routes[:-1]) + ", or " + routes[-1]
