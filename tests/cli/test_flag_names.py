"""Errors in the user's vocabulary: the API's messages name its keywords (drop_unknown, budgets, accel); the same
failures on the command line name the flags the user typed (--drop-unknown, --budget, --accel)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

import hwmap.api
from hwmap.cli import _register_commands, app
from hwmap.cli.options import command_flag_names, flag_message
from hwmap.errors import HwmapError, ParameterError

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> dict:
    _register_commands([])
    found: dict = {}

    def walk(command, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


@pytest.fixture
def costed_csv(tmp_path) -> Path:
    path = tmp_path / "costed.csv"
    path.write_text("name,energy_mj,latency_ms,accuracy,weight_group,weight_mb\nfull,10,2,80,a,1\nsmall,5,1,70,a,1\n"
                    "noacc,3,1,,a,1\n")
    return path


def _error(run_cli, *argv: str) -> str:
    code, out, err = run_cli(*argv)
    assert code == 2 and out == "" and err.startswith("hwmap: error: ") and err.count("\n") == 1, (code, out, err)
    return err.removeprefix("hwmap: error: ").strip()


def test_the_issue_examples_name_flags_on_the_cli_and_keywords_in_python(run_cli, costed_csv, tmp_path):
    line = _error(run_cli, "select-paths", str(costed_csv), "--budget", "1")
    assert "set --drop-unknown to leave them out" in line and "drop_unknown" not in line
    with pytest.raises(HwmapError, match="set drop_unknown to leave them out"):
        hwmap.api.select_paths(str(costed_csv), budgets="1")

    line = _error(run_cli, "select-paths", str(costed_csv), "--budget", "1_0", "--drop-unknown")
    assert line.startswith("--budget: '1_0' has")
    with pytest.raises(HwmapError, match="^budgets: '1_0' has"):
        hwmap.api.select_paths(str(costed_csv), budgets="1_0", drop_unknown=True)

    paths = tmp_path / "p.yaml"
    paths.write_text("schema_version: 1\nmodel: resnet18\npaths:\n  - name: full\n")
    line = _error(run_cli, "select-paths", str(paths), "--budget", "1")
    assert "paths need --accel to be costed" in line and line.startswith("PATHS ")
    with pytest.raises(HwmapError, match="paths need accel to be costed"):
        hwmap.api.select_paths(str(paths), budgets="1")


# (argv, what the one line says): every ParameterError (and keyword-naming error) the CLI can reach past its own
# option parsers; {csv} is a costed CSV, {tmp} a temporary folder.
CLI_CASES = [
    (["select-paths", "{csv}", "--budget", "1mJ", "--metric", "latency", "--drop-unknown"],
     "--metric is 'latency' but the budgets are energy (mJ); drop --metric or give --budget in ms"),
    (["select-paths", "{csv}", "--budget", "1", "--drop-unknown", "--reference", "noacc"],
     "--reference 'noacc' has no accuracy and was left out (--drop-unknown)"),
    (["select-paths", "{csv}", "--drop-unknown"], "--budget and --budget-trace: give one of them"),
    (["select-paths", "{csv}", "--budget", "1,2", "--budget-weights", "1,x", "--drop-unknown"],
     "--budget-weights: 'x' has"),
    (["estimate", "resnet18", "-a", "h100_sxm", "--dataflow", "ws"], "--dataflow applies to systolic templates"),
    (["estimate", "resnet18", "-a", "h100_sxm", "--fusion", "epilogue"], "--fusion applies to"),
    (["estimate", "resnet18", "-a", "systolic8x8", "--mode", "eager"], "--mode applies to GPU templates only"),
    (["map", "resnet18", "-a", "h100_sxm"], "--accel 'h100_sxm' is of kind 'gpu'"),
    (["map", "resnet18", "-a", "systolic8x8", "--layer", "zzz*"], "--layer 'zzz*' matches no conv/GEMM layer"),
    (["flops", "resnet18", "--input", "3xaax224"], "--input '3xaax224': expected CxHxW"),
    (["export", "resnet18", "-o", "{tmp}/t.csv", "-a", "systolic8x8"], "--accel is only used with format 'zigzag'"),
    (["paths", "generate", "resnet18", "--out", "{tmp}/g.yaml", "--drop-decoder"],
     "--drop-decoder applies to SegFormer models"),
    (["paths", "generate", "resnet18", "--out", "{tmp}/g.yaml", "--ofa-published"],
     "--ofa-published takes model ofa-resnet50"),
    (["plot", "pareto", "{csv}", "--out", "{tmp}/x.txt"], "--out {tmp}/x.txt: expected a .png or .svg file name"),
    (["measure", "resnet18", "--device", "cpu"], "--device 'cpu': expected cuda or cuda:N"),
    (["census", "resnet18", "-a", "systolic8x8", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
     "--workers (local processes) and --scheduler (a Dask cluster) exclude each other"),
    (["evaluate", "{paths}", "--data", "{tmp}", "--weights-for", "bad"],
     "--weights-for 'bad': expected MODEL=FILE"),
    (["evaluate", "{paths}", "--data", "{tmp}", "--weights-for", "resnet50={tmp}/x.pt"],
     "--weights-for 'resnet50={tmp}/x.pt': no path uses model 'resnet50'"),
    (["plot", "pareto", "{csv}", "--out", "{tmp}/x.png", "--model", "zz"], "--model 'zz': not in"),
    (["calibrate", "--from-table", "{csv}", "-a", "h100_sxm", "--columns", "bad", "--out", "{tmp}/c.yaml"],
     "--columns 'bad': expected comma-separated KEY=COLUMN"),
    (["estimate", f"{ROOT}/examples/mynet.py:MyNet", "-a", "systolic8x8"],
     "--input is needed for a model from a Python file"),
    (["estimate", f"{ROOT}/examples/mynet.py:MyNet", "-a", "systolic8x8", "--input", "3x32x32", "--resolution", "32"],
     "give --input or --resolution, not both"),
]


@pytest.mark.parametrize(("argv", "expected"), CLI_CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in
                                                               enumerate(CLI_CASES)])
def test_cli_errors_name_the_flags(run_cli, costed_csv, tmp_path, argv, expected):
    paths = tmp_path / "paths.yaml"
    paths.write_text("schema_version: 1\nmodel: resnet18\npaths:\n  - name: full\n")
    fill = {"csv": str(costed_csv), "tmp": str(tmp_path), "paths": str(paths)}
    line = _error(run_cli, *(a.format(**fill) for a in argv))
    assert expected.format(**fill) in line


def test_every_option_of_every_command_is_renamed():
    """For every command: a ParameterError on any of its parameters starts with the flag (an argument: its
    metavar); an underscore keyword inside a message and one after an instruction verb become the flag too; the
    API message itself is unchanged."""
    checked = 0
    for path, command in COMMANDS.items():
        for name, shown in command_flag_names(command).items():
            assert flag_message(ParameterError(name, "must be 1"), command) == f"{shown} must be 1", (path, name)
            assert flag_message(HwmapError(f"this failed; set {name} to fix it"), command) == \
                f"this failed; set {shown} to fix it", (path, name)
            if "_" in name:
                assert flag_message(HwmapError(f"no path ({name}) left"), command) == f"no path ({shown}) left"
            checked += 1
        # names the command does not have stay as they are, and prose words are not flags
        assert flag_message(HwmapError("the model has 10 classes"), command) == "the model has 10 classes"
        assert flag_message(HwmapError("path 'my_drop_unknown': x"), command) == "path 'my_drop_unknown': x"
    assert checked > 200
