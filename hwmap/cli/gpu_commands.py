"""GPU commands: calibrate (fit hwmap's GPU model to this card) and measure (real latency/energy vs estimate).

torch and pynvml are imported inside the command bodies only (the CLI stays fast to start).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Optional

import typer

from hwmap.cli import app
from hwmap.cli.options import (
    DEFAULT_TOP,
    MAX_COUNT,
    BatchOpt,
    CalibrationOpt,
    DeviceOpt,
    DtypeOpt,
    GpuAccelOpt,
    InputOpt,
    JsonOpt,
    ModeOpt,
    StrictFloat,
    StrictInt,
    Tf32Opt,
    TopOpt,
    calls_api,
    check_files,
    shown_rows,
)


class _RichProgress:
    """hwmap.calibrate.bench.Progress rendered with rich.progress on stderr (stdout stays clean for --json); the bar
    appears with the first phase, so a run that fails its checks first prints only its one error line."""

    def __init__(self, progress, console) -> None:
        self._progress = progress
        self._console = console
        self._task = None
        self._total = 0
        self.started = False

    def phase(self, name: str, total: int) -> None:
        if not self.started:
            self._progress.start()
            self.started = True
        if self._task is not None:  # a phase that ended early (skipped steps) shows as done
            self._progress.update(self._task, completed=self._total)
        self._total = max(total, 1)
        self._task = self._progress.add_task(name, total=self._total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, steps)

    def note(self, message: str) -> None:
        self._console.print(message)


@contextmanager
def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=console, transient=False)
    shown = _RichProgress(progress, console)
    try:
        yield shown
    finally:
        if shown.started:
            progress.stop()


@app.command()
@calls_api("calibrate_gpu")
def calibrate(
    device: DeviceOpt = "auto",
    quick: Annotated[bool, typer.Option("--quick", help="fewer shapes and shorter loops (minutes on an H100)")]
    = False,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="calibration YAML to write (default: "
                                                                   "<template>.calibration.yaml here)")] = None,
    accel: GpuAccelOpt = None,
    dtype: DtypeOpt = "fp16",
    tf32: Tf32Opt = True,
    json_out: JsonOpt = False,
    from_table: Annotated[Optional[str], typer.Option("--from-table", help="fit to a CSV of measured step times "
                                                                           "instead of this GPU (no GPU needed), "
                                                                           "e.g. timm's benchmark-infer-*.csv")]
    = None,
    mode: ModeOpt = "auto",
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="with --from-table: the table ran under "
                                                             "torch.autocast (timm's AMP tables)")] = True,
    columns: Annotated[Optional[str], typer.Option("--columns", help="with --from-table: KEY=COLUMN,... for "
                                                                     "model, img_size, batch and step_time_ms | "
                                                                     "step_time_s | samples_per_s, optional "
                                                                     "params_m (parameters in millions: picks "
                                                                     "a fused RepVGG/LeViT form; default: "
                                                                     "timm's names)")] = None,
    models: Annotated[Optional[str], typer.Option("--models", help="with --from-table: comma-separated globs of "
                                                                   "the models to use (default: a representative "
                                                                   "subset, see --max-rows)")]
    = None,
    max_rows: Annotated[Optional[int], typer.Option("--max-rows", help="with --from-table: at most N rows, one per "
                                                                 "model, spread over model families and step "
                                                                 "times (default 80)",
                                                    parser=StrictInt(min_value=1, max_value=MAX_COUNT))]
    = None,
    graph_cache: Annotated[Optional[str], typer.Option("--graph-cache", help="with --from-table: folder for "
                                                                             "traced graphs (default: "
                                                                             "<out>.graphs)")] = None,
) -> None:
    """Fit hwmap's GPU model to this GPU: microbenchmarks per kernel class over the built-in models' layer shapes,
    CUDA-event timing, NVML energy; writes a calibration YAML for `hwmap estimate --calibration`. With
    --from-table TABLE.csv --accel NAME: fit to published whole-model step times instead (no GPU needed; --mode
    is the execution mode the table ran)."""
    from hwmap.api import calibrate_gpu as run_calibrate

    check_files(inputs={"--accel": accel, "--from-table": from_table}, outputs={"--out": out},
                implicit=False)  # writing the calibration beside the template is what calibrate is for
    with _progress() as progress:
        result = run_calibrate(device=device, accel=accel, out=out, quick=quick, dtype=dtype, tf32=tf32,
                               from_table=from_table, mode=mode, amp=amp, columns=columns, models=models or (),
                               max_rows=max_rows, graph_cache=graph_cache, progress=progress)
    calibration = result.calibration
    if json_out:
        from hwmap.report.tables import print_json

        counts = {"rows": result.rows} if result.rows is not None else {"elapsed_s": result.elapsed_s}
        print_json({"path": str(result.path), **counts, "skipped": list(result.skipped),
                    **calibration.model_dump(mode="json")})
        return
    if result.rows is not None:
        _render_calibration(calibration, str(result.path), result.elapsed_s, len(result.skipped),
                            what="rows of the table")
    else:
        _render_calibration(calibration, str(result.path), result.elapsed_s, len(result.skipped))


def _render_calibration(calibration, path: str, elapsed_s: float, skipped: int,
                        what: str = "microbenchmarks failed to run and were") -> None:
    from rich.table import Table

    from hwmap.report.tables import stdout_console

    console = stdout_console()
    device = calibration.device
    console.print(f"[bold]{device.name}[/bold]  driver {device.driver_version or '?'}  CUDA "
                  f"{device.cuda_runtime_version or '?'}  torch {device.torch_version}  cuDNN "
                  f"{device.cudnn_version or '?'}  energy via {device.energy_method or '?'}")
    console.print(f"idle power {calibration.idle_power_w:.1f} W (quiescent "
                  f"{calibration.idle_power_quiescent_w or 0:.1f} W)   host: view {calibration.host_view_us:.2f} us, "
                  f"module call {calibration.host_module_us:.2f} us, mixed-sequence dispatch factor "
                  f"{calibration.host_dispatch_factor:.2f}   {elapsed_s:.0f} s")
    table = Table(title=f"fit against template {calibration.accelerator}", title_justify="left")
    for column in ("class", "samples", "fit error", "compute eff", "memory eff", "half sat (elem)", "launch us",
                   "host us", "dynamic W"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, c in calibration.classes.items():
        error = f"{c.fit_error_pct:.1f}%" if c.fit_error_pct is not None else "-"
        table.add_row(name, str(c.samples), error, f"{c.compute_eff_frac:.3f}", f"{c.memory_eff_frac:.3f}",
                      f"{c.half_saturation_elements:.3g}", f"{c.launch_overhead_us:.2f}", f"{c.host_overhead_us:.2f}",
                      f"{c.dynamic_power_w:.0f}")
    console.print(table)
    if skipped:
        console.print(f"[yellow]{skipped} {what} skipped (see --json)[/yellow]")
    console.print(f"wrote {path}")


@app.command()
@calls_api("measure")
def measure(
    model: Annotated[str, typer.Argument(help="model spec (resnet50, segformer-b2, a timm name, tv:<name>, ...)")],
    device: DeviceOpt = "auto",
    batch: BatchOpt = 1,
    input_shape: InputOpt = None,
    accel: GpuAccelOpt = None,
    calibration: CalibrationOpt = None,
    mode: ModeOpt = "auto",
    dtype: DtypeOpt = "fp16",
    tf32: Tf32Opt = True,
    reps: Annotated[int, typer.Option("--reps", help="timed inferences (median reported)",
        parser=StrictInt(min_value=1, max_value=1_000_000))] = 50,
    energy_s: Annotated[float, typer.Option("--energy-s", help="seconds of inferences for the energy (>= 1 s)",
        parser=StrictFloat(min_value=1.0, max_value=86400.0))]
    = 2.0,
    module_depth: Annotated[int, typer.Option("--depth", help="aggregate modules at this name depth",
        parser=StrictInt(min_value=1, max_value=1024))] = 3,
    top: TopOpt = DEFAULT_TOP,
    json_out: JsonOpt = False,
) -> None:
    """Real latency (median of CUDA-event timings) and energy per inference (NVML) of a model on this GPU, next to
    hwmap's estimate, plus GPU time per module from torch.profiler next to the estimated per-layer time."""
    from hwmap.api import measure as run_measure

    check_files(inputs={"--accel": accel, "--calibration": calibration}, outputs={})
    with _progress() as progress:
        result = run_measure(model, device=device, batch=batch, input_shape=input_shape, accel=accel,
                             calibration=calibration, mode=mode, dtype=dtype, tf32=tf32, reps=reps,
                             energy_s=energy_s, module_depth=module_depth, progress=progress)
    if json_out:
        from hwmap.report.tables import print_json

        print_json(result.to_dict())
        return
    _render_measure(result, shown_rows(top))


def _render_measure(result, top: int | None) -> None:
    from rich.table import Table

    from hwmap.report.tables import stdout_console

    console = stdout_console()
    data = result.to_dict()
    lat, energy = data["latency"], data["energy"]
    shape = "x".join(map(str, result.input_chw))
    calibrated = "calibrated" if data["calibrated"] else "UNCALIBRATED (template priors)"
    console.print(f"[bold]{result.model}[/bold] batch {result.batch} input {shape} {result.dtype} on "
                  f"{result.device.get('name', '?')}  estimate: {result.accelerator}, {result.mode} mode, {calibrated}")
    table = Table(title_justify="left")
    for column in ("", "measured", "estimated", "error"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("latency (ms)", f"{lat['measured_ms']:.3f}", f"{lat['estimated_ms']:.3f}",
                  f"{lat['error_pct']:+.1f}%")
    if energy["measured_mj"] is not None:
        table.add_row("energy (mJ)", f"{energy['measured_mj']:.2f}", f"{energy['estimated_mj']:.2f}",
                      f"{energy['error_pct']:+.1f}%")
    kernels = data["kernels"]
    table.add_row("GPU kernel time (ms)", f"{kernels['profiled_ms']:.3f}", f"{kernels['estimated_ms']:.3f}", "")
    console.print(table)
    console.print(f"latency p10 {lat['p10_ms']:.3f} ms, p90 {lat['p90_ms']:.3f} ms over {lat['reps']} runs"
                  + (f"; average power {energy['average_power_w']:.0f} W via {energy['method']}"
                     if energy["average_power_w"] else ""))
    modules = Table(title="GPU kernel time per module (torch.profiler vs hwmap)", title_justify="left")
    for column in ("module", "measured ms", "estimated ms", "error"):
        modules.add_column(column, justify="left" if column == "module" else "right")
    for row in data["modules"][:top]:
        error = f"{row['error_pct']:+.0f}%" if row["error_pct"] is not None else "-"
        modules.add_row(row["module"], f"{row['measured_ms']:.3f}", f"{row['estimated_ms']:.3f}", error)
    console.print(modules)
    for note in result.notes:
        console.print(f"[yellow]note: {note}[/yellow]")
