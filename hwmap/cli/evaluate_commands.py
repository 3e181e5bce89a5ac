"""`hwmap evaluate`: measure every path's accuracy on a local data set with local weights."""

from __future__ import annotations

import math
import sys
from typing import Annotated, Literal, Optional

import typer

from hwmap.cli import app
from hwmap.cli.options import MAX_BATCH, MAX_COUNT, DeviceOpt, JsonOpt, StrictInt, calls_api, check_files
from hwmap.errors import HwmapError

TASKS = ("auto", "classification", "segmentation")


def _floats(text: str, argument: str, *, positive: bool = False) -> tuple[float, ...]:
    from hwmap.cli.options import _FLOAT

    parts = [v.strip() for v in text.split(",")]
    if not parts or not all(_FLOAT.fullmatch(p) for p in parts):
        raise HwmapError(f"{argument} {text!r}: expected comma-separated finite numbers, e.g. 0.485,0.456,0.406")
    values = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) and (v > 0 or not positive) for v in values):
        kind = "positive finite" if positive else "finite"
        raise HwmapError(f"{argument} {text!r}: every value must be a {kind} number")
    return values


@app.command()
@calls_api("evaluate_paths")
def evaluate(
    paths: Annotated[str, typer.Argument(metavar="PATHS_FILE", help="paths YAML (hwmap paths generate, or your "
                                                                    "own)")],
    data: Annotated[str, typer.Option("--data", help="DIR/<class>/<images> (classification) or DIR/images + "
                                                     "DIR/masks (segmentation, 255 = ignore)")],
    weights: Annotated[Optional[str], typer.Option("--weights", help="weights of the paths file's model: a "
                                                                     "state_dict .pt/.pth/.bin, .safetensors or "
                                                                     "a Hugging Face model folder")] = None,
    weights_for: Annotated[Optional[list[str]], typer.Option("--weights-for", help="MODEL=FILE: weights of "
                                                                                   "another model some paths use "
                                                                                   "(repeatable)")] = None,
    task: Annotated[Literal[TASKS], typer.Option(
        "--task", help="auto: segmentation when DATA has images/ and masks/")] = "auto",
    batch: Annotated[int, typer.Option("--batch", help="images per forward pass (default 32 here: accuracy runs "
                                                       "batch their images)",
        parser=StrictInt(min_value=1, max_value=MAX_BATCH))] = 32,
    device: DeviceOpt = "auto",
    limit: Annotated[Optional[int], typer.Option("--limit", help="use N images, evenly spaced over the data "
                                                                 "set",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))] = None,
    mean: Annotated[Optional[str], typer.Option("--mean", help="normalisation mean per channel (default "
                                                               "ImageNet's)")] = None,
    std: Annotated[Optional[str], typer.Option("--std", help="normalisation std per channel (default "
                                                             "ImageNet's)")] = None,
    normalize: Annotated[bool, typer.Option("--normalize/--no-normalize", help="normalise pixels with --mean and "
                                                                               "--std (--no-normalize: feed pixels "
                                                                               "in [0, 1])")] = True,
    class_map: Annotated[Optional[str], typer.Option("--class-map", help="JSON or CSV: class folder name -> the "
                                                                         "model's class index (default: sorted "
                                                                         "folder order)")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="write the paths YAML with the measured "
                                                                   "accuracies (select-paths input)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run every path on a data set and measure its accuracy (top-1 or mIoU), with where it came from.

    Fewer than 100 images per path print a warning: differences between paths may be noise."""
    import warnings

    from hwmap.api import evaluate_paths, load_paths
    from hwmap.report.tables import print_json, stdout_console

    weight_files = {f"--weights-for {w}": w.partition("=")[2] for w in weights_for or ()}
    check_files(inputs={"PATHS_FILE": paths, "--data": data, "--weights": weights, **weight_files},
                outputs={"--out": out})
    if not normalize and (mean or std):
        raise HwmapError("--no-normalize and --mean/--std contradict each other; give one")
    means = _floats(mean, "--mean") if mean else None
    stds = _floats(std, "--std", positive=True) if std else None
    path_set = load_paths(paths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        measured = _with_path_progress(len(path_set.paths), lambda tick: evaluate_paths(
            path_set, data=data, weights=weights, weights_for=tuple(weights_for or ()), task=task, batch=batch,
            device=device, limit=limit, mean=means, std=stds, normalize=normalize, class_map=class_map, out=out,
            progress=tick))
    for warning in caught:
        if warning.category.__name__ == "SmallSampleWarning":
            print(f"hwmap: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if json_out:
        print_json({"paths": [m.to_dict() for m in measured], "out": out})
        return
    console = stdout_console()
    _render(measured, console)
    if out:
        console.print(f"wrote {out}: {len(measured)} paths with measured accuracies")


def _with_path_progress(n_paths: int, work):
    """One bar (on stderr) over every path's batches; its label names the path being run, from the moment the
    path starts building and loading its weights."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    seen: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
               TimeElapsedColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        bar = progress.add_task("evaluating", total=None)

        def tick(name: str, done: int, total: int) -> None:
            if not seen or seen[-1] != name:
                seen.append(name)
            index = len(seen) - 1
            state = "loading" if done == 0 else "running"
            progress.update(bar, description=f"path {index + 1}/{n_paths} {name} ({state})", total=n_paths * total,
                            completed=index * total + done)

        return work(tick)


def _render(measured, console) -> None:
    from rich.table import Table

    table = Table(title="measured accuracy", title_justify="left")
    for column in ("path", "model", "input", "accuracy", "images", "seconds"):
        table.add_column(column, justify="left" if column in ("path", "model", "input") else "right")
    for m in measured:
        table.add_row(m.name, m.model, "x".join(map(str, m.input_chw)), f"{m.accuracy.value:.2f} {m.accuracy.metric}",
                      str(m.images), f"{m.seconds:.1f}")
    console.print(table)
    if measured:
        console.print(f"source: measured; {measured[0].accuracy.provenance.split(';')[0]}")
