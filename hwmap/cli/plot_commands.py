"""hwmap plot shares|layers|frontier|pareto: figures as PNG or SVG (by the --out suffix)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hwmap.cli import app, use_cache
from hwmap.cli.options import (
    MAX_COUNT,
    AccelOpt,
    BatchOpt,
    ClassesOpt,
    DataflowOpt,
    InputOpt,
    JsonOpt,
    LayerOpt,
    ModelArg,
    ResolutionOpt,
    StrictInt,
    calls_api,
    check_files,
)

plot_app = typer.Typer(help="Figures: op-class shares, per-layer profiles, frontiers, Pareto fronts.",
                       no_args_is_help=True)
app.add_typer(plot_app, name="plot")

OutOpt = Annotated[str, typer.Option("--out", "-o", help="figure file: .png or .svg")]
TitleOpt = Annotated[Optional[str], typer.Option("--title", help="figure title (default: names the model "
                                                                       "and the template)")]


def _report(figure, json_out: bool) -> None:
    if json_out:
        from hwmap.report.tables import print_json

        print_json(figure.to_dict())
    else:
        print(f"wrote {figure.path}")


@plot_app.command("shares")
@calls_api("plot_shares")
def plot_shares(model: ModelArg, accel: AccelOpt, out: OutOpt, dataflow: DataflowOpt = None,
                input_shape: InputOpt = None, resolution: ResolutionOpt = None, batch: BatchOpt = 1,
                num_classes: ClassesOpt = None, title: TitleOpt = None, json_out: JsonOpt = False) -> None:
    """Share of MACs, cycles and energy per op group."""
    from hwmap.api import plot_shares as plot

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    _report(plot(model, accel, out=out, dataflow=dataflow, input_shape=input_shape, resolution=resolution,
                 batch=batch, num_classes=num_classes, title=title, cache=use_cache()), json_out)


@plot_app.command("layers")
@calls_api("plot_layers")
def plot_layers(model: ModelArg, accel: AccelOpt, out: OutOpt, dataflow: DataflowOpt = None,
                input_shape: InputOpt = None, resolution: ResolutionOpt = None, batch: BatchOpt = 1,
                num_classes: ClassesOpt = None,
                top: Annotated[int, typer.Option("--top", help="layers named per panel (0 = all); the rest "
                                                               "summed as 'other'",
                                                 parser=StrictInt(min_value=0, max_value=MAX_COUNT))] = 20,
                title: TitleOpt = None, json_out: JsonOpt = False) -> None:
    """The layers that cost the most cycles and energy, by name; the rest summed as 'other'."""
    from hwmap.api import plot_layers as plot

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    _report(plot(model, accel, out=out, dataflow=dataflow, input_shape=input_shape, resolution=resolution,
                 batch=batch, num_classes=num_classes, top=top, title=title, cache=use_cache()), json_out)


@plot_app.command("bounds")
@calls_api("plot_bounds")
def plot_bounds(model: ModelArg, accel: AccelOpt, out: OutOpt,
                level: Annotated[Optional[str], typer.Option("--level", help="one memory level (default: every "
                                                                             "level right below DRAM)")] = None,
                layer: LayerOpt = None,
                dataflow: DataflowOpt = None, input_shape: InputOpt = None, resolution: ResolutionOpt = None,
                batch: BatchOpt = 1, num_classes: ClassesOpt = None, title: TitleOpt = None,
                json_out: JsonOpt = False) -> None:
    """Least DRAM traffic against buffer capacity (log-log), the template's capacity and traffic marked."""
    from hwmap.api import plot_bounds as plot

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    _report(plot(model, accel, out=out, level=level, layer=layer, dataflow=dataflow, input_shape=input_shape,
                 resolution=resolution, batch=batch, num_classes=num_classes, title=title, cache=use_cache()),
            json_out)


@plot_app.command("frontier")
@calls_api("plot_frontier")
def plot_frontier(
    source: Annotated[str, typer.Argument(help="costed paths CSV (paths cost --csv) or a selection JSON")],
    out: OutOpt,
    selection: Annotated[Optional[str], typer.Option("--selection", help="selection JSON whose paths to mark")]
    = None,
    title: TitleOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Energy vs accuracy of the paths, the selected ones marked; paths without an accuracy on a strip below."""
    from hwmap.api import plot_frontier as plot

    check_files(inputs={"SOURCE": source, "--selection": selection}, outputs={"--out": out})
    _report(plot(source, out=out, selection=selection, title=title), json_out)


@plot_app.command("pareto")
@calls_api("plot_pareto")
def plot_pareto(
    results: Annotated[str, typer.Argument(help="sweep results (.csv, .parquet or .json)")],
    out: OutOpt,
    x: Annotated[str, typer.Option("--x", help="result column on the x axis (an objective of the front)")]
    = "energy_mj",
    y: Annotated[str, typer.Option("--y", help="result column on the y axis (an objective of the front)")]
    = "latency_ms",
    colour: Annotated[Optional[str], typer.Option("--colour", help="column for the colour scale")] = "area_mm2",
    model: Annotated[Optional[str], typer.Option("--model", help="only rows of this model (default: one panel "
                                                                 "and one front per model)")] = None,
    title: TitleOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Design points of a sweep with the Pareto front over x and y, one panel per model."""
    from hwmap.api import plot_pareto as plot

    check_files(inputs={"RESULTS": results}, outputs={"--out": out})
    _report(plot(results, out=out, x=x, y=y, colour=colour, model=model, title=title), json_out)
