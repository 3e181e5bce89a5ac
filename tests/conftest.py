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


def synthetic_gpu_plans(count: int, seed: int, *, log_elements: tuple[float, float] = (3, 8)):
    """Synthetic GPU timeline plans for the table-fit tests: per model 20-60 kernels of four classes (conv_dense,
    linear, elementwise, normalization), 10^log_elements elements each (batch-like), 6 bytes per element,
    0.1-1000 FLOPs per byte, RTX 3090-like peaks (71 TFLOP/s tensor, 35.6 other, 936 GB/s)."""
    import numpy as np

    from hwmap.calibrate.table import TimelinePlan
    from hwmap.hardware.gpu_schema import FIT_CLASSES

    index = {name: i for i, name in enumerate(FIT_CLASSES)}
    classes = np.array([index[c] for c in ("conv_dense", "linear", "elementwise", "normalization")])
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(count):
        n = int(rng.integers(20, 60))
        cls = rng.choice(classes, n)
        elements = 10 ** rng.uniform(*log_elements, n)
        bytes_ = elements * 6
        flops = bytes_ * 10 ** rng.uniform(-1, 3, n)
        peak = np.where(np.isin(cls, classes[:2]), 71e12, 35.6e12)
        plans.append(TimelinePlan("synthetic", cls, flops, bytes_, elements, peak, 936e9,
                                  rng.integers(0, 3, n).astype(float), rng.integers(0, 2, n).astype(float), 1.0, 1.0,
                                  np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0),
                                  np.zeros(0)))
    return plans


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


@pytest.fixture(scope="session")
def resnet18_graph_file(tmp_path_factory) -> str:
    """ResNet-18's layer graph saved as JSON once per session: the MODEL argument of the CLI tests."""
    from hwmap.graph.io import save_graph

    path = tmp_path_factory.mktemp("resnet18-graph") / "resnet18.json"
    save_graph(traced("resnet18"), path)
    return str(path)


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
