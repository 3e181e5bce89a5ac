"""`hwmap map MODEL --accel T --fixed FILE --conventions hwmap|zigzag` and map_layers(..., conventions=...): a
ZigZag mapping evaluated under ZigZag 3.9.1's rules costs what ZigZag reported; hwmap's default is unchanged; bad
values are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwmap
from hwmap.errors import ParameterError

REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "zigzag_resnet50_tpu_like.json"
# ZigZag LOMA's record of layer1.0.conv1 on its tpu_like (benchmarks/reference): 40,716,976.64 pJ at 8-bit inputs,
# weights and outputs, 16-bit partial sums
ZIGZAG_ENERGY_PJ = 40716976.64
# the same mapping in hwmap's model at the tpu_like template's bits (8/8/16: final outputs at 16 bits too)
HWMAP_ENERGY_PJ = 60021038.592


def _map(run_cli, *extra):
    code, out, err = run_cli("map", "resnet50", "-a", "tpu_like", "--fixed", str(REFERENCE), "--layer",
                             "layer1.0.conv1", "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_zigzag_conventions_reproduce_zigzags_energy(run_cli):
    data = _map(run_cli, "--conventions", "zigzag")
    assert data["conventions"] == "zigzag"
    assert data["energy_pj"] == pytest.approx(ZIGZAG_ENERGY_PJ, rel=1e-9)
    (layer,) = data["layers"]
    assert layer["operand_bits"] == {"input": 8, "weight": 8, "output": 8, "psum": 16}  # the record's precisions


def test_hwmap_conventions_are_the_default_and_unchanged(run_cli):
    default, named = _map(run_cli), _map(run_cli, "--conventions", "hwmap")
    assert default == named
    assert default["conventions"] == "hwmap"
    assert default["energy_pj"] == pytest.approx(HWMAP_ENERGY_PJ, rel=1e-9)
    assert default["layers"][0]["operand_bits"] == {"input": 8, "weight": 8, "output": 16, "psum": 16}


def test_api_takes_the_same_keyword():
    result = hwmap.map_layers("resnet50", "tpu_like", fixed=REFERENCE, layer="layer1.0.conv1", conventions="zigzag")
    assert result.conventions == "zigzag"
    assert result.energy_pj == pytest.approx(ZIGZAG_ENERGY_PJ, rel=1e-9)
    with pytest.raises(ParameterError, match=r"^conventions must be one of hwmap, zigzag, got 'timeloop'$"):
        hwmap.map_layers("resnet50", "tpu_like", fixed=REFERENCE, conventions="timeloop")


@pytest.mark.parametrize(("argv", "expected"), [
    (("--fixed", str(REFERENCE), "--conventions", "timeloop"), "'timeloop' is not one of 'hwmap', 'zigzag'"),
    (("--conventions", "zigzag"), "--conventions 'zigzag' applies only to a fixed mapping"),
])
def test_bad_conventions_are_one_line(run_cli, argv, expected):
    code, out, err = run_cli("map", "resnet50", "-a", "tpu_like", "--layer", "fc", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and expected in err
