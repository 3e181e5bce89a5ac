"""The CLI's one option vocabulary: every option that more than one command takes is declared here once (flag,
short flag, Python name = the API keyword, checked choices, default, help), with the strict numeric types they use
(decimal digits only, no ``1_0`` or ``²``, finite, inside a range that keeps every product hwmap computes from them
inside int64).

Each command names the hwmap.api function it calls with ``@calls_api("name")``; every option of the command is a
keyword of that function with the same Python name, except the CLI-only presentation options of
``PRESENTATION_FLAGS`` (tests/test_cli_api_contract.py checks both, generated from the Typer app).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Optional, TypeVar

import click
import typer

# Bounds: a batch of 2^20 images of 2^16 x 2^16 pixels x 2^16 channels stays below 2^63 MACs per layer only for
# small layers, but no real workload comes near these sizes; they exist so that no product overflows int64.
MAX_BATCH = 1 << 20
MAX_RESOLUTION = 1 << 16
MAX_CLASSES = 1 << 24
MAX_COUNT = 1 << 31

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class StrictInt(click.ParamType):
    """An integer written with ASCII digits, in [min_value, max_value]."""

    name = "integer"

    def __init__(self, *, min_value: int, max_value: int) -> None:
        self.min_value = min_value
        self.max_value = max_value

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not _INT.fullmatch(text):
                self.fail(f"{value!r} is not an integer (digits only)", param, ctx)
            number = int(text)
        if not self.min_value <= number <= self.max_value:
            self.fail(f"{number} is out of range: expected an integer from {self.min_value} to {self.max_value}",
                      param, ctx)
        return number


class StrictFloat(click.ParamType):
    """A finite decimal number in [min_value, max_value]."""

    name = "number"

    def __init__(self, *, min_value: float, max_value: float = 1e18) -> None:
        self.min_value = min_value
        self.max_value = max_value

    def convert(self, value, param, ctx):
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            if not _FLOAT.fullmatch(text):
                self.fail(f"{value!r} is not a number", param, ctx)
            number = float(text)
        if not math.isfinite(number) or not self.min_value <= number <= self.max_value:
            self.fail(f"{value} is out of range: expected a number from {self.min_value:g} to {self.max_value:g}",
                      param, ctx)
        return number


def strict_float(text: str, *, argument: str) -> float:
    """One finite number written as a decimal (no ``1_0``, no ``nan``/``inf``)."""
    from hwmap.errors import HwmapError

    token = text.strip()
    if not _FLOAT.fullmatch(token):
        raise HwmapError(f"{argument} {text!r}: expected a decimal number")
    number = float(token)
    if not math.isfinite(number):
        raise HwmapError(f"{argument} {text!r}: expected a finite number")
    return number


def spec_path(spec: str | None) -> str | None:
    """The file or folder a MODEL / --accel argument reads, if it names one (``hf:DIR`` reads DIR)."""
    if spec is None:
        return None
    return spec.removeprefix("hf:")


def check_files(*, inputs: dict[str, str | None], outputs: dict[str, str | None]) -> None:
    """hwmap.fileio.check_run_files with MODEL-like specs mapped to the files they read."""
    from hwmap.fileio import check_run_files

    check_run_files(inputs={label: spec_path(path) for label, path in inputs.items()}, outputs=outputs)


# ---------------------------------------------------------------- the command -> API contract

# CLI-only options: how the result is shown, not what is computed. Everything else is an API keyword.
PRESENTATION_FLAGS: dict[str, str] = {
    "--json": "every command: print JSON instead of tables",
    "--csv": "flops, estimate, paths cost: also write the printed table as CSV",
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


def flag_message(error, command) -> str:
    """A ParameterError's message with its leading API parameter name replaced by the running command's flag for
    that parameter (``batch must be ...`` -> ``--batch must be ...``); other errors unchanged."""
    param = getattr(error, "param", None)
    if param is None or command is None:
        return str(error)
    for option in command.params:
        if option.name == param and isinstance(option, click.Option):
            return f"{option.opts[0]} {error.detail}"
        if option.name == param:  # an argument: its metavar (MODEL, PATHS)
            return f"{option.human_readable_name} {error.detail}"
    return str(error)


def running_command(group, argv: list[str]):
    """The click command that argv names (``paths cost ...`` -> the cost command), or None."""
    command = group
    words = [arg for arg in argv if not arg.startswith("-")]
    while isinstance(command, click.Group) and words:
        command = command.commands.get(words.pop(0))
    return None if isinstance(command, click.Group) else command


# ---------------------------------------------------------------- shared options (one declaration each)

DATAFLOWS = ("ws", "os", "is")
GPU_MODES = ("eager", "sdpa", "compiled", "auto")
GPU_DTYPES = ("fp16", "bf16", "fp32", "fp8", "int8")
BREAKDOWNS = ("op-class", "op-group", "module", "layer")
MAPPINGS = ("best", "scalesim")
OBJECTIVES = ("energy", "latency", "edp")
FUSIONS = ("epilogue", "none")
DEFAULT_TOP = 20

ModelArg = Annotated[str, typer.Argument(help="model spec (resnet50, tv:resnet18, segformer-b2, hf:DIR, "
                                              "ofa-resnet50:d=..;e=..;w=..) or a saved graph .json")]
AccelOpt = Annotated[str, typer.Option("--accel", "-a", help="template name (hwmap accels list), template .yaml, "
                                                             "or SCALE-Sim .cfg")]
GpuAccelOpt = Annotated[Optional[str], typer.Option("--accel", "-a", help="GPU template (name or YAML path); "
                                                                          "default: the template matching the "
                                                                          "device name")]
DataflowOpt = Annotated[Optional[str], typer.Option("--dataflow", click_type=click.Choice(DATAFLOWS),
                                                    help="systolic templates: ws, os or is (default: the "
                                                         "template's)")]
ModeOpt = Annotated[str, typer.Option("--mode", click_type=click.Choice(GPU_MODES),
                                      help="GPU execution mode: auto (eager PyTorch with fused SDPA where the "
                                           "model calls it), eager, sdpa, compiled (torch.compile)")]
DtypeOpt = Annotated[str, typer.Option("--dtype", click_type=click.Choice(GPU_DTYPES),
                                       help="GPU compute dtype")]
Tf32Opt = Annotated[bool, typer.Option("--tf32/--no-tf32", help="GPU: TF32 for fp32 matmuls and convolutions")]
CalibrationOpt = Annotated[Optional[str], typer.Option("--calibration", help="GPU templates: a calibration file "
                                                                             "from `hwmap calibrate` (default: "
                                                                             "<template>.calibration.yaml beside "
                                                                             "the template, else priors)")]
InputOpt = Annotated[Optional[str], typer.Option("--input", help="input size CxHxW, e.g. 3x512x512")]
ResolutionOpt = Annotated[Optional[int], typer.Option("--resolution", help="square input size (model's channels)",
                                                      click_type=StrictInt(min_value=1, max_value=MAX_RESOLUTION))]
BatchOpt = Annotated[int, typer.Option("--batch", help="images per forward pass",
                                       click_type=StrictInt(min_value=1, max_value=MAX_BATCH))]
ClassesOpt = Annotated[Optional[int], typer.Option("--num-classes", help="classifier / segmentation classes",
                                                   click_type=StrictInt(min_value=1, max_value=MAX_CLASSES))]
StrictOpt = Annotated[bool, typer.Option("--strict", help="fail when an operator cannot be lowered")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
TopOpt = Annotated[int, typer.Option("--top", help="rows of the printed table (0 = all)",
                                     click_type=StrictInt(min_value=0, max_value=MAX_COUNT))]
ByOpt = Annotated[str, typer.Option("--by", click_type=click.Choice(BREAKDOWNS), help="breakdown table")]
MappingOpt = Annotated[str, typer.Option(
    "--mapping", click_type=click.Choice(MAPPINGS),
    help="best: the mapper picks each layer's loop order and buffer tiles; scalesim: SCALE-Sim's fold order and "
         "DRAM counts (systolic templates)")]
ObjectiveOpt = Annotated[str, typer.Option("--objective", click_type=click.Choice(OBJECTIVES),
                                           help="what the mapper minimises")]
FusionOpt = Annotated[Optional[str], typer.Option(
    "--fusion", click_type=click.Choice(FUSIONS),
    help="accelerator templates: epilogue (default: batch norms folded into conv/linear weights, activations, "
         "scales and residual adds fused on chip) or none (every operator its own kernel)")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (cuda:0 when CUDA is available, else cpu), cpu, "
                                                         "cuda or cuda:N")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", "-w", help="local worker processes (default: all "
                                                                           "cores; 0: in this process)",
                                                   click_type=StrictInt(min_value=0, max_value=4096))]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", help="run on the Dask cluster whose scheduler "
                                                                         "is at this address, e.g. "
                                                                         "tcp://host:8786")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="continue from the journal: work already there is not "
                                                          "done again")]


def shown_rows(top: int) -> int | None:
    """--top as a row limit: 0 shows every row."""
    return top or None
