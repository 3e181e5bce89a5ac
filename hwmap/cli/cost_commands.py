"""Commands over hardware templates: estimate, accels list|show|validate."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.graph_commands import (
    BatchOpt,
    ClassesOpt,
    InputOpt,
    JsonOpt,
    ModelArg,
    ModelOptions,
    ResolutionOpt,
    StrictOpt,
)

accels_app = typer.Typer(help="List, show and validate accelerator templates.", no_args_is_help=True)
app.add_typer(accels_app, name="accels")


class EstimateBy(str, Enum):
    op_class = "op-class"
    op_group = "op-group"
    module = "module"
    layer = "layer"


class GpuMode(str, Enum):
    eager = "eager"
    sdpa = "sdpa"
    compiled = "compiled"
    auto = "auto"


class GpuDtype(str, Enum):
    fp16 = "fp16"
    bf16 = "bf16"
    fp32 = "fp32"
    fp8 = "fp8"
    int8 = "int8"


class Dataflow(str, Enum):
    ws = "ws"
    os = "os"
    is_ = "is"


@app.command()
def estimate(
    model: ModelArg,
    accel: Annotated[str, typer.Option("--accel", "-a", help="template name (hwmap accels list), template "
                                                              ".yaml, or SCALE-Sim .cfg")],
    dataflow: Annotated[Optional[Dataflow], typer.Option("--dataflow", help="override a systolic template's "
                                                                            "dataflow")] = None,
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    strict: StrictOpt = False,
    by: Annotated[EstimateBy, typer.Option("--by", help="breakdown table")] = EstimateBy.op_group,
    top: Annotated[Optional[int], typer.Option("--top", help="rows of the module/layer table (default 20)")]
    = None,
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="GPU templates: a calibration file "
                                                                             "from `hwmap calibrate`")] = None,
    mode: Annotated[GpuMode, typer.Option("--mode", help="GPU templates: execution mode")] = GpuMode.eager,
    dtype: Annotated[GpuDtype, typer.Option("--dtype", help="GPU templates: compute dtype")] = GpuDtype.fp16,
    tf32: Annotated[bool, typer.Option("--tf32/--no-tf32", help="GPU templates: TF32 for fp32 matmuls")] = True,
    json_out: JsonOpt = False,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write every layer's costs to this CSV")]
    = None,
) -> None:
    """Cycles, latency, energy (by term) and utilisation of a model on a hardware template."""
    from hwmap.api import load_accelerator
    from hwmap.cost.dispatch import GpuSettings, estimate_graph
    from hwmap.report.tables import print_json, render_estimate, stdout_console, write_cost_csv

    accelerator = load_accelerator(accel)
    graph = ModelOptions(model, input, resolution, batch, num_classes, strict).graph()
    gpu = GpuSettings(calibration=calibration, mode=mode.value, dtype=dtype.value, tf32=tf32)
    cost = estimate_graph(graph, accelerator, dataflow=dataflow.value if dataflow else None, gpu=gpu)
    if csv_path:
        write_cost_csv(csv_path, cost)
    if json_out:
        data = cost.to_dict(layers=by is EstimateBy.layer)
        data[f"shares_by_{by.value.replace('-', '_')}"] = cost.shares_by(by.value) if by is not EstimateBy.layer \
            else None
        print_json(data)
        return
    render_estimate(cost, stdout_console(), by=by.value, top=top or 20)


@accels_app.command("list")
def accels_list(json_out: JsonOpt = False, kind: Annotated[Optional[str], typer.Option(
        "--kind", help="only templates of this kind (systolic, vector, gpu, ...)")] = None) -> None:
    """The shipped templates with kind, peak MACs per cycle and clock."""
    from hwmap.api import list_accelerators, load_accelerator
    from hwmap.report.tables import print_json, render_accelerator_list, stdout_console

    templates = [t for t in map(load_accelerator, list_accelerators()) if kind is None or t.kind == kind]
    if json_out:
        print_json([{"name": t.name, "kind": t.kind, "description": t.description} for t in templates])
        return
    render_accelerator_list(templates, stdout_console())


@accels_app.command("show")
def accels_show(
    accel: Annotated[str, typer.Argument(help="template name, template .yaml or SCALE-Sim .cfg")],
    json_out: JsonOpt = False,
) -> None:
    """Every field of a template, as validated."""
    import yaml

    from hwmap.api import load_accelerator
    from hwmap.report.tables import print_json

    accelerator = load_accelerator(accel)
    if json_out:
        print_json(accelerator.to_dict())
        return
    print(f"# {accelerator.name}: {accelerator.description}")
    print(f"# peak {accelerator.peak_macs_per_cycle} MACs/cycle")
    print(yaml.safe_dump(accelerator.template_dict(), sort_keys=False), end="")


@accels_app.command("validate")
def accels_validate(
    paths: Annotated[list[str], typer.Argument(help="template files or names to check")],
    json_out: JsonOpt = False,
) -> None:
    """Load and validate templates; exit 2 with every problem of the first bad one."""
    from hwmap.api import load_accelerator
    from hwmap.report.tables import print_json

    checked = [load_accelerator(path) for path in paths]
    if json_out:
        print_json([{"name": a.name, "valid": True} for a in checked])
        return
    for accelerator in checked:
        print(f"{accelerator.name}: valid ({accelerator.kind}, {accelerator.peak_macs_per_cycle} MACs/cycle)")
