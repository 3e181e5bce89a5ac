"""Sweep a design space: every (hardware variant, workload) point through the same cost functions as `estimate`.

How the work flows:

* The parent loads the space, extracts each workload's layer graph(s) ONCE (the only step that needs torch) and
  serialises them to JSON text (``graph_to_dict``).
* Points are cut into chunks (one workload, many variants) and submitted to any ``concurrent.futures``-style
  executor: local processes by default (a ``ProcessPoolExecutor`` forked from a fresh fork server that never
  imports the caller's ``__main__``, so workers start without the parent's torch or threads and a plain script
  without a main guard works: :func:`local_executor`, :mod:`hwmap.dse.forkserver`), a Dask cluster through
  ``distributed.Client(address).get_executor()`` (:func:`dask_executor`), or :class:`SerialExecutor`
  in-process (the default for fewer than :data:`SERIAL_BELOW_POINTS` points when no worker count is given).
* A worker (:func:`run_chunk`) rebuilds the graph from JSON once and keeps it in a small per-process cache keyed by
  the graph's content hash, so the per-layer columns (``hwmap.cost.layers.layer_arrays``, cached by graph
  identity) are built once per worker per graph. Per point it makes the variant with
  ``Accelerator.with_overrides`` (revalidated: a variant that fails validation becomes an ``invalid`` row with
  the template's message) and costs it with ``estimate_graph`` under the space's estimate settings (carried by
  every chunk, taken as they are). The worker module never imports torch.
* The parent appends every finished chunk to the journal (JSON lines, flushed and fsync'ed) as soon as it
  arrives. A sweep resumed from that journal skips every point already there, keyed by a stable point id (a
  hash of the base template's fields, the axis values and the workload), so an interrupted and resumed sweep
  loses no finished point and repeats none.

Per point statuses: ``ok``; ``invalid`` (the variant fails template validation, ``error`` says why);
``infeasible`` (a paths workload whose budgets no selection of paths can serve on that variant).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import hashlib
import json
import math
import os
import stat
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.cost.settings import EstimateSettings
from hwmap.dse.space import DesignSpace, as_space
from hwmap.errors import HwmapError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hwmap.graph.ir import LayerGraph
    from hwmap.hardware.schema import Accelerator

__all__ = [
    "JOURNAL_FORMAT",
    "SerialExecutor",
    "SweepResult",
    "Workload",
    "dask_executor",
    "journal_is_complete",
    "journal_path_for",
    "local_executor",
    "point_id",
    "prepare_workloads",
    "read_journal",
    "run_chunk",
    "second_interrupt_exits",
    "stop_pool_now",
    "sweep",
    "sweep_lock",
    "write_table",
]

JOURNAL_FORMAT = "hwmap.dse_journal"
JOURNAL_VERSION = 1
_COMPLETE = "complete"  # key of the journal's last line once every point of the sweep is done
STATUS_OK, STATUS_INVALID, STATUS_INFEASIBLE = "ok", "invalid", "infeasible"
MAX_CHUNK = 256
# Without an explicit worker count, sweeps of fewer points run in this process: a local pool takes about 1 s to
# start (measured: 1.0-1.4 s for the fork server and 2 workers, 2 cores) and a point about 10 ms (resnet18 on a
# systolic variant), so below ~100 points the pool cannot pay for itself even on many cores.
SERIAL_BELOW_POINTS = 64
TABLE_SUFFIXES = (".csv", ".parquet", ".json")
ProgressFn = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------------ workloads


@dataclass(frozen=True)
class PathTask:
    """One path of a paths workload, as a worker needs it."""

    name: str
    graph_key: str
    accuracy: float | None
    accuracy_source: str
    weight_group: str


@dataclass(frozen=True)
class Workload:
    """What a chunk is costed on: one model graph, or the graphs of a set of execution paths (as JSON text)."""

    label: str
    key: str  # stable: label + content hash of its graph(s) (+ selection settings)
    graphs: dict[str, str]  # graph key (sha256 of the JSON) -> graph JSON text
    paths: tuple[PathTask, ...] = ()
    selection: dict[str, Any] | None = None

    @property
    def is_paths(self) -> bool:
        return bool(self.paths)


def _graph_text(graph: LayerGraph) -> tuple[str, str]:
    from hwmap.graph.io import graph_to_dict

    text = json.dumps(graph_to_dict(graph), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24], text


def _digest(data: object, length: int = 16) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def prepare_workloads(space: DesignSpace, *, log: Callable[[str], None] | None = None) -> list[Workload]:
    """Extract (or load) every workload's graph(s) once, in this process, and serialise them for the workers."""
    from hwmap.interop.inputs import model_graph as extract_graph

    workloads = []
    for spec in space.models:
        if log:
            log(f"graph of {spec.label}")
        if spec.model.endswith(".json") and not spec.model.startswith("hf:"):
            graph = extract_graph(spec.model)
        else:
            from hwmap.graph.sources import parse_input_shape

            shape = parse_input_shape(spec.input, argument="input") if spec.input else None
            graph = extract_graph(spec.model, input_shape=shape, resolution=spec.resolution, batch=spec.batch)
        key, text = _graph_text(graph)
        workloads.append(Workload(label=spec.label, key=_digest({"label": spec.label, "graph": key}),
                                  graphs={key: text}))
    for entry in space.paths:
        from hwmap.paths.model import load_paths, path_graph

        if log:
            log(f"graphs of the paths in {entry.label}")
        cache: dict = {}
        graphs: dict[str, str] = {}
        tasks = []
        for spec in load_paths(entry.file).paths:
            if spec.accuracy is None and entry.drop_unknown:
                continue
            key, text = _graph_text(path_graph(spec, cache=cache))
            graphs[key] = text
            tasks.append(PathTask(name=spec.name, graph_key=key,
                                  accuracy=None if spec.accuracy is None else float(spec.accuracy.value),
                                  accuracy_source=spec.accuracy.source if spec.accuracy else "",
                                  weight_group=spec.weight_group))
        if not tasks:
            raise HwmapError(f"{space.source}: paths {entry.label!r}: no path with a known accuracy")
        selection = entry.selection_settings()
        key = _digest({"label": entry.label, "paths": [(t.name, t.graph_key, t.accuracy, t.weight_group)
                                                       for t in tasks], "selection": selection})
        workloads.append(Workload(label=entry.label, key=key, graphs=graphs, paths=tuple(tasks),
                                  selection=selection))
    return workloads


def point_id(base_fingerprint: str, variant: dict[str, Any], workload_key: str) -> str:
    """Stable id of a design point: base template fields + axis values + workload (16 hex digits)."""
    return _digest({"base": base_fingerprint, "axes": variant, "workload": workload_key})


# ------------------------------------------------------------------------------------------------ the worker


@dataclass(frozen=True)
class ChunkTask:
    base_name: str
    base_key: str
    base_template: dict[str, Any]
    workload: Workload
    points: tuple[tuple[str, dict[str, Any]], ...]  # (point id, overrides)
    settings: EstimateSettings = field(default_factory=EstimateSettings)  # the space's, for every point


@dataclass(frozen=True)
class ChunkResult:
    rows: list[dict[str, Any]]
    pid: int
    torch_imported: bool
    seconds: float  # wall time in the worker
    cpu_s: float  # CPU time of the worker process meanwhile


# Per-process caches of the worker. They hold deserialised graphs (keyed by content hash) and base templates
# (keyed by the hash of their fields), so repeated chunks skip the parsing, and layer_arrays' identity cache
# keeps hitting. Results do not depend on them.
_GRAPH_CACHE: OrderedDict[str, Any] = OrderedDict()
_GRAPH_CACHE_SIZE = 16
_BASE_CACHE: dict[str, Any] = {}


def _worker_graph(key: str, text: str) -> LayerGraph:
    from hwmap.graph.io import graph_from_dict

    graph = _GRAPH_CACHE.get(key)
    if graph is None:
        graph = graph_from_dict(json.loads(text), origin=f"graph {key}")
        _GRAPH_CACHE[key] = graph
        while len(_GRAPH_CACHE) > _GRAPH_CACHE_SIZE:
            _GRAPH_CACHE.popitem(last=False)
    else:
        _GRAPH_CACHE.move_to_end(key)
    return graph


def _worker_base(task: ChunkTask) -> Accelerator:
    from hwmap.hardware.schema import validate_template

    base = _BASE_CACHE.get(task.base_key)
    if base is None:
        base = _BASE_CACHE[task.base_key] = validate_template(task.base_template, name=task.base_name,
                                                             source=task.base_name)
    return base


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Cost every point of a chunk (runs in a worker; imports no torch)."""
    start, cpu = time.perf_counter(), time.process_time()
    base = _worker_base(task)
    graphs = {key: _worker_graph(key, text) for key, text in task.workload.graphs.items()}
    rows = [{"point_id": pid, **_point_row(base, pid, overrides, graphs, task)} for pid, overrides in task.points]
    return ChunkResult(rows=rows, pid=os.getpid(), torch_imported="torch" in sys.modules,
                       seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu)


def _point_row(base: Accelerator, pid: str, overrides: dict[str, Any], graphs: dict[str, LayerGraph],
               task: ChunkTask) -> dict[str, Any]:
    """One point's row (without its id): the variant costed, or why it is invalid."""
    from hwmap.errors import ResultError, TemplateError

    workload = task.workload
    try:
        accel = base.with_overrides(overrides, name=f"{base.name}#{pid}")
    except TemplateError as exc:
        return {"status": STATUS_INVALID, "error": str(exc)}
    try:
        if workload.is_paths:
            return _paths_row(graphs, workload, accel, task.settings)
        return _model_row(next(iter(graphs.values())), accel, task.settings)
    except OverflowError as exc:  # a variant whose numbers the int64 cost arithmetic cannot hold
        return {"status": STATUS_INVALID, "error": f"the variant's numbers are too large to cost ({exc})"}
    except ResultError as exc:  # whole cycles/bytes that are inf, NaN or beyond int64 (GraphCost's layer table)
        return {"status": STATUS_INVALID, "error": str(exc)}


def _cost_columns(cost, accel: Accelerator) -> dict[str, Any]:
    from hwmap.units import BYTES_PER_MB

    area = accel.area_um2
    columns = {
        "energy_mj": cost.energy_mj, "latency_ms": cost.latency_ms, "cycles": cost.cycles,
        "stall_cycles": cost.stall_cycles, "average_utilisation": cost.utilisation,
        "area_mm2": None if area is None else area / 1e6, "peak_macs_per_cycle": int(accel.peak_macs_per_cycle),
        "dram_mb": cost.dram_bytes / BYTES_PER_MB,
    }
    for term, value in cost.energy_terms_mj.items():
        columns[f"energy_{term.replace('.', '_')}_mj"] = value
    return columns


def _model_row(graph: LayerGraph, accel: Accelerator, settings: EstimateSettings) -> dict[str, Any]:
    from hwmap.cost.checks import check_cost
    from hwmap.cost.dispatch import estimate_graph
    from hwmap.errors import ResultError

    cost = estimate_graph(graph, accel, settings)
    try:
        check_cost(cost, what=f"{graph.model} on this variant")
    except ResultError as exc:  # never an 'ok' row holding inf or NaN
        return {"status": STATUS_INVALID, "error": str(exc)}
    return {"status": STATUS_OK, "error": None, **_cost_columns(cost, accel)}


def _paths_row(graphs: dict[str, LayerGraph], workload: Workload, accel: Accelerator,
               estimate: EstimateSettings) -> dict[str, Any]:
    """Cost every path on the variant, select the paths to deploy (hwmap.select), report what they deliver.

    energy_mj / latency_ms are the selection's expected values over the budget levels; the cycles, utilisation
    and energy terms are those of the full model (the most expensive path); full_energy_mj / full_latency_ms too.
    """
    from hwmap.cost.checks import check_cost
    from hwmap.cost.dispatch import estimate_graph
    from hwmap.errors import ResultError
    from hwmap.paths.costing import weight_bytes_per_param
    from hwmap.select import Budgets, InfeasibleSelectionError, PathPoint, run_selection
    from hwmap.select.problem import METRIC_UNITS
    from hwmap.select.request import SelectionRequest
    from hwmap.units import BYTES_PER_MB

    settings = workload.selection or {}
    per_param = weight_bytes_per_param(accel)
    costs, points = {}, []
    for path in workload.paths:
        graph = graphs[path.graph_key]
        cost = costs[path.name] = estimate_graph(graph, accel, estimate)
        try:
            check_cost(cost, what=f"path {path.name} on this variant")
        except ResultError as exc:
            return {"status": STATUS_INVALID, "error": str(exc)}
        points.append(PathPoint(name=path.name, energy_mj=cost.energy_mj, latency_ms=cost.latency_ms,
                                accuracy=float(path.accuracy), accuracy_source=path.accuracy_source,
                                weight_group=path.weight_group, weight_mb=graph.params * per_param / BYTES_PER_MB))
    full = max(points, key=lambda p: (p.energy_mj, p.accuracy))
    row = {"status": STATUS_OK, "error": None, **_cost_columns(costs[full.name], accel),
           "full_energy_mj": full.energy_mj, "full_latency_ms": full.latency_ms}
    # relative budgets are fractions of the most expensive path on the metric (the pipeline's default reference)
    unit = "fraction" if settings["relative"] else METRIC_UNITS[settings["metric"]]
    try:
        request = SelectionRequest.parse(  # the request select-paths builds, from the space's selection settings
            budgets=Budgets(tuple(float(b) for b in settings["budgets"]), unit), metric=settings["metric"],
            budget_weights=settings["weights"], max_paths=settings["max_paths"], memory_mb=settings["memory_mb"],
            min_accuracy=settings["min_accuracy"], drop_unknown=settings["drop_unknown"])
        selection = run_selection(points, request).selection
    except InfeasibleSelectionError as exc:
        row.update(status=STATUS_INFEASIBLE, error=str(exc), energy_mj=None, latency_ms=None,
                   expected_accuracy=None, selected_paths=None)
        return row
    row.update(energy_mj=selection.expected_energy_mj, latency_ms=selection.expected_latency_ms,
               expected_accuracy=selection.expected_accuracy,
               selected_paths=";".join(p.name for p in selection.chosen))
    return row


# ------------------------------------------------------------------------------------------------ executors


class SerialExecutor(cf.Executor):
    """Runs each submitted call at once, in this process (debugging, tiny sweeps, baselines)."""

    def __init__(self) -> None:
        self._max_workers = 1

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, like a real executor
            future.set_exception(exc)
        return future


@contextlib.contextmanager
def dask_executor(address: str, *, timeout_s: float = 10.0) -> Iterator[cf.Executor]:
    """A concurrent.futures executor on the Dask cluster whose scheduler listens at ``address``
    (``tcp://host:8786``). The workers need hwmap (without torch) installed."""
    try:
        from distributed import Client
    except ImportError:
        raise HwmapError("scheduler needs Dask: pip install 'dask[distributed]'") from None
    client = _connect_dask(Client, address, timeout_s=timeout_s)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


def _connect_dask(client_class, address: str, *, timeout_s: float):
    """Client(address) with a total deadline: Dask's own timeout covers the TCP connect, not a server that
    accepts the connection and never answers the handshake (any non-Dask server), where it waits for ever."""
    import threading

    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = client_class(address, timeout=f"{timeout_s}s")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="hwmap-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    if thread.is_alive():
        raise HwmapError(f"cannot reach the Dask scheduler at {address}: no Dask scheduler answered within "
                         f"{timeout_s:.0f} s (is a Dask scheduler listening there?)")
    error = outcome.get("error")
    if error is not None:
        if isinstance(error, OSError | TimeoutError | ValueError):
            raise HwmapError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        raise error
    return outcome["client"]


# What a fork server imports once, before it forks the workers (so each worker starts in milliseconds).
_WORKER_MODULES = ["hwmap.dse.sweep", "hwmap.dse.forkserver", "hwmap.cost.dispatch", "hwmap.graph.io"]


def local_executor(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """Local worker processes forked from a fresh fork server that has imported only the cost modules (POSIX):
    they inherit neither the caller's torch nor its threads, and they never import the caller's ``__main__``
    (hwmap.dse.forkserver), so ``hwmap.sweep`` works from a plain script without an ``if __name__ ==
    "__main__":`` guard; the functions submitted must therefore live in an importable module, not in the
    calling script (hwmap submits only its own). Without a fork server (Windows), *spawn*, which does re-run an
    unguarded script."""
    import multiprocessing

    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 1:
        raise HwmapError(f"workers must be a positive integer, got {workers}")
    if "forkserver" in multiprocessing.get_all_start_methods():
        from hwmap.dse.forkserver import NoMainForkServerContext

        context = NoMainForkServerContext()
        context.set_forkserver_preload(_WORKER_MODULES)  # used when this process starts its fork server
    else:
        context = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_init_worker)


# Collections per allocation in a worker (Python's default: 700, 10, 10). Measured in the workers of
# benchmarks/bench_buffer_sweep.py: the collector took 0.43 ms of ~10 ms per point by default, 0.05 ms with these.
WORKER_GC_THRESHOLD = (10_000, 50, 100)


# glibc's malloc in a worker (mallopt): freed memory stays in the process up to WORKER_TRIM_BYTES, and blocks up to
# WORKER_MMAP_BYTES come from that reusable heap. By default every numpy temporary above 128 kB is a fresh mmap
# whose pages fault in again, and a freed heap top above 128 kB goes back to the OS: a new worker building the
# mapper's candidate tables (hwmap.cost.mapping) spent ~0.7 s of CPU on those faults for ResNet-50 + SegFormer-B2
# (measured: 1.2 s in a fresh process, 0.5 s with these settings or once warm; ~1 ms per point of
# benchmarks/bench_buffer_sweep.py). The cost: a worker keeps up to WORKER_TRIM_BYTES it no longer uses.
WORKER_TRIM_BYTES = 256 << 20
WORKER_MMAP_BYTES = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def _keep_freed_memory() -> None:
    """Set WORKER_TRIM_BYTES and WORKER_MMAP_BYTES in this process's malloc; nothing where the C library is not
    glibc (its mallopt is absent or rejects them)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_BYTES)
    mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_BYTES)


def _init_worker() -> None:
    """Ctrl-C is the parent's to handle (it journals what finished and stops the pool), so a worker ignores it;
    and a worker exits when its parent dies (killed, it cannot stop the pool), instead of waiting forever on the
    task queue. A worker's allocations are mostly short-lived acyclic objects (mappings, rows), so its cyclic
    garbage collector runs less often (WORKER_GC_THRESHOLD), and its malloc keeps freed memory for reuse
    (_keep_freed_memory)."""
    import gc
    import multiprocessing
    import signal
    import threading

    gc.freeze()  # what the fork server imported: never garbage, no longer scanned
    gc.set_threshold(*WORKER_GC_THRESHOLD)
    _keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        def exit_with_parent() -> None:
            parent.join()  # returns when the parent's end of the sentinel pipe closes
            os._exit(1)

        threading.Thread(target=exit_with_parent, name="hwmap-parent-watch", daemon=True).start()


STOP_WAIT_S = 1.0  # how long stopped workers get to exit on SIGTERM before they are killed


def stop_pool_now(executor: cf.Executor) -> None:
    """Stop a local process pool without waiting for its running tasks (after Ctrl-C: their results are not
    journaled, a resumed run repeats them): cancel what is queued, SIGTERM the workers, SIGKILL any still alive
    after :data:`STOP_WAIT_S`. Other executors (Dask, serial) are only shut down without waiting."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    deadline = time.monotonic() + STOP_WAIT_S
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()


@contextlib.contextmanager
def second_interrupt_exits() -> Iterator[None]:
    """While a run stops after a first Ctrl-C, a second one exits the process at once (exit code 130) instead of
    interrupting the clean-up halfway (which could leave a pool's locks held: a deadlock). The journal needs no
    clean-up: every line was fsync'ed whole, and a line torn by the exit is dropped on resume. The previous
    handler is restored afterwards (a notebook keeps its own Ctrl-C)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(_signum, _frame) -> None:
        for lock_path in list(_HELD):  # not needed to unblock a rerun (the OS drops the locks), only tidier
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
        os.write(2, b"hwmap: interrupted again: exiting now\n")
        os._exit(130)

    previous = signal.signal(signal.SIGINT, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _executor_workers(executor: cf.Executor) -> int:
    client = getattr(executor, "_client", None)
    if client is not None and hasattr(client, "nthreads"):
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    count = getattr(executor, "_max_workers", None)
    return int(count) if isinstance(count, int) and count > 0 else (os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------------ journal


def journal_path_for(out: str | Path) -> Path:
    """Where a sweep writing the table ``out`` keeps its journal of finished points."""
    return Path(f"{out}.journal.jsonl")


def read_journal(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """(rows, byte length of the intact part) of a journal. A torn last line (the process was killed while
    writing it) is left out; any other damage is an error naming the file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HwmapError(f"journal {path}: cannot read it ({exc.strerror or exc})") from None
    rows: list[dict[str, Any]] = []
    good = 0
    footer_start: int | None = None  # where a trailing "complete" line starts (dropped when the run continues)
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        last = number == len(lines)
        if not raw.strip():
            if not last:
                good += len(raw) + 1
            continue
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if last or (number == len(lines) - 1 and not lines[-1]):
                break  # a torn tail: that chunk was not finished
            raise HwmapError(f"journal {path}, line {number}: not a JSON object; the file was edited or "
                             "damaged") from None
        if last:  # complete JSON but no newline: written in full, the newline lost; keep it, fix on append
            good += len(raw)
        else:
            good += len(raw) + 1
        if isinstance(record, dict) and record.get(_COMPLETE) is True and "point_id" not in record:
            footer_start = good - len(raw) - (0 if last else 1)
            continue
        if number == 1:
            if not isinstance(record, dict) or record.get("format") != JOURNAL_FORMAT:
                raise HwmapError(f"journal {path}: not an hwmap sweep journal (expected a first line with "
                                 f'"format": "{JOURNAL_FORMAT}")')
            continue
        if not isinstance(record, dict) or "point_id" not in record:
            raise HwmapError(f"journal {path}, line {number}: expected a result row with a point_id")
        footer_start = None
        rows.append(record)
    if good == 0 and data:
        raise HwmapError(f"journal {path}: not an hwmap sweep journal (no intact first line)")
    return rows, good if footer_start is None else footer_start


def journal_is_complete(path: str | Path) -> bool:
    """Whether the journal ends with the line a sweep writes when every point of its space is done."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            tail = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except OSError:
        return False
    try:
        record = json.loads(tail)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(record, dict) and record.get(_COMPLETE) is True and "point_id" not in record


class _Journal:
    """Append-only JSON lines: one header line, then one line per finished point, fsync'ed per chunk.

    A new journal is created whole (header written to a temporary file and renamed: never a 0-byte journal that
    would block the next run); any OSError while writing it (a full disk, a quota) is one HwmapError naming the
    journal. The lines appended before the failure stay readable, so the run can be resumed once there is room.
    """

    def __init__(self, path: Path, header: dict[str, Any], *, keep_bytes: int | None) -> None:
        from hwmap.fileio import atomic_write_text

        self.path = path
        self.handle = None
        if keep_bytes is None:
            atomic_write_text(path, json.dumps(header) + "\n")
        else:
            with self._failing("resume it"), open(path, "r+b") as raw:  # drop a torn tail before appending
                raw.truncate(keep_bytes)
                if keep_bytes:
                    raw.seek(keep_bytes - 1)
                    needs_newline = raw.read(1) != b"\n"
                    if needs_newline:
                        raw.write(b"\n")
        with self._failing("open it"):
            self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._sync()

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            from hwmap.fileio import os_error_reason

            kept = "; the points finished so far are in it: rerun with resume (--resume) once the problem is fixed" \
                if self.handle is not None else ""
            raise HwmapError(f"journal {self.path}: cannot {doing} ({os_error_reason(exc)}){kept}") from None

    def append(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._failing("write it"):
                self.handle.write("".join(json.dumps(_jsonable(r), separators=(",", ":")) + "\n" for r in rows))
                self._sync()

    def _sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def complete(self, points: int) -> None:
        with self._failing("write it"):
            self.handle.write(json.dumps({_COMPLETE: True, "points": points}) + "\n")
            self._sync()

    def close(self) -> None:
        if self.handle is None:
            return
        try:
            self.handle.close()
        except OSError:  # the buffered tail could not be written: it was already reported by append()
            pass


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


# ------------------------------------------------------------------------------------------------ the sweep


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: the table (one row per point, in the space's order) and how it went."""

    space: DesignSpace
    table: pd.DataFrame
    n_points: int
    n_failed: int  # invalid + infeasible
    n_resumed: int  # points read back from the journal
    n_evaluated: int  # points costed in this run
    prepare_s: float  # loading the space and extracting graphs
    evaluate_s: float  # submitting, costing and collecting the points of this run
    workers: int
    worker_pids: tuple[int, ...] = ()
    torch_in_workers: bool = False
    stale_rows: int = 0  # journal rows of points that are not in this space (ignored)
    worker_cpu_s: float = 0.0  # CPU seconds the workers spent in the chunks of this run (load-independent)
    journal: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def elapsed_s(self) -> float:
        return self.prepare_s + self.evaluate_s

    @property
    def points_per_s(self) -> float:
        return self.n_evaluated / self.evaluate_s if self.evaluate_s > 0 else 0.0

    def pareto(self, objectives: list[str] | tuple[str, ...] | None = None, *, by: str | None = "model"):
        """The Pareto-front rows (per model by default) over ``objectives`` (default: the space's)."""
        from hwmap.dse.pareto import pareto_table

        return pareto_table(self.table, objectives or self.space.objectives, by=by)

    def summary(self) -> dict[str, Any]:
        return {"space": self.space.source, "points": self.n_points, "failed": self.n_failed,
                "resumed": self.n_resumed, "evaluated": self.n_evaluated, "prepare_s": self.prepare_s,
                "evaluate_s": self.evaluate_s, "elapsed_s": self.elapsed_s, "points_per_s": self.points_per_s,
                "workers": self.workers, "worker_cpu_s": self.worker_cpu_s, "stale_rows": self.stale_rows,
                "journal": self.journal,
                "notes": list(self.notes)}


def sweep(
    space: DesignSpace | Mapping[str, Any] | str | Path,
    *,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    journal: str | Path | None = None,
    resume_from: str | Path | None = None,
    progress: ProgressFn | None = None,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Cost every point of ``space`` (a DesignSpace, a space YAML file or a dict of its content; see
    :func:`hwmap.dse.space.as_space`) and return the results table.

    - executor: any concurrent.futures-style executor; default: ``workers`` local processes (all cores when
      None, see :func:`local_executor`), shut down at the end; with workers None and fewer than
      :data:`SERIAL_BELOW_POINTS` points to cost, this process.
    - chunk_size: points per task; default: about 8 tasks per worker, at most 256 points each.
    - journal: append each finished chunk to this JSON-lines file; it must not exist unless it is also
      ``resume_from``.
    - resume_from: a journal whose points are taken as done (rows of points not in this space are ignored).
    - progress(done, total): called as chunks finish; log(message): called before each graph extraction.
    """
    with contextlib.ExitStack() as lock:
        return _sweep(space, executor=executor, workers=workers, chunk_size=chunk_size, journal=journal,
                      resume_from=resume_from, progress=progress, log=log, lock=lock)


def _sweep(space, *, executor, workers, chunk_size, journal, resume_from, progress, log,
           lock: contextlib.ExitStack) -> SweepResult:
    started = time.perf_counter()
    space = as_space(space)
    _check_counts(chunk_size=chunk_size, workers=workers)
    journal_path = Path(journal) if journal is not None else None
    resume_path = Path(resume_from) if resume_from is not None else None
    _check_journal(journal_path, resume_path)

    # The points, in the space's order: variant-major, workload-minor.
    workloads = prepare_workloads(space, log=log)
    variants = space.variants()
    ids, position = _point_ids(space, variants, workloads)
    total = len(position)
    done, stale, keep_bytes = _resumed_rows(resume_path, journal_path, position)
    n_resumed = len(done)
    sink = _open_journal(space, journal_path, resume_path, done, keep_bytes, lock)

    pending_by_workload = [[vi for vi in range(len(variants)) if ids[vi][wi] not in done]
                           for wi in range(len(workloads))]
    n_pending = sum(len(p) for p in pending_by_workload)
    owned = executor is None and n_pending > 0
    if owned:
        executor = _own_executor(workers, n_pending)
    n_workers = _executor_workers(executor) if executor is not None else (workers or os.cpu_count() or 1)
    size = chunk_size or max(1, min(MAX_CHUNK, math.ceil(n_pending / (n_workers * 8)))) if n_pending else 1
    tasks = _chunk_tasks(space, workloads, variants, ids, pending_by_workload, size)
    prepared = time.perf_counter()

    collected = _Collected(label_of={w.key: w.label for w in workloads}, sink=sink, progress=progress,
                           n_resumed=n_resumed, total=total)
    if progress is not None:
        progress(n_resumed, total)
    _run_tasks(executor, tasks, collected, owned=owned, bound=max(4, 2 * n_workers))
    evaluated = time.perf_counter()

    table = _table(space, list(done.values()) + collected.rows, position)
    failed = int((table["status"] != STATUS_OK).sum()) if len(table) else 0
    notes = []
    if stale:
        notes.append(f"{stale} journal row(s) belong to other points (another space or base template) and "
                     "were ignored")
    if collected.torch_seen:
        notes.append("torch was imported in a worker process")
    return SweepResult(space=space, table=table, n_points=total, n_failed=failed, n_resumed=n_resumed,
                       n_evaluated=len(collected.rows), prepare_s=prepared - started,
                       evaluate_s=evaluated - prepared, workers=n_workers, worker_pids=tuple(sorted(collected.pids)),
                       torch_in_workers=collected.torch_seen, stale_rows=stale, worker_cpu_s=collected.cpu_s,
                       journal=str(journal_path) if journal_path else None, notes=tuple(notes))


def _own_executor(workers: int | None, n_pending: int) -> cf.Executor:
    """The sweep's own executor: this process below SERIAL_BELOW_POINTS points when no worker count is given (a
    pool costs about a second to start: a fresh fork server importing numpy and the cost modules, while a point
    takes ~10 ms), else a local pool of ``workers`` processes."""
    if workers is None and n_pending < SERIAL_BELOW_POINTS:
        return SerialExecutor()
    return local_executor(workers)


def _check_counts(*, chunk_size: int | None, workers: int | None) -> None:
    if chunk_size is not None and chunk_size < 1:
        raise HwmapError(f"chunk_size must be a positive integer, got {chunk_size}")
    if workers is not None and workers < 1:
        raise HwmapError(f"workers must be a positive integer, got {workers}")


def _check_journal(journal_path: Path | None, resume_path: Path | None) -> None:
    """A journal to write must not hold another unfinished sweep (unless it is the one resumed), and its folder
    must exist."""
    if journal_path is None:
        return
    if journal_path.exists() and not journal_is_complete(journal_path) and (
            resume_path is None or journal_path.resolve() != resume_path.resolve()):
        raise HwmapError(f"journal {journal_path} already exists and holds an unfinished sweep: resume from it "
                         "(resume) to continue that sweep, or delete it (overwrite) to start over")
    if not journal_path.parent.is_dir():
        raise HwmapError(f"cannot write the journal {journal_path}: folder {journal_path.parent} does not exist")


def _point_ids(space: DesignSpace, variants: list[dict[str, Any]],
               workloads: list[Workload]) -> tuple[list[list[str]], dict[str, tuple[int, int]]]:
    """Every point's id (by variant, then workload) and each id's (variant, workload) position."""
    fingerprint = space.point_fingerprint
    ids = [[point_id(fingerprint, v, w.key) for w in workloads] for v in variants]
    position = {pid: (vi, wi) for vi, row in enumerate(ids) for wi, pid in enumerate(row)}
    if len(position) != len(variants) * len(workloads):
        raise HwmapError(f"{space.source}: two design points have the same id; are two variants identical?")
    return ids, position


def _resumed_rows(resume_path: Path | None, journal_path: Path | None, position: dict[str, tuple[int, int]]
                  ) -> tuple[dict[str, dict[str, Any]], int, int | None]:
    """The rows of this space's points in the journal resumed from (first row per point), the number of rows of
    other points, and the byte length of the journal's intact part (None without a journal to resume)."""
    done: dict[str, dict[str, Any]] = {}
    stale = 0
    if resume_path is None:
        return done, stale, None
    if not resume_path.exists():
        if journal_path is None or resume_path.resolve() != journal_path.resolve():
            raise HwmapError(f"journal {resume_path} does not exist: nothing to resume from")
        return done, stale, None
    rows, keep_bytes = read_journal(resume_path)
    for row in rows:
        if row["point_id"] in position:
            done.setdefault(row["point_id"], row)
        else:
            stale += 1
    return done, stale, keep_bytes


def _open_journal(space: DesignSpace, journal_path: Path | None, resume_path: Path | None,
                  done: dict[str, dict[str, Any]], keep_bytes: int | None, lock: contextlib.ExitStack
                  ) -> _Journal | None:
    """The journal to append finished chunks to, locked for the sweep (None without one): continued in place when
    it is the journal resumed from, else new, holding the resumed rows."""
    if journal_path is None:
        return None
    same_file = resume_path is not None and resume_path.exists() \
        and journal_path.resolve() == resume_path.resolve()
    header = {"format": JOURNAL_FORMAT, "schema_version": JOURNAL_VERSION, "space": space.source,
              "base": space.base.name, "columns": list(space.columns)}
    lock.enter_context(sweep_lock([journal_path]))
    sink = _Journal(journal_path, header, keep_bytes=keep_bytes if same_file else None)
    if not same_file and done:
        sink.append(list(done.values()))
    return sink


def _chunk_tasks(space: DesignSpace, workloads: list[Workload], variants: list[dict[str, Any]],
                 ids: list[list[str]], pending_by_workload: list[list[int]], size: int) -> list[ChunkTask]:
    """Chunks of one workload each (``size`` pending points, in the order of _by_buffer_sizes): the first chunk of
    every workload, then the others workload by workload. The workers start on different workloads, so each
    model's candidate tables (hwmap.cost.mapping) are built by one worker while the others do other work, and read
    from the on-disk store (hwmap.cost.candidate_store) by the workers that meet that model later."""
    base_template = space.base.template_dict()
    base_key = _digest(base_template)
    by_workload = []
    for wi, pending in enumerate(_by_buffer_sizes(space, variants, p) for p in pending_by_workload):
        by_workload.append([
            ChunkTask(base_name=space.base.name, base_key=base_key, base_template=base_template,
                      workload=workloads[wi], settings=space.estimate,
                      points=tuple((ids[vi][wi], variants[vi]) for vi in pending[start:start + size]))
            for start in range(0, len(pending), size)])
    return [chunks[0] for chunks in by_workload if chunks] + [task for chunks in by_workload for task in chunks[1:]]


def _by_buffer_sizes(space: DesignSpace, variants: list[dict[str, Any]], pending: list[int]) -> list[int]:
    """The pending variants with those of equal buffer sizes (axes ``*size_bytes``, a hierarchy level's
    ``*capacity_bytes``) next to one another, otherwise
    in the space's order: a chunk then holds few memory configurations, each met by several variants (array
    shapes, clocks), and the mapper's work per layer shape and memory configuration is done once in one worker
    instead of once in every worker (measured on benchmarks/bench_buffer_sweep.py: 1.5 ms less worker CPU per
    point). Only the chunks change, not the results or the table's order."""
    sizes = [axis for axis in space.axes if axis.endswith(("size_bytes", "capacity_bytes"))]
    if not sizes:
        return pending
    rank: dict[str, dict[str, int]] = {axis: {} for axis in sizes}  # first-appearance rank of each value

    def key(vi: int) -> tuple[int, ...]:
        return tuple(rank[a].setdefault(json.dumps(variants[vi].get(a), default=str), len(rank[a])) for a in sizes)

    return sorted(pending, key=key)


@dataclass
class _Collected:
    """What the finished chunks of a run have delivered so far (rows journaled as they arrive)."""

    label_of: dict[str, str]  # workload key -> label
    sink: _Journal | None
    progress: ProgressFn | None
    n_resumed: int
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    cpu_s: float = 0.0
    torch_seen: bool = False

    def add(self, task: ChunkTask, result: ChunkResult) -> None:
        rows = [{"point_id": pid, "model": self.label_of[task.workload.key], **variant,
                 **{k: v for k, v in row.items() if k != "point_id"}}
                for (pid, variant), row in zip(task.points, result.rows, strict=True)]
        if self.sink is not None:
            self.sink.append(rows)
        self.rows.extend(rows)
        self.pids.add(result.pid)
        self.cpu_s += result.cpu_s
        self.torch_seen = self.torch_seen or result.torch_imported
        if self.progress is not None:
            self.progress(self.n_resumed + len(self.rows), self.total)


def _run_tasks(executor: cf.Executor | None, tasks: list[ChunkTask], collected: _Collected, *, owned: bool,
               bound: int) -> None:
    """Submit the chunks with at most ``bound`` in flight and hand each finished one to ``collected`` as soon as
    it is back; the journal is marked complete at the end. Ctrl-C stops at once (an owned pool without waiting
    for its running chunks); an owned executor is shut down in any case."""
    in_flight: dict[cf.Future, ChunkTask] = {}
    interrupt = contextlib.ExitStack()
    try:
        _submit_all(executor, tasks, in_flight, collected, bound)
        if collected.sink is not None:
            collected.sink.complete(collected.total)
    except KeyboardInterrupt:
        # Ctrl-C: the journal holds every finished chunk (whole lines, fsync'ed); stop at once without waiting for
        # the running chunks (resume repeats them), and let a second Ctrl-C exit immediately.
        interrupt.enter_context(second_interrupt_exits())
        if owned and executor is not None:
            stop_pool_now(executor)
        raise
    finally:
        with interrupt:
            for future in in_flight:
                future.cancel()
            if collected.sink is not None:
                collected.sink.close()
            if owned and executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def _submit_all(executor: cf.Executor | None, tasks: list[ChunkTask], in_flight: dict[cf.Future, ChunkTask],
                collected: _Collected, bound: int) -> None:
    def finish(future: cf.Future) -> None:
        result: ChunkResult = future.result()
        collected.add(in_flight.pop(future), result)

    queue = iter(tasks)
    exhausted = not tasks
    while not exhausted or in_flight:
        while not exhausted and len(in_flight) < bound:
            task = next(queue, None)
            if task is None:
                exhausted = True
                break
            assert executor is not None
            in_flight[executor.submit(run_chunk, task)] = task
            for future in [f for f in in_flight if f.done()]:
                finish(future)
        if in_flight:
            finished, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in finished:
                finish(future)


_LEADING = ("point_id", "variant", "model")
_METRICS = ("status", "error", "energy_mj", "latency_ms", "cycles", "stall_cycles", "average_utilisation",
            "area_mm2", "peak_macs_per_cycle", "dram_mb")


def _table(space: DesignSpace, rows: list[dict[str, Any]], position: dict[str, tuple[int, int]]) -> pd.DataFrame:
    import pandas as pd

    for row in rows:
        vi, _ = position[row["point_id"]]
        row["variant"] = vi
    rows.sort(key=lambda r: position[r["point_id"]])
    extra: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in _LEADING and key not in _METRICS and key not in space.columns:
                extra.setdefault(key, None)
    terms = sorted(k for k in extra if k.startswith("energy_") and k.endswith("_mj"))
    others = [k for k in extra if k not in terms]
    columns = [*_LEADING, *space.columns, *_METRICS, *terms, *others]
    table = pd.DataFrame.from_records(rows, columns=columns)
    numeric = [c for c in ("energy_mj", "latency_ms", "cycles", "stall_cycles", "average_utilisation", "area_mm2",
                           "dram_mb", *terms, "expected_accuracy", "full_energy_mj", "full_latency_ms")
               if c in table.columns]
    for column in numeric:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["peak_macs_per_cycle"] = pd.to_numeric(table["peak_macs_per_cycle"], errors="coerce").astype("Int64")
    table.insert(table.columns.get_loc("model") + 1, "template", space.base.name)  # names the figures' template
    return table.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ output


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the results as .csv, .parquet or .json (records), whole or not at all."""
    from hwmap.fileio import atomic_write_text

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise HwmapError(f"out {target}: unknown format {suffix or '(no suffix)'!r}; expected one of "
                         f"{', '.join(TABLE_SUFFIXES)}")
    if suffix == ".csv":
        return atomic_write_text(target, table.to_csv(index=False))
    if suffix == ".json":
        return atomic_write_text(target, table.to_json(orient="records", indent=1, double_precision=15) + "\n")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise HwmapError(f"out {target}: Parquet needs pyarrow (pip install pyarrow), or write .csv / .json") \
            from None
    import io

    from hwmap.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return atomic_write_bytes(target, buffer.getvalue())


# ------------------------------------------------------------------------------------------------ locks

# Real paths whose lock this process holds (a sweep() inside the CLI's lock must not lock them again: flock
# locks belong to an open file, so a second open of the same lock file in this process would fail).
_HELD: dict[str, int] = {}


def _lock_file(path: Path) -> Path:
    real = Path(os.path.realpath(path))
    return real.parent / f".{real.name}.lock"


@contextlib.contextmanager
def sweep_lock(paths: list[str | Path] | tuple[str | Path, ...]) -> Iterator[None]:
    """Hold an exclusive OS lock (``fcntl.flock``) on each of ``paths`` (the journal and outputs of a sweep) for
    the duration: a second sweep on any of the same files fails at once, naming the process that holds it.

    The lock lives on a hidden ``.NAME.lock`` beside each file (the outputs themselves are replaced by rename, so
    they cannot carry it); it is removed when the sweep ends, and a lock file left by a killed sweep holds no
    lock (the OS drops it with the process) and is reused.
    """
    import fcntl

    taken: list[tuple[str, int, Path]] = []
    try:
        for raw in dict.fromkeys(str(p) for p in paths if p is not None and str(p) != "-"):
            if os.path.exists(raw) and not os.path.isfile(raw):  # a device or FIFO: nothing to lock beside it
                continue
            lock_path = _lock_file(Path(raw))
            key = str(lock_path)
            if key in _HELD:
                continue
            fd = _acquire(fcntl, lock_path, raw)
            _HELD[key] = fd
            taken.append((key, fd, lock_path))
        yield
    finally:
        for key, fd, lock_path in reversed(taken):
            _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                lock_path.unlink()
            os.close(fd)


def _acquire(fcntl, lock_path: Path, shown: str) -> int:
    for _ in range(5):
        try:  # never through a link planted at the lock's name (ftruncate below would empty its target)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            from hwmap.fileio import os_error_reason

            why = "it is a symbolic link; remove it" if exc.errno == errno.ELOOP else os_error_reason(exc)
            raise HwmapError(f"cannot lock {shown}: lock file {lock_path}: {why}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise HwmapError(f"cannot lock {shown}: lock file {lock_path} is not a regular file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise HwmapError(f"{shown} is in use by another sweep ({holder}); wait for it to finish or write "
                             "to another path") from None
        try:  # the file we locked may have been removed by the holder that just finished: lock the new one
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            command = " ".join(sys.argv[:6])
            with contextlib.suppress(OSError):  # who holds it is only shown to a second sweep: a full disk is no error
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}, {command}".encode(), 0)
            return fd
        os.close(fd)
    raise HwmapError(f"cannot lock {shown}: its lock file {lock_path} keeps changing")
