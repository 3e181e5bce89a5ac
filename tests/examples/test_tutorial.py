"""examples/tutorial.ipynb runs, every cell, on every test run (so it cannot rot), against this checkout's hwmap,
in a temporary folder, with the suite's private XDG cache (conftest: nothing read from or written to the user's)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"


def test_the_committed_notebook_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_tutorial", ROOT / "examples" / "make_tutorial.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in generator.build().cells]
    assert all(not c.get("outputs") for c in committed.cells if c.cell_type == "code")  # committed cleared


def test_the_tutorial_runs_without_a_cell_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("MPLBACKEND", "agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 3  # shares, the sweep's Pareto front, run-time switching
    text = "".join(o.get("text", "") for o in outputs)
    assert "12 design points" in text and "budget violations" in text
    assert (tmp_path / "trace.csv").is_file() and (tmp_path / "deit_tiny_paths.yaml").is_file()
