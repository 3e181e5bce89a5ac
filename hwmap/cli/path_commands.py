"""Commands over execution paths: paths generate|cost, select-paths, simulate."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Literal, Optional

import typer

from hwmap.cli import app
from hwmap.cli.options import (
    ESTIMATE_OPTIONS,
    MAX_COUNT,
    MAX_RESOLUTION,
    AccelOpt,
    ClassesOpt,
    JsonOpt,
    OptionValues,
    StrictFloat,
    StrictInt,
    calls_api,
    check_files,
    option_groups,
)
from hwmap.errors import HwmapError
from hwmap.vocabulary import BUDGET_METRICS, SELECTION_GOALS

paths_app = typer.Typer(help="Generate execution paths of a model and cost them on a template.",
                        no_args_is_help=True)
app.add_typer(paths_app, name="paths")


def _sizes(texts: list[str] | None, argument: str) -> tuple[int, ...]:
    """Repeatable --resolution values, each one size or a comma list ('384,448'), in order."""
    sizes: list[int] = []
    size_type = StrictInt(min_value=1, max_value=MAX_RESOLUTION)
    for text in texts or ():
        for part in text.split(","):
            try:
                sizes.append(size_type(part.strip()))
            except typer.BadParameter as error:
                raise HwmapError(f"{argument} {text!r}: {error.message}") from None
    return tuple(sizes)


@paths_app.command("generate")
@calls_api("generate_paths")
def paths_generate(
    model: Annotated[str, typer.Argument(help="base model spec")],
    out: Annotated[str, typer.Option("--out", "-o", help="paths YAML to write")],
    skip_last: Annotated[int, typer.Option("--skip-last", help="per stage, skip its last 1..K blocks",
        parser=StrictInt(min_value=0, max_value=1024))] = 0,
    skip_blocks: Annotated[Optional[list[str]], typer.Option("--skip-blocks", help="a path skipping the blocks "
                                                                                 "this glob matches (repeatable), "
                                                                                 "e.g. 'blocks.1[01]'")] = None,
    drop_decoder: Annotated[bool, typer.Option("--drop-decoder", help="SegFormer: drop decoder inputs")] = False,
    resolutions: Annotated[Optional[list[str]], typer.Option("--resolution", help="a path running the full "
                                                                            "model at this square input size "
                                                                            "(repeatable; comma lists too: "
                                                                            "384,448)")] = None,
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
    from hwmap.api import generate_paths
    from hwmap.report.tables import print_json

    check_files(inputs={"MODEL": model}, outputs={"--out": out})
    names = tuple(v.strip() for v in variants.split(",") if v.strip()) if variants else ()
    paths = generate_paths(model, out=out, skip_last=skip_last, skip_blocks=tuple(skip_blocks or ()),
                           drop_decoder=drop_decoder, resolutions=_sizes(resolutions, "--resolution"),
                           variants=names, ofa_published=ofa_published, num_classes=num_classes)
    if json_out:
        print_json({"paths": [p.to_entry() for p in paths.paths], "out": out})
    else:
        print(f"wrote {out}: {len(paths.paths)} paths")


@paths_app.command("cost")
@option_groups
@calls_api("cost_paths")
def paths_cost(
    paths: Annotated[str, typer.Argument(metavar="PATHS_FILE", help="paths YAML")],
    accel: AccelOpt,
    settings: OptionValues = ESTIMATE_OPTIONS,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write the costed paths (select-paths input)")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Energy, latency and cycles of every path (graphs of identical paths are traced once), with the settings of
    `hwmap estimate`: a path costs what estimate gives for its model with the same options."""
    from hwmap.api import cost_paths, load_accelerator, save_costed_paths
    from hwmap.report.tables import print_json, render_costed_paths, stdout_console

    check_files(inputs={"PATHS_FILE": paths, "--accel": accel, "--calibration": settings["calibration"]},
                outputs={"--csv": csv_path})
    with _progress("costing paths") as tick:
        costed = cost_paths(paths, accel, **settings, progress=tick)
    if csv_path:
        save_costed_paths(costed, csv_path)
    if json_out:
        print_json([c.to_dict() for c in costed])
    else:
        render_costed_paths(costed, stdout_console(), accel=load_accelerator(accel).name)


Metric = Literal[BUDGET_METRICS]
Goal = Literal[SELECTION_GOALS]


@app.command("select-paths")
@option_groups
@calls_api("select_paths")
def select_paths_command(
    paths: Annotated[str, typer.Argument(help="paths YAML (costed on --accel) or a costed CSV (columns name, "
                                              "energy_mj, latency_ms, accuracy, weight_group, weight_mb)")],
    accel: Annotated[Optional[str], typer.Option("--accel", "-a", help="template to cost a paths YAML on")] = None,
    settings: OptionValues = ESTIMATE_OPTIONS,
    budgets: Annotated[Optional[str], typer.Option(
        "--budget", help="budget levels: 30mJ, 5ms (units: mJ, uJ, J, ms, us, s) or 0.5 (a fraction of the "
                         "reference path); lists 0.5,0.8 or 20mJ,30mJ; ranges 0.5:1.0:0.05 or 10mJ:30mJ:5mJ")] = None,
    budget_trace: Annotated[Optional[str], typer.Option(
        "--budget-trace", help="budget trace CSV declaring its unit (budget_mj, budget_ms or budget_fraction "
                               "column, or '# unit: mJ' before a budget column); levels weighted by how often they "
                               "occur")] = None,
    reference: Annotated[Optional[str], typer.Option(
        "--reference", help="path that fraction budgets are fractions of and savings are measured against "
                            "(default: the most expensive on the metric)")] = None,
    budget_weights: Annotated[Optional[str], typer.Option("--budget-weights", help="one weight per budget level, "
                                                                                   "e.g. 1,2,1")] = None,
    metric: Annotated[Optional[Metric], typer.Option("--metric", help="what the budgets limit (default: the "
                                                                      "budgets' unit, else energy)")] = None,
    max_paths: Annotated[Optional[int], typer.Option("--max-paths", help="at most this many paths",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))] = None,
    memory_mb: Annotated[Optional[float], typer.Option("--memory-mb", help="weight memory limit",
        parser=StrictFloat(min_value=0.0))] = None,
    min_accuracy: Annotated[Optional[float], typer.Option("--min-accuracy", help="no path below this",
        parser=StrictFloat(min_value=0.0, max_value=100.0))] = None,
    extra_path_penalty: Annotated[float, typer.Option("--extra-path-penalty", help="accuracy points charged per "
                                                                                   "path kept beyond the first",
        parser=StrictFloat(min_value=0.0, max_value=100.0))] = 0.0,
    goal: Annotated[Goal, typer.Option("--goal", help="accuracy: best expected accuracy over the budgets; "
                                                      "frontier: closest to --target-frontier")] = "accuracy",
    target_frontier: Annotated[Optional[str], typer.Option("--target-frontier", help="CSV energy_mj,accuracy"
                                                                                     "[,weight] (goal frontier)")]
    = None,
    drop_unknown: Annotated[bool, typer.Option("--drop-unknown", help="leave out paths without an accuracy")]
    = False,
    accuracies: Annotated[Optional[str], typer.Option(
        "--accuracies", help="accuracies that fill or override the paths' own, without costing again: YAML "
                             "'provenance: ...' + 'accuracies: {PATH: PERCENT}', or CSV path,accuracy,provenance"
                             "[,metric]")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="write the selection JSON (for simulate)")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Choose the paths to keep and the path to run at each budget level (ILP, solved to optimality)."""
    from hwmap.api import select_paths
    from hwmap.report.tables import print_json, render_selection, stdout_console

    check_files(inputs={"PATHS": paths, "--accel": accel, "--budget-trace": budget_trace,
                        "--target-frontier": target_frontier, "--accuracies": accuracies,
                        "--calibration": settings["calibration"]}, outputs={"--out": out})
    with _progress("costing paths") as tick:
        result = select_paths(
            paths, accel=accel, **settings, budgets=budgets, budget_trace=budget_trace, metric=metric,
            reference=reference,
            budget_weights=budget_weights, max_paths=max_paths, memory_mb=memory_mb, min_accuracy=min_accuracy,
            extra_path_penalty=extra_path_penalty, goal=goal, target_frontier=target_frontier,
            drop_unknown=drop_unknown, out=out, progress=tick, accuracies=accuracies)
    if json_out:
        print_json(result.to_dict())
    else:
        render_selection(result, stdout_console())


@contextmanager
def _progress(label: str):
    """A progress callback (done, total) that shows a transient rich bar on stderr once work starts, when stderr is
    a terminal (piped output gets no stray line)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(transient=True, console=console, disable=not console.is_terminal) as progress:
        task: list = []

        def tick(done: int, total: int) -> None:
            if not task:
                task.append(progress.add_task(label, total=total))
            progress.update(task[0], completed=done)

        yield tick


@app.command()
@calls_api("simulate")
def simulate(
    selection: Annotated[str, typer.Argument(help="selection JSON written by select-paths --out")],
    budget_trace: Annotated[str, typer.Option(
        "--budget-trace", help="budget trace CSV declaring its unit (budget_mj / budget_ms column, or "
                               "budget_fraction for a selection made with fraction budgets)")],
    switch_energy_mj: Annotated[float, typer.Option("--switch-energy-mj", help="energy charged per switch",
        parser=StrictFloat(min_value=0.0))] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Replay the selection's switching policy over a budget trace."""
    from hwmap.api import simulate as run_simulation
    from hwmap.report.tables import print_json, render_simulation, stdout_console

    check_files(inputs={"SELECTION": selection, "--budget-trace": budget_trace}, outputs={})
    result = run_simulation(selection, budget_trace, switch_energy_mj=switch_energy_mj)
    if json_out:
        print_json(result.to_dict())
    else:
        render_simulation(result, stdout_console())
