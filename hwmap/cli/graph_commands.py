"""Commands over layer graphs: flops, graph, export, models."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated

import typer

from hwmap.cli import app
from hwmap.cli.options import MAX_BATCH, MAX_CLASSES, MAX_COUNT, MAX_RESOLUTION, StrictInt, check_files
from hwmap.errors import HwmapError

ModelArg = Annotated[str, typer.Argument(help="model spec (resnet50, tv:resnet18, segformer-b2, hf:DIR, "
                                              "ofa-resnet50:d=..;e=..;w=..) or a saved graph .json")]
InputOpt = Annotated[str | None, typer.Option("--input", help="input size CxHxW, e.g. 3x512x512")]
ResolutionOpt = Annotated[int | None, typer.Option("--resolution", help="square input size (model's channels)",
                                                          parser=StrictInt(min_value=1, max_value=MAX_RESOLUTION))]
BatchOpt = Annotated[int, typer.Option("--batch", help="batch size",
                                           parser=StrictInt(min_value=1, max_value=MAX_BATCH))]
ClassesOpt = Annotated[int | None, typer.Option("--num-classes", help="classifier / segmentation classes",
                                                       parser=StrictInt(min_value=1, max_value=MAX_CLASSES))]
StrictOpt = Annotated[bool, typer.Option("--strict", help="fail when an operator cannot be lowered")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


class By(str, Enum):
    op_class = "op-class"
    op_group = "op-group"
    module = "module"
    layer = "layer"


@dataclass(frozen=True)
class ModelOptions:
    """The options every command that takes a MODEL shares."""

    model: str
    input: str | None = None
    resolution: int | None = None
    batch: int = 1
    num_classes: int | None = None
    strict: bool = False

    def graph(self):
        from hwmap.api import extract_graph
        from hwmap.cli import use_graph_cache
        from hwmap.graph.sources import parse_input_shape

        shape = parse_input_shape(self.input) if self.input is not None else None
        return extract_graph(self.model, input_shape=shape, resolution=self.resolution, batch=self.batch,
                             num_classes=self.num_classes, strict=self.strict, cache=use_graph_cache())


@app.command()
def flops(
    model: ModelArg,
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    strict: StrictOpt = False,
    by: Annotated[By, typer.Option("--by", help="breakdown")] = By.op_class,
    top: Annotated[int | None, typer.Option("--top", help="rows to show (default: all op classes, 15 "
                                                              "modules or layers)",
                                                          parser=StrictInt(min_value=1, max_value=MAX_COUNT))]
    = None,
    depth: Annotated[int | None, typer.Option("--depth", help="aggregate modules at this name depth",
                                                            parser=StrictInt(min_value=1, max_value=1024))]
    = None,
    linear_as_conv: Annotated[bool, typer.Option("--linear-as-conv", help="count token-wise linear layers as "
                                                                          "1x1 convs")] = False,
    compare: Annotated[bool, typer.Option("--compare", help="show fvcore's and torch's counts beside hwmap's")]
    = False,
    json_out: JsonOpt = False,
    csv_path: Annotated[str | None, typer.Option("--csv", help="also write the breakdown to this CSV file")]
    = None,
) -> None:
    """Total MACs (FLOPs = 2 x MACs), params, bytes and where the MACs go."""
    from hwmap.api import flops as count
    from hwmap.report.tables import flops_csv_rows, print_json, render_flops, stdout_console, write_csv

    check_files(inputs={"MODEL": model}, outputs={"--csv": csv_path})
    options = ModelOptions(model, input, resolution, batch, num_classes, strict)
    graph = options.graph()
    if top is None and by in (By.module, By.layer):
        top = 15
    summary = count(graph, by=by.value, linear_as_conv=linear_as_conv, top=top, module_depth=depth)
    comparison = _comparison(options, graph) if compare else None
    if csv_path:
        write_csv(csv_path, *flops_csv_rows(summary))
    if json_out:
        data = summary.to_dict()
        if comparison is not None:
            data["compare"] = comparison.to_dict()
        print_json(data)
        return
    console = stdout_console()
    render_flops(summary, console)
    if comparison is not None:
        from hwmap.report.tables import render_comparison

        render_comparison(comparison, console)


def _comparison(options: ModelOptions, graph):
    from hwmap.api import compare_counters

    if options.model.endswith(".json"):
        raise HwmapError("--compare needs a model spec, not a saved graph: the other counters must run the model")
    return compare_counters(options.model, graph=graph, num_classes=options.num_classes)


@app.command()
def graph(
    model: ModelArg,
    out: Annotated[str, typer.Option("--out", "-o", help="where to write the layer graph JSON")],
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Extract a model's layer graph and save it as JSON (read back later without torch)."""
    from hwmap.api import save_graph
    from hwmap.report.tables import print_json

    check_files(inputs={"MODEL": model}, outputs={"--out": out})
    layer_graph = ModelOptions(model, input, resolution, batch, num_classes, strict).graph()
    path = save_graph(layer_graph, out)
    info = {"model": layer_graph.model, "nodes": len(layer_graph.nodes), "total_macs": layer_graph.total_macs,
            "unsupported": len(layer_graph.unsupported), "path": str(path)}
    if json_out:
        print_json(info)
    else:
        print(f"wrote {path}: {info['nodes']} operators, {info['total_macs']:,} MACs, "
              f"{info['unsupported']} unsupported")


class ExportFormat(str, Enum):
    scalesim = "scalesim"
    scalesim_gemm = "scalesim-gemm"
    zigzag = "zigzag"


@app.command()
def export(
    model: ModelArg,
    out: Annotated[str, typer.Option("--out", "-o", help="output CSV (scalesim) or YAML (zigzag) path")],
    format: Annotated[ExportFormat, typer.Option("--format", help="scalesim: conv topology CSV; scalesim-gemm: "
                                                                  "GEMM topology (M, N, K); zigzag: ZigZag 3.9.1 "
                                                                  "workload YAML")] = ExportFormat.scalesim,
    accel: Annotated[str | None, typer.Option("--accel", "-a", help="zigzag: take operand bits from this "
                                                                    "template (default: the graph's dtypes)")] = None,
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the model's GEMM-like layers as a SCALE-Sim topology CSV or a ZigZag workload YAML."""
    from hwmap.graph.export import write_scalesim_topology
    from hwmap.report.tables import print_json

    if accel is not None and format is not ExportFormat.zigzag:
        raise HwmapError("--accel: only used with --format zigzag (operand bits of the workload)")
    check_files(inputs={"MODEL": model}, outputs={"--out": out})
    layer_graph = ModelOptions(model, input, resolution, batch, num_classes).graph()
    if format is ExportFormat.zigzag:
        result = _export_zigzag(layer_graph, out, accel)
        rows = result.layers
    else:
        result = write_scalesim_topology(layer_graph, out, gemm_format=format is ExportFormat.scalesim_gemm)
        rows = result.rows
    if json_out:
        print_json(result.to_dict())
        return
    print(f"wrote {out}: {rows} {'layers' if format is ExportFormat.zigzag else 'rows'} covering {result.macs:,} "
          f"of {layer_graph.total_macs:,} MACs")
    for note in result.notes:
        print(f"note: {note}")


def _export_zigzag(layer_graph, out: str, accel: str | None):
    from hwmap.api import export_zigzag_workload

    return export_zigzag_workload(layer_graph, out, accel=accel)


@app.command()
def models(
    filter: Annotated[str | None, typer.Argument(help="only names containing this text")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the model names hwmap can build (built-ins, timm, torchvision)."""
    from hwmap.api import list_models
    from hwmap.report.tables import print_json

    families = list_models()
    if filter:
        families = {k: [n for n in v if filter.lower() in n.lower()] for k, v in families.items()}
    if json_out:
        print_json(families)
        return
    for family, names in families.items():
        shown = names if filter or family not in ("timm", "torchvision") else names[:12] + ["..."]
        print(f"{family} ({len(names)}): {', '.join(shown)}")
    if not filter:
        print("filter with `hwmap models TEXT`; any timm name also works as timm:<name>, torchvision as tv:<name>")
