"""Shared fixtures: graphs are traced once per test session (tracing needs torch and takes ~0.1-1 s each)."""

from __future__ import annotations

import functools
import os

import pytest

from hwmap.cli import main


@functools.cache
def traced(spec: str, batch: int = 1, resolution: int | None = None):
    from hwmap.api import extract_graph

    return extract_graph(spec, batch=batch, resolution=resolution)


@pytest.fixture(autouse=True, scope="session")
def _private_graph_cache(tmp_path_factory):
    """The suite never reads or fills the user's graph cache: XDG_CACHE_HOME points at a session folder (also for
    subprocesses, which inherit it); tests of the cache itself point it at their own tmp_path."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def run_cli(capsys):
    """Run the hwmap CLI in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(argv))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
