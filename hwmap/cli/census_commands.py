"""The zoo census: hwmap census [PATTERN ...] --accel NAME ... --out census.csv."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.graph_commands import JsonOpt
from hwmap.errors import HwmapError


@app.command()
def census(
    patterns: Annotated[Optional[list[str]], typer.Argument(help="timm names or globs ('convnext_*', "
                                                                 "'efficientnet_b[0-3]'), built-in specs, graph "
                                                                 ".json or .onnx files (default: every timm "
                                                                 "architecture)")] = None,
    accel: Annotated[Optional[list[str]], typer.Option("--accel", "-a", help="template to cost on (repeatable)")]
    = None,
    out: Annotated[str, typer.Option("--out", "-o", help="one row per model: .csv or .json (journal beside it: "
                                                         "OUT.journal.jsonl)")] = "census.csv",
    batch: Annotated[int, typer.Option("--batch", help="batch size")] = 1,
    resolution: Annotated[Optional[int], typer.Option("--resolution", help="square input size for every model "
                                                                           "(default: each model's own)")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", help="local worker processes (default: all "
                                                                           "cores; 0: in this process)")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address, e.g. "
                                                                         "tcp://host:8786")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the journal: models already there are "
                                                          "not traced again")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds per model before it becomes an "
                                                                   "error row (0: none)")] = 300.0,
    json_out: JsonOpt = False,
) -> None:
    """Trace many models and cost them on templates: MAC, time and energy shares by op class, one row each."""
    from rich.progress import Progress

    from hwmap.api import census, census_models
    from hwmap.report.tables import print_json

    if not accel:
        raise HwmapError("census needs at least one --accel NAME (e.g. systolic16x16)")
    if workers is not None and scheduler is not None:
        raise HwmapError("give --workers (local processes) or --scheduler (a Dask cluster), not both")
    if workers is not None and workers < 0:
        raise HwmapError(f"--workers must be >= 0, got {workers}")
    if resolution is not None and resolution < 1:
        raise HwmapError(f"--resolution must be a positive integer, got {resolution}")
    if time_limit < 0:
        raise HwmapError(f"--time-limit must be >= 0 seconds, got {time_limit}")
    models = census_models(patterns or [])
    with Progress(transient=True) as progress:
        task = progress.add_task("census", total=len(models))
        result = census(models, accels=accel, out=out, batch=batch, resolution=resolution, workers=workers,
                            scheduler=scheduler, resume=resume, time_limit_s=time_limit or None,
                            progress=lambda _row: progress.advance(task))
    summary = {"out": out, "models": len(result.rows), "failed": result.failed, "resumed": result.resumed,
               "elapsed_s": round(result.elapsed_s, 1)}
    if json_out:
        print_json(summary)
    else:
        print(f"wrote {out}: {len(result.rows)} models ({result.failed} failed, {result.resumed} from the journal) "
              f"in {result.elapsed_s:.1f} s")
