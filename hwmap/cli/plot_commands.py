"""hwmap plot shares|layers|frontier|pareto: figures as PNG or SVG (by the --out suffix)."""

from __future__ import annotations

import json
from pathlib import Path
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
JsonOpt = Annotated[bool, typer.Option("--json", help="print what was written and what was plotted as JSON")]
TitleOpt = Annotated[Optional[str], typer.Option("--title", help="figure title, e.g. naming the template")]


def _cost(model: str, accel: str, input: str | None, resolution: int | None, batch: int):
    from hwmap.api import estimate

    return estimate(ModelOptions(model, input, resolution, batch).graph(), accel)  # checked: finite, non-negative


def _report(written, plotted: dict, json_out: bool) -> None:
    if json_out:
        from hwmap.report.tables import print_json

        print_json({"written": str(written), "plotted": plotted})
    else:
        print(f"wrote {written}")


@plot_app.command("shares")
def plot_shares(model: ModelArg, accel: AccelOpt, out: OutOpt, input: InputOpt = None,
                resolution: ResolutionOpt = None, batch: BatchOpt = 1, json_out: JsonOpt = False) -> None:
    """Share of MACs, cycles and energy per op group."""
    from hwmap.report.plots import share_bars

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    cost = _cost(model, accel, input, resolution, batch)
    written = share_bars(cost, out)
    shares = {group: values for group, values in cost.shares_by("op-group").items() if any(values.values())}
    _report(written, {"model": cost.model, "accelerator": cost.accelerator, "shares_by_op_group": shares}, json_out)


@plot_app.command("layers")
def plot_layers(model: ModelArg, accel: AccelOpt, out: OutOpt, input: InputOpt = None,
                resolution: ResolutionOpt = None, batch: BatchOpt = 1, json_out: JsonOpt = False) -> None:
    """Cycles and energy of every layer in execution order."""
    from hwmap.report.plots import layer_profile

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    cost = _cost(model, accel, input, resolution, batch)
    written = layer_profile(cost, out)
    _report(written, {"model": cost.model, "accelerator": cost.accelerator, "energy_mj": float(cost.energy_mj),
                      "latency_ms": float(cost.latency_ms)}, json_out)


@plot_app.command("frontier")
def plot_frontier(
    source: Annotated[str, typer.Argument(help="costed paths CSV (paths cost --csv) or a selection JSON")],
    out: OutOpt,
    selection: Annotated[Optional[str], typer.Option("--selection", help="selection JSON whose paths to mark")]
    = None,
    title: TitleOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Energy vs accuracy of the paths, the selected ones marked; paths without an accuracy on a strip below."""
    from hwmap.api import load_costed_paths
    from hwmap.report.plots import accuracy_axis_label, frontier

    check_files(inputs={"SOURCE": source, "--selection": selection}, outputs={"--out": out})
    from hwmap.api import load_selection as read_selection

    if source.endswith(".json"):
        points = [{"name": p.name, "energy_mj": p.energy_mj, "accuracy": p.accuracy, "metric": None}
                  for p in read_selection(source).chosen]
        chosen = [p["name"] for p in points]
    else:
        points = [{"name": c.name, "energy_mj": c.energy_mj,
                   "accuracy": c.accuracy.value if c.accuracy else None,
                   "metric": c.accuracy.metric if c.accuracy else None} for c in load_costed_paths(source)]
        chosen = list(read_selection(selection).chosen_names) if selection else []
    label = accuracy_axis_label(p["metric"] for p in points if p["accuracy"] is not None)
    written = frontier(points, out, selected=chosen, accuracy_label=label, title=title or "")
    _report(written, {"accuracy_axis": label, "selected": chosen,
                      "paths": [{**p, "accuracy_known": p["accuracy"] is not None} for p in points]}, json_out)


@plot_app.command("pareto")
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
    import numpy as np
    import pandas as pd

    from hwmap.api import pareto
    from hwmap.report.plots import column_label, pareto_panels

    check_files(inputs={"RESULTS": results}, outputs={"--out": out})
    frame = _read_table(results).reset_index(drop=True)
    if model is not None:
        if "model" not in frame.columns or model not in set(frame["model"]):
            models = sorted(set(frame["model"])) if "model" in frame.columns else []
            raise HwmapError(f"--model {model!r}: not in {results} (models: {', '.join(map(str, models)) or 'none'})")
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
    front = pareto(frame, [x, y], by="model")
    panels = pareto_panels(frame, front, out, x=x, y=y, colour=colour, title=title or Path(results).name)
    _report(out, {"x": {"column": x, "label": column_label(x)}, "y": {"column": y, "label": column_label(y)},
                  "models": [{"model": p.model, "points": p.points, "front_points": len(p.front),
                              "front": json.loads(front[front["model"] == p.model].to_json(orient="records"))
                              if p.model else json.loads(front.to_json(orient="records"))} for p in panels]},
            json_out)


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
