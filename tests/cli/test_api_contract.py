"""The CLI is a thin layer over hwmap.api, checked on the Typer app itself (every registered command, generated, no
hand list of options):

- every command names the hwmap.api function it calls (``@calls_api``), and every option and argument it takes is a
  parameter of that function with the same Python name, except the CLI-only presentation options of
  hwmap.cli.options.PRESENTATION_FLAGS;
- every command has --json; usage errors (unknown option, bad choice, missing argument) are one line, exit 2;
- a ParameterError names the API parameter in Python and the command's flag on the command line.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing

import pytest
import typer

import hwmap.api
from hwmap.cli import _register_commands, app
from hwmap.cli.options import PRESENTATION_FLAGS, flag_message, running_command
from hwmap.errors import ParameterError

# Commands allowed to differ from their API function (strict xfail: the test fails once they match). Empty: every
# command follows the rule; keep it that way.
PENDING: set[str] = set()


def _commands() -> dict:
    """'estimate', 'paths cost', ... -> the click command, for every command registered on the app."""
    _register_commands([])  # every command module
    found: dict = {}

    def walk(command, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group, in the click package or typer's own copy (typer >= 0.26)
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


def _api_function(command):
    name = getattr(inspect.unwrap(command.callback), "__hwmap_api__", None)
    assert name is not None, f"no @calls_api(...) on the command {command.name!r}"
    assert name in hwmap.api.__all__, f"{name!r} is not a public function of hwmap.api"
    return getattr(hwmap.api, name)


def _choices(param) -> tuple | None:
    """A parameter's checked choices: click's Choice type (typer < 0.29) or the Literal / Enum annotation typer 0.29
    keeps in its type descriptor; None for a free value."""
    kind = getattr(param, "type", None)
    if kind is not None:
        return tuple(kind.choices) if hasattr(kind, "choices") else None
    annotation = param.type_descriptor.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation)
    return None


def _missing_keywords(path: str, command, function) -> list[str]:
    """The command's options and arguments (presentation options aside) that function has no parameter for."""
    accepted = inspect.signature(function).parameters
    return [f"{'/'.join(getattr(p, 'opts', [p.name]))} (Python name {p.name})" for p in command.params
            if not _is_presentation(path, p) and p.name not in accepted]


def _is_presentation(path: str, param) -> bool:
    flags = getattr(param, "opts", [])
    return any(flag in PRESENTATION_FLAGS or f"{path} {flag}" in PRESENTATION_FLAGS for flag in flags)


def test_the_walk_sees_every_command():
    assert {"estimate", "flops", "paths cost", "paths generate", "accels list", "plot pareto", "cache clear",
            "calibrate", "measure", "census", "evaluate", "select-paths", "simulate", "sweep"} <= set(COMMANDS)
    from hwmap.cli import COMMAND_MODULES

    assert {path.split()[0] for path in COMMANDS} == set(COMMAND_MODULES)  # every top-level command and group


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.xfail(strict=True, reason="owner renames its options on its branch"))
    if path in PENDING else path for path in sorted(COMMANDS)])
def test_every_option_is_a_keyword_of_the_api_function_the_command_calls(path):
    command = COMMANDS[path]
    function = _api_function(command)
    missing = _missing_keywords(path, command, function)
    assert not missing, f"hwmap {path}: hwmap.api.{function.__name__} has no parameter for {', '.join(missing)}"


def test_the_contract_check_can_fail():
    """An option that is not a keyword is found (a command over a function without that parameter)."""
    option = types.SimpleNamespace
    command = types.SimpleNamespace(params=[option(name="batch_size", opts=["--batch-size"]),
                                            option(name="json_out", opts=["--json"]),
                                            option(name="batch", opts=["--batch"])])
    assert _missing_keywords("probe", command, hwmap.api.estimate) == ["--batch-size (Python name batch_size)"]


def test_presentation_flags_are_few_and_real():
    """The CLI-only set is the VOCAB's four options plus estimate's --by, and each names an existing flag."""
    assert set(PRESENTATION_FLAGS) == {"--json", "--csv", "--top", "--title", "estimate --by"}
    flags = {(path, flag) for path, c in COMMANDS.items() for p in c.params for flag in getattr(p, "opts", [])}
    for entry in PRESENTATION_FLAGS:
        path, _, flag = entry.rpartition(" ")
        assert any(f == flag and (not path or p == path) for p, f in flags), entry


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_json(path):
    assert any("--json" in getattr(p, "opts", []) for p in COMMANDS[path].params), path


SHARED = {"--accel": ("accel", "accels"), "--dataflow": "dataflow", "--mode": "mode", "--dtype": "dtype",
          "--batch": "batch",
          "--input": "input_shape", "--resolution": ("resolution", "resolutions"), "--num-classes": "num_classes",
          "--strict": "strict",
          "--calibration": "calibration", "--device": "device", "--top": "top", "--by": "by", "--out": "out",
          "--workers": "workers", "--scheduler": "scheduler", "--resume": "resume", "--mapping": "mapping",
          "--objective": "objective", "--fusion": "fusion"}


def test_one_vocabulary_across_commands():
    """A flag means one Python name (API keyword), one short flag, one set of choices and one default everywhere
    (a repeatable one takes the plural: census's --accel is `accels`, paths generate's --resolution `resolutions`;
    the pending commands aside)."""
    seen: dict[str, tuple] = {}
    for path, command in COMMANDS.items():
        if path in PENDING:
            continue
        for param in command.params:
            flag = next((f for f in getattr(param, "opts", []) if f in SHARED), None)
            if flag is None:
                continue
            names = SHARED[flag] if isinstance(SHARED[flag], tuple) else (SHARED[flag],)
            assert param.name == names[-1] if param.multiple or param.nargs == -1 else param.name == names[0], \
                (path, flag, param.name)
            choices = _choices(param)
            if flag in ("--dataflow", "--mode", "--dtype", "--by", "--mapping", "--objective", "--fusion"):
                assert choices, f"hwmap {path} {flag} is not a checked choice"
            shorts = tuple(sorted(f for f in param.opts if not f.startswith("--")))
            defaults = param.default if flag in ("--mode", "--dtype", "--top", "--by", "--device") else None
            shape = (choices, shorts, defaults)
            assert seen.setdefault(flag, shape) == shape, f"hwmap {path} {flag}: {shape} vs {seen[flag]}"
    assert seen["--accel"][1] == ("-a",) and seen["--mode"][2] == "auto" and seen["--top"][2] == 20
    assert seen["--by"][2] == "op-group" and seen["--device"][2] == "auto" and seen["--dtype"][2] == "fp16"


# ------------------------------------------------------------------ usage errors: one line, exit 2, every command


def _one_line(run_cli, *argv: str) -> str:
    code, out, err = run_cli(*argv)
    lines = err.splitlines()
    assert code == 2, (argv, code, err)
    assert len(lines) == 1 and lines[0].startswith("hwmap: error: "), (argv, err)
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_unknown_option_is_one_line(run_cli, path):
    line = _one_line(run_cli, *path.split(), "--no-such-option")
    # click 8.2+ quotes the option; typer 0.26+'s own copy of click writes "No such option: --no-such-option"
    assert re.search(r"No such option:? '?--no-such-option'?", line) and f"(see hwmap {path} --help)" in line


CHOICES = [(path, p.opts[0]) for path, c in sorted(COMMANDS.items()) for p in c.params
           if p.param_type_name == "option" and _choices(p)]


@pytest.mark.parametrize(("path", "flag"), CHOICES, ids=[f"{p} {f}" for p, f in CHOICES])
def test_bad_choice_is_one_line_naming_the_flag_and_choices(run_cli, path, flag):
    choices = next(_choices(p) for p in COMMANDS[path].params if flag in getattr(p, "opts", []))
    line = _one_line(run_cli, *path.split(), flag, "no-such-choice")
    assert f"Invalid value for '{flag}': 'no-such-choice' is not" in line and repr(choices[0]) in line


REQUIRED = [path for path, c in sorted(COMMANDS.items()) if any(p.required for p in c.params)]


@pytest.mark.parametrize("path", REQUIRED)
def test_missing_argument_or_option_is_one_line(run_cli, path):
    assert "Missing" in _one_line(run_cli, *path.split())


# ------------------------------------------------------------------ errors name API parameters; the CLI, flags


def test_api_errors_name_parameters_and_the_cli_names_flags(run_cli, tmp_path):
    with pytest.raises(ParameterError, match=r"^input_shape '3xaax224': expected CxHxW") as caught:
        hwmap.api.flops("resnet18", input_shape="3xaax224")
    assert caught.value.param == "input_shape"
    assert "--input '3xaax224': expected CxHxW" in _one_line(run_cli, "flops", "resnet18", "--input", "3xaax224")

    with pytest.raises(ParameterError, match="^accel is only used with format 'zigzag'"):
        hwmap.api.export_graph("resnet18", out=tmp_path / "t.csv", accel="systolic8x8")
    line = _one_line(run_cli, "export", "resnet18", "-o", str(tmp_path / "t.csv"), "-a", "systolic8x8")
    assert "hwmap: error: --accel is only used with format 'zigzag'" in line

    with pytest.raises(ParameterError, match="^dataflow applies to systolic templates"):
        hwmap.api.estimate("resnet18", "h100_sxm", dataflow="ws")
    assert "error: --dataflow applies to systolic templates" in _one_line(
        run_cli, "estimate", "resnet18", "-a", "h100_sxm", "--dataflow", "ws")


def test_batch_is_named_batch_in_python_and_dash_dash_batch_on_the_command_line():
    """The API checks batch before it needs a GPU; the CLI maps the name to the running command's flag."""
    with pytest.raises(ParameterError, match=r"^batch must be a positive integer, got 0$") as caught:
        hwmap.api.measure("resnet18", batch=0)
    group = typer.main.get_command(app)
    assert flag_message(caught.value, running_command(group, ["measure", "resnet18", "--batch", "0"])) \
        == "--batch must be a positive integer, got 0"
    with pytest.raises(ParameterError, match=r"^batch must be a positive integer, got 0$") as caught:
        hwmap.api.census(["resnet18"], accels=["systolic8x8"], batch=0)
    census = running_command(group, ["--no-cache", "census", "resnet18", "-a", "systolic8x8"])
    assert census.name == "census"
    assert flag_message(caught.value, census) == "--batch must be a positive integer, got 0"
    # an argument shows its metavar; a name the command does not have stays the API's
    assert flag_message(ParameterError("accel", "is unknown"), COMMANDS["accels show"]) == "ACCEL is unknown"
    assert flag_message(ParameterError("weights", "x"), COMMANDS["estimate"]) == "weights x"
    cost = running_command(group, ["paths", "cost", "p.yaml"])
    assert inspect.unwrap(cost.callback) is inspect.unwrap(COMMANDS["paths cost"].callback)
    assert running_command(group, ["paths"]) is None


def test_parameter_errors_survive_pickling():
    """Sweep and census workers send errors back through pickle."""
    import pickle

    error = pickle.loads(pickle.dumps(ParameterError("batch", "must be a positive integer, got 0")))
    assert (error.param, error.detail, str(error)) == ("batch", "must be a positive integer, got 0",
                                                       "batch must be a positive integer, got 0")


def test_every_api_function_is_exported_from_the_package():
    """Re-exported by name from `hwmap`, and no name is shadowed by a subpackage (hwmap.calibrate is a package, so
    the calibration function is calibrate_gpu)."""
    import pkgutil

    import hwmap

    assert set(hwmap.api.__all__) <= set(hwmap.__all__)
    subpackages = {module.name for module in pkgutil.iter_modules(hwmap.__path__)}
    assert not set(hwmap.__all__) & subpackages
    assert all(callable(getattr(hwmap, name)) for name in hwmap.api.__all__)


def test_estimate_takes_the_gpu_settings_the_cli_used_to_pass_past_the_api(run_cli):
    """mode/dtype/tf32/calibration reach the GPU model through hwmap.estimate, and the CLI gives the same numbers."""
    from pathlib import Path

    from tests.conftest import traced

    graph = traced("resnet18")
    fp16 = hwmap.api.estimate(graph, "h100_sxm")
    fp32 = hwmap.api.estimate(graph, "h100_sxm", dtype="fp32", tf32=False, mode="eager")
    assert (fp16.settings["mode"], fp16.settings["dtype"]) == ("auto", "fp16")
    assert (fp32.settings["mode"], fp32.settings["dtype"], fp32.settings["tf32"]) == ("eager", "fp32", False)
    assert fp32.latency_ms > fp16.latency_ms  # plain fp32 runs on a lower roof than fp16 tensor cores
    code, out, err = run_cli("estimate", "resnet18", "-a", "h100_sxm", "--dtype", "fp32", "--no-tf32", "--mode",
                             "eager", "--json")
    assert code == 0, err
    import json

    assert json.loads(out)["latency_ms"] == pytest.approx(fp32.latency_ms, rel=1e-12)
    calibration = Path(__file__).parents[1] / "data" / "gpu" / "h100_sxm.calibration.yaml"
    calibrated = hwmap.api.estimate(graph, "h100_sxm", calibration=calibration)
    assert calibrated.settings["calibrated"] is True and fp16.settings["calibrated"] is False
    with pytest.raises(ParameterError, match="^dtype must be one of fp16, bf16, fp32, fp8, int8, got 'fp64'"):
        hwmap.api.estimate(graph, "h100_sxm", dtype="fp64")
    with pytest.raises(ParameterError, match="^mode applies to GPU templates only"):
        hwmap.api.estimate(graph, "systolic8x8", mode="eager")
