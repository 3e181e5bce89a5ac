"""The committed figures can be redrawn from the committed tables (--replot-from), without re-running the sweep or
the census, and a table that is not one is a one-line error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
RESULTS = EXPERIMENTS / "results"


@pytest.mark.parametrize("script, table", [("array_dse.py", "array_dse.csv"), ("zoo_census.py", "zoo_census.csv"),
                                           ("segformer_dynamic.py", "segformer_dynamic.csv"),
                                           ("vector_width.py", "vector_width.csv")])
def test_committed_figure_is_redrawn_from_its_table(script, table, tmp_path):
    copy = shutil.copy(RESULTS / table, tmp_path / table)
    result = subprocess.run([sys.executable, str(EXPERIMENTS / script), "--replot-from", str(copy)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figure = Path(copy).with_suffix(".png")
    assert result.stdout.strip() == f"wrote {figure}"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 20_000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([table, figure.name])  # nothing else written


@pytest.mark.parametrize("script", ["array_dse.py", "zoo_census.py"])
def test_a_table_of_another_kind_is_one_line_naming_the_option(script, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    result = subprocess.run([sys.executable, str(EXPERIMENTS / script), "--replot-from", str(other)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"--replot-from {other}: ") and len(result.stderr.strip().splitlines()) == 1
    assert not other.with_suffix(".png").exists()
