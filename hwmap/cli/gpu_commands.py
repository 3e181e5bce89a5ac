"""GPU commands: calibrate (fit hwmap's GPU model to this card) and measure (real latency/energy vs estimate).

torch and pynvml are imported inside the command bodies only (the CLI stays fast to start).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

import typer

from hwmap.cli import app
from hwmap.cli.options import MAX_BATCH, MAX_COUNT, StrictFloat, StrictInt, check_files
from hwmap.errors import HwmapError

DeviceOpt = Annotated[str, typer.Option("--device", help="CUDA device, e.g. cuda:0")]
AccelOpt = Annotated[str | None, typer.Option("--accel", help="GPU template (name or YAML path); default: the "
                                                              "template matching the device name")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="fp16, bf16 or fp32")]
Tf32Opt = Annotated[bool, typer.Option("--tf32/--no-tf32", help="let fp32 GEMMs and convolutions use TF32")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]

_DTYPES = ("fp16", "bf16", "fp32")


class _RichProgress:
    """hwmap.calibrate.bench.Progress rendered with rich.progress on stderr (stdout stays clean for --json)."""

    def __init__(self, progress, console) -> None:
        self._progress = progress
        self._console = console
        self._task = None
        self._total = 0

    def phase(self, name: str, total: int) -> None:
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
    with Progress(*columns, console=console, transient=False) as progress:
        yield _RichProgress(progress, console)


def _check_dtype(dtype: str) -> str:
    if dtype not in _DTYPES:
        raise HwmapError(f"--dtype {dtype!r}: expected one of {', '.join(_DTYPES)}")
    return dtype


@app.command()
def calibrate(
    device: DeviceOpt = "cuda:0",
    quick: Annotated[bool, typer.Option("--quick", help="fewer shapes and shorter loops (minutes on an H100)")]
    = False,
    out: Annotated[str | None, typer.Option("--out", "-o", help="calibration YAML to write (default: "
                                                                "<template>.calibration.yaml here)")] = None,
    accel: AccelOpt = None,
    dtype: DtypeOpt = "fp16",
    tf32: Tf32Opt = True,
    json_out: JsonOpt = False,
    from_table: Annotated[str | None, typer.Option("--from-table", help="fit to a CSV of measured step times "
                                                                        "instead of this GPU (no GPU needed), e.g. "
                                                                        "timm's benchmark-infer-*.csv")] = None,
    mode: Annotated[str, typer.Option("--mode", help="with --from-table: execution mode the table ran (auto = "
                                                     "eager PyTorch with fused SDPA where the model calls it, "
                                                     "compiled = torch.compile)")] = "auto",
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="with --from-table: the table ran under "
                                                             "torch.autocast (timm's AMP tables)")] = True,
    columns: Annotated[str | None, typer.Option("--columns", help="with --from-table: KEY=COLUMN,... for model, "
                                                                  "img_size, batch and step_time_ms | step_time_s "
                                                                  "| samples_per_s (default: timm's names)")] = None,
    models: Annotated[str | None, typer.Option("--models", help="with --from-table: comma-separated globs of the "
                                                                "models to use (default: every row)")] = None,
    max_rows: Annotated[int | None, typer.Option("--max-rows", help="with --from-table: use at most N rows")] = None,
    graph_cache: Annotated[str | None, typer.Option("--graph-cache", help="with --from-table: folder for traced "
                                                                          "graphs (default: <out>.graphs)")] = None,
) -> None:
    """Fit hwmap's GPU model to this GPU: microbenchmarks per kernel class over the built-in models' layer shapes,
    CUDA-event timing, NVML energy; writes a calibration YAML for `hwmap estimate --calibration`. With
    --from-table TABLE.csv --accel NAME: fit to published whole-model step times instead (no GPU needed)."""
    if from_table is not None:
        _calibrate_from_table(table=from_table, accel=accel, out=out, mode=mode, dtype=_check_dtype(dtype), amp=amp,
                              columns=columns, models=models, max_rows=max_rows, graph_cache=graph_cache,
                              json_out=json_out)
        return
    from hwmap.calibrate.bench import parse_device, require_cuda, run_calibration
    from hwmap.calibrate.calibration import save_calibration

    parse_device(device)
    _check_dtype(dtype)
    check_files(inputs={"--accel": accel}, outputs={"--out": out})
    require_cuda(device, command="calibrate")
    with _progress() as progress:
        run = run_calibration(device=device, accel=accel, quick=quick, dtype=dtype, tf32=tf32, progress=progress)
    calibration = run.calibration
    path = save_calibration(calibration, out or f"{calibration.template_name}.calibration.yaml")
    if json_out:
        from hwmap.report.tables import print_json

        print_json({"path": str(path), "elapsed_s": run.elapsed_s, "skipped": list(run.skipped),
                    **calibration.model_dump(mode="json")})
        return
    _render_calibration(calibration, str(path), run.elapsed_s, len(run.skipped))


def _calibrate_from_table(*, table: str, accel: str | None, out: str | None, mode: str, dtype: str, amp: bool,
                          columns: str | None, models: str | None, max_rows: int | None, graph_cache: str | None,
                          json_out: bool) -> None:
    from pathlib import Path

    from hwmap.api import calibrate_from_table
    from hwmap.calibrate.calibration import save_calibration
    from hwmap.cost.gpu import MODES

    if accel is None:
        raise HwmapError("--from-table needs --accel NAME: the GPU template the table was measured on")
    if mode not in MODES:
        raise HwmapError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if max_rows is not None and max_rows < 1:
        raise HwmapError(f"--max-rows must be a positive integer, got {max_rows}")
    patterns = tuple(p.strip() for p in models.split(",") if p.strip()) if models else ()
    out_path = Path(out) if out else None
    with _progress() as progress:
        result = calibrate_from_table(table, accel=accel, mode=mode, dtype=dtype, amp=amp, columns=columns,
                                      models=patterns, max_rows=max_rows, graph_cache=graph_cache,
                                      out_hint=out_path, progress=progress)
    calibration = result.calibration
    path = save_calibration(calibration, out or f"{calibration.template_name}.calibration.yaml")
    if json_out:
        from hwmap.report.tables import print_json

        print_json({"path": str(path), "rows": len(result.rows), "skipped": list(result.skipped),
                    **calibration.model_dump(mode="json")})
        return
    _render_calibration(calibration, str(path), result.elapsed_s, len(result.skipped), what="rows of the table")


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
def measure(
    model: Annotated[str, typer.Argument(help="model spec (resnet50, segformer-b2, a timm name, tv:<name>, ...)")],
    device: DeviceOpt = "cuda:0",
    batch: Annotated[int, typer.Option("--batch", help="batch size",
        parser=StrictInt(min_value=1, max_value=MAX_BATCH))] = 1,
    input: Annotated[str | None, typer.Option("--input", help="input size CxHxW, e.g. 3x512x512")] = None,
    accel: AccelOpt = None,
    calibration: Annotated[str | None, typer.Option("--calibration", help="calibration YAML (default: "
                                                                          "<template>.calibration.yaml beside the "
                                                                          "template, else priors)")] = None,
    mode: Annotated[str, typer.Option("--mode", help="execution mode the estimate assumes: auto (what eager "
                                                     "PyTorch runs), eager, sdpa, compiled")] = "auto",
    dtype: DtypeOpt = "fp16",
    tf32: Tf32Opt = True,
    reps: Annotated[int, typer.Option("--reps", help="timed inferences (median reported)",
        parser=StrictInt(min_value=1, max_value=1_000_000))] = 50,
    energy_s: Annotated[float, typer.Option("--energy-s", help="seconds of inferences for the energy (>= 1 s)",
        parser=StrictFloat(min_value=1.0, max_value=86400.0))]
    = 2.0,
    depth: Annotated[int, typer.Option("--depth", help="aggregate modules at this name depth",
        parser=StrictInt(min_value=1, max_value=1024))] = 3,
    top: Annotated[int, typer.Option("--top", help="modules to show",
        parser=StrictInt(min_value=1, max_value=MAX_COUNT))] = 15,
    json_out: JsonOpt = False,
) -> None:
    """Real latency (median of CUDA-event timings) and energy per inference (NVML) of a model on this GPU, next to
    hwmap's estimate, plus GPU time per module from torch.profiler next to the estimated per-layer time."""
    from hwmap.calibrate.bench import measure_model, parse_device, require_cuda
    from hwmap.cost.gpu import MODES
    from hwmap.graph.sources import parse_input_shape

    parse_device(device)
    _check_dtype(dtype)
    if batch < 1:
        raise HwmapError(f"--batch must be a positive integer, got {batch}")
    if mode not in MODES:
        raise HwmapError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    chw = parse_input_shape(input) if input is not None else None
    require_cuda(device, command="measure")
    with _progress() as progress:
        result = measure_model(model, device=device, batch=batch, input_chw=chw, accel=accel,
                               calibration=calibration, mode=mode, dtype=dtype, tf32=tf32, reps=reps,
                               energy_s=energy_s, depth=depth, progress=progress)
    if json_out:
        from hwmap.report.tables import print_json

        print_json(result.to_dict())
        return
    _render_measure(result, top)


def _render_measure(result, top: int) -> None:
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
