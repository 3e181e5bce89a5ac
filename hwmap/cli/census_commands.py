"""The zoo census: hwmap census [PATTERN ...] --accel NAME ... --out census.csv."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.options import (
    BatchOpt,
    JsonOpt,
    ResolutionOpt,
    ResumeOpt,
    SchedulerOpt,
    StrictFloat,
    WorkersOpt,
    calls_api,
)
from hwmap.errors import HwmapError


@app.command()
@calls_api("census")
def census(
    patterns: Annotated[Optional[list[str]], typer.Argument(help="timm names or globs ('convnext_*', "
                                                                 "'efficientnet_b[0-3]'), built-in specs, graph "
                                                                 ".json or .onnx files (default: every timm "
                                                                 "architecture)")] = None,
    accels: Annotated[Optional[list[str]], typer.Option("--accel", "-a", help="template to cost on (repeatable)")]
    = None,
    out: Annotated[str, typer.Option("--out", "-o", help="one row per model: .csv or .json (journal beside it: "
                                                         "OUT.journal.jsonl)")] = "census.csv",
    batch: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    resume: ResumeOpt = False,
    time_limit_s: Annotated[float, typer.Option("--time-limit-s", help="seconds per model before it becomes an "
                                                                       "error row (0: none)",
                                                parser=StrictFloat(min_value=0.0, max_value=1e9))] = 300.0,
    json_out: JsonOpt = False,
) -> None:
    """Trace many models and cost them on templates: MAC, time and energy shares by op class, one row each."""
    from hwmap.api import census, census_models
    from hwmap.report.tables import print_json

    if not accels:
        raise HwmapError("census needs at least one --accel NAME (e.g. systolic16x16)")
    models = census_models(patterns or [])
    with CensusBar(len(models)) as bar:
        result = census(models, accels=accels, out=out, batch=batch, resolution=resolution, workers=workers,
                        scheduler=scheduler, resume=resume, time_limit_s=time_limit_s, progress=bar)
    summary = {"out": out, "models": len(result.rows), "failed": result.failed, "resumed": result.resumed,
               "elapsed_s": round(result.elapsed_s, 1)}
    if json_out:
        print_json(summary)
    else:
        print(f"wrote {out}: {len(result.rows)} models ({result.failed} failed, {result.resumed} from the journal) "
              f"in {result.elapsed_s:.1f} s")


class CensusBar:
    """The census progress bar (on stderr): models done of all, models/s and ETA over the models run in this
    process (models resumed from the journal count as done but not in the rate)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)  # a bar on stderr, and only on a terminal: piped output gets no stray line
        self.progress = Progress(TextColumn("census"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), transient=True, console=console,
                                 disable=not console.is_terminal)
        self.task = self.progress.add_task("census", total=total, rate="")

    def __enter__(self) -> CensusBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def resumed(self, count: int) -> None:
        self.progress.reset(self.task, completed=count, rate="")

    def __call__(self, _row) -> None:
        self.progress.advance(self.task)
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, rate=f"{speed:.2f} models/s" if speed else "")
