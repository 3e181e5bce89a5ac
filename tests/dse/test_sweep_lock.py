"""Two sweeps on the same files: the second fails at once, naming the first; the journal resumes cleanly after.
And a Dask scheduler address where a non-Dask server listens fails within the connection deadline."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from fuzz.inputs import tiny_graph

from hwmap.dse.sweep import journal_is_complete, journal_path_for, read_journal

SPACE = """\
schema_version: 1
base: systolic8x8
axes:
  array.rows: {start: 4, stop: 64, step: 4}
  array.dataflow: [ws, os, is]
  buffers.ofmap.size_bytes: [1024, 4096, 16384, 65536]
square: true
models: [{model: graph.json, name: tiny}]
"""
N_POINTS = 16 * 3 * 4


def test_a_second_sweep_on_the_same_output_fails_at_once(tmp_path, run_cli):
    (tmp_path / "graph.json").write_text(json.dumps(tiny_graph()))
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    out = tmp_path / "r.csv"
    first = subprocess.Popen([sys.executable, "-m", "hwmap", "sweep", str(space), "--out", str(out), "--workers",
                              "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".r.csv.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().startswith("pid")):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first sweep never took its lock"
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)  # hold it mid-run, whatever the machine's speed
    try:
        start = time.monotonic()
        code, _, err = run_cli("sweep", str(space), "--out", str(out), "--workers", "1")
        elapsed_s = time.monotonic() - start
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"is in use by another sweep (pid {first.pid}," in err
    assert elapsed_s < 5
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert json.loads(stdout)["evaluated"] == N_POINTS
    journal = journal_path_for(out)
    assert journal_is_complete(journal) and len(read_journal(journal)[0]) == N_POINTS
    assert not lock.exists()  # released and removed

    code, stdout, err = run_cli("sweep", str(space), "--out", str(out), "--resume", "--json")
    assert code == 0, err
    assert (json.loads(stdout)["resumed"], json.loads(stdout)["evaluated"]) == (N_POINTS, 0)
    assert len(pd.read_csv(out)) == N_POINTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.json", "r.csv", "r.csv.journal.jsonl",
                                                           "space.yaml"]


@pytest.mark.slow
def test_a_non_dask_server_is_a_clear_error_within_the_deadline(tmp_path, run_cli):
    """A server that accepts the connection and never speaks Dask (the issue's hang past 200 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    (tmp_path / "graph.json").write_text(json.dumps(tiny_graph()))
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    start = time.monotonic()
    try:
        code, _, err = run_cli("sweep", str(space), "--scheduler", f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
        for connection in accepted:
            connection.close()
    elapsed_s = time.monotonic() - start
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    assert elapsed_s < 15, (elapsed_s, err)
