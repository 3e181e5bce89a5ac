"""Ctrl-C during a sweep on local worker processes (a real `hwmap sweep` subprocess whose process group gets
SIGINT, as from a terminal): the first
stops it without waiting for the running chunks, with exit code 130 and a journal that resumes to the full
result, losing and repeating no point; a second one right after exits at once, never deadlocks.

Timing: measured 0.3-1.1 s from SIGINT to exit on the 2-core development machine at load average 10 (before this
change 2.0-3.5 s with chunks of 100 points, and a hang with two Ctrl-C); the bound here, STOP_BOUND_S, leaves a
factor of more than 10 for loaded CI machines. The 2 s target itself is checked by benchmarks/bench_interrupt.py,
which prints the measured times."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmap.dse.sweep import read_journal

REPO = Path(__file__).resolve().parents[2]
STOP_BOUND_S = 15.0
ROWS = list(range(4, 132, 4))  # 32 array sizes x 3 dataflows x 4 buffer sizes = 384 points of resnet18 (64 px)
SPACE = f"""\
schema_version: 1
base: systolic16x16
axes:
  array.rows: {ROWS}
  array.dataflow: [ws, os, is]
  buffers.ofmap.size_bytes: [2048, 8192, 32768, 131072]
square: true
models: [{{model: resnet18.json, name: resnet18}}]
"""
POINTS = len(ROWS) * 3 * 4


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    from hwmap.api import save_graph
    from tests.conftest import traced

    folder = tmp_path_factory.mktemp("signals")
    save_graph(traced("resnet18", resolution=64), folder / "resnet18.json")
    (folder / "space.yaml").write_text(SPACE)
    return folder / "space.yaml"


def _start(space: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hwmap", "sweep", str(space), "--workers", "2", "--chunk-size",
                             "16", "--out", str(out), *extra], cwd=space.parent, stderr=subprocess.PIPE, text=True,
                            stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)},
                            start_new_session=True)  # its own process group, as a terminal's foreground job


def _interrupt_after_first_chunk(process: subprocess.Popen, journal: Path, *, twice: bool) -> tuple[float, str]:
    deadline = time.monotonic() + 300
    while not (journal.exists() and journal.read_text().count("\n") >= 2):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no chunk finished in 300 s"
        time.sleep(0.02)
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the sweep, its fork server and workers
    if twice:
        time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return time.monotonic() - sent, err


@pytest.mark.parametrize("twice", [False, True], ids=["one-ctrl-c", "two-ctrl-c"])
def test_ctrl_c_stops_a_sweep_at_once_and_the_journal_resumes(space, tmp_path, twice):
    out = tmp_path / "swept.csv"
    journal = Path(f"{out}.journal.jsonl")
    process = _start(space, out)
    stopped_s, err = _interrupt_after_first_chunk(process, journal, twice=twice)
    # one Ctrl-C: exit 130 with the usual line; two: 130 from hwmap's handler, or killed by the second SIGINT when
    # it lands after the interpreter restored the default handler on its way out: at once either way
    assert process.returncode in ((130,) if not twice else (130, -signal.SIGINT)), err
    assert stopped_s < STOP_BOUND_S, f"took {stopped_s:.1f} s to stop"
    if not twice:
        assert err.strip().splitlines()[-1].startswith("hwmap: error: interrupted; the finished points are in")
    assert not out.exists()
    rows, _ = read_journal(journal)
    assert 0 < len(rows) < POINTS and len({r["point_id"] for r in rows}) == len(rows)
    if not twice:  # (a lock file left by an exit in the middle of the clean-up holds no lock: it is reused)
        assert not list(tmp_path.glob(".*.lock"))

    resumed = _start(space, out, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    rows, _ = read_journal(journal)
    assert len(rows) == POINTS and len({r["point_id"] for r in rows}) == POINTS  # none lost, none repeated
    assert out.read_text().count("\n") == POINTS + 1
