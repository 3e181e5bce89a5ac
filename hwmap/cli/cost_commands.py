"""Commands over hardware templates: estimate, map, accels list|show|validate|export."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from hwmap.cli import app, use_cache
from hwmap.cli.options import (
    DEFAULT_TOP,
    ESTIMATE_OPTIONS,
    GRAPH_OPTIONS,
    AccelOpt,
    ByOpt,
    DataflowOpt,
    FusionOpt,
    JsonOpt,
    LayerOpt,
    MappingOpt,
    ModelArg,
    ObjectiveOpt,
    OptionValues,
    TopOpt,
    calls_api,
    check_files,
    option_groups,
    shown_rows,
)
from hwmap.vocabulary import ACCESS_CONVENTIONS

accels_app = typer.Typer(help="List, show, validate and export accelerator templates.", no_args_is_help=True)
app.add_typer(accels_app, name="accels")


@app.command()
@option_groups
@calls_api("estimate")
def estimate(
    model: ModelArg,
    accel: AccelOpt,
    graph_options: OptionValues = GRAPH_OPTIONS,
    by: ByOpt = "op-group",
    top: TopOpt = DEFAULT_TOP,
    settings: OptionValues = ESTIMATE_OPTIONS,
    json_out: JsonOpt = False,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write every layer's costs to this CSV")]
    = None,
) -> None:
    """Cycles, latency, energy (by term) and utilisation of a model on a hardware template."""
    from hwmap.api import estimate as run_estimate
    from hwmap.report.tables import print_json, render_estimate, stdout_console, write_cost_csv

    check_files(inputs={"MODEL": model, "--accel": accel, "--calibration": settings["calibration"]},
                outputs={"--csv": csv_path})
    cost = run_estimate(model, accel, **graph_options, **settings, cache=use_cache())
    if csv_path:
        write_cost_csv(csv_path, cost)
    if json_out:
        data = cost.to_dict(layers=by == "layer")
        data[f"shares_by_{by.replace('-', '_')}"] = cost.shares_by(by) if by != "layer" else None
        print_json(data)
        return
    console = stdout_console()
    render_estimate(cost, console, by=by, top=shown_rows(top))
    if "fusion" in cost.settings:
        console.print(_fusion_summary(cost))
    if accel.lower().endswith(".cfg"):
        console.print(scalesim_cycles_note(cost))


def scalesim_cycles_note(cost) -> str:
    """What to compare with SCALE-Sim's own report when the template came from its .cfg: its CALC mode counts no
    DRAM stalls, so its Total Cycles are hwmap's compute cycles."""
    share = f" ({cost.cycles / cost.compute_cycles:.2f}x)" if cost.compute_cycles else ""
    return (f"SCALE-Sim .cfg: SCALE-Sim's CALC mode models no DRAM stalls; compare its Total Cycles with the "
            f"{cost.compute_cycles:,} compute cycles here. The {cost.cycles:,} cycles{share} add "
            f"{cost.stall_cycles:,} stall cycles waiting for DRAM at the template's bandwidth")


def _fusion_summary(cost) -> str:
    """What was fused into what: a count and the first groups (all of them are in --json as 'fused')."""
    policy = cost.settings["fusion"]
    if not cost.fused:
        return f"fusion {policy}: every operator runs as its own kernel (DRAM round trip per operator)"
    shown = "; ".join(cost.fused[:3]) + ("; ..." if len(cost.fused) > 3 else "")
    return f"fusion {policy}: {len(cost.fused)} fused groups (all listed by --json under 'fused'): {shown}"


@app.command("map")
@option_groups
@calls_api("map_layers")
def map_command(
    model: ModelArg,
    accel: AccelOpt,
    objective: ObjectiveOpt = "energy",
    mapping: MappingOpt = "best",
    fusion: FusionOpt = None,
    layer: LayerOpt = None,
    dataflow: DataflowOpt = None,
    graph_options: OptionValues = GRAPH_OPTIONS,
    fixed: Annotated[Optional[str], typer.Option(
        "--fixed", help="evaluate this file's mapping instead of searching: a Timeloop *.map.yaml, a ZigZag "
                        "mapping YAML or ZigZag run records (JSON)")] = None,
    conventions: Annotated[Literal[ACCESS_CONVENTIONS], typer.Option(
        "--conventions", help="with --fixed: count and price the mapping by hwmap's model or by ZigZag 3.9.1's "
                              "(its access counts and its energy of port word accesses)")] = "hwmap",
    json_out: JsonOpt = False,
) -> None:
    """The mapping of every conv/GEMM layer: loop order, buffer tiles, DRAM bytes per operand, reuse; with
    --fixed, a given mapping's accesses per level and operand and its energy."""
    from rich.table import Table

    from hwmap.api import map_layers
    from hwmap.report.tables import print_json, stdout_console

    check_files(inputs={"MODEL": model, "--accel": accel, "--fixed": fixed}, outputs={})
    result = map_layers(model, accel, layer=layer, objective=objective, mapping=mapping, fusion=fusion,
                        dataflow=dataflow, **graph_options, cache=use_cache(), fixed=fixed, conventions=conventions)
    if fixed is not None:
        _show_fixed(result, json_out=json_out)
        return
    cost = result.cost
    rows = [(i, cost.layers.mappings[i]) for i in result.layers]
    if json_out:
        print_json({"model": cost.model, "accelerator": cost.accelerator, "settings": cost.settings,
                    "fused": list(cost.fused),
                    "layers": [{"layer": cost.layers.names[i], "module": cost.layers.scopes[i], **m.record(),
                                "fused_into_it": cost.layers.fusion[i],
                                "energy_pj": float(cost.layers.energy_pj[i])} for i, m in rows]})
        return
    if rows and hasattr(rows[0][1], "loops_text"):  # a multi-level mapping (kind: hierarchy)
        _print_multilevel(cost, rows, objective)
        return
    table = Table(title=f"{cost.model} on {cost.accelerator}: {mapping} mapping"
                        + (f", objective {objective}" if mapping == "best" else ""),
                  title_justify="left")
    for column in ("layer", "order (outer>inner)", "buffer tiles", "in kB", "w kB", "out kB", "psum kB",
                   "in refetch", "w refetch", "psum passes", "energy uJ", "fused into it"):
        table.add_column(column, justify="left" if column in ("layer", "order (outer>inner)", "buffer tiles",
                                                              "fused into it") else "right")
    for i, m in rows:
        table.add_row(cost.layers.scopes[i] or cost.layers.names[i], *_order_and_tiles(m, cost.layers.op_classes[i]),
                      f"{m.input_read_bytes / 1e3:,.1f}", f"{m.weight_read_bytes / 1e3:,.1f}",
                      f"{m.output_write_bytes / 1e3:,.1f}",
                      f"{(m.psum_write_bytes + m.psum_read_bytes) / 1e3:,.1f}", f"{m.refetch_input:.2f}",
                      f"{m.refetch_weight:.2f}", str(m.psum_passes), f"{cost.layers.energy_pj[i] / 1e6:,.2f}",
                      cost.layers.fusion[i])
    console = stdout_console()
    console.print(table)
    console.print(f"fusion {cost.settings.get('fusion', '-')}: {len(cost.fused)} fused groups; "
                  "energy uJ is the layer's own (its fused members are costed on their rows)")
    console.print("tiles: N images, K output channels, C input channels, P x Q output pixels, R x S kernel "
                  "(a GEMM (m x k) @ (k x n) is K = n, C = k, P = m; a 1x1 convolution is that GEMM with m = "
                  "N x P x Q, so its pixel tile NPQ counts output pixels of all images); refetch = DRAM reads / "
                  "tensor size")


def _show_fixed(result, *, json_out: bool) -> None:
    """map --fixed: per layer, level and operand the elements read, written and updated, and the energies."""
    from rich.table import Table

    from hwmap.report.tables import print_json, stdout_console

    if json_out:
        print_json(result.to_dict())
        return
    table = Table(title=f"{result.model} on {result.accelerator}: the mapping of {result.fixed}"
                        + (f", {result.conventions}'s conventions" if result.conventions != "hwmap" else ""),
                  title_justify="left")
    for column in ("layer", "level", "operand", "reads", "writes", "updates", "level energy uJ"):
        table.add_column(column, justify="left" if column in ("layer", "level", "operand") else "right")
    for scope, name, evaluation in zip(result.scopes, result.names, result.results, strict=True):
        shown_level = None
        for row in evaluation.accesses:
            first = row["level"] != shown_level
            shown_level = row["level"]
            energy = f"{evaluation.level_energy_pj[row['level']] / 1e6:,.3f}" if first else ""
            table.add_row(scope or name, row["level"], row["operand"], f"{row['reads']:,.0f}",
                          f"{row['writes']:,.0f}", f"{row['updates']:,.0f}", energy)
            scope = name = ""
        table.add_row("", "MACs", "", "", "", "", f"{evaluation.mac_energy_pj / 1e6:,.3f}", end_section=True)
    console = stdout_console()
    console.print(table)
    console.print(f"total {result.energy_pj / 1e6:,.2f} uJ over {len(result.results)} layers; reads/writes/updates "
                  "in elements (every instance of a level counted)")
def _print_multilevel(cost, rows, objective: str) -> None:
    """hwmap map on a hierarchy template: per layer the spatial unrolling, every level's loops (outermost first),
    the outermost level's traffic, the energy and the gap to the mapper's lower bound."""
    from rich.table import Table

    from hwmap.report.tables import stdout_console

    table = Table(title=f"{cost.model} on {cost.accelerator}: multi-level mapping, objective {objective}",
                  title_justify="left")
    for column in ("layer", "spatial", "loops per level (outer to inner)", "DRAM kB", "energy uJ", "gap"):
        table.add_column(column, justify="right" if column in ("DRAM kB", "energy uJ", "gap") else "left")
    for i, m in rows:
        table.add_row(cost.layers.scopes[i] or cost.layers.names[i], m.spatial_text(), m.loops_text(),
                      f"{cost.layers.dram_bytes[i] / 1e3:,.1f}", f"{cost.layers.energy_pj[i] / 1e6:,.2f}",
                      f"{m.gap:.1%}")
    console = stdout_console()
    console.print(table)
    console.print("per level x operand reads, writes and updates: --json; gap: objective over the lower bound - 1 "
                  "(hwmap.cost.multilevel.search)")


def _order_and_tiles(mapping, op_class: str) -> tuple[str, str]:
    """The loop order and buffer tiles as the user reads them: a 1x1 convolution is mapped as a GEMM whose rows
    are every image's output pixels (hwmap.cost.mapping.LoopNest.canonical), shown as one NPQ dimension instead
    of a P tile larger than the layer's height."""
    tiles = dict(mapping.tiles)
    flattened = (op_class.startswith("conv") and tiles.get("R") == tiles.get("S") == 1
                 and tiles.get("N") == tiles.get("Q") == 1)
    if not flattened:
        return mapping.order_text(), mapping.tiles_text()
    order = [d for d in mapping.order if d not in ("N", "Q")]
    shown = " ".join(f"{'NPQ' if d == 'P' else d}{t}" for d, t in mapping.tiles if d not in ("N", "Q"))
    return ">".join("NPQ" if d == "P" else d for d in order), shown


@accels_app.command("list")
@calls_api("list_accelerators")
def accels_list(
    json_out: JsonOpt = False,
    kind: Annotated[Optional[str], typer.Option(
        "--kind", help="only templates of this kind (a registered kind: the kind column of this list)")] = None,
) -> None:
    """The shipped templates with kind, peak MACs per cycle, memory levels and description."""
    from hwmap.api import list_accelerators, load_accelerator
    from hwmap.report.tables import print_json, render_accelerator_list, stdout_console, template_levels

    templates = [load_accelerator(name) for name in list_accelerators(kind=kind)]
    if json_out:
        print_json([{"name": t.name, "kind": t.kind, "levels": template_levels(t), "description": t.description}
                    for t in templates])
        return
    render_accelerator_list(templates, stdout_console())


@accels_app.command("show")
@calls_api("load_accelerator")
def accels_show(
    accel: Annotated[str, typer.Argument(help="template name, template .yaml or SCALE-Sim .cfg")],
    json_out: JsonOpt = False,
) -> None:
    """Every field of a template, as validated."""
    from hwmap.api import load_accelerator
    from hwmap.report.tables import print_json
    from hwmap.yamlio import dump_yaml

    accelerator = load_accelerator(accel)
    if json_out:
        print_json(accelerator.to_dict())
        return
    print(f"# {accelerator.name}: {accelerator.description}")
    print(f"# peak {accelerator.peak_macs_per_cycle} MACs/cycle")
    print(dump_yaml(accelerator.template_dict()), end="")


@accels_app.command("validate")
@calls_api("validate_accelerators")
def accels_validate(
    accels: Annotated[list[str], typer.Argument(metavar="PATHS...", help="template files or names to check")],
    json_out: JsonOpt = False,
) -> None:
    """Load and validate templates; exit 2 with every problem of the first bad one."""
    from hwmap.api import validate_accelerators
    from hwmap.report.tables import print_json

    checked = validate_accelerators(accels)
    if json_out:
        print_json([{"name": a.name, "valid": True} for a in checked])
        return
    for accelerator in checked:
        print(f"{accelerator.name}: valid ({accelerator.kind}, {accelerator.peak_macs_per_cycle} MACs/cycle)")


@accels_app.command("export")
@calls_api("export_accelerator")
def accels_export(
    accel: Annotated[str, typer.Argument(help="template name (hwmap accels list) or template .yaml")],
    out: Annotated[str, typer.Option("--out", "-o", help="zigzag: the hardware YAML to write, e.g. "
                                                         "sys16.hardware.yaml (the mapping goes beside it: "
                                                         "sys16.mapping.yaml), or an existing folder; timeloop (and "
                                                         "hierarchy templates): an existing folder")],
    format: Annotated[Literal[("zigzag", "timeloop")], typer.Option(
        "--format", help="zigzag: ZigZag 3.9.1 hardware and spatial mapping YAML; timeloop: Timeloop v0.4 "
                         "flattened architecture, Accelergy ERT and constraints")] = "zigzag",
    json_out: JsonOpt = False,
) -> None:
    """Write a template in another tool's format (memory hierarchy, MAC array, spatial mapping)."""
    from hwmap.api import export_accelerator
    from hwmap.report.tables import print_json

    result = export_accelerator(accel, out=out, format=format)  # refuses an --out that is the template file
    if json_out:
        print_json({"format": format, "paths": list(result.paths)})
        return
    for path in result.paths:
        print(f"wrote {path}")


@accels_app.command("import")
@calls_api("import_accelerator")
def accels_import(
    source: Annotated[str, typer.Argument(metavar="FILE", help="timeloop: the flattened v0.4 architecture "
                                                             "(*.flattened_architecture.yaml); zigzag: ZigZag 3.9.1 "
                                                             "hardware YAML")],
    out: Annotated[str, typer.Option("--out", "-o", help="the hierarchy template .yaml to write")],
    format: Annotated[Literal[("timeloop", "zigzag")], typer.Option(
        "--format", help="timeloop: Timeloop v0.4 + Accelergy; zigzag: ZigZag 3.9.1")] = "timeloop",
    ert: Annotated[Optional[str], typer.Option("--ert", help="timeloop: Accelergy's energy reference table "
                                                              "(*.ERT.yaml)")] = None,
    constraints: Annotated[Optional[str], typer.Option(
        "--constraints", help="timeloop: the design's arch.yaml or a constraints document (keep/bypass, spatial "
                              "rules)")] = None,
    spatial_mapping: Annotated[Optional[str], typer.Option(
        "--spatial-mapping", help="zigzag: a ZigZag mapping YAML whose 'default' spatial_mapping fixes the "
                                  "unrolling")] = None,
    freq_mhz: Annotated[Optional[float], typer.Option(
        "--freq-mhz", min=0.0, max=1e6, help="the clock (default: Timeloop's cycle_seconds; ZigZag: 1000)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write another tool's architecture as a hierarchy template (unsupported features are refused by name)."""
    from hwmap.api import import_accelerator
    from hwmap.report.tables import print_json

    inputs = {"FILE": source, "--ert": ert, "--constraints": constraints, "--spatial-mapping": spatial_mapping}
    check_files(inputs=inputs, outputs={"--out": out}, implicit=False)
    result = import_accelerator(source, out=out, format=format, ert=ert, constraints=constraints,
                                spatial_mapping=spatial_mapping, freq_mhz=freq_mhz)
    if json_out:
        print_json(result.to_dict())
        return
    levels = " > ".join(level.name for level in result.hierarchy.levels)
    print(f"wrote {result.path}: {levels} > {result.hierarchy.compute.name} "
          f"({' x '.join(map(str, result.hierarchy.compute.mesh))})")
    if "vector_unit" not in result.document:
        print("  no vector_unit (the source describes none): `hwmap map` costs its conv/GEMM layers; for `hwmap "
              "estimate` of whole models add a vector_unit section (lanes, op_energy_pj) to the file")


def _bytes_text(n: float) -> str:
    """A capacity in B, KiB or MiB (per-PE scratchpads hold tens of bytes, global buffers megabytes)."""
    if n < 1024:
        return f"{n:,.0f} B"
    return f"{n / 1024:,.1f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:,.2f} MiB"


@app.command("bounds")
@option_groups
@calls_api("bounds")
def bounds_command(
    model: ModelArg,
    accel: AccelOpt,
    level: Annotated[Optional[str], typer.Option("--level", help="one memory level (ifmap, filter, ofmap, all; "
                                                                 "global on vector_pe templates; a hierarchy "
                                                                 "template's on-chip level by name); default: "
                                                                 "every level right below DRAM")] = None,
    layer: LayerOpt = None,
    dataflow: DataflowOpt = None,
    graph_options: OptionValues = GRAPH_OPTIONS,
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="write every step of every curve to this CSV")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Least DRAM traffic attainable with at most B bytes at each memory level, for every B (per layer and the
    whole network), beside the template's capacity and the mapper's traffic there."""
    from rich.table import Table

    from hwmap.api import bounds
    from hwmap.report.tables import print_json, stdout_console, write_csv

    check_files(inputs={"MODEL": model, "--accel": accel}, outputs={"--csv": csv_path})
    result = bounds(model, accel, level=level, layer=layer, dataflow=dataflow, **graph_options, cache=use_cache())
    if csv_path:
        rows = result.rows()
        write_csv(csv_path, list(rows[0]), ([r[h] for h in rows[0]] for r in rows))
    if json_out:
        print_json(result.record())
        return
    table = Table(title=f"{result.model} on {result.accelerator}: least traffic from the level above of the "
                        "conv/GEMM layers vs the level's capacity (whole network)", title_justify="left")
    for column in ("level", "from", "template", "MB at template", "hwmap map MB", "smallest", "MB there",
                   "compulsory MB", "compulsory from", "steps"):
        table.add_column(column, justify="left" if column in ("level", "from") else "right")
    for lb in result.levels:
        net = lb.network
        reach = net.compulsory_capacity_bytes
        table.add_row(lb.level, lb.above, _bytes_text(lb.template_capacity_bytes),
                      f"{net.at(lb.template_capacity_bytes) / 1e6:,.3f}", f"{lb.mapped_bytes / 1e6:,.3f}",
                      _bytes_text(net.min_capacity_bytes), f"{net.traffic_bytes[0] / 1e6:,.1f}",
                      f"{net.compulsory_bytes / 1e6:,.3f}", "-" if reach is None else _bytes_text(reach),
                      str(len(net.capacity_bytes)))
    console = stdout_console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
