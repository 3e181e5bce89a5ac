"""Option groups (hwmap.cli.options.OptionGroup): the graph options and the estimate settings are declared once, every
command that takes a whole group takes it through the group, and the values reach the API as typed."""

from __future__ import annotations

import inspect

import pytest

import hwmap.api
from hwmap.cli.options import ESTIMATE_OPTIONS, GRAPH_OPTIONS, OptionValues, option_groups
from hwmap.errors import HwmapError
from tests.cli.test_api_contract import COMMANDS

GROUPS = {"GRAPH_OPTIONS": GRAPH_OPTIONS, "ESTIMATE_OPTIONS": ESTIMATE_OPTIONS}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_no_command_spells_out_a_whole_group(group):
    options = set(GROUPS[group].options)
    spelled = sorted(name for name, command in COMMANDS.items()
                     if options <= set(inspect.signature(inspect.unwrap(command.callback)).parameters))
    assert spelled == [], f"these commands list every option of {group}: take it as one parameter"
    users = sorted(name for name, command in COMMANDS.items()
                   if options <= {p.name for p in command.params})
    assert len(users) >= 3, users  # the check reads what it should: the groups are in use


def test_group_values_reach_the_api_as_typed(run_cli, monkeypatch):
    received: dict = {}

    def fake_estimate(model, accel, **keywords):
        received.update(keywords, model=model, accel=accel)
        raise HwmapError("stop here")

    monkeypatch.setattr(hwmap.api, "estimate", fake_estimate)
    code, _out, err = run_cli("estimate", "resnet18", "-a", "systolic16x16", "--batch", "4", "--resolution", "96",
                              "--strict", "--objective", "latency", "--dataflow", "os", "--no-tf32", "--mode",
                              "eager")
    assert code != 0 and "stop here" in err
    assert received == {"model": "resnet18", "accel": "systolic16x16", "input_shape": None, "resolution": 96,
                        "batch": 4, "num_classes": None, "strict": True, "dataflow": "os", "mapping": "best",
                        "objective": "latency", "fusion": None, "mode": "eager", "dtype": "fp16",
                        "calibration": None, "tf32": False, "cache": True}


def test_a_command_without_a_group_is_refused():
    def plain(model: str, batch: int = 1) -> None:
        pass

    with pytest.raises(TypeError, match="no parameter defaults to an OptionGroup"):
        option_groups(plain)


def test_the_group_takes_the_place_of_its_parameter():
    def command(model: str, graph_options: OptionValues = GRAPH_OPTIONS, top: int = 20) -> dict:
        return {"model": model, "top": top, **graph_options}

    wrapped = option_groups(command)
    names = list(inspect.signature(wrapped).parameters)
    assert names == ["model", *GRAPH_OPTIONS.options, "top"]
    assert wrapped("m", input_shape=None, resolution=64, batch=2, num_classes=None, strict=False, top=5) == {
        "model": "m", "top": 5, "input_shape": None, "resolution": 64, "batch": 2, "num_classes": None,
        "strict": False}
