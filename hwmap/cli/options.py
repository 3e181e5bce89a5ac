"""The CLI's one option vocabulary: every option that more than one command takes is declared here once (flag,
short flag, Python name = the API keyword, checked choices, default, help), with the strict numeric types they use
(decimal digits only, no ``1_0`` or ``²``, finite, inside a range that keeps every product hwmap computes from them
inside int64).

Each command names the hwmap.api function it calls with ``@calls_api("name")``; every option of the command is a
keyword of that function with the same Python name, except the CLI-only presentation options of
``PRESENTATION_FLAGS`` (tests/cli/test_api_contract.py checks both, generated from the Typer app).
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, TypeVar

import typer

# Bounds: one place for every front end (hwmap.limits); re-exported under the names the commands import.
from hwmap.limits import MAX_BATCH, MAX_CLASSES, MAX_COUNT, MAX_RESOLUTION

# The choices: one place for every list of words (hwmap.vocabulary); the Literal option types below are built from it.
from hwmap.vocabulary import BREAKDOWNS, DATAFLOWS, FUSIONS, GPU_DTYPES, GPU_MODES, MAPPER_OBJECTIVES, MAPPINGS

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


# Option value parsers: `typer.Option(parser=StrictInt(...))`. A parser (not a click ParamType through click_type)
# works with every typer this project allows: typer < 0.26 runs on the click package, 0.26+ on its own copy of click,
# and 0.29+ has no click_type. A bad value raises typer.BadParameter, which click reports as
# "Invalid value for '--top': ..." with the option's name.


class StrictInt:
    """An integer written with ASCII digits, in [min_value, max_value]."""

    def __init__(self, *, min_value: int, max_value: int) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.__name__ = "integer"  # the metavar click shows in --help (INTEGER)

    def __call__(self, value) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not _INT.fullmatch(text):
                raise typer.BadParameter(f"{value!r} is not an integer (digits only)")
            number = int(text)
        if not self.min_value <= number <= self.max_value:
            raise typer.BadParameter(f"{number} is out of range: expected an integer from {self.min_value} to "
                                     f"{self.max_value}")
        return number


class StrictFloat:
    """A finite decimal number in [min_value, max_value]."""

    def __init__(self, *, min_value: float, max_value: float = 1e18) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.__name__ = "number"  # the metavar click shows in --help (NUMBER)

    def __call__(self, value) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            if not _FLOAT.fullmatch(text):
                raise typer.BadParameter(f"{value!r} is not a number")
            number = float(text)
        if not math.isfinite(number) or not self.min_value <= number <= self.max_value:
            raise typer.BadParameter(f"{value} is out of range: expected a number from {self.min_value:g} to "
                                     f"{self.max_value:g}")
        return number


def spec_path(spec: str | None) -> str | None:
    """The file or folder a MODEL / --accel argument reads, if it names one (``hf:DIR`` reads DIR,
    ``file.py:Name`` reads file.py)."""
    if spec is None:
        return None
    file, colon, _name = spec.rpartition(":")  # the form hwmap.graph.module_file.split_spec reads
    if colon and file.lower().endswith(".py"):
        return file
    return spec.removeprefix("hf:")


def check_files(*, inputs: dict[str, str | None], outputs: dict[str, str | None], implicit: bool = True,
                templates: dict[str, str | None] | None = None) -> None:
    """hwmap.fileio.check_run_files with MODEL-like specs mapped to the files they read; with ``implicit``, an
    input labelled ``--accel...`` and each of ``templates`` (label -> template name or path read without an
    option, e.g. a space's base template) also bring the files a template reads (a shipped template's file, the
    calibration beside it: hwmap.hardware.template_files)."""
    from hwmap.api import template_input_files
    from hwmap.fileio import check_run_files

    pairs = [(label, spec_path(path)) for label, path in inputs.items()]
    if implicit:
        named = {label: path for label, path in inputs.items() if label.startswith("--accel")} | (templates or {})
        pairs += [pair for label, path in named.items() for pair in template_input_files(label, path).items()]
    check_run_files(inputs=pairs, outputs=outputs)


# ---------------------------------------------------------------- the command -> API contract

# CLI-only options: how the result is shown, not what is computed. Everything else is an API keyword.
PRESENTATION_FLAGS: dict[str, str] = {
    "--json": "every command: print JSON instead of tables",
    "--csv": "flops, estimate, bounds, paths cost: also write the printed table as CSV",
    "--top": "rows of a printed table (default 20, 0 = all)",
    "--title": "plot: the figure's title",
    "estimate --by": "estimate: which breakdown table to print (the GraphCost holds every breakdown)",
}

_Function = TypeVar("_Function", bound=Callable)


def calls_api(name: str) -> Callable[[_Function], _Function]:
    """Mark a Typer command with the hwmap.api function it calls (by name: the CLI imports hwmap.api only inside
    command bodies, so start-up stays fast). Put it below ``@app.command()``."""

    def mark(function: _Function) -> _Function:
        function.__hwmap_api__ = name  # type: ignore[attr-defined]
        return function

    return mark


# API keywords that are no English word: renamed to the command's flag wherever a message names them. Other
# one-word keywords (model, batch, paths, budgets ...) are renamed where they begin the message or follow one of
# the INSTRUCTION_VERBS ("drop metric or give budgets in ms" -> "drop --metric or give --budget in ms").
UNAMBIGUOUS_KEYWORDS = frozenset({"accel"})
INSTRUCTION_VERBS = ("drop", "set", "give", "pass", "use")
_LEADING_WORD = re.compile(r"[a-z][a-z0-9_]*(?=[ :,]|$)")


def flag_message(error, command) -> str:
    """An API error in the CLI user's words: the API keywords it names become the running command's flags
    (``batch must be ...`` -> ``--batch must be ...``, ``set drop_unknown to ...`` -> ``set --drop-unknown to
    ...``); an argument shows its metavar (MODEL, PATHS). Renamed: a ParameterError's parameter, a keyword that
    begins the message, follows an INSTRUCTION_VERB or is joined by 'or'/'and' to a flag, and anywhere the
    keywords with an underscore and UNAMBIGUOUS_KEYWORDS. A name the command does not have stays the API's."""
    text = str(error)
    if command is None:
        return text
    shown = command_flag_names(command)
    param = getattr(error, "param", None)
    if param is not None and param in shown:
        head, rest = shown[param], f" {error.detail}"
    elif param is None and (match := _LEADING_WORD.match(text)) and match.group() in shown \
            and not (text.startswith(" file ", match.end()) and not shown[match.group()].startswith("--")):
        # kept as written: a ParameterError whose param is a phrase ("paths file F: path 'p' input") and a
        # message about an argument's file ("space file F: ...", not "SPACE file F"); "--accuracies file F" is renamed
        head, rest = shown[match.group()], text[match.end():]
    else:
        head, rest = "", text
    verbs = "|".join(INSTRUCTION_VERBS)
    for name, flag in shown.items():
        after = r"(?![\w'\"-])"
        if "_" in name or name in UNAMBIGUOUS_KEYWORDS:
            rest = re.sub(rf"(?<![\w./'\"-]){re.escape(name)}{after}", flag, rest)
        else:
            rest = re.sub(rf"\b({verbs}) {re.escape(name)}{after}", rf"\1 {flag}", rest)
    text = head + rest
    for name, flag in shown.items():  # "give --input or resolution" -> "give --input or --resolution"
        text = re.sub(rf"(--[a-z][\w-]*|\b[A-Z][A-Z_]+)( \([^()]*\))? (or|and) {re.escape(name)}(?![\w'\"-])",
                      rf"\1\2 \3 {flag}", text)
    return text


def command_flag_names(command) -> dict[str, str]:
    """API keyword -> what the command's user typed for it: the option's long flag, or an argument's metavar."""
    names = {}
    for option in command.params:
        if getattr(option, "param_type_name", "") == "option":
            names[option.name] = next((o for o in option.opts if o.startswith("--")), option.opts[0])
        else:  # an argument: click's name for it (MODEL, PATHS), any typer
            names[option.name] = (option.metavar or option.name).upper()
    return names


def running_command(group, argv: list[str]):
    """The click command that argv names (``paths cost ...`` -> the cost command), or None."""
    command = group
    words = [arg for arg in argv if not arg.startswith("-")]
    while hasattr(command, "commands") and words:  # a group (typer's click or the click package alike)
        command = command.commands.get(words.pop(0))
    return None if hasattr(command, "commands") else command


# ---------------------------------------------------------------- shared options (one declaration each)

DEFAULT_TOP = 20

ModelArg = Annotated[str, typer.Argument(help="model: a name (resnet50, tv:resnet18, segformer-b2, hf:DIR, "
                                              "ofa-resnet50:d=..;e=..;w=..), your own module file.py:ClassOrFactory "
                                              "(with --input), an .onnx file or a saved graph .json")]
AccelOpt = Annotated[str, typer.Option("--accel", "-a", help="template name (hwmap accels list), template .yaml, "
                                                             "or SCALE-Sim .cfg")]
GpuAccelOpt = Annotated[Optional[str], typer.Option("--accel", "-a", help="GPU template (name or YAML path); "
                                                                          "default: the template matching the "
                                                                          "device name")]
DataflowOpt = Annotated[Optional[Literal[DATAFLOWS]], typer.Option(
    "--dataflow", help="systolic templates: ws, os or is (default: the template's)")]
ModeOpt = Annotated[Literal[GPU_MODES], typer.Option(
    "--mode", help="GPU execution mode: auto (eager PyTorch with fused SDPA where the model calls it), eager, sdpa, "
                   "compiled (torch.compile)")]
DtypeOpt = Annotated[Literal[GPU_DTYPES], typer.Option("--dtype", help="GPU compute dtype")]
Tf32Opt = Annotated[bool, typer.Option("--tf32/--no-tf32", help="GPU: TF32 for fp32 matmuls and convolutions")]
CalibrationOpt = Annotated[Optional[str], typer.Option("--calibration", help="GPU templates: a calibration file "
                                                                             "from `hwmap calibrate` (default: "
                                                                             "<template>.calibration.yaml beside "
                                                                             "the template, else priors)")]
InputOpt = Annotated[Optional[str], typer.Option("--input", help="input size CxHxW, e.g. 3x512x512")]
ResolutionOpt = Annotated[Optional[int], typer.Option("--resolution", help="square input size (model's channels)",
                                                      parser=StrictInt(min_value=1, max_value=MAX_RESOLUTION))]
BatchOpt = Annotated[int, typer.Option("--batch", help="images per forward pass",
                                       parser=StrictInt(min_value=1, max_value=MAX_BATCH))]
ClassesOpt = Annotated[Optional[int], typer.Option("--num-classes", help="classifier / segmentation classes",
                                                   parser=StrictInt(min_value=1, max_value=MAX_CLASSES))]
StrictOpt = Annotated[bool, typer.Option("--strict", help="fail when an operator cannot be lowered")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
LayerOpt = Annotated[Optional[str], typer.Option("--layer", help="only layers whose name or module matches this glob, "
                                                                 "e.g. 'layer4.*'")]
TopOpt = Annotated[int, typer.Option("--top", help="rows of the printed table (0 = all)",
                                     parser=StrictInt(min_value=0, max_value=MAX_COUNT))]
ByOpt = Annotated[Literal[BREAKDOWNS], typer.Option("--by", help="breakdown table")]
MappingOpt = Annotated[Literal[MAPPINGS], typer.Option(
    "--mapping", help="best: the mapper picks each layer's loop order and buffer tiles; scalesim: SCALE-Sim's fold "
                      "order and DRAM counts (systolic templates)")]
ObjectiveOpt = Annotated[Literal[MAPPER_OBJECTIVES], typer.Option("--objective", help="what the mapper minimises")]
FusionOpt = Annotated[Optional[Literal[FUSIONS]], typer.Option(
    "--fusion", help="accelerator templates: epilogue (default: batch norms folded into conv/linear weights, "
                     "activations, scales and residual adds fused on chip) or none (every operator its own kernel)")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (cuda:0 when CUDA is available, else cpu), cpu, "
                                                         "cuda or cuda:N")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", "-w", help="local worker processes (default: all "
                                                                           "cores; 0: in this process)",
                                                   parser=StrictInt(min_value=0, max_value=4096))]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", help="run on the Dask cluster whose scheduler "
                                                                         "is at this address, e.g. "
                                                                         "tcp://host:8786")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="continue from the journal: work already there is not "
                                                          "done again")]


def shown_rows(top: int) -> int | None:
    """--top as a row limit: 0 shows every row."""
    return top or None


# ---------------------------------------------------------------- option groups

# Options that several commands take together and hand to the API as they are: declared once as a group. A command
# names a group as one parameter, ``graph_options: OptionValues = GRAPH_OPTIONS``; @option_groups puts the group's
# options in that parameter's place (Typer reads the signature: --help, the CLI-API contract and error messages see
# every option) and calls the command with their values in one dict under the parameter's name:
# ``api.flops(model, **graph_options)``.
OptionValues = dict[str, Any]


class OptionGroup:
    """Options (Python name -> (Annotated option type, default)) that commands take as one."""

    def __init__(self, options: dict[str, tuple[Any, Any]]) -> None:
        self.options = options

    def parameters(self) -> list[inspect.Parameter]:
        return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
                for name, (annotation, default) in self.options.items()]


def option_groups(command: _Function) -> _Function:
    """Expand each parameter of ``command`` whose default is an OptionGroup into the group's options (see above).
    Put it right below ``@app.command()``, above ``@calls_api`` (whose mark it carries over)."""
    signature = inspect.signature(command, eval_str=True)
    groups = {name: p.default for name, p in signature.parameters.items() if isinstance(p.default, OptionGroup)}
    if not groups:
        raise TypeError(f"{command.__name__}: no parameter defaults to an OptionGroup")
    parameters: list[inspect.Parameter] = []
    for name, parameter in signature.parameters.items():
        if name in groups:
            parameters += groups[name].parameters()
        else:
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                              if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and parameters
                              and parameters[-1].kind is inspect.Parameter.KEYWORD_ONLY else parameter)

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        for name, group in groups.items():
            kwargs[name] = {option: kwargs.pop(option) for option in group.options}
        return command(*args, **kwargs)

    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run  # type: ignore[return-value]


GRAPH_OPTIONS = OptionGroup({
    "input_shape": (InputOpt, None), "resolution": (ResolutionOpt, None), "batch": (BatchOpt, 1),
    "num_classes": (ClassesOpt, None), "strict": (StrictOpt, False),
})
ESTIMATE_OPTIONS = OptionGroup({
    "dataflow": (DataflowOpt, None), "mapping": (MappingOpt, "best"), "objective": (ObjectiveOpt, "energy"),
    "fusion": (FusionOpt, None), "mode": (ModeOpt, "auto"), "dtype": (DtypeOpt, "fp16"),
    "calibration": (CalibrationOpt, None), "tf32": (Tf32Opt, True),
})
