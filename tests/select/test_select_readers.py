"""Selection files (hwmap.select.readers): the selection's goal is written as ``goal``; files written before the
rename (``objective`` / ``objective_value``) are read as the same selection."""

from __future__ import annotations

import pytest

from hwmap.errors import InputFileError
from hwmap.select import PathPoint, run_selection
from hwmap.select.readers import selection_from_data

POINTS = [PathPoint("a", 2.0, 8.0, 60.0), PathPoint("b", 4.0, 4.0, 70.0), PathPoint("c", 10.0, 5.0, 80.0)]


def _written():
    return run_selection(POINTS, budgets="0.5,1.0").to_dict()


def test_goal_is_written_and_read_back():
    data = _written()
    assert data["goal"] == "accuracy" and data["goal_value"] == pytest.approx(75.0)  # b at 5 mJ, c at 10 mJ
    assert "objective" not in data and "objective_value" not in data
    assert selection_from_data(data, origin="s.json").to_dict() == data


def test_a_file_from_before_the_rename_reads_as_the_same_selection():
    data = _written()
    old = {{"goal": "objective", "goal_value": "objective_value"}.get(key, key): value for key, value in data.items()}
    assert selection_from_data(old, origin="old.json").to_dict() == data


def test_goal_and_objective_together_is_an_error():
    data = _written() | {"objective": "accuracy"}
    with pytest.raises(InputFileError, match="s.json: unknown field\\(s\\) objective"):
        selection_from_data(data, origin="s.json")
    with pytest.raises(InputFileError, match="s.json: goal 'speed'; expected 'accuracy' or 'frontier'"):
        selection_from_data(_written() | {"goal": "speed"}, origin="s.json")
