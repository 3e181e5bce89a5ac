"""Commands over layer graphs: flops, graph, export, models."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from hwmap.cli import app, use_cache
from hwmap.cli.options import (
    DEFAULT_TOP,
    GRAPH_OPTIONS,
    BatchOpt,
    ByOpt,
    ClassesOpt,
    InputOpt,
    JsonOpt,
    ModelArg,
    OptionValues,
    ResolutionOpt,
    StrictInt,
    StrictOpt,
    TopOpt,
    calls_api,
    check_files,
    option_groups,
    shown_rows,
)
from hwmap.errors import HwmapError

__all__ = ["BatchOpt", "ClassesOpt", "InputOpt", "JsonOpt", "ModelArg", "ResolutionOpt", "StrictOpt"]  # shared


@app.command()
@option_groups
@calls_api("flops")
def flops(
    model: ModelArg,
    graph_options: OptionValues = GRAPH_OPTIONS,
    by: ByOpt = "op-group",
    top: TopOpt = DEFAULT_TOP,
    module_depth: Annotated[Optional[int], typer.Option("--depth", help="aggregate modules at this name depth",
                                                        parser=StrictInt(min_value=1, max_value=1024))] = None,
    linear_as_conv: Annotated[bool, typer.Option("--linear-as-conv", help="count token-wise linear layers as "
                                                                          "1x1 convs")] = False,
    compare: Annotated[bool, typer.Option("--compare", help="show fvcore's and torch's counts beside hwmap's")]
    = False,
    json_out: JsonOpt = False,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="also write the breakdown to this CSV file")]
    = None,
) -> None:
    """Total MACs (FLOPs = 2 x MACs), params, bytes and where the MACs go."""
    from hwmap.api import flops as count
    from hwmap.report.tables import flops_csv_rows, print_json, render_flops, stdout_console, write_csv

    check_files(inputs={"MODEL": model}, outputs={"--csv": csv_path})
    summary = count(model, **graph_options, by=by, top=shown_rows(top), module_depth=module_depth,
                    linear_as_conv=linear_as_conv, compare=compare, cache=use_cache())
    if csv_path:
        write_csv(csv_path, *flops_csv_rows(summary))
    if json_out:
        print_json(summary.to_dict())
        return
    console = stdout_console()
    render_flops(summary, console)
    if summary.comparison is not None:
        from hwmap.report.tables import render_comparison

        render_comparison(summary.comparison, console)


@app.command()
@option_groups
@calls_api("save_graph")
def graph(
    model: ModelArg,
    out: Annotated[str, typer.Option("--out", "-o", help="where to write the layer graph JSON")],
    graph_options: OptionValues = GRAPH_OPTIONS,
    json_out: JsonOpt = False,
) -> None:
    """Extract a model's layer graph and save it as JSON (read back later without torch)."""
    from hwmap.api import load_graph, save_graph
    from hwmap.report.tables import print_json

    check_files(inputs={"MODEL": model}, outputs={"--out": out})
    path = save_graph(model, out, **graph_options, cache=use_cache())
    layer_graph = load_graph(path)
    info = {"model": layer_graph.model, "nodes": len(layer_graph.nodes), "total_macs": layer_graph.total_macs,
            "unsupported": len(layer_graph.unsupported), "path": str(path)}
    if json_out:
        print_json(info)
    else:
        print(f"wrote {path}: {info['nodes']} operators, {info['total_macs']:,} MACs, "
              f"{info['unsupported']} unsupported")


EXPORT_FORMATS = ("scalesim", "scalesim-gemm", "zigzag")


@app.command()
@option_groups
@calls_api("export_graph")
def export(
    model: ModelArg,
    out: Annotated[str, typer.Option("--out", "-o", help="output CSV (scalesim) or YAML (zigzag) path; - (the "
                                                         "default): standard output")] = "-",
    format: Annotated[Literal[EXPORT_FORMATS], typer.Option(
        "--format", help="scalesim: conv topology CSV; scalesim-gemm: GEMM topology (M, N, K); zigzag: ZigZag "
                         "3.9.1 workload YAML")] = "scalesim",
    accel: Annotated[Optional[str], typer.Option("--accel", "-a", help="zigzag: take operand bits from this "
                                                                       "template (default: the graph's dtypes)")]
    = None,
    graph_options: OptionValues = GRAPH_OPTIONS,
    json_out: JsonOpt = False,
) -> None:
    """Write the model's GEMM-like layers as a SCALE-Sim topology CSV or a ZigZag workload YAML."""
    from hwmap.api import export_graph
    from hwmap.report.tables import print_json

    to_stdout = out in ("-", "/dev/stdout")
    if to_stdout and json_out:
        raise HwmapError("--json: standard output carries the export; give --out FILE to get the JSON summary")
    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--out": out})
    result = export_graph(model, out=out, format=format, accel=accel, **graph_options, cache=use_cache())
    if json_out:
        print_json(result.to_dict())
        return
    summary = sys.stderr if to_stdout else sys.stdout  # the export itself may be on stdout: keep it clean
    print(f"wrote {out}: {result.items} {'layers' if format == 'zigzag' else 'rows'} covering {result.macs:,} "
          f"of {result.total_macs:,} MACs", file=summary)
    for note in result.notes:
        print(f"note: {note}", file=summary)


@app.command()
@calls_api("list_models")
def models(
    contains: Annotated[Optional[str], typer.Argument(metavar="[FILTER]", help="only names containing this text")]
    = None,
    top: TopOpt = DEFAULT_TOP,  # timm and torchvision names shown per family unless filtered (0 = all)
    json_out: JsonOpt = False,
) -> None:
    """List the model names hwmap can build (built-ins, timm, torchvision)."""
    from hwmap.api import list_models
    from hwmap.report.tables import print_json

    families = list_models(contains)
    if json_out:
        print_json(families)
        return
    cut = not contains and top > 0
    for family, names in families.items():
        long = cut and family in ("timm", "torchvision") and len(names) > top
        shown = names[:top] + ["..."] if long else names
        print(f"{family} ({len(names)}): {', '.join(shown)}")
    if cut:
        print("every name: `hwmap models --top 0`; filter with `hwmap models TEXT`; any timm name also works as "
              "timm:<name>, torchvision as tv:<name>")
