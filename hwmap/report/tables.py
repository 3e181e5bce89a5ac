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
from hwmap.units import format_count


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=_json_default))


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
