"""A census of the model zoo: where the MACs, cycles, time and energy of many models go, one row per model.

Each model (timm names and globs, the built-ins, saved graphs or .onnx files) is traced at its default input
(or --resolution) and costed on every template; the row holds MACs, params, the MAC share of every op class and
op group, and per template its cycles, latency, energy and their shares by op group. Tracing runs in the
workers, on the same executors as `sweep` (local processes from a fork server, a Dask cluster, or in-process),
and every finished model is appended to a journal in sweep's format, so an interrupted census resumes where it
stopped. A model that fails to build, trace or cost is a row with status 'error' and the one-line reason.
"""

from __future__ import annotations

import concurrent.futures as cf
import fnmatch
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwmap.dse.sweep import (
    JOURNAL_FORMAT,
    SerialExecutor,
    _Journal,
    dask_executor,
    journal_path_for,
    local_executor,
    read_journal,
    second_interrupt_exits,
    stop_pool_now,
    sweep_lock,
)
from hwmap.errors import HwmapError, ParameterError
from hwmap.ops.classes import GROUP_ORDER, OpClass

CENSUS_KIND = "census"
# The groups whose shares a census figure compares; everything else is 'other'.
FIGURE_GROUPS = ("conv", "linear", "attention")
# The op classes and groups that can hold MACs (GEMMs and convolutions); the other classes do vector work only.
MAC_CLASSES = ("conv.dense", "conv.pointwise", "conv.depthwise", "conv.grouped", "linear", "linear.attention",
               "matmul", "attention.matmul")
MAC_GROUPS = ("conv", "linear", "matmul", "attention")


@dataclass(frozen=True)
class CensusTask:
    model: str
    accels: tuple[str, ...]
    batch: int
    resolution: int | None
    time_limit_s: float | None
    point_id: str


@dataclass(frozen=True)
class CensusResult:
    rows: list[dict[str, Any]]
    elapsed_s: float
    resumed: int
    failed: int

    @property
    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def resolve_models(patterns: Sequence[str]) -> list[str]:
    """Model names from patterns: a glob ('efficientnet_b[0-3]', 'convnext_*') over timm's names and the
    built-ins; any other text is kept as a spec (an unknown name becomes an error row). No pattern: every timm
    architecture. A glob that matches nothing is an error."""
    from hwmap.graph.sources import builtin_model_names, timm_and_torchvision_names

    timm_names, _tv = timm_and_torchvision_names()
    catalogue = [*timm_names, *builtin_model_names()]
    if not patterns:
        return list(timm_names)
    chosen: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = fnmatch.filter(catalogue, pattern)
            if not matched:
                raise HwmapError(f"census pattern {pattern!r} matches no timm or built-in model name")
        else:
            matched = [pattern]
        chosen.extend(m for m in matched if m not in chosen)
    return chosen


def census_point_id(model: str, accels: Sequence[str], batch: int, resolution: int | None) -> str:
    text = json.dumps([CENSUS_KIND, model, list(accels), batch, resolution])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def census_model(task: CensusTask) -> dict[str, Any]:
    """One model's row (runs in a worker; imports torch there). Failures are rows, never exceptions."""
    started, cpu_started = time.perf_counter(), time.process_time()
    row: dict[str, Any] = {"point_id": task.point_id, "model": task.model, "status": "ok", "error": "",
                           "batch": task.batch}
    try:
        with _time_limit(task.time_limit_s, task.model):
            row.update(_census_columns(task))
    except Exception as exc:  # noqa: BLE001 - the census records every failure as a row
        row["status"] = "error"
        row["error"] = _one_line(exc)
    row["trace_s"] = round(time.perf_counter() - started, 3)
    row["cpu_s"] = round(time.process_time() - cpu_started, 3)  # the worker's CPU: wall time on a shared machine
    return row


def _census_columns(task: CensusTask) -> dict[str, Any]:
    from hwmap.cost.checks import check_cost
    from hwmap.cost.dispatch import estimate_graph
    from hwmap.interop.inputs import model_graph, read_accelerator

    graph = model_graph(task.model, batch=task.batch, resolution=task.resolution)
    total = graph.total_macs
    columns: dict[str, Any] = {
        "input": "x".join(str(d) for d in graph.input_shapes[0]) if graph.input_shapes else "",
        "macs": total, "params": graph.params, "capture_mode": graph.capture_mode,
        "unsupported_ops": len(graph.unsupported),
    }
    by_class = {cls.value: 0 for cls in OpClass}
    for node in graph.nodes:
        by_class[node.op_class.value] += node.macs
    for cls in MAC_CLASSES:
        columns[f"mac_pct.{cls}"] = 100.0 * by_class[cls] / total if total else 0.0
    for group in MAC_GROUPS:
        macs = sum(v for cls, v in by_class.items() if cls.split(".")[0] == group)
        columns[f"mac_pct.group.{group}"] = 100.0 * macs / total if total else 0.0
    for accel in task.accels:
        cost = estimate_graph(graph, read_accelerator(accel))
        check_cost(cost)
        shares = cost.shares_by("op-group")
        columns[f"{accel}.cycles"] = cost.cycles
        columns[f"{accel}.latency_ms"] = float(cost.latency_ms)
        columns[f"{accel}.energy_mj"] = float(cost.energy_mj)
        for group in GROUP_ORDER:
            share = shares.get(group, {"cycles": 0.0, "energy": 0.0})
            columns[f"{accel}.time_pct.{group}"] = 100.0 * share["cycles"]
            columns[f"{accel}.energy_pct.{group}"] = 100.0 * share["energy"]
    return columns


class _time_limit:
    """Raise TimeoutError in this (worker) process after seconds, between Python bytecodes (a model whose
    meta trace fails falls back to a CPU trace with real arithmetic, which can take minutes for giant models)."""

    def __init__(self, seconds: float | None, model: str) -> None:
        self.seconds, self.model = seconds, model

    def __enter__(self):
        import signal
        import threading

        self.active = bool(self.seconds) and threading.current_thread() is threading.main_thread()
        if self.active:
            def expire(_signum, _frame):
                raise TimeoutError(f"{self.model} took longer than {self.seconds:g} s (time_limit_s)")

            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, float(self.seconds))
        return self

    def __exit__(self, *_exc) -> None:
        if self.active:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, self.previous)


def check_census_settings(*, accels: Sequence[str], batch: int, resolution: int | None, workers: int | None,
                          scheduler: str | None, time_limit_s: float | None) -> None:
    """A ParameterError naming the first census setting out of range (cheap: run before models are resolved)."""
    if not accels:
        raise ParameterError("accels", "needs at least one template name (e.g. systolic16x16)")
    if workers is not None and scheduler is not None:
        raise ParameterError("workers", "(local processes) and scheduler (a Dask cluster) exclude each other: give "
                                        "one")
    if workers is not None and workers < 0:
        raise ParameterError("workers", f"must be >= 0, got {workers}")
    if batch < 1:
        raise ParameterError("batch", f"must be a positive integer, got {batch}")
    if resolution is not None and resolution < 1:
        raise ParameterError("resolution", f"must be a positive integer, got {resolution}")
    if time_limit_s is not None and not time_limit_s >= 0:
        raise ParameterError("time_limit_s", f"must be >= 0 seconds, got {time_limit_s}")


def run_census(
    models: Sequence[str],
    *,
    accels: Sequence[str],
    out: str | Path,
    batch: int = 1,
    resolution: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    time_limit_s: float | None = 300.0,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> CensusResult:
    """Census of models on accels, written to out (.csv or .json) with a journal beside it (out.journal.jsonl).

    progress: called with each row as its model finishes; when it also has a ``resumed(count)`` method, that is
    called first with the number of models taken from the journal (so a progress bar's rate and ETA count only
    the models run now)."""
    from hwmap.interop.inputs import read_accelerator

    check_census_settings(accels=accels, batch=batch, resolution=resolution, workers=workers, scheduler=scheduler,
                          time_limit_s=time_limit_s)
    for accel in accels:
        read_accelerator(accel)  # an unknown template is an error before any tracing
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".json"):
        raise HwmapError(f"out {out}: expected a .csv or .json file")
    journal_path = journal_path_for(out)
    _check_files(models, accels, out=out, journal=journal_path)
    with sweep_lock([journal_path, out]):
        return _run_census(models, accels=accels, out=out, journal_path=journal_path, batch=batch,
                           resolution=resolution, workers=workers, scheduler=scheduler, resume=resume,
                           time_limit_s=time_limit_s, progress=progress)


def _check_files(models: Sequence[str], accels: Sequence[str], *, out: Path, journal: Path) -> None:
    """Refuse (before any tracing) an out or journal that is one of the census's input files: a graph or ONNX
    file among the models, an hf: config, a template or the calibration beside it."""
    from hwmap.fileio import check_run_files
    from hwmap.hardware.template_files import template_input_files

    inputs = [("model", m.removeprefix("hf:")) for m in models]
    for accel in accels:
        inputs += template_input_files("accel", accel).items()
    check_run_files(inputs=inputs, outputs={"out": out, "journal": journal})


def _run_census(models, *, accels, out: Path, journal_path: Path, batch, resolution, workers, scheduler, resume,
                time_limit_s, progress) -> CensusResult:
    tasks = [CensusTask(m, tuple(accels), batch, resolution, time_limit_s,
                        census_point_id(m, accels, batch, resolution)) for m in models]
    done: dict[str, dict[str, Any]] = {}
    keep = None
    if journal_path.exists():
        if not resume:
            raise HwmapError(f"journal {journal_path} exists (an earlier census to {out}); pass resume=True "
                             "(--resume) to continue it, or delete it to start again")
        rows, keep = read_journal(journal_path)
        wanted = {t.point_id for t in tasks}
        done = {r["point_id"]: r for r in rows if r.get("point_id") in wanted}
    header = {"format": JOURNAL_FORMAT, "kind": CENSUS_KIND, "accels": list(accels), "batch": batch,
              "resolution": resolution}
    todo = [t for t in tasks if t.point_id not in done]
    _report_resumed(progress, len(tasks) - len(todo))
    started = time.perf_counter()
    journal = _Journal(journal_path, header, keep_bytes=keep)
    try:
        with _executor(workers, scheduler) as executor:
            futures = [executor.submit(census_model, task) for task in todo]
            for future in cf.as_completed(futures):
                row = future.result()
                journal.append([row])
                done[row["point_id"]] = row
                if progress is not None:
                    progress(row)
    finally:
        journal.close()
    rows = [done[t.point_id] for t in tasks if t.point_id in done]
    _write(rows, out)
    return CensusResult(rows=rows, elapsed_s=time.perf_counter() - started, resumed=len(tasks) - len(todo),
                        failed=sum(1 for r in rows if r.get("status") != "ok"))


def _report_resumed(progress, count: int) -> None:
    resumed = getattr(progress, "resumed", None)
    if callable(resumed):
        resumed(count)


class _executor:
    def __init__(self, workers: int | None, scheduler: str | None) -> None:
        self.workers, self.scheduler = workers, scheduler

    def __enter__(self) -> cf.Executor:
        if self.scheduler:
            self._context = dask_executor(self.scheduler)
            return self._context.__enter__()
        self._context = None
        self._pool = SerialExecutor() if self.workers == 0 else local_executor(self.workers)
        return self._pool

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
        elif exc[0] is not None and issubclass(exc[0], KeyboardInterrupt):
            with second_interrupt_exits():  # Ctrl-C: stop now, the journal has every finished model
                stop_pool_now(self._pool)
        else:
            self._pool.shutdown(wait=exc[0] is None, cancel_futures=exc[0] is not None)


def _write(rows: list[dict[str, Any]], out: Path) -> None:
    import pandas as pd

    from hwmap.dse.sweep import write_table

    table = pd.DataFrame(rows)
    if "point_id" in table.columns:
        table = table.drop(columns=["point_id"])
    write_table(table, out)


def family_of(model: str) -> str:
    """A timm model's family: its name up to the first digit or underscore ('convnext_tiny' -> 'convnext',
    'efficientnet_b0' -> 'efficientnet', 'resnet50d' -> 'resnet', 'vit_base_patch16_224' -> 'vit')."""
    import re

    name = model.removeprefix("timm:").split(".")[0]
    match = re.match(r"[a-z]+", name)
    return match.group(0) if match else name


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:400] if first else type(error).__name__
