"""experiments/digits_resilience.py is deterministic on one machine with one thread count: two --tiny runs give
byte-identical results, and the run records the settings its numbers depend on (README: "deterministic per
machine, torch build and thread count")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "digits_resilience.py"


def _run(out_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--out-dir", str(out_dir), *extra],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_two_tiny_runs_are_identical_and_record_their_settings(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        result = _run(folder)
        assert result.returncode == 0, result.stderr[-2000:]
    table = (first / "digits_resilience.csv").read_text()
    assert table == (second / "digits_resilience.csv").read_text()
    assert len(table.splitlines()) == 1 + 21  # header + 7 paths for each of 3 models
    settings = json.loads((first / "digits_resilience_run.json").read_text())
    assert settings["seed"] == 0 and settings["torch_threads"] == 1
    assert settings["torch_deterministic_algorithms"] is True
    assert settings["torch"] and settings["cpu_capability"] and settings["tiny"] is True
    assert "not across machines" in settings["deterministic_scope"]
    assert "1 thread(s)" in result.stdout


def test_threads_must_be_positive(tmp_path):
    result = _run(tmp_path, "--threads", "0")
    assert result.returncode != 0 and "--threads must be a positive integer, got 0" in result.stderr
    assert not (tmp_path / "digits_resilience.csv").exists()
