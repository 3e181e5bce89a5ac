"""Commands over execution paths: paths generate|cost, select-paths, simulate."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.graph_commands import ClassesOpt, JsonOpt
from hwmap.cli.options import MAX_COUNT, StrictFloat, StrictInt, check_files
from hwmap.errors import HwmapError

paths_app = typer.Typer(help="Generate execution paths of a model and cost them on a template.",
                        no_args_is_help=True)
app.add_typer(paths_app, name="paths")

AccelOpt = Annotated[str, typer.Option("--accel", "-a", help="template name, template .yaml or SCALE-Sim .cfg")]
DataflowOpt = Annotated[Optional[str], typer.Option("--dataflow", help="ws, os or is (systolic templates)")]


def _ints(text: str | None, argument: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise HwmapError(f"{argument} {text!r}: expected comma-separated integers, e.g. 384,448") from None


@paths_app.command("generate")
def paths_generate(
    model: Annotated[str, typer.Argument(help="base model spec")],
    out: Annotated[str, typer.Option("--out", "-o", help="paths YAML to write")],
    skip_last: Annotated[int, typer.Option("--skip-last", help="per stage, skip its last 1..K blocks",
        parser=StrictInt(min_value=0, max_value=1024))] = 0,
    skip_blocks: Annotated[Optional[list[str]], typer.Option("--skip-blocks", help="a path skipping the blocks "
                                                                                 "this glob matches (repeatable), "
                                                                                 "e.g. 'blocks.1[01]'")] = None,
    drop_decoder: Annotated[bool, typer.Option("--drop-decoder", help="SegFormer: drop decoder inputs")] = False,
    resolutions: Annotated[Optional[str], typer.Option("--resolutions", help="e.g. 384,448")] = None,
    variants: Annotated[Optional[str], typer.Option("--variants", help="other base models or globs, e.g. "
                                                                       "segformer-b0,segformer-b1 or "
                                                                       "'efficientnet_b[0-2]'")] = None,
    ofa_published: Annotated[bool, typer.Option("--ofa-published", help="MODEL ofa-resnet50: the eight published "
                                                                        "OFA subnets with their top-1")] = False,
    num_classes: ClassesOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Enumerate candidate paths into a paths YAML (accuracies: published ones where the path is the model, e.g.
    timm's for pretrained timm models). Every path is checked as `paths cost` would read it; nothing is written
    when one cannot run."""
    from hwmap.paths.generate import generate_paths, ofa_published_paths
    from hwmap.paths.model import save_paths
    from hwmap.report.tables import print_json

    check_files(inputs={"MODEL": model}, outputs={"--out": out})
    if ofa_published:
        if model != "ofa-resnet50":
            raise HwmapError(f"--ofa-published takes MODEL ofa-resnet50, got {model!r}")
        paths = ofa_published_paths()
        save_paths(paths, out)
    else:
        names = tuple(v.strip() for v in variants.split(",") if v.strip()) if variants else ()
        paths = generate_paths(model, skip_last=skip_last, skip_blocks=tuple(skip_blocks or ()),
                               drop_decoder=drop_decoder, resolutions=_ints(resolutions, "--resolutions"),
                               variants=names, num_classes=num_classes)
        save_paths(paths, out, base_model=model)
    if json_out:
        print_json({"paths": [p.to_entry() for p in paths.paths], "out": out})
    else:
        print(f"wrote {out}: {len(paths.paths)} paths")


@paths_app.command("cost")
def paths_cost(
    paths_file: Annotated[str, typer.Argument(help="paths YAML")],
    accel: AccelOpt,
    dataflow: DataflowOpt = None,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write the costed paths (select-paths input)")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Energy, latency and cycles of every path (graphs of identical paths are traced once)."""
    from hwmap.api import load_accelerator
    from hwmap.paths.costing import cost_paths, write_costed_csv
    from hwmap.paths.model import load_paths
    from hwmap.report.tables import print_json, render_costed_paths, stdout_console

    check_files(inputs={"PATHS_FILE": paths_file, "--accel": accel}, outputs={"--csv": csv_path})
    paths = load_paths(paths_file)
    accelerator = load_accelerator(accel)
    costed = _with_progress(len(paths.paths), "costing paths",
                            lambda tick: cost_paths(paths, accelerator, dataflow=dataflow, progress=tick))
    _check_costed(costed, accelerator.name)
    if csv_path:
        write_costed_csv(csv_path, costed)
    if json_out:
        print_json([c.to_dict() for c in costed])
    else:
        render_costed_paths(costed, stdout_console(), accel=accelerator.name)


def _with_progress(total: int, label: str, work):
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=total)
        return work(lambda: progress.advance(task))


class Metric(str, Enum):
    energy = "energy"
    latency = "latency"


class Objective(str, Enum):
    accuracy = "accuracy"
    frontier = "frontier"


@app.command("select-paths")
def select_paths_command(
    paths_file: Annotated[str, typer.Argument(help="paths YAML (costed on --accel) or a costed CSV (columns "
                                                   "name, energy_mj, latency_ms, accuracy, weight_group, "
                                                   "weight_mb)")],
    accel: Annotated[Optional[str], typer.Option("--accel", "-a", help="template to cost a paths YAML on")] = None,
    budget: Annotated[Optional[str], typer.Option("--budget", help="levels: list '0.5,0.8' or range "
                                                                   "'0.5:1.0:0.05'")] = None,
    budget_trace: Annotated[Optional[str], typer.Option("--budget-trace", help="CSV of budgets (levels weighted "
                                                                               "by how often they occur)")] = None,
    absolute: Annotated[bool, typer.Option("--absolute", help="budgets in mJ / ms instead of fractions of the "
                                                              "most expensive path")] = False,
    weights: Annotated[Optional[str], typer.Option("--weights", help="one weight per budget level")] = None,
    metric: Annotated[Metric, typer.Option("--metric", help="what the budget limits")] = Metric.energy,
    max_paths: Annotated[Optional[int], typer.Option("--max-paths", help="at most this many paths",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))] = None,
    memory_mb: Annotated[Optional[float], typer.Option("--memory-mb", help="weight memory limit",
        parser=StrictFloat(min_value=0.0))] = None,
    min_accuracy: Annotated[Optional[float], typer.Option("--min-accuracy", help="no path below this",
        parser=StrictFloat(min_value=0.0, max_value=100.0))] = None,
    switch_cost: Annotated[float, typer.Option("--switch-cost", help="accuracy points charged per path kept "
                                                                     "beyond the first",
        parser=StrictFloat(min_value=0.0, max_value=100.0))] = 0.0,
    objective: Annotated[Objective, typer.Option("--objective")] = Objective.accuracy,
    target_frontier: Annotated[Optional[str], typer.Option("--target-frontier", help="CSV energy_mj,accuracy "
                                                                                     "(objective frontier)")]
    = None,
    drop_unknown: Annotated[bool, typer.Option("--drop-unknown", help="leave out paths without an accuracy")]
    = False,
    dataflow: DataflowOpt = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="write the selection JSON (for simulate)")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Choose the paths to keep and the path to run at each budget level (ILP, solved to optimality)."""
    from hwmap.fileio import atomic_write_text
    from hwmap.paths.costing import path_points
    from hwmap.report.tables import chosen_vs_full, print_json, render_selection, stdout_console
    from hwmap.select import select_paths
    from hwmap.select.budgets import make_levels, parse_budgets, read_budget_trace, resolve_budgets, trace_levels

    check_files(inputs={"PATHS_FILE": paths_file, "--accel": accel, "--budget-trace": budget_trace,
                        "--target-frontier": target_frontier}, outputs={"--out": out})
    costed = _costed(paths_file, accel, dataflow)
    points, dropped = path_points(costed, drop_unknown=drop_unknown)
    if (budget is None) == (budget_trace is None):
        raise HwmapError("give budget levels with --budget (list or range) or --budget-trace (CSV), one of them")
    if budget_trace is not None:
        levels = trace_levels(read_budget_trace(budget_trace, metric=metric.value))
    else:
        values = resolve_budgets(parse_budgets(budget, arg="--budget"), paths=points, metric=metric.value,
                                 relative=not absolute)
        level_weights = [float(w) for w in parse_budgets(weights, arg="--weights")] if weights else None
        levels = make_levels(values, metric=metric.value, weights=level_weights)
    frontier = _read_frontier(target_frontier) if target_frontier else ()
    selection = select_paths(points, levels, max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy,
                             extra_path_penalty=switch_cost, objective=objective.value, target_frontier=frontier)
    data = {**selection.to_dict(), "chosen_vs_full": chosen_vs_full(selection),
            "dropped_without_accuracy": dropped, "paths_file": paths_file, "accelerator": accel}
    if out:
        atomic_write_text(out, json.dumps(data, indent=2, allow_nan=False))
    if json_out:
        print_json(data)
    else:
        render_selection(selection, stdout_console(), dropped=dropped)


def _costed(paths_file: str, accel: str | None, dataflow: str | None):
    from hwmap.api import load_accelerator
    from hwmap.paths.costing import cost_paths, read_costed_csv
    from hwmap.paths.model import load_paths

    if paths_file.endswith(".csv"):
        if accel:
            raise HwmapError(f"{paths_file} is already costed; --accel applies to a paths YAML")
        return read_costed_csv(paths_file)
    if not accel:
        raise HwmapError(f"{paths_file}: a paths YAML needs --accel to cost its paths (or pass a costed CSV)")
    paths = load_paths(paths_file)
    accelerator = load_accelerator(accel)
    costed = _with_progress(len(paths.paths), "costing paths",
                            lambda tick: cost_paths(paths, accelerator, dataflow=dataflow, progress=tick))
    _check_costed(costed, accelerator.name)
    return costed


def _check_costed(costed, accel_name: str) -> None:
    from hwmap.api import check_costed_paths

    check_costed_paths(costed, accelerator=accel_name)


def _read_frontier(path: str):
    import csv

    from hwmap.select.problem import TargetPoint

    try:
        rows = list(csv.DictReader(Path(path).open(newline="", encoding="utf-8")))
        return tuple(TargetPoint(float(r["energy_mj"]), float(r["accuracy"])) for r in rows)
    except OSError as exc:
        raise HwmapError(f"--target-frontier {path}: cannot read it ({exc.strerror or exc})") from None
    except (KeyError, TypeError, ValueError):
        raise HwmapError(f"--target-frontier {path}: expected a CSV with columns energy_mj, accuracy") from None


@app.command()
def simulate(
    selection_file: Annotated[str, typer.Argument(help="selection JSON written by select-paths --out")],
    trace: Annotated[str, typer.Option("--trace", help="budget trace CSV (one budget per step)")],
    switch_energy_mj: Annotated[float, typer.Option("--switch-energy-mj", help="energy charged per switch",
        parser=StrictFloat(min_value=0.0))] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Replay the selection's switching policy over a budget trace."""
    from hwmap.api import load_selection as read_selection
    from hwmap.report.tables import print_json, render_simulation, stdout_console
    from hwmap.select import read_budget_trace
    from hwmap.select import simulate as run_simulation

    selection = read_selection(selection_file)
    budgets = read_budget_trace(trace, metric=selection.metric)
    result = run_simulation(selection, budgets, switch_energy_mj=switch_energy_mj)
    if json_out:
        print_json(result.to_dict())
    else:
        render_simulation(result, stdout_console())
