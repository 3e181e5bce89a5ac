"""Shared fixtures: graphs are traced once per test session (tracing needs torch and takes ~0.1-1 s each)."""

from __future__ import annotations

import functools

import pytest

from hwmap.cli import main


@functools.cache
def traced(spec: str, batch: int = 1, resolution: int | None = None):
    from hwmap.api import extract_graph

    return extract_graph(spec, batch=batch, resolution=resolution)


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
