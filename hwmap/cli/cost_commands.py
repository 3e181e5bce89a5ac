"""Commands over hardware templates: estimate, map, accels list|show|validate."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from hwmap.cli import app, use_cache
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
from hwmap.cli.options import MAX_COUNT, StrictInt, check_files

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


class MappingMode(str, Enum):
    best = "best"
    scalesim = "scalesim"


class Objective(str, Enum):
    energy = "energy"
    latency = "latency"
    edp = "edp"


DataflowOpt = Annotated[Optional[Dataflow], typer.Option("--dataflow", help="override a systolic template's "
                                                                       "dataflow")]
MappingOpt = Annotated[MappingMode, typer.Option(
    "--mapping", help="best: the mapper picks each layer's loop order and buffer tiles; scalesim: SCALE-Sim's fold "
                      "order and DRAM counts (systolic templates)")]
ObjectiveOpt = Annotated[Objective, typer.Option("--objective", help="what the mapper minimises")]


class Fusion(str, Enum):
    none = "none"
    epilogue = "epilogue"


FusionOpt = Annotated[Optional[Fusion], typer.Option(
    "--fusion", help="accelerator templates: epilogue (default: batch norms folded into conv/linear weights, "
                     "activations, scales and residual adds fused on chip) or none (every operator its own kernel)")]


@app.command()
def estimate(
    model: ModelArg,
    accel: Annotated[str, typer.Option("--accel", "-a", help="template name (hwmap accels list), template "
                                                              ".yaml, or SCALE-Sim .cfg")],
    dataflow: DataflowOpt = None,
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    strict: StrictOpt = False,
    by: Annotated[EstimateBy, typer.Option("--by", help="breakdown table")] = EstimateBy.op_group,
    top: Annotated[Optional[int], typer.Option("--top", help="rows of the module/layer table (default 20)",
                                                         parser=StrictInt(min_value=1, max_value=MAX_COUNT))]
    = None,
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="GPU templates: a calibration file "
                                                                             "from `hwmap calibrate`")] = None,
    mode: Annotated[GpuMode, typer.Option("--mode", help="GPU templates: execution mode")] = GpuMode.eager,
    dtype: Annotated[GpuDtype, typer.Option("--dtype", help="GPU templates: compute dtype")] = GpuDtype.fp16,
    tf32: Annotated[bool, typer.Option("--tf32/--no-tf32", help="GPU templates: TF32 for fp32 matmuls")] = True,
    mapping: MappingOpt = MappingMode.best,
    objective: ObjectiveOpt = Objective.energy,
    fusion: FusionOpt = None,
    json_out: JsonOpt = False,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write every layer's costs to this CSV")]
    = None,
) -> None:
    """Cycles, latency, energy (by term) and utilisation of a model on a hardware template."""
    from hwmap.api import check_cost, load_accelerator
    from hwmap.cost.dispatch import GpuSettings, estimate_graph
    from hwmap.report.tables import print_json, render_estimate, stdout_console, write_cost_csv

    check_files(inputs={"MODEL": model, "--accel": accel, "--calibration": calibration}, outputs={"--csv": csv_path})
    accelerator = load_accelerator(accel)
    graph = ModelOptions(model, input, resolution, batch, num_classes, strict).graph()
    gpu = GpuSettings(calibration=calibration, mode=mode.value, dtype=dtype.value, tf32=tf32)
    cost = estimate_graph(graph, accelerator, dataflow=dataflow.value if dataflow else None, gpu=gpu,
                          mapping=mapping.value, objective=objective.value, fusion=fusion.value if fusion else None,
                          cache=use_cache())
    check_cost(cost)
    if csv_path:
        write_cost_csv(csv_path, cost)
    if json_out:
        data = cost.to_dict(layers=by is EstimateBy.layer)
        data[f"shares_by_{by.value.replace('-', '_')}"] = cost.shares_by(by.value) if by is not EstimateBy.layer \
            else None
        print_json(data)
        return
    console = stdout_console()
    render_estimate(cost, console, by=by.value, top=top or 20)
    if "fusion" in cost.settings:
        console.print(_fusion_summary(cost))


def _fusion_summary(cost) -> str:
    """What was fused into what: a count and the first groups (all of them are in --json as 'fused')."""
    policy = cost.settings["fusion"]
    if not cost.fused:
        return f"fusion {policy}: every operator runs as its own kernel (DRAM round trip per operator)"
    shown = "; ".join(cost.fused[:3]) + ("; ..." if len(cost.fused) > 3 else "")
    return f"fusion {policy}: {len(cost.fused)} fused groups (all listed by --json under 'fused'): {shown}"


@app.command("map")
def map_command(
    model: ModelArg,
    accel: Annotated[str, typer.Option("--accel", "-a", help="template name, template .yaml, or SCALE-Sim .cfg")],
    objective: ObjectiveOpt = Objective.energy,
    mapping: MappingOpt = MappingMode.best,
    fusion: FusionOpt = None,
    layer: Annotated[Optional[str], typer.Option("--layer", help="only layers whose name or module matches this "
                                                                 "glob, e.g. 'layer4.*'")] = None,
    dataflow: DataflowOpt = None,
    input: InputOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    num_classes: ClassesOpt = None,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """The mapping of every conv/GEMM layer: loop order, buffer tiles, DRAM bytes per operand, reuse."""
    from fnmatch import fnmatchcase

    from rich.table import Table

    from hwmap.api import load_accelerator
    from hwmap.cost.dispatch import estimate_graph
    from hwmap.errors import HwmapError
    from hwmap.report.tables import print_json, stdout_console

    accelerator = load_accelerator(accel)
    if accelerator.kind not in ("systolic", "vector_pe"):
        raise HwmapError(f"hwmap map: {accelerator.name!r} is of kind {accelerator.kind!r}; the mapper covers "
                         "systolic and vector_pe templates")
    graph = ModelOptions(model, input, resolution, batch, num_classes, strict).graph()
    cost = estimate_graph(graph, accelerator, dataflow=dataflow.value if dataflow else None,
                          mapping=mapping.value, objective=objective.value, fusion=fusion.value if fusion else None,
                          cache=use_cache())
    names, scopes = cost.layers.names, cost.layers.scopes
    rows = [(i, m) for i, m in enumerate(cost.mappings) if m is not None
            and (layer is None or fnmatchcase(names[i], layer) or fnmatchcase(scopes[i], layer))]
    if layer is not None and not rows:
        raise HwmapError(f"--layer {layer!r} matches no conv/GEMM layer of {graph.model}")
    if json_out:
        print_json({"model": graph.model, "accelerator": accelerator.name, "settings": cost.settings,
                    "fused": list(cost.fused),
                    "layers": [{"layer": cost.layers.names[i], "module": cost.layers.scopes[i], **m.record(),
                                "fused_into_it": cost.fused_per_layer[i] if cost.fused_per_layer else "",
                                "energy_pj": float(cost.layer_energy_pj[i])} for i, m in rows]})
        return
    table = Table(title=f"{graph.model} on {accelerator.name}: {mapping.value} mapping"
                        + (f", objective {objective.value}" if mapping is MappingMode.best else ""),
                  title_justify="left")
    for column in ("layer", "order (outer>inner)", "buffer tiles", "in kB", "w kB", "out kB", "psum kB",
                   "in refetch", "w refetch", "psum passes", "energy uJ", "fused into it"):
        table.add_column(column, justify="left" if column in ("layer", "order (outer>inner)", "buffer tiles",
                                                              "fused into it") else "right")
    for i, m in rows:
        table.add_row(cost.layers.scopes[i] or cost.layers.names[i], m.order_text(), m.tiles_text(),
                      f"{m.input_read_bytes / 1e3:,.1f}", f"{m.weight_read_bytes / 1e3:,.1f}",
                      f"{m.output_write_bytes / 1e3:,.1f}",
                      f"{(m.psum_write_bytes + m.psum_read_bytes) / 1e3:,.1f}", f"{m.refetch_input:.2f}",
                      f"{m.refetch_weight:.2f}", str(m.psum_passes), f"{cost.layer_energy_pj[i] / 1e6:,.2f}",
                      cost.fused_per_layer[i] if cost.fused_per_layer else "")
    console = stdout_console()
    console.print(table)
    console.print(f"fusion {cost.settings.get('fusion', '-')}: {len(cost.fused)} fused groups; "
                  "energy uJ is the layer's own (its fused members are costed on their rows)")
    console.print("tiles: N images, K output channels, C input channels, P x Q output pixels, R x S kernel "
                  "(a GEMM (m x k) @ (k x n) is K = n, C = k, P = m); refetch = DRAM reads / tensor size")


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


class AccelExportFormat(str, Enum):
    zigzag = "zigzag"


@accels_app.command("export")
def accels_export(
    accel: Annotated[str, typer.Argument(help="template name (hwmap accels list) or template .yaml")],
    out: Annotated[str, typer.Option("--out", "-o", help="existing folder for <name>.hardware.yaml and "
                                                         "<name>.mapping.yaml")],
    format: Annotated[AccelExportFormat, typer.Option("--format", help="zigzag: ZigZag 3.9.1 hardware and spatial "
                                                                       "mapping YAML")] = AccelExportFormat.zigzag,
    json_out: JsonOpt = False,
) -> None:
    """Write a template in another tool's format (ZigZag: memory hierarchy, MAC array, spatial mapping)."""
    from hwmap.api import export_zigzag_hardware
    from hwmap.report.tables import print_json

    result = export_zigzag_hardware(accel, out)
    if json_out:
        print_json({"format": format.value, "paths": list(result.paths)})
        return
    for path in result.paths:
        print(f"wrote {path}")
