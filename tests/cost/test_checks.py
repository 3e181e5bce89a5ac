"""The result guard: inf/NaN/negative numbers in a result are one ResultError naming the layer and field."""

from __future__ import annotations

import math

import pytest

from hwmap.cost.checks import bad_numbers, check_json_safe, check_result
from hwmap.errors import ResultError


def _result(**layer1) -> dict:
    good = {"layer": "conv1", "cycles": 10, "energy_pj": 5.0, "utilisation": 0.5}
    return {"energy_mj": 1.0, "latency_ms": 2.0, "layers": [good, {**good, "layer": "fc", **layer1}]}


def test_a_clean_result_passes():
    check_result(_result(), what="m on t")
    assert list(bad_numbers(_result(accuracy_drop=-2.0))) == []  # negative is fine outside energies/latencies


@pytest.mark.parametrize(("layer", "message"), [
    ({"energy_pj": math.inf}, r"m on t: layer fc: energy_pj is inf \(not a finite number\); the template's energy"),
    ({"cycles": math.nan}, r"layer fc: cycles is nan \(not a finite number\); the template's array size"),
    ({"energy_pj": -1.0}, r"layer fc: energy_pj is -1.0 \(negative\)"),
    ({"utilisation": 1.5}, r"layer fc: utilisation is 1.5 \(outside \[0, 1\]\)"),
])
def test_bad_numbers_name_the_layer_and_field(layer, message):
    with pytest.raises(ResultError, match=message):
        check_result(_result(**layer), what="m on t")


def test_json_output_never_holds_non_finite_numbers():
    check_json_safe({"a": [1.0, -3.0, None]})
    with pytest.raises(ResultError, match=r"--json output: rows\[1\].x is inf, which JSON cannot hold"):
        check_json_safe({"rows": [{"x": 1.0}, {"x": math.inf}]}, what="--json output")
