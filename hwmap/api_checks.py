"""The Python API's argument checks: every public function of hwmap.api validates its arguments like the CLI does,
before any work, with one ParameterError naming the keyword.

One rule per keyword name (``batch`` means the same everywhere), with per-function overrides where a name means
something else (``pareto(table)`` is a DataFrame, ``calibrate_from_table(table)`` a file). :func:`checked` wraps a
function: it binds the call to the signature, checks each argument with its rule, passes the normalised values on
(numpy integers and floats become the int and float they are, ``input_shape`` text is parsed as ``--input`` is)
and refuses a run whose output file is one of its input files (hwmap.fileio.check_run_files, as the CLI does).

The choices made here, the same for every function:
- integers: int or numpy integer; a float (even 3.0), a bool or a string is refused (the CLI's ``--batch 3.0``
  is refused too); floats: int, float or numpy number, finite; strings are refused for numbers, except
  ``input_shape`` ('3x224x224', as ``--input``) and the budget keywords, which are text by design;
- flags: True/False (numpy bools too); 1/0 and 'yes' are refused;
- None only where the signature's default is None; a file path is a non-empty str or os.PathLike;
- a list of names is a list or tuple, not a bare string (whose letters would be read as names).

tests/test_api_checks.py drives every public function (from hwmap.api.__all__ and the signatures) with wrong
types and out-of-range values, and checks the ranges against the CLI's option parsers.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwmap.errors import ParameterError
from hwmap.limits import (
    MAX_BATCH,
    MAX_CLASSES,
    MAX_COUNT,
    MAX_RESOLUTION,
    check_input_chw,
    check_size,
    is_bool,
    parse_input_shape,
)

__all__ = ["FREE", "OUTPUT_FILES", "RULES", "checked", "rule_for"]


def _shown(value: object) -> str:
    """The value's repr (cut at 80 characters), with its type where the repr does not say it."""
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return text if value is None or type(value) in (bool, int, float) else f"{text} (a {type(value).__name__})"


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int

    @property
    def what(self) -> str:
        return f"an integer from {self.minimum:,} to {self.maximum:,}"

    def __call__(self, name: str, value: Any) -> int:
        return check_size(value, name=name, limit=self.maximum, minimum=self.minimum)


@dataclass(frozen=True)
class Number:
    minimum: float
    maximum: float = 1e18
    exclusive_minimum: bool = False

    @property
    def what(self) -> str:
        low = f"greater than {self.minimum:g}" if self.exclusive_minimum else f"from {self.minimum:g}"
        return f"a finite number {low}" + (f" to {self.maximum:g}" if self.maximum < 1e18 else "")

    def __call__(self, name: str, value: Any) -> float:
        if is_bool(value) or not isinstance(value, numbers.Real):
            raise ParameterError(name, f"must be a number, got {_shown(value)}")
        number = float(value)
        too_low = number <= self.minimum if self.exclusive_minimum else number < self.minimum
        if not math.isfinite(number) or too_low or number > self.maximum:
            raise ParameterError(name, f"must be {self.what}, got {number:g}")
        return number


@dataclass(frozen=True)
class Flag:
    what: str = "True or False"

    def __call__(self, name: str, value: Any) -> bool:
        if is_bool(value):
            return bool(value)
        raise ParameterError(name, f"must be True or False, got {_shown(value)}")


@dataclass(frozen=True)
class Text:
    what: str = "a string"

    def __call__(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return value


@dataclass(frozen=True)
class FilePath:
    what: str = "a file path (str or os.PathLike)"

    def __call__(self, name: str, value: Any) -> Any:
        if not isinstance(value, str | os.PathLike):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        if str(value) == "" or str(value) == "None":
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return value


@dataclass(frozen=True)
class Given:
    """An object of one of several accepted kinds, checked further by the function; here: not None unless allowed,
    not an empty string, not a number or bool where a path or object is expected."""

    what: str

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, bool | numbers.Number) or (isinstance(value, str) and not value.strip()):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return value


def _is_a(value: Any, class_name: str) -> bool:
    """Whether value is an instance of a class of that name (checked by name: pandas, torch and the graph IR are
    not imported here)."""
    return any(cls.__name__ == class_name for cls in type(value).__mro__)


@dataclass(frozen=True)
class Space:
    """A design space: its YAML file, a dict of its content or a DesignSpace (the wording of dse.space.as_space)."""

    what: str = "a design-space YAML file (str or Path), a dict of its content or a DesignSpace"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, Mapping) or (isinstance(value, str | os.PathLike) and str(value)) \
                or _is_a(value, "DesignSpace"):
            return value
        raise ParameterError(name, f"must be {self.what}, got {type(value).__name__}")


@dataclass(frozen=True)
class Frame:
    """A pandas DataFrame (checked by class name: pandas is not imported here)."""

    or_path: bool = False

    @property
    def what(self) -> str:
        return "a pandas DataFrame" + (" or a results file path" if self.or_path else "")

    def __call__(self, name: str, value: Any) -> Any:
        if _is_a(value, "DataFrame"):
            return value
        if self.or_path and isinstance(value, str | os.PathLike) and str(value):
            return value
        raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")


@dataclass(frozen=True)
class Graph:
    what: str = "a LayerGraph (extract_graph or load_graph)"

    def __call__(self, name: str, value: Any) -> Any:
        if _is_a(value, "LayerGraph"):
            return value
        raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")


@dataclass(frozen=True)
class Names:
    """A list or tuple of names or paths (a bare string too when allow_text: one name, or comma-separated)."""

    allow_text: bool = False

    @property
    def what(self) -> str:
        return "a list of names" + (" or one string" if self.allow_text else "")

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            if self.allow_text:
                return value
            raise ParameterError(name, f"must be a list of names, not the string {value!r} (write [{value!r}])")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str | os.PathLike) and str(v)
                                                          for v in value):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return tuple(value)


@dataclass(frozen=True)
class Each:
    """A list or tuple whose items each pass ``item`` (numbers, sizes)."""

    item: Integer | Number

    @property
    def what(self) -> str:
        return f"a list of {self.item.what.removeprefix('a ').removeprefix('an ')}s"

    def __call__(self, name: str, value: Any) -> tuple:
        if not isinstance(value, list | tuple):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return tuple(self.item(name, v) for v in value)


@dataclass(frozen=True)
class Shape:
    what: str = f"(C, H, W) integers up to {MAX_RESOLUTION:,}, or text 'CxHxW'"

    def __call__(self, name: str, value: Any) -> tuple[int, int, int]:
        if isinstance(value, str):
            return parse_input_shape(value, argument=name)
        return check_input_chw(value, name=name)


@dataclass(frozen=True)
class TextOrSequence:
    """Text the function parses ('3,4,5', '2mJ,4mJ'), or a list/tuple of numbers or texts."""

    what: str = "text such as '3,4,5' or a list of numbers"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list | tuple) and all(
                isinstance(v, str) or (isinstance(v, numbers.Real) and not isinstance(v, bool)) for v in value):
            return [float(v) if isinstance(v, numbers.Real) else v for v in value]
        raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")


@dataclass(frozen=True)
class Callback:
    """A progress reporter: a function (called with counts), or for measure/calibrate an object with phase/advance
    methods (hwmap.calibrate.bench.Progress)."""

    what: str = "a function or a progress object"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str | bytes | numbers.Number) or not (callable(value) or hasattr(value, "phase")):
            raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")
        return value


@dataclass(frozen=True)
class PathOrMapping:
    what: str

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, Mapping) or (isinstance(value, str | os.PathLike) and str(value)):
            return value
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return value
        raise ParameterError(name, f"must be {self.what}, got {_shown(value)}")


Rule = Callable[[str, Any], Any]

_COUNT = Integer(1, MAX_COUNT)
_PATH = FilePath()
_NAME = Text()

# keyword -> rule, for every public function (tests/test_api_checks.py fails on a keyword without one)
RULES: dict[str, Rule] = {
    # sizes: the CLI's --batch, --resolution, --num-classes, --input (hwmap.limits)
    "batch": Integer(1, MAX_BATCH), "resolution": Integer(1, MAX_RESOLUTION), "num_classes": Integer(1, MAX_CLASSES),
    "input_shape": Shape(), "resolutions": Each(Integer(1, MAX_RESOLUTION)),
    # counts
    "top": Integer(0, MAX_COUNT), "module_depth": Integer(1, 1024), "workers": Integer(0, 4096),
    "chunk_size": _COUNT, "max_paths": _COUNT, "limit": _COUNT, "reps": Integer(1, 1_000_000),
    "skip_last": Integer(0, 1024), "max_rows": _COUNT,
    # numbers
    "energy_s": Number(1.0, 86400.0), "extra_path_penalty": Number(0.0, 100.0), "switch_energy_mj": Number(0.0),
    "memory_mb": Number(0.0), "min_accuracy": Number(0.0, 100.0), "time_limit_s": Number(0.0, 1e9),
    "freq_mhz": Number(0.0, 1e6, exclusive_minimum=True),
    "mean": Each(Number(-1e9, 1e9)), "std": Each(Number(0.0, 1e9, exclusive_minimum=True)),
    # flags
    **{name: Flag() for name in ("strict", "cache", "compare", "linear_as_conv", "resume", "overwrite", "normalize",
                                 "drop_unknown", "quick", "tf32", "amp", "drop_decoder", "ofa_published")},
    # words (choices are checked by the functions, with the same vocabulary as the CLI's)
    **{name: _NAME for name in ("by", "mapping", "objective", "fusion", "dataflow", "mode", "dtype", "format",
                                "goal", "metric", "task", "unit", "kind", "device", "layer", "level", "name",
                                "reference", "scheduler", "columns", "contains", "title", "x", "y", "colour", "what",
                                "conventions")},
    # files hwmap writes or reads
    **{name: _PATH for name in ("out", "out_dir", "journal", "front_out", "path", "data", "weights", "calibration",
                                "source", "from_table", "graph_cache", "out_hint",
                                "ert", "constraints", "spatial_mapping", "fixed")},
    # objects of several kinds, or their files
    "model": Given("a model spec, a saved graph path, a LayerGraph or an nn.Module"),
    "accel": Given("a template name, a template file or an Accelerator"),
    "paths": Given("a paths file, a PathSet or costed paths"),
    "selection": Given("a selection file or a SelectionResult"),
    "budget_trace": Given("a trace file, a BudgetTrace or a list of budgets"),
    "space": Space(),
    "costed": Given("a list of CostedPath (cost_paths)"),
    "results": Frame(or_path=True),
    "graph": Graph(),
    "target_frontier": Given("a frontier file or a list of points"),
    "class_map": PathOrMapping("a class-map file or a mapping of class name to index"),
    "weights_for": PathOrMapping("a mapping of model to weights file, or a list of MODEL=FILE"),
    "accuracies": PathOrMapping("an accuracies file (YAML or CSV) or its YAML form as a mapping"),
    # lists
    "accels": Names(), "patterns": Names(), "skip_blocks": Names(), "variants": Names(),
    "models": Names(allow_text=True), "objectives": Names(allow_text=True),
    "budgets": TextOrSequence(), "budget_weights": TextOrSequence(),
    "progress": Callback(),
}

# (function, keyword) -> rule where the name means something else there
OVERRIDES: dict[tuple[str, str], Rule] = {
    ("pareto", "table"): Frame(),
    ("calibrate_from_table", "table"): _PATH,
    ("sweep", "workers"): Integer(1, 4096),  # in-process below 64 points by default; 0 is not a worker count
    ("pareto", "objectives"): Names(allow_text=True),
    ("check_cost", "cost"): Given("a GraphCost (estimate)"),
    ("compare_counters", "model"): Text("a model spec"),
}

# keywords any value of which the function itself interprets (documented there)
FREE = frozenset({"example_inputs"})

# (function, keyword) of the files a function writes: refused when one is also an input file of the call
OUTPUT_FILES: dict[str, tuple[str, ...]] = {
    "save_graph": ("out",), "export_graph": ("out",), "export_zigzag_workload": ("path",),
    "generate_paths": ("out",), "evaluate_paths": ("out",), "save_costed_paths": ("out",), "select_paths": ("out",),
    "sweep": ("out", "journal", "front_out"), "census": ("out",), "calibrate_gpu": ("out",),
    "plot_layers": ("out",), "plot_shares": ("out",), "plot_frontier": ("out",), "plot_pareto": ("out",),
}
_INPUT_FILES = ("model", "accel", "paths", "data", "weights", "calibration", "table", "selection", "budget_trace",
                "space", "source", "results", "class_map", "from_table", "target_frontier", "graph",
                "accuracies")


def rule_for(function: str, keyword: str) -> Rule | None:
    return OVERRIDES.get((function, keyword), RULES.get(keyword))


def _none_allowed(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation if isinstance(parameter.annotation, str) else str(parameter.annotation)
    return parameter.default is None or "None" in annotation or annotation in ("Any", "inspect._empty")


def check_arguments(function: Callable, arguments: inspect.BoundArguments) -> None:
    """Check and normalise a bound call of a public API function in place; ONE ParameterError (or OutputError for
    an output that is one of the inputs) naming the keyword."""
    name = function.__name__
    parameters = arguments.signature.parameters
    for keyword, value in list(arguments.arguments.items()):
        parameter = parameters[keyword]
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or keyword in FREE:
            continue
        rule = rule_for(name, keyword)
        if value is None:
            if _none_allowed(parameter):
                continue
            if isinstance(rule, Space):
                rule(keyword, value)  # its own wording (as dse.space.as_space words it): "..., got NoneType"
            what = getattr(rule, "what", "a value")
            raise ParameterError(keyword, f"must be {what}, got None")
        if rule is not None:
            arguments.arguments[keyword] = rule(keyword, value)
    _check_files(name, arguments.arguments)


def _check_files(function: str, values: Mapping[str, Any]) -> None:
    outputs = {k: values[k] for k in OUTPUT_FILES.get(function, ()) if isinstance(values.get(k), str | os.PathLike)}
    if not outputs:
        return
    from hwmap.fileio import check_run_files

    inputs = {}
    for keyword in _INPUT_FILES:
        value = values.get(keyword)
        if isinstance(value, str | os.PathLike):
            inputs[keyword] = str(value).removeprefix("hf:")
    check_run_files(inputs=inputs, outputs=outputs)


def checked(function: Callable) -> Callable:
    """function with its arguments checked by :func:`check_arguments` first (same signature and docstring)."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)  # a missing or unknown keyword: Python's own TypeError
        check_arguments(function, bound)
        return function(*bound.args, **bound.kwargs)

    call.__hwmap_checked__ = True  # type: ignore[attr-defined]
    return call


def check_public_functions(namespace: dict[str, Any], names: Sequence[str]) -> None:
    """Wrap every public function of a module namespace with :func:`checked` (hwmap.api calls this once)."""
    for name in names:
        function = namespace.get(name)
        if inspect.isfunction(function) and not getattr(function, "__hwmap_checked__", False):
            namespace[name] = checked(function)
