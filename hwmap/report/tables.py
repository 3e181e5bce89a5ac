"""Rendering of results as rich tables, JSON and CSV. No computation happens here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from hwmap.fileio import atomic_write_text
from hwmap.graph.summary import FlopsSummary
from hwmap.hardware.kinds import is_timeline
from hwmap.units import format_count


def stdout_console() -> Console:
    """Wide enough for module names when output goes to a file or pipe (rich would assume 80 columns)."""
    import shutil

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = max(shutil.get_terminal_size((160, 24)).columns, 160)
    return console


def print_json(data: object) -> None:
    """Strict JSON on stdout: a non-finite number is a ResultError naming where it is, never Infinity/NaN."""
    from hwmap.cost.checks import check_json_safe

    text = json.dumps(data, indent=2, default=_json_default)  # to_dict()/numpy values resolved first
    plain = json.loads(text)
    check_json_safe(plain, what="--json output")
    print(json.dumps(plain, indent=2, allow_nan=False))


def _json_default(value: object):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def render_flops(summary: FlopsSummary, console: Console) -> None:
    shapes = ", ".join("x".join(map(str, s)) for s in summary.input_shapes)
    console.print(f"[bold]{summary.model}[/bold]  input {shapes}  (traced on {summary.capture_mode})")
    console.print(
        f"MACs {format_count(summary.total_macs)}  (FLOPs {format_count(summary.total_flops)} = 2 x MACs)   "
        f"params {format_count(summary.params)}   weights {format_count(summary.param_bytes, 'B')}   "
        f"activations written {format_count(summary.activation_bytes, 'B')}"
    )
    shares = "  ".join(f"{group} {percent(share)}" for group, share in summary.group_shares.items())
    convention = " (linear layers as 1x1 conv)" if summary.linear_as_conv else ""
    console.print(f"MAC share by group{convention}: {shares}")
    table = Table(title=f"MACs by {summary.by}", title_justify="left")
    table.add_column(summary.by)
    if summary.by in ("module", "layer"):
        table.add_column("module class" if summary.by == "module" else "work")
    table.add_column("ops", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("share", justify="right")
    for row in summary.rows:
        cells = [row.key] + ([row.detail] if summary.by in ("module", "layer") else [])
        table.add_row(*cells, str(row.count), format_count(row.macs), percent(row.share))
    console.print(table)
    if summary.unsupported:
        console.print(f"[yellow]unsupported operators (no cost counted): {summary.unsupported}[/yellow]")
    for note in summary.notes:
        console.print(f"[yellow]note: {note}[/yellow]")


def flops_csv_rows(summary: FlopsSummary) -> tuple[list[str], list[list[object]]]:
    header = [summary.by, "detail", "ops", "macs", "share"]
    return header, [[r.key, r.detail, r.count, r.macs, f"{r.share:.6f}"] for r in summary.rows]


def render_comparison(comparison, console: Console) -> None:
    table = Table(title="MACs by operator family: hwmap vs torch.utils.flop_counter vs fvcore", title_justify="left")
    for column in ("family", "hwmap", "torch", "fvcore", "hwmap / torch"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for row in comparison.rows:
        ratio = f"{row.hwmap_macs / row.torch_macs:.4f}" if row.torch_macs else "-"
        fvcore = "-" if row.fvcore_macs is None else format_count(row.fvcore_macs)
        table.add_row(row.family, format_count(row.hwmap_macs), format_count(row.torch_macs), fvcore, ratio)
    console.print(table)
    if comparison.fvcore_unsupported:
        skipped = ", ".join(f"{op} (x{n})" for op, n in comparison.fvcore_unsupported.items())
        console.print(f"fvcore skipped (counted as 0): {skipped}")
    if comparison.fvcore_error:
        console.print(f"[yellow]{comparison.fvcore_error}[/yellow]")


# ---------------------------------------------------------------- estimates


def render_estimate(cost, console: Console, *, by: str, top: int) -> None:
    console.print(f"[bold]{cost.model}[/bold] on [bold]{cost.accelerator}[/bold] ({cost.kind}"
                  + (f", dataflow {cost.settings['dataflow']}" if cost.settings.get("dataflow") else "") + ")")
    rates = cost.settings
    if is_timeline(cost.kind) and "algorithm_utilisation" in rates:  # nominal MACs can outrun the peak (Winograd)
        utilisation = (f"nominal-MAC rate {percent(rates['nominal_utilisation'])} of peak (algorithm "
                       f"{percent(rates['algorithm_utilisation'])})")
    else:
        utilisation = f"MAC utilisation {percent(cost.utilisation)}"
    console.print(
        f"cycles {cost.cycles:,} (stalls {cost.stall_cycles:,})   latency {cost.latency_ms:.3f} ms "
        f"at {cost.freq_mhz:g} MHz   energy {cost.energy_mj:.4g} mJ   {utilisation}   MACs {format_count(cost.macs)}"
    )
    terms = "  ".join(f"{term} {value:.4g}" for term, value in cost.energy_terms_mj.items())
    console.print(f"energy by term (mJ): {terms}")
    if by == "layer":
        _render_layers(cost, console, top)
    else:
        _render_shares(cost, console, by, top)
    for note in cost.notes:
        console.print(f"[yellow]note: {note}[/yellow]")


def _render_shares(cost, console: Console, by: str, top: int) -> None:
    shares = cost.shares_by(by)
    table = Table(title=f"shares by {by}: MACs vs cycles vs energy", title_justify="left")
    for column in (by, "MACs", "cycles", "energy"):
        table.add_column(column, justify="left" if column == by else "right")
    rows = [(label, share) for label, share in shares.items() if any(share.values())]
    if by == "module":
        rows = rows[:top]
    for label, share in rows:
        table.add_row(label, percent(share["macs"]), percent(share["cycles"]), percent(share["energy"]))
    console.print(table)


def _render_layers(cost, console: Console, top: int) -> None:
    import numpy as np

    order = np.argsort(-cost.layers.energy_pj, kind="stable")[:top]
    table = Table(title=f"top {len(order)} layers by energy", title_justify="left")
    for column in ("layer", "class", "GEMM b x (m x n x k)", "cycles", "stall", "util", "energy uJ"):
        table.add_column(column, justify="left" if column in ("layer", "class") else "right")
    t = cost.layers
    for i in order:
        dims = f"{t.gemm_batch[i]} x ({t.gemm_m[i]} x {t.gemm_n[i]} x {t.gemm_k[i]})" if t.gemm_batch[i] else "-"
        table.add_row(t.names[i], t.op_classes[i], dims, f"{t.compute_cycles[i]:,}", f"{t.stall_cycles[i]:,}",
                      percent(t.utilisation[i]), f"{t.energy_pj[i] / 1e6:.4g}")
    console.print(table)


def write_cost_csv(path: str, cost) -> None:
    records = cost.to_records()
    header = list(records[0]) if records else []
    write_csv(path, header, ([r[h] for h in header] for r in records))


def template_levels(template) -> list[str]:
    """A CNN template's memory levels, DRAM first, then its MAC array ('mac 14x12'); [] for a GPU."""
    from hwmap.cost.kinds import hardware_view
    from hwmap.errors import HwmapError

    try:
        h = hardware_view(template)
    except HwmapError:
        return []
    return [level.name for level in h.levels] + [f"{h.compute.name} {'x'.join(map(str, h.compute.mesh))}"]


def render_accelerator_list(templates, console: Console) -> None:
    table = Table(title="accelerator templates", title_justify="left")
    for column in ("name", "kind", "peak MACs/cycle", "levels (DRAM first) > MACs", "description"):
        table.add_column(column)
    for t in templates:
        peak = getattr(t, "peak_macs_per_cycle", "")
        table.add_row(t.name, t.kind, str(peak), " > ".join(template_levels(t)) or "-", t.description)
    console.print(table)


# ---------------------------------------------------------------- paths and selections


def render_costed_paths(costed, console: Console, *, accel: str) -> None:
    table = Table(title=f"paths on {accel}", title_justify="left")
    for column in ("path", "MACs", "energy mJ", "latency ms", "weights MB", "weight group", "accuracy", "source"):
        table.add_column(column, justify="left" if column in ("path", "weight group", "source") else "right")
    for c in costed:
        accuracy = f"{c.accuracy.value:g} {c.accuracy.metric}" if c.accuracy else "unknown"
        table.add_row(c.name, format_count(c.macs), f"{c.energy_mj:.4g}", f"{c.latency_ms:.4g}",
                      f"{c.weight_mb:.3g}", c.weight_group, accuracy, c.accuracy.source if c.accuracy else "-")
    console.print(table)


def render_selection(result, console: Console) -> None:
    """A hwmap.select.SelectionResult: what the budgets are (fractions of which path), the kept paths against the
    reference path, and the budget -> path table."""
    selection, ref = result.selection, result.reference
    unit = result.unit
    console.print(f"chosen paths ({len(selection.chosen)}): {', '.join(selection.chosen_names)}   solver "
                  f"{selection.solver} {selection.status} in {selection.solve_time_s:.3f} s")
    console.print(result.describe_budgets())
    console.print(f"expected accuracy {selection.expected_accuracy:.3f} (reference {ref.name}: {ref.accuracy:.3f}, "
                  f"drop {selection.accuracy_drop:.3f})   weights {selection.memory_mb:.4g} MB")
    console.print(f"expected energy {selection.expected_energy_mj:.4g} mJ, saved {selection.energy_saved_pct:.1f}% "
                  f"({selection.energy_saved_mj:.4g} mJ) vs always running {ref.name}")
    kept = Table(title=f"kept paths against the reference path {ref.name}", title_justify="left")
    for column in ("path", "energy mJ", "energy saved", "accuracy", "accuracy drop"):
        kept.add_column(column, justify="left" if column == "path" else "right")
    for row in result.vs_reference():
        kept.add_row(row["path"], f"{row['energy_mj']:.4g}", f"{row['energy_saved_pct']:.1f}%",
                     f"{row['accuracy']:.3f}", f"{row['accuracy_drop']:.3f}")
    console.print(kept)
    table = Table(title="budget -> path", title_justify="left")
    fraction = result.budget_unit == "fraction"
    columns = ([f"budget (fraction of {ref.name})"] if fraction else []) + [f"budget ({unit})", "weight", "path",
                                                                           "energy mJ", "latency ms", "accuracy"]
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    absolute = f"budget_{unit.lower()}"
    for row in result.rows():
        given = [f"{row['budget']:.4g}"] if fraction else []
        table.add_row(*given, f"{row[absolute]:.4g}", f"{row['weight']:g}", row["path"], f"{row['energy_mj']:.4g}",
                      f"{row['latency_ms']:.4g}", f"{row['accuracy']:.3f}")
    console.print(table)
    if result.dropped:
        console.print(f"[yellow]left out, no accuracy: {', '.join(result.dropped)}[/yellow]")


def render_simulation(result, console: Console) -> None:
    if result.fraction_scale is not None:
        console.print(f"trace budgets are fractions of {result.reference} ({result.fraction_scale:.6g} "
                      f"{result.unit})")
    console.print(f"{result.steps} steps: energy {result.energy_used_mj:.4g} mJ vs {result.reference_energy_mj:.4g} "
                  f"mJ always running {result.reference}, saved {result.energy_saved_pct:.1f}%")
    console.print(f"accuracy: mean {result.mean_accuracy:.3f}, mean drop {result.mean_accuracy_drop:.3f} (vs "
                  f"{result.reference}), worst drop {result.worst_accuracy_drop:.3f}   switches {result.switches}   "
                  f"budget violations {result.violations}")
    table = Table(title="steps per path", title_justify="left")
    table.add_column("path")
    table.add_column("steps", justify="right")
    table.add_column("share", justify="right")
    for name, steps in result.steps_per_path:
        table.add_row(name, str(steps), percent(steps / result.steps if result.steps else 0))
    console.print(table)
