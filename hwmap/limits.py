"""The one set of size bounds every front end applies before work starts.

A model reaches hwmap through many doors: CLI flags, the Python API, paths files, OFA specs (``r=``), ``hf:`` config
files, ONNX files, nn.Modules and SCALE-Sim topologies. Each checks what it reads against these bounds *before*
building, tracing, folding or costing anything, so that a typo'd or hostile size is one clear error instead of
minutes of work, gigabytes of memory or an int64 overflow:

- an input's side (H, W) and channels: at most MAX_RESOLUTION (65,536, the README's promise); batch: MAX_BATCH;
- classes: MAX_CLASSES; repeated layers in a model config (``num_hidden_layers``, a stage's depth): MAX_LAYERS;
- a traced graph: at most MAX_GRAPH_NODES nodes and MAX_TOTAL_MACS multiply-accumulates (checked before costing);
- a tensor hwmap materialises itself (ONNX constant folding): at most MAX_FOLDED_ELEMENTS elements; the input of
  an nn.Module with real weights (traced with real arithmetic on the CPU): at most MAX_REAL_INPUT_ELEMENTS.

The numbers are far above any real vision workload (a 2^16-pixel side is a 4-gigapixel image): they exist so that
no product hwmap computes overflows int64 and no input allocates without limit, not to second-guess a design.
Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from hwmap.errors import HwmapError, ParameterError

__all__ = [
    "MAX_BATCH", "MAX_CLASSES", "MAX_COUNT", "MAX_FOLDED_ELEMENTS", "MAX_GRAPH_NODES", "MAX_LAYERS",
    "MAX_REAL_INPUT_ELEMENTS", "MAX_RESOLUTION", "MAX_TOPOLOGY_FIELD", "MAX_TOPOLOGY_LAYER_MACS", "MAX_TOPOLOGY_ROWS",
    "MAX_TOTAL_MACS", "check_graph_size", "check_input_chw", "check_size", "is_bool", "is_integer", "parse_input_shape",
]

MAX_RESOLUTION = 1 << 16  # per side (H, W) and channels of one input image: 65,536
MAX_BATCH = 1 << 20
MAX_CLASSES = 1 << 24
MAX_COUNT = 1 << 31  # counts a user gives (rows, limits, steps)
MAX_LAYERS = 1 << 12  # repeated blocks in one model config: 4,096
MAX_GRAPH_NODES = 1 << 20  # operators in one traced graph
MAX_TOTAL_MACS = 1 << 62  # the graph file's integer bound (hwmap.graph.io.MAX_INT): every sum stays inside int64
MAX_FOLDED_ELEMENTS = 64  # a tensor hwmap computes itself while reading a model (ONNX shape arithmetic)
# SCALE-Sim topology files: a field past MAX_TOPOLOGY_FIELD or a layer past MAX_TOPOLOGY_LAYER_MACS would overflow
# the int64 arithmetic of the cost model; more than MAX_TOPOLOGY_ROWS layers (depthwise rows expand to one layer per
# channel) is not a network but a mistake, and would take minutes.
MAX_TOPOLOGY_FIELD = 1 << 24
MAX_TOPOLOGY_LAYER_MACS = 1 << 56
MAX_TOPOLOGY_ROWS = 250_000
MAX_REAL_INPUT_ELEMENTS = 1 << 28  # an nn.Module with real weights runs real arithmetic: at most 1 GiB of fp32 input


def check_size(value: object, *, name: str, limit: int, minimum: int = 1) -> int:
    """value as an int if it is an integer in [minimum, limit] (numpy integers included; bools, floats and strings
    refused), else ONE ParameterError naming name."""
    if not is_integer(value):
        raise ParameterError(name, f"must be an integer, got {_shown(value)}{_kind(value)}")
    number = int(value)  # type: ignore[call-overload]
    if number < minimum:
        raise ParameterError(name, f"must be {'a positive integer' if minimum == 1 else f'>= {minimum}'}, got "
                                   f"{number}")
    if number > limit:
        raise ParameterError(name, f"must be at most {limit:,}, got {number:,}")
    return number


def check_input_chw(chw: object, *, name: str = "input_shape") -> tuple[int, int, int]:
    """(C, H, W) with every size an integer from 1 to MAX_RESOLUTION, else ONE ParameterError naming name."""
    expected = f"must be C x H x W with positive sizes up to {MAX_RESOLUTION:,} (three integers)"
    if isinstance(chw, str | bytes) or not isinstance(chw, Sequence) or len(chw) != 3:
        raise ParameterError(name, f"{expected}, got {_shown(chw)}")
    if not all(is_integer(v) and 1 <= int(v) <= MAX_RESOLUTION for v in chw):  # type: ignore[call-overload]
        raise ParameterError(name, f"{expected}, got {_shown(tuple(chw))}")
    c, h, w = (int(v) for v in chw)  # type: ignore[call-overload]
    return c, h, w


def parse_input_shape(text: str, *, argument: str = "input_shape") -> tuple[int, int, int]:
    """'3x512x512' -> (3, 512, 512); 'HxW' keeps 3 channels (the CLI's --input). A bad text is a ParameterError
    naming argument."""
    parts = [p.strip() for p in text.lower().replace("*", "x").split("x")]
    if len(parts) == 2:
        parts = ["3", *parts]
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and 0 < int(p) <= MAX_RESOLUTION for p in parts):
        raise ParameterError(argument, f"{text!r}: expected CxHxW with positive integers up to {MAX_RESOLUTION}, "
                                       "e.g. 3x224x224")
    c, h, w = (int(p) for p in parts)
    return c, h, w


def check_graph_size(n_nodes: int, total_macs: int, *, name: str, error: type[HwmapError] = HwmapError) -> None:
    """A graph's operator count and total MACs inside MAX_GRAPH_NODES / MAX_TOTAL_MACS, else ONE error."""
    if n_nodes > MAX_GRAPH_NODES:
        raise error(f"{name}: {n_nodes:,} operators, more than the {MAX_GRAPH_NODES:,} hwmap costs in one graph")
    if total_macs > MAX_TOTAL_MACS:
        raise error(f"{name}: {total_macs:,} MACs, more than the {MAX_TOTAL_MACS:,} hwmap can sum exactly; use a "
                    "smaller input or batch")


def is_integer(value: object) -> bool:
    """An int or numpy integer, not a bool (True is not a size)."""
    import numbers

    return isinstance(value, numbers.Integral) and not is_bool(value)


def is_bool(value: object) -> bool:
    """A bool or a numpy bool (numpy.bool_, named numpy.bool in numpy 2)."""
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"))


def _kind(value: object) -> str:
    """' (a float)' etc. where the repr alone does not say the type."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return " (a string)"
    return f" (a {type(value).__name__})" if not isinstance(value, int) else ""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
