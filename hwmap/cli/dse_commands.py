"""Design-space exploration: hwmap sweep SPACE.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.graph_commands import JsonOpt
from hwmap.cli.options import MAX_COUNT, StrictInt, calls_api, check_files
from hwmap.errors import HwmapError


@app.command()
@calls_api("sweep")
def sweep(
    space: Annotated[str, typer.Argument(help="design-space YAML (base template, axes, models; see hwmap.dse.space)")],
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="write every point to this .csv, .parquet or "
                                                                   ".json (journal beside it: OUT.journal.jsonl)")]
    = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", help="local worker processes (default: "
                                                                           "all cores; in-process under 64 "
                                                                           "points)",
        parser=StrictInt(min_value=1, max_value=4096))] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="run on the Dask cluster whose "
                                                                         "scheduler is at this address, e.g. "
                                                                         "tcp://host:8786")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted sweep from its journal: "
                                                          "points already there are not run again")] = False,
    journal: Annotated[Optional[str], typer.Option("--journal", help="journal of finished points (default: "
                                                                     "OUT.journal.jsonl)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="start over: delete an existing journal first")]
    = False,
    objectives: Annotated[Optional[str], typer.Option("--pareto", help="objectives of the Pareto front, e.g. "
                                                                       "energy_mj,latency_ms,area_mm2 (default: "
                                                                       "the space's)")] = None,
    front_out: Annotated[Optional[str], typer.Option("--front-out", help="also write the Pareto front to this "
                                                                         ".csv, .parquet or .json")] = None,
    chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", help="points per task (default: about 8 "
                                                                           "tasks per worker, at most 256)",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))]
    = None,
    top: Annotated[int, typer.Option("--top", help="front rows shown per model",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Cost every hardware variant of a design space on its models; print the Pareto front."""
    import sys

    from hwmap.api import load_space, sweep

    if workers is not None and scheduler is not None:
        raise HwmapError("give --workers (local processes) or --scheduler (a Dask cluster), not both")
    for target, option in ((out, "--out"), (front_out, "--front-out")):
        if target is not None and Path(target).suffix.lower() not in (".csv", ".parquet", ".json"):
            raise HwmapError(f"{option} {target}: expected a .csv, .parquet or .json file")
    design = load_space(space)
    journal_path = journal or (f"{out}.journal.jsonl" if out else None)  # api.sweep's default journal
    if resume and journal_path is None:
        raise HwmapError("--resume needs the journal of the interrupted sweep: give the same --out (or --journal)")
    if resume and overwrite:
        raise HwmapError("give --resume (continue the journal) or --overwrite (start over), not both")
    inputs = {"SPACE": space, **{f"model {m.label}": m.model for m in design.models},
              **{f"paths {p.label}": p.file for p in design.paths}}
    check_files(inputs=inputs, outputs={"--out": out, "--front-out": front_out, "--journal": journal_path},
                templates={"the space's base template": design.base.source})

    with _progress_bar(enabled=sys.stderr.isatty()) as tick:
        try:
            result = sweep(design, workers=workers, scheduler=scheduler, chunk_size=chunk_size, out=out,
                           journal=journal_path, resume=resume, overwrite=overwrite, objectives=objectives,
                           front_out=front_out, progress=tick)
        except KeyboardInterrupt:
            from hwmap.cli import exit_on_next_interrupt

            exit_on_next_interrupt()
            kept = f"; the finished points are in {journal_path}, rerun with --resume to continue" \
                if journal_path else ""
            print(f"hwmap: error: interrupted{kept}", file=sys.stderr)
            sys.exit(130)  # not KeyboardInterrupt: typer turns it into an exit code hwmap.cli.main drops
    front = result.pareto()
    objectives_used = result.space.objectives
    if json_out:
        import json

        from hwmap.report.tables import print_json

        data = {**result.summary(), "out": out, "objectives": list(objectives_used),
                "pareto": json.loads(front.to_json(orient="records"))}
        print_json(data)
        return
    _render(result, front, objectives_used, out=out, top=top)


def _progress_bar(*, enabled: bool):
    """A context manager yielding progress(done, total): a rich bar on stderr, or a no-op off a terminal."""
    import contextlib

    @contextlib.contextmanager
    def bar():
        if not enabled:
            yield None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), TextColumn("points"),
                   TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("sweep", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            yield tick

    return bar()


def _render(result, front, objectives, *, out: str | None, top: int) -> None:
    import pandas as pd
    from rich.table import Table

    from hwmap.report.tables import stdout_console

    console = stdout_console()
    space = result.space
    failed = result.table[result.table["status"] != "ok"]
    console.print(f"[bold]{space.source}[/bold]: base {space.base.name} ({space.base.kind}), "
                  f"{space.n_variants} variants x {len(space.workload_labels)} workload(s) = {result.n_points} points")
    resumed = f", {result.n_resumed} resumed from the journal" if result.n_resumed else ""
    console.print(f"points {result.n_points}{resumed}; evaluated {result.n_evaluated} in {result.evaluate_s:.2f} s "
                  f"({result.points_per_s:,.0f} points/s on {result.workers} worker(s)); graphs "
                  f"{result.prepare_s:.2f} s; failures {result.n_failed}")
    if len(failed):
        counts = failed["status"].value_counts().to_dict()
        console.print("[yellow]failed points: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "[/yellow]")
        for message in list(dict.fromkeys(failed["error"].dropna()))[:3]:
            console.print(f"[yellow]  e.g. {message}[/yellow]")
    for note in result.notes:
        console.print(f"[yellow]note: {note}[/yellow]")
    if out:
        console.print(f"wrote {out}" + (f" (journal {result.journal})" if result.journal else ""))
    shown = [*space.columns, *objectives, "average_utilisation", "expected_accuracy", "selected_paths"]
    shown = list(dict.fromkeys(c for c in shown if c in front.columns and front[c].notna().any()))
    for model in space.workload_labels:
        group = front[front["model"] == model]
        if group.empty:
            console.print(f"[yellow]{model}: no point has a value for every objective ({', '.join(objectives)}), "
                          "so no Pareto front[/yellow]")
            continue
        table = Table(title=f"Pareto front of {model} over {', '.join(objectives)} ({len(group)} points)",
                      title_justify="left")
        for column in shown:
            numeric = pd.api.types.is_numeric_dtype(group[column])
            table.add_column(column, justify="right" if numeric else "left")
        for _, row in group.head(top).iterrows():
            table.add_row(*(_cell(row[c]) for c in shown))
        console.print(table)
        if len(group) > top:
            console.print(f"... {len(group) - top} more front points (--top, or --front-out FILE for all)")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
