"""Sweeps: the same table on every executor (in-process, local processes, a local Dask cluster), the same numbers
as estimate_graph, invalid variants recorded, interrupted sweeps resumed without losing or repeating a point,
and the `hwmap sweep` command."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import sys
import textwrap

import pandas as pd
import pytest
from conftest import traced

import hwmap.cli.dse_commands  # noqa: F401  (registers `hwmap sweep` until hwmap.cli registers it itself)
from hwmap.cost.dispatch import estimate_graph
from hwmap.dse.space import load_space
from hwmap.dse.sweep import (
    SERIAL_BELOW_POINTS,
    SerialExecutor,
    dask_executor,
    journal_is_complete,
    journal_path_for,
    read_journal,
    sweep,
)
from hwmap.errors import HwmapError
from hwmap.graph.io import save_graph

SPACE = """\
    schema_version: 1
    base: systolic16x16
    axes:
      array.rows: [8, 16, 32, 128]
      array.dataflow: [ws, os]
      buffers.ofmap.size_bytes: [256, 4096, 65536]
    square: true
    models: [{model: resnet18.json, name: resnet18}]
    """
N_POINTS = 4 * 2 * 3  # 24; two of them invalid: 128 columns of 32-bit outputs need 512 bytes of ofmap buffer


@pytest.fixture(scope="module")
def space_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("space")
    save_graph(traced("resnet18"), folder / "resnet18.json")
    path = folder / "space.yaml"
    path.write_text(textwrap.dedent(SPACE))
    return path


@pytest.fixture(scope="module")
def reference(space_file):
    return sweep(space_file, executor=SerialExecutor())


def test_reference_table_has_every_point_and_the_numbers_of_estimate(reference, space_file):
    table = reference.table
    assert reference.n_points == len(table) == N_POINTS and table["point_id"].is_unique
    assert reference.n_failed == 2
    invalid = table[table["status"] == "invalid"]
    assert invalid["array.cols"].tolist() == [128, 128] and (invalid["buffers.ofmap.size_bytes"] == 256).all()
    assert invalid["error"].str.contains("buffers.ofmap.size_bytes: must hold at least one array edge").all()
    assert invalid["energy_mj"].isna().all()
    # every valid point carries exactly what estimate_graph says for that variant
    space = load_space(space_file)
    graph = traced("resnet18")
    for _, row in table[table["status"] == "ok"].iloc[::5].iterrows():
        accel = space.base.with_overrides({c: row[c].item() if hasattr(row[c], "item") else row[c]
                                           for c in space.columns})
        cost = estimate_graph(graph, accel)
        assert row["energy_mj"] == cost.energy_mj and row["latency_ms"] == cost.latency_ms
        assert row["cycles"] == cost.cycles and row["average_utilisation"] == cost.utilisation
        assert row["area_mm2"] == pytest.approx(accel.area_um2 / 1e6)
        assert row["energy_dram_mj"] == cost.energy_terms_mj["dram"]


def test_local_processes_and_a_dask_cluster_give_the_same_table(reference, space_file):
    local = sweep(space_file, workers=2, chunk_size=5)
    pd.testing.assert_frame_equal(local.table, reference.table)
    assert local.workers == 2 and not local.torch_in_workers

    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        # what `hwmap sweep --scheduler ADDRESS` does: a client of the running cluster, its executor
        with dask_executor(cluster.scheduler_address) as executor:
            on_dask = sweep(space_file, executor=executor, chunk_size=5)
        with distributed.Client(cluster) as client:
            # the workers built every graph from JSON: none of them imported torch
            assert not any(client.run(lambda: "torch" in sys.modules).values())
    pd.testing.assert_frame_equal(on_dask.table, reference.table)
    assert on_dask.workers == 2 and not on_dask.torch_in_workers and len(on_dask.worker_pids) >= 1


class StopAfter(cf.Executor):
    """Runs `chunks` submissions in-process, then raises as a Ctrl-C (or a kill) would in the middle of a sweep."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks
        self._max_workers = 1

    def submit(self, fn, /, *args, **kwargs):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return SerialExecutor().submit(fn, *args, **kwargs)


def test_interrupted_sweep_resumes_without_losing_or_repeating_points(reference, space_file, tmp_path):
    journal = tmp_path / "run.journal.jsonl"
    with pytest.raises(KeyboardInterrupt):
        sweep(space_file, executor=StopAfter(3), chunk_size=4, journal=journal)
    rows, _ = read_journal(journal)
    assert len(rows) == 12 and len({r["point_id"] for r in rows}) == 12  # three finished chunks, all kept

    # the process was killed while writing the next chunk: a torn last line
    with journal.open("a") as handle:
        handle.write('{"point_id": "0123456789abcdef", "status": "o')
    resumed = sweep(space_file, executor=SerialExecutor(), journal=journal, resume_from=journal)
    assert (resumed.n_resumed, resumed.n_evaluated) == (12, N_POINTS - 12)
    pd.testing.assert_frame_equal(resumed.table, reference.table)
    rows, _ = read_journal(journal)
    ids = [r["point_id"] for r in rows]
    assert len(ids) == N_POINTS and set(ids) == set(reference.table["point_id"])  # no point lost, none twice

    again = sweep(space_file, executor=StopAfter(0), journal=journal, resume_from=journal)
    assert (again.n_resumed, again.n_evaluated) == (N_POINTS, 0)
    pd.testing.assert_frame_equal(again.table, reference.table)


def test_journal_rows_of_another_space_are_ignored_and_a_journal_is_never_clobbered(space_file, tmp_path):
    journal = tmp_path / "j.jsonl"
    sweep(space_file, executor=SerialExecutor(), journal=journal)
    assert journal_is_complete(journal)
    # a finished sweep's journal does not block a plain rerun: it starts over (same rows, once each)
    again = sweep(space_file, executor=SerialExecutor(), journal=journal)
    assert again.n_evaluated == N_POINTS and len(read_journal(journal)[0]) == N_POINTS
    # an unfinished one does: drop the completion line and the last row
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-2]))
    assert not journal_is_complete(journal)
    with pytest.raises(HwmapError, match="already exists and holds an unfinished sweep"):
        sweep(space_file, executor=SerialExecutor(), journal=journal)
    resumed = sweep(space_file, executor=SerialExecutor(), journal=journal, resume_from=journal)
    assert (resumed.n_resumed, resumed.n_evaluated) == (N_POINTS - 1, 1) and journal_is_complete(journal)
    other = space_file.parent / "other.yaml"
    other.write_text(textwrap.dedent(SPACE).replace("[8, 16, 32, 128]", "[8, 64]"))
    result = sweep(other, executor=SerialExecutor(), resume_from=journal)
    # the 8x8 points are the same design points (same ids): reused; the others are stale for this space
    assert result.n_resumed == 6 and result.n_evaluated == 6 and result.stale_rows == N_POINTS - 6
    (tmp_path / "junk.jsonl").write_text('{"format": "something else"}\n')
    with pytest.raises(HwmapError, match="not an hwmap sweep journal"):
        sweep(space_file, executor=SerialExecutor(), resume_from=tmp_path / "junk.jsonl")
    with pytest.raises(HwmapError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with dask_executor("tcp://127.0.0.1:9", timeout_s=0.5):
            pass


def test_cli_sweep_writes_tables_prints_the_front_and_resumes(reference, space_file, tmp_path, run_cli):
    out = tmp_path / "results.csv"
    code, stdout, err = run_cli("sweep", str(space_file), "--out", str(out), "--workers", "2", "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert (data["points"], data["failed"], data["evaluated"]) == (N_POINTS, 2, N_POINTS)
    assert data["objectives"] == ["energy_mj", "latency_ms", "area_mm2"]
    front = pd.DataFrame(data["pareto"])
    assert 0 < len(front) < N_POINTS - 2 and (front["status"] == "ok").all()
    assert set(front["point_id"]) == set(reference.pareto()["point_id"])
    written = pd.read_csv(out)
    assert written["point_id"].tolist() == reference.table["point_id"].tolist()
    assert written["energy_mj"].tolist() == pytest.approx(reference.table["energy_mj"].tolist(), nan_ok=True)

    code, stdout, err = run_cli("sweep", str(space_file), "--out", str(out), "--json")  # finished: reruns
    assert code == 0, err
    assert json.loads(stdout)["evaluated"] == N_POINTS
    code, stdout, err = run_cli("sweep", str(space_file), "--out", str(out), "--resume", "--json")  # a no-op
    assert code == 0, err
    assert (json.loads(stdout)["evaluated"], json.loads(stdout)["resumed"]) == (0, N_POINTS)
    assert pd.read_csv(out)["point_id"].tolist() == reference.table["point_id"].tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.csv.journal.jsonl"]
    parquet = tmp_path / "results.parquet"
    journal = journal_path_for(out)
    code, stdout, err = run_cli("sweep", str(space_file), "--out", str(parquet), "--journal", str(journal),
                                "--resume", "--pareto", "energy,latency")
    assert code == 0, err
    assert f"points {N_POINTS}, {N_POINTS} resumed from the journal; evaluated 0" in stdout
    assert "Pareto front of resnet18 over energy_mj, latency_ms" in stdout and "failures 2" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), reference.table, check_dtype=False)

    code, _, err = run_cli("sweep", str(space_file), "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "expected a .csv, .parquet or .json file" in err


def test_paths_workloads_report_the_expected_accuracy_of_the_selected_paths(tmp_path):
    (tmp_path / "paths.yaml").write_text(textwrap.dedent("""\
        schema_version: 1
        model: resnet18
        paths:
          - {name: r224, accuracy: {value: 69.8, provenance: "torchvision"}}
          - {name: r160, resolution: 160, accuracy: {value: 65.0, provenance: "assumed for the test"}}
          - {name: r128, resolution: 128, accuracy: {value: 60.0, provenance: "assumed for the test"}}
        """))
    (tmp_path / "space.yaml").write_text(textwrap.dedent("""\
        schema_version: 1
        base: systolic16x16
        axes: {array.rows: [8, 16]}
        square: true
        paths:
          - {file: paths.yaml, name: relative, budgets: "0.6,0.75,1.0", relative: true, max_paths: 2}
          - {file: paths.yaml, name: tiny-budget, budgets: "0.001"}
        objectives: [energy, latency, accuracy]
        """))
    result = sweep(tmp_path / "space.yaml", executor=SerialExecutor())
    table = result.table.set_index("model")
    ok, infeasible = table.loc["relative"], table.loc["tiny-budget"]
    assert (ok["status"] == "ok").all() and (infeasible["status"] == "infeasible").all()
    assert infeasible["error"].str.contains("below the cheapest path").all() and infeasible["energy_mj"].isna().all()
    # at most two paths deployed; the expected accuracy lies between the cheapest and the full path's
    assert ok["selected_paths"].str.count(";").le(1).all()
    assert ok["expected_accuracy"].between(60.0, 69.8).all()
    assert (ok["energy_mj"] <= ok["full_energy_mj"] + 1e-12).all()
    front = result.pareto()
    assert set(front["model"]) == {"relative"} and "expected_accuracy" in front.columns
    # the sweep selects through the same pipeline as hwmap.select_paths: the 16x16 variant is the base template
    from hwmap.api import select_paths

    variant = table[table["array.rows"] == 16].loc["relative"]
    direct = select_paths(str(tmp_path / "paths.yaml"), accel="systolic16x16", budgets="0.6,0.75,1.0", max_paths=2)
    assert variant["selected_paths"] == ";".join(direct.chosen_names)
    assert variant["expected_accuracy"] == pytest.approx(direct.expected_accuracy, rel=1e-12)
    assert variant["energy_mj"] == pytest.approx(direct.expected_energy_mj, rel=1e-9)


def test_killed_cli_sweep_resumes_without_losing_or_repeating_points(space_file, tmp_path):
    """SIGKILL a real `hwmap sweep` once its journal has rows, then resume: the union is the full sweep."""
    import signal
    import subprocess
    import time

    space = tmp_path / "space.yaml"
    space.write_text(textwrap.dedent(SPACE).replace("[8, 16, 32, 128]", "{start: 8, stop: 200, step: 8}")
                     .replace("resnet18.json", str(space_file.parent / "resnet18.json")))
    total = 25 * 2 * 3
    out = tmp_path / "results.csv"
    journal = journal_path_for(out)
    command = [sys.executable, "-c", "import sys, hwmap.cli.dse_commands; from hwmap.cli import main; "
               "main(sys.argv[1:])", "sweep", str(space), "--out", str(out), "--workers", "2", "--chunk-size", "4"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (journal.exists() and journal.read_text().count("\n") > 20):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the sweep wrote no rows"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stderr.close()
    finished, _ = read_journal(journal)
    assert 20 <= len(finished) < total

    resumed = sweep(space, executor=SerialExecutor(), journal=journal, resume_from=journal)
    assert resumed.n_resumed == len(finished) and resumed.n_resumed + resumed.n_evaluated == total
    reference = sweep(space, executor=SerialExecutor())
    pd.testing.assert_frame_equal(resumed.table, reference.table)
    ids = [row["point_id"] for row in read_journal(journal)[0]]
    assert sorted(ids) == sorted(reference.table["point_id"])  # every point once: none lost, none repeated


PLAIN_SCRIPT = """\
import os
import sys

import hwmap

print("script started", file=sys.stderr)  # once: a worker that re-ran this file would print it again
result = hwmap.sweep({space!r}, workers=2, chunk_size=5)
assert result.workers == 2 and os.getpid() not in result.worker_pids, (result.workers, result.worker_pids)
assert not result.torch_in_workers
sys.stdout.write(result.table.to_csv(index=False))
"""


@pytest.mark.parametrize("how", ["script", "module"])
def test_a_plain_script_without_a_main_guard_sweeps_on_worker_processes(how, space_file, tmp_path, run_cli):
    """issue 11: a top-level script (no `if __name__ == "__main__":`) calling hwmap.sweep with workers gets the
    table `hwmap sweep --out` writes, run as `python my_sweep.py` or `python -m my_sweep`. With spawn/forkserver's
    default each worker re-ran the script and died bootstrapping (BrokenProcessPool)."""
    import subprocess
    import time

    script = tmp_path / "my_sweep.py"
    script.write_text(PLAIN_SCRIPT.format(space=str(space_file)))
    command = [sys.executable, str(script)] if how == "script" else [sys.executable, "-m", "my_sweep"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    elapsed_s = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("script started") == 1, done.stderr
    out = tmp_path / "cli.csv"
    code, _, err = run_cli("sweep", str(space_file), "--out", str(out), "--workers", "2", "--chunk-size", "5")
    assert code == 0, err
    assert done.stdout == out.read_text()
    assert len(done.stdout.splitlines()) == N_POINTS + 1
    print(f"plain script ({how}): {elapsed_s:.2f} s")


def test_the_api_takes_a_path_a_dict_or_a_design_space_and_reports_progress(reference, space_file, monkeypatch):
    import yaml

    import hwmap
    from hwmap.api import DesignSpace as ApiDesignSpace

    assert hwmap.DesignSpace is ApiDesignSpace and ApiDesignSpace.from_yaml(space_file) == load_space(space_file)
    data = yaml.safe_load(space_file.read_text())
    monkeypatch.chdir(space_file.parent)  # a dict's relative file names are relative to the working directory
    calls: list[tuple[int, int]] = []
    tables = {
        "path": hwmap.sweep(space_file).table,
        "str": hwmap.sweep(str(space_file)).table,
        "dict": hwmap.sweep(data, progress=lambda done, total: calls.append((done, total))).table,
        "DesignSpace": hwmap.sweep(hwmap.DesignSpace.from_dict(data, root=space_file.parent)).table,
        "load_space": hwmap.sweep(hwmap.load_space(data)).table,
    }
    for table in tables.values():
        pd.testing.assert_frame_equal(table, reference.table)
    # no worker count and fewer than SERIAL_BELOW_POINTS points: costed in this process, no pool started
    assert N_POINTS < SERIAL_BELOW_POINTS and hwmap.sweep(space_file).worker_pids == (os.getpid(),)
    # progress(points done, total): from 0, never backwards, one call per chunk, ending at the total
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {N_POINTS} and done[0] == 0 and done[-1] == N_POINTS
    assert done == sorted(done) and len(set(done)) == len(done) and len(calls) > 2


@pytest.mark.parametrize("bad", [["base: systolic16x16"], 42, None, b"space.yaml"])
def test_a_space_of_another_type_is_one_line_naming_the_parameter(bad):
    import hwmap

    with pytest.raises(HwmapError) as caught:
        hwmap.sweep(bad)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("space must be a design-space YAML file (str or Path), a "
                                                      "dict of its content or a DesignSpace, got ")
    assert message.endswith(type(bad).__name__)


def test_a_dict_space_error_names_the_field(space_file):
    import hwmap

    with pytest.raises(HwmapError, match=r"^space dict: axes\.array\.rows: .*0"):
        hwmap.sweep({"schema_version": 1, "base": "systolic16x16", "axes": {"array.rows": [0]},
                     "models": [str(space_file.parent / "resnet18.json")]})
