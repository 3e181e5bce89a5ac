"""hwmap plot shares|layers|frontier|pareto: figures as PNG or SVG (by the --out suffix)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.graph_commands import BatchOpt, InputOpt, ModelArg, ModelOptions, ResolutionOpt
from hwmap.cli.options import check_files
from hwmap.errors import HwmapError

plot_app = typer.Typer(help="Figures: op-class shares, per-layer profiles, frontiers, Pareto fronts.",
                       no_args_is_help=True)
app.add_typer(plot_app, name="plot")

OutOpt = Annotated[str, typer.Option("--out", "-o", help="figure file: .png or .svg")]
AccelOpt = Annotated[str, typer.Option("--accel", "-a", help="template name, template .yaml or SCALE-Sim .cfg")]


def _cost(model: str, accel: str, input: str | None, resolution: int | None, batch: int):
    from hwmap.api import load_accelerator
    from hwmap.cost.checks import check_cost
    from hwmap.cost.dispatch import estimate_graph

    accelerator = load_accelerator(accel)
    cost = estimate_graph(ModelOptions(model, input, resolution, batch).graph(), accelerator)
    check_cost(cost)
    return cost


@plot_app.command("shares")
def plot_shares(model: ModelArg, accel: AccelOpt, out: OutOpt, input: InputOpt = None,
                resolution: ResolutionOpt = None, batch: BatchOpt = 1) -> None:
    """Share of MACs, cycles and energy per op group."""
    from hwmap.report.plots import share_bars

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    print(f"wrote {share_bars(_cost(model, accel, input, resolution, batch), out)}")


@plot_app.command("layers")
def plot_layers(model: ModelArg, accel: AccelOpt, out: OutOpt, input: InputOpt = None,
                resolution: ResolutionOpt = None, batch: BatchOpt = 1) -> None:
    """Cycles and energy of every layer in execution order."""
    from hwmap.report.plots import layer_profile

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    print(f"wrote {layer_profile(_cost(model, accel, input, resolution, batch), out)}")


@plot_app.command("frontier")
def plot_frontier(
    source: Annotated[str, typer.Argument(help="costed paths CSV (paths cost --csv) or a selection JSON")],
    out: OutOpt,
    selection: Annotated[Optional[str], typer.Option("--selection", help="selection JSON whose paths to mark")]
    = None,
) -> None:
    """Energy vs accuracy of the paths, the selected ones marked."""
    from hwmap.paths.costing import read_costed_csv
    from hwmap.report.plots import frontier

    check_files(inputs={"SOURCE": source, "--selection": selection}, outputs={"--out": out})
    from hwmap.select.readers import read_selection

    if source.endswith(".json"):
        points = [p.to_dict() for p in read_selection(source).chosen]
        chosen = [p["name"] for p in points]
    else:
        points = [{"name": c.name, "energy_mj": c.energy_mj,
                   "accuracy": c.accuracy.value if c.accuracy else None} for c in read_costed_csv(source)]
        chosen = list(read_selection(selection).chosen_names) if selection else []
    print(f"wrote {frontier(points, out, selected=chosen)}")


@plot_app.command("pareto")
def plot_pareto(
    results: Annotated[str, typer.Argument(help="sweep results (.csv, .parquet or .json)")],
    out: OutOpt,
    x: Annotated[str, typer.Option("--x", help="column to minimise on the x axis")] = "energy_mj",
    y: Annotated[str, typer.Option("--y", help="column to minimise on the y axis")] = "latency_ms",
    colour: Annotated[Optional[str], typer.Option("--colour", help="column for the colour scale")] = "area_mm2",
    model: Annotated[Optional[str], typer.Option("--model", help="only rows of this model")] = None,
) -> None:
    """Design points of a sweep with the Pareto front over x and y."""
    import numpy as np
    import pandas as pd

    from hwmap.dse.pareto import pareto_front
    from hwmap.report.plots import pareto_scatter

    check_files(inputs={"RESULTS": results}, outputs={"--out": out})
    frame = _read_table(results)
    if model is not None:
        frame = frame[frame["model"] == model]
    for column in (x, y) + ((colour,) if colour else ()):
        if column not in frame.columns:
            raise HwmapError(f"{results}: no column {column!r}; columns are {', '.join(map(str, frame.columns))}")
    for column in (x, y):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & numbers.isna()
        if bad.any():
            raise HwmapError(f"{results}: column {column!r} holds {frame[column][bad].iloc[0]!r}, which is not a "
                             "number")
        frame = frame.assign(**{column: numbers})
    frame = frame.dropna(subset=[x, y])
    frame = frame[np.isfinite(frame[x]) & np.isfinite(frame[y])]
    if frame.empty:
        raise HwmapError(f"{results}: no rows with finite {x} and {y} to plot")
    values = frame[[x, y]].to_numpy(dtype=float)
    front = pareto_front(values)
    shade = pd.to_numeric(frame[colour], errors="coerce").to_numpy() if colour else None
    written = pareto_scatter(values[:, 0], values[:, 1], front, out, x_label=x, y_label=y, colour=shade,
                             colour_label=colour or "", title=model or "")
    print(f"wrote {written}")


def _read_table(path: str):
    import pandas as pd

    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(path)
        if path.endswith(".json"):
            return pd.read_json(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise HwmapError(f"{path}: cannot read the results table ({exc})") from None
