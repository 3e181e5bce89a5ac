"""The `hwmap` process entry (python -m hwmap, the console script) ends light commands with os._exit after flushing:
the output must still be complete and the exit status the command's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hwmap.cli import FAST_EXIT_COMMANDS, _command
from tests.conftest import traced


def _hwmap(*argv: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwmap", *argv], capture_output=True, text=True, timeout=120,
                          env=env)


def test_fast_exit_keeps_output_and_status(tmp_path):
    graph = tmp_path / "resnet18.json"
    from hwmap.api import save_graph

    save_graph(traced("resnet18", resolution=64), graph)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    done = _hwmap("estimate", str(graph), "--accel", "systolic16x16", "--json", "--by", "layer", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # the whole JSON arrived: stdout was flushed before os._exit
    assert data["macs"] == traced("resnet18", resolution=64).total_macs and len(done.stdout) > 50_000
    assert list((tmp_path / "xdg" / "hwmap" / "mappings").glob("*.mappings.json"))  # the cache file was written
    bad = _hwmap("estimate", str(graph), "--accel", "systolic16x16", "--top", "-1", env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("hwmap: error: Invalid value for '--top': -1 is out of range")
    missing = _hwmap("flops", str(tmp_path / "nope.json"), env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("hwmap: error: ") and "nope.json" in missing.stderr


def test_only_commands_that_finish_in_main_exit_fast():
    assert _command(["--no-cache", "estimate", "m"]) == "estimate"
    assert not {"sweep", "census", "evaluate", "calibrate", "measure", "paths", "select-paths", "simulate",
                "plot"} & set(FAST_EXIT_COMMANDS)
